import ByteJSON
import Foundation
import Testing
@testable import TrajForge

/// What one dedup run wrote.
struct DedupRun {
    var ledger: Ledger
    var stats: DedupStats
    var output: [UInt8]
    var dropBytes: [UInt8]
    var kept: [JSON]
    var drops: [JSON]

    var keptIDs: [String] { kept.compactMap { $0["id"]?.string } }
    var droppedIDs: [String] { drops.compactMap { $0["id"]?.string } }
    func drop(_ id: String) -> JSON? { drops.first { $0["id"]?.string == id } }
}

/// Runs the dedup stage on files into a temporary folder.
func runDedup(_ inputs: [String], folder: String? = nil, _ configure: (inout DedupOptions) -> Void = { _ in }) throws -> DedupRun {
    let dir = folder ?? temporaryFolder()
    var options = DedupOptions()
    options.threads = 2
    configure(&options)
    let out = dir + "/dedup.jsonl", dropsPath = dir + "/dedup.drops.jsonl", rej = dir + "/dedup.rejects.jsonl"
    let output = try OutputFile(path: out, compression: OutputCompression(.none))
    let drops = try OutputFile(path: dropsPath, compression: OutputCompression(.none))
    let rejects = try OutputFile(path: rej, compression: OutputCompression(.none))
    let dedup = Deduplicator(options: options)
    try dedup.run(inputs: inputs, output: output, rejects: rejects, drops: drops)
    try output.commit()
    try drops.commit()
    try rejects.commit()
    return DedupRun(ledger: dedup.ledger, stats: dedup.stats, output: try readBytes(out), dropBytes: try readBytes(dropsPath),
                    kept: try readJSONL(out), drops: try readJSONL(dropsPath))
}

