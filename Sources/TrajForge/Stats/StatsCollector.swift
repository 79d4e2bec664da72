import BPE
import ByteJSON
import Foundation

public struct StatsOptions: Sendable {
    /// Measures records without `input_ids` (sample text, trajectory text without a template).
    public var tokenizer: Tokenizer?
    /// How the tokenizer was named (for the report).
    public var tokenizerName: String?
    /// Count the samples longer than this many tokens (what this sequence length would truncate).
    public var cutoff: Int?
    /// Evaluation items to check every record against (`ContaminationIndex.load`).
    public var contamination: ContaminationIndex?
    public var contaminationFiles: [String] = []
    /// Overlap (0…1) at which a record is listed as overlapping an evaluation item.
    public var contaminationThreshold = 0.5
    /// How many of the largest duplicate clusters to list.
    public var topClusters = 20
    public var title: String?
    public var threads: Int = defaultThreadCount
    public var limits = ReaderLimits()

    public init() {}
}

/// The stats stage: streams any mix of trajectories, SFT samples, pairs, drops, rejects and
/// ledgers (files, compressed files or shard folders) and folds them into a report. Workers only
/// turn records into small `StatsFacts`; one thread folds them in input order into bounded
/// accumulators (histograms, capped tables, sketches), so memory does not grow with the input
/// and the report is the same for any thread count.
public final class StatsCollector {
    public static let splitCap = 256

    let options: StatsOptions
    public private(set) var ledger = Ledger(stage: "stats")
    public private(set) var trajectories = TrajectoryStats()
    public private(set) var samples = SampleStats()
    public private(set) var pairs = PairStats()
    public private(set) var funnel: FunnelStats
    public private(set) var contamination: ContaminationStats?
    public private(set) var splits = BoundedTable<SplitStats>(cap: splitCap, make: { SplitStats() })
    public private(set) var kinds = BoundedCounts(cap: 8)
    var inputRows: [JSON] = []
    var ordinal = 0
    var currentInput = ""
    /// Whether the current input held a trajectory, sample or pair (it then belongs to a split).
    var currentInputMeasurable = false

    public init(options: StatsOptions) {
        self.options = options
        funnel = FunnelStats(topClusters: options.topClusters)
        if let index = options.contamination {
            var c = ContaminationStats()
            c.evalFiles = options.contaminationFiles
            c.evalItems = index.count
            c.n = index.n
            c.threshold = options.contaminationThreshold
            contamination = c
        }
    }

    /// The split an input belongs to (token lengths are reported per split and record kind): a
    /// shard set's manifest says; else a word of the file name
    /// (train, validation/valid/val/dev, test, eval); else the file name without suffixes.
    public static func splitName(_ path: String) -> String {
        if path == "-" { return "stdin" }
        var name = URL(fileURLWithPath: path).lastPathComponent
        for suffix in [".gz", ".zst", ".zstd", ".xz", ".bz2", ".lz4"] where name.hasSuffix(suffix) { name.removeLast(suffix.count) }
        for suffix in [".jsonl", ".json", ".tar", ".mds"] where name.hasSuffix(suffix) { name.removeLast(suffix.count) }
        let words = name.lowercased().split { !$0.isLetter && !$0.isNumber }.map(String.init)
        let aliases: [(String, [String])] = [("train", ["train", "training"]), ("validation", ["validation", "valid", "val", "dev"]),
                                             ("test", ["test"]), ("eval", ["eval", "evaluation"])]
        for (canonical, names) in aliases where words.contains(where: names.contains) { return canonical }
        return name.isEmpty ? path : name
    }

    static func isFolder(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue
    }

    /// Reads every input; rejects (unreadable or unrecognised records, with file:line) go to `rejects`.
    public func run(inputs: [String], rejects: OutputFile?) throws(IOError) {
        for path in inputs {
            var split = StatsCollector.splitName(path)
            let reader: RecordReader
            let description: String
            if path != "-" && (StatsCollector.isFolder(path) || ShardSet.isShardInput(path)) {
                if StatsCollector.isFolder(path), let manifest = StatsCollector.manifest(path) {
                    if let s = manifest["split"]?.string, !s.isEmpty { split = s }
                    if let l = manifest["ledger"], l.object != nil { funnel.add(ledger: l) }
                }
                (reader, description) = try ShardSet.openReader(path, limits: options.limits)
            } else {
                let input = try openRecords(path, limits: options.limits)
                description = input.describe(path)
                guard let r = input.reader else {
                    ledger.note("\(description) (no records)")
                    inputRows.append(["path": .string(path), "split": .null, "description": .string(description), "records": 0])
                    continue
                }
                reader = r
            }
            ledger.note(description)
            let before = ledger.input
            currentInput = path
            currentInputMeasurable = false
            try read(reader, split: split, rejects: rejects)
            inputRows.append(["path": .string(path), "split": currentInputMeasurable ? .string(split) : .null,
                              "description": .string(description), "records": .number(JSONNumber(ledger.input - before))])
        }
        for n in funnel.notes { ledger.note(n) }
        if splits.isCapped { ledger.note("more than \(StatsCollector.splitCap) split names: the rest are counted as \(StatsFormat.otherKey)") }
    }

    static func manifest(_ folder: String) -> JSON? {
        guard let data = FileManager.default.contents(atPath: folder + "/manifest.json") else { return nil }
        return try? JSON.parse([UInt8](data))
    }

