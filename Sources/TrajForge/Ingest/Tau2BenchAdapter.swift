import ByteJSON

/// tau2-bench results: one object `{timestamp, info, tasks, simulations}`. Each simulation becomes
/// a trajectory; the policy comes from `info.environment_info.policy`, the task (instruction,
/// reference actions, strings to communicate) from `tasks` by `task_id`, success from
/// `reward_info.reward` (a product of 0/1 checks). The run's `info` is kept in every trajectory's
/// `meta.run`, so each record stands alone after shuffling or splitting.
struct Tau2BenchAdapter: Sendable {
    let domain: String?
    let system: String?
    let tools: [JSON]
    let tasksByID: [String: JSONObject]
    let runMeta: JSONObject
    /// A problem with the document's context that makes every simulation unusable.
    let contextFailure: IngestFailure?

    init(context: JSONObject, tools: [JSON]?, domain: String?) {
        var run = context
        run.removeValue(forKey: "simulations")
        var failure: IngestFailure?
        var byID: [String: JSONObject] = [:]
        switch run.removeValue(forKey: "tasks") {
        case .array(let list)?:
            for t in list {
                if case .object(let o) = t, let id = o["id"].map(scalarText) { byID[id] = o }
            }
        case nil, .null?: break
        case let other?: failure = IngestFailure(.wrongType, "tasks is \(other.typeName), not a list")
        }
        var system: String?
        var domainName: String?
        var toolDefs: JSON?
        if case .object(var info)? = run["info"], case .object(var env)? = info["environment_info"] {
            if case .string(let policy)? = env["policy"] {
                system = policy
                env.removeValue(forKey: "policy")
            }
            if case .string(let d)? = env["domain_name"] {
                domainName = d
                env.removeValue(forKey: "domain_name")
            }
            toolDefs = env["tool_defs"]
            info["environment_info"] = .object(env)
            run["info"] = .object(info)
        }
        var resolvedTools = tools ?? []
        if tools == nil, let toolDefs, !toolDefs.isNull {
            do {
                resolvedTools = try normalizeTools(toolDefs, field: "info.environment_info.tool_defs")
                if case .object(var info)? = run["info"], case .object(var env)? = info["environment_info"] {
                    env.removeValue(forKey: "tool_defs")
                    info["environment_info"] = .object(env)
                    run["info"] = .object(info)
                }
            } catch {
                failure = failure ?? error
            }
        }
        self.domain = domain ?? domainName ?? inferDomain(fromPolicy: system)
        self.system = system
        self.tools = resolvedTools
        tasksByID = byID
        runMeta = run
        contextFailure = failure
    }

    /// A whole results document held in one record (e.g. a one-line JSONL): one conversion per simulation.
    static func convertDocument(_ doc: JSON, _ ctx: RecordContext, tools: [JSON]?, domain: String?) -> [Conversion] {
        guard case .object(let o) = doc else { return [.failure(IngestFailure(.wrongType, "record is \(doc.typeName), not an object"))] }
        guard case .array(let sims)? = o["simulations"] else {
            return [.failure(IngestFailure(.missingField, "no \"simulations\" list (tau2-bench results have info, tasks, simulations)"))]
        }
        let adapter = Tau2BenchAdapter(context: o, tools: tools, domain: domain)
        return sims.enumerated().map { k, sim in adapter.convert(sim, ctx, subIndex: k) }
    }

    func convert(_ simulation: JSON, _ ctx: RecordContext, subIndex: Int? = nil) -> Conversion {
        do throws(IngestFailure) { return .success(try trajectory(simulation, ctx, subIndex: subIndex)) } catch { return .failure(error) }
    }

