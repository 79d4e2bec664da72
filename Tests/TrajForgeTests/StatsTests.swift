import BPE
import ByteJSON
import Foundation
import Testing
@testable import TrajForge

/// Runs the stats stage on `inputs`; returns the report, the ledger and the rejects written.
func runStats(_ inputs: [String], options: StatsOptions = StatsOptions(), folder: String? = nil) throws -> (report: JSON, ledger: Ledger, rejects: [JSON]) {
    let dir = folder ?? temporaryFolder()
    let rejectsPath = dir + "/stats.rejects.jsonl"
    let rejects = try OutputFile(path: rejectsPath, compression: OutputCompression(.none))
    let collector = StatsCollector(options: options)
    try collector.run(inputs: inputs, rejects: rejects)
    try rejects.commit()
    return (collector.report, collector.ledger, try readJSONL(rejectsPath))
}

/// Nearest-rank percentile of sorted values, computed the plain way.
func nearestRank(_ sorted: [Int], _ q: Double) -> Int {
    sorted[max(1, Int((q * Double(sorted.count)).rounded(.up))) - 1]
}

@Suite struct StatsSketchTests {
    @Test func histogramIsExactBelowTheLimitAndMatchesLengthHistogram() {
        var h = QuantileHistogram()
        var reference = LengthHistogram()
        for n in 1...100 {
            h.add(n)
            reference.add(n)
        }
        for q in [0.01, 0.5, 0.9, 0.99, 1.0] { #expect(h.quantile(q) == Int64(reference.percentile(q)!)) }
        #expect(h.count == 100 && h.sum == 5050 && h.min == 1 && h.max == 100 && h.countAbove(95) == 5)
        #expect(QuantileHistogram().quantile(0.5) == nil)
    }

    @Test func largeValuesAreWithinTheStatedRelativeError() {
        var h = QuantileHistogram()
        var values: [Int] = []
        var x: UInt64 = 12345
        for _ in 0..<20_000 {
            x = x &* 6364136223846793005 &+ 1442695040888963407
            let v = Int(x >> 40) % 3_000_000
            values.append(v)
            h.add(v)
        }
        values.sort()
        for q in [0.5, 0.9, 0.99] {
            let exact = Double(nearestRank(values, q))
            let got = Double(h.quantile(q)!)
            #expect(got >= exact && (got - exact) <= exact * QuantileHistogram.relativeError + 1)
        }
        #expect(h.quantile(1) == Int64(values.last!) && h.min == Int64(values.first!))
        #expect(h.sum == Double(values.reduce(0, +)))
        // Buckets never straddle a boundary: every value of a bucket maps back to it.
        for v: UInt64 in [16_383, 16_384, 16_385, 32_767, 32_768, 1 << 40, (1 << 40) + 12_345] {
            let r = QuantileHistogram.range(QuantileHistogram.index(v))
            #expect(r.lo <= v && v <= r.hi)
        }
    }

    @Test func mergingEqualsAddingAndNegativesWork() {
        var a = QuantileHistogram(), b = QuantileHistogram(), all = QuantileHistogram()
        for v in [-500, -3, 0, 7, 20_000, 99] {
            a.add(v)
            all.add(v)
        }
        for v in [5, -7, 1 << 20] {
            b.add(v)
            all.add(v)
        }
        a.merge(b)
        #expect(a == all)
        #expect(all.quantile(0) == -500 && all.min == -500 && all.quantile(0.25) == -3)
        #expect(all.bins().reduce(0) { $0 + $1.count } == all.count)
    }

    @Test func distinctCounterIsExactThenEstimates() {
        var small = DistinctCounter()
        for k in 0..<1000 { small.add("task-\(k % 250)") }
        #expect(small.count == 250 && small.isExact)
        var big = DistinctCounter(exactCap: 1000)
        for k in 0..<200_000 { big.add("key-\(k)") }
        #expect(!big.isExact)
        #expect(abs(Double(big.count) - 200_000) / 200_000 < 0.05)
    }

    @Test func boundedTablesFoldTheRestIntoOther() {
        var counts = BoundedCounts(cap: 2)
        for key in ["a", "b", "a", "c", "d", "a"] { counts.add(key) }
        #expect(counts.sorted.map(\.key) == ["a", "b"] && counts.table.other == 2 && counts.total == 6)
        #expect(counts.json == ["a": 3, "b": 1, "(other)": 2])
    }

    @Test func topKKeepsTheLargestWithTiesByOrder() {
        var top = TopK<String>(k: 3)
        for (k, (name, score)) in [("a", 0.5), ("b", 0.9), ("c", 0.5), ("d", 0.1), ("e", 0.9), ("f", 0.5)].enumerated() {
            top.offer(name, score: score, ordinal: k)
        }
        #expect(top.sorted == ["b", "e", "a"] && top.offered == 6)
    }

    @Test func scriptsOfLetters() {
        var counts = [Int](repeating: 0, count: Script.allCases.count)
        Script.count("Hi Ünal! Где? 你好 ありがとう 안녕 مرحبا 123 🙂", into: &counts)
        #expect(counts[Script.latin.rawValue] == 6)
        #expect(counts[Script.cyrillic.rawValue] == 3)
        #expect(counts[Script.han.rawValue] == 2)
        #expect(counts[Script.kana.rawValue] == 5)
        #expect(counts[Script.hangul.rawValue] == 2)
        #expect(counts[Script.arabic.rawValue] == 5)
        #expect(counts.reduce(0, +) == 23)
    }

    @Test func formatting() {
        #expect(StatsFormat.grouped(1_234_567) == "1,234,567" && StatsFormat.grouped(-12) == "-12")
        #expect(StatsFormat.human(0.5) == "0.5" && StatsFormat.human(12_345.678) == "12,345.68" && StatsFormat.human(3) == "3")
        #expect(StatsFormat.percent(0.1234) == "12.3%" && StatsFormat.fixed(-0.04, 1) == "0.0" && StatsFormat.fixed(-1.25, 1) == "-1.3")
        #expect(StatsCollector.splitName("out/sft.train.jsonl.zst") == "train" && StatsCollector.splitName("splits/validation.jsonl") == "validation")
        #expect(StatsCollector.splitName("retail.jsonl") == "retail" && StatsCollector.splitName("eval-set.json") == "eval")
    }
}

@Suite struct StatsFixtureTests {
    let mixed = Paths.fixture("stats/mixed.jsonl")

