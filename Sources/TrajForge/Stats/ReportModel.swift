import ByteJSON

// What a report shows, independent of how it is written: sections of paragraphs, headline
// figures, charts and tables, built from a stats.json value (so a report can be rebuilt, or
// compared, from a stats.json written earlier). MarkdownReport and HTMLReport write them.

/// A table: column headers, right-aligned (numeric) columns, rows of formatted cells.
public struct ReportTable: Sendable {
    public var caption: String?
    public var columns: [String]
    public var numeric: [Bool]
    public var rows: [[String]]
    public var note: String?

    public init(caption: String? = nil, columns: [String], numeric: [Bool]? = nil, rows: [[String]], note: String? = nil) {
        self.caption = caption
        self.columns = columns
        self.numeric = numeric ?? columns.indices.map { $0 > 0 }
        self.rows = rows
        self.note = note
    }
}

/// One row of a horizontal bar chart.
public struct BarRow: Sendable {
    public var label: String
    /// One value per series.
    public var values: [Double]
    /// Drawn behind the first series, lighter (e.g. a stage's input behind what it kept).
    public var background: Double?
    /// Drawn over the first series from zero, in red (e.g. error results of a tool).
    public var highlight: Double?
    /// Text after the bar.
    public var note: String

    public init(label: String, values: [Double], background: Double? = nil, highlight: Double? = nil, note: String = "") {
        self.label = label
        self.values = values
        self.background = background
        self.highlight = highlight
        self.note = note
    }
}

public enum ReportChart: Sendable {
    /// A histogram of display bins; `marker` draws a labelled vertical line (e.g. the cutoff).
    case histogram(title: String, bins: [Bin], xLabel: String, yLabel: String, marker: Double?, markerLabel: String?)
    /// Horizontal bars, one row per category; several series are drawn side by side.
    case bars(title: String, rows: [BarRow], xLabel: String, series: [String], legend: [String])

    public var title: String {
        switch self {
        case .histogram(let t, _, _, _, _, _): t
        case .bars(let t, _, _, _, _): t
        }
    }
}

public struct ReportSection: Sendable {
    public var id: String
    public var title: String
    public var paragraphs: [String] = []
    /// Headline figures: (label, value).
    public var cards: [(String, String)] = []
    public var charts: [ReportChart] = []
    public var tables: [ReportTable] = []

    public init(id: String, title: String) {
        self.id = id
        self.title = title
    }
}

/// Reads figures out of a stats.json value.
struct StatsView {
    let json: JSON

    func int(_ path: String...) -> Int? { value(path)?.int ?? value(path)?.double.map { Int($0) } }
    func double(_ path: String...) -> Double? { value(path)?.double }
    func array(_ path: String...) -> [JSON] { value(path)?.array ?? [] }
    func object(_ path: String...) -> JSONObject { value(path)?.object ?? [:] }
    func string(_ path: String...) -> String? { value(path)?.string }

    func value(_ path: [String]) -> JSON? {
        var v: JSON? = json
        for key in path { v = v?[key] }
        return v
    }
}

enum Fmt {
    static func n(_ v: Int?) -> String { v.map(StatsFormat.grouped) ?? "–" }
    static func n(_ v: JSON?) -> String {
        guard let d = v?.double else { return "–" }
        return StatsFormat.human(d, digits: 2)
    }
    static func pct(_ v: JSON?) -> String { v?.double.map { StatsFormat.percent($0) } ?? "–" }
    static func pct(_ v: Double?) -> String { v.map { StatsFormat.percent($0) } ?? "–" }

    static func bins(_ json: JSON?) -> [Bin] {
        (json?["bins"]?.array ?? []).compactMap { b in
            guard let a = b.array, a.count == 3, let lo = a[0].double, let hi = a[1].double, let c = a[2].int else { return nil }
            return Bin(lo: lo, hi: hi, count: c)
        }
    }

    /// "count 115 · mean 20.4 · p50 19 · p90 31 · max 52"
    static func summary(_ d: JSON?, unit: String = "") -> String {
        guard let d, (d["count"]?.int ?? 0) > 0 else { return "no values" }
        let u = unit.isEmpty ? "" : " " + unit
        return "mean \(n(d["mean"]))\(u) · p50 \(n(d["p50"])) · p90 \(n(d["p90"])) · p99 \(n(d["p99"])) · max \(n(d["max"]))\(u)"
    }

