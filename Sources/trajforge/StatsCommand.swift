import ArgumentParser
import BPE
import ByteJSON
import Foundation
import TrajForge

struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Audit a dataset: statistics as JSON, Markdown and an HTML page.",
        discussion: """
            Reads any mix of canonical trajectories, SFT samples (render,
            tokenize), preference pairs, shard folders, and the ledgers
            (--ledger FILE of each command) and drops files of a run; each
            record's kind is sniffed from its keys. Writes DIR/stats.json
            (schemas/stats.schema.json), DIR/report.md and DIR/report.html
            (one self-contained page with SVG charts; prints well).

            The report holds: records by kind; the funnel of the run from its
            ledgers and drops files (ingest → validate → filter → dedup →
            split → render, with reasons); success rate and rewards; messages,
            user turns, assistant turns and tool calls per trajectory; calls
            and error results per tool; domains; token lengths per split
            (p50/p90/p99/max, and how many exceed --cutoff); duplicate
            clusters from dedup drops, largest first; pair statistics; the
            script mix of user text (Unicode blocks, not languages).

            Splits: a shard folder's manifest names its split; otherwise a
            word of the file name (train, validation/val/dev, test, eval),
            else the file name. Records with input_ids are measured as they
            are; others need --tokenizer (trajectories are then measured on
            their text without a chat template: render them for exact
            lengths).

            --contamination EVAL (repeatable) checks every record against
            evaluation items (tau-bench tasks.json, trajectories, OpenAI or
            ShareGPT conversations): the share of an item's word n-grams
            (--ngram) found in the record; records at --threshold or more are
            listed, largest overlap first.

            --compare A B puts two reports side by side with deltas; A and B
            are inputs, or stats.json files (or folders) written earlier.

            Memory stays flat: histograms (exact below 16,384, else within
            0.012%), capped tables and sketches; the output is the same for
            any --threads.

            Examples:
              trajforge stats retail.jsonl -o audit/
              trajforge stats splits/train.jsonl splits/validation.jsonl \\
                  *.ledger.json *.drops.jsonl --tokenizer models/xLAM-2-8b \\
                  --cutoff 16384 -o audit/
              trajforge stats sft.train.jsonl shards/train/ --cutoff 8192
              trajforge stats retail.jsonl \\
                  --contamination tau-bench/retail/tasks.json -o audit/
              trajforge stats --compare retail.jsonl verified.jsonl -o cmp/
              trajforge stats --compare v1/stats.json v2/stats.json -o cmp/
            """)

    @Option(name: [.short, .customLong("out")], help: ArgumentHelp("Folder for stats.json, report.md and report.html.", valueName: "dir"))
    var out: String = "stats"

    @Option(help: ArgumentHelp("tokenizer.json or model folder, to measure records without input_ids.", valueName: "path"))
    var tokenizer: String?

    @Option(help: ArgumentHelp("Count the records longer than this many tokens.", valueName: "n"))
    var cutoff: Int?

    @Flag(help: "Compare two inputs (or stats.json files) side by side.")
    var compare = false

    @Option(help: ArgumentHelp("Names of the two sides of --compare (default: their file names).", valueName: "a,b"))
    var labels: String?

    @Option(help: ArgumentHelp("Evaluation items to check overlap against (repeatable).", valueName: "path"))
    var contamination: [String] = []

    @Option(help: ArgumentHelp("Word n-gram size for the contamination check.", valueName: "n"))
    var ngram: Int = 8

    @Option(help: ArgumentHelp("Overlap (0-1) at which a record is listed.", valueName: "share"))
    var threshold: Double = 0.5

    @Option(help: ArgumentHelp("How many of the largest duplicate clusters to list.", valueName: "n"))
    var top: Int = 20

    @Option(help: ArgumentHelp("Title of the report.", valueName: "text"))
    var title: String?

    @Option(help: ArgumentHelp("Where unreadable records go (default: DIR/stats.rejects.jsonl).", valueName: "path"))
    var rejects: String?

    @Option(help: ArgumentHelp("Also write this command's ledger as JSON to this file.", valueName: "path"))
    var ledger: String?

    @Option(help: ArgumentHelp("Worker threads (default: all cores). Output is identical for any value.", valueName: "n"))
    var threads: Int?

    @Option(help: ArgumentHelp("Reject records larger than this many bytes.", valueName: "bytes"))
    var maxRecordBytes: Int = 1 << 30

    @Flag(help: "Exit with status 65 if any record was rejected.")
    var strict = false

    @Flag(name: .shortAndLong, help: "Print only the ledger's summary line.")
    var quiet = false

    @Argument(help: ArgumentHelp("Trajectory, sample, pair, drops, rejects or ledger files, or shard folders ('-' for standard input).", valueName: "input"))
    var inputs: [String] = []

    func validate() throws {
        if inputs.isEmpty { throw ValidationError("give at least one input file ('-' for standard input)") }
        if compare && inputs.count != 2 { throw ValidationError("--compare takes exactly two inputs: A and B") }
        if labels != nil && !compare { throw ValidationError("--labels applies to --compare") }
        if let labels, labels.split(separator: ",", omittingEmptySubsequences: false).count != 2 {
            throw ValidationError("--labels takes two names: A,B")
        }
        if let cutoff, cutoff < 1 { throw ValidationError("--cutoff must be at least 1") }
        guard ngram >= 1 else { throw ValidationError("--ngram must be at least 1") }
        guard threshold > 0, threshold <= 1 else { throw ValidationError("--threshold must be in (0, 1]") }
        if top < 0 { throw ValidationError("--top must not be negative") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if maxRecordBytes < 1 { throw ValidationError("--max-record-bytes must be positive") }
    }

    func options() throws -> StatsOptions {
        var o = StatsOptions()
        o.cutoff = cutoff
        o.contaminationThreshold = threshold
        o.topClusters = top
        o.title = title
        o.threads = threads ?? defaultThreadCount
        o.limits = ReaderLimits(maxRecordBytes: maxRecordBytes)
        if let tokenizer {
            do { o.tokenizer = try Tokenizer(tokenizerJSONPath: tokenizer) } catch {
                printError("error: --tokenizer: \(error)")
                throw ExitCode(ExitStatus.ioFailure)
            }
            o.tokenizerName = tokenizer
        }
        if !contamination.isEmpty {
            do {
                let (index, _) = try ContaminationIndex.load(paths: contamination, n: ngram, limits: o.limits)
                o.contamination = index
                o.contaminationFiles = contamination
            } catch {
                printError("error: --contamination: \(error)")
                throw ExitCode(ExitStatus.ioFailure)
            }
        }
        return o
    }

    func run() throws {
        ensureUTF8Locale()
        let options = try options()
        var out = self.out
        while out.count > 1 && out.hasSuffix("/") { out.removeLast() }
        let rejectsPath = rejects ?? out + "/stats.rejects.jsonl"
        var total = Ledger(stage: "stats")
        var report: JSON
        do {
            let rejectsFile = try OutputFile(path: rejectsPath, compression: OutputCompression(.none))
            func collect(_ paths: [String], title: String?) throws(IOError) -> JSON {
                var o = options
                o.title = title
                let collector = StatsCollector(options: o)
                try collector.run(inputs: paths, rejects: rejectsFile)
                total.merge(collector.ledger)
                return collector.report
            }
            if compare {
                let names = labels.map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
                    ?? StatsCommand.defaultLabels(inputs[0], inputs[1])
                var sides: [JSON] = []
                for (k, path) in inputs.enumerated() {
                    if let loaded = StatsOutput.loadReport(path) {
                        total.note("\(path): stats report written earlier")
                        sides.append(loaded)
                    } else {
                        sides.append(try collect([path], title: names[k]))
                    }
                }
                report = StatsComparison.compare(sides[0], sides[1], labelA: names[0], labelB: names[1], title: title)
            } else {
                report = try collect(inputs, title: title)
            }
            let files = try StatsOutput.files(report, folder: out)
            for f in files { try f.commit() }
            try rejectsFile.commit()
        } catch {
            printError("error: \(error)")
            throw ExitCode(ExitStatus.ioFailure)
        }
        if !quiet { print(StatsCommand.summary(report, folder: out)) }
        try finish(total, rejectsPath: rejectsPath)
    }

    static func defaultLabels(_ a: String, _ b: String) -> [String] {
        func name(_ p: String) -> String {
            let url = URL(fileURLWithPath: p)
            return url.lastPathComponent == StatsOutput.jsonName ? url.deletingLastPathComponent().lastPathComponent : url.lastPathComponent
        }
        let (x, y) = (name(a), name(b))
        return x == y ? ["A: \(a)", "B: \(b)"] : [x, y]
    }

    /// A few lines for the terminal: the headline figures and where the files went.
    static func summary(_ report: JSON, folder: String) -> String {
        var lines: [String] = []
        if report["kind"]?.string == "compare" {
            let changed = (report["deltas"]?.array ?? []).filter { ($0["delta"]?.double ?? 0) != 0 }.count
            lines.append("compare: \(report["a"]?["label"]?.string ?? "A") vs \(report["b"]?["label"]?.string ?? "B"): \(changed) figures differ")
        } else {
            let t = report["trajectories"]
            if let n = t?["count"]?.int, n > 0 {
                var line = "trajectories: \(StatsFormat.grouped(n))"
                if let tasks = t?["tasks"]?["count"]?.int { line += " (\(StatsFormat.grouped(tasks)) tasks)" }
                if let rate = t?["outcomes"]?["success_rate"]?.double { line += ", success \(StatsFormat.percent(rate))" }
                if let calls = t?["tools"]?["calls"]?.int { line += ", \(StatsFormat.grouped(calls)) tool calls" }
                if let share = t?["tools"]?["error_share"]?.double { line += " (\(StatsFormat.percent(share)) error results)" }
                lines.append(line)
            }
            for kind in ["samples", "pairs"] {
                if let n = report[kind]?["count"]?.int, n > 0 { lines.append("\(kind): \(StatsFormat.grouped(n))") }
            }
            for s in report["splits"]?.array ?? [] {
                guard let tk = s["tokens"], (tk["measured"]?.int ?? 0) > 0 else { continue }
                func n(_ k: String) -> String { tk[k]?.int.map(StatsFormat.grouped) ?? "-" }
                let kind = s["kind"]?.string ?? ""
                var line = "tokens \(s["split"]?.string ?? "") \(kind == "trajectory" ? "trajectories" : kind + "s"): p50 \(n("p50")) p90 \(n("p90")) p99 \(n("p99")) max \(n("max"))"
                if let over = tk["over_cutoff"]?.int, let c = tk["cutoff"]?.int { line += "; \(StatsFormat.grouped(over)) over \(StatsFormat.grouped(c))" }
                lines.append(line)
            }
            if let c = report["contamination"], let n = c["records_overlapping"]?.int {
                lines.append("contamination: \(StatsFormat.grouped(n)) of \(StatsFormat.grouped(c["records_checked"]?.int ?? 0)) records overlap evaluation items")
            }
        }
        lines.append("wrote \(folder)/\(StatsOutput.jsonName), \(folder)/\(StatsOutput.markdownName), \(folder)/\(StatsOutput.htmlName)")
        return lines.joined(separator: "\n")
    }

    /// Prints the ledger, writes --ledger, applies --strict (as every stage does).
    func finish(_ total: Ledger, rejectsPath: String) throws {
        printError(quiet ? total.summary : total.report)
        if total.rejectedTotal > 0 { printError("rejects: \(rejectsPath)") }
        if let ledger {
            do {
                let file = try OutputFile(path: ledger, compression: OutputCompression(.none))
                try file.write(total.json.serializedBytes(.pretty) + [0x0A])
                try file.commit()
            } catch {
                printError("error: \(error)")
                throw ExitCode(ExitStatus.ioFailure)
            }
        }
        if strict && total.rejectedTotal > 0 { throw ExitCode(ExitStatus.strictRejects) }
    }
}
