import ByteJSON

// Conversion of OpenAI-style message lists, the shape shared by OpenAI/TRL records, tau-bench's
// `traj` (litellm messages) and tau2-bench's `messages` (flat tool calls, tool results keyed by
// `id`). Every field the canonical message has no place for stays in the message's `meta`.

struct ChatMessageReader {
    struct Output {
        var system: String?
        /// Extra fields of the leading system message (it becomes `Trajectory.system`).
        var systemMeta: JSONObject = [:]
        var messages: [Message] = []
        /// Tool calls whose results never came (allowed; validation reports them).
        var unanswered = 0
    }

    private var generated = 0
    private var callNames: [String: String] = [:]
    private var pending: [String] = []
    /// Calls made by the simulated user (tau2 telecom): their results are folded into the user message.
    private var userCalls: [String: Int] = [:]

    /// A fresh call id `callNNNNN` (9 characters, letters and digits: Mistral accepts it) unused so far.
    mutating func freshID() -> String {
        while true {
            generated += 1
            let digits = String(generated)
            let id = "call" + String(repeating: "0", count: max(0, 5 - digits.count)) + digits
            if callNames[id] == nil { return id }
        }
    }

    mutating func convert(_ list: [JSON], path: String, leadingSystemBecomesField: Bool = true) throws(IngestFailure) -> Output {
        var out = Output()
        out.messages.reserveCapacity(list.count)
        for (k, raw) in list.enumerated() {
            let at = "\(path)[\(k)]"
            guard case .object(var rest) = raw else { throw IngestFailure(.wrongType, "\(at) is \(raw.typeName), not a message object") }
            guard let roleValue = rest.removeValue(forKey: "role") else { throw IngestFailure(.missingField, "\(at) has no role") }
            guard case .string(let role) = roleValue else { throw IngestFailure(.wrongType, "\(at).role is \(roleValue.typeName), not a string") }
            switch role {
            case "system", "developer":
                let (text, keepParts) = try contentText(rest["content"], at: at)
                if !keepParts { rest.removeValue(forKey: "content") }
                if rest["tool_calls"]?.isNull == true { rest.removeValue(forKey: "tool_calls") }
                if role == "developer" { rest["role"] = .string(role) }
                if k == 0, leadingSystemBecomesField, out.system == nil {
                    out.system = text ?? ""
                    out.systemMeta = rest
                } else {
                    out.messages.append(Message(role: .system, content: text, meta: rest))
                }
            case "user", "human":
                let (text, keepParts) = try contentText(rest["content"], at: at)
                if !keepParts { rest.removeValue(forKey: "content") }
                if role == "human" { rest["role"] = .string(role) }
                switch rest["tool_calls"] {
                case .null?: rest.removeValue(forKey: "tool_calls")
                case .array(let calls)?:
                    // tau2 user tools: the simulated user acts on its own device. Keep them with the user turn.
                    for c in calls { if let id = c["id"]?.string { userCalls[id] = out.messages.count } }
                default: break
                }
                out.messages.append(Message(role: .user, content: text, meta: rest))
            case "assistant", "gpt":
                let (text, keepParts) = try contentText(rest["content"], at: at)
                if !keepParts { rest.removeValue(forKey: "content") }
                if role == "gpt" { rest["role"] = .string(role) }
                var calls: [ToolCall] = []
                switch rest.removeValue(forKey: "tool_calls") {
                case nil, .null?: break
                case .array(let list)?:
                    for (c, call) in list.enumerated() { calls.append(try toolCall(call, at: "\(at).tool_calls[\(c)]")) }
                case let other?: throw IngestFailure(.wrongType, "\(at).tool_calls is \(other.typeName), not a list")
                }
                // Legacy OpenAI `function_call` (one call, no id); a null one is kept in meta as it was.
                if calls.isEmpty, case .object(let fc)? = rest["function_call"] {
                    rest.removeValue(forKey: "function_call")
                    var call = try toolCall(.object(["function": .object(fc)]), at: "\(at).function_call")
                    call.meta["legacy_function_call"] = true
                    calls.append(call)
                }
                for call in calls {
                    callNames[call.id] = call.name
                    pending.append(call.id)
                }
                out.messages.append(Message(role: .assistant, content: text, toolCalls: calls, meta: rest))
            case "tool", "function", "ipython", "observation":
                if role != "tool" { rest["role"] = .string(role) }
                if rest["tool_calls"]?.isNull == true { rest.removeValue(forKey: "tool_calls") }
                var callID: String?
                switch rest["tool_call_id"] {
                case .string(let id)?:
                    callID = id
                    rest.removeValue(forKey: "tool_call_id")
                case .null?: rest.removeValue(forKey: "tool_call_id")
                case nil:
                    // tau2 keys the result by `id`.
                    if case .string(let id)? = rest["id"] {
                        callID = id
                        rest.removeValue(forKey: "id")
                    }
                case let other?: throw IngestFailure(.wrongType, "\(at).tool_call_id is \(other.typeName), not a string")
                }
                if let callID, let u = userCalls[callID] {
                    var results = out.messages[u].meta["tool_results"]?.array ?? []
                    results.append(raw)
                    out.messages[u].meta["tool_results"] = .array(results)
                    continue
                }
                var name: String?
                if case .string(let n)? = rest["name"] {
                    name = n
                    rest.removeValue(forKey: "name")
                }
                let matched: String
                if let callID {
                    guard callNames[callID] != nil else {
                        throw IngestFailure(.orphanToolResult, "\(at) answers tool call \"\(callID)\", which no earlier assistant message made")
                    }
                    matched = callID
                } else if let name, let p = pending.first(where: { callNames[$0] == name }) {
                    matched = p
                } else if name == nil, let p = pending.first {
                    matched = p
                } else {
                    throw IngestFailure(.orphanToolResult, "\(at) is a tool result with no call id and no unanswered call\(name.map { " to \($0)" } ?? "")")
                }
                pending.removeAll { $0 == matched }
                let content: String?
                switch rest["content"] {
                case nil, .null?: content = nil
                    rest.removeValue(forKey: "content")
                case .string(let s)?: content = s
                    rest.removeValue(forKey: "content")
                case let other?:
                    // Structured results become their compact JSON text; the original stays in meta.
                    content = other.serialized()
                }
                out.messages.append(Message(role: .tool, content: content, toolCallID: matched, name: name ?? callNames[matched], meta: rest))
            default:
                throw IngestFailure(.unknownRole, "\(at) has role \"\(role)\" (expected system, user, assistant or tool)")
            }
        }
        out.unanswered = pending.count
        return out
    }

