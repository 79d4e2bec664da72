import BPE
import Foundation
import ByteJSON

/// An inclusive range with optional ends, written `MIN:MAX`, `MIN:` or `:MAX`.
public struct CountRange: Sendable, Equatable, CustomStringConvertible {
    public var min: Int?
    public var max: Int?

    public init(min: Int? = nil, max: Int? = nil) {
        self.min = min
        self.max = max
    }

    public init?(parsing text: String) {
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2 else { return nil }
        min = parts[0].isEmpty ? nil : Int(parts[0])
        max = parts[1].isEmpty ? nil : Int(parts[1])
        if (!parts[0].isEmpty && min == nil) || (!parts[1].isEmpty && max == nil) || (min == nil && max == nil) { return nil }
        if let lo = min, let hi = max, lo > hi { return nil }
    }

    public func contains(_ n: Int) -> Bool { (min.map { n >= $0 } ?? true) && (max.map { n <= $0 } ?? true) }
    public var description: String { "\(min.map(String.init) ?? ""):\(max.map(String.init) ?? "")" }
}

/// Which outcome counts as verified for `--verified-only`.
public enum VerifiedBy: Sendable, Equatable {
    /// `outcome.success == true` (the binary check ingest derived).
    case success
    /// `outcome.reward >= threshold`.
    case reward(Double)
    /// A value in `outcome.checks` at a dotted path (e.g. `info.r_actions`) that is true or ≥ 1.
    case check(String)

    public init?(parsing text: String) {
        if text == "success" {
            self = .success
        } else if text.hasPrefix("reward>="), let x = Double(text.dropFirst(8)) {
            self = .reward(x)
        } else if text.hasPrefix("check:"), text.count > 6 {
            self = .check(String(text.dropFirst(6)))
        } else {
            return nil
        }
    }

    func accepts(_ outcome: Outcome?) -> Bool {
        guard let outcome else { return false }
        switch self {
        case .success: return outcome.success == true
        case .reward(let x): return (outcome.reward?.double).map { $0 >= x } ?? false
        case .check(let path):
            var v: JSON? = outcome.checks
            for key in path.split(separator: ".") { v = v?[String(key)] }
            switch v {
            case .bool(true)?: return true
            case .number(let n)?: return (n.double ?? 0) >= 1
            default: return false
            }
        }
    }
}

/// What to do with sensitive values.
public enum SensitiveAction: String, Sendable, CaseIterable {
    case keep, redact, drop
}

public struct FilterOptions: Sendable {
    public var verified: VerifiedBy?
    public var turns: CountRange?
    public var toolCalls: CountRange?
    public var characters: CountRange?
    public var tokens: CountRange?
    public var tokenizer: Tokenizer?
    public var domains: Set<String>?
    public var excludeDomains: Set<String> = []
    /// Trajectories may only call these tools.
    public var allowTools: Set<String>?
    /// Trajectories calling any of these tools are dropped.
    public var denyTools: Set<String> = []
    /// Drop trajectories with more tool errors than this (nil: keep all).
    public var maxToolErrors: Int?
    public var dropEmptyTurns = false
    public var secrets: SensitiveAction = .drop
    public var personal: SensitiveAction = .keep
    public var personalKinds: Set<SensitiveKind> = [.email, .phone, .card]
    public var threads: Int = defaultThreadCount
    public var limits = ReaderLimits()
    public init() {}
}

/// The filter stage: drops trajectories by rules, and redacts secrets and personal data.
public final class Filter {
    let options: FilterOptions
    public private(set) var ledger = Ledger(stage: "filter")

    public init(options: FilterOptions) { self.options = options }

    public func run(inputs: [String], output: OutputFile, rejects: OutputFile?, drops: OutputFile?) throws(IOError) {
        let options = self.options
        try TrajectoryStage.run(inputs: inputs, stage: "filter", threads: options.threads, limits: options.limits, ledger: &ledger,
                                output: output, rejects: rejects, drops: drops) { t, out in
            if let drop = Filter.firstRuleDrop(t, options) {
                out.drop(drop)
                return
            }
            var t = t
            if let drop = Filter.handleSensitive(&t, options, &out) {
                out.drop(drop)
                return
            }
            out.keep(t)
        }
    }

