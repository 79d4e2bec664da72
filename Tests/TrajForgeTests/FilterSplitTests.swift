import BPE
import ByteJSON
import Foundation
import Testing
@testable import TrajForge

@Suite struct SensitiveTests {
    func kinds(_ text: String) -> [String] { SensitiveScanner.scan(text).map(\.kind.rawValue) }
    func values(_ text: String) -> [String] {
        let s = Array(text.unicodeScalars)
        return SensitiveScanner.scan(text).map { String(String.UnicodeScalarView(s[$0.range])) }
    }

    @Test func personalData() {
        #expect(values("Contact ada.l+x@example.co.uk, or bob@localhost.") == ["ada.l+x@example.co.uk"])
        #expect(kinds("call +1 (555) 123-4567 or 555-123-4567 or 555.123.4567 or 020 7946 0958") == ["phone", "phone", "phone", "phone"])
        #expect(kinds("card 4111 1111 1111 1111 and 4111111111111111 and 5500-0000-0000-0004") == ["card", "card", "card"])
        // Not personal data: ids and dates that look numeric.
        #expect(kinds("product 1008292230, order #W2378156, item 4111111111111112, on 2024-05-15, at 16:20:43") == [])
        #expect(kinds("user_id mia_li_3668 and credit_card_9513926") == [])
    }

    @Test func secrets() {
        #expect(kinds("key sk-proj-abcdefghijklmnopqrstuvwxyz123456 here") == ["api-key"])
        #expect(kinds("aws AKIAIOSFODNN7EXAMPLE x") == ["api-key"])
        #expect(kinds("ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789 and hf_AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh") == ["api-key", "api-key"])
        #expect(kinds("AIzaSyD-abcdefghijklmnopqrstuvwxyz012345 ok") == ["api-key"])
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
        #expect(kinds("token: \(jwt)") == ["token"])
        #expect(values("Authorization: Bearer abcdefghijklmnopqrstuvwxyz.0123") == ["abcdefghijklmnopqrstuvwxyz.0123"])
        #expect(kinds("-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----") == ["private-key"])
        #expect(kinds("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----") == [])
        #expect(values(#"{"password": "hunter2hunter2x9"}"#) == ["hunter2hunter2x9"])
        #expect(kinds("password: short1") == [])  // too short to be a credential
        #expect(kinds("the task-sk-learning module; sky-blue") == [])
    }

    @Test func redactionIsConsistentInsideATrajectory() throws {
        var t = cleanTrajectory()
        t.messages = [
            Message(role: .user, content: "I'm ada@example.com, my colleague is bob@example.com"),
            Message(role: .assistant, content: nil, toolCalls: [ToolCall(id: "c1", name: "find", arguments: ["email": "ada@example.com", "n": 1])]),
            Message(role: .tool, content: #"{"user": "ada_1", "email": "ada@example.com"}"#, toolCallID: "c1", name: "find"),
            Message(role: .assistant, content: "Found you, ada@example.com (not bob@example.com)."),
        ]
        var options = FilterOptions()
        options.personal = .redact
        var out = ItemOutput()
        #expect(Filter.handleSensitive(&t, options, &out) == nil)
        #expect(t.messages[0].content == "I'm <EMAIL_1>, my colleague is <EMAIL_2>")
        #expect(t.messages[1].toolCalls[0].arguments == ["email": "<EMAIL_1>", "n": 1])
        #expect(t.messages[2].content == #"{"user": "ada_1", "email": "<EMAIL_1>"}"#)
        #expect(t.messages[3].content == "Found you, <EMAIL_1> (not <EMAIL_2>).")
        #expect(out.counters["distinct email values redacted"] == 2)
        #expect(out.counters["email occurrences found"] == 6)
    }

    @Test func realRetailDataHasEmailsButNoFalsePhonesOrCards() throws {
        let run = try runIngest([Paths.grok], format: .tauBench, tools: Paths.retailTools)
        var found: [SensitiveKind: Int] = [:]
        for r in run.records {
            Filter.forEachText(in: try Trajectory(json: r)) { text in
                for span in SensitiveScanner.scan(text) { found[span.kind, default: 0] += 1 }
            }
        }
        #expect(found[.email, default: 0] > 100)
        #expect(found[.phone] == nil && found[.card] == nil)
        #expect(SensitiveKind.allCases.filter(\.isSecret).allSatisfy { found[$0] == nil })
    }
}

@Suite struct FilterTests {
    func filter(_ inputs: [String], _ configure: (inout FilterOptions) -> Void) throws -> (Ledger, [JSON], [JSON]) {
        let dir = temporaryFolder()
        var options = FilterOptions()
        options.threads = 2
        configure(&options)
        let out = try OutputFile(path: dir + "/f.jsonl", compression: OutputCompression(.none))
        let drops = try OutputFile(path: dir + "/f.drops.jsonl", compression: OutputCompression(.none))
        let f = Filter(options: options)
        try f.run(inputs: inputs, output: out, rejects: nil, drops: drops)
        try out.commit()
        try drops.commit()
        return (f.ledger, try readJSONL(dir + "/f.jsonl"), try readJSONL(dir + "/f.drops.jsonl"))
    }

