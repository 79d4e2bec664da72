import ByteJSON

/// Calls, results and error results of one tool over a corpus.
public struct ToolTotals: Sendable, Equatable {
    public var calls = 0
    public var results = 0
    public var errors = 0
    /// Trajectories that call the tool at least once.
    public var trajectories = 0
}

/// One domain's share of a corpus.
public struct DomainTotals: Sendable {
    public var trajectories = 0
    public var success = 0
    public var failure = 0
    public var messages = 0
    public var toolCalls = 0
    public var toolErrors = 0
    /// Exact up to 4,096 tasks per domain, then estimated.
    public var tasks = DistinctCounter(exactCap: 4096)
}

/// Statistics of canonical trajectories: outcomes, rewards, conversation shape, tools, domains,
/// tasks and the script mix of user text. Memory is bounded: histograms, capped tables and a
/// distinct-count sketch.
public struct TrajectoryStats: Sendable {
    public static let toolCap = 1000
    public static let domainCap = 200

    public var count = 0
    public var success = 0
    public var failure = 0
    public var unknown = 0
    /// Rewards in thousandths.
    public var reward = Distribution(scale: 1000)
    public var messages = Distribution()
    public var userTurns = Distribution()
    public var assistantTurns = Distribution()
    public var toolCalls = Distribution()
    public var toolResults = Distribution()
    public var characters = Distribution()
    public var toolErrors = 0
    public var tools = BoundedTable<ToolTotals>(cap: toolCap, make: { ToolTotals() })
    public var domains = BoundedTable<DomainTotals>(cap: domainCap, make: { DomainTotals() })
    public var tasks = DistinctCounter()
    /// Letters of user text per script.
    public var scriptLetters = [Int](repeating: 0, count: Script.allCases.count)
    /// Trajectories by the script of most of their user letters (index `Script.allCases.count`: no letters).
    public var dominantScript = [Int](repeating: 0, count: Script.allCases.count + 1)

    public init() {}

    public mutating func add(_ f: TrajectoryFacts) {
        count += 1
        switch f.success {
        case true?: success += 1
        case false?: failure += 1
        case nil: unknown += 1
        }
        if let r = f.reward, r.isFinite { reward.add(r) }
        messages.add(f.messages)
        userTurns.add(f.userTurns)
        assistantTurns.add(f.assistantTurns)
        toolCalls.add(f.toolCalls)
        toolResults.add(f.toolResults)
        characters.add(f.characters)
        toolErrors += f.toolErrors
        for use in f.tools {
            tools.update(use.name) {
                $0.calls += use.calls
                $0.results += use.results
                $0.errors += use.errors
                if use.calls > 0 { $0.trajectories += 1 }
            }
        }
        domains.update(f.domain ?? "(none)") {
            $0.trajectories += 1
            if f.success == true { $0.success += 1 }
            if f.success == false { $0.failure += 1 }
            $0.messages += f.messages
            $0.toolCalls += f.toolCalls
            $0.toolErrors += f.toolErrors
            $0.tasks.add(f.task)
        }
        tasks.add(f.task)
        var best = Script.allCases.count
        var bestLetters = 0
        for (k, n) in f.scripts.enumerated() {
            scriptLetters[k] += n
            if n > bestLetters {
                best = k
                bestLetters = n
            }
        }
        dominantScript[best] += 1
    }

    static func share(_ part: Int, _ whole: Int) -> JSON { whole > 0 ? StatsFormat.json(StatsFormat.round(Double(part) / Double(whole), 6)) : .null }

    public var json: JSON {
        let decided = success + failure
        var o: JSONObject = ["count": .number(JSONNumber(count))]
        o["outcomes"] = ["success": .number(JSONNumber(success)), "failure": .number(JSONNumber(failure)),
                         "unknown": .number(JSONNumber(unknown)), "success_rate": TrajectoryStats.share(success, decided)]
        o["reward"] = reward.json
        o["tasks"] = tasks.json
        o["per_trajectory"] = ["messages": messages.json, "user_turns": userTurns.json, "assistant_turns": assistantTurns.json,
                               "tool_calls": toolCalls.json, "tool_results": toolResults.json, "characters": characters.json]
        let totalResults = toolResults.histogram.sum
        var toolRows: [JSON] = tools.entries.sorted { $0.row.calls != $1.row.calls ? $0.row.calls > $1.row.calls : $0.key < $1.key }.map { e in
            ["name": .string(e.key), "calls": .number(JSONNumber(e.row.calls)), "results": .number(JSONNumber(e.row.results)),
             "errors": .number(JSONNumber(e.row.errors)), "error_share": TrajectoryStats.share(e.row.errors, e.row.results),
             "trajectories": .number(JSONNumber(e.row.trajectories))]
        }
        if tools.isCapped {
            let r = tools.other
            toolRows.append(["name": .string(StatsFormat.otherKey), "calls": .number(JSONNumber(r.calls)), "results": .number(JSONNumber(r.results)),
                             "errors": .number(JSONNumber(r.errors)), "error_share": TrajectoryStats.share(r.errors, r.results),
                             "trajectories": .number(JSONNumber(r.trajectories))])
        }
        o["tools"] = ["distinct": .number(JSONNumber(tools.count)), "capped_at": tools.isCapped ? .number(JSONNumber(tools.cap)) : .null,
                      "calls": StatsFormat.json(toolCalls.histogram.sum), "results": StatsFormat.json(totalResults),
                      "errors": .number(JSONNumber(toolErrors)), "error_share": TrajectoryStats.share(toolErrors, Int(totalResults)),
                      "by_tool": .array(toolRows)]
        var domainRows: [JSON] = domains.entries.sorted { $0.row.trajectories != $1.row.trajectories ? $0.row.trajectories > $1.row.trajectories : $0.key < $1.key }.map {
            TrajectoryStats.domainJSON($0.key, $0.row)
        }
        if domains.isCapped { domainRows.append(TrajectoryStats.domainJSON(StatsFormat.otherKey, domains.other)) }
        o["domains"] = .array(domainRows)
        let letters = scriptLetters.reduce(0, +)
        var scriptRows: [JSON] = []
        for s in Script.allCases where scriptLetters[s.rawValue] > 0 || dominantScript[s.rawValue] > 0 {
            scriptRows.append(["script": .string(s.name), "letters": .number(JSONNumber(scriptLetters[s.rawValue])),
                               "share": TrajectoryStats.share(scriptLetters[s.rawValue], letters),
                               "trajectories": .number(JSONNumber(dominantScript[s.rawValue]))])
        }
        o["scripts"] = ["method": "Unicode block of each letter of user turns (not a language identifier); a trajectory counts under the script of most of its user letters",
                        "letters": .number(JSONNumber(letters)), "by_script": .array(scriptRows),
                        "trajectories_without_letters": .number(JSONNumber(dominantScript[Script.allCases.count]))]
        return .object(o)
    }

    static func domainJSON(_ name: String, _ d: DomainTotals) -> JSON {
        let n = Double(max(1, d.trajectories))
        return ["domain": .string(name), "trajectories": .number(JSONNumber(d.trajectories)), "tasks": .number(JSONNumber(d.tasks.count)),
                "success": .number(JSONNumber(d.success)), "failure": .number(JSONNumber(d.failure)),
                "success_rate": share(d.success, d.success + d.failure),
                "messages_mean": StatsFormat.json(StatsFormat.round(Double(d.messages) / n, 4)),
                "tool_calls_mean": StatsFormat.json(StatsFormat.round(Double(d.toolCalls) / n, 4)),
                "tool_errors": .number(JSONNumber(d.toolErrors))]
    }
}
