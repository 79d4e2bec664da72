import ArgumentParser
import ByteJSON
import Foundation
import TrajForge

struct CatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cat",
        abstract: "Stream the records of shard sets (or single shards) back out as JSONL.",
        discussion: """
            Inputs: a folder written by `trajforge shard` (read in manifest order),
            a folder with a MosaicML index.json, or single shard files:
            .jsonl[.gz|.zst], .tar[.gz|.zst] (each WebDataset sample's .json
            member) and .mds[.zstd|.gz]. Other files are read as record files
            (JSONL, JSON arrays). MDS samples come back as JSON objects with the
            columns in their declared order (json parsed, str and bytes as
            strings, integers as numbers, ndarrays as lists).

            Every record is checked to parse. Damaged shards, missing files and
            bad records become rejects naming the shard and the place, and the
            ledger counts them. The output feeds every other command:
              trajforge cat shards/train | trajforge export --to openai - -o x.jsonl

            Examples:
              trajforge cat shards/train > train.jsonl
              trajforge cat wds/train/train-000003.tar.zst | head -2
              trajforge cat mds/train -o train.jsonl.zst
            """)

    @OptionGroup var io: RecordIOOptions

    @Argument(help: ArgumentHelp("Shard folders or files ('-' for standard input).", valueName: "input"))
    var inputs: [String]

    func validate() throws {
        if inputs.isEmpty { throw ValidationError("give at least one shard folder or file") }
    }

    func run() throws {
        let threads = io.threadCount
        let limits = io.limits
        try runStage(io) { files in
            var ledger = Ledger(stage: "cat")
            for path in inputs {
                let reader: RecordReader?
                if path != "-" && ShardSet.isShardInput(path) {
                    let opened = try ShardSet.openReader(path, limits: limits)
                    ledger.note(opened.description)
                    reader = opened.reader
                } else {
                    let input = try openRecords(path, limits: limits)
                    ledger.note(input.describe(path))
                    reader = input.reader
                }
                guard let reader else { continue }
                while let batch = try reader.nextBatch() {
                    let results = parallelMap(count: batch.items.count, threads: threads) { k -> Result<[UInt8], Reject>? in
                        switch batch.items[k] {
                        case .problem(let reject): return .failure(reject)
                        case .context: return nil
                        case .record(let raw): return recordLine(batch, raw, stage: "cat")
                        }
                    }
                    var out: [UInt8] = []
                    var rejected: [Reject] = []
                    for result in results {
                        guard let result else { continue }
                        ledger.input += 1
                        switch result {
                        case .success(let line):
                            ledger.kept += 1
                            ledger.output += 1
                            out += line
                        case .failure(let reject):
                            ledger.reject(reject.reason)
                            rejected.append(reject)
                        }
                    }
                    if !out.isEmpty { try files.output.write(out) }
                    try RecordStage.writeRejects(rejected, to: files.rejects)
                }
            }
            return ledger
        }
    }
}
