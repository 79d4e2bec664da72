import BPE
import ByteJSON
import Foundation
import Jinja
import Testing
@testable import TrajForge

/// A small shop task: look the order up, confirm, cancel it. The verified rollout does exactly
/// that; the failing variants each go wrong in one way.
enum Shop {
    static let tools: [JSON] = [
        ["type": "function", "function": ["name": "get_order", "description": "Look an order up.",
                                          "parameters": ["type": "object", "properties": ["order_id": ["type": "string"]], "required": ["order_id"]]]],
        ["type": "function", "function": ["name": "cancel_order", "description": "Cancel a pending order.",
                                          "parameters": ["type": "object", "properties": ["order_id": ["type": "string"], "reason": ["type": "string"]],
                                                         "required": ["order_id", "reason"]]]],
        ["type": "function", "function": ["name": "refund_order", "description": "Refund a delivered order.",
                                          "parameters": ["type": "object", "properties": ["order_id": ["type": "string"]], "required": ["order_id"]]]],
    ]
    static let task = TaskSpec(instruction: "Cancel order 7 because you no longer need it.",
                               actions: [["name": "get_order", "arguments": ["order_id": "7"]],
                                         ["name": "cancel_order", "arguments": ["order_id": "7", "reason": "no longer needed"]]])

    static func call(_ id: String, _ name: String, _ args: JSONObject) -> Message {
        Message(role: .assistant, content: nil, toolCalls: [ToolCall(id: id, name: name, arguments: args)])
    }

    static func result(_ id: String, _ name: String, _ text: String) -> Message {
        Message(role: .tool, content: text, toolCallID: id, name: name)
    }

