import ByteJSON

// The canonical JSON form of a trajectory (schemas/trajectory.schema.json). Top-level keys are
// always written, in this order, so every line has the same shape; message keys that do not apply
// to a role are left out.

extension Trajectory {
    public var json: JSON {
        var o = JSONObject()
        o.members.reserveCapacity(11)
        o.members.append(JSONMember("id", .string(id)))
        o.members.append(JSONMember("source", source.json))
        o.members.append(JSONMember("group", group.map(JSON.string) ?? .null))
        o.members.append(JSONMember("trial", trial.map { .number(JSONNumber($0)) } ?? .null))
        o.members.append(JSONMember("domain", domain.map(JSON.string) ?? .null))
        o.members.append(JSONMember("system", system.map(JSON.string) ?? .null))
        o.members.append(JSONMember("tools", .array(tools)))
        o.members.append(JSONMember("messages", .array(messages.map(\.json))))
        o.members.append(JSONMember("outcome", outcome?.json ?? .null))
        o.members.append(JSONMember("task", task?.json ?? .null))
        o.members.append(JSONMember("meta", .object(meta)))
        return .object(o)
    }

    /// Decodes a canonical record; errors name the JSON path of the problem.
    public init(json: JSON) throws(DecodeError) {
        let o = try DecodeError.object(json, at: "")
        id = try DecodeError.string(o["id"], at: "id")
        source = try Provenance(json: o["source"] ?? .null)
        group = try DecodeError.optionalString(o["group"], at: "group")
        trial = try DecodeError.optionalInt(o["trial"], at: "trial")
        domain = try DecodeError.optionalString(o["domain"], at: "domain")
        system = try DecodeError.optionalString(o["system"], at: "system")
        tools = try DecodeError.array(o["tools"] ?? .array([]), at: "tools")
        let raw = try DecodeError.array(o["messages"], at: "messages")
        var messages: [Message] = []
        messages.reserveCapacity(raw.count)
        for (k, m) in raw.enumerated() { messages.append(try Message(json: m, at: "messages[\(k)]")) }
        self.messages = messages
        if let out = o["outcome"], !out.isNull { outcome = try Outcome(json: out) } else { outcome = nil }
        if let t = o["task"], !t.isNull { task = try TaskSpec(json: t) } else { task = nil }
        meta = try DecodeError.object(o["meta"] ?? .object([:]), at: "meta")
        let known: Set<String> = ["id", "source", "group", "trial", "domain", "system", "tools", "messages", "outcome", "task", "meta"]
        for m in o where !known.contains(m.key) { throw DecodeError(path: m.key, "unknown field") }
    }
}

extension Provenance {
    public var json: JSON {
        var o: JSONObject = ["format": .string(format), "file": .string(file)]
        if let line { o["line"] = .number(JSONNumber(line)) }
        if let index { o["index"] = .number(JSONNumber(index)) }
        if let offset { o["offset"] = .number(JSONNumber(offset)) }
        return .object(o)
    }

    init(json: JSON) throws(DecodeError) {
        let o = try DecodeError.object(json, at: "source")
        format = try DecodeError.string(o["format"], at: "source.format")
        file = try DecodeError.string(o["file"], at: "source.file")
        line = try DecodeError.optionalInt(o["line"], at: "source.line")
        index = try DecodeError.optionalInt(o["index"], at: "source.index")
        offset = try DecodeError.optionalInt(o["offset"], at: "source.offset")
    }
}

extension Message {
    public var json: JSON {
        var o = JSONObject()
        o.members.reserveCapacity(6)
        o.members.append(JSONMember("role", .string(role.rawValue)))
        o.members.append(JSONMember("content", content.map(JSON.string) ?? .null))
        if !toolCalls.isEmpty { o.members.append(JSONMember("tool_calls", .array(toolCalls.map(\.json)))) }
        if let toolCallID { o.members.append(JSONMember("tool_call_id", .string(toolCallID))) }
        if let name { o.members.append(JSONMember("name", .string(name))) }
        if !meta.isEmpty { o.members.append(JSONMember("meta", .object(meta))) }
        return .object(o)
    }

    init(json: JSON, at pathText: @autoclosure () -> String) throws(DecodeError) {
        let o = try DecodeError.object(json, at: pathText())
        let roleText = try DecodeError.string(o["role"], at: pathText() + ".role")
        guard let role = Role(rawValue: roleText) else {
            throw DecodeError(path: pathText() + ".role", "unknown role \"\(roleText)\" (expected system, user, assistant or tool)")
        }
        self.role = role
        content = try DecodeError.optionalString(o["content"], at: pathText() + ".content")
        var calls: [ToolCall] = []
        if let raw = o["tool_calls"], !raw.isNull {
            for (k, c) in try DecodeError.array(raw, at: pathText() + ".tool_calls").enumerated() {
                calls.append(try ToolCall(json: c, at: "\(pathText()).tool_calls[\(k)]"))
            }
        }
        toolCalls = calls
        toolCallID = try DecodeError.optionalString(o["tool_call_id"], at: pathText() + ".tool_call_id")
        name = try DecodeError.optionalString(o["name"], at: pathText() + ".name")
        meta = try DecodeError.object(o["meta"] ?? .object([:]), at: pathText() + ".meta")
    }
}

