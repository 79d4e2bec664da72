import BPE
import ByteJSON
import Foundation
import Testing
@testable import TrajForge

/// Figures of the real tau-bench retail file (115 grok-3 rollouts), computed here from the source
/// JSON with JSONSerialization, against what `stats` reports for the ingested trajectories.
@Suite(.serialized) struct StatsRealDataTests {
    /// The raw rollouts, parsed without trajforge.
    static func rawRollouts() throws -> [[String: Any]] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Paths.grok))) as! [[String: Any]]
    }

    static func ingested() throws -> String {
        let run = try runIngest([Paths.grok], tools: Paths.retailTools)
        #expect(run.ledger.kept == 115)
        return run.output
    }

    @Test func retailFiguresMatchTheSourceFile() throws {
        let rollouts = try StatsRealDataTests.rawRollouts()
        let (report, ledger, rejects) = try runStats([try StatsRealDataTests.ingested()])
        #expect(ledger.balances && rejects.isEmpty && ledger.kept == rollouts.count)
        // Independent counts.
        var success = 0, users = 0, assistants = 0, calls = 0, results = 0, errors = 0, letters = 0
        var messages: [Int] = [], toolCalls: [Int] = [], userTurns: [Int] = []
        var perTool: [String: (calls: Int, errors: Int, results: Int)] = [:]
        var tasks = Set<Int>()
        var rewards: [Double] = []
        for r in rollouts {
            let info = (r["info"] as! [String: Any])["reward_info"] as! [String: Any]
            let components = info["components"] as? [String: Any]
            let verified = (components?["base_success"] as? Double) ?? ((info["info"] as? [String: Any])?["r_actions"] as? Double) ?? 0
            if verified == 1 { success += 1 }
            tasks.insert(r["task_id"] as! Int)
            rewards.append(r["reward"] as! Double)
            let ms = (r["traj"] as! [[String: Any]]).filter { $0["role"] as? String != "system" }
            messages.append(ms.count)
            var c = 0, u = 0
            for m in ms {
                switch m["role"] as! String {
                case "user":
                    u += 1
                    for s in (m["content"] as? String ?? "").unicodeScalars where s.properties.isAlphabetic { letters += 1 }
                case "assistant":
                    assistants += 1
                    for call in m["tool_calls"] as? [[String: Any]] ?? [] {
                        c += 1
                        let name = (call["function"] as! [String: Any])["name"] as! String
                        perTool[name, default: (0, 0, 0)].calls += 1
                    }
                case "tool":
                    results += 1
                    let name = m["name"] as! String
                    perTool[name, default: (0, 0, 0)].results += 1
                    if (m["content"] as? String ?? "").hasPrefix("Error") {
                        errors += 1
                        perTool[name, default: (0, 0, 0)].errors += 1
                    }
                default: break
                }
            }
            calls += c
            users += u
            toolCalls.append(c)
            userTurns.append(u)
        }
        let t = report["trajectories"]
        #expect(t?["count"]?.int == rollouts.count)
        #expect(t?["outcomes"]?["success"]?.int == success && t?["outcomes"]?["failure"]?.int == rollouts.count - success)
        #expect(t?["outcomes"]?["unknown"] == 0)
        #expect(abs((t?["outcomes"]?["success_rate"]?.double ?? 0) - Double(success) / Double(rollouts.count)) < 1e-6)
        #expect(t?["tasks"]?["count"]?.int == tasks.count && t?["tasks"]?["exact"] == true)
        for (key, values) in [("messages", messages), ("tool_calls", toolCalls), ("user_turns", userTurns)] {
            let d = t?["per_trajectory"]?[key]
            let sorted = values.sorted()
            #expect(d?["sum"]?.int == values.reduce(0, +), "\(key) sum")
            #expect(d?["min"]?.int == sorted.first && d?["max"]?.int == sorted.last, "\(key) min/max")
            for q in ["p50": 0.5, "p90": 0.9, "p99": 0.99] { #expect(d?[q.key]?.int == nearestRank(sorted, q.value), "\(key) \(q.key)") }
            #expect(d?["bins"]?.array?.reduce(0) { $0 + ($1[2]?.int ?? 0) } == values.count)
        }
        #expect(t?["per_trajectory"]?["assistant_turns"]?["sum"]?.int == assistants)
        #expect(t?["per_trajectory"]?["tool_results"]?["sum"]?.int == results)
        let tools = t?["tools"]
        #expect(tools?["calls"]?.int == calls && tools?["results"]?.int == results && tools?["errors"]?.int == errors)
        #expect(abs((tools?["error_share"]?.double ?? 0) - Double(errors) / Double(results)) < 1e-6)
        let rows = tools?["by_tool"]?.array ?? []
        #expect(rows.count == perTool.count && tools?["distinct"]?.int == perTool.count)
        for row in rows {
            let expected = perTool[row["name"]!.string!]!
            #expect(row["calls"]?.int == expected.calls && row["results"]?.int == expected.results && row["errors"]?.int == expected.errors)
        }
        // Largest first.
        #expect(rows.map { $0["calls"]!.int! } == rows.map { $0["calls"]!.int! }.sorted(by: >))
        #expect(t?["domains"]?[0]?["domain"] == "retail" && t?["domains"]?[0]?["trajectories"]?.int == rollouts.count)
        let reward = t?["reward"]
        #expect(abs((reward?["mean"]?.double ?? 0) - rewards.reduce(0, +) / Double(rewards.count)) < 0.001)
        #expect(abs((reward?["max"]?.double ?? 0) - rewards.max()!) <= 0.0005 && abs((reward?["min"]?.double ?? 0) - rewards.min()!) <= 0.0005)
        let scripts = t?["scripts"]
        #expect(scripts?["letters"]?.int == letters)
        #expect(scripts?["by_script"]?[0]?["script"] == "Latin" && scripts?["by_script"]?[0]?["trajectories"]?.int == rollouts.count)
        #expect(report["trajectories"]?["per_trajectory"]?["user_turns"]?["sum"]?.int == users)
    }

    @Test func tokenLengthsAgainstTheTokenizerDirectly() throws {
        let path = try StatsRealDataTests.ingested()
        let tokenizer = try Tokenizer(tokenizerJSONPath: Paths.shared + "/tokenizers/llama-3.1")
        var options = StatsOptions()
        options.tokenizer = tokenizer
        options.cutoff = 6000
        let (report, _, _) = try runStats([path], options: options)
        var lengths: [Int] = []
        for line in try readJSONL(path) {
            lengths.append(tokenizer.encode(Filter.measuredText(try Trajectory(json: line)), parseSpecial: false).count)
        }
        lengths.sort()
        let tokens = report["splits"]?[0]?["tokens"]
        #expect(report["splits"]?[0]?["split"] == "out" && report["splits"]?[0]?["kind"] == "trajectory")
        #expect(tokens?["measured"]?.int == 115 && tokens?["sum"]?.int == lengths.reduce(0, +))
        for q in ["p50": 0.5, "p90": 0.9, "p99": 0.99] { #expect(tokens?[q.key]?.int == nearestRank(lengths, q.value)) }
        #expect(tokens?["max"]?.int == lengths.last && tokens?["min"]?.int == lengths.first)
        #expect(tokens?["over_cutoff"]?.int == lengths.filter { $0 > 6000 }.count)
    }

    /// Word n-grams as the contamination check defines them, written out plainly.
    static func grams(_ text: String, n: Int) -> Set<String> {
        var words: [String] = []
        var current = ""
        for u in text.unicodeScalars {
            if u.properties.isAlphabetic || u.properties.numericType != nil { current += String(u).lowercased() } else if !current.isEmpty {
                words.append(current)
                current = ""
            }
        }
        if !current.isEmpty { words.append(current) }
        if words.isEmpty { return [] }
        if words.count < n { return [words.joined(separator: " ")] }
        return Set((0...(words.count - n)).map { words[$0..<($0 + n)].joined(separator: " ") })
    }

    @Test func contaminationListsTheOverlappingRecords() throws {
        let path = try StatsRealDataTests.ingested()
        let tasksPath = Paths.retail + "/tasks.json"
        var options = StatsOptions()
        let (index, _) = try ContaminationIndex.load(paths: [tasksPath], n: 8)
        options.contamination = index
        options.contaminationFiles = [tasksPath]
        options.contaminationThreshold = 0.5
        let (report, _, _) = try runStats([path], options: options)
        // Evaluation items in file order (test, dev, train), each its instruction's 8-grams.
        let tasks = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: tasksPath))) as! [String: [[String: Any]]]
        var items: [(name: String, grams: Set<String>)] = []
        let raw = try String(contentsOfFile: tasksPath, encoding: .utf8)
        let order = ["test", "dev", "train"].sorted { raw.range(of: "\"\($0)\"")!.lowerBound < raw.range(of: "\"\($1)\"")!.lowerBound }
        for split in order {
            for (k, task) in tasks[split]!.enumerated() {
                items.append(("\(tasksPath)#0/\(split)[\(k)]", StatsRealDataTests.grams(task["instruction"] as! String, n: 8)))
            }
        }
        var expected: [(id: String, item: String, overlap: Double)] = []
        var histogram = [Int](repeating: 0, count: 11)
        for line in try readJSONL(path) {
            let t = try Trajectory(json: line)
            var parts = [t.task?.instruction].compactMap { $0 }
            for m in t.messages where m.role == .user || m.role == .assistant { if let c = m.content { parts.append(c) } }
            let record = StatsRealDataTests.grams(parts.joined(separator: "\n"), n: 8)
            var best: (String, Double)?
            for item in items where !item.grams.isEmpty {
                let overlap = Double(item.grams.filter(record.contains).count) / Double(item.grams.count)
                if overlap > 0, best == nil || overlap > best!.1 { best = (item.name, overlap) }
            }
            histogram[min(10, Int(((best?.1 ?? 0) * 10).rounded(.down)))] += 1
            if let best, best.1 >= 0.5 { expected.append((t.id, best.0, best.1)) }
        }
        let c = report["contamination"]
        #expect(c?["eval_items"]?.int == items.filter { !$0.grams.isEmpty }.count)
        #expect(c?["records_checked"] == 115 && c?["records_overlapping"]?.int == expected.count)
        #expect(c?["by_overlap"]?.array?.map { $0["records"]!.int! } == histogram)
        let listed = c?["records"]?.array ?? []
        let sortedExpected = expected.enumerated().sorted { $0.element.overlap != $1.element.overlap ? $0.element.overlap > $1.element.overlap : $0.offset < $1.offset }.map(\.element)
        #expect(listed.map { $0["id"]!.string! } == sortedExpected.map(\.id))
        #expect(listed.map { $0["eval_item"]!.string! } == sortedExpected.map(\.item))
        #expect(zip(listed, sortedExpected).allSatisfy { abs(($0["overlap"]?.double ?? -1) - $1.overlap) < 0.0001 })
        #expect(listed.allSatisfy { ($0["place"]?.string ?? "").hasPrefix(path + ":") })
    }

    @Test func outputIsTheSameForAnyThreadCount() throws {
        let path = try StatsRealDataTests.ingested()
        var one = StatsOptions()
        one.threads = 1
        var three = StatsOptions()
        three.threads = 3
        let inputs = [path, Paths.fixture("stats/mixed.jsonl"), Paths.fixture("stats/dedup.drops.jsonl")]
        let a = try runStats(inputs, options: one).report
        let b = try runStats(inputs, options: three).report
        #expect(a.serializedBytes(.pretty) == b.serializedBytes(.pretty))
        #expect(HTMLReport.render(a) == HTMLReport.render(b) && MarkdownReport.render(a) == MarkdownReport.render(b))
    }
}
