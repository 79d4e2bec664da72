import ArgumentParser
import BPE
import ByteJSON
import Foundation
import TrajForge

struct TokensCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokens",
        abstract: "Token-length statistics (p50/p90/p99/max) per input file, e.g. per split.",
        discussion: """
            Each input file is one split. Records with input_ids (rendered and
            tokenized samples) are counted as they are, with their supervised
            tokens; records with text are encoded with --tokenizer (special
            tokens parsed, none added, as for rendered text); canonical
            trajectories are measured on their text without a chat template
            (render them first for exact lengths).

            --cutoff N also counts the samples longer than N tokens (what a
            sequence length of N would truncate). --json writes the figures.

            Examples:
              trajforge tokens --tokenizer models/xLAM-2-8b-fc-r \\
                  splits/train.jsonl splits/validation.jsonl --cutoff 16384
              trajforge tokens sft.tokenized.jsonl.zst
            """)

    @Option(help: ArgumentHelp("tokenizer.json or model folder (needed unless samples carry input_ids).", valueName: "path"))
    var tokenizer: String?

    @Option(help: ArgumentHelp("Also count samples longer than this many tokens.", valueName: "n"))
    var cutoff: Int?

    @Option(help: ArgumentHelp("Write the statistics as JSON to this file.", valueName: "path"))
    var json: String?

    @Option(help: ArgumentHelp("Worker threads (default: all cores).", valueName: "n"))
    var threads: Int?

    @Argument(help: ArgumentHelp("Sample or trajectory files; each is reported as one split.", valueName: "input"))
    var inputs: [String]

    func validate() throws {
        if inputs.isEmpty { throw ValidationError("give at least one input file") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        ensureUTF8Locale()
        var tok: Tokenizer?
        if let tokenizer {
            do { tok = try Tokenizer(tokenizerJSONPath: tokenizer) } catch {
                printError("error: --tokenizer: \(error)")
                throw ExitCode(ExitStatus.ioFailure)
            }
        }
        let tokenizerBox = tok
        var report = JSONObject()
        var lines: [String] = []
        var unmeasured = 0
        for path in inputs {
            var lengths = LengthHistogram()
            var supervised = LengthHistogram()
            var kinds: Set<String> = []
            do {
                let input = try openRecords(path)
                guard let reader = input.reader else { continue }
                while let batch = try reader.nextBatch() {
                    let counts = parallelMap(count: batch.items.count, threads: threads ?? defaultThreadCount) { k -> (Int, Int?, String)? in
                        guard case .record(let raw) = batch.items[k], case .success(let json) = parseRecord(batch, raw) else { return nil }
                        return TokenCounter.count(json, tokenizer: tokenizerBox)
                    }
                    for c in counts {
                        guard let (total, sup, kind) = c else {
                            unmeasured += 1
                            continue
                        }
                        lengths.add(total)
                        if let sup { supervised.add(sup) }
                        kinds.insert(kind)
                    }
                }
            } catch {
                printError("error: \(error)")
                throw ExitCode(ExitStatus.ioFailure)
            }
            var entry = lengths.json.object ?? [:]
            if supervised.total > 0 { entry["supervised"] = supervised.json }
            if let cutoff { entry["over_cutoff"] = .number(JSONNumber(lengths.countAbove(cutoff))) }
            entry["measured_from"] = .array(kinds.sorted().map(JSON.string))
            report[path] = .object(entry)
            func n(_ v: Int?) -> String { v.map(String.init) ?? "-" }
            var line = "\(path): \(lengths.total) samples, \(lengths.sum) tokens; p50 \(n(lengths.percentile(0.5))) p90 \(n(lengths.percentile(0.9))) p99 \(n(lengths.percentile(0.99))) max \(n(lengths.max))"
            if supervised.total > 0 { line += "; supervised p50 \(n(supervised.percentile(0.5))) max \(n(supervised.max))" }
            if let cutoff { line += "; \(lengths.countAbove(cutoff)) over \(cutoff)" }
            if !kinds.isEmpty { line += " (from \(kinds.sorted().joined(separator: ", ")))" }
            lines.append(line)
        }
        print(lines.joined(separator: "\n"))
        if unmeasured > 0 {
            printError("warning: \(unmeasured) records could not be measured (not JSON, or no input_ids/text and no --tokenizer)")
        }
        if let json {
            do {
                let file = try OutputFile(path: json, compression: OutputCompression(.none))
                try file.write(JSON.object(report).serializedBytes(.pretty) + [0x0A])
                try file.commit()
            } catch {
                printError("error: \(error)")
                throw ExitCode(ExitStatus.ioFailure)
            }
        }
    }
}