    /// "train · samples": a split row's name and its record kind.
    static func splitName(_ sp: JSON) -> String {
        let kind = sp["kind"]?.string ?? ""
        let plural = kind.isEmpty ? "" : " · " + (kind == "trajectory" ? "trajectories" : kind + "s")
        return (sp["split"]?.string ?? "") + plural
    }

    static func reasons(_ o: JSONObject?, limit: Int = 6) -> String {
        guard let o, !o.isEmpty else { return "" }
        var parts = o.members.prefix(limit).map { "\($0.key) \(n($0.value))" }
        if o.count > limit { parts.append("… \(o.count - limit) more") }
        return parts.joined(separator: ", ")
    }
}

/// Builds the sections of a stats report.
public enum ReportModel {
    public static func sections(_ report: JSON) -> [ReportSection] {
        let v = StatsView(json: report)
        var out: [ReportSection] = [overview(v)]
        if let s = funnel(v) { out.append(s) }
        if (v.int("trajectories", "count") ?? 0) > 0 {
            out.append(outcomes(v))
            out.append(shape(v))
            out.append(tools(v))
            out.append(domains(v))
        }
        if let s = tokens(v) { out.append(s) }
        if let s = duplicates(v) { out.append(s) }
        if (v.int("samples", "count") ?? 0) > 0 { out.append(samples(v)) }
        if (v.int("pairs", "count") ?? 0) > 0 { out.append(pairs(v)) }
        if (v.int("trajectories", "count") ?? 0) > 0 { out.append(scripts(v)) }
        if let s = contamination(v) { out.append(s) }
        out.append(notes(v))
        return out
    }

    static func overview(_ v: StatsView) -> ReportSection {
        var s = ReportSection(id: "overview", title: "Overview")
        let read = v.int("records", "read") ?? 0
        let trajectories = v.int("trajectories", "count") ?? 0
        s.cards.append(("records read", Fmt.n(read)))
        if (v.int("records", "rejected") ?? 0) > 0 { s.cards.append(("rejected", Fmt.n(v.int("records", "rejected")))) }
        if trajectories > 0 {
            s.cards.append(("trajectories", Fmt.n(trajectories)))
            s.cards.append(("tasks", Fmt.n(v.int("trajectories", "tasks", "count"))))
            s.cards.append(("success rate", Fmt.pct(v.value(["trajectories", "outcomes", "success_rate"]))))
            s.cards.append(("tool error share", Fmt.pct(v.value(["trajectories", "tools", "error_share"]))))
        }
        if (v.int("samples", "count") ?? 0) > 0 { s.cards.append(("SFT samples", Fmt.n(v.int("samples", "count")))) }
        if (v.int("pairs", "count") ?? 0) > 0 { s.cards.append(("pairs", Fmt.n(v.int("pairs", "count")))) }
        let kinds = v.object("records", "by_kind")
        s.tables.append(ReportTable(caption: "Records by kind", columns: ["kind", "records"],
                                    rows: kinds.members.filter { ($0.value.int ?? 0) > 0 }.map { [$0.key, Fmt.n($0.value)] }
                                        + [["rejected (unreadable or unrecognised)", Fmt.n(v.int("records", "rejected"))]]))
        s.tables.append(ReportTable(caption: "Inputs", columns: ["input", "split", "records", "read as"], numeric: [false, false, true, false],
                                    rows: v.array("inputs").map { i in
                                        [i["path"]?.string ?? "", i["split"]?.string ?? "", Fmt.n(i["records"]), i["description"]?.string ?? ""]
                                    }))
        return s
    }

