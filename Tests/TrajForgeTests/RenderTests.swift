import BPE
import ByteJSON
import Foundation
import Jinja
import Testing
@testable import TrajForge

/// Renders `inputs` into samples (in memory) with the given template and options.
func runRender(_ inputs: [String], template: ChatTemplate, configure: (inout SFTRenderOptions) -> Void = { _ in }) throws -> (Ledger, [JSON], [JSON]) {
    let dir = temporaryFolder()
    var options = SFTRenderOptions()
    options.threads = 2
    configure(&options)
    let out = try OutputFile(path: dir + "/s.jsonl", compression: OutputCompression(.none))
    let drops = try OutputFile(path: dir + "/s.drops.jsonl", compression: OutputCompression(.none))
    let renderer = SFTRenderer(template: template, options: options)
    try renderer.run(inputs: inputs, output: out, rejects: nil, drops: drops, trace: nil)
    try out.commit()
    try drops.commit()
    return (renderer.ledger, try readJSONL(dir + "/s.jsonl"), try readJSONL(dir + "/s.drops.jsonl"))
}

/// Real retail trajectories for rendering tests: 16 of the file (every fourth task, so
/// successes, failures, retries and transfers all appear). Debug builds render slowly, so the
/// whole file (1,787 samples per template) is checked by `tools/dev test` with a release build.
enum RetailCorpus {
    static let all: [JSON] = try! readJSONL(runIngest([Paths.grok], format: .tauBench, tools: Paths.retailTools).output)
    static let path: String = {
        let chosen = all.enumerated().filter { $0.offset % 4 == 0 }.prefix(16).map(\.element)
        let path = temporaryFolder("retail-sample") + "/retail-sample.jsonl"
        var bytes: [UInt8] = []
        for r in chosen { bytes += r.serializedBytes() + [0x0A] }
        try! Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }()
    static let trajectories: [Trajectory] = try! readJSONL(path).map { try Trajectory(json: $0) }
    static var replies: Int { trajectories.reduce(0) { $0 + $1.messages.filter { $0.role == .assistant }.count } }
}

/// The text of each supervised span of a rendered sample.
func spanTexts(_ sample: JSON) -> [String] {
    let scalars = Array(sample["text"]!.string!.unicodeScalars)
    return sample["spans"]!.array!.map { pair in
        let a = pair.array![0].int!, b = pair.array![1].int!
        return String(String.UnicodeScalarView(scalars[a..<b]))
    }
}

/// Loads an upstream template from ../shared with a built-in's special tokens and tool form.
func upstream(_ builtin: BuiltinTemplate) throws -> ChatTemplate {
    let source = try String(contentsOfFile: Paths.shared + "/templates/" + builtin.upstream, encoding: .utf8)
    return try ChatTemplate(name: builtin.upstream, source: source, specialTokens: builtin.specialTokens.mapValues(JSON.string), toolForm: builtin.toolForm)
}

@Suite struct RenderTests {
    @Test(arguments: BuiltinTemplate.all.map(\.name))
    func builtinRendersLikeItsUpstreamTemplate(_ name: String) throws {
        let builtin = BuiltinTemplate.named(name)!
        let ours = try ChatTemplate.load(name)
        let theirs = try upstream(builtin)
        // Every per-turn sample of the real retail data: text and spans.
        let (_, a, _) = try runRender([RetailCorpus.path], template: ours)
        let (_, b, _) = try runRender([RetailCorpus.path], template: theirs)
        #expect(a.count == RetailCorpus.replies && b.count == RetailCorpus.replies)
        for (x, y) in zip(a, b) where x["text"] != y["text"] || x["spans"] != y["spans"] {
            Issue.record("\(name): sample \(x["id"]?.string ?? "?") differs from \(builtin.upstream)")
            break
        }
        // Whole conversations and edge cases: with and without tools and system prompt, JSON tool content.
        var cases = RetailCorpus.trajectories
        var bare = cleanTrajectory()
        bare.system = nil
        cases.append(bare)
        var noTools = cleanTrajectory()
        noTools.tools = []
        noTools.messages = [noTools.messages[0], noTools.messages[3]]
        cases.append(noTools)
        for t in cases {
            let count = ChatContext(t, template: ours, arguments: .object, variables: TemplateVariables(template: ours, extra: [:])).messageValues.count
            for gen in [false, true] {
                var s1 = RenderSession(t, template: ours, options: SFTRenderOptions(), tracing: false)
                var s2 = RenderSession(t, template: theirs, options: SFTRenderOptions(), tracing: false)
                let r1 = s1.render(count: gen ? count - 1 : count, generationPrompt: gen)
                let r2 = s2.render(count: gen ? count - 1 : count, generationPrompt: gen)
                switch (r1, r2) {
                case (.success(let x), .success(let y)): #expect(x == y, "\(name) on \(t.id), generation prompt \(gen)")
                case (.failure, .failure): break
                default: Issue.record("\(name) on \(t.id): one side raised")
                }
            }
        }
    }

