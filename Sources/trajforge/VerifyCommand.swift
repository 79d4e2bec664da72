import ArgumentParser
import ByteJSON
import Foundation
import TrajForge

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check a shard set against its manifest: every file, hash, record and count.",
        discussion: """
            Every shard manifest.json lists is read once: its size and SHA-256 are
            compared with the manifest, it is decompressed and decoded (JSONL
            lines, WebDataset samples, MDS samples), every record must parse as a
            JSON object, and the record and byte counts must match. For MDS,
            index.json must agree with the manifest and with the shards' hashes.

            Each problem is printed on its own line as <code>: <file>: <detail>:
              missing-file     a listed shard is not there
              size-mismatch    the file has another size (e.g. a truncated copy)
              sha256-mismatch  the bytes changed after writing (a flipped byte)
              corrupt-stream   the compressed stream or the tar/MDS container is
                               damaged or cut short
              invalid-record   a record does not parse, or is not an object
              count-mismatch   another number of records than the manifest says
              bytes-mismatch   another decompressed size than the manifest says
              index-mismatch   MDS index.json disagrees with the manifest or files
              manifest         manifest.json is missing or unreadable

            Exit status: 0 when the set verifies, 65 when there is any problem.

            Examples:
              trajforge verify shards/train
              trajforge verify --json shards/train > report.json
            """)

    @Option(help: ArgumentHelp("Worker threads (default: all cores).", valueName: "n"))
    var threads: Int?

    @Option(help: ArgumentHelp("Reject records larger than this many bytes.", valueName: "bytes"))
    var maxRecordBytes: Int = 1 << 30

    @Flag(help: "Print the report as JSON on standard output.")
    var json = false

    @Option(name: .customLong("ledger"), help: ArgumentHelp("Also write the ledger as JSON to this file.", valueName: "path"))
    var ledgerPath: String?

    @Flag(name: .shortAndLong, help: "Print only the problems and the ledger's summary line.")
    var quiet = false

    @Argument(help: ArgumentHelp("The shard folder (the one holding manifest.json).", valueName: "dir"))
    var folder: String

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if maxRecordBytes < 1 { throw ValidationError("--max-record-bytes must be positive") }
    }

    func run() throws {
        let report = ShardVerifier.verify(folder: folder, threads: threads ?? defaultThreadCount,
                                          limits: ReaderLimits(maxRecordBytes: maxRecordBytes))
        if json {
            print(report.json.serialized(.pretty))
        } else {
            for p in report.problems { print(p.description) }
        }
        for w in report.warnings { printError("warning: \(w)") }
        printError(quiet ? report.ledger.summary : report.ledger.report)
        if report.ok {
            printError("verify: OK, \(report.shards) shards, \(report.ledger.input) records in \(folder)")
        } else {
            let bad = report.shards - report.shardsOK
            printError("verify: FAILED, \(report.problems.count) problem\(report.problems.count == 1 ? "" : "s")"
                + (report.shards > 0 ? " in \(bad) of \(report.shards) shards" : "") + " of \(folder)")
        }
        if let ledgerPath {
            do {
                let file = try OutputFile(path: ledgerPath, compression: OutputCompression(.none))
                try file.write(report.ledger.json.serializedBytes(.pretty) + [0x0A])
                try file.commit()
            } catch {
                printError("error: \(error)")
                throw ExitCode(ExitStatus.ioFailure)
            }
        }
        if !report.ok { throw ExitCode(ExitStatus.strictRejects) }
    }
}