    @Test func rulesOnRealRetailData() throws {
        let run = try runIngest([Paths.grok], format: .tauBench, tools: Paths.retailTools)
        let all = try run.records.map { try Trajectory(json: $0) }
        let input = [run.output]

        let (verified, kept, drops) = try filter(input) { $0.verified = .success }
        #expect(verified.kept == 78 && kept.count == 78 && drops.count == 37 && verified.dropped == ["not-verified": 37])
        let rActions = all.filter { $0.outcome?.checks["info"]?["r_actions"]?.double == 1 }.count
        #expect(try filter(input) { $0.verified = .check("info.r_actions") }.0.kept == rActions)
        let high = all.filter { ($0.outcome?.reward?.double ?? 0) >= 0.9 }.count
        #expect(try filter(input) { $0.verified = .reward(0.9) }.0.kept == high)

        let transfers = all.filter { $0.messages.contains { $0.toolCalls.contains { $0.name == "transfer_to_human_agents" } } }.count
        #expect(transfers > 0)
        #expect(try filter(input) { $0.denyTools = ["transfer_to_human_agents"] }.0.dropped == ["tool-excluded": transfers])
        let withErrors = all.filter { $0.messages.contains(where: Filter.isToolError) }.count
        #expect(try filter(input) { $0.maxToolErrors = 0 }.0.dropped == ["tool-errors": withErrors])
        #expect(try filter(input) { $0.domains = ["airline"] }.0.dropped == ["domain-excluded": 115])

        let turns = all.map(Filter.userAndAssistantTurns).sorted()
        let median = turns[turns.count / 2]
        let (byTurns, _, _) = try filter(input) { $0.turns = CountRange(min: median) }
        #expect(byTurns.kept == turns.filter { $0 >= median }.count)
        let calls = all.map(Filter.toolCallCount)
        #expect(try filter(input) { $0.toolCalls = CountRange(max: 5) }.0.kept == calls.filter { $0 <= 5 }.count)
    }

    @Test func tokenRangeUsesTheTokenizer() throws {
        let tokenizer = try Tokenizer(tokenizerJSONPath: Paths.shared + "/tokenizers/llama-3.1")
        let t = cleanTrajectory()
        let n = tokenizer.encode(Filter.measuredText(t), parseSpecial: false).count
        let dir = temporaryFolder()
        let path = dir + "/one.jsonl"
        try Data(t.json.serializedBytes() + [0x0A]).write(to: URL(fileURLWithPath: path))
        #expect(try filter([path]) { $0.tokenizer = tokenizer; $0.tokens = CountRange(max: n) }.0.kept == 1)
        let (ledger, _, drops) = try filter([path]) { $0.tokenizer = tokenizer; $0.tokens = CountRange(max: n - 1) }
        #expect(ledger.dropped == ["tokens-out-of-range": 1])
        #expect(drops[0]["details"]?["value"]?.int == n)
    }

    @Test func secretsAreDroppedByDefaultAndRedactedOnRequest() throws {
        var t = cleanTrajectory()
        t.messages[0].content = "my key is sk-abcdefghijklmnopqrstuvwxyz0123"
        let dir = temporaryFolder()
        let path = dir + "/secret.jsonl"
        try Data(t.json.serializedBytes() + [0x0A] + cleanTrajectory().json.serializedBytes() + [0x0A]).write(to: URL(fileURLWithPath: path))
        let (dropped, kept, drops) = try filter([path]) { _ in }
        #expect(dropped.kept == 1 && kept.count == 1 && drops[0]["reason"] == "secret-found")
        let (redacted, out, _) = try filter([path]) { $0.secrets = .redact }
        #expect(redacted.kept == 2)
        #expect(out[0]["messages"]?.array?[0]["content"] == "my key is <API_KEY_1>")
    }