    /// What each family renders for an assistant reply, written out by hand (Python json.dumps layout).
    static func expectedReply(_ m: Message, family: String) -> String {
        func py(_ v: JSON) -> String { v.serialized(.python) }
        let trimmed = (m.content ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        switch family {
        case "xlam2-llama":
            if m.toolCalls.isEmpty { return trimmed + "<|eot_id|>" }
            return "[" + m.toolCalls.map { #"{"name": "\#($0.name)", "arguments": "# + py(.object($0.arguments)) + "}" }.joined(separator: ", ") + "]<|eot_id|>"
        case "xlam2-qwen":
            if m.toolCalls.isEmpty { return trimmed + "<|im_end|>" }
            return "[" + m.toolCalls.map { py(["name": .string($0.name), "arguments": .object($0.arguments)]) }.joined(separator: ", ") + "]<|im_end|>"
        case "llama3.1":
            if m.toolCalls.isEmpty { return trimmed + "<|eot_id|>" }
            return #"{"name": "\#(m.toolCalls[0].name)", "parameters": "# + py(.object(m.toolCalls[0].arguments)) + "}<|eot_id|>"
        default:  // qwen2.5: the prompt ends with "<|im_start|>assistant\n"
            var text = m.content ?? ""
            for call in m.toolCalls {
                text += "\n<tool_call>\n" + #"{"name": "\#(call.name)", "arguments": "# + py(.object(call.arguments)) + "}\n</tool_call>"
            }
            if m.content?.isEmpty ?? true, !m.toolCalls.isEmpty { text.removeFirst() }
            return text + "<|im_end|>"
        }
    }

    @Test(arguments: ["xlam2-llama", "xlam2-qwen", "llama3.1", "qwen2.5"])
    func spansHoldExactlyTheRenderedReply(_ family: String) throws {
        let (ledger, samples, _) = try runRender([RetailCorpus.path], template: try ChatTemplate.load(family))
        #expect(ledger.output == RetailCorpus.replies && ledger.counters["spans found by prefix"] == RetailCorpus.replies)
        let byID = Dictionary(uniqueKeysWithValues: RetailCorpus.trajectories.map { ($0.id, $0) })
        for s in samples {
            let t = byID[s["trajectory_id"]!.string!]!
            let k = s["turns"]!.array![0].int!
            let spans = spanTexts(s)
            #expect(spans == [RenderTests.expectedReply(t.messages[k], family: family)], "\(s["id"]?.string ?? "")")
            if spans != [RenderTests.expectedReply(t.messages[k], family: family)] { break }
        }
    }

    @Test func allTurnsSupervisesEveryReplyInOneSample() throws {
        let template = try ChatTemplate.load("xlam2-llama")
        let (ledger, samples, _) = try runRender([RetailCorpus.path], template: template) { $0.mode = .allTurns }
        #expect(ledger.kept == RetailCorpus.trajectories.count && samples.count == RetailCorpus.trajectories.count)
        let (_, perTurn, _) = try runRender([RetailCorpus.path], template: template)
        let perTurnSpans = Dictionary(grouping: perTurn, by: { $0["trajectory_id"]!.string! }).mapValues { $0.flatMap(spanTexts) }
        for s in samples {
            #expect(spanTexts(s) == perTurnSpans[s["id"]!.string!]!)
            // The trailing ###STOP### user turn is not part of the sample.
            #expect(!s["text"]!.string!.hasSuffix("###STOP###<|eot_id|>"))
        }
    }

    @Test func templatesThatRewriteEarlierTextUseTheSentinel() throws {
        // Hermes' tool_use template is not prefix-stable after tool turns: its generation prompt
        // is not a prefix of the next render.
        let hermes = try ChatTemplate(name: "hermes", source: try String(contentsOfFile: Paths.shared + "/templates/Hermes-3-Llama-3.1-8B.tool_use.jinja", encoding: .utf8),
                                      specialTokens: ["bos_token": "<|begin_of_text|>", "eos_token": "<|im_end|>"])
        let (ledger, samples, drops) = try runRender([RetailCorpus.path], template: hermes)
        #expect(ledger.counters["spans found by sentinel", default: 0] > 0)
        #expect(ledger.output + drops.count == RetailCorpus.replies)
        for s in samples { #expect(spanTexts(s).allSatisfy { $0.hasSuffix("<|im_end|>") }) }
        // The vLLM Mistral template puts the tools before the last user turn, so renders through
        // later replies rewrite earlier text: all-turns refuses instead of misplacing spans.
        let mistral = try ChatTemplate(name: "mistral", source: try String(contentsOfFile: Paths.shared + "/templates/Mistral-7B-Instruct-v0.3-style.vllm.jinja", encoding: .utf8),
                                       specialTokens: ["bos_token": "<s>", "eos_token": "</s>"])
        let (allTurns, _, allDrops) = try runRender([RetailCorpus.path], template: mistral) { $0.mode = .allTurns }
        #expect(allTurns.dropped["not-prefix-stable", default: 0] > 0)
        #expect(allDrops.contains { $0["reason"] == "not-prefix-stable" })
        let (perTurn, mistralSamples, _) = try runRender([RetailCorpus.path], template: mistral)
        #expect(perTurn.output == RetailCorpus.replies)
        for s in mistralSamples { #expect(spanTexts(s).allSatisfy { $0.hasSuffix("</s>") }) }
    }

    @Test func templateErrorsDropTheSampleWithTheMessage() throws {
        var t = cleanTrajectory()
        // user, assistant text, user, assistant with two parallel calls, two results, assistant text
        t.messages = [
            Message(role: .user, content: "Hi"),
            Message(role: .assistant, content: "Hello, which order?"),
            Message(role: .user, content: "Orders 7 and 8"),
            Message(role: .assistant, content: nil, toolCalls: [ToolCall(id: "c1", name: "get_order", arguments: ["order_id": "7"]),
                                                                ToolCall(id: "c2", name: "get_order", arguments: ["order_id": "8"])]),
            Message(role: .tool, content: "shipped", toolCallID: "c1", name: "get_order"),
            Message(role: .tool, content: "pending", toolCallID: "c2", name: "get_order"),
            Message(role: .assistant, content: "7 shipped, 8 pending."),
        ]
        let path = temporaryFolder() + "/parallel.jsonl"
        try Data(t.json.serializedBytes() + [0x0A]).write(to: URL(fileURLWithPath: path))
        // Llama 3.1 allows one call per turn: every render through the parallel turn raises.
        let (ledger, samples, drops) = try runRender([path], template: try ChatTemplate.load("llama3.1"))
        #expect(samples.count == 1 && ledger.kept == 1 && ledger.output == 1)
        #expect(drops.map { $0["id"]?.string ?? "" } == [t.id + "#3", t.id + "#6"])
        #expect(drops.allSatisfy { $0["reason"] == "template-error" })
        #expect(drops[0]["detail"]?.string?.contains("only supports single tool-calls") == true)
        #expect(ledger.counters["samples dropped: template-error"] == 2)
    }

    @Test func dateIsPinnedAndOutputsAreDeterministic() throws {
        let llama32 = try ChatTemplate(name: "llama3.2", source: try String(contentsOfFile: Paths.shared + "/templates/Llama-3.2-3B-Instruct.jinja", encoding: .utf8),
                                       specialTokens: ["bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"])
        #expect(llama32.readsClock)
        let (_, samples, _) = try runRender([RetailCorpus.path], template: llama32) {
            $0.date = CivilDateTime(year: 2025, month: 4, day: 7)
        }
        #expect(samples[0]["text"]?.string?.contains("Today Date: 07 Apr 2025") == true)
        let (_, again, _) = try runRender([RetailCorpus.path], template: llama32) {
            $0.date = CivilDateTime(year: 2025, month: 4, day: 7)
            $0.threads = 1
        }
        #expect(again == samples)
    }

    @Test func conversationalOutputs() throws {
        let template = try ChatTemplate.load("xlam2-qwen")
        let (_, trl, _) = try runRender([RetailCorpus.path], template: template) { $0.output = .trl }
        #expect(trl.count == RetailCorpus.replies)
        #expect(trl[0]["completion"]?.array?.count == 1 && trl[0]["completion"]?.array?[0]["role"] == "assistant")
        #expect(trl[0]["prompt"]?.array?.first?["role"] == "system")
        #expect(trl[0]["tools"]?.array?.count == 16)
        let (_, share, _) = try runRender([RetailCorpus.path], template: template) { $0.output = .sharegpt }
        for r in share.prefix(200) {
            let last = r["conversations"]!.array!.last!["from"]!.string!
            #expect(last == "gpt" || last == "function_call")
        }
    }

    @Test func tokenLabelsAgreeWithTheSpans() throws {
        for (family, folder) in [("xlam2-llama", "llama-3.1"), ("xlam2-qwen", "qwen2.5")] {
            let template = try ChatTemplate.load(family)
            let tokenizer = try Tokenizer(tokenizerJSONPath: Paths.shared + "/tokenizers/" + folder)
            let (ledger, samples, drops) = try runRender([RetailCorpus.path], template: template) {
                $0.tokenization = TokenizationOptions(tokenizer: tokenizer, endOfTurn: template.endOfTurn)
            }
            #expect(drops.isEmpty && ledger.output == RetailCorpus.replies, "\(family)")
            for s in samples {
                let ids = s["input_ids"]!.array!.map { Int32($0.int!) }
                let labels = s["labels"]!.array!.map { $0.int! }
                #expect(ids == tokenizer.encode(s["text"]!.string!, parseSpecial: true))
                // The supervised tokens decode to exactly the span text.
                let supervised = zip(ids, labels).filter { $0.1 != -100 }.map(\.0)
                #expect(labels.filter { $0 != -100 }.map(Int32.init) == supervised)
                #expect(tokenizer.decode(supervised) == spanTexts(s).joined(), "\(family) \(s["id"]?.string ?? "")")
                #expect(template.endOfTurn.compactMap(tokenizer.id(forToken:)).contains(supervised.last!))
            }
        }
    }

    @Test func truncationNeverLeavesASampleWithoutSupervision() throws {
        let template = try ChatTemplate.load("xlam2-llama")
        let tokenizer = try Tokenizer(tokenizerJSONPath: Paths.shared + "/tokenizers/llama-3.1")
        func run(_ policy: Truncation, _ max: Int) throws -> (Ledger, [JSON], [JSON]) {
            try runRender([RetailCorpus.path], template: template) {
                var t = TokenizationOptions(tokenizer: tokenizer, endOfTurn: template.endOfTurn)
                t.maxTokens = max
                t.truncation = policy
                $0.tokenization = t
            }
        }
        let (dropped, kept, drops) = try run(.drop, 6000)
        #expect(dropped.output + drops.count == RetailCorpus.replies)
        #expect(dropped.counters["samples dropped: too-long", default: 0] > 0)
        #expect(kept.allSatisfy { $0["input_ids"]!.array!.count <= 6000 })
        #expect(drops.allSatisfy { $0["reason"] == "too-long" })
        let (end, endSamples, _) = try run(.keepEnd, 6000)
        #expect(end.output == RetailCorpus.replies && endSamples.allSatisfy { $0["input_ids"]!.array!.count <= 6000 })
        let (start, startSamples, startDrops) = try run(.keepStart, 6000)
        // Keeping the start cuts off the late replies entirely: those samples are dropped, never emitted empty.
        #expect(startDrops.allSatisfy { $0["reason"] == "no-supervised-tokens" } && !startDrops.isEmpty)
        #expect(startSamples.allSatisfy { $0["labels"]!.array!.contains { $0.int! != -100 } })
        #expect(start.output + startDrops.count == RetailCorpus.replies)
    }
}

/// Tool lists shared across a renderer's trajectories: only byte-identical lists may share.
@Suite struct SharedToolsTests {
    @Test func onlyByteIdenticalListsShare() throws {
        let shared = SharedTools(limit: 2)
        let composed = try JSON.parse(#"[{"name": "caf\u00e9", "parameters": {"a": 1, "b": 2.0}}]"#)
        let decomposed = try JSON.parse(#"[{"name": "cafe\u0301", "parameters": {"a": 1, "b": 2.0}}]"#)
        let reordered = try JSON.parse(#"[{"name": "caf\u00e9", "parameters": {"b": 2.0, "a": 1}}]"#)
        let otherNumber = try JSON.parse(#"[{"name": "caf\u00e9", "parameters": {"a": 1, "b": 2.00}}]"#)
        // Swift's String == calls the two spellings equal; they render differently.
        #expect(composed == decomposed)
        #expect(!exactlyEqual(composed, decomposed))
        #expect(!exactlyEqual(composed, reordered))
        #expect(!exactlyEqual(composed, otherNumber))
        #expect(exactlyEqual(composed, try JSON.parse(#"[{"name": "café", "parameters": {"a": 1, "b": 2.0}}]"#)))

        let first = shared.entry(for: composed)
        #expect(shared.entry(for: composed).cache === first.cache)
        #expect(shared.entry(for: decomposed).cache !== first.cache)
        // A third list pushes the oldest out (limit 2): it comes back as a new entry.
        _ = shared.entry(for: reordered)
        #expect(shared.entry(for: composed).cache !== first.cache)
    }
}

/// The token members are written as text straight into the sample line: they must read back as
/// the same JSON the value form (`fields`) serializes to.
@Suite struct TokenTextTests {
    @Test func decimalsAsSwiftWritesThem() {
        let values = [0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 9999, 10_000, 128_255, 151_642, Int(Int32.max),
                      -1, -9, -10, -99, -100, -101, 1_000_000_000_000_000_000, Int.max, Int.min + 1, Int.min]
        for v in values {
            var buffer = [UInt8](repeating: 0, count: 24)
            let written = buffer.withUnsafeMutableBufferPointer { b -> Int in
                var p = b.baseAddress!
                writeDecimal(v, &p)
                return p - b.baseAddress!
            }
            #expect(String(decoding: buffer[..<written], as: UTF8.self) == String(v))
        }
    }

    @Test func membersEqualTheirValueForm() throws {
        var rng = SystemRandomNumberGenerator()
        for form in LabelForm.allCases {
            for count in [0, 1, 2, 17, 1000] {
                let ids = (0..<count).map { _ in Int32.random(in: 0..<200_000, using: &rng) }
                let mask = (0..<count).map { _ in Bool.random(using: &rng) }
                let tokens = TokenizationOptions.Tokens(ids: ids, mask: mask, labels: form, total: count,
                                                        supervised: mask.filter { $0 }.count, truncated: false)
                var line: [UInt8] = Array(#"{"x":1"#.utf8)
                tokens.appendMembers(into: &line)
                line.append(UInt8(ascii: "}"))
                var expected: JSONObject = ["x": 1]
                for m in tokens.fields { expected[m.key] = m.value }
                #expect(line == JSON.object(expected).serializedBytes(.compact))
            }
        }
    }
}
