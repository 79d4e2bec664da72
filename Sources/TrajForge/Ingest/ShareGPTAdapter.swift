import ByteJSON

/// LLaMA-Factory ShareGPT and APIGen-MT-5k: `{conversations: [{from, value}], system, tools}` where
/// `from` is human | gpt | function_call | observation (| system), `tools` is a JSON *string* of
/// raw (unwrapped) schemas, a `function_call` value is one call `{"name", "arguments"}` or a list of
/// them (parallel calls), and an observation is a string (a JSON array of N results after N
/// parallel calls). Call ids do not exist in this format: they are generated (`call00001`, …).
struct ShareGPTAdapter: Sendable {
    var format: SourceFormat
    var domain: String?
    /// APIGen-MT releases only verified trajectories: mark them success = true.
    var assumeSuccess: Bool

    static let assumedChecks: JSON = ["assumed": "APIGen-MT releases only trajectories that passed verification (--from apigen-mt)"]

    func convert(_ record: JSON, _ ctx: RecordContext) -> [Conversion] {
        do throws(IngestFailure) { return [.success(try trajectory(record, ctx))] } catch { return [.failure(error)] }
    }

    func trajectory(_ record: JSON, _ ctx: RecordContext) throws(IngestFailure) -> Trajectory {
        guard case .object(var rest) = record else { throw IngestFailure(.wrongType, "record is \(record.typeName), not an object") }
        guard let convValue = rest.removeValue(forKey: "conversations") else {
            throw IngestFailure(.missingField, "no \"conversations\" (ShareGPT records have conversations, system, tools)")
        }
        guard case .array(let turns) = convValue else { throw IngestFailure(.wrongType, "conversations is \(convValue.typeName), not a list") }
        var system: String?
        switch rest.removeValue(forKey: "system") {
        case nil: break
        case .string(let s)?: system = s
        case .null?: rest["system"] = .null
        case let other?: throw IngestFailure(.wrongType, "system is \(other.typeName), not a string")
        }
        let tools = try normalizeTools(rest.removeValue(forKey: "tools"), field: "tools")

        var reader = ChatMessageReader()
        var messages: [Message] = []
        var pending: [ToolCall] = []
        for (k, raw) in turns.enumerated() {
            let at = "conversations[\(k)]"
            guard case .object(var turn) = raw else { throw IngestFailure(.wrongType, "\(at) is \(raw.typeName), not an object") }
            guard case .string(let from)? = turn.removeValue(forKey: "from") else { throw IngestFailure(.missingField, "\(at) has no \"from\" tag") }
            let value = turn.removeValue(forKey: "value")
            func text() throws(IngestFailure) -> String {
                switch value {
                case .string(let s)?: return s
                case nil, .null?: throw IngestFailure(.missingField, "\(at) (\(from)) has no value")
                case let other?: throw IngestFailure(.wrongType, "\(at).value is \(other.typeName), not a string")
                }
            }
            switch from {
            case "human", "user":
                if from != "human" { turn["from"] = .string(from) }
                messages.append(Message(role: .user, content: try text(), meta: turn))
            case "gpt", "assistant":
                if from != "gpt" { turn["from"] = .string(from) }
                messages.append(Message(role: .assistant, content: try text(), meta: turn))
            case "system":
                if k == 0 && system == nil && messages.isEmpty {
                    system = try text()
                } else {
                    messages.append(Message(role: .system, content: try text(), meta: turn))
                }
            case "function_call":
                var callsValue: JSON
                switch value {
                case .string(let s)?:
                    do { callsValue = try JSON.parse(s) } catch {
                        throw IngestFailure(.invalidArguments, "\(at) function_call value is not valid JSON (\(error)): \(s.prefix(120))")
                    }
                case .object?, .array?: callsValue = value!
                default: throw IngestFailure(.wrongType, "\(at) function_call value is \(value?.typeName ?? "missing"), not a JSON call")
                }
                let list: [JSON]
                if case .array(let a) = callsValue { list = a } else { list = [callsValue] }
                if list.isEmpty { throw IngestFailure(.wrongType, "\(at) function_call holds an empty list of calls") }
                var calls: [ToolCall] = []
                for (c, callJSON) in list.enumerated() {
                    calls.append(try reader.toolCall(callJSON, at: "\(at).value[\(c)]"))
                }
                pending = calls
                messages.append(Message(role: .assistant, content: nil, toolCalls: calls, meta: turn))
            case "observation", "tool":
                if from != "observation" { turn["from"] = .string(from) }
                let content = try text()
                if pending.isEmpty {
                    throw IngestFailure(.orphanToolResult, "\(at) is an observation with no function_call before it")
                }
                if pending.count == 1 {
                    messages.append(Message(role: .tool, content: content, toolCallID: pending[0].id, name: pending[0].name, meta: turn))
                } else {
                    // N parallel calls are answered by one observation holding a JSON array of N results.
                    guard case .array(let results)? = try? JSON.parse(content), results.count == pending.count else {
                        throw IngestFailure(.orphanToolResult,
                                            "\(at) follows \(pending.count) parallel calls but is not a JSON array of \(pending.count) results")
                    }
                    for (call, result) in zip(pending, results) {
                        messages.append(Message(role: .tool, content: result.string ?? result.serialized(), toolCallID: call.id,
                                                name: call.name, meta: turn))
                    }
                }
                pending = []
            default:
                throw IngestFailure(.unknownRole, "\(at) has from \"\(from)\" (expected human, gpt, function_call, observation or system)")
            }
        }

        let domain = self.domain ?? inferDomain(fromPolicy: system)
        let outcome = assumeSuccess ? Outcome(success: true, checks: ShareGPTAdapter.assumedChecks) : nil
        return Trajectory(
            id: ctx.makeID(slugParts: [domain]), source: ctx.provenance, group: nil, trial: nil, domain: domain,
            system: system, tools: tools, messages: messages, outcome: outcome, task: nil, meta: rest)
    }
}