    static func funnel(_ v: StatsView) -> ReportSection? {
        let stages = v.array("funnel", "stages")
        guard !stages.isEmpty else { return nil }
        var s = ReportSection(id: "funnel", title: "Funnel of the run")
        s.paragraphs.append("Each stage as its ledgers (or, without a ledger, its drops files) report it: records in, kept, dropped with reasons, rejected. Bars: kept (dark) against the stage's input (light).")
        var rows: [BarRow] = []
        var table: [[String]] = []
        for st in stages {
            let name = st["stage"]?.string ?? ""
            let dropped = st["dropped_total"]?.int ?? 0
            let rejected = st["rejected_total"]?.int ?? 0
            let unit = st["output_unit"]?.string ?? "records"
            if let input = st["input"]?.int, let kept = st["kept"]?.int {
                var note = "\(Fmt.n(input)) → \(Fmt.n(kept))"
                if dropped + rejected > 0 { note += " (−\(Fmt.n(dropped + rejected)))" }
                if let out = st["output"]?.int, unit != "records" || out != kept { note += "; wrote \(Fmt.n(out)) \(unit)" }
                rows.append(BarRow(label: name, values: [Double(kept)], background: Double(input), note: note))
            } else {
                rows.append(BarRow(label: name + " (drops only)", values: [Double(dropped)], note: "\(Fmt.n(dropped)) dropped"))
            }
            table.append([name, Fmt.n(st["input"]), Fmt.n(st["kept"]), Fmt.n(dropped), Fmt.n(rejected),
                          st["output"]?.int.map { "\(Fmt.n($0)) \(unit)" } ?? "–",
                          [Fmt.reasons(st["dropped"]?.object), Fmt.reasons(st["rejected"]?.object)].filter { !$0.isEmpty }.joined(separator: "; ")])
        }
        s.charts.append(.bars(title: "Records through the stages", rows: rows, xLabel: "records", series: ["kept"], legend: []))
        s.tables.append(ReportTable(caption: "Stages", columns: ["stage", "in", "kept", "dropped", "rejected", "wrote", "reasons"],
                                    numeric: [false, true, true, true, true, true, false], rows: table))
        var counters: [[String]] = []
        for st in stages {
            for m in st["counters"]?.object ?? [:] { counters.append([st["stage"]?.string ?? "", m.key, Fmt.n(m.value)]) }
        }
        if !counters.isEmpty {
            s.tables.append(ReportTable(caption: "Stage counters", columns: ["stage", "counter", "value"], numeric: [false, false, true], rows: counters))
        }
        for n in v.array("funnel", "notes") { if let t = n.string { s.paragraphs.append("Note: " + t) } }
        return s
    }

    static func outcomes(_ v: StatsView) -> ReportSection {
        var s = ReportSection(id: "outcomes", title: "Outcomes and rewards")
        let o = v.object("trajectories", "outcomes")
        let success = o["success"]?.int ?? 0, failure = o["failure"]?.int ?? 0, unknown = o["unknown"]?.int ?? 0
        let total = Double(max(1, success + failure + unknown))
        s.paragraphs.append("Success is the verified outcome (outcome.success); the success rate leaves out trajectories whose outcome is unknown.")
        s.cards = [("success rate", Fmt.pct(o["success_rate"])), ("verified", Fmt.n(success)), ("failed", Fmt.n(failure)), ("unknown", Fmt.n(unknown))]
        s.charts.append(.bars(title: "Trajectories by outcome", rows: [
            BarRow(label: "success", values: [Double(success)], note: "\(Fmt.n(success)) (\(Fmt.pct(Double(success) / total)))"),
            BarRow(label: "failure", values: [Double(failure)], note: "\(Fmt.n(failure)) (\(Fmt.pct(Double(failure) / total)))"),
            BarRow(label: "unknown", values: [Double(unknown)], note: "\(Fmt.n(unknown)) (\(Fmt.pct(Double(unknown) / total)))"),
        ], xLabel: "trajectories", series: ["trajectories"], legend: []))
        let reward = v.value(["trajectories", "reward"])
        if (reward?["count"]?.int ?? 0) > 0 {
            s.charts.append(.histogram(title: "Reward distribution", bins: Fmt.bins(reward), xLabel: "reward", yLabel: "trajectories", marker: nil, markerLabel: nil))
            s.tables.append(ReportTable(caption: "Reward", columns: ["trajectories with a reward", "mean", "min", "p50", "p90", "max"],
                                        rows: [[Fmt.n(reward?["count"]), Fmt.n(reward?["mean"]), Fmt.n(reward?["min"]), Fmt.n(reward?["p50"]),
                                                Fmt.n(reward?["p90"]), Fmt.n(reward?["max"])]]))
        } else {
            s.paragraphs.append("No trajectory carries a reward.")
        }
        return s
    }

