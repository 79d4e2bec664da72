import ByteJSON

// The canonical trajectory: one conversation between a user, an agent and its tools, with where it
// came from, which task it belongs to and how it ended. Every stage reads and writes this shape
// (schemas/trajectory.schema.json). Whatever a source had that has no field here is kept in `meta`
// at the same path it had in the source, so nothing is lost.

public struct Trajectory: Sendable, Equatable {
    /// Stable id: a readable slug plus 12 hex digits of SHA-256 over the source record and its index.
    public var id: String
    public var source: Provenance
    /// Task key tying rollouts of one task together (e.g. `retail:17`); nil when the source has none.
    public var group: String?
    public var trial: Int?
    public var domain: String?
    /// The system prompt (policy) that opened the conversation, if any.
    public var system: String?
    /// OpenAI function schemas, always wrapped: `{"type": "function", "function": {name, description, parameters}}`.
    public var tools: [JSON]
    public var messages: [Message]
    public var outcome: Outcome?
    public var task: TaskSpec?
    /// Source fields with no canonical home, at their source paths.
    public var meta: JSONObject

    public init(id: String, source: Provenance, group: String? = nil, trial: Int? = nil, domain: String? = nil,
                system: String? = nil, tools: [JSON] = [], messages: [Message] = [], outcome: Outcome? = nil,
                task: TaskSpec? = nil, meta: JSONObject = [:])
    {
        self.id = id
        self.source = source
        self.group = group
        self.trial = trial
        self.domain = domain
        self.system = system
        self.tools = tools
        self.messages = messages
        self.outcome = outcome
        self.task = task
        self.meta = meta
    }
}

/// Where a record came from: the input format, the file as given on the command line, and its
/// position (1-based line, 0-based record index, byte offset in the decompressed stream).
public struct Provenance: Sendable, Equatable {
    public var format: String
    public var file: String
    public var line: Int?
    public var index: Int?
    public var offset: Int?

    public init(format: String, file: String, line: Int? = nil, index: Int? = nil, offset: Int? = nil) {
        self.format = format
        self.file = file
        self.line = line
        self.index = index
        self.offset = offset
    }
}

public enum Role: String, Sendable, Equatable, CaseIterable {
    case system, user, assistant, tool
}

public struct Message: Sendable, Equatable {
    public var role: Role
    /// Text content; nil when the source had none (e.g. an assistant turn that only calls tools).
    public var content: String?
    /// Assistant tool calls (empty for other roles).
    public var toolCalls: [ToolCall]
    /// For tool results: the call this answers, and the tool's name.
    public var toolCallID: String?
    public var name: String?
    /// Source fields of this message with no canonical home.
    public var meta: JSONObject

    public init(role: Role, content: String?, toolCalls: [ToolCall] = [], toolCallID: String? = nil,
                name: String? = nil, meta: JSONObject = [:])
    {
        self.role = role
        self.content = content
        self.toolCalls = toolCalls
        self.toolCallID = toolCallID
        self.name = name
        self.meta = meta
    }
}

public struct ToolCall: Sendable, Equatable {
    public var id: String
    public var name: String
    /// Always a parsed JSON object inside trajforge; written as object or string on export.
    public var arguments: JSONObject
    public var meta: JSONObject

    public init(id: String, name: String, arguments: JSONObject, meta: JSONObject = [:]) {
        self.id = id
        self.name = name
        self.arguments = arguments
        self.meta = meta
    }
}

/// How the rollout ended. `success` is the binary verified outcome (never inferred from a
/// composite reward); `checks` holds the source's own check results verbatim.
public struct Outcome: Sendable, Equatable {
    public var success: Bool?
    public var reward: JSONNumber?
    public var checks: JSON

    public init(success: Bool?, reward: JSONNumber? = nil, checks: JSON = .object([:])) {
        self.success = success
        self.reward = reward
        self.checks = checks
    }
}

/// The task the rollout attempted: the user's instruction, the ground-truth actions
/// (`{name, arguments, …}` objects) and the strings the agent was expected to say.
public struct TaskSpec: Sendable, Equatable {
    public var instruction: String?
    public var actions: [JSON]
    public var outputs: [String]
    public var meta: JSONObject

    public init(instruction: String?, actions: [JSON] = [], outputs: [String] = [], meta: JSONObject = [:]) {
        self.instruction = instruction
        self.actions = actions
        self.outputs = outputs
        self.meta = meta
    }
}

extension Trajectory {
    /// Tool names declared in `tools`, in order.
    public var toolNames: [String] {
        tools.compactMap { $0["function"]?["name"]?.string ?? $0["name"]?.string }
    }
}
