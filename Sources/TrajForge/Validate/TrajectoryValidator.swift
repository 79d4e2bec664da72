import ByteJSON

/// One problem found in a trajectory: a stable reason code, where, and what.
public struct Finding: Sendable, Equatable {
    public var reason: String
    /// A readable place, e.g. `messages[4].tool_calls[0].arguments.order_id`.
    public var path: String
    public var detail: String

    public var json: JSON { ["reason": .string(reason), "path": .string(path), "detail": .string(detail)] }
}

/// Structural and schema checks of one trajectory.
public enum TrajectoryValidator {
    /// How serious a finding is. `strict` drops on errors and warnings, `lenient` on errors only;
    /// notices never drop (they describe data worth knowing about, e.g. tool errors the agent retried).
    public enum Level: String, Sendable, Comparable {
        case notice, warning, error
        public static func < (a: Level, b: Level) -> Bool { a.rank < b.rank }
        var rank: Int { self == .notice ? 0 : self == .warning ? 1 : 2 }
    }

    /// Every reason code `check` can report, its level, and what it means (printed by `validate --help`).
    public static let reasons: [(code: String, level: Level, meaning: String)] = [
        ("empty-conversation", .error, "no messages, or no assistant message"),
        ("no-tool-schemas", .error, "calls tools but declares none (tau-bench: ingest --tools)"),
        ("unknown-tool", .error, "a call names a tool the trajectory does not declare"),
        ("missing-required-argument", .error, "a required argument is absent"),
        ("wrong-argument-type", .error, "an argument has the wrong JSON type"),
        ("argument-not-in-enum", .error, "an argument is not one of the allowed values"),
        ("unexpected-argument", .error, "an undeclared argument (additionalProperties: false)"),
        ("argument-matches-no-alternative", .error, "an argument fits none of anyOf/oneOf"),
        ("argument-out-of-range", .error, "an argument breaks minimum/maximum/length/size bounds"),
        ("duplicate-call-id", .error, "two tool calls share an id"),
        ("tool-calls-outside-assistant", .error, "a non-assistant message carries tool calls"),
        ("orphan-tool-result", .error, "a tool result answers no earlier call"),
        ("duplicate-tool-result", .error, "two tool results answer the same call"),
        ("tool-name-mismatch", .error, "a tool result's name differs from the call it answers"),
        ("tool-result-out-of-order", .error, "a tool result comes after later turns, not right after its call"),
        ("no-user-turn", .warning, "the conversation has no user message"),
        ("unanswered-tool-call", .warning, "a tool call never gets a result"),
        ("consecutive-user-turns", .warning, "two user messages in a row"),
        ("late-system-message", .warning, "a system message after the conversation started"),
        ("empty-turn", .warning, "a user or assistant message with no text and no tool calls"),
        ("missing-outcome", .warning, "no verified outcome (outcome or outcome.success is null)"),
        ("tool-error-result", .notice, "a tool returned an error (tau2 flag, or text \"Error…\")"),
        ("simulator-control-text", .notice, "a user turn carries a simulator token (###STOP### etc.)"),
    ]

    static let levels: [String: Level] = Dictionary(uniqueKeysWithValues: reasons.map { ($0.code, $0.level) })

    public static func level(of reason: String) -> Level { levels[reason] ?? .error }

    /// User-simulator control tokens of tau-bench and tau2-bench.
    static let controlTokens = ["###STOP###", "###TRANSFER###", "###OUT-OF-SCOPE###"]

