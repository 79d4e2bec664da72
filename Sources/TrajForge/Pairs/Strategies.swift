import ByteJSON

/// Why a rollout gave no pair.
public struct PairFailure: Error, Sendable {
    public var reason: String
    public var detail: String
    public var deviation: Deviation.Kind?
    init(_ reason: String, _ detail: String, deviation: Deviation.Kind? = nil) {
        self.reason = reason
        self.detail = detail
        self.deviation = deviation
    }
}

/// Which tools change the environment. Reads (lookups, calculations, `think`, the hand-off) are
/// exploration: extra or repeated reads are not mistakes, so only writes are compared.
public struct ToolKinds: Sendable {
    public var readPrefixes = ["get_", "find_", "list_", "search_", "lookup_", "check_", "calculate", "think", "transfer_to_human"]
    /// When set, exactly these tools are writes.
    public var writes: Set<String>?
    /// Extra tools to treat as reads.
    public var reads: Set<String> = []
    public init() {}

    public func isWrite(_ name: String) -> Bool {
        if let writes { return writes.contains(name) }
        if reads.contains(name) { return false }
        return !readPrefixes.contains { name.hasPrefix($0) }
    }
}

/// A reference action: what should have been called.
public struct ReferenceAction: Sendable, Equatable {
    public var name: String
    public var arguments: JSONObject
}

extension Trajectory {
    /// The agent's ground-truth actions from the task (tau-bench `info.task.actions`, tau2
    /// `evaluation_criteria.actions` with requestor assistant), or nil when the task has none.
    public var referenceActions: [ReferenceAction]? {
        guard let actions = task?.actions, !actions.isEmpty else { return nil }
        return actions.compactMap { a in
            if let who = a["requestor"]?.string, who != "assistant" { return nil }
            guard let name = a["name"]?.string else { return nil }
            return ReferenceAction(name: name, arguments: a["arguments"]?.object ?? [:])
        }
    }

    /// The tool calls this rollout made, as reference actions (a verified rollout's calls stand in
    /// for missing ground truth).
    public var callsAsReference: [ReferenceAction] {
        messages.flatMap { $0.toolCalls.map { ReferenceAction(name: $0.name, arguments: $0.arguments) } }
    }

    /// A call id not used in this trajectory (`call` + 5 digits: valid for Mistral templates too).
    func freshCallID() -> String {
        let used = Set(messages.flatMap { $0.toolCalls.map(\.id) })
        var n = 1
        while true {
            let digits = String(n)
            let id = "call" + String(repeating: "0", count: max(0, 5 - digits.count)) + digits
            if !used.contains(id) { return id }
            n += 1
        }
    }
}

enum Correction {
    /// Words a user says to confirm a proposed action.
    static let affirmatives = ["yes", "yeah", "yep", "sure", "confirm", "confirmed", "go ahead", "proceed", "please do", "correct", "ok", "okay", "that's right", "do it"]

    static func isAffirmative(_ text: String) -> Bool {
        let words = WordNGrams.words(text)
        let joined = " " + words.joined(separator: " ") + " "
        return affirmatives.contains { joined.contains(" " + $0.replacingOccurrences(of: "'", with: " ") + " ") }
    }