    /// The fixture's lines, parsed independently (JSONSerialization); nil for lines that are not JSON.
    func fixtureLines() throws -> [[String: Any]?] {
        let text = try String(contentsOfFile: mixed, encoding: .utf8)
        return text.split(separator: "\n").map { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        }
    }

    @Test func everyKindIsSniffedAndBadLinesAreRejectedWithTheirPlace() throws {
        let (report, ledger, rejects) = try runStats([mixed])
        let lines = try fixtureLines()
        #expect(ledger.balances && ledger.input == lines.count)
        let byKind = report["records"]?["by_kind"]
        #expect(byKind?["trajectory"] == 3 && byKind?["sample"] == 2 && byKind?["pair"] == 3)
        #expect(byKind?["drop"] == 1 && byKind?["reject"] == 1 && byKind?["ledger"] == 0)
        // Three bad lines: not JSON, an unknown object, a trajectory that is not canonical.
        #expect(rejects.count == 3 && ledger.rejectedTotal == 3)
        let reasons = rejects.compactMap { $0["reason"]?.string }
        #expect(reasons == ["invalid-json", "unrecognized-format", "not-canonical"])
        let badLines = lines.indices.filter { k in
            guard let o = lines[k] else { return true }
            return o["hello"] != nil || (o["messages"] as? [[String: Any]])?.first?["role"] as? String == "robot"
        }.map { $0 + 1 }
        #expect(rejects.compactMap { $0["line"]?.int } == badLines)
        #expect(rejects.allSatisfy { $0["file"]?.string == mixed })
    }

