import ByteJSON

/// One stage of a run as its ledgers tell it (several ledgers of one stage, e.g. render of train and
/// of validation, are added up).
public struct FunnelStage: Sendable {
    public var stage: String
    public var ledgers = 0
    public var input = 0
    public var kept = 0
    public var output = 0
    public var outputUnit = "records"
    public var dropped = BoundedCounts(cap: 200)
    public var rejected = BoundedCounts(cap: 200)
    public var counters = BoundedCounts(cap: 200)
    /// Drops listed in drops files for this stage, by reason.
    public var listedDrops = BoundedCounts(cap: 200)
    /// Rejects listed in rejects files for this stage, by reason.
    public var listedRejects = BoundedCounts(cap: 200)

    init(stage: String) { self.stage = stage }

    mutating func add(ledger o: JSONObject) {
        ledgers += 1
        input += o["input"]?.int ?? 0
        kept += o["kept"]?.int ?? 0
        output += o["output"]?.int ?? 0
        if let unit = o["output_unit"]?.string { outputUnit = unit }
        for m in o["dropped"]?.object ?? [:] { dropped.add(m.key, m.value.int ?? 0) }
        for m in o["rejected"]?.object ?? [:] { rejected.add(m.key, m.value.int ?? 0) }
        for m in o["counters"]?.object ?? [:] { if let n = m.value.int { counters.add(m.key, n) } }
    }
}

/// A duplicate cluster as the dedup drops file shows it: the kept record, the cluster size and
/// the first members dropped for it.
public struct DuplicateCluster: Sendable {
    public var kept: String
    public var size: Int
    public var exact = 0
    public var near = 0
    public var minJaccard: Double?
    public var members: [String] = []
    var firstOrdinal: Int
}

/// The funnel of a run (from ledgers, drops and rejects files) and what the drops tell about
/// duplicates and contamination. Bounded: per-stage reason tables are capped, clusters are a
/// top-k, cluster sizes a histogram.
public struct FunnelStats: Sendable {
    /// The order stages run in; stages not listed come after, in the order first seen.
    public static let stageOrder = ["ingest", "validate", "filter", "dedup", "split", "render", "tokenize", "pairs", "shard"]
    public static let memberSample = 5

    public var stages = BoundedTable<FunnelStage>(cap: 64, make: { FunnelStage(stage: "") })
    public var topClusters: Int
    var clusters: [String: DuplicateCluster] = [:]
    /// Dedup drops by the size of their cluster (kept record included).
    public var dropsByClusterSize = BoundedCounts(cap: 10_000)
    public var nearJaccard = Distribution(scale: 1000)
    public var exactDuplicates = 0
    public var nearDuplicates = 0
    /// Split drops for contamination, largest overlap first.
    public var contaminated = TopK<(id: String, item: String, overlap: Double)>(k: 100)

    public init(topClusters: Int = 20) { self.topClusters = topClusters }

    mutating func stage(_ name: String, _ body: (inout FunnelStage) -> Void) {
        stages.update(name) { s in
            if s.stage.isEmpty { s.stage = name }
            body(&s)
        }
    }

    mutating func add(ledger: JSON) {
        guard let o = ledger.object, let name = o["stage"]?.string else { return }
        stage(name) { $0.add(ledger: o) }
    }

    mutating func add(reject stageName: String, reason: String) {
        stage(stageName.isEmpty ? "(unknown)" : stageName) { $0.listedRejects.add(reason) }
    }

    mutating func add(drop d: DropFacts, ordinal: Int) {
        stage(d.stage.isEmpty ? "(unknown)" : d.stage) { $0.listedDrops.add(d.reason) }
        if d.reason == "exact-duplicate" || d.reason == "near-duplicate", let kept = d.kept {
            let size = d.clusterSize ?? 0
            dropsByClusterSize.add(String(size))
            if d.reason == "exact-duplicate" { exactDuplicates += 1 } else {
                nearDuplicates += 1
                if let j = d.jaccard { nearJaccard.add(j) }
            }
            addToCluster(kept: kept, size: size, drop: d, ordinal: ordinal)
        }
        if d.reason == "contaminated", let overlap = d.overlap {
            contaminated.offer((d.id, d.evalItem ?? "", overlap), score: overlap, ordinal: ordinal)
        }
    }