    /// Finds the first write call of `failed` that deviates from `reference`, and makes the pair
    /// that corrects it.
    static func pair(_ failed: Trajectory, reference: [ReferenceAction], referenceSource: String, kinds: ToolKinds) -> Result<PreferencePair, PairFailure> {
        var remaining = reference.filter { kinds.isWrite($0.name) }
        if remaining.isEmpty && !reference.isEmpty {
            return .failure(PairFailure("reference-has-no-writes", "the reference actions are all reads: nothing to correct"))
        }
        var lastMatched = -1
        for (k, m) in failed.messages.enumerated() where m.role == .assistant {
            for call in m.toolCalls where kinds.isWrite(call.name) {
                if let j = remaining.firstIndex(where: { $0.name == call.name && ArgumentSchema.jsonEqual(.object($0.arguments), .object(call.arguments)) }) {
                    remaining.remove(at: j)
                    lastMatched = k
                    continue
                }
                let sameTool = remaining.filter { $0.name == call.name }
                if !sameTool.isEmpty {
                    // The closest reference call of that tool: most argument values in common.
                    func agreement(_ a: ReferenceAction) -> Int {
                        a.arguments.filter { m in call.arguments[m.key].map { ArgumentSchema.jsonEqual($0, m.value) } ?? false }.count
                    }
                    let best = sameTool.map(agreement).max()!
                    let top = sameTool.filter { agreement($0) == best }
                    if top.count > 1, Set(top.map { JSON.object($0.arguments).canonicalString }).count > 1 {
                        return .failure(PairFailure("ambiguous-alignment",
                                                    "messages[\(k)] calls \(call.name), which \(top.count) reference actions match equally well",
                                                    deviation: .wrongArguments))
                    }
                    let due = top[0]
                    let keys = Set(due.arguments.keys).union(call.arguments.keys)
                    let differing = keys.filter { key in
                        switch (due.arguments[key], call.arguments[key]) {
                        case (let a?, let b?): !ArgumentSchema.jsonEqual(a, b)
                        default: true
                        }
                    }.sorted()
                    return .success(make(failed, at: k, chosen: due, source: referenceSource,
                                         deviation: Deviation(kind: .wrongArguments, tool: call.name, arguments: differing, position: k)))
                }
                guard let due = remaining.first else {
                    return .failure(PairFailure("extra-write",
                                                "messages[\(k)] calls \(call.name) after every reference action was done: there is no corrected call to offer",
                                                deviation: .wrongTool))
                }
                return .success(make(failed, at: k, chosen: due, source: referenceSource,
                                     deviation: Deviation(kind: .wrongTool, tool: due.name, arguments: [], position: k)))
            }
        }
        guard let missing = remaining.first else {
            return .failure(PairFailure("no-deviation-found",
                                        "every reference write was performed with the right arguments; the failure lies elsewhere (e.g. a required output)"))
        }
        // The action never happened: find the text reply where it was due — after the last matched
        // write, right after the user confirmed, when every value it needs had been seen.
        let needed = stringLeaves(.object(missing.arguments))
        var seen = ""
        for (k, m) in failed.messages.enumerated() {
            if k > lastMatched, m.role == .assistant, m.toolCalls.isEmpty, k > 0,
               failed.messages[k - 1].role == .user, isAffirmative(failed.messages[k - 1].content ?? ""),
               needed.allSatisfy({ seen.contains($0) })
            {
                return .success(make(failed, at: k, chosen: missing, source: referenceSource,
                                     deviation: Deviation(kind: .missingAction, tool: missing.name, arguments: [], position: k)))
            }
            seen += (m.content ?? "") + "\n"
            for c in m.toolCalls { seen += JSON.object(c.arguments).serialized() + "\n" }
        }
        return .failure(PairFailure("missing-action-not-confirmed",
                                    "\(missing.name) was never called, and no text reply came right after a user confirmation with its values known",
                                    deviation: .missingAction))
    }

    /// Every string in a JSON value (the values an action needs to have been seen).
    static func stringLeaves(_ v: JSON) -> [String] {
        switch v {
        case .string(let s): [s]
        case .array(let a): a.flatMap(stringLeaves)
        case .object(let o): o.members.flatMap { stringLeaves($0.value) }
        default: []
        }
    }

    static func make(_ failed: Trajectory, at k: Int, chosen action: ReferenceAction, source: String, deviation: Deviation) -> PreferencePair {
        let call = ToolCall(id: failed.freshCallID(), name: action.name, arguments: action.arguments)
        var rejected = failed.messages[k]
        rejected.meta = [:]
        return PreferencePair(
            id: "\(failed.id)#\(k)", strategy: "correction", group: failed.group, domain: failed.domain, system: failed.system,
            tools: failed.tools, prompt: stripMeta(Array(failed.messages[..<k])),
            chosen: [Message(role: .assistant, content: nil, toolCalls: [call])], rejected: [rejected],
            deviation: deviation, chosenSource: nil, rejectedSource: failed.id, chosenFrom: source)
    }
}

/// Messages without source metadata (pairs carry conversation only).
func stripMeta(_ ms: [Message]) -> [Message] {
    ms.map { m in
        var m = m
        m.meta = [:]
        for k in m.toolCalls.indices { m.toolCalls[k].meta = [:] }
        return m
    }
}

