import ByteJSON

/// What a stage did with its input: every record read is kept, dropped (with a reason) or rejected
/// (with a reason and its place), so `input == kept + dropped + rejected` always holds. `output`
/// counts what was written, which differs from `kept` when a stage expands or merges records.
public struct Ledger: Sendable, Equatable {
    public var stage: String
    public var input = 0
    public var kept = 0
    public var output = 0
    public var outputUnit = "records"
    public private(set) var dropped: [String: Int] = [:]
    public private(set) var rejected: [String: Int] = [:]
    /// Facts worth a line (detected formats, warnings), in the order they were noted.
    public private(set) var notes: [String] = []
    /// Named counts that are not drops (e.g. "assistant turns with text beside tool calls").
    public private(set) var counters: [String: Int] = [:]

    public init(stage: String) { self.stage = stage }

    public var droppedTotal: Int { dropped.values.reduce(0, +) }
    public var rejectedTotal: Int { rejected.values.reduce(0, +) }
    public var balances: Bool { input == kept + droppedTotal + rejectedTotal }

    public mutating func drop(_ reason: String, count: Int = 1) { dropped[reason, default: 0] += count }
    public mutating func reject(_ reason: RejectReason, count: Int = 1) { rejected[reason.rawValue, default: 0] += count }
    public mutating func count(_ name: String, _ n: Int = 1) { counters[name, default: 0] += n }

    public mutating func note(_ text: String) {
        if !notes.contains(text) { notes.append(text) }
    }

    /// Rewrites every note (e.g. to make paths relative).
    public mutating func mapNotes(_ transform: (String) -> String) { notes = notes.map(transform) }

    public mutating func merge(_ other: Ledger) {
        input += other.input
        kept += other.kept
        output += other.output
        for (k, v) in other.dropped { dropped[k, default: 0] += v }
        for (k, v) in other.rejected { rejected[k, default: 0] += v }
        for (k, v) in other.counters { counters[k, default: 0] += v }
        for n in other.notes { note(n) }
    }

    /// The one-line summary every command prints last.
    public var summary: String {
        var s = "\(stage): in \(input) = kept \(kept) + dropped \(droppedTotal) + rejected \(rejectedTotal)"
        if output != kept || outputUnit != "records" { s += "; wrote \(output) \(outputUnit)" }
        return s
    }

    /// Summary plus reasons, counters and notes, one per line.
    public var report: String {
        var lines = [summary]
        for (k, v) in dropped.sorted(by: { $0.key < $1.key }) { lines.append("  dropped \(v): \(k)") }
        for (k, v) in rejected.sorted(by: { $0.key < $1.key }) { lines.append("  rejected \(v): \(k)") }
        for (k, v) in counters.sorted(by: { $0.key < $1.key }) { lines.append("  \(k): \(v)") }
        for n in notes { lines.append("  note: \(n)") }
        return lines.joined(separator: "\n")
    }

    /// Reads back `json` (a run's completion records keep their step's ledger).
    public init?(json: JSON) {
        guard let stage = json["stage"]?.string else { return nil }
        self.init(stage: stage)
        input = json["input"]?.int ?? 0
        kept = json["kept"]?.int ?? 0
        output = json["output"]?.int ?? 0
        outputUnit = json["output_unit"]?.string ?? "records"
        for m in json["dropped"]?.object?.members ?? [] { dropped[m.key] = m.value.int ?? 0 }
        for m in json["rejected"]?.object?.members ?? [] { rejected[m.key] = m.value.int ?? 0 }
        for m in json["counters"]?.object?.members ?? [] { counters[m.key] = m.value.int ?? 0 }
        notes = json["notes"]?.array?.compactMap(\.string) ?? []
    }

    public var json: JSON {
        func counts(_ d: [String: Int]) -> JSON {
            .object(JSONObject(d.sorted { $0.key < $1.key }.map { JSONMember($0.key, .number(JSONNumber($0.value))) }))
        }
        return .object([
            "stage": .string(stage), "input": .number(JSONNumber(input)), "kept": .number(JSONNumber(kept)),
            "dropped": counts(dropped), "rejected": counts(rejected), "output": .number(JSONNumber(output)),
            "output_unit": .string(outputUnit), "counters": counts(counters), "notes": .array(notes.map(JSON.string)),
        ])
    }
}