    static func distributionRow(_ label: String, _ d: JSON?) -> [String] {
        [label, Fmt.n(d?["mean"]), Fmt.n(d?["min"]), Fmt.n(d?["p50"]), Fmt.n(d?["p90"]), Fmt.n(d?["p99"]), Fmt.n(d?["max"]), Fmt.n(d?["sum"])]
    }

    static let distributionColumns = ["per trajectory", "mean", "min", "p50", "p90", "p99", "max", "total"]

    static func shape(_ v: StatsView) -> ReportSection {
        var s = ReportSection(id: "shape", title: "Conversation shape")
        let p = v.object("trajectories", "per_trajectory")
        let metrics: [(String, String, String)] = [("messages", "messages", "messages per trajectory"), ("user_turns", "user turns", "user turns per trajectory"),
                                                   ("assistant_turns", "assistant turns", "assistant turns per trajectory"),
                                                   ("tool_calls", "tool calls", "tool calls per trajectory")]
        for (key, unit, title) in metrics {
            s.charts.append(.histogram(title: title.prefix(1).uppercased() + title.dropFirst(), bins: Fmt.bins(p[key]), xLabel: unit, yLabel: "trajectories", marker: nil, markerLabel: nil))
        }
        s.tables.append(ReportTable(caption: "Per trajectory", columns: distributionColumns, rows: [
            distributionRow("messages", p["messages"]), distributionRow("user turns", p["user_turns"]),
            distributionRow("assistant turns", p["assistant_turns"]), distributionRow("tool calls", p["tool_calls"]),
            distributionRow("tool results", p["tool_results"]), distributionRow("characters (message text)", p["characters"]),
        ]))
        return s
    }

    static func tools(_ v: StatsView) -> ReportSection {
        var s = ReportSection(id: "tools", title: "Tools")
        let t = v.object("trajectories", "tools")
        let rows = t["by_tool"]?.array ?? []
        s.cards = [("distinct tools", Fmt.n(t["distinct"])), ("tool calls", Fmt.n(t["calls"])), ("tool results", Fmt.n(t["results"])),
                   ("error results", "\(Fmt.n(t["errors"])) (\(Fmt.pct(t["error_share"])))")]
        s.paragraphs.append("Calls per tool; the red part of a bar is the tool's results that are errors (content starting with \"Error\", or meta error: true).")
        let shown = rows.prefix(30)
        s.charts.append(.bars(title: "Tool calls and error results", rows: shown.map { r in
            BarRow(label: r["name"]?.string ?? "", values: [r["calls"]?.double ?? 0], highlight: r["errors"]?.double,
                   note: "\(Fmt.n(r["calls"])) · \(Fmt.pct(r["error_share"])) errors")
        }, xLabel: "calls", series: ["calls"], legend: ["calls", "error results"]))
        s.tables.append(ReportTable(caption: "Per tool", columns: ["tool", "calls", "results", "errors", "error share", "trajectories"],
                                    rows: rows.map { r in
                                        [r["name"]?.string ?? "", Fmt.n(r["calls"]), Fmt.n(r["results"]), Fmt.n(r["errors"]), Fmt.pct(r["error_share"]), Fmt.n(r["trajectories"])]
                                    }, note: t["capped_at"]?.int.map { "More than \($0) tools: the rest are counted as \(StatsFormat.otherKey)." }))
        if rows.count > shown.count { s.paragraphs.append("The chart shows the \(shown.count) most called of \(rows.count) tools; the table lists all.") }
        return s
    }

    static func domains(_ v: StatsView) -> ReportSection {
        var s = ReportSection(id: "domains", title: "Domains")
        let rows = v.array("trajectories", "domains")
        s.charts.append(.bars(title: "Trajectories per domain", rows: rows.prefix(30).map { r in
            BarRow(label: r["domain"]?.string ?? "", values: [r["trajectories"]?.double ?? 0], note: "\(Fmt.n(r["trajectories"])) · \(Fmt.pct(r["success_rate"])) success")
        }, xLabel: "trajectories", series: ["trajectories"], legend: []))
        s.tables.append(ReportTable(caption: "Per domain", columns: ["domain", "trajectories", "tasks", "success", "failure", "success rate", "messages (mean)", "tool calls (mean)", "tool errors"],
                                    rows: rows.map { r in
                                        [r["domain"]?.string ?? "", Fmt.n(r["trajectories"]), Fmt.n(r["tasks"]), Fmt.n(r["success"]), Fmt.n(r["failure"]),
                                         Fmt.pct(r["success_rate"]), Fmt.n(r["messages_mean"]), Fmt.n(r["tool_calls_mean"]), Fmt.n(r["tool_errors"])]
                                    }))
        return s
    }