/// Writes trajectories as canonical JSONL.
func writeDedupInput(_ ts: [Trajectory], to path: String) throws {
    var bytes: [UInt8] = []
    for t in ts {
        JSONWriter.compact.write(t.json, into: &bytes)
        bytes.append(0x0A)
    }
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

/// A longer conversation than `cleanTrajectory()`, so one edited word leaves most shingles alone.
func chattyTrajectory(id: String = "chat-0", group: String? = "shop:9", success: Bool? = true) -> Trajectory {
    var t = cleanTrajectory()
    t.id = id
    t.group = group
    t.outcome = Outcome(success: success)
    t.messages = [
        Message(role: .user, content: "Hello there, I placed an order for a pair of blue hiking boots last week and it has still not arrived at my house"),
        Message(role: .assistant, content: "I am sorry to hear that your boots have not arrived yet. Could you please give me the order number so that I can look it up for you?"),
        Message(role: .user, content: "Sure, the order number is seven and I paid with my credit card ending in four two one"),
        Message(role: .assistant, content: nil, toolCalls: [ToolCall(id: "c1", name: "get_order", arguments: ["order_id": "7", "detail": "full"])]),
        Message(role: .tool, content: #"{"status": "shipped", "carrier": "parcel post", "eta": "tomorrow"}"#, toolCallID: "c1", name: "get_order"),
        Message(role: .assistant, content: "Thank you for waiting. Your order was shipped with parcel post and the tracking shows that it should be delivered to your address tomorrow before noon."),
        Message(role: .user, content: "That is great news, thank you very much for checking this for me so quickly"),
        Message(role: .assistant, content: "You are welcome. Is there anything else I can help you with today regarding this order or any other purchase?"),
    ]
    return t
}

@Suite struct DedupHashTests {
    /// Reference values from the `xxhash` Python package (4.1.0), `xxh64_intdigest(data, seed)`.
    @Test func xxh64MatchesTheReference() {
        #expect(XXH64.hash([UInt8]()) == 0xEF46_DB37_51D8_E999)
        #expect(XXH64.hash("a") == 0xD24E_C4F1_A98C_6E5B)
        #expect(XXH64.hash("abc") == 0x44BC_2CF5_AD77_0999)
        #expect(XXH64.hash("xxhash") == 0x32DD_3895_2C4B_C720)
        #expect(XXH64.hash("xxhash", seed: 20_141_025) == 0xB559_B98D_844E_0635)
        #expect(XXH64.hash("Nobody inspects the spammish repetition") == 0xFBCE_A83C_8A37_8BF1)
        #expect(XXH64.hash([UInt8]((0..<512).map { UInt8($0 & 0xFF) })) == 0x7B3B_FCAA_C034_8AC0)
        #expect(XXH64.hash("0123456789abcdefghijklmnopqrstuvwxyz0123456789", seed: 1) == 0x109D_9185_7E0D_2E3C)
        #expect(XXH64.hash("u:héllo wörld 日本") == 0x5E1F_710F_BCB9_1369)
    }

    @Test func splitMixIsStable() {
        var rng = SplitMix64(seed: 1)
        // First outputs of SplitMix64 seeded with 1 (Vigna's reference splitmix64.c).
        #expect(rng.next() == 0x910A_2DEC_8902_5CC1)
        #expect(rng.next() == 0xBEEB_8DA1_658E_EC67)
    }

    @Test func minHashEstimatesJaccard() {
        let hasher = MinHasher(permutations: 112, seed: 1)
        var rng = SplitMix64(seed: 42)
        // Sets of 400 with 0...400 shared elements: J = s / (800 - s).
        var errors: [Double] = []
        for shared in stride(from: 0, through: 400, by: 8) {
            let common = (0..<shared).map { _ in rng.next() }
            let a = common + (0..<(400 - shared)).map { _ in rng.next() }
            let b = common + (0..<(400 - shared)).map { _ in rng.next() }
            let truth = Double(shared) / Double(800 - shared)
            errors.append(MinHasher.estimate(hasher.signature(of: a), hasher.signature(of: b)) - truth)
        }
        // The standard error at J is sqrt(J(1-J)/112) ≤ 0.047: the mean error is near 0 and no
        // estimate is off by more than 4 standard errors.
        let mean = errors.reduce(0, +) / Double(errors.count)
        #expect(abs(mean) < 0.02)
        #expect(errors.allSatisfy { abs($0) < 0.19 })
        // Identical sets agree everywhere, whatever the order and repeats.
        let x: [UInt64] = (0..<50).map { _ in rng.next() }
        #expect(MinHasher.estimate(hasher.signature(of: x), hasher.signature(of: x.reversed() + x)) == 1)
        // The seed decides the permutations.
        #expect(hasher.signature(of: x) == MinHasher(permutations: 112, seed: 1).signature(of: x))
        #expect(hasher.signature(of: x) != MinHasher(permutations: 112, seed: 2).signature(of: x))
    }
}

@Suite struct DedupExactFormTests {
    @Test func idsOutcomeMetaAndWhitespaceDoNotCount() {
        let a = cleanTrajectory()
        var b = a
        b.id = "other-id"
        b.source = Provenance(format: "sharegpt", file: "elsewhere.json", line: 9)
        b.group = "shop:2"
        b.trial = 3
        b.domain = "store"
        b.outcome = Outcome(success: false)
        b.task = TaskSpec(instruction: "something else")
        b.meta = ["x": 1]
        b.system = "  # Shop agent policy\n"
        b.messages[0].content = "\tWhere is order 7?  "
        b.messages[0].meta = ["lang": "en"]
        b.messages[1].content = "   "  // no text and blank text are the same
        b.messages[1].toolCalls[0].id = "call_99"
        b.messages[1].toolCalls[0].arguments = ["limit": 2, "order_id": "7", "detail": "full"]  // key order
        b.messages[2].toolCallID = "call_99"
        #expect(ExactForm.bytes(of: a) == ExactForm.bytes(of: b))
        #expect(ExactForm.digest(of: a) == ExactForm.digest(of: b))
        // Arguments are in canonical JSON inside the form; the cache gives the same tools digest.
        let form = ExactForm.bytes(of: a)
        #expect(form.starts(with: Array("trajforge exact form 1\n".utf8)))
        let arguments = Array(#"{"detail":"full","limit":2,"order_id":"7"}"#.utf8)
        #expect(form.indices.contains { form[$0...].starts(with: arguments) })
        let cache = ToolsDigestCache()
        #expect(ExactForm.digest(of: a, cache: cache) == ExactForm.digest(of: a))
        #expect(ExactForm.digest(of: b, cache: cache) == ExactForm.digest(of: a))
    }

    @Test func conversationChangesCount() {
        let a = cleanTrajectory()
        func differs(_ change: (inout Trajectory) -> Void) -> Bool {
            var b = a
            change(&b)
            return ExactForm.digest(of: a) != ExactForm.digest(of: b)
        }
        #expect(differs { $0.messages[3].content = "It has shipped!" })
        #expect(differs { $0.messages[1].toolCalls[0].arguments["order_id"] = "8" })
        #expect(differs { $0.messages[1].toolCalls[0].arguments["order_id"] = 7 })
        #expect(differs { $0.messages[1].toolCalls[0].name = "cancel" })
        #expect(differs { $0.messages[2].name = "cancel" })
        #expect(differs { $0.messages.removeLast() })
        #expect(differs { $0.messages[0].role = .assistant })
        #expect(differs { $0.system = "# Other policy" })
        #expect(differs { $0.tools.removeLast() })
        #expect(differs { $0.messages[3].content = "It has  shipped." })  // inner whitespace is text
    }
}

@Suite struct DedupTopLevelTests {
    func range(_ text: String, _ key: String = "tools") -> String? {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { b in
            TopLevelMember.valueRange(of: Array(key.utf8), in: b).map { String(decoding: bytes[$0], as: UTF8.self) }
        }
    }

    @Test func findsTheTopLevelValueOnly() {
        #expect(range(#"{"id":"x","tools":[{"a":"]}"}],"m":1}"#) == #"[{"a":"]}"}]"#)
        #expect(range(#" { "a" : "say \"tools\": [1]" , "tools" : [ ] , "n" : { "tools" : 3 } } "#) == "[ ]")
        #expect(range(#"{"s":"a\\","tools":[2]}"#) == "[2]")  // an escaped backslash ends the string
        #expect(range(#"{"tools":null}"#) == "null")
        #expect(range(#"{"tools":-1.5e3}"#) == "-1.5e3")
        // Absent, nested only, twice, escaped keys, broken or trailing text: nil (parse normally).
        #expect(range(#"{"a":{"tools":[]}}"#) == nil)
        #expect(range(#"{"tools":[],"tools":[1]}"#) == nil)
        #expect(range(#"{"tool\u0073":[]}"#) == nil)
        #expect(range(#"{"tools":[1,2}"#) == nil)
        #expect(range(#"{"tools":[1]} x"#) == nil)
        #expect(range(#"["tools"]"#) == nil)
        #expect(range(#"{"a":"unterminated}"#) == nil)
        #expect(range("{}") == nil)
    }

    /// Records whose tools text was seen before are decoded without it: same facts, and a record
    /// broken elsewhere is still rejected.
    @Test func sharedToolsTextGivesTheSameResults() throws {
        let dir = temporaryFolder()
        var records: [Trajectory] = []
        for k in 0..<6 {
            var t = cleanTrajectory()
            t.id = "r\(k)"
            t.messages[0].content = "Question \(k) about an order of mine."
            records.append(t)
        }
        var copy = records[2]
        copy.id = "copy"
        records.append(copy)
        var otherTools = records[3]
        otherTools.id = "other-tools"
        otherTools.tools.removeLast()
        records.append(otherTools)
        var bytes: [UInt8] = []
        for t in records {
            JSONWriter.compact.write(t.json, into: &bytes)
            bytes.append(0x0A)
        }
        // Same tools text, but "messages" is not an array: not a trajectory.
        var broken = records[1].json.object!
        broken["id"] = "broken"
        broken["messages"] = "none"
        JSONWriter.compact.write(.object(broken), into: &bytes)
        bytes.append(0x0A)
        try Data(bytes).write(to: URL(fileURLWithPath: dir + "/in.jsonl"))
        // Exact dedup only (other-tools has the same shingles as r3: tools are not shingled).
        let run = try runDedup([dir + "/in.jsonl"], folder: dir) {
            $0.threads = 1
            $0.near = false
        }
        #expect(run.droppedIDs == ["copy"])
        #expect(run.keptIDs == ["r0", "r1", "r2", "r3", "r4", "r5", "other-tools"])
        #expect(run.ledger.rejected == ["not-canonical": 1])
        // The same digests as computed from whole trajectories.
        let cache = ToolsDigestCache()
        let facts = try readJSONL(dir + "/in.jsonl").prefix(8).map { try Trajectory(json: $0) }.map { ExactForm.digest(of: $0) }
        #expect(facts[2] == facts[6] && facts[3] != facts[7])
        #expect(ExactForm.digest(of: records[7], cache: cache) == facts[7])
    }
}

@Suite struct DedupShingleTests {
    @Test func conversationAwareShingles() {
        var t = cleanTrajectory()
        t.messages[0].content = "Where is ORDER 7? It's late, please check it now!"
        let s = Shingler(ngram: 5).strings(t)
        #expect(s == [
            "u:where is order 7 it", "u:is order 7 it s", "u:order 7 it s late", "u:7 it s late please",
            "u:it s late please check", "u:s late please check it", "u:late please check it now",
            #"call:get_order{"detail":"full","limit":2,"order_id":"7"}"#,
            #"arg:get_order.order_id="7""#, #"arg:get_order.detail="full""#, "arg:get_order.limit=2",
            "a:it has shipped",  // shorter than n: one shingle
        ])
        // Observations only when asked; the system prompt and tool schemas never.
        let o = Shingler(ngram: 2, observations: true).strings(t)
        #expect(o.contains("o:status shipped"))
        #expect(!o.contains { $0.contains("shop") || $0.contains("policy") })
        // The same words said by the user and by the assistant are different shingles.
        var u = t
        u.messages[3].role = .user
        #expect(Shingler().strings(u).last == "u:it has shipped")
        // Non-ASCII bytes are word bytes; only ASCII letters are lowercased.
        t.messages[0].content = "Ça coûte 5€ — DANKE schön"
        #expect(Shingler(ngram: 3).strings(t).prefix(3) == ["u:Ça coûte 5€", "u:coûte 5€ —", "u:5€ — danke"])
    }

    @Test func hashSetIsSortedAndDistinct() {
        var t = chattyTrajectory()
        t.messages.append(t.messages[0])
        let set = Shingler().hashSet(t)
        #expect(set == Array(Set(set)).sorted())
        var all: [UInt64] = []
        Shingler().hashes(t, into: &all)
        #expect(all.count > set.count)
        #expect(Set(all).count == set.count)
    }
}

@Suite struct DedupStageTests {
    @Test func exactDuplicatesWhateverTheirIdsAndWhitespace() throws {
        let dir = temporaryFolder()
        let a = cleanTrajectory()
        var copy = a
        copy.id = "copy-1"
        copy.outcome = Outcome(success: false)
        copy.messages[0].content = "  Where is order 7?\n"
        copy.messages[1].toolCalls[0].id = "zz"
        copy.messages[1].toolCalls[0].arguments = ["limit": 2, "detail": "full", "order_id": "7"]
        copy.messages[2].toolCallID = "zz"
        var other = a
        other.id = "other"
        other.messages[3].content = "It was delivered."
        try writeDedupInput([a, copy, other], to: dir + "/one.jsonl")
        var copy2 = a
        copy2.id = "copy-2"
        copy2.meta = ["note": "second file"]
        try writeDedupInput([copy2], to: dir + "/two.jsonl")

        let run = try runDedup([dir + "/one.jsonl", dir + "/two.jsonl"], folder: dir) { $0.near = false }
        #expect(run.keptIDs == [a.id, "other"])
        #expect(run.droppedIDs == ["copy-1", "copy-2"])
        #expect(run.drops.allSatisfy { $0["reason"] == "exact-duplicate" && $0["stage"] == "dedup" })
        #expect(run.drop("copy-1")?["details"] == ["kept": .string(a.id), "jaccard": 1.0, "cluster_size": 3])
        #expect(run.drop("copy-2")?["detail"] == .string("exact duplicate of \(a.id)"))
        #expect(run.ledger.summary == "dedup: in 4 = kept 2 + dropped 2 + rejected 0")
        #expect(run.ledger.dropped == ["exact-duplicate": 2])
        #expect(run.ledger.counters["clusters with duplicates"] == 1)
        #expect(run.ledger.counters["clusters of exact copies only"] == 1)
        #expect(run.ledger.counters["largest cluster"] == 3)
        // Kept records are written as they were read.
        #expect(run.kept[0] == a.json)
    }

    @Test func verifiedBeatsEarlier() throws {
        let dir = temporaryFolder()
        var first = cleanTrajectory()
        first.id = "first-failed"
        first.outcome = Outcome(success: false)
        var second = cleanTrajectory()
        second.id = "second-unknown"
        second.outcome = nil
        var third = cleanTrajectory()
        third.id = "third-verified"
        var fourth = cleanTrajectory()
        fourth.id = "fourth-verified"
        // A near-duplicate cluster too: the verified one comes last.
        let n1 = chattyTrajectory(id: "near-1", success: false)
        var n2 = chattyTrajectory(id: "near-2", success: true)
        n2.messages[2].content = "Sure, the order number is seven and I paid with my debit card ending in four two one"
        try writeDedupInput([first, n1, second, third, fourth, n2], to: dir + "/in.jsonl")
        let run = try runDedup([dir + "/in.jsonl"], folder: dir)
        #expect(run.keptIDs == ["third-verified", "near-2"])
        #expect(run.droppedIDs == ["first-failed", "near-1", "second-unknown", "fourth-verified"])
        for id in ["first-failed", "second-unknown", "fourth-verified"] {
            #expect(run.drop(id)?["details"]?["kept"] == "third-verified")
            #expect(run.drop(id)?["reason"] == "exact-duplicate")
        }
        let near = try #require(run.drop("near-1"))
        #expect(near["reason"] == "near-duplicate")
        #expect(near["details"]?["kept"] == "near-2")
        let jaccard = try #require(near["details"]?["jaccard"]?.double)
        #expect(jaccard >= 0.8 && jaccard < 1)
        #expect(near["detail"] == .string("near duplicate of near-2 (estimated Jaccard \(Deduplicator.fixed(jaccard, 4)))"))
        #expect(run.ledger.counters["clusters with duplicates"] == 2)
        #expect(run.ledger.counters["clusters of exact copies only"] == 1)
    }

    @Test func nearDuplicatesNeedTheThreshold() throws {
        let dir = temporaryFolder()
        let a = chattyTrajectory(id: "a")
        var oneWord = chattyTrajectory(id: "one-word")
        oneWord.messages[5].content = oneWord.messages[5].content!.replacingOccurrences(of: "noon", with: "lunch")
        var newArgument = chattyTrajectory(id: "new-argument")
        newArgument.messages[3].toolCalls[0].arguments["order_id"] = "8"
        var rewritten = chattyTrajectory(id: "rewritten")
        for k in [0, 2, 5, 6] { rewritten.messages[k].content = "Completely different words are used in this turn number \(k) of the talk" }
        var observed = chattyTrajectory(id: "other-observation")
        observed.messages[4].content = #"{"status": "lost", "carrier": "unknown"}"#
        try writeDedupInput([a, oneWord, newArgument, rewritten, observed], to: dir + "/in.jsonl")

        let run = try runDedup([dir + "/in.jsonl"], folder: dir)
        #expect(run.keptIDs == ["a", "rewritten"])
        #expect(run.droppedIDs == ["one-word", "new-argument", "other-observation"])
        #expect(run.drops.allSatisfy { $0["reason"] == "near-duplicate" && $0["details"]?["kept"] == "a" })
        // The tool observation alone differs: a near-duplicate without observations, an exact
        // duplicate never (observations are text of the conversation).
        #expect(run.drop("other-observation")?["details"]?["jaccard"] == 1.0)
        #expect(run.ledger.dropped == ["near-duplicate": 3])

        // With observations shingled, the changed result lowers the similarity.
        let withObservations = try runDedup([dir + "/in.jsonl"], folder: temporaryFolder()) { $0.shingleObservations = true }
        let j = try #require(withObservations.drop("other-observation")?["details"]?["jaccard"]?.double)
        #expect(j < 1)
        // At threshold 1 only the pair whose shingles are all the same is joined.
        let strict = try runDedup([dir + "/in.jsonl"], folder: temporaryFolder()) { $0.threshold = 1 }
        #expect(strict.droppedIDs == ["other-observation"])
        // Near-dedup off: nothing here is an exact duplicate.
        let exactOnly = try runDedup([dir + "/in.jsonl"], folder: temporaryFolder()) { $0.near = false }
        #expect(exactOnly.droppedIDs.isEmpty)
    }

    @Test func taskLimitKeepsVerifiedFirst() throws {
        let dir = temporaryFolder()
        var records: [Trajectory] = []
        for k in 0..<5 {
            var t = cleanTrajectory()
            t.id = "task-\(k)"
            t.group = "shop:1"
            t.outcome = Outcome(success: k >= 3)  // 3 and 4 are verified
            t.messages[0].content = "Question \(k): where is order \(k)?"
            t.messages[3].content = "Answer number \(k)."
            records.append(t)
        }
        var lone = cleanTrajectory()
        lone.id = "no-group"
        lone.group = nil
        lone.task = TaskSpec(instruction: "You are Ada.")
        records.append(lone)
        var sameInstruction = lone
        sameInstruction.id = "same-instruction"
        sameInstruction.messages[0].content = "Could you tell me where my order number 7 is right now?"
        sameInstruction.messages[3].content = "It shipped yesterday."
        records.append(sameInstruction)
        try writeDedupInput(records, to: dir + "/in.jsonl")

        let run = try runDedup([dir + "/in.jsonl"], folder: dir) { $0.maxPerTask = 2 }
        #expect(run.keptIDs == ["task-3", "task-4", "no-group", "same-instruction"])
        #expect(run.droppedIDs == ["task-0", "task-1", "task-2"])
        let d = try #require(run.drop("task-0"))
        #expect(d["reason"] == "task-limit")
        #expect(d["details"] == ["task": "shop:1", "limit": 2, "kept": ["task-3", "task-4"]])
        #expect(d["detail"] == "task shop:1 already has 2 kept records")
        #expect(run.ledger.counters["tasks over the limit"] == 1)

        let one = try runDedup([dir + "/in.jsonl"], folder: temporaryFolder()) { $0.maxPerTask = 1 }
        #expect(one.keptIDs == ["task-3", "no-group"])
        let byInstruction = try #require(one.drop("same-instruction"))
        #expect(byInstruction["details"]?["task"]?.string?.hasPrefix("instruction ") == true)
        #expect(byInstruction["details"]?["kept"] == ["no-group"])
        // Duplicates are removed before the limit counts: an exact copy does not use up the quota.
        var copy = records[3]
        copy.id = "copy-of-3"
        try writeDedupInput(records + [copy], to: dir + "/with-copy.jsonl")
        let withCopy = try runDedup([dir + "/with-copy.jsonl"], folder: temporaryFolder()) { $0.maxPerTask = 2 }
        #expect(withCopy.keptIDs == ["task-3", "task-4", "no-group", "same-instruction"])
        #expect(withCopy.ledger.dropped == ["task-limit": 3, "exact-duplicate": 1])
    }

    @Test func rejectsAndEmptyConversations() throws {
        let dir = temporaryFolder()
        var empty1 = cleanTrajectory()
        empty1.id = "empty-1"
        empty1.messages = []
        var empty2 = empty1
        empty2.id = "empty-2"
        empty2.system = "# Another policy"
        var bytes: [UInt8] = []
        for t in [empty1, empty2, empty1] {
            JSONWriter.compact.write(t.json, into: &bytes)
            bytes.append(0x0A)
        }
        bytes += Array("{\"id\": 1}\nnot json\n".utf8)
        try Data(bytes).write(to: URL(fileURLWithPath: dir + "/in.jsonl"))
        let run = try runDedup([dir + "/in.jsonl"], folder: dir)
        // Records without shingles are only exact-deduplicated (two empty conversations are not
        // near-duplicates of each other).
        #expect(run.keptIDs == ["empty-1", "empty-2"])
        #expect(run.droppedIDs == ["empty-1"])
        #expect(run.ledger.summary == "dedup: in 5 = kept 2 + dropped 1 + rejected 2")
        #expect(run.ledger.rejected == ["not-canonical": 1, "invalid-json": 1])
        #expect(run.ledger.counters["records without shingles"] == 2)
    }

    /// A pipe cannot be read twice: it is spooled, and records still name it.
    @Test func pipesAreSpooled() throws {
        let dir = temporaryFolder()
        let fifo = dir + "/pipe.jsonl"
        #expect(mkfifo(fifo, 0o600) == 0)
        var copy = cleanTrajectory()
        copy.id = "copy"
        var bytes: [UInt8] = []
        for t in [cleanTrajectory(), copy] {
            JSONWriter.compact.write(t.json, into: &bytes)
            bytes.append(0x0A)
        }
        bytes += Array("{}\n".utf8)
        let payload = bytes
        let writer = Thread {
            let fd = open(fifo, O_WRONLY)
            _ = payload.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            close(fd)
        }
        writer.start()
        let spoolDir = dir + "/spool"
        try FileManager.default.createDirectory(atPath: spoolDir, withIntermediateDirectories: true)
        let run = try runDedup([fifo], folder: dir) { $0.spoolDirectory = spoolDir }
        #expect(run.keptIDs == ["t-0000000000000000"])
        #expect(run.droppedIDs == ["copy"])
        #expect(try readJSONL(dir + "/dedup.rejects.jsonl").map { $0["file"] } == [.string(fifo)])
        #expect(try FileManager.default.contentsOfDirectory(atPath: spoolDir).isEmpty)
    }

    @Test func outputDoesNotDependOnThreadsOrBatches() throws {
        let dir = temporaryFolder()
        let corpus = DedupCorpus(seed: 5, originals: 300, exactCopies: 40, nearCopies: 120).records
        try writeDedupInput(corpus.map(\.trajectory), to: dir + "/in.jsonl")
        let reference = try runDedup([dir + "/in.jsonl"], folder: temporaryFolder()) { $0.threads = 1; $0.maxPerTask = 3 }
        #expect(reference.ledger.droppedTotal > 100)
        for (threads, batch) in [(2, 2048), (3, 7), (4, 1)] {
            let run = try runDedup([dir + "/in.jsonl"], folder: temporaryFolder()) {
                $0.threads = threads
                $0.maxPerTask = 3
                $0.limits = ReaderLimits(batchRecords: batch)
            }
            #expect(run.output == reference.output)
            #expect(run.dropBytes == reference.dropBytes)
            #expect(run.ledger == reference.ledger)
        }
    }
}

@Suite struct DedupBoundsTests {
    /// 100 records share their first band but agree on nothing else (estimated Jaccard 0.5): with
    /// 3 representatives per bucket, each newcomer is compared with at most 3 of them, and the rest
    /// are counted as past the limit.
    @Test func bucketWorkIsBounded() {
        let index = DedupIndex(permutations: 16)
        for k in 0..<100 {
            var f = RecordFacts()
            f.decoded = true
            f.id = "r\(k)"
            f.digest = Digest128(high: UInt64(k), low: 0)
            f.signature = [UInt16](repeating: 7, count: 8) + (0..<8).map { UInt16(1000 + 8 * k + $0) }
            index.append(f)
        }
        index.resolve(exact: true, near: true, bands: 2, rows: 8, threshold: 0.8, representatives: 3, maxPerTask: nil)
        #expect(index.stats.candidatePairs == 0 + 1 + 2 + 3 * 97)
        #expect(index.stats.bucketOverflow == 97)
        #expect(index.stats.clusters == 0)
        // At threshold 0.5 the first representative takes everyone: one comparison per newcomer.
        index.stats = DedupStats()
        index.resolve(exact: true, near: true, bands: 2, rows: 8, threshold: 0.5, representatives: 3, maxPerTask: nil)
        #expect(index.stats.candidatePairs == 99)
        #expect(index.stats.clusters == 1)
        #expect(index.stats.largestCluster == 100)
        #expect((0..<100).allSatisfy { index.keeper[$0] == 0 })
    }

    /// One huge cluster (400 one-word variants of a conversation) costs about one comparison per
    /// record, not one per pair.
    @Test func hugeClusterStaysLinear() throws {
        let dir = temporaryFolder()
        let words = ["parcel", "courier", "package", "box", "delivery", "shipment", "order", "crate"]
        var records: [Trajectory] = []
        for k in 0..<400 {
            var t = chattyTrajectory(id: "v\(k)", success: k == 250)
            t.messages[5].content = t.messages[5].content! + " Reference \(words[k % 8]) \(k / 8)."
            records.append(t)
        }
        try writeDedupInput(records, to: dir + "/in.jsonl")
        let run = try runDedup([dir + "/in.jsonl"], folder: dir)
        #expect(run.keptIDs == ["v250"])
        #expect(run.drops.count == 399)
        #expect(run.drops.allSatisfy { $0["details"]?["kept"] == "v250" && $0["details"]?["cluster_size"] == 400 })
        #expect(run.stats.candidatePairs < 2 * 400)
        #expect(run.ledger.counters["largest cluster"] == 400)
    }
}

@Suite(.serialized) struct DedupCLITests {
    @Test func standardInputIsSpooledForTheSecondPass() throws {
        let dir = temporaryFolder()
        var copy = cleanTrajectory()
        copy.id = "copy"
        var bytes: [UInt8] = []
        for t in [cleanTrajectory(), copy] {
            JSONWriter.compact.write(t.json, into: &bytes)
            bytes.append(0x0A)
        }
        bytes += Array("not json\n".utf8)
        let r = try CLI.run(["dedup", "-", "-o", dir + "/out.jsonl", "--spool-dir", dir], stdin: bytes)
        #expect(r.status == 0)
        #expect(r.stderr.contains("dedup: in 3 = kept 1 + dropped 1 + rejected 1"))
        #expect(r.stderr.contains("dropped 1: exact-duplicate"))
        #expect(try readJSONL(dir + "/out.jsonl").map { $0["id"] } == ["t-0000000000000000"])
        #expect(try readJSONL(dir + "/out.drops.jsonl").map { $0["id"] } == ["copy"])
        // Rejects name standard input, and the spool file is gone.
        #expect(try readJSONL(dir + "/out.rejects.jsonl").map { $0["file"] } == ["-"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["out.drops.jsonl", "out.jsonl", "out.rejects.jsonl"])
    }

    @Test func helpFitsTheTerminalAndOptionsAreChecked() throws {
        let help = try CLI.run(["dedup", "--help"])
        #expect(help.status == 0)
        let text = String(decoding: help.stdout, as: UTF8.self)
        #expect(text.contains("exact-duplicate") && text.contains("near-duplicate") && text.contains("task-limit"))
        #expect(text.split(separator: "\n").allSatisfy { $0.count <= 80 })
        for bad in [["--threshold", "0"], ["--threshold", "1.5"], ["--bands", "0"], ["--max-per-task", "0"], ["--ngram", "0"]] {
            let r = try CLI.run(["dedup"] + bad + [Paths.fixture("openai/messages.jsonl")])
            #expect(r.status == 64, "\(bad)")
        }
    }
}

@Suite struct RealDataDedupTests {
    /// The real tau-bench retail file, with copies of some rollouts injected: each copy gets a new
    /// id and provenance, another outcome, shuffled argument keys and extra whitespace.
    @Test func injectedCopiesAreAllFound() throws {
        let dir = temporaryFolder()
        let ingest = try runIngest([Paths.grok], format: .tauBench, tools: Paths.retailTools, folder: dir)
        let originals = try ingest.records.map { try Trajectory(json: $0) }
        #expect(originals.count == 115)
        var rng = SplitMix64(seed: 9)
        var mixed = originals
        var injected: [String: String] = [:]  // copy id -> original id
        for k in 0..<40 {
            var copy = originals[Int(rng.next() % UInt64(originals.count))]
            injected["copy-\(k)"] = copy.id
            copy.id = "copy-\(k)"
            copy.source = Provenance(format: "tau-bench", file: "copies.json", index: k)
            copy.outcome = Outcome(success: rng.next() % 2 == 0)
            copy.trial = 7
            for m in copy.messages.indices {
                if let c = copy.messages[m].content, rng.next() % 3 == 0 { copy.messages[m].content = "  " + c + "\n" }
                for c in copy.messages[m].toolCalls.indices {
                    copy.messages[m].toolCalls[c].arguments.members.reverse()
                    copy.messages[m].toolCalls[c].id += "-x"
                }
                if let id = copy.messages[m].toolCallID { copy.messages[m].toolCallID = id + "-x" }
            }
            // Anywhere, also before the original.
            mixed.insert(copy, at: Int(rng.next() % UInt64(mixed.count + 1)))
        }
        try writeDedupInput(mixed, to: dir + "/mixed.jsonl")

        let run = try runDedup([dir + "/mixed.jsonl"], folder: dir) { $0.near = false }
        let exact = run.drops.filter { $0["reason"] == "exact-duplicate" }
        #expect(exact.count == 40)
        // Every copy is caught, or its original is (when the copy came first or is verified and the original is not);
        // either way each dropped record names a kept record with the same content.
        let keptIDs = Set(run.keptIDs)
        #expect(keptIDs.count == 115)
        let byID = Dictionary(mixed.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        for d in exact {
            let dropped = try #require(byID[d["id"]!.string!])
            let kept = try #require(byID[d["details"]!["kept"]!.string!])
            #expect(keptIDs.contains(kept.id))
            #expect(ExactForm.digest(of: dropped) == ExactForm.digest(of: kept))
            let root = { (id: String) in injected[id] ?? id }
            #expect(root(dropped.id) == root(kept.id))
        }
        // With near-duplicate detection too, the copies are still exact duplicates.
        let full = try runDedup([dir + "/mixed.jsonl"], folder: temporaryFolder())
        #expect(full.ledger.dropped["exact-duplicate"] == 40)
    }

    /// The 115 rollouts are different tasks: some share long policy-driven passages, but none is a
    /// near-duplicate of another at 0.8, and dedup agrees with the exact Jaccard on that.
    @Test func realRolloutsAreNotNearDuplicates() throws {
        let ingest = try runIngest([Paths.grok], format: .tauBench, tools: Paths.retailTools)
        let ts = try ingest.records.map { try Trajectory(json: $0) }
        let sets = ts.map { Shingler().hashSet($0) }
        var highest = 0.0
        for i in sets.indices { for j in sets.indices where j > i { highest = max(highest, exactJaccard(sets[i], sets[j])) } }
        #expect(highest > 0.05 && highest < 0.8)
        let run = try runDedup([ingest.output])
        #expect(run.ledger.droppedTotal == 0)
        #expect(run.ledger.kept == 115)
    }
}

/// Exact Jaccard similarity of two sorted, distinct arrays.
func exactJaccard(_ a: [UInt64], _ b: [UInt64]) -> Double {
    if a.isEmpty && b.isEmpty { return 0 }
    var i = 0, j = 0, common = 0
    while i < a.count && j < b.count {
        if a[i] == b[j] {
            common += 1
            i += 1
            j += 1
        } else if a[i] < b[j] {
            i += 1
        } else {
            j += 1
        }
    }
    return Double(common) / Double(a.count + b.count - common)
}
