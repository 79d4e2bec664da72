import BPE
import ByteJSON

/// What a record given to `stats` is, sniffed per record from its keys.
public enum StatsRecordKind: String, Sendable, CaseIterable {
    /// A canonical trajectory (schemas/trajectory.schema.json).
    case trajectory
    /// An SFT sample from `render` (rendered, tokenized, TRL or ShareGPT form) or `tokenize`.
    case sample
    /// A preference pair from `pairs` (schemas/pairs.schema.json).
    case pair
    /// A line of a drops file (schemas/drop.schema.json).
    case drop
    /// A stage ledger (schemas/ledger.schema.json).
    case ledger
    /// A line of a rejects file (schemas/reject.schema.json).
    case reject

    /// The kind of `o`, or nil when it looks like none of them.
    public static func sniff(_ o: JSONObject) -> StatsRecordKind? {
        if o["stage"]?.string != nil, o["input"]?.int != nil, o["kept"]?.int != nil, o["dropped"]?.object != nil { return .ledger }
        if o["stage"]?.string != nil, o["reason"]?.string != nil, o["detail"]?.string != nil {
            if o["details"]?.object != nil, o["id"]?.string != nil { return .drop }
            if o["file"]?.string != nil { return .reject }
        }
        if o["strategy"]?.string != nil, o["sources"]?.object != nil { return .pair }
        if o["messages"]?.array != nil, o["source"]?.object != nil, o["id"]?.string != nil { return .trajectory }
        if o["trajectory_id"] != nil || o["input_ids"]?.array != nil || o["ids"]?.array != nil || o["text"]?.string != nil
            || (o["prompt"]?.array != nil && o["completion"]?.array != nil) || o["messages"]?.array != nil || o["conversations"]?.array != nil
        {
            return .sample
        }
        return nil
    }
}

/// Per-tool use inside one trajectory.
public struct ToolUse: Sendable, Equatable {
    public var name: String
    public var calls = 0
    public var results = 0
    public var errors = 0
}

/// The figures of one trajectory that the stats fold needs (the trajectory itself is not kept).
public struct TrajectoryFacts: Sendable {
    public var domain: String?
    /// The task key (`Splitter.groupKey`): rollouts of one task share it.
    public var task: String
    public var success: Bool?
    public var reward: Double?
    public var messages = 0
    public var userTurns = 0
    public var assistantTurns = 0
    public var toolCalls = 0
    public var toolResults = 0
    public var toolErrors = 0
    /// Unicode scalars of message contents (the system prompt excluded).
    public var characters = 0
    public var tools: [ToolUse] = []
    /// Letters of user text per `Script`.
    public var scripts = [Int](repeating: 0, count: Script.allCases.count)

    public init(_ t: Trajectory) {
        domain = t.domain
        task = Splitter.groupKey(t)
        success = t.outcome?.success
        reward = t.outcome?.reward?.double
        messages = t.messages.count
        var slot: [String: Int] = [:]
        var callName: [String: String] = [:]
        func use(_ name: String, _ body: (inout ToolUse) -> Void) {
            let k = slot[name] ?? {
                slot[name] = tools.count
                tools.append(ToolUse(name: name))
                return tools.count - 1
            }()
            body(&tools[k])
        }
        for m in t.messages {
            if let c = m.content { characters += c.unicodeScalars.count }
            switch m.role {
            case .user:
                userTurns += 1
                if let c = m.content { Script.count(c, into: &scripts) }
            case .assistant:
                assistantTurns += 1
                for call in m.toolCalls {
                    toolCalls += 1
                    callName[call.id] = call.name
                    use(call.name) { $0.calls += 1 }
                }
            case .tool:
                toolResults += 1
                let error = Filter.isToolError(m)
                if error { toolErrors += 1 }
                let name = m.name ?? m.toolCallID.flatMap { callName[$0] } ?? "(unnamed)"
                use(name) {
                    $0.results += 1
                    if error { $0.errors += 1 }
                }
            case .system:
                break
            }
        }
    }
}