    /// Counts used by the range rules.
    static func userAndAssistantTurns(_ t: Trajectory) -> Int { t.messages.filter { $0.role == .user || $0.role == .assistant }.count }
    static func toolCallCount(_ t: Trajectory) -> Int { t.messages.reduce(0) { $0 + $1.toolCalls.count } }

    /// The trajectory's text as the rules measure it: system, message contents, tool calls as
    /// `name(arguments)` in canonical JSON, tool results.
    static func measuredText(_ t: Trajectory) -> String {
        var parts: [String] = []
        if let s = t.system { parts.append(s) }
        for m in t.messages {
            if let c = m.content { parts.append(c) }
            for call in m.toolCalls { parts.append(call.name + JSON.object(call.arguments).canonicalString) }
        }
        return parts.joined(separator: "\n")
    }

    static func isToolError(_ m: Message) -> Bool {
        m.role == .tool && (m.meta["error"] == .bool(true) || (m.content ?? "").hasPrefix("Error"))
    }

    static func firstRuleDrop(_ t: Trajectory, _ o: FilterOptions) -> Drop? {
        func drop(_ reason: String, _ detail: String, _ details: JSONObject = [:]) -> Drop {
            Drop(id: t.id, stage: "filter", reason: reason, detail: detail, details: details)
        }
        if let domains = o.domains, !domains.contains(t.domain ?? "") {
            return drop("domain-excluded", "domain \(t.domain ?? "none") is not among \(domains.sorted().joined(separator: ", "))")
        }
        if let d = t.domain, o.excludeDomains.contains(d) { return drop("domain-excluded", "domain \(d) is excluded") }
        if let rule = o.verified, !rule.accepts(t.outcome) {
            return drop("not-verified", "outcome does not pass --verified-only \(rule)",
                        ["success": t.outcome?.success.map(JSON.bool) ?? .null, "reward": t.outcome?.reward.map(JSON.number) ?? .null])
        }
        let called = t.messages.flatMap { $0.toolCalls.map(\.name) }
        if let allowed = o.allowTools, let other = called.first(where: { !allowed.contains($0) }) {
            return drop("tool-excluded", "calls \(other), which is not in --allow-tools")
        }
        if let denied = called.first(where: { o.denyTools.contains($0) }) {
            return drop("tool-excluded", "calls \(denied) (--deny-tools)")
        }
        if let limit = o.maxToolErrors {
            let errors = t.messages.filter(isToolError).count
            if errors > limit { return drop("tool-errors", "\(errors) tool results are errors (more than \(limit))", ["errors": .number(JSONNumber(errors))]) }
        }
        if o.dropEmptyTurns,
           let k = t.messages.firstIndex(where: { ($0.role == .user || $0.role == .assistant) && $0.toolCalls.isEmpty && ($0.content ?? "").allSatisfy(\.isWhitespace) && $0.meta["tool_results"] == nil })
        {
            return drop("empty-turn", "messages[\(k)] (\(t.messages[k].role.rawValue)) has no text and no tool calls")
        }
        func range(_ r: CountRange?, _ n: Int, _ reason: String, _ what: String) -> Drop? {
            guard let r, !r.contains(n) else { return nil }
            return drop(reason, "\(n) \(what), outside \(r)", ["value": .number(JSONNumber(n))])
        }
        if let d = range(o.turns, userAndAssistantTurns(t), "turns-out-of-range", "user and assistant turns") { return d }
        if let d = range(o.toolCalls, toolCallCount(t), "tool-calls-out-of-range", "tool calls") { return d }
        if o.characters != nil || o.tokens != nil {
            let text = measuredText(t)
            if let d = range(o.characters, text.unicodeScalars.count, "characters-out-of-range", "characters") { return d }
            if let tokenizer = o.tokenizer, let d = range(o.tokens, tokenizer.encode(text, parseSpecial: false).count, "tokens-out-of-range", "tokens") {
                return d
            }
        }
        return nil
    }