    /// The verified conversation (indices matter: messages[5] is the cancellation).
    static let good: [Message] = [
        Message(role: .user, content: "Please cancel order 7, reason: no longer needed."),
        call("c1", "get_order", ["order_id": "7"]),
        result("c1", "get_order", #"{"order_id": "7", "status": "pending"}"#),
        Message(role: .assistant, content: "Order 7 is pending. Shall I cancel it with reason 'no longer needed'?"),
        Message(role: .user, content: "Yes, please go ahead."),
        call("c2", "cancel_order", ["order_id": "7", "reason": "no longer needed"]),
        result("c2", "cancel_order", #"{"order_id": "7", "status": "cancelled"}"#),
        Message(role: .assistant, content: "Order 7 is cancelled."),
    ]

    static func rollout(_ name: String, success: Bool, task: TaskSpec? = Shop.task, _ edit: (inout [Message]) -> Void = { _ in }) -> Trajectory {
        var messages = good
        edit(&messages)
        var t = Trajectory(id: "shop-1-\(name)", source: Provenance(format: "openai", file: "fixture"), group: "shop:1", trial: 0, domain: "shop",
                           system: "# Shop policy\nConfirm before any cancellation.", tools: tools, messages: messages,
                           outcome: Outcome(success: success))
        t.task = task
        return t
    }

    static let verified = rollout("verified", success: true)
    static let wrongArguments = rollout("wrong-arguments", success: false) {
        $0[5] = call("c2", "cancel_order", ["order_id": "8", "reason": "no longer needed"])
        $0[6] = result("c2", "cancel_order", #"{"order_id": "8", "status": "cancelled"}"#)
    }
    static let wrongTool = rollout("wrong-tool", success: false) {
        $0[5] = call("c2", "refund_order", ["order_id": "7"])
        $0[6] = result("c2", "refund_order", "Error: order 7 is not delivered")
    }
    /// Says it cancelled, never calls the tool.
    static let textInstead = rollout("text-instead", success: false) {
        $0.removeSubrange(5...)
        $0.append(Message(role: .assistant, content: "Done: order 7 is cancelled."))
    }
    /// The user never confirms; the agent never acts.
    static let unconfirmed = rollout("unconfirmed", success: false) {
        $0[4] = Message(role: .user, content: "Hmm, let me think about it first.")
        $0.removeSubrange(5...)
        $0.append(Message(role: .assistant, content: "Of course, take your time."))
    }
    /// Everything right, and then a refund nobody asked for.
    static let extraWrite = rollout("extra-write", success: false) {
        $0.append(Message(role: .user, content: "Thanks."))
        $0.append(call("c3", "refund_order", ["order_id": "7"]))
        $0.append(result("c3", "refund_order", "Error: nothing to refund"))
    }
    /// The same calls as the reference; failed for another reason (a required output).
    static let noDeviation = rollout("no-deviation", success: false)
    /// Extra lookups before the wrong cancellation: reads are exploration, never compared.
    static let extraReads = rollout("extra-reads", success: false) {
        $0.insert(call("c0", "get_order", ["order_id": "6"]), at: 1)
        $0.insert(result("c0", "get_order", #"{"order_id": "6", "status": "delivered"}"#), at: 2)
        $0[7] = call("c2", "cancel_order", ["order_id": "7", "reason": "ordered by mistake"])
    }
}

/// Runs the pairs stage over `rollouts` (one JSONL file) and returns its ledger, records, drops
/// and statistics.
func runPairs(_ rollouts: [Trajectory], files: Int = 1, configure: (inout PairOptions) -> Void = { _ in },
              buckets: Int = 8) throws -> (ledger: Ledger, records: [JSON], drops: [JSON], statistics: PairStatistics, bytes: [UInt8])
{
    let dir = temporaryFolder()
    var inputs: [String] = []
    for f in 0..<files {
        var bytes: [UInt8] = []
        for (k, t) in rollouts.enumerated() where k % files == f { bytes += t.json.serializedBytes() + [0x0A] }
        let path = dir + "/in-\(f).jsonl"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        inputs.append(path)
    }
    var options = PairOptions()
    options.threads = 2
    configure(&options)
    let out = try OutputFile(path: dir + "/pairs.jsonl", compression: OutputCompression(.none))
    let drops = try OutputFile(path: dir + "/pairs.drops.jsonl", compression: OutputCompression(.none))
    let builder = PairBuilder(options: options)
    try builder.run(inputs: inputs, output: out, rejects: nil, drops: drops, buckets: buckets)
    try out.commit()
    try drops.commit()
    return (builder.ledger, try readJSONL(dir + "/pairs.jsonl"), try readJSONL(dir + "/pairs.drops.jsonl"), builder.statistics,
            try readBytes(dir + "/pairs.jsonl"))
}

/// The reason each rollout was dropped, by id.
func dropReasons(_ drops: [JSON]) -> [String: String] {
    Dictionary(uniqueKeysWithValues: drops.map { ($0["id"]!.string!, $0["reason"]!.string!) })
}

@Suite struct PairsTests {
    @Test func wrongArgumentsIsCorrectedWithTheReferenceCall() throws {
        let run = try runPairs([Shop.verified, Shop.wrongArguments])
        #expect(run.records.count == 1)
        let pair = run.records[0]
        #expect(pair["id"] == "shop-1-wrong-arguments#5")
        #expect(pair["deviation"] == ["kind": "wrong-arguments", "tool": "cancel_order", "arguments": ["order_id"], "position": 5])
        // The prompt is the failed rollout's own prefix, system first.
        let prompt = pair["prompt"]!.array!
        #expect(prompt.count == 6 && prompt[0]["role"] == "system" && prompt[5]["content"] == "Yes, please go ahead.")
        // Chosen: the reference call with a call id the prompt does not use; rejected: the rollout's call.
        let chosen = pair["chosen"]!.array![0]["tool_calls"]!.array![0]
        #expect(chosen["function"]?["name"] == "cancel_order")
        #expect(chosen["function"]?["arguments"] == ["order_id": "7", "reason": "no longer needed"])
        #expect(chosen["id"] == "call00001")
        #expect(pair["rejected"]!.array![0]["tool_calls"]!.array![0]["function"]?["arguments"] == ["order_id": "8", "reason": "no longer needed"])
        #expect(pair["sources"] == ["chosen": "task", "rejected": "shop-1-wrong-arguments"])
        #expect(pair["tools"]!.array!.count == 3)
        // The verified rollout is not needed when the task carries its actions.
        #expect(dropReasons(run.drops) == ["shop-1-verified": "verified-unused"])
        #expect(run.ledger.input == 2 && run.ledger.kept == 1 && run.ledger.droppedTotal == 1 && run.ledger.output == 1)
        #expect(run.statistics.wrongArguments == ["cancel_order.order_id": 1])
    }

    @Test func everyDeviationKindAndEveryFailure() throws {
        let all = [Shop.verified, Shop.wrongArguments, Shop.wrongTool, Shop.textInstead, Shop.unconfirmed, Shop.extraWrite,
                   Shop.noDeviation, Shop.extraReads]
        let run = try runPairs(all)
        let kinds = Dictionary(uniqueKeysWithValues: run.records.map { ($0["sources"]!["rejected"]!.string!, $0["deviation"]!["kind"]!.string!) })
        #expect(kinds == ["shop-1-wrong-arguments": "wrong-arguments", "shop-1-wrong-tool": "wrong-tool",
                          "shop-1-text-instead": "missing-action", "shop-1-extra-reads": "wrong-arguments"])
        #expect(dropReasons(run.drops) == ["shop-1-verified": "verified-unused", "shop-1-unconfirmed": "missing-action-not-confirmed",
                                           "shop-1-extra-write": "extra-write", "shop-1-no-deviation": "no-deviation-found"])
        // Wrong tool: the due reference action is offered instead.
        let wrongTool = run.records.first { $0["sources"]?["rejected"] == "shop-1-wrong-tool" }!
        #expect(wrongTool["chosen"]!.array![0]["tool_calls"]!.array![0]["function"]?["name"] == "cancel_order")
        #expect(wrongTool["rejected"]!.array![0]["tool_calls"]!.array![0]["function"]?["name"] == "refund_order")
        // Missing action: anchored at the text reply right after the user's "yes".
        let missing = run.records.first { $0["sources"]?["rejected"] == "shop-1-text-instead" }!
        #expect(missing["deviation"]?["position"] == 5)
        #expect(missing["rejected"]!.array![0]["content"] == "Done: order 7 is cancelled.")
        // Reads are not compared: the extra lookup shifts the position, the argument is `reason`.
        let reads = run.records.first { $0["sources"]?["rejected"] == "shop-1-extra-reads" }!
        #expect(reads["deviation"]?["position"] == 7 && reads["deviation"]?["arguments"] == ["reason"])
        // Nothing lost: each rollout is kept or dropped once.
        #expect(run.ledger.input == all.count && run.ledger.balances && run.ledger.rejectedTotal == 0)
        #expect(run.statistics.unpaired == ["missing-action": 1, "wrong-tool": 1])
    }

    @Test func verifiedRolloutStandsInForMissingGroundTruth() throws {
        var verified = Shop.verified
        verified.task = TaskSpec(instruction: Shop.task.instruction)
        var failed = Shop.wrongArguments
        failed.task = verified.task
        let run = try runPairs([failed, verified])
        #expect(run.records.count == 1)
        #expect(run.records[0]["sources"] == ["chosen": "shop-1-verified", "rejected": "shop-1-wrong-arguments"])
        #expect(run.ledger.kept == 2 && run.drops.isEmpty)
        // Without either, the failed rollout says why.
        let alone = try runPairs([failed])
        #expect(dropReasons(alone.drops) == ["shop-1-wrong-arguments": "reference-missing"])
    }

    @Test func ambiguousAlignmentIsRefused() throws {
        var task = Shop.task
        task.actions.append(["name": "cancel_order", "arguments": ["order_id": "9", "reason": "no longer needed"]])
        task.actions.append(["name": "cancel_order", "arguments": ["order_id": "7", "reason": "duplicate"]])
        var t = Shop.rollout("ambiguous", success: false, task: task) {
            $0[5] = Shop.call("c2", "cancel_order", ["order_id": "8", "reason": "no longer needed"])
        }
        t.group = "shop:2"
        let run = try runPairs([t])
        // Two reference cancellations share one argument value with the call: no honest pick.
        #expect(run.records.isEmpty)
        #expect(dropReasons(run.drops) == ["shop-1-ambiguous": "ambiguous-alignment"])
    }

    @Test func firstDivergence() throws {
        // Identical contexts, then a text reply where the verified rollout acted.
        let run = try runPairs([Shop.verified, Shop.textInstead], configure: { $0.strategy = .firstDivergence })
        #expect(run.records.count == 1)
        let pair = run.records[0]
        #expect(pair["deviation"] == ["kind": "text-instead-of-action", "tool": "cancel_order", "arguments": [], "position": 5])
        #expect(pair["sources"] == ["chosen": "shop-1-verified", "rejected": "shop-1-text-instead"])
        #expect(pair["prompt"]!.array!.count == 6)
        #expect(pair["chosen"]!.array![0]["tool_calls"]!.array![0]["id"] == "c2")
        #expect(run.ledger.kept == 2)

        // Two text replies after the same context: a plain divergence.
        let other = Shop.rollout("other-text", success: false) {
            $0[3] = Message(role: .assistant, content: "Order 7 is pending. I cancelled it.")
            $0.removeSubrange(4...)
        }
        let divergence = try runPairs([Shop.verified, other], configure: { $0.strategy = .firstDivergence })
        #expect(divergence.records.first?["deviation"]?["kind"] == "divergence")

        // A different user turn first: the contexts are not the same, so no pair.
        let userFirst = Shop.rollout("user-first", success: false) {
            $0[4] = Message(role: .user, content: "No, wait. Refund it instead.")
            $0[5] = Shop.call("c2", "refund_order", ["order_id": "7"])
        }
        let refused = try runPairs([Shop.verified, userFirst], configure: { $0.strategy = .firstDivergence })
        #expect(refused.records.isEmpty)
        #expect(dropReasons(refused.drops) == ["shop-1-user-first": "user-diverged-first", "shop-1-verified": "verified-unused"])

        #expect(refused.statistics.candidatesRejected == ["user-diverged-first": 1])

        // A failed rollout with no verified one to compare with.
        let lonely = try runPairs([Shop.wrongTool], configure: { $0.strategy = .firstDivergence })
        #expect(dropReasons(lonely.drops) == ["shop-1-wrong-tool": "no-verified-rollout"])
    }

    @Test func wholeTrajectoriesAndKTO() throws {
        let run = try runPairs([Shop.verified, Shop.wrongTool], configure: { $0.strategy = .trajectory })
        #expect(run.records.count == 1)
        let pair = run.records[0]
        // The shared opening user turn is the prompt; each side runs to its last assistant turn.
        #expect(pair["prompt"]!.array!.count == 2)
        #expect(pair["chosen"]!.array!.count == 7 && pair["rejected"]!.array!.last?["role"] == "assistant")

        // Per-message flags: the user and tool turns inside a completion are context only.
        #expect(pair["chosen_supervised"] == [true, false, true, false, true, false, true])
        #expect(pair["chosen"]!.array!.map { $0["role"]!.string! } == ["assistant", "tool", "assistant", "user", "assistant", "tool", "assistant"])

        // Rendered: the labels cover the assistant turns only, never the user's words.
        let template = try ChatTemplate.load("xlam2-llama")
        let tokenizer = try Tokenizer(tokenizerJSONPath: Paths.shared + "/tokenizers/xlam-2-fc-r-llama")
        let rendered = try runPairs([Shop.verified, Shop.wrongTool], configure: {
            $0.strategy = .trajectory
            $0.output = .rendered
            $0.template = template
            $0.tokenization = TokenizationOptions(tokenizer: tokenizer, endOfTurn: template.endOfTurn)
        }).records[0]
        let ids = rendered["chosen_input_ids"]!.array!.map { Int32($0.int!) }
        let labels = rendered["chosen_labels"]!.array!.map { Int32($0.int!) }
        let trained = tokenizer.decode(zip(ids, labels).filter { $0.1 != -100 }.map(\.0))
        #expect(rendered["chosen"]!.string!.contains("Yes, please go ahead."))
        #expect(!trained.contains("Yes, please go ahead.") && !trained.contains("cancelled\""))
        #expect(trained.contains("cancel_order") && trained.contains("Order 7 is cancelled."))
        #expect(rendered["chosen_spans"]!.array!.count == 4)

        let kto = try runPairs([Shop.wrongArguments], configure: { $0.strategy = .kto })
        #expect(kto.records.map { $0["label"]! } == [true, false])
        #expect(kto.records.map { $0["id"]! } == ["shop-1-wrong-arguments#5+", "shop-1-wrong-arguments#5-"])
        #expect(kto.ledger.output == 2 && kto.ledger.kept == 1)
    }

    @Test func limitsDuplicatesAndDeterminism() throws {
        // Many failed rollouts with the same mistake: one pair, the others say why.
        var copies: [Trajectory] = []
        for k in 0..<5 {
            var t = Shop.wrongArguments
            t.id = "shop-1-copy\(k)"
            copies.append(t)
        }
        let dup = try runPairs(copies)
        #expect(dup.records.count == 1)
        #expect(Set(dropReasons(dup.drops).values) == ["duplicate-pair"])

        // --max-pairs-per-task with a seed; same seed, same choice.
        var distinct = copies
        for k in distinct.indices {
            distinct[k].messages[5] = Shop.call("c2", "cancel_order", ["order_id": .string("\(10 + k)"), "reason": "no longer needed"])
        }
        let a = try runPairs(distinct, configure: { $0.maxPerTask = 2; $0.seed = 3 })
        let b = try runPairs(distinct.reversed(), configure: { $0.maxPerTask = 2; $0.seed = 3 })
        #expect(a.records.count == 2 && Set(a.records.map { $0["id"]! }) == Set(b.records.map { $0["id"]! }))
        #expect(Set(dropReasons(a.drops).values) == ["task-limit"])

        // Byte-identical output whatever the threads, buckets or input split.
        let many = (0..<40).flatMap { g -> [Trajectory] in
            [Shop.verified, Shop.wrongArguments, Shop.textInstead].map { t in
                var t = t
                t.id += "-g\(g)"
                t.group = "shop:\(g)"
                return t
            }
        }
        let one = try runPairs(many, configure: { $0.threads = 1 }, buckets: 1)
        let two = try runPairs(many, configure: { $0.threads = 2 }, buckets: 64)
        #expect(one.records.count == 80)
        #expect(one.bytes == two.bytes)
        // Output follows the input: tasks in order of their first rollout.
        #expect(one.records.map { $0["group"]!.string! } == (0..<40).flatMap { ["shop:\($0)", "shop:\($0)"] })
        // Rollouts of one task spread over several files (runs or models) still meet.
        let split = try runPairs(many, files: 3, buckets: 7)
        #expect(Set(split.records.map { $0["id"]! }) == Set(one.records.map { $0["id"]! }))
    }

    @Test func groupingAndToolForm() throws {
        // Two runs whose task ids differ but whose instructions agree: --group-by instruction pairs them.
        var verified = Shop.verified
        verified.group = "other-run:17"
        let byTask = try runPairs([verified, Shop.textInstead], configure: { $0.strategy = .firstDivergence })
        #expect(byTask.records.isEmpty)
        let byInstruction = try runPairs([verified, Shop.textInstead], configure: {
            $0.strategy = .firstDivergence
            $0.grouping = .instruction
        })
        #expect(byInstruction.records.count == 1)

        // xLAM-2 takes raw schemas: the TRL tools column in that form.
        let raw = try runPairs([Shop.wrongArguments], configure: { $0.toolForm = .raw }).records[0]
        #expect(raw["tools"]!.array!.map { $0["name"]! } == ["get_order", "cancel_order", "refund_order"])
        let wrapped = try runPairs([Shop.wrongArguments]).records[0]
        #expect(wrapped["tools"]!.array!.allSatisfy { $0["type"] == "function" })
    }

    @Test func shareGPTRankingRecords() throws {
        let run = try runPairs([Shop.wrongArguments], configure: { $0.output = .sharegpt })
        let r = run.records[0]
        #expect(r["conversations"]!.array!.last?["from"] == "human")
        #expect(r["chosen"]?["from"] == "function_call" && r["rejected"]?["from"] == "function_call")
        #expect(r["chosen"]?["value"]?.string?.contains(#""order_id": "7""#) == true)
        #expect(r["system"] == "# Shop policy\nConfirm before any cancellation.")
        // A prompt that ends with the assistant's own tool result works too (observation last).
        let missing = try runPairs([Shop.textInstead], configure: { $0.output = .sharegpt })
        #expect(missing.records.first?["chosen"]?["from"] == "function_call")
    }
}

/// Real retail rollouts (grok-3, one trial per task, ground-truth actions in every task).
@Suite struct RealPairsTests {
    static let all: [Trajectory] = RetailCorpus.all.map { try! Trajectory(json: $0) }