    static func tokens(_ v: StatsView) -> ReportSection? {
        let splits = v.array("splits")
        guard splits.contains(where: { ($0["tokens"]?["measured"]?.int ?? 0) > 0 }) else {
            if (v.int("records", "counted") ?? 0) > 0, splits.contains(where: { ($0["tokens"]?["unmeasured"]?.int ?? 0) > 0 }) {
                var s = ReportSection(id: "tokens", title: "Token lengths")
                s.paragraphs.append("No record could be measured: records carry no input_ids. Give --tokenizer (a tokenizer.json or model folder) to measure text.")
                return s
            }
            return nil
        }
        var s = ReportSection(id: "tokens", title: "Token lengths per split")
        let cutoff = v.int("options", "cutoff")
        s.paragraphs.append(v.string("method", "tokens") ?? "")
        if let cutoff { s.paragraphs.append("Cutoff \(Fmt.n(cutoff)) tokens: samples above it would be truncated at that sequence length.") }
        var rows: [[String]] = []
        for sp in splits {
            let name = Fmt.splitName(sp)
            let t = sp["tokens"]
            guard (t?["measured"]?.int ?? 0) > 0 else {
                rows.append([name, Fmt.n(sp["records"]), "0", "–", "–", "–", "–", "–", "–"])
                continue
            }
            s.charts.append(.histogram(title: "Tokens per record: \(name)", bins: Fmt.bins(t), xLabel: "tokens per record", yLabel: "records",
                                       marker: cutoff.map(Double.init), markerLabel: cutoff.map { "cutoff \(Fmt.n($0))" }))
            var over = "–"
            if cutoff != nil { over = "\(Fmt.n(t?["over_cutoff"])) (\(Fmt.pct(t?["over_cutoff_share"])))" }
            rows.append([name, Fmt.n(sp["records"]), Fmt.n(t?["measured"]), Fmt.n(t?["sum"]), Fmt.n(t?["p50"]), Fmt.n(t?["p90"]), Fmt.n(t?["p99"]), Fmt.n(t?["max"]), over])
        }
        s.tables.append(ReportTable(caption: "Tokens per record", columns: ["split", "records", "measured", "tokens", "p50", "p90", "p99", "max", "over cutoff"], rows: rows))
        let supervised = splits.filter { ($0["supervised_tokens"]?["count"]?.int ?? 0) > 0 }
        if !supervised.isEmpty {
            s.tables.append(ReportTable(caption: "Supervised (trained) tokens per sample", columns: ["split", "samples", "tokens", "p50", "p90", "p99", "max"],
                                        rows: supervised.map { sp in
                                            let d = sp["supervised_tokens"]
                                            return [Fmt.splitName(sp), Fmt.n(d?["count"]), Fmt.n(d?["sum"]), Fmt.n(d?["p50"]), Fmt.n(d?["p90"]), Fmt.n(d?["p99"]), Fmt.n(d?["max"])]
                                        }))
        }
        return s
    }