/// The figures of one SFT sample.
public struct SampleFacts: Sendable {
    /// rendered, tokenized, trl, sharegpt or text.
    public var form: String
    public var domain: String?
    public var success: Bool?
    public var trajectoryID: String?
}

/// The figures of one preference pair record.
public struct PairFacts: Sendable {
    /// trl-dpo, trl-kto, sharegpt or rendered.
    public var form: String
    public var strategy: String
    public var deviation: String?
    public var tool: String?
    /// "task" (ground-truth actions) or "rollout" (a verified rollout).
    public var chosenFrom: String
    /// KTO: desirable (true) or undesirable (false).
    public var label: Bool?
    public var group: String?
    public var promptMessages: Int?
    public var chosenMessages: Int?
    public var rejectedMessages: Int?
}

/// The figures of one drops-file line.
public struct DropFacts: Sendable {
    public var id: String
    public var stage: String
    public var reason: String
    /// Dedup: the kept record of the cluster, the estimated Jaccard and the cluster size.
    public var kept: String?
    public var jaccard: Double?
    public var clusterSize: Int?
    /// Split contamination: the evaluation item and the overlap.
    public var evalItem: String?
    public var overlap: Double?
}

/// A contamination hit of one record.
public struct OverlapMatch: Sendable {
    public var item: String
    public var overlap: Double
    public var shared: Int
}

/// Everything the fold learns from one record.
public struct StatsFacts: Sendable {
    public var kind: StatsRecordKind
    public var id: String?
    public var location: RecordLocation
    public var trajectory: TrajectoryFacts?
    public var sample: SampleFacts?
    public var pair: PairFacts?
    public var drop: DropFacts?
    public var ledger: JSON?
    public var reject: (stage: String, reason: String)?
    public var tokens: Int?
    public var supervisedTokens: Int?
    public var measuredFrom: String?
    public var contamination: OverlapMatch?

    init(kind: StatsRecordKind, location: RecordLocation) {
        self.kind = kind
        self.location = location
    }
}

/// Turns one record into `StatsFacts` (on a worker thread).
public struct StatsExtractor: Sendable {
    public var tokenizer: Tokenizer?
    public var contamination: ContaminationIndex?

    public init(tokenizer: Tokenizer? = nil, contamination: ContaminationIndex? = nil) {
        self.tokenizer = tokenizer
        self.contamination = contamination
    }