enum Divergence {
    /// A message's content for comparisons across rollouts: call ids differ between runs, so they
    /// are ignored; names, arguments, texts and results must match.
    static func same(_ a: Message, _ b: Message) -> Bool {
        guard a.role == b.role, a.content == b.content, a.toolCalls.count == b.toolCalls.count else { return false }
        for (x, y) in zip(a.toolCalls, b.toolCalls) where x.name != y.name || !ArgumentSchema.jsonEqual(.object(x.arguments), .object(y.arguments)) {
            return false
        }
        return a.role != .tool || a.name == b.name
    }

    /// The first place where a verified and a failed rollout differ, if both turns there are the
    /// assistant's; otherwise why not.
    static func pair(verified v: Trajectory, failed f: Trajectory) -> Result<PreferencePair, PairFailure> {
        guard v.system == f.system else { return .failure(PairFailure("system-diverged", "the two rollouts have different system prompts")) }
        var d = 0
        while d < v.messages.count, d < f.messages.count, same(v.messages[d], f.messages[d]) { d += 1 }
        guard d < v.messages.count, d < f.messages.count else {
            return .failure(PairFailure("no-divergence", "one rollout repeats the other up to its end"))
        }
        let (c, r) = (v.messages[d], f.messages[d])
        guard c.role == .assistant, r.role == .assistant else {
            let who = c.role != .assistant ? c.role : r.role
            return .failure(PairFailure("\(who.rawValue)-diverged-first",
                                        "the rollouts first differ at messages[\(d)], a \(who.rawValue) turn: their contexts are not the same before the assistants differ"))
        }
        let kind: Deviation.Kind
        var args: [String] = []
        if !c.toolCalls.isEmpty && r.toolCalls.isEmpty {
            kind = .textInsteadOfAction
        } else if let cc = c.toolCalls.first, let rc = r.toolCalls.first, cc.name == rc.name {
            kind = .wrongArguments
            args = Set(cc.arguments.keys).union(rc.arguments.keys).filter { key in
                switch (cc.arguments[key], rc.arguments[key]) {
                case (let a?, let b?): !ArgumentSchema.jsonEqual(a, b)
                default: true
                }
            }.sorted()
        } else if !c.toolCalls.isEmpty || !r.toolCalls.isEmpty {
            kind = .wrongTool
        } else {
            kind = .divergence
        }
        var chosen = c
        chosen.meta = [:]
        var rejected = r
        rejected.meta = [:]
        return .success(PreferencePair(
            id: "\(f.id)#\(d)", strategy: "first-divergence", group: f.group, domain: f.domain, system: f.system, tools: f.tools,
            prompt: stripMeta(Array(f.messages[..<d])), chosen: stripMeta([chosen]), rejected: stripMeta([rejected]),
            deviation: Deviation(kind: kind, tool: c.toolCalls.first?.name ?? r.toolCalls.first?.name, arguments: args, position: d),
            chosenSource: v.id, rejectedSource: f.id, chosenFrom: v.id))
    }
}

enum WholeTrajectory {
    /// Whole rollouts: the shared prompt is the system prompt (and the first user turn when both
    /// rollouts open with the same one); each completion runs to its last assistant turn.
    static func pair(verified v: Trajectory, failed f: Trajectory) -> Result<PreferencePair, PairFailure> {
        guard v.system == f.system else { return .failure(PairFailure("system-diverged", "the two rollouts have different system prompts")) }
        var shared = 0
        if let a = v.messages.first, let b = f.messages.first, a.role == .user, Divergence.same(a, b) { shared = 1 }
        func completion(_ t: Trajectory) -> [Message] {
            var ms = Array(t.messages[shared...])
            while let last = ms.last, last.role != .assistant { ms.removeLast() }
            return stripMeta(ms)
        }
        let chosen = completion(v), rejected = completion(f)
        guard !chosen.isEmpty, !rejected.isEmpty else {
            return .failure(PairFailure("no-assistant-turn", "a rollout has no assistant turn after the shared prompt"))
        }
        return .success(PreferencePair(
            id: "\(f.id)~\(v.id)", strategy: "trajectory", group: f.group, domain: f.domain, system: f.system, tools: f.tools,
            prompt: stripMeta(Array(f.messages[..<shared])), chosen: chosen, rejected: rejected,
            deviation: Deviation(kind: .outcome, tool: nil, arguments: [], position: nil),
            chosenSource: v.id, rejectedSource: f.id, chosenFrom: v.id))
    }
}