    /// Scans every text field; drops, redacts or only counts what it finds, per kind.
    static func handleSensitive(_ t: inout Trajectory, _ o: FilterOptions, _ out: inout ItemOutput) -> Drop? {
        let secretKinds = Set(SensitiveKind.allCases.filter(\.isSecret))
        let scanned = (o.secrets != .keep ? secretKinds : []).union(o.personal != .keep ? o.personalKinds : [])
        // Even when kept, personal data is counted, so the ledger tells what the corpus holds.
        let counted = scanned.union(o.personalKinds).union(o.secrets == .keep ? secretKinds : [])
        var found: [SensitiveKind: Int] = [:]
        forEachText(in: t) { text in
            for span in SensitiveScanner.scan(text, kinds: counted) { found[span.kind, default: 0] += 1 }
        }
        for (kind, n) in found { out.count("\(kind.rawValue) occurrences found", n) }
        let dropping = found.keys.filter { ($0.isSecret ? o.secrets : o.personal) == .drop && (o.personalKinds.contains($0) || $0.isSecret) }
        if let kind = dropping.min() {
            return Drop(id: t.id, stage: "filter", reason: kind.isSecret ? "secret-found" : "personal-data-found",
                        detail: "\(found[kind]!) \(kind.rawValue) value(s) found",
                        details: .init(found.sorted { $0.key < $1.key }.map { JSONMember($0.key.rawValue, .number(JSONNumber($0.value))) }))
        }
        let redacting = Set(found.keys.filter { ($0.isSecret ? o.secrets : o.personal) == .redact && (o.personalKinds.contains($0) || $0.isSecret) })
        guard !redacting.isEmpty else { return nil }
        var redactor = Redactor(kinds: redacting)
        mapTexts(in: &t) { redactor.redact($0) }
        out.count("trajectories redacted")
        for (kind, n) in redactor.distinct { out.count("distinct \(kind.rawValue) values redacted", n) }
        return nil
    }

    /// Visits every text a trajectory carries (not ids, provenance or tool schemas).
    static func forEachText(in t: Trajectory, _ body: (String) -> Void) {
        var copy = t
        mapTexts(in: &copy) { text in
            body(text)
            return text
        }
    }

    /// Rewrites every text a trajectory carries, in a fixed order (so placeholders number the same way
    /// every run): system, messages (content, argument strings, meta strings), task, meta.
    static func mapTexts(in t: inout Trajectory, _ f: (String) -> String) {
        if let s = t.system { t.system = f(s) }
        for k in t.messages.indices {
            if let c = t.messages[k].content { t.messages[k].content = f(c) }
            for c in t.messages[k].toolCalls.indices {
                t.messages[k].toolCalls[c].arguments = mapStrings(.object(t.messages[k].toolCalls[c].arguments), f).object ?? [:]
                t.messages[k].toolCalls[c].meta = mapStrings(.object(t.messages[k].toolCalls[c].meta), f).object ?? [:]
            }
            t.messages[k].meta = mapStrings(.object(t.messages[k].meta), f).object ?? [:]
        }
        if var task = t.task {
            if let i = task.instruction { task.instruction = f(i) }
            task.actions = task.actions.map { mapStrings($0, f) }
            task.outputs = task.outputs.map(f)
            task.meta = mapStrings(.object(task.meta), f).object ?? [:]
            t.task = task
        }
        if let o = t.outcome { t.outcome?.checks = mapStrings(o.checks, f) }
        t.meta = mapStrings(.object(t.meta), f).object ?? [:]
    }

    static func mapStrings(_ v: JSON, _ f: (String) -> String) -> JSON {
        switch v {
        case .string(let s): return .string(f(s))
        case .array(let a): return .array(a.map { mapStrings($0, f) })
        case .object(var o):
            for k in o.members.indices { o.members[k].value = mapStrings(o.members[k].value, f) }
            return .object(o)
        default: return v
        }
    }
}