    public func facts(_ batch: RecordBatch, _ raw: RawRecord) -> Result<StatsFacts, Reject> {
        let bytes = batch.storage[raw.range]
        let json: JSON
        switch parseRecord(batch, raw) {
        case .failure(let error):
            return .failure(Reject(stage: "stats", at: raw.location, reason: .invalidJSON, detail: error.description, excerptOf: bytes))
        case .success(let j): json = j
        }
        guard let o = json.object, let kind = StatsRecordKind.sniff(o) else {
            return .failure(Reject(stage: "stats", at: raw.location, reason: .unrecognizedFormat,
                                   detail: "not a trajectory, SFT sample, pair, drop, reject or ledger record", excerptOf: bytes))
        }
        var f = StatsFacts(kind: kind, location: raw.location)
        f.id = o["id"]?.string
        switch kind {
        case .trajectory:
            let t: Trajectory
            do throws(DecodeError) { t = try Trajectory(json: json) } catch {
                return .failure(Reject(stage: "stats", at: raw.location, reason: .notCanonical,
                                       detail: "looks like a trajectory but is not canonical (\(error)); run `trajforge ingest` first", excerptOf: bytes))
            }
            f.trajectory = TrajectoryFacts(t)
            if let tokenizer {
                f.tokens = tokenizer.encode(Filter.measuredText(t), parseSpecial: false).count
                f.measuredFrom = "trajectory text (no template)"
            }
            if let contamination, let m = contamination.bestMatch(ContaminationIndex.trainingText(t)) {
                f.contamination = OverlapMatch(item: m.item, overlap: m.overlap, shared: m.shared)
            }
        case .sample:
            let form: String
            if o["input_ids"] != nil || o["ids"] != nil { form = "tokenized" } else if o["spans"] != nil { form = "rendered" } else if o["conversations"] != nil {
                form = "sharegpt"
            } else if o["prompt"] != nil || o["messages"] != nil { form = "trl" } else { form = "text" }
            f.sample = SampleFacts(form: form, domain: o["domain"]?.string, success: o["success"]?.bool, trajectoryID: o["trajectory_id"]?.string)
            if let ids = o["ids"]?.array, o["input_ids"] == nil {
                f.tokens = ids.count
                f.measuredFrom = "ids"
            } else if let c = TokenCounter.count(json, tokenizer: tokenizer) {
                f.tokens = c.total
                f.supervisedTokens = c.supervised
                f.measuredFrom = c.measured
            }
            if let contamination, let m = contamination.bestMatch(StatsExtractor.text(of: o)) {
                f.contamination = OverlapMatch(item: m.item, overlap: m.overlap, shared: m.shared)
            }
        case .pair:
            f.pair = StatsExtractor.pairFacts(o)
            if let p = o["prompt_input_ids"]?.array {
                f.tokens = p.count + max(o["chosen_input_ids"]?.array?.count ?? 0, o["rejected_input_ids"]?.array?.count ?? 0)
                f.measuredFrom = "prompt + longer completion input_ids"
            }
            if let contamination, let m = contamination.bestMatch(StatsExtractor.text(of: o)) {
                f.contamination = OverlapMatch(item: m.item, overlap: m.overlap, shared: m.shared)
            }
        case .drop:
            let d = o["details"]?.object ?? [:]
            f.drop = DropFacts(id: o["id"]?.string ?? "", stage: o["stage"]?.string ?? "", reason: o["reason"]?.string ?? "",
                               kept: d["kept"]?.string, jaccard: d["jaccard"]?.double, clusterSize: d["cluster_size"]?.int,
                               evalItem: d["eval_item"]?.string, overlap: d["overlap"]?.double)
        case .ledger:
            f.ledger = json
        case .reject:
            f.reject = (o["stage"]?.string ?? "", o["reason"]?.string ?? "")
        }
        return .success(f)
    }

    static func pairFacts(_ o: JSONObject) -> PairFacts {
        let form: String
        if o["template"] != nil { form = "rendered" } else if o["conversations"] != nil { form = "sharegpt" } else if o["label"] != nil {
            form = "trl-kto"
        } else { form = "trl-dpo" }
        let chosen = o["sources"]?["chosen"]?.string
        func messages(_ key: String) -> Int? {
            if let a = o[key]?.array { return a.count }
            if o[key]?.object != nil { return 1 }
            return nil
        }
        return PairFacts(form: form, strategy: o["strategy"]?.string ?? "", deviation: o["deviation"]?["kind"]?.string,
                         tool: o["deviation"]?["tool"]?.string, chosenFrom: chosen == "task" ? "task" : "rollout",
                         label: o["label"]?.bool, group: o["group"]?.string,
                         promptMessages: form == "sharegpt" ? messages("conversations") : messages("prompt"),
                         chosenMessages: messages(form == "trl-kto" ? "completion" : "chosen"),
                         rejectedMessages: form == "trl-kto" ? nil : messages("rejected"))
    }

    /// The text of a sample or pair that training sees: rendered text, else message contents.
    static func text(of o: JSONObject) -> String {
        var parts: [String] = []
        for key in ["text", "prompt", "chosen", "rejected", "completion"] {
            if let s = o[key]?.string { parts.append(s) }
        }
        for key in ["prompt", "completion", "messages", "chosen", "rejected", "conversations"] {
            let list = o[key]?.array ?? (o[key]?.object != nil ? [o[key]!] : [])
            for m in list {
                if m["role"]?.string == "system" { continue }
                if let c = m["content"]?.string ?? m["value"]?.string { parts.append(c) }
            }
        }
        return parts.joined(separator: "\n")
    }
}
