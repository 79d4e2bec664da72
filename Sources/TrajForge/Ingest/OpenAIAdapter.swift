import ByteJSON

/// OpenAI chat records `{messages, tools}` (also TRL and axolotl conversational data). A leading
/// system message becomes `system`; `tools` may be wrapped or raw schemas, or a JSON string of
/// them; arguments may be objects or JSON strings. Other top-level keys (ids, labels) go to meta.
struct OpenAIAdapter: Sendable {
    var domain: String?

    func convert(_ record: JSON, _ ctx: RecordContext) -> [Conversion] {
        do throws(IngestFailure) { return [.success(try trajectory(record, ctx))] } catch { return [.failure(error)] }
    }

    func trajectory(_ record: JSON, _ ctx: RecordContext) throws(IngestFailure) -> Trajectory {
        guard case .object(var rest) = record else { throw IngestFailure(.wrongType, "record is \(record.typeName), not an object") }
        guard let messagesValue = rest.removeValue(forKey: "messages") else {
            throw IngestFailure(.missingField, "no \"messages\" (OpenAI records have messages and optionally tools)")
        }
        guard case .array(let list) = messagesValue else { throw IngestFailure(.wrongType, "messages is \(messagesValue.typeName), not a list") }
        let tools = try normalizeTools(rest.removeValue(forKey: "tools"), field: "tools")
        var reader = ChatMessageReader()
        let conversation = try reader.convert(list, path: "messages")
        if !conversation.systemMeta.isEmpty { rest["system_message"] = .object(conversation.systemMeta) }
        let domain = self.domain ?? inferDomain(fromPolicy: conversation.system)
        return Trajectory(
            id: ctx.makeID(slugParts: [domain]), source: ctx.provenance, group: nil, trial: nil, domain: domain,
            system: conversation.system, tools: tools, messages: conversation.messages, outcome: nil, task: nil, meta: rest)
    }
}
