import ArgumentParser
import ByteJSON
import Foundation
import TrajForge

/// Exit codes (sysexits): 64 usage, 65 rejects under --strict, 74 I/O failure.
enum ExitStatus {
    static let strictRejects: Int32 = 65
    /// A recipe or configuration that does not check out (EX_DATAERR).
    static let dataError: Int32 = 65
    static let ioFailure: Int32 = 74
}

/// Options every stage shares, whatever it writes.
struct StageOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Where rejected records go (file, line, byte offset, reason). Default: beside the output as <name>.rejects.jsonl; with standard output (or a device such as /dev/null), on standard error.",
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

    /// The compression for `path`: --compression, else the path's suffix.
    func compression(for path: String) -> OutputCompression {
        OutputCompression(compression.flatMap(Compression.init(rawValue:)) ?? Compression.forOutputPath(path), level: level)
    }
}

/// Options of stages that write one record stream.
struct RecordIOOptions: ParsableArguments {
    @Option(name: [.short, .customLong("output")], help: ArgumentHelp(
        "Where to write records ('-' = standard output). A .gz or .zst suffix compresses the file.", valueName: "path"))
    var output: String = "-"

    @OptionGroup var stage: StageOptions

    var threadCount: Int { stage.threadCount }
    var limits: ReaderLimits { stage.limits }
    var quiet: Bool { stage.quiet }
    var outputCompression: OutputCompression { stage.compression(for: output) }

    /// The rejects path for this output: explicit, or `<output stem>.rejects.jsonl`, or nil for stdout.
    var rejectsPath: String? { stage.rejects ?? siblingPath("rejects") }
}

/// Writes to standard error.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Where a stage's dropped records go (stages that drop records by policy: validate, filter, dedup, split).
struct DropsOption: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Where dropped records are listed (id, stage, reason, details). Default: beside the output as <name>.drops.jsonl; with standard output or a device, not written (the ledger still counts them).",
        valueName: "path"))
    var drops: String?

    func path(for io: RecordIOOptions) -> String? {
        if let drops { return drops }
        return io.siblingPath("drops")
    }
}

extension RecordIOOptions {
    /// `<output stem>.<kind>.jsonl` beside the output, or nil when the output is standard output
    /// or another special file (`-o /dev/null` must not create `/dev/null.rejects.jsonl`).
    func siblingPath(_ kind: String) -> String? {
        if output == "-" { return nil }
        var info = stat()
        if stat(output, &info) == 0, (info.st_mode & S_IFMT) != S_IFREG { return nil }
        var stem = output
        for suffix in [".gz", ".zst", ".zstd"] where stem.hasSuffix(suffix) { stem.removeLast(suffix.count) }
        for suffix in [".jsonl", ".json"] where stem.hasSuffix(suffix) { stem.removeLast(suffix.count) }
        return stem + "." + kind + ".jsonl"
    }
}

/// The files a stage writes; all are committed together when the stage succeeds.
struct StageFiles {
    let output: OutputFile
    let rejects: OutputFile
    let drops: OutputFile?
    /// Extra files a command opened (reports); committed with the rest.
    var extra: [OutputFile] = []
}

/// Runs a stage with the shared output/rejects/drops/ledger handling and exits with the right status.
func runStage(_ io: RecordIOOptions, drops: DropsOption? = nil, body: (inout StageFiles) throws -> Ledger) throws {
    ensureUTF8Locale()
    let ledger: Ledger
    let dropsPath = drops?.path(for: io)
    do {
        var files = StageFiles(
            output: try OutputFile(path: io.output, compression: io.outputCompression),
            rejects: try io.rejectsPath.map { try OutputFile(path: $0, compression: OutputCompression(.none)) } ?? OutputFile.standardError(),
            drops: try dropsPath.map { try OutputFile(path: $0, compression: OutputCompression(.none)) })
        ledger = try body(&files)
        try files.output.commit()
        try files.rejects.commit()
        try files.drops?.commit()
        for f in files.extra { try f.commit() }
    } catch let error as IOError {
        printError("error: \(error)")
        throw ExitCode(ExitStatus.ioFailure)
    }
    try finishStage(ledger, io.stage, rejectsPath: io.rejectsPath, dropsPath: dropsPath)
}

/// Prints the ledger (and where rejects and drops went), writes --ledger, applies --strict.
func finishStage(_ ledger: Ledger, _ stage: StageOptions, rejectsPath: String?, dropsPath: String?) throws {
    printError(stage.quiet ? ledger.summary : ledger.report)
    if let rejectsPath, ledger.rejectedTotal > 0 { printError("rejects: \(rejectsPath)") }
    if let dropsPath, ledger.droppedTotal > 0 { printError("drops: \(dropsPath)") }
    if let path = stage.ledger {
        do {
            let file = try OutputFile(path: path, compression: OutputCompression(.none))
            try file.write(ledger.json.serializedBytes(.pretty) + [0x0A])
            try file.commit()
        } catch {
            printError("error: \(error)")
            throw ExitCode(ExitStatus.ioFailure)
        }
    }
    if stage.strict && ledger.rejectedTotal > 0 { throw ExitCode(ExitStatus.strictRejects) }
}