extension ToolCall {
    public var json: JSON {
        var o = JSONObject()
        o.members.reserveCapacity(4)
        o.members.append(JSONMember("id", .string(id)))
        o.members.append(JSONMember("name", .string(name)))
        o.members.append(JSONMember("arguments", .object(arguments)))
        if !meta.isEmpty { o.members.append(JSONMember("meta", .object(meta))) }
        return .object(o)
    }

    init(json: JSON, at pathText: @autoclosure () -> String) throws(DecodeError) {
        let o = try DecodeError.object(json, at: pathText())
        id = try DecodeError.string(o["id"], at: pathText() + ".id")
        name = try DecodeError.string(o["name"], at: pathText() + ".name")
        arguments = try DecodeError.object(o["arguments"], at: pathText() + ".arguments")
        meta = try DecodeError.object(o["meta"] ?? .object([:]), at: pathText() + ".meta")
    }
}

extension Outcome {
    public var json: JSON {
        .object([
            "success": success.map(JSON.bool) ?? .null,
            "reward": reward.map(JSON.number) ?? .null,
            "checks": checks,
        ])
    }

    init(json: JSON) throws(DecodeError) {
        let o = try DecodeError.object(json, at: "outcome")
        switch o["success"] {
        case nil, .null?: success = nil
        case .bool(let b)?: success = b
        default: throw DecodeError(path: "outcome.success", "expected true, false or null")
        }
        switch o["reward"] {
        case nil, .null?: reward = nil
        case .number(let n)?: reward = n
        default: throw DecodeError(path: "outcome.reward", "expected a number or null")
        }
        checks = o["checks"] ?? .object([:])
    }
}

extension TaskSpec {
    public var json: JSON {
        var o: JSONObject = [
            "instruction": instruction.map(JSON.string) ?? .null,
            "actions": .array(actions),
            "outputs": .array(outputs.map(JSON.string)),
        ]
        if !meta.isEmpty { o["meta"] = .object(meta) }
        return .object(o)
    }

    init(json: JSON) throws(DecodeError) {
        let o = try DecodeError.object(json, at: "task")
        instruction = try DecodeError.optionalString(o["instruction"], at: "task.instruction")
        actions = try DecodeError.array(o["actions"] ?? .array([]), at: "task.actions")
        var outs: [String] = []
        for (k, v) in try DecodeError.array(o["outputs"] ?? .array([]), at: "task.outputs").enumerated() {
            outs.append(try DecodeError.string(v, at: "task.outputs[\(k)]"))
        }
        outputs = outs
        meta = try DecodeError.object(o["meta"] ?? .object([:]), at: "task.meta")
    }
}

/// A canonical record that does not have the canonical shape: the JSON path and what is wrong.
public struct DecodeError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var message: String

    public init(path: String, _ message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { path.isEmpty ? message : "\(path): \(message)" }

    static func object(_ v: JSON?, at path: @autoclosure () -> String) throws(DecodeError) -> JSONObject {
        guard case .object(let o)? = v else { throw DecodeError(path: path(), "expected an object, found \(v?.typeName ?? "nothing")") }
        return o
    }

    static func array(_ v: JSON?, at path: @autoclosure () -> String) throws(DecodeError) -> [JSON] {
        guard case .array(let a)? = v else { throw DecodeError(path: path(), "expected an array, found \(v?.typeName ?? "nothing")") }
        return a
    }

    static func string(_ v: JSON?, at path: @autoclosure () -> String) throws(DecodeError) -> String {
        guard case .string(let s)? = v else { throw DecodeError(path: path(), "expected a string, found \(v?.typeName ?? "nothing")") }
        return s
    }

    static func optionalString(_ v: JSON?, at path: @autoclosure () -> String) throws(DecodeError) -> String? {
        switch v {
        case nil, .null?: return nil
        case .string(let s)?: return s
        case let other?: throw DecodeError(path: path(), "expected a string or null, found \(other.typeName)")
        }
    }

    static func optionalInt(_ v: JSON?, at path: @autoclosure () -> String) throws(DecodeError) -> Int? {
        switch v {
        case nil, .null?: return nil
        case .number(let n)?:
            guard let i = n.int else { throw DecodeError(path: path(), "expected an integer, found \(n.text)") }
            return i
        case let other?: throw DecodeError(path: path(), "expected an integer or null, found \(other.typeName)")
        }
    }
}