    @Test func emptyTurnsAndRanges() throws {
        #expect(CountRange(parsing: "2:5") == CountRange(min: 2, max: 5))
        #expect(CountRange(parsing: ":5") == CountRange(max: 5) && CountRange(parsing: "2:") == CountRange(min: 2))
        #expect(CountRange(parsing: "5:2") == nil && CountRange(parsing: ":") == nil && CountRange(parsing: "x:1") == nil)
        var t = cleanTrajectory()
        t.messages[3].content = " "
        let path = temporaryFolder() + "/e.jsonl"
        try Data(t.json.serializedBytes() + [0x0A]).write(to: URL(fileURLWithPath: path))
        #expect(try filter([path]) { $0.dropEmptyTurns = true }.0.dropped == ["empty-turn": 1])
        #expect(try filter([path]) { _ in }.0.kept == 1)
    }
}

@Suite struct SplitTests {
    /// 120 task groups × 3 trials.
    func corpus() throws -> String {
        var bytes: [UInt8] = []
        for g in 0..<120 {
            for trial in 0..<3 {
                var t = cleanTrajectory()
                t.id = "shop-\(g)-t\(trial)-0000000000000000"
                t.group = "shop:\(g)"
                t.trial = trial
                t.messages[0].content = "Where is order \(g)? (trial \(trial))"
                bytes += t.json.serializedBytes() + [0x0A]
            }
        }
        let path = temporaryFolder() + "/corpus.jsonl"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    func split(_ inputs: [String], seed: UInt64 = 0, validation: Double = 0.2, test: Double = 0.1, threads: Int = 2,
               contamination: ContaminationIndex? = nil) throws -> (Ledger, [SplitName: [JSON]], [JSON])
    {
        let dir = temporaryFolder()
        var options = SplitOptions()
        options.seed = seed
        options.validation = validation
        options.test = test
        options.threads = threads
        options.contamination = contamination
        var files: [SplitName: OutputFile] = [:]
        for s in SplitName.allCases { files[s] = try OutputFile(path: dir + "/\(s.rawValue).jsonl", compression: OutputCompression(.none)) }
        let drops = try OutputFile(path: dir + "/drops.jsonl", compression: OutputCompression(.none))
        let splitter = Splitter(options: options)
        try splitter.run(inputs: inputs, outputs: files, rejects: nil, drops: drops)
        for f in files.values { try f.commit() }
        try drops.commit()
        var out: [SplitName: [JSON]] = [:]
        for s in SplitName.allCases { out[s] = try readJSONL(dir + "/\(s.rawValue).jsonl") }
        return (splitter.ledger, out, try readJSONL(dir + "/drops.jsonl"))
    }

    @Test func groupsNeverStraddleAndSharesAreClose() throws {
        let path = try corpus()
        let (ledger, out, _) = try split([path])
        #expect(ledger.kept == 360 && ledger.balances)
        var home: [String: SplitName] = [:]
        for (name, records) in out {
            for r in records {
                let g = r["group"]!.string!
                #expect(home[g] == nil || home[g] == name, "group \(g) straddles splits")
                home[g] = name
            }
        }
        #expect(home.count == 120)
        let validationGroups = home.values.filter { $0 == .validation }.count
        let testGroups = home.values.filter { $0 == .test }.count
        #expect(abs(validationGroups - 24) <= 12 && abs(testGroups - 12) <= 9)
    }

    @Test func sameSeedSameSplitWhateverTheThreadsDifferentSeedDifferent() throws {
        let path = try corpus()
        let a = try split([path], threads: 1).1
        let b = try split([path], threads: 4).1
        #expect(a == b)
        let c = try split([path], seed: 99).1
        #expect(a[.validation]!.map { $0["group"] } != c[.validation]!.map { $0["group"] })
    }

    @Test func contaminationAgainstRealTauBenchTasks() throws {
        let run = try runIngest([Paths.grok], format: .tauBench, tools: Paths.retailTools)
        let tasks = Paths.retail + "/tasks.json"
        let (index, notes) = try ContaminationIndex.load(paths: [tasks], n: 8)
        #expect(index.count == 635 && notes.count == 1)
        let (ledger, _, drops) = try split([run.output], contamination: index)
        // These rollouts were run on the test tasks: every one is flagged, with the overlap.
        #expect(ledger.dropped == ["contaminated": 115])
        #expect(drops[0]["details"]?["overlap"]?.double == 1.0)
        #expect(drops[0]["details"]?["eval_item"]?.string?.hasSuffix("test[0]") == true)

        // Against the train tasks only, nothing overlaps.
        let trainOnly = temporaryFolder() + "/train-tasks.json"
        let all = try JSON.parse(try readBytes(tasks))
        try Data(all["train"]!.serializedBytes()).write(to: URL(fileURLWithPath: trainOnly))
        let (trainIndex, _) = try ContaminationIndex.load(paths: [trainOnly], n: 8)
        #expect(try split([run.output], contamination: trainIndex).0.droppedTotal == 0)
    }
}