    @Test func correctionPairsFromRealFailures() throws {
        let run = try runPairs(Self.all)
        let failed = Self.all.filter { $0.outcome?.success == false }
        #expect(failed.count == 37)
        // Every failed rollout is paired or dropped with a reason; nothing vanishes.
        let paired = Set(run.records.map { $0["sources"]!["rejected"]!.string! })
        let dropped = dropReasons(run.drops)
        for f in failed { #expect(paired.contains(f.id) != (dropped[f.id] != nil), "\(f.id)") }
        #expect(run.ledger.input == 115 && run.ledger.kept + run.ledger.droppedTotal == 115)
        #expect(run.records.count == 25)
        #expect(run.statistics.deviations == ["wrong-arguments": 17, "wrong-tool": 6, "missing-action": 2])

        let byID = Dictionary(uniqueKeysWithValues: Self.all.map { ($0.id, $0) })
        for pair in run.records {
            let source = byID[pair["sources"]!["rejected"]!.string!]!
            let k = pair["deviation"]!["position"]!.int!
            // The prompt is exactly the rollout's prefix; rejected is its own turn.
            #expect(pair["prompt"]!.array!.count == k + 1)
            #expect(pair["prompt"]!.array!.last?["content"]?.string == source.messages[k - 1].content)
            #expect(source.messages[k].role == .assistant)
            let rejected = pair["rejected"]!.array![0]
            #expect(rejected["content"]?.string == source.messages[k].content)
            #expect((rejected["tool_calls"]?.array ?? []).map { $0["function"]!["name"]!.string! } == source.messages[k].toolCalls.map(\.name))
            // Chosen is one of the task's ground-truth actions, verbatim.
            let call = pair["chosen"]!.array![0]["tool_calls"]!.array![0]["function"]!
            #expect(source.task!.actions.contains { $0["name"] == call["name"] && $0["arguments"] == call["arguments"] })
            #expect(call != rejected["tool_calls"]?.array?.first?["function"])
        }
    }

    /// Rendered pairs for both xLAM-2 templates, checked independently of the writer: the full
    /// conversation renders as prompt + completion, the prompt's ids are a prefix of the whole
    /// conversation's ids, and the labels decode to the supervised text.
    @Test(arguments: [("xlam2-llama", "xlam-2-fc-r-llama"), ("xlam2-qwen", "xlam-2-fc-r-qwen")])
    func renderedPairsKeepThePromptPrefix(template name: String, tokenizer folder: String) throws {
        let template = try ChatTemplate.load(name)
        let tokenizer = try Tokenizer(tokenizerJSONPath: Paths.shared + "/tokenizers/" + folder)
        let run = try runPairs(Self.all, configure: {
            $0.output = .rendered
            $0.template = template
            $0.tokenization = TokenizationOptions(tokenizer: tokenizer, endOfTurn: template.endOfTurn)
            $0.date = CivilDateTime(year: 2025, month: 4, day: 7)
        })
        #expect(run.records.count == 25)
        #expect(run.ledger.counters.keys.allSatisfy { !$0.hasPrefix("pairs dropped") })
        let dpo = try runPairs(Self.all).records
        for (pair, messages) in zip(run.records, dpo) {
            #expect(pair["id"] == messages["id"])
            let prompt = pair["prompt"]!.string!
            for side in ["chosen", "rejected"] {
                let completion = pair[side]!.string!
                // The template itself, on the whole conversation, gives prompt + completion.
                let conversation = messages["prompt"]!.array! + messages[side]!.array!
                var variables = template.specialTokens.mapValues(Value.init(json:))
                variables["messages"] = Value(json: .array(conversation))
                // Built-in xLAM templates take the tools' function objects (ChatTemplate.toolForm).
                let tools = messages["tools"]!.array!.map { template.toolForm == .raw ? $0["function"]! : $0 }
                variables["tools"] = Value(json: .array(tools))
                variables["add_generation_prompt"] = .bool(false)
                let whole = try template.template.render(context: variables,
                                                         options: RenderOptions(now: { CivilDateTime(year: 2025, month: 4, day: 7) })).text
                if whole != prompt + completion {
                    let a = Array(whole.utf8), b = Array((prompt + completion).utf8)
                    let common = zip(a, b).prefix { $0.0 == $0.1 }.count
                    Issue.record("\(pair["id"]!) \(side): differs at byte \(common): \(String(decoding: a[common...].prefix(80), as: UTF8.self).debugDescription) vs \(String(decoding: b[common...].prefix(80), as: UTF8.self).debugDescription)")
                }
                // Token ids: prompt ids + completion ids == ids of the whole text.
                let promptIDs = pair["prompt_input_ids"]!.array!.map { Int32($0.int!) }
                let ids = pair[side + "_input_ids"]!.array!.map { Int32($0.int!) }
                #expect(tokenizer.encode(prompt + completion, parseSpecial: true) == promptIDs + ids)
                // Labels: -100 outside the spans; the supervised tokens decode to the span text.
                let labels = pair[side + "_labels"]!.array!.map { Int32($0.int!) }
                #expect(labels.count == ids.count)
                let supervised = zip(ids, labels).filter { $0.1 != -100 }.map(\.0)
                #expect(zip(ids, labels).allSatisfy { $0.1 == -100 || $0.1 == $0.0 })
                let scalars = Array(completion.unicodeScalars)
                let spans = pair[side + "_spans"]!.array!.map { span in
                    String(String.UnicodeScalarView(scalars[span.array![0].int!..<span.array![1].int!]))
                }
                #expect(tokenizer.decode(supervised) == spans.joined())
                #expect(template.endOfTurn.contains { spans.last?.hasSuffix($0) == true })
            }
        }
    }
}
