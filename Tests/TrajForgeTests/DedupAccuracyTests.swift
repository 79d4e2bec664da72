import ByteJSON
import Foundation
import Testing
@testable import TrajForge

/// A generated corpus with known duplicates: tau-bench-like retail conversations (user and
/// assistant text over a synthetic Zipf vocabulary plus stock assistant phrases, tool calls with
/// order ids and reasons, tool results), exact copies (new ids, outcomes, whitespace), and near
/// copies (word edits, changed arguments, dropped turns; some copies of copies), shuffled.
struct DedupCorpus {
    struct Record {
        var trajectory: Trajectory
        /// For copies, the position (in `records`) of the record it was copied from.
        var origin: Int?
        var kind: String
    }

    var records: [Record] = []
    var rng: SplitMix64
    let vocabulary: [String]

    static let syllables = ["ka", "to", "mi", "ra", "ne", "lo", "su", "vi", "da", "pe", "qu", "zo", "ti", "ba", "fe", "go", "hu", "ji",
                            "le", "mo", "nu", "pa", "ri", "se", "ta", "ve", "wi", "xo", "ya", "ze", "an", "el", "in", "or", "us", "ex"]
    static let stock = [
        "I can help you with that.", "Could you please confirm your email address?", "Thank you for waiting.",
        "Is there anything else I can help you with today?", "Please confirm that you want to proceed (yes/no).",
        "I have found your account.", "Let me look up the order details for you.", "The request has been completed.",
    ]
    static let tools = ["get_order_details", "get_user_details", "cancel_pending_order", "return_delivered_order_items",
                        "modify_pending_order_address", "find_user_id_by_email", "list_all_product_types", "exchange_delivered_order_items"]
    static let reasons = ["no longer needed", "ordered by mistake", "wrong size", "found a better price", "arrived damaged"]