    public static func check(_ t: Trajectory) -> [Finding] {
        var out: [Finding] = []
        func add(_ reason: String, _ path: String, _ detail: String) { out.append(Finding(reason: reason, path: path, detail: detail)) }

        if t.messages.isEmpty || !t.messages.contains(where: { $0.role == .assistant }) {
            add("empty-conversation", "messages", t.messages.isEmpty ? "no messages" : "no assistant message")
        }
        if !t.messages.contains(where: { $0.role == .user }) { add("no-user-turn", "messages", "no user message") }

        // Tool schemas by name.
        var schemas: [String: JSON] = [:]
        for tool in t.tools {
            let f = tool["function"] ?? tool
            if let name = f["name"]?.string { schemas[name] = f["parameters"] ?? .object([:]) }
        }
        let callCount = t.messages.reduce(0) { $0 + $1.toolCalls.count }
        if callCount > 0 && schemas.isEmpty { add("no-tool-schemas", "tools", "\(callCount) tool calls but no tool schemas") }

        var calls: [String: (name: String, turn: Int)] = [:]
        var answered: Set<String> = []
        var openTurn: Int?  // the assistant turn whose calls are being answered
        var pendingInTurn: Set<String> = []
        var lastRole: Role?
        for (k, m) in t.messages.enumerated() {
            let at = "messages[\(k)]"
            if m.role != .assistant, !m.toolCalls.isEmpty {
                add("tool-calls-outside-assistant", at, "a \(m.role.rawValue) message carries \(m.toolCalls.count) tool calls")
            }
            if m.role == .system, k > 0 { add("late-system-message", at, "system message at position \(k)") }
            if m.role == .user, lastRole == .user { add("consecutive-user-turns", at, "a user message follows a user message") }
            if m.role == .user || m.role == .assistant, m.toolCalls.isEmpty,
               (m.content ?? "").allSatisfy(\.isWhitespace), m.meta["tool_results"] == nil
            {
                add("empty-turn", at, "\(m.role.rawValue) message with no text and no tool calls")
            }
            if m.role == .user, let text = m.content, let token = controlTokens.first(where: { text.contains($0) }) {
                add("simulator-control-text", at, "user turn contains \(token)")
            }
            if m.role == .tool, m.meta["error"] == .bool(true) || (m.content ?? "").hasPrefix("Error") {
                add("tool-error-result", at, "\(m.name ?? "tool") returned: \((m.content ?? "").prefix(80))")
            }
            switch m.role {
            case .assistant:
                if !pendingInTurn.isEmpty { openTurn = nil }
                for (c, call) in m.toolCalls.enumerated() {
                    let cat = "\(at).tool_calls[\(c)]"
                    if calls[call.id] != nil { add("duplicate-call-id", cat, "call id \"\(call.id)\" is used twice") }
                    calls[call.id] = (call.name, k)
                    if !schemas.isEmpty {
                        if let schema = schemas[call.name] {
                            for v in ArgumentSchema.violations(of: .object(call.arguments), against: schema) {
                                add(v.kind.rawValue, "\(cat).\(v.path.hasPrefix("arguments") ? v.path : "arguments." + v.path)",
                                    "\(call.name): \(v.detail)")
                            }
                        } else {
                            add("unknown-tool", cat, "\"\(call.name)\" is not among the \(schemas.count) declared tools")
                        }
                    }
                }
                if !m.toolCalls.isEmpty {
                    openTurn = k
                    pendingInTurn = Set(m.toolCalls.map(\.id))
                } else {
                    openTurn = nil
                    pendingInTurn = []
                }
            case .tool:
                guard let id = m.toolCallID, let call = calls[id] else {
                    add("orphan-tool-result", at, "answers \(m.toolCallID.map { "\"\($0)\"" } ?? "no call id"), which no earlier call made")
                    break
                }
                if answered.contains(id) { add("duplicate-tool-result", at, "call \"\(id)\" is answered twice") }
                answered.insert(id)
                if let name = m.name, name != call.name { add("tool-name-mismatch", at, "result named \"\(name)\" answers a call to \"\(call.name)\"") }
                if openTurn != call.turn { add("tool-result-out-of-order", at, "answers a call made at messages[\(call.turn)] after later turns") }
                pendingInTurn.remove(id)
            case .user, .system:
                openTurn = nil
                pendingInTurn = []
            }
            lastRole = m.role
        }
        for (k, m) in t.messages.enumerated() {
            for (c, call) in m.toolCalls.enumerated() where !answered.contains(call.id) {
                add("unanswered-tool-call", "messages[\(k)].tool_calls[\(c)]", "call \"\(call.id)\" to \(call.name) has no result")
            }
        }
        if t.outcome?.success == nil { add("missing-outcome", "outcome", t.outcome == nil ? "no outcome" : "outcome.success is null") }
        return out
    }
}