    func trajectory(_ simulation: JSON, _ ctx: RecordContext, subIndex: Int?) throws(IngestFailure) -> Trajectory {
        if let contextFailure { throw contextFailure }
        let place = subIndex.map { "simulations[\($0)]" } ?? "simulation"
        guard case .object(var rest) = simulation else { throw IngestFailure(.wrongType, "\(place) is \(simulation.typeName), not an object") }
        guard let messagesValue = rest.removeValue(forKey: "messages") else { throw IngestFailure(.missingField, "\(place) has no \"messages\"") }
        guard case .array(let list) = messagesValue else { throw IngestFailure(.wrongType, "\(place).messages is \(messagesValue.typeName), not a list") }
        var reader = ChatMessageReader()
        let conversation = try reader.convert(list, path: "\(place).messages", leadingSystemBecomesField: false)

        let taskKey = rest["task_id"].map(scalarText)
        var trial: Int?
        if case .number(let n)? = rest["trial"], let t = n.int {
            trial = t
            rest.removeValue(forKey: "trial")
        }
        var reward: JSONNumber?
        var checks: JSON = .null
        if let ri = rest.removeValue(forKey: "reward_info") {
            checks = ri
            if case .number(let n)? = ri["reward"] { reward = n }
        }
        let success: Bool? = checks.isNull ? nil : (reward?.double).map { $0 >= 1.0 } ?? false

        var task: TaskSpec?
        if let taskKey, var t = tasksByID[taskKey] {
            var instruction: String?
            if let scenario = t["user_scenario"]?.object, let instructions = scenario["instructions"] {
                instruction = Tau2BenchAdapter.instructionText(instructions)
            }
            var actions: [JSON] = []
            var outputs: [String] = []
            if case .object(var criteria)? = t["evaluation_criteria"] {
                actions = try tauActions(criteria.removeValue(forKey: "actions"), at: "tasks[\(taskKey)].evaluation_criteria.actions")
                outputs = try stringList(criteria.removeValue(forKey: "communicate_info"), at: "tasks[\(taskKey)].evaluation_criteria.communicate_info")
                t["evaluation_criteria"] = .object(criteria)
            }
            task = TaskSpec(instruction: instruction, actions: actions, outputs: outputs, meta: t)
        }

        var meta = rest
        if !runMeta.isEmpty { meta["run"] = .object(runMeta) }
        return Trajectory(
            id: ctx.makeID(slugParts: [domain, taskKey, trial.map { "t\($0)" }], subIndex: subIndex),
            source: ctx.provenance,
            group: taskKey.map { key in domain.map { "\($0):\(key)" } ?? key },
            trial: trial, domain: domain, system: system, tools: tools,
            messages: conversation.messages,
            outcome: checks.isNull && reward == nil ? nil : Outcome(success: success, reward: reward, checks: checks),
            task: task, meta: meta)
    }

    /// The instruction text as tau2's `StructuredUserInstructions.__str__` writes it (a plain string
    /// instruction is used as it is).
    static func instructionText(_ value: JSON) -> String? {
        if case .string(let s) = value { return s }
        guard case .object(let o) = value else { return nil }
        func indent(_ s: String) -> String {
            // textwrap.indent(s, "\t"): prefix every line that is not whitespace-only.
            var out = ""
            var line = ""
            for ch in s {
                line.append(ch)
                if ch == "\n" || ch == "\r\n" {
                    out += (line.allSatisfy(\.isWhitespace) ? "" : "\t") + line
                    line = ""
                }
            }
            if !line.isEmpty { out += (line.allSatisfy(\.isWhitespace) ? "" : "\t") + line }
            return out
        }
        var lines: [String] = []
        lines.append("Domain: \(o["domain"].map(scalarText) ?? "None")")
        lines.append("Reason for call:\n" + indent(o["reason_for_call"]?.string ?? ""))
        if let known = o["known_info"]?.string { lines.append("Known info:\n" + indent(known)) }
        if let unknown = o["unknown_info"]?.string { lines.append("Unknown info:\n" + indent(unknown)) }
        lines.append("Task instructions:\n" + indent(o["task_instructions"]?.string ?? ""))
        return lines.joined(separator: "\n")
    }
}