    @Test func trajectoryFiguresMatchTheFixture() throws {
        let (report, _, _) = try runStats([mixed])
        let trajectories = try fixtureLines().compactMap { $0 }.filter { $0["messages"] != nil && $0["source"] != nil && ($0["id"] as? String) != "x" }
        #expect(trajectories.count == 3)
        let t = report["trajectories"]
        var success = 0, failure = 0, unknown = 0, calls = 0, results = 0, errors = 0, users = 0, assistants = 0
        var perTool: [String: (calls: Int, results: Int, errors: Int)] = [:]
        var messages: [Int] = []
        for o in trajectories {
            switch (o["outcome"] as? [String: Any])?["success"] as? Bool {
            case true?: success += 1
            case false?: failure += 1
            default: unknown += 1
            }
            let ms = o["messages"] as! [[String: Any]]
            messages.append(ms.count)
            var names: [String: String] = [:]
            for m in ms {
                switch m["role"] as! String {
                case "user": users += 1
                case "assistant":
                    assistants += 1
                    for c in m["tool_calls"] as? [[String: Any]] ?? [] {
                        calls += 1
                        names[c["id"] as! String] = c["name"] as? String
                        perTool[c["name"] as! String, default: (0, 0, 0)].calls += 1
                    }
                case "tool":
                    results += 1
                    let name = m["name"] as? String ?? names[m["tool_call_id"] as! String]!
                    let error = (m["content"] as? String ?? "").hasPrefix("Error")
                    if error { errors += 1 }
                    perTool[name, default: (0, 0, 0)].results += 1
                    if error { perTool[name, default: (0, 0, 0)].errors += 1 }
                default: break
                }
            }
        }
        #expect(t?["count"] == 3)
        #expect(t?["outcomes"]?["success"]?.int == success && t?["outcomes"]?["failure"]?.int == failure && t?["outcomes"]?["unknown"]?.int == unknown)
        #expect(t?["outcomes"]?["success_rate"]?.double == 0.5)
        #expect(t?["per_trajectory"]?["messages"]?["sum"]?.int == messages.reduce(0, +))
        #expect(t?["per_trajectory"]?["messages"]?["max"]?.int == messages.max())
        #expect(t?["per_trajectory"]?["user_turns"]?["sum"]?.int == users)
        #expect(t?["per_trajectory"]?["assistant_turns"]?["sum"]?.int == assistants)
        #expect(t?["tools"]?["calls"]?.int == calls && t?["tools"]?["results"]?.int == results && t?["tools"]?["errors"]?.int == errors)
        for row in t?["tools"]?["by_tool"]?.array ?? [] {
            let name = row["name"]!.string!
            #expect(row["calls"]?.int == perTool[name]?.calls && row["results"]?.int == perTool[name]?.results && row["errors"]?.int == perTool[name]?.errors)
        }
        #expect(t?["tools"]?["by_tool"]?.array?.count == perTool.count)
        #expect(t?["tasks"]?["count"] == 2)
        #expect(t?["reward"]?["count"] == 2 && t?["reward"]?["mean"]?.double == 0.5)
        let domains = t?["domains"]?.array ?? []
        #expect(domains.map { $0["domain"]!.string! } == ["shop", "travel"])
        #expect(domains.first?["trajectories"] == 2 && domains.first?["tasks"] == 1 && domains.first?["tool_errors"] == 2)
        let scripts = Dictionary(uniqueKeysWithValues: (t?["scripts"]?["by_script"]?.array ?? []).map { ($0["script"]!.string!, $0) })
        #expect(scripts["Latin"]?["trajectories"] == 1 && scripts["Cyrillic"]?["trajectories"] == 1)
        // 我的订单在哪里 (7 Han letters) outnumbers ありがとう (5 Kana letters).
        #expect(scripts["Han"]?["trajectories"] == 1 && scripts["Kana"]?["trajectories"] == 0 && scripts["Kana"]?["letters"] == 5)
        #expect(scripts["Cyrillic"]?["letters"] == 11)  // Где мой заказ: 3 + 3 + 5
    }

    @Test func samplesPairsAndTokens() throws {
        var options = StatsOptions()
        options.cutoff = 4
        let (report, _, _) = try runStats([mixed], options: options)
        #expect(report["samples"]?["count"] == 2 && report["samples"]?["forms"]?["tokenized"] == 2)
        let p = report["pairs"]
        #expect(p?["count"] == 3 && p?["forms"]?["trl-dpo"] == 1 && p?["forms"]?["trl-kto"] == 2)
        #expect(p?["kto_labels"]?["desirable"] == 1 && p?["kto_labels"]?["undesirable"] == 1)
        #expect(p?["chosen_from"]?["task"] == 1 && p?["chosen_from"]?["rollout"] == 2 && p?["deviation_kinds"]?["wrong-tool"] == 3)
        let splits = report["splits"]?.array ?? []
        let samples = splits.first { $0["kind"] == "sample" }
        #expect(samples?["split"] == "mixed" && samples?["records"] == 2)
        #expect(samples?["tokens"]?["measured"] == 2 && samples?["tokens"]?["max"] == 5 && samples?["tokens"]?["min"] == 3)
        #expect(samples?["tokens"]?["over_cutoff"] == 1 && samples?["supervised_tokens"]?["sum"] == 2)
        // Without a tokenizer, trajectories are not measured.
        let trajectories = splits.first { $0["kind"] == "trajectory" }
        #expect(trajectories?["tokens"]?["measured"] == 0 && trajectories?["tokens"]?["unmeasured"] == 3)
    }

