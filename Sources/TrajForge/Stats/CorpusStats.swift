import ByteJSON

/// Statistics of SFT samples (render / tokenize output).
public struct SampleStats: Sendable {
    public var count = 0
    public var forms = BoundedCounts(cap: 16)
    public var success = 0
    public var failure = 0
    public var unknown = 0
    public var domains = BoundedCounts(cap: TrajectoryStats.domainCap)
    public var trajectories = DistinctCounter()

    public init() {}

    mutating func add(_ s: SampleFacts) {
        count += 1
        forms.add(s.form)
        switch s.success {
        case true?: success += 1
        case false?: failure += 1
        case nil: unknown += 1
        }
        domains.add(s.domain ?? "(none)")
        if let id = s.trajectoryID { trajectories.add(id) }
    }

    public var json: JSON {
        ["count": .number(JSONNumber(count)), "forms": forms.json,
         "outcomes": ["success": .number(JSONNumber(success)), "failure": .number(JSONNumber(failure)), "unknown": .number(JSONNumber(unknown))],
         "domains": domains.json, "trajectories": trajectories.json]
    }
}

/// Statistics of preference pairs (pairs output).
public struct PairStats: Sendable {
    public var count = 0
    public var forms = BoundedCounts(cap: 16)
    public var strategies = BoundedCounts(cap: 16)
    public var deviations = BoundedCounts(cap: 64)
    public var tools = BoundedCounts(cap: TrajectoryStats.toolCap)
    public var chosenFrom = BoundedCounts(cap: 4)
    public var desirable = 0
    public var undesirable = 0
    public var groups = DistinctCounter()
    public var promptMessages = Distribution()
    public var chosenMessages = Distribution()
    public var rejectedMessages = Distribution()

    public init() {}

    mutating func add(_ p: PairFacts) {
        count += 1
        forms.add(p.form)
        strategies.add(p.strategy)
        deviations.add(p.deviation ?? "(none)")
        if let tool = p.tool { tools.add(tool) }
        chosenFrom.add(p.chosenFrom)
        if p.label == true { desirable += 1 }
        if p.label == false { undesirable += 1 }
        groups.add(p.group ?? "(none)")
        if let n = p.promptMessages { promptMessages.add(n) }
        if let n = p.chosenMessages { chosenMessages.add(n) }
        if let n = p.rejectedMessages { rejectedMessages.add(n) }
    }

    public var json: JSON {
        ["count": .number(JSONNumber(count)), "forms": forms.json, "strategies": strategies.json, "deviation_kinds": deviations.json,
         "deviation_tools": tools.json, "chosen_from": chosenFrom.json,
         "kto_labels": ["desirable": .number(JSONNumber(desirable)), "undesirable": .number(JSONNumber(undesirable))],
         "tasks": groups.json,
         "messages": ["prompt": promptMessages.json, "chosen": chosenMessages.json, "rejected": rejectedMessages.json]]
    }
}

/// The records of one kind (trajectory, sample, pair) in one split, and their token lengths.
public struct SplitStats: Sendable {
    public var records = 0
    public var tokens = Distribution()
    public var supervised = Distribution()
    public var overCutoff = 0
    /// Records whose length could not be measured (no input_ids/text, or no --tokenizer).
    public var unmeasured = 0
    public var measuredFrom = BoundedCounts(cap: 8)
    public var inputs: [String] = []

    public init() {}

    func json(name: String, kind: String, cutoff: Int?) -> JSON {
        var o: JSONObject = ["split": .string(name), "kind": .string(kind), "inputs": .array(inputs.map(JSON.string)),
                             "records": .number(JSONNumber(records))]
        var t = tokens.json.object ?? [:]
        t["measured"] = .number(JSONNumber(tokens.count))
        t["unmeasured"] = .number(JSONNumber(unmeasured))
        t["measured_from"] = .array(measuredFrom.sorted.map { .string($0.key) })
        t["cutoff"] = cutoff.map { .number(JSONNumber($0)) } ?? .null
        t["over_cutoff"] = cutoff != nil ? .number(JSONNumber(overCutoff)) : .null
        t["over_cutoff_share"] = cutoff != nil ? TrajectoryStats.share(overCutoff, tokens.count) : .null
        o["tokens"] = .object(t)
        o["supervised_tokens"] = supervised.count > 0 ? supervised.json : .null
        return .object(o)
    }
}

/// One training record that overlaps an evaluation item.
public struct OverlapRecord: Sendable {
    public var id: String
    public var place: String
    public var split: String
    public var kind: String
    public var match: OverlapMatch

    var json: JSON {
        ["id": .string(id), "place": .string(place), "split": .string(split), "kind": .string(kind),
         "eval_item": .string(match.item), "overlap": StatsFormat.json(StatsFormat.round(match.overlap, 4)),
         "shared_ngrams": .number(JSONNumber(match.shared))]
    }
}

/// The --contamination check: word n-gram overlap of every record with evaluation items.
public struct ContaminationStats: Sendable {
    public static let listLimit = 1000
    public var evalFiles: [String] = []
    public var evalItems = 0
    public var n = 8
    public var threshold = 0.5
    public var checked = 0
    public var overlapping = 0
    /// Records by their largest overlap, in tenths (index 10: complete overlap).
    public var byOverlap = [Int](repeating: 0, count: 11)
    public var items = BoundedCounts(cap: 1000)
    public var list = TopK<OverlapRecord>(k: listLimit)

    public init() {}

    mutating func add(_ m: OverlapMatch?, record: @autoclosure () -> (id: String, place: String, split: String, kind: String), ordinal: Int) {
        checked += 1
        let overlap = m?.overlap ?? 0
        byOverlap[min(10, max(0, Int((overlap * 10).rounded(.down))))] += 1
        guard let m, m.overlap >= threshold else { return }
        overlapping += 1
        items.add(m.item)
        let r = record()
        list.offer(OverlapRecord(id: r.id, place: r.place, split: r.split, kind: r.kind, match: m), score: m.overlap, ordinal: ordinal)
    }

    public var json: JSON {
        ["eval_files": .array(evalFiles.map(JSON.string)), "eval_items": .number(JSONNumber(evalItems)), "ngram": .number(JSONNumber(n)),
         "threshold": StatsFormat.json(threshold), "records_checked": .number(JSONNumber(checked)),
         "records_overlapping": .number(JSONNumber(overlapping)), "share_overlapping": TrajectoryStats.share(overlapping, checked),
         "by_overlap": .array(byOverlap.enumerated().map { k, c in
             ["from": StatsFormat.json(Double(k) / 10), "to": StatsFormat.json(k == 10 ? 1 : Double(k + 1) / 10), "records": .number(JSONNumber(c))]
         }),
         "items_hit": items.json,
         "listed": .number(JSONNumber(list.items.count)),
         "records": .array(list.sorted.map(\.json))]
    }
}
