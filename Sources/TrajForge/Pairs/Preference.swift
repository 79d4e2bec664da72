import ByteJSON

/// How a failed rollout went wrong at the pair's turn.
public struct Deviation: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        /// The right tool, with arguments that differ from the reference (see `arguments`).
        case wrongArguments = "wrong-arguments"
        /// A write tool the reference does not call (at that point).
        case wrongTool = "wrong-tool"
        /// A reference action the rollout never performed; the pair's turn is where it was due.
        case missingAction = "missing-action"
        /// The rollout replied in text where it should have acted (same turn as `missingAction`'s
        /// anchor when the reply came right after the user confirmed).
        case textInsteadOfAction = "text-instead-of-action"
        /// first-divergence: two assistant turns after an identical context.
        case divergence
        /// trajectory: whole rollouts.
        case outcome
    }

    public var kind: Kind
    /// The tool due (chosen) and, for wrong arguments, the argument names that differ.
    public var tool: String?
    public var arguments: [String] = []
    /// Index in the rejected rollout's messages of the deviating assistant turn.
    public var position: Int?
}

/// A preference pair: one shared prompt, a preferred and a dispreferred continuation.
public struct PreferencePair: Sendable, Equatable {
    public var id: String
    public var strategy: String
    public var group: String?
    public var domain: String?
    public var system: String?
    public var tools: [JSON]
    public var prompt: [Message]
    public var chosen: [Message]
    public var rejected: [Message]
    public var deviation: Deviation
    /// Ids of the rollouts the sides came from (the chosen side may be a reference action).
    public var chosenSource: String?
    public var rejectedSource: String
    public var chosenFrom: String

    /// Which completion messages are trained on (assistant turns; user and tool turns inside a
    /// trajectory-level completion are context only).
    public static func supervised(_ messages: [Message]) -> [Bool] { messages.map { $0.role == .assistant } }
}

extension PreferencePair {
    /// A key equal for pairs that say the same thing (call ids and provenance ignored).
    var contentKey: String {
        func normalized(_ ms: [Message]) -> JSON {
            .array(ms.map { m in
                ["role": .string(m.role.rawValue), "content": m.content.map(JSON.string) ?? .null,
                 "calls": .array(m.toolCalls.map { ["name": .string($0.name), "arguments": .object($0.arguments)] })]
            })
        }
        let key: JSON = ["system": system.map(JSON.string) ?? .null, "prompt": normalized(prompt),
                         "chosen": normalized(chosen), "rejected": normalized(rejected)]
        return key.canonicalString
    }

    var deviationJSON: JSON {
        var o: JSONObject = ["kind": .string(deviation.kind.rawValue)]
        o["tool"] = deviation.tool.map(JSON.string) ?? .null
        o["arguments"] = .array(deviation.arguments.map(JSON.string))
        o["position"] = deviation.position.map { .number(JSONNumber($0)) } ?? .null
        return .object(o)
    }
}
