import ByteJSON
import Jinja

/// Special tokens and extra variables (extras override tokens): the same for every trajectory a
/// renderer renders, so they are converted once.
struct TemplateVariables: @unchecked Sendable {
    let pairs: [(String, JSON)]
    let values: [String: Value]

    init(template: ChatTemplate, extra: JSONObject) {
        var vars: [String: JSON] = template.specialTokens
        for m in extra { vars[m.key] = m.value }
        pairs = vars.sorted { $0.key < $1.key }
        values = vars.mapValues(Value.init(json:))
    }
}

/// Template variables for one trajectory, built the way transformers' `apply_chat_template`
/// builds them: `messages` (the system prompt first), `tools` (None when there are none),
/// `documents` (None), `add_generation_prompt`, every special token, then extra variables.
/// Keys whose value would be None are left out of messages (transformers 5 drops them).
struct ChatContext {
    /// The conversation as template messages (system first), as JSON and as template values.
    let messagesJSON: [JSON]
    let messageValues: [Value]
    /// Index in `messagesJSON` of each trajectory message (the system prompt shifts them by one).
    let offset: Int
    let toolsJSON: JSON
    let toolsValue: Value
    /// The `tojson` memo that goes with a shared tool list (`SharedTools`), else nil.
    let toolsCache: RenderCache?
    /// Special tokens and extra variables (already merged: extras override tokens).
    let variables: [(String, JSON)]
    let variableValues: [String: Value]

    init(_ t: Trajectory, template: ChatTemplate, arguments: ArgumentsForm, variables base: TemplateVariables, sharedTools: SharedTools? = nil) {
        var messages: [JSON] = []
        messages.reserveCapacity(t.messages.count + 1)
        if let system = t.system { messages.append(["role": "system", "content": .string(system)]) }
        offset = messages.count
        for m in t.messages { messages.append(ChatContext.message(m, arguments: arguments)) }
        messagesJSON = messages
        messageValues = messages.map(Value.init(json:))
        if t.tools.isEmpty {
            toolsJSON = .null
        } else {
            toolsJSON = .array(template.toolForm == .raw ? t.tools.map { $0["function"] ?? $0 } : t.tools)
        }
        if let sharedTools, toolsJSON != .null {
            let shared = sharedTools.entry(for: toolsJSON)
            toolsValue = shared.value
            toolsCache = shared.cache
        } else {
            toolsValue = Value(json: toolsJSON)
            toolsCache = nil
        }
        variables = base.pairs
        variableValues = base.values
    }

    static func message(_ m: Message, arguments: ArgumentsForm) -> JSON {
        var o = JSONObject()
        o.members.append(JSONMember("role", .string(m.role.rawValue)))
        if let c = m.content { o.members.append(JSONMember("content", .string(c))) }
        if !m.toolCalls.isEmpty {
            o.members.append(JSONMember("tool_calls", .array(m.toolCalls.map { c in
                ["id": .string(c.id), "type": "function", "function": ["name": .string(c.name), "arguments": Exporter.arguments(c, arguments)]]
            })))
        }
        if m.role == .tool {
            if let id = m.toolCallID { o.members.append(JSONMember("tool_call_id", .string(id))) }
            if let n = m.name { o.members.append(JSONMember("name", .string(n))) }
        }
        return .object(o)
    }

    /// Template variables for rendering `messages` (values), with or without a generation prompt.
    func variables(messages: [Value], generationPrompt: Bool) -> [String: Value] {
        var v = variableValues
        v["messages"] = .list(messages)
        v["tools"] = toolsValue
        v["documents"] = Value.none
        v["add_generation_prompt"] = .bool(generationPrompt)
        return v
    }

    /// The same variables as JSON (for --trace), in a fixed key order.
    func variablesJSON(messages: [JSON], generationPrompt: Bool) -> JSON {
        var o = JSONObject()
        o.members.append(JSONMember("messages", .array(messages)))
        o.members.append(JSONMember("tools", toolsJSON))
        o.members.append(JSONMember("documents", .null))
        o.members.append(JSONMember("add_generation_prompt", .bool(generationPrompt)))
        for (k, v) in variables where !["messages", "tools", "documents", "add_generation_prompt"].contains(k) { o[k] = v }
        return .object(o)
    }
}