    static func duplicates(_ v: StatsView) -> ReportSection? {
        let d = v.object("funnel", "duplicates")
        let exact = d["exact_dropped"]?.int ?? 0, near = d["near_dropped"]?.int ?? 0
        let contaminated = v.int("funnel", "contamination_drops", "count") ?? 0
        guard exact + near + contaminated > 0 else { return nil }
        var s = ReportSection(id: "duplicates", title: "Duplicates and contamination drops")
        s.paragraphs.append("From the drops files of dedup (cluster of each dropped record: the kept record, its size, the estimated Jaccard) and split (evaluation overlap).")
        s.cards = [("clusters", Fmt.n(d["clusters"])), ("exact copies dropped", Fmt.n(exact)), ("near copies dropped", Fmt.n(near))]
        let sizes = d["by_size"]?.array ?? []
        if !sizes.isEmpty {
            s.charts.append(.bars(title: "Duplicate clusters by size", rows: sizes.map { r in
                BarRow(label: "size \(Fmt.n(r["size"]))", values: [r["clusters"]?.double ?? 0], note: "\(Fmt.n(r["clusters"])) clusters")
            }, xLabel: "clusters", series: ["clusters"], legend: []))
        }
        let largest = d["largest"]?.array ?? []
        if !largest.isEmpty {
            s.tables.append(ReportTable(caption: "Largest clusters", columns: ["kept record", "size", "exact", "near", "min Jaccard", "dropped members (first)"],
                                        numeric: [false, true, true, true, true, false],
                                        rows: largest.map { c in
                                            [c["kept"]?.string ?? "", Fmt.n(c["size"]), Fmt.n(c["exact"]), Fmt.n(c["near"]), Fmt.n(c["min_jaccard"]),
                                             (c["members"]?.array ?? []).compactMap(\.string).joined(separator: ", ")]
                                        }))
        }
        if contaminated > 0 {
            s.tables.append(ReportTable(caption: "Dropped by split as contaminated (largest overlap first)", columns: ["record", "evaluation item", "overlap"],
                                        rows: v.array("funnel", "contamination_drops", "largest").map { c in
                                            [c["id"]?.string ?? "", c["eval_item"]?.string ?? "", Fmt.pct(c["overlap"])]
                                        }, note: "\(Fmt.n(contaminated)) records dropped as contaminated."))
        }
        return s
    }

    static func samples(_ v: StatsView) -> ReportSection {
        var s = ReportSection(id: "samples", title: "SFT samples")
        let o = v.object("samples")
        s.cards = [("samples", Fmt.n(o["count"])), ("trajectories", Fmt.n(o["trajectories"]?["count"]))]
        var rows: [[String]] = []
        for (key, label) in [("forms", "form"), ("outcomes", "outcome of the trajectory"), ("domains", "domain")] {
            for m in o[key]?.object ?? [:] { rows.append([label, m.key, Fmt.n(m.value)]) }
        }
        s.tables.append(ReportTable(caption: "Samples", columns: ["by", "value", "samples"], numeric: [false, false, true], rows: rows))
        return s
    }

    static func pairs(_ v: StatsView) -> ReportSection {
        var s = ReportSection(id: "pairs", title: "Preference pairs")
        let o = v.object("pairs")
        s.cards = [("pairs", Fmt.n(o["count"])), ("tasks", Fmt.n(o["tasks"]?["count"]))]
        func bars(_ title: String, _ key: String) -> ReportChart {
            .bars(title: title, rows: (o[key]?.object ?? [:]).map { BarRow(label: $0.key, values: [$0.value.double ?? 0], note: Fmt.n($0.value)) },
                  xLabel: "pair records", series: ["pairs"], legend: [])
        }
        s.charts.append(bars("Pairs by strategy", "strategies"))
        s.charts.append(bars("Pairs by deviation kind", "deviation_kinds"))
        if !(o["deviation_tools"]?.object ?? [:]).isEmpty { s.charts.append(bars("Pairs by tool of the deviation", "deviation_tools")) }
        var rows: [[String]] = []
        for (k, label) in [("forms", "form"), ("chosen_from", "chosen side from")] {
            for m in o[k]?.object ?? [:] { rows.append([label, m.key, Fmt.n(m.value)]) }
        }
        if let kto = o["kto_labels"]?.object, (kto["desirable"]?.int ?? 0) + (kto["undesirable"]?.int ?? 0) > 0 {
            for m in kto { rows.append(["KTO label", m.key, Fmt.n(m.value)]) }
        }
        s.tables.append(ReportTable(caption: "Pair records", columns: ["by", "value", "records"], numeric: [false, false, true], rows: rows))
        let m = o["messages"]?.object ?? [:]
        s.tables.append(ReportTable(caption: "Messages per pair", columns: ["part", "mean", "min", "p50", "p90", "p99", "max", "total"],
                                    rows: ["prompt", "chosen", "rejected"].filter { (m[$0]?["count"]?.int ?? 0) > 0 }.map { distributionRow($0, m[$0]) }))
        return s
    }

