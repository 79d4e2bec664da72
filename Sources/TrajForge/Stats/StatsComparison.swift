import ByteJSON

/// One headline figure of a report, for comparisons.
public struct StatsFigure: Sendable {
    public var key: String
    public var section: String
    public var label: String
    public var value: Double?
    /// "count", "share" (0…1) or "value".
    public var unit: String
}

/// Two reports side by side: the headline figures of each and their differences.
public enum StatsComparison {
    /// The headline figures of a stats.json value, in report order.
    public static func figures(_ report: JSON) -> [StatsFigure] {
        let v = StatsView(json: report)
        var out: [StatsFigure] = []
        func add(_ key: String, _ section: String, _ label: String, _ value: Double?, _ unit: String = "count") {
            out.append(StatsFigure(key: key, section: section, label: label, value: value, unit: unit))
        }
        add("records.read", "records", "records read", v.double("records", "read"))
        add("records.rejected", "records", "records rejected", v.double("records", "rejected"))
        for m in v.object("records", "by_kind") where (m.value.int ?? 0) > 0 { add("records.\(m.key)", "records", "\(m.key) records", m.value.double) }
        for st in v.array("funnel", "stages") {
            let name = st["stage"]?.string ?? ""
            add("funnel.\(name).input", "funnel", "\(name): in", st["input"]?.double)
            add("funnel.\(name).kept", "funnel", "\(name): kept", st["kept"]?.double)
            add("funnel.\(name).dropped", "funnel", "\(name): dropped", st["dropped_total"]?.double)
        }
        if (v.int("trajectories", "count") ?? 0) > 0 {
            let t = "trajectories"
            add("trajectories.count", t, "trajectories", v.double(t, "count"))
            add("trajectories.tasks", t, "tasks", v.double(t, "tasks", "count"))
            add("trajectories.success", t, "verified (success)", v.double(t, "outcomes", "success"))
            add("trajectories.failure", t, "failed", v.double(t, "outcomes", "failure"))
            add("trajectories.success_rate", t, "success rate", v.double(t, "outcomes", "success_rate"), "share")
            add("trajectories.reward.mean", t, "reward mean", v.double(t, "reward", "mean"), "value")
            for (key, label) in [("messages", "messages"), ("user_turns", "user turns"), ("assistant_turns", "assistant turns"), ("tool_calls", "tool calls")] {
                add("shape.\(key).mean", "shape", "\(label) per trajectory (mean)", v.double(t, "per_trajectory", key, "mean"), "value")
                add("shape.\(key).p90", "shape", "\(label) per trajectory (p90)", v.double(t, "per_trajectory", key, "p90"), "value")
            }
            add("tools.distinct", "tools", "distinct tools", v.double(t, "tools", "distinct"))
            add("tools.calls", "tools", "tool calls", v.double(t, "tools", "calls"))
            add("tools.error_share", "tools", "error share of tool results", v.double(t, "tools", "error_share"), "share")
            for r in v.array(t, "tools", "by_tool") {
                let name = r["name"]?.string ?? ""
                add("tools.\(name).calls", "tools", "\(name): calls", r["calls"]?.double)
                add("tools.\(name).error_share", "tools", "\(name): error share", r["error_share"]?.double, "share")
            }
            for r in v.array(t, "domains") {
                let name = r["domain"]?.string ?? ""
                add("domains.\(name).trajectories", "domains", "\(name): trajectories", r["trajectories"]?.double)
                add("domains.\(name).success_rate", "domains", "\(name): success rate", r["success_rate"]?.double, "share")
            }
            for r in v.array(t, "scripts", "by_script") {
                add("scripts.\(r["script"]?.string ?? "")", "scripts", "\(r["script"]?.string ?? ""): share of user letters", r["share"]?.double, "share")
            }
        }
        for sp in v.array("splits") {
            let name = Fmt.splitName(sp)
            add("splits.\(name).records", "tokens", "\(name): records", sp["records"]?.double)
            guard (sp["tokens"]?["measured"]?.int ?? 0) > 0 else { continue }
            for q in ["p50", "p90", "p99", "max"] { add("splits.\(name).tokens.\(q)", "tokens", "\(name): tokens \(q)", sp["tokens"]?[q]?.double, "value") }
            add("splits.\(name).tokens.sum", "tokens", "\(name): tokens in all", sp["tokens"]?["sum"]?.double)
            if sp["tokens"]?["over_cutoff"]?.int != nil { add("splits.\(name).over_cutoff", "tokens", "\(name): over the cutoff", sp["tokens"]?["over_cutoff"]?.double) }
        }
        let d = v.object("funnel", "duplicates")
        if (d["exact_dropped"]?.int ?? 0) + (d["near_dropped"]?.int ?? 0) > 0 {
            add("duplicates.clusters", "duplicates", "duplicate clusters", d["clusters"]?.double)
            add("duplicates.exact", "duplicates", "exact copies dropped", d["exact_dropped"]?.double)
            add("duplicates.near", "duplicates", "near copies dropped", d["near_dropped"]?.double)
        }
        if (v.int("samples", "count") ?? 0) > 0 { add("samples.count", "samples", "SFT samples", v.double("samples", "count")) }
        if (v.int("pairs", "count") ?? 0) > 0 {
            add("pairs.count", "pairs", "pair records", v.double("pairs", "count"))
            for m in v.object("pairs", "strategies") { add("pairs.strategy.\(m.key)", "pairs", "strategy \(m.key)", m.value.double) }
            for m in v.object("pairs", "deviation_kinds") { add("pairs.deviation.\(m.key)", "pairs", "deviation \(m.key)", m.value.double) }
        }
        if v.value(["contamination"])?.object != nil {
            add("contamination.overlapping", "contamination", "records overlapping evaluation items", v.double("contamination", "records_overlapping"))
            add("contamination.share", "contamination", "share overlapping", v.double("contamination", "share_overlapping"), "share")
        }
        return out
    }