    /// One tool call, OpenAI-shaped `{id, type, function: {name, arguments}}` or flat `{id, name, arguments}`.
    mutating func toolCall(_ raw: JSON, at path: String) throws(IngestFailure) -> ToolCall {
        guard case .object(var rest) = raw else { throw IngestFailure(.wrongType, "\(path) is \(raw.typeName), not an object") }
        let name: String
        let argumentsValue: JSON?
        if case .object(var function)? = rest["function"] {
            guard case .string(let n)? = function.removeValue(forKey: "name") else {
                throw IngestFailure(.missingField, "\(path).function has no name")
            }
            name = n
            argumentsValue = function.removeValue(forKey: "arguments")
            if function.isEmpty { rest.removeValue(forKey: "function") } else { rest["function"] = .object(function) }
            if rest["type"]?.string == "function" { rest.removeValue(forKey: "type") }
        } else {
            guard case .string(let n)? = rest.removeValue(forKey: "name") else { throw IngestFailure(.missingField, "\(path) has no name") }
            name = n
            argumentsValue = rest.removeValue(forKey: "arguments")
        }
        let id: String
        if case .string(let given)? = rest.removeValue(forKey: "id") { id = given } else { id = freshID() }
        let (arguments, raw) = try parseArguments(argumentsValue, call: "call \(id) to \(name)")
        if let raw { rest["arguments"] = raw }
        return ToolCall(id: id, name: name, arguments: arguments, meta: rest)
    }
}