    static func scripts(_ v: StatsView) -> ReportSection {
        var s = ReportSection(id: "scripts", title: "Script mix of user text")
        let o = v.object("trajectories", "scripts")
        s.paragraphs.append((o["method"]?.string ?? "") + ".")
        let rows = o["by_script"]?.array ?? []
        s.charts.append(.bars(title: "Letters of user text by script", rows: rows.map { r in
            BarRow(label: r["script"]?.string ?? "", values: [(r["share"]?.double ?? 0) * 100], note: "\(Fmt.pct(r["share"])) · \(Fmt.n(r["trajectories"])) trajectories")
        }, xLabel: "share of letters (%)", series: ["share"], legend: []))
        s.tables.append(ReportTable(caption: "Scripts", columns: ["script", "letters", "share", "trajectories (mostly this script)"],
                                    rows: rows.map { r in [r["script"]?.string ?? "", Fmt.n(r["letters"]), Fmt.pct(r["share"]), Fmt.n(r["trajectories"])] }
                                        + [["(no letters)", "–", "–", Fmt.n(o["trajectories_without_letters"])]]))
        return s
    }

    static func contamination(_ v: StatsView) -> ReportSection? {
        guard let c = v.value(["contamination"])?.object else { return nil }
        var s = ReportSection(id: "contamination", title: "Contamination check")
        let files = (c["eval_files"]?.array ?? []).compactMap(\.string).joined(separator: ", ")
        s.paragraphs.append("Word \(Fmt.n(c["ngram"]))-gram overlap of every trajectory, sample and pair with \(Fmt.n(c["eval_items"])) evaluation items (\(files)): the share of an item's n-grams found in the record. Records at \(Fmt.pct(c["threshold"])) or more are listed.")
        s.cards = [("records checked", Fmt.n(c["records_checked"])), ("overlapping", "\(Fmt.n(c["records_overlapping"])) (\(Fmt.pct(c["share_overlapping"])))")]
        s.charts.append(.bars(title: "Records by their largest overlap", rows: (c["by_overlap"]?.array ?? []).map { b in
            let lo = b["from"]?.double ?? 0, hi = b["to"]?.double ?? 0
            let label = lo == hi ? "\(Fmt.pct(lo, digits: 0))" : "\(Fmt.pct(lo, digits: 0))–\(Fmt.pct(hi, digits: 0))"
            return BarRow(label: label, values: [b["records"]?.double ?? 0], note: Fmt.n(b["records"]))
        }, xLabel: "records", series: ["records"], legend: []))
        let listed = c["records"]?.array ?? []
        let shown = listed.prefix(100)
        if !listed.isEmpty {
            s.tables.append(ReportTable(caption: "Overlapping records (largest overlap first)", columns: ["record", "where", "split", "evaluation item", "overlap", "shared n-grams"],
                                        numeric: [false, false, false, false, true, true],
                                        rows: shown.map { r in
                                            [r["id"]?.string ?? "", r["place"]?.string ?? "", r["split"]?.string ?? "", r["eval_item"]?.string ?? "",
                                             Fmt.pct(r["overlap"]), Fmt.n(r["shared_ngrams"])]
                                        },
                                        note: (c["records_overlapping"]?.int ?? 0) > shown.count
                                            ? "\(shown.count) of \(Fmt.n(c["records_overlapping"])) shown here; stats.json lists up to \(ContaminationStats.listLimit)." : nil))
        }
        return s
    }

    static func notes(_ v: StatsView) -> ReportSection {
        var s = ReportSection(id: "method", title: "Method and notes")
        for m in v.object("method") { if let t = m.value.string { s.paragraphs.append("\(m.key.replacingUnderscores): \(t).") } }
        let ledger = v.value(["ledger"])
        if let l = ledger {
            s.paragraphs.append("Ledger of this stats run: in \(Fmt.n(l["input"])) = counted \(Fmt.n(l["kept"])) + rejected \(Fmt.n(l["rejected"]?.object.map { $0.members.reduce(0) { $0 + ($1.value.int ?? 0) } }))." )
            for n in l["notes"]?.array ?? [] { if let t = n.string { s.paragraphs.append("Read: " + t) } }
        }
        return s
    }
}

extension Fmt {
    static func pct(_ v: Double, digits: Int) -> String { StatsFormat.percent(v, digits: digits) }
}

fileprivate extension String {
    var replacingUnderscores: String { String(map { $0 == "_" ? " " : $0 }) }
}