    /// {kind: "compare", title, a: {label, report}, b: {label, report}, deltas: [...]}: every
    /// figure of either report, with b − a and the relative change where a is not zero.
    public static func compare(_ a: JSON, _ b: JSON, labelA: String, labelB: String, title: String? = nil) -> JSON {
        let fa = figures(a), fb = figures(b)
        var order: [String] = []
        var byKey: [String: (StatsFigure?, StatsFigure?)] = [:]
        for f in fa where byKey[f.key] == nil {
            order.append(f.key)
            byKey[f.key] = (f, nil)
        }
        for f in fb {
            if byKey[f.key] == nil {
                order.append(f.key)
                byKey[f.key] = (nil, f)
            } else if byKey[f.key]!.1 == nil {
                byKey[f.key]!.1 = f
            }
        }
        var deltas: [JSON] = []
        for key in order {
            let (x, y) = byKey[key]!
            let any = (x ?? y)!
            let va = x?.value, vb = y?.value
            var o: JSONObject = ["key": .string(key), "section": .string(any.section), "label": .string(any.label), "unit": .string(any.unit),
                                 "a": StatsFormat.json(va), "b": StatsFormat.json(vb)]
            if let va, let vb {
                o["delta"] = StatsFormat.json(StatsFormat.round(vb - va, 6))
                o["relative"] = va != 0 ? StatsFormat.json(StatsFormat.round((vb - va) / abs(va), 6)) : .null
            } else {
                o["delta"] = .null
                o["relative"] = .null
            }
            deltas.append(.object(o))
        }
        return ["kind": "compare", "format_version": 1,
                "title": .string(title ?? "Comparison: \(labelA) vs \(labelB)"), "trajforge_version": .string(TrajForgeVersion.string),
                "a": ["label": .string(labelA), "report": a], "b": ["label": .string(labelB), "report": b],
                "deltas": .array(deltas)]
    }

    /// Formats a figure for people.
    static func format(_ v: JSON?, unit: String) -> String {
        guard let d = v?.double else { return "–" }
        return unit == "share" ? StatsFormat.percent(d) : StatsFormat.human(d, digits: 2)
    }

    /// Formats a delta: "+12", "−3.5 pp" for shares.
    static func formatDelta(_ v: JSON?, unit: String) -> String {
        guard let d = v?.double else { return "–" }
        if d == 0 { return "0" }
        let sign = d > 0 ? "+" : "−"
        if unit == "share" { return sign + StatsFormat.fixed(abs(d) * 100, 1) + " pp" }
        return sign + StatsFormat.human(abs(d), digits: 2)
    }

    /// The rows of the deltas table: section, figure, a, b, Δ, Δ%.
    static func deltaTable(_ compare: JSON, changedOnly: Bool = false) -> ReportTable {
        let labelA = compare["a"]?["label"]?.string ?? "A", labelB = compare["b"]?["label"]?.string ?? "B"
        var rows: [[String]] = []
        for d in compare["deltas"]?.array ?? [] {
            let unit = d["unit"]?.string ?? "count"
            if changedOnly, let delta = d["delta"]?.double, delta == 0 { continue }
            let rel = d["relative"]?.double.map { (($0 > 0) ? "+" : ($0 < 0 ? "−" : "")) + StatsFormat.fixed(abs($0) * 100, 1) + "%" } ?? "–"
            rows.append([d["section"]?.string ?? "", d["label"]?.string ?? "", format(d["a"], unit: unit), format(d["b"], unit: unit),
                         formatDelta(d["delta"], unit: unit), unit == "share" ? "–" : rel])
        }
        return ReportTable(caption: "Figures side by side (Δ = \(labelB) − \(labelA))", columns: ["section", "figure", labelA, labelB, "Δ", "Δ %"],
                           numeric: [false, false, true, true, true, true], rows: rows)
    }
}