    @Test func funnelFromLedgersAndDrops() throws {
        let dir = Paths.fixture("stats")
        let (report, ledger, _) = try runStats([dir + "/dedup.ledger.json", dir + "/ingest.ledger.json", dir + "/filter.ledger.json", dir + "/dedup.drops.jsonl"])
        #expect(ledger.balances && ledger.rejectedTotal == 0)
        let stages = report["funnel"]?["stages"]?.array ?? []
        #expect(stages.map { $0["stage"]!.string! } == ["ingest", "filter", "dedup", "split"])
        // Ledger figures, read back independently.
        for st in stages where st["source"] == "ledger" {
            let name = st["stage"]!.string!
            let raw = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(name).ledger.json"))) as! [String: Any]
            #expect(st["input"]?.int == raw["input"] as? Int && st["kept"]?.int == raw["kept"] as? Int)
            #expect(st["dropped_total"]?.int == (raw["dropped"] as! [String: Int]).values.reduce(0, +))
            #expect(st["rejected_total"]?.int == (raw["rejected"] as! [String: Int]).values.reduce(0, +))
        }
        #expect(stages[3]["source"] == "drops" && stages[3]["dropped"]?["contaminated"] == 2 && stages[3]["input"] == .null)
        #expect(stages[2]["listed_drops"] == 7 && report["funnel"]?["notes"]?.array?.isEmpty == true)
        // Clusters, computed from the drops file directly.
        var bySize: [String: (size: Int, exact: Int, near: Int)] = [:]
        for line in try String(contentsOfFile: dir + "/dedup.drops.jsonl", encoding: .utf8).split(separator: "\n") {
            let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            let reason = o["reason"] as! String
            guard reason.hasSuffix("-duplicate") else { continue }
            let d = o["details"] as! [String: Any]
            var c = bySize[d["kept"] as! String] ?? (d["cluster_size"] as! Int, 0, 0)
            if reason == "exact-duplicate" { c.exact += 1 } else { c.near += 1 }
            bySize[d["kept"] as! String] = c
        }
        let dup = report["funnel"]?["duplicates"]
        #expect(dup?["clusters"]?.int == bySize.count)
        #expect(dup?["exact_dropped"]?.int == bySize.values.reduce(0) { $0 + $1.exact })
        #expect(dup?["near_dropped"]?.int == bySize.values.reduce(0) { $0 + $1.near })
        let largest = dup?["largest"]?.array ?? []
        #expect(largest.map { $0["kept"]!.string! } == bySize.sorted { $0.value.size > $1.value.size }.map(\.key))
        for c in largest {
            let expected = bySize[c["kept"]!.string!]!
            #expect(c["size"]?.int == expected.size && c["exact"]?.int == expected.exact && c["near"]?.int == expected.near)
            #expect(expected.size - 1 == expected.exact + expected.near)  // the fixture's clusters are complete
        }
        #expect(dup?["near_jaccard"]?["min"] == 0.81 && dup?["near_jaccard"]?["max"] == 0.95)
        let contaminated = report["funnel"]?["contamination_drops"]
        #expect(contaminated?["count"] == 2 && contaminated?["largest"]?[0]?["id"] == "d8")
    }

    @Test func topClustersIsBoundedAndKeepsTheLargest() throws {
        var options = StatsOptions()
        options.topClusters = 1
        let (report, _, _) = try runStats([Paths.fixture("stats/dedup.drops.jsonl")], options: options)
        let largest = report["funnel"]?["duplicates"]?["largest"]?.array ?? []
        #expect(largest.count == 1 && largest[0]["kept"] == "k1" && largest[0]["exact"] == 2 && largest[0]["near"] == 1)
        #expect(report["funnel"]?["duplicates"]?["clusters"] == 3)
    }
}

extension JSON {
    /// Element `index` of an array (tests only).
    subscript(index: Int) -> JSON? {
        guard case .array(let a) = self, index < a.count else { return nil }
        return a[index]
    }
}
