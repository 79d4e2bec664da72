import ByteJSON

/// tau-bench v1 results: `[{task_id, reward, info: {task, source, user_cost, reward_info}, traj, trial}]`.
/// `traj[0]` is the system policy; tool-call arguments are JSON strings; results carry no tool
/// schemas (they come from `--tools`). Success is the binary verified outcome, never `reward == 1`
/// (forks write composite rewards such as 0.93): see `verifiedSuccess`.
struct TauBenchAdapter: Sendable {
    var tools: [JSON]
    var domain: String?

    func convert(_ record: JSON, _ ctx: RecordContext) -> [Conversion] {
        do throws(IngestFailure) { return [.success(try trajectory(record, ctx))] } catch { return [.failure(error)] }
    }

    func trajectory(_ record: JSON, _ ctx: RecordContext) throws(IngestFailure) -> Trajectory {
        guard case .object(var rest) = record else { throw IngestFailure(.wrongType, "record is \(record.typeName), not an object") }
        guard let trajValue = rest.removeValue(forKey: "traj") else { throw IngestFailure(.missingField, "no \"traj\" (tau-bench results have traj, task_id, reward, info, trial)") }
        guard case .array(let traj) = trajValue else { throw IngestFailure(.wrongType, "traj is \(trajValue.typeName), not a list of messages") }

        var reader = ChatMessageReader()
        let conversation = try reader.convert(traj, path: "traj")

        // task_id stays in meta (the group is derived from it, not a copy of it).
        let taskID = rest["task_id"]
        var trial: Int?
        switch rest["trial"] {
        case .number(let n)?:
            if let t = n.int { trial = t; rest.removeValue(forKey: "trial") }
        case .null?: rest.removeValue(forKey: "trial")
        default: break
        }
        var reward: JSONNumber?
        if case .number(let n)? = rest["reward"] {
            reward = n
            rest.removeValue(forKey: "reward")
        }

        var task: TaskSpec?
        var checks: JSON = .null
        var info = rest["info"]?.object
        if var i = info {
            if case .object(var t)? = i.removeValue(forKey: "task") {
                let instruction = t.removeValue(forKey: "instruction")
                let actions = t.removeValue(forKey: "actions")
                let outputs = t.removeValue(forKey: "outputs")
                task = TaskSpec(instruction: instruction?.string, actions: try tauActions(actions, at: "info.task.actions"),
                                outputs: try stringList(outputs, at: "info.task.outputs"), meta: t)
                if let instruction, instruction.string == nil, !instruction.isNull { task?.meta["instruction"] = instruction }
            }
            if let ri = i.removeValue(forKey: "reward_info") { checks = ri }
            info = i
            if i.isEmpty { rest.removeValue(forKey: "info") } else { rest["info"] = .object(i) }
        }
        let success = TauBenchAdapter.verifiedSuccess(reward: reward, rewardInfo: checks)

        let domain = self.domain ?? inferDomain(fromPolicy: conversation.system)
        var meta = rest
        if !conversation.systemMeta.isEmpty { meta["system_message"] = .object(conversation.systemMeta) }
        let taskKey = taskID.map(scalarText)
        return Trajectory(
            id: ctx.makeID(slugParts: [domain, taskKey, trial.map { "t\($0)" }]),
            source: ctx.provenance,
            group: taskKey.map { key in domain.map { "\($0):\(key)" } ?? key },
            trial: trial, domain: domain, system: conversation.system, tools: tools,
            messages: conversation.messages,
            outcome: Outcome(success: success, reward: reward, checks: checks),
            task: task, meta: meta)
    }

    /// The binary verified outcome of a tau-bench result:
    /// - `reward_info.components.base_success` when present (forks with composite rewards);
    /// - else `r_actions` (the database-hash check; then reward is exactly that check);
    /// - else `r_outputs` and a non-zero reward (the outputs check replaces r_actions in the info, but
    ///   the reward is still 0 when the database check failed);
    /// - `reward_info` null (seen in real airline files): not verified.
    static func verifiedSuccess(reward: JSONNumber?, rewardInfo: JSON) -> Bool? {
        guard case .object(let ri) = rewardInfo else {
            if rewardInfo.isNull, reward != nil { return false }
            return reward?.double.map { $0 >= 1.0 }
        }
        if let base = ri["components"]?["base_success"]?.double { return base >= 1.0 }
        let info = ri["info"]
        if let actions = info?["r_actions"]?.double { return actions >= 1.0 }
        if let outputs = info?["r_outputs"]?.double {
            let r = reward?.double ?? ri["reward"]?.double ?? 0
            return outputs >= 1.0 && r > 0
        }
        return (reward?.double ?? ri["reward"]?.double).map { $0 >= 1.0 }
    }
}

/// tau-bench ground-truth actions `{name, kwargs}` → canonical `{name, arguments, …}` (other keys kept).
func tauActions(_ value: JSON?, at path: String) throws(IngestFailure) -> [JSON] {
    switch value {
    case nil, .null?: return []
    case .array(let list)?:
        var out: [JSON] = []
        out.reserveCapacity(list.count)
        for (k, a) in list.enumerated() {
            guard case .object(var o) = a else { throw IngestFailure(.wrongType, "\(path)[\(k)] is not an object") }
            guard o["name"]?.string != nil else { throw IngestFailure(.missingField, "\(path)[\(k)] has no name") }
            if o["arguments"] == nil, let kwargs = o.removeValue(forKey: "kwargs") {
                // Put `arguments` right after `name`, where tau2 has it.
                let at = (o.index(of: "name") ?? 0) + 1
                o.members.insert(JSONMember("arguments", kwargs), at: at)
            }
            out.append(.object(o))
        }
        return out
    case let other?: throw IngestFailure(.wrongType, "\(path) is \(other.typeName), not a list")
    }
}

func stringList(_ value: JSON?, at path: String) throws(IngestFailure) -> [String] {
    switch value {
    case nil, .null?: return []
    case .array(let list)?:
        var out: [String] = []
        for (k, v) in list.enumerated() {
            guard case .string(let s) = v else { throw IngestFailure(.wrongType, "\(path)[\(k)] is \(v.typeName), not a string") }
            out.append(s)
        }
        return out
    case let other?: throw IngestFailure(.wrongType, "\(path) is \(other.typeName), not a list of strings")
    }
}

/// Text of a scalar used in keys: strings as they are, numbers as written.
func scalarText(_ v: JSON) -> String {
    switch v {
    case .string(let s): s
    case .number(let n): n.text
    default: v.serialized()
    }
}
