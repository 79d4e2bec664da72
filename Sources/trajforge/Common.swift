import ArgumentParser
import ByteJSON
import Foundation
import TrajForge

/// Exit codes (sysexits): 64 usage, 65 rejects under --strict, 74 I/O failure.
enum ExitStatus {
    static let strictRejects: Int32 = 65
    static let ioFailure: Int32 = 74
}

/// Options every record-processing command shares.
struct RecordIOOptions: ParsableArguments {
    @Option(name: [.short, .customLong("output")], help: ArgumentHelp(
        "Where to write records ('-' = standard output). A .gz or .zst suffix compresses the file.", valueName: "path"))
    var output: String = "-"

    @Option(help: ArgumentHelp(
        "Where rejected records go (file, line, byte offset, reason). Default: beside the output as <name>.rejects.jsonl; with standard output, on standard error.",
        valueName: "path"))
    var rejects: String?

    @Option(help: ArgumentHelp("Output compression: none, gzip or zstd (default: from the output suffix).", valueName: "codec"))
    var compression: String?

    @Option(help: ArgumentHelp("Compression level (gzip 1-9, default 6; zstd 1-19, default 3).", valueName: "n"))
    var level: Int?

    @Option(help: ArgumentHelp("Worker threads (default: all cores). Output is identical for any value.", valueName: "n"))
    var threads: Int?

    @Option(help: ArgumentHelp("Reject records larger than this many bytes.", valueName: "bytes"))
    var maxRecordBytes: Int = 1 << 30

    @Option(help: ArgumentHelp("Also write the ledger as JSON to this file.", valueName: "path"))
    var ledger: String?

    @Flag(help: "Exit with status 65 if any record was rejected.")
    var strict = false

    @Flag(name: .shortAndLong, help: "Print only the ledger's summary line.")
    var quiet = false

    func validate() throws {
        if let compression, Compression(rawValue: compression) == nil || ![.none, .gzip, .zstd].contains(Compression(rawValue: compression)!) {
            throw ValidationError("--compression must be none, gzip or zstd (got \(compression))")
        }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if maxRecordBytes < 1 { throw ValidationError("--max-record-bytes must be positive") }
    }

    var threadCount: Int { threads ?? defaultThreadCount }
    var limits: ReaderLimits { ReaderLimits(maxRecordBytes: maxRecordBytes) }

    var outputCompression: OutputCompression {
        let codec = compression.flatMap(Compression.init(rawValue:)) ?? Compression.forOutputPath(output)
        return OutputCompression(codec, level: level)
    }

    /// The rejects path for this output: explicit, or `<output stem>.rejects.jsonl`, or nil for stdout.
    var rejectsPath: String? {
        if let rejects { return rejects }
        if output == "-" { return nil }
        var stem = output
        for suffix in [".gz", ".zst", ".zstd"] where stem.hasSuffix(suffix) { stem.removeLast(suffix.count) }
        for suffix in [".jsonl", ".json"] where stem.hasSuffix(suffix) { stem.removeLast(suffix.count) }
        return stem + ".rejects.jsonl"
    }
}

/// Writes to standard error.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Runs a stage with the shared output/rejects/ledger handling and exits with the right status.
func runStage(_ io: RecordIOOptions, body: (OutputFile, OutputFile?) throws -> Ledger) throws {
    ensureUTF8Locale()
    let ledger: Ledger
    do {
        let output = try OutputFile(path: io.output, compression: io.outputCompression)
        let rejectsFile = try io.rejectsPath.map { try OutputFile(path: $0, compression: OutputCompression(.none)) } ?? OutputFile.standardError()
        ledger = try body(output, rejectsFile)
        try output.commit()
        try rejectsFile.commit()
    } catch let error as IOError {
        printError("error: \(error)")
        throw ExitCode(ExitStatus.ioFailure)
    }
    printError(io.quiet ? ledger.summary : ledger.report)
    if let path = io.rejectsPath, ledger.rejectedTotal > 0 { printError("rejects: \(path)") }
    if let path = io.ledger {
        do {
            let file = try OutputFile(path: path, compression: OutputCompression(.none))
            try file.write(ledger.json.serializedBytes(.pretty) + [0x0A])
            try file.commit()
        } catch {
            printError("error: \(error)")
            throw ExitCode(ExitStatus.ioFailure)
        }
    }
    if io.strict && ledger.rejectedTotal > 0 { throw ExitCode(ExitStatus.strictRejects) }
}