    init(seed: UInt64, originals: Int, exactCopies: Int, nearCopies: Int) {
        rng = SplitMix64(seed: seed)
        var words: [String] = []
        var seen = Set<String>()
        while words.count < 4000 {
            var w = ""
            for _ in 0...(Int(rng.next() % 3)) { w += DedupCorpus.syllables[Int(rng.next() % UInt64(DedupCorpus.syllables.count))] }
            if seen.insert(w).inserted { words.append(w) }
        }
        vocabulary = words
        for k in 0..<originals {
            records.append(Record(trajectory: original(k, tasks: max(1, originals / 3)), origin: nil, kind: "original"))
        }
        for _ in 0..<exactCopies {
            let from = pick(records.count)
            var t = records[from].trajectory
            t.outcome = Outcome(success: chance(0.7))
            if let first = t.messages.indices.first { t.messages[first].content = (t.messages[first].content ?? "") + "  " }
            records.append(Record(trajectory: t, origin: from, kind: "exact"))
        }
        for _ in 0..<nearCopies {
            // Mostly copies of originals, some copies of copies (chains).
            let from = chance(0.8) ? pick(originals) : pick(records.count)
            let (t, kind) = perturb(records[from].trajectory)
            records.append(Record(trajectory: t, origin: from, kind: kind))
        }
        // Shuffle (copies may come before what they copy), then give ids in the final order.
        var order = Array(records.indices)
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, pick(i + 1)) }
        var position = [Int](repeating: 0, count: order.count)
        for (p, r) in order.enumerated() { position[r] = p }
        records = order.map { r in
            var rec = records[r]
            rec.origin = rec.origin.map { position[$0] }
            return rec
        }
        for p in records.indices {
            records[p].trajectory.id = "gen-\(p)"
            records[p].trajectory.source = Provenance(format: "generated", file: "corpus", index: p)
        }
    }

    mutating func pick(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
    mutating func chance(_ p: Double) -> Bool { Double(rng.next() >> 11) / Double(1 << 53) < p }
    mutating func word() -> String {
        let u = Double(rng.next() >> 11) / Double(1 << 53)
        return vocabulary[min(vocabulary.count - 1, Int(u * u * u * Double(vocabulary.count)))]
    }
    mutating func sentence(_ lo: Int, _ hi: Int) -> String {
        (0..<(lo + pick(hi - lo + 1))).map { _ in word() }.joined(separator: " ") + "."
    }
    mutating func orderID() -> String { "#W\(1_000_000 + pick(9_000_000))" }

    mutating func call(_ k: Int) -> ToolCall {
        let name = DedupCorpus.tools[pick(DedupCorpus.tools.count)]
        var args: JSONObject = ["order_id": .string(orderID())]
        if chance(0.5) { args["user_id"] = .string("\(word())_\(word())_\(1000 + pick(9000))") }
        if chance(0.4) { args["reason"] = .string(DedupCorpus.reasons[pick(DedupCorpus.reasons.count)]) }
        if chance(0.3) { args["item_ids"] = .array((0..<(1 + pick(3))).map { _ in .string(String(1_000_000_000 + pick(900_000_000))) }) }
        return ToolCall(id: "call_\(k)", name: name, arguments: args)
    }

    mutating func original(_ k: Int, tasks: Int) -> Trajectory {
        var messages = [Message(role: .user, content: sentence(12, 35))]
        for r in 0..<(2 + pick(4)) {
            messages.append(Message(role: .assistant, content: (chance(0.5) ? DedupCorpus.stock[pick(DedupCorpus.stock.count)] + " " : "") + sentence(6, 25)))
            if chance(0.8) {
                let c = call(r)
                messages.append(Message(role: .assistant, content: nil, toolCalls: [c]))
                messages.append(Message(role: .tool, content: #"{"status": "\#(word())", "total": \#(pick(500)).\#(pick(100))}"#,
                                        toolCallID: c.id, name: c.name))
                messages.append(Message(role: .assistant, content: sentence(8, 30)))
            }
            messages.append(Message(role: .user, content: sentence(4, 20)))
        }
        messages.append(Message(role: .assistant, content: DedupCorpus.stock[pick(DedupCorpus.stock.count)]))
        return Trajectory(id: "", source: Provenance(format: "generated", file: "corpus"), group: "gen:\(pick(tasks))", trial: 0,
                          domain: "retail", system: "# Retail agent policy", tools: [], messages: messages,
                          outcome: Outcome(success: chance(0.7)))
    }

    /// Replaces `count` random words of user and assistant text.
    mutating func editWords(_ t: inout Trajectory, _ count: Int) {
        let texts = t.messages.indices.filter { t.messages[$0].role != .tool && t.messages[$0].content != nil }
        for _ in 0..<count {
            let m = texts[pick(texts.count)]
            var words = t.messages[m].content!.split(separator: " ").map(String.init)
            words[pick(words.count)] = word()
            t.messages[m].content = words.joined(separator: " ")
        }
    }

    mutating func perturb(_ source: Trajectory) -> (Trajectory, String) {
        var t = source
        t.outcome = Outcome(success: chance(0.7))
        switch pick(100) {
        case 0..<45:
            editWords(&t, 1 + pick(3))
            return (t, "word-edits")
        case 45..<60:
            let calls = t.messages.indices.filter { !t.messages[$0].toolCalls.isEmpty }
            if let m = calls.isEmpty ? nil : calls[pick(calls.count)] {
                t.messages[m].toolCalls[0].arguments["order_id"] = .string(orderID())
                if chance(0.5) { t.messages[m].toolCalls[0].arguments["reason"] = .string(DedupCorpus.reasons[pick(DedupCorpus.reasons.count)]) }
            }
            editWords(&t, pick(3))
            return (t, "argument-change")
        case 60..<75:
            let turns = t.messages.indices.filter { k in t.messages[k].role == .user && k > 0 }
            if !turns.isEmpty { t.messages.remove(at: turns[pick(turns.count)]) }
            return (t, "dropped-turn")
        case 75..<85:
            let turns = t.messages.indices.filter { k in t.messages[k].role == .assistant && t.messages[k].toolCalls.isEmpty }
            if !turns.isEmpty { t.messages.remove(at: turns[pick(turns.count)]) }
            editWords(&t, pick(3))
            return (t, "mixed")
        default:
            // A heavy rewrite: mostly below the threshold, so precision is tested too.
            editWords(&t, 10 + pick(21))
            return (t, "rewrite")
        }
    }
}

/// Union-find over record positions, with the dedup keep policy.
struct DedupUnionFind {
    var parent: [Int]
    init(_ n: Int) { parent = Array(0..<n) }
    func find(_ x: Int) -> Int {
        var x = x
        while parent[x] != x { x = parent[x] }
        return x
    }
    mutating func union(_ a: Int, _ b: Int) {
        let ra = find(a), rb = find(b)
        if ra != rb { parent[max(ra, rb)] = min(ra, rb) }
    }
    /// Keeps the first verified record of each cluster, else the first; returns the others.
    func removed(_ ts: [Trajectory]) -> Set<Int> {
        var kept = [Int: Int]()
        for i in ts.indices {
            let r = find(i)
            if let k = kept[r] {
                if ts[k].outcome?.success != true && ts[i].outcome?.success == true { kept[r] = i }
            } else {
                kept[r] = i
            }
        }
        return Set(ts.indices.filter { kept[find($0)] != $0 })
    }
}