    enum Item: Sendable {
        case none
        case facts(StatsFacts)
        case reject(Reject)
    }

    func read(_ reader: RecordReader, split: String, rejects: OutputFile?) throws(IOError) {
        let extractor = StatsExtractor(tokenizer: options.tokenizer, contamination: options.contamination)
        while let batch = try reader.nextBatch() {
            let items = parallelMap(count: batch.items.count, threads: options.threads) { k -> Item in
                switch batch.items[k] {
                case .problem(let reject): return .reject(reject)
                case .context: return .none
                case .record(let raw):
                    switch extractor.facts(batch, raw) {
                    case .success(let f): return .facts(f)
                    case .failure(let r): return .reject(r)
                    }
                }
            }
            var rejected: [Reject] = []
            for item in items {
                switch item {
                case .none: break
                case .reject(let r):
                    ledger.input += 1
                    ledger.reject(r.reason)
                    rejected.append(r)
                case .facts(let f):
                    ledger.input += 1
                    ledger.kept += 1
                    ledger.output += 1
                    fold(f, split: split)
                }
            }
            try RecordStage.writeRejects(rejected, to: rejects)
        }
    }

    func fold(_ f: StatsFacts, split: String) {
        let ordinal = self.ordinal
        self.ordinal += 1
        kinds.add(f.kind.rawValue)
        ledger.count("\(f.kind.rawValue) records")
        let cutoff = options.cutoff
        let measurable = f.kind == .trajectory || f.kind == .sample || f.kind == .pair
        if measurable {
            currentInputMeasurable = true
            let input = currentInput
            splits.update(split + "\u{0}" + f.kind.rawValue) { s in
                if s.inputs.last != input { s.inputs.append(input) }
                s.records += 1
                if let n = f.tokens {
                    s.tokens.add(n)
                    if let cutoff, n > cutoff { s.overCutoff += 1 }
                    if let sup = f.supervisedTokens { s.supervised.add(sup) }
                    if let m = f.measuredFrom { s.measuredFrom.add(m) }
                } else {
                    s.unmeasured += 1
                }
            }
        }
        switch f.kind {
        case .trajectory: trajectories.add(f.trajectory!)
        case .sample: samples.add(f.sample!)
        case .pair: pairs.add(f.pair!)
        case .drop: funnel.add(drop: f.drop!, ordinal: ordinal)
        case .ledger: funnel.add(ledger: f.ledger!)
        case .reject: funnel.add(reject: f.reject!.stage, reason: f.reject!.reason)
        }
        if measurable, contamination != nil {
            let place = "\(f.location.file):\(f.location.line)"
            contamination!.add(f.contamination, record: (f.id ?? place, place, split, f.kind.rawValue), ordinal: ordinal)
        }
    }

    /// The report (stats.json; schemas/stats.schema.json).
    public var report: JSON {
        var o = JSONObject()
        o["kind"] = "stats"
        o["format_version"] = 1
        o["title"] = .string(options.title ?? "Dataset statistics")
        o["trajforge_version"] = .string(TrajForgeVersion.string)
        o["inputs"] = .array(inputRows)
        o["options"] = ["tokenizer": options.tokenizerName.map(JSON.string) ?? .null,
                        "cutoff": options.cutoff.map { .number(JSONNumber($0)) } ?? .null,
                        "contamination": .array(options.contaminationFiles.map(JSON.string)),
                        "top_clusters": .number(JSONNumber(options.topClusters))]
        var byKind = JSONObject()
        for k in StatsRecordKind.allCases { byKind[k.rawValue] = .number(JSONNumber(kinds.table[k.rawValue] ?? 0)) }
        o["records"] = ["read": .number(JSONNumber(ledger.input)), "counted": .number(JSONNumber(ledger.kept)),
                        "rejected": .number(JSONNumber(ledger.rejectedTotal)), "by_kind": .object(byKind)]
        o["funnel"] = funnel.json
        o["trajectories"] = trajectories.json
        o["samples"] = samples.json
        o["pairs"] = pairs.json
        o["splits"] = .array(splits.entries.map { e in
            let parts = e.key.split(separator: "\u{0}", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            return e.row.json(name: parts[0], kind: parts.count > 1 ? parts[1] : "", cutoff: options.cutoff)
        })
        o["contamination"] = contamination?.json ?? .null
        o["method"] = [
            "quantiles": .string("nearest rank over HDR-style histograms: exact below \(QuantileHistogram.exactLimit), else within 1/\(1 << QuantileHistogram.subBits) of the value; count, sum, min and max are exact"),
            "distinct": "exact up to 65,536 keys (4,096 per domain), then HyperLogLog with 4,096 registers (about 1.6% standard error)",
            "caps": .string("tools \(TrajectoryStats.toolCap), domains \(TrajectoryStats.domainCap), splits \(StatsCollector.splitCap) (beyond: \(StatsFormat.otherKey)); \(options.topClusters) largest duplicate clusters; \(ContaminationStats.listLimit) overlapping records listed"),
            "tokens": .string(options.tokenizer == nil
                ? "input_ids of tokenized samples; records without input_ids are not measured (give --tokenizer)"
                : "input_ids where present, else the text encoded with the tokenizer (trajectories: their text without a chat template)"),
            "tool_errors": "a tool result is an error when its message meta says error: true or its content starts with \"Error\"",
            "success_rate": "successes / (successes + failures); trajectories with unknown outcome are left out",
        ]
        o["ledger"] = ledger.json
        return .object(o)
    }
}