    /// Keeps the `topClusters` largest clusters (ties: first seen). A cluster that does not make
    /// the table when first seen never will: its later drops only rank lower.
    mutating func addToCluster(kept: String, size: Int, drop d: DropFacts, ordinal: Int) {
        func update(_ c: inout DuplicateCluster) {
            if d.reason == "exact-duplicate" { c.exact += 1 } else { c.near += 1 }
            if let j = d.jaccard { c.minJaccard = min(c.minJaccard ?? j, j) }
            if c.members.count < FunnelStats.memberSample { c.members.append(d.id) }
        }
        if clusters[kept] != nil {
            update(&clusters[kept]!)
            return
        }
        guard topClusters > 0 else { return }
        if clusters.count >= topClusters {
            let worst = clusters.values.min { a, b in a.size != b.size ? a.size < b.size : a.firstOrdinal > b.firstOrdinal }!
            guard size > worst.size else { return }
            clusters[worst.kept] = nil
        }
        var c = DuplicateCluster(kept: kept, size: size, firstOrdinal: ordinal)
        update(&c)
        clusters[kept] = c
    }

    /// Stages in run order.
    public var ordered: [FunnelStage] {
        let rank = { (s: String) -> Int in FunnelStats.stageOrder.firstIndex(of: s) ?? FunnelStats.stageOrder.count }
        return stages.entries.enumerated().sorted { a, b in
            let ra = rank(a.element.key), rb = rank(b.element.key)
            return ra != rb ? ra < rb : a.offset < b.offset
        }.map(\.element.row)
    }

    public var largestClusters: [DuplicateCluster] {
        clusters.values.sorted { $0.size != $1.size ? $0.size > $1.size : $0.firstOrdinal < $1.firstOrdinal }
    }

    /// Notes on the funnel: ledgers whose drops files list a different number of drops.
    public var notes: [String] {
        var out: [String] = []
        for s in ordered where s.ledgers > 0 && s.listedDrops.total > 0 && s.listedDrops.total != s.dropped.total {
            out.append("\(s.stage): the drops files list \(s.listedDrops.total) drops, its ledgers count \(s.dropped.total)")
        }
        return out
    }

    public var json: JSON {
        var rows: [JSON] = []
        for s in ordered {
            let fromLedger = s.ledgers > 0
            var o: JSONObject = ["stage": .string(s.stage), "source": .string(fromLedger ? "ledger" : "drops"),
                                 "ledgers": .number(JSONNumber(s.ledgers))]
            o["input"] = fromLedger ? .number(JSONNumber(s.input)) : .null
            o["kept"] = fromLedger ? .number(JSONNumber(s.kept)) : .null
            o["output"] = fromLedger ? .number(JSONNumber(s.output)) : .null
            o["output_unit"] = .string(s.outputUnit)
            let dropped = fromLedger ? s.dropped : s.listedDrops
            o["dropped"] = dropped.json
            o["dropped_total"] = .number(JSONNumber(dropped.total))
            o["rejected"] = fromLedger ? s.rejected.json : s.listedRejects.json
            o["rejected_total"] = .number(JSONNumber(fromLedger ? s.rejected.total : s.listedRejects.total))
            o["counters"] = s.counters.json
            o["listed_drops"] = .number(JSONNumber(s.listedDrops.total))
            o["listed_rejects"] = .number(JSONNumber(s.listedRejects.total))
            rows.append(.object(o))
        }
        var sizes: [JSON] = []
        for (size, drops) in dropsByClusterSize.sorted.compactMap({ e in Int(e.key).map { ($0, e.count) } }).sorted(by: { $0.0 < $1.0 }) {
            // A cluster of size s has s - 1 dropped members.
            sizes.append(["size": .number(JSONNumber(size)), "clusters": .number(JSONNumber(size > 1 ? drops / (size - 1) : drops)),
                          "dropped": .number(JSONNumber(drops))])
        }
        let clusterCount = dropsByClusterSize.sorted.reduce(0) { acc, e in
            let size = Int(e.key) ?? 0
            return acc + (size > 1 ? e.count / (size - 1) : e.count)
        }
        let duplicates: JSON = [
            "exact_dropped": .number(JSONNumber(exactDuplicates)), "near_dropped": .number(JSONNumber(nearDuplicates)),
            "clusters": .number(JSONNumber(clusterCount)), "by_size": .array(sizes),
            "near_jaccard": nearJaccard.json,
            "largest": .array(largestClusters.map { c in
                ["kept": .string(c.kept), "size": .number(JSONNumber(c.size)), "exact": .number(JSONNumber(c.exact)),
                 "near": .number(JSONNumber(c.near)), "min_jaccard": StatsFormat.json(c.minJaccard),
                 "members": .array(c.members.map(JSON.string))]
            }),
        ]
        let dropped: JSON = .array(contaminated.sorted.map { c in
            ["id": .string(c.id), "eval_item": .string(c.item), "overlap": StatsFormat.json(StatsFormat.round(c.overlap, 4))]
        })
        return ["stages": .array(rows), "duplicates": duplicates,
                "contamination_drops": ["count": .number(JSONNumber(contaminated.offered)), "largest": dropped],
                "notes": .array(notes.map(JSON.string))]
    }
}