/// Brute force: exact Jaccard of every pair of shingle sets (pairs sharing no shingle have
/// Jaccard 0), union-find over exact copies and pairs at or above `threshold`, the same keep policy.
/// Returns the removed positions and the exact Jaccard of every pair above 0.5 (for reporting).
func bruteForceRemoved(_ ts: [Trajectory], threshold: Double) -> (removed: Set<Int>, similarities: [Double]) {
    let n = ts.count
    var clusters = DedupUnionFind(n)
    var firstByDigest: [Digest128: Int] = [:]
    var representatives: [Int] = []
    for i in 0..<n {
        let d = ExactForm.digest(of: ts[i])
        if let f = firstByDigest[d] { clusters.union(i, f) } else {
            firstByDigest[d] = i
            representatives.append(i)
        }
    }
    let sets = ts.map { Shingler().hashSet($0) }
    var postings: [UInt64: [Int]] = [:]
    for i in representatives { for h in sets[i] { postings[h, default: []].append(i) } }
    var common = [Int](repeating: 0, count: n)
    var similarities: [Double] = []
    for i in representatives where !sets[i].isEmpty {
        var touched: [Int] = []
        for h in sets[i] {
            for j in postings[h]! where j > i {
                if common[j] == 0 { touched.append(j) }
                common[j] += 1
            }
        }
        for j in touched {
            let jaccard = Double(common[j]) / Double(sets[i].count + sets[j].count - common[j])
            if jaccard > 0.5 { similarities.append(jaccard) }
            if jaccard >= threshold { clusters.union(i, j) }
            common[j] = 0
        }
    }
    return (clusters.removed(ts), similarities)
}

@Suite struct DedupAccuracyTests {
    /// Near-duplicate detection against the brute-force truth at the same threshold, on 3,000
    /// generated records (2,000 originals, 250 exact copies, 750 near copies).
    @Test func nearDuplicatesMatchBruteForce() throws {
        let corpus = DedupCorpus(seed: 2024, originals: 2000, exactCopies: 250, nearCopies: 750)
        let ts = corpus.records.map(\.trajectory)
        let dir = temporaryFolder()
        try writeDedupInput(ts, to: dir + "/corpus.jsonl")
        let run = try runDedup([dir + "/corpus.jsonl"], folder: dir)
        let position = Dictionary(uniqueKeysWithValues: ts.enumerated().map { ($1.id, $0) })
        let ours = Set(run.droppedIDs.map { position[$0]! })
        let (truth, similarities) = bruteForceRemoved(ts, threshold: 0.8)

        // The truth is not trivial: many removals, and pairs on both sides of the threshold.
        #expect(truth.count > 700)
        let near = similarities.filter { abs($0 - 0.8) < 0.05 }.count
        #expect(near > 40)
        #expect(similarities.filter { $0 < 0.75 }.count > 40)

        let common = ours.intersection(truth).count
        let precision = Double(common) / Double(ours.count)
        let recall = Double(common) / Double(truth.count)
        #expect(precision >= 0.98, "precision \(precision) vs brute force")
        #expect(recall >= 0.98, "recall \(recall) vs brute force")

        // Against what the generator did (each copy in one cluster with what it copies, the same keep
        // policy), our precision and recall are within 2 points of the brute-force ones.
        var made = DedupUnionFind(ts.count)
        for (k, r) in corpus.records.enumerated() { if let o = r.origin { made.union(k, o) } }
        let generated = made.removed(ts)
        func score(_ removed: Set<Int>) -> (Double, Double) {
            let hits = removed.intersection(generated).count
            return (Double(hits) / Double(removed.count), Double(hits) / Double(generated.count))
        }
        let (ourPrecision, ourRecall) = score(ours)
        let (truthPrecision, truthRecall) = score(truth)
        #expect(abs(ourPrecision - truthPrecision) <= 0.02)
        #expect(abs(ourRecall - truthRecall) <= 0.02)
        print("dedup accuracy on \(ts.count) generated records: removed \(ours.count) (brute force \(truth.count)); "
            + "vs brute force precision \(Deduplicator.fixed(precision, 4)) recall \(Deduplicator.fixed(recall, 4)); "
            + "vs generator copies: ours P \(Deduplicator.fixed(ourPrecision, 4)) R \(Deduplicator.fixed(ourRecall, 4)), "
            + "brute force P \(Deduplicator.fixed(truthPrecision, 4)) R \(Deduplicator.fixed(truthRecall, 4)); "
            + "pairs within 0.05 of the threshold: \(near)")
    }
}
