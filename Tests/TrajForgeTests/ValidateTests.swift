import ByteJSON
import Foundation
import Testing
@testable import TrajForge

/// A small clean trajectory: every check passes on it.
func cleanTrajectory() -> Trajectory {
    let tools: [JSON] = [
        ["type": "function", "function": ["name": "get_order", "description": "Get an order.",
                                          "parameters": ["type": "object",
                                                         "properties": ["order_id": ["type": "string"],
                                                                        "detail": ["type": "string", "enum": ["short", "full"]],
                                                                        "limit": ["type": ["integer", "null"], "minimum": 1]],
                                                         "required": ["order_id"], "additionalProperties": false]]],
        ["type": "function", "function": ["name": "cancel", "parameters": ["type": "object", "properties": ["ids": ["type": "array", "items": ["type": "string"]]]]]],
    ]
    return Trajectory(
        id: "t-0000000000000000", source: Provenance(format: "openai", file: "fixture"), group: "shop:1", trial: 0, domain: "shop",
        system: "# Shop agent policy", tools: tools,
        messages: [
            Message(role: .user, content: "Where is order 7?"),
            Message(role: .assistant, content: nil, toolCalls: [ToolCall(id: "c1", name: "get_order", arguments: ["order_id": "7", "detail": "full", "limit": 2])]),
            Message(role: .tool, content: #"{"status": "shipped"}"#, toolCallID: "c1", name: "get_order"),
            Message(role: .assistant, content: "It has shipped."),
        ],
        outcome: Outcome(success: true))
}

@Suite struct ValidateTests {
    @Test func cleanTrajectoryHasNoFindings() {
        #expect(TrajectoryValidator.check(cleanTrajectory()).isEmpty)
    }

    /// Applies `mutate` to a clean trajectory and returns the reasons found.
    func reasons(_ mutate: (inout Trajectory) -> Void) -> [String] {
        var t = cleanTrajectory()
        mutate(&t)
        return TrajectoryValidator.check(t).map(\.reason)
    }

    @Test func everyReasonIsDetected() {
        #expect(reasons { $0.messages = [] }.contains("empty-conversation"))
        #expect(reasons { $0.tools = [] } == ["no-tool-schemas"])
        #expect(reasons {
            $0.messages[1].toolCalls[0].name = "refund"
            $0.messages[2].name = "refund"
        } == ["unknown-tool"])
        #expect(reasons { $0.messages[1].toolCalls[0].arguments = ["detail": "full"] } == ["missing-required-argument"])
        #expect(reasons { $0.messages[1].toolCalls[0].arguments["order_id"] = 7 } == ["wrong-argument-type"])
        #expect(reasons { $0.messages[1].toolCalls[0].arguments["detail"] = "long" } == ["argument-not-in-enum"])
        #expect(reasons { $0.messages[1].toolCalls[0].arguments["color"] = "red" } == ["unexpected-argument"])
        #expect(reasons { $0.messages[1].toolCalls[0].arguments["limit"] = 0 } == ["argument-out-of-range"])
        #expect(reasons { $0.messages[1].toolCalls.append(ToolCall(id: "c1", name: "get_order", arguments: ["order_id": "8"])) }
            .contains("duplicate-call-id"))
        #expect(reasons { $0.messages[0].toolCalls = [ToolCall(id: "u1", name: "get_order", arguments: ["order_id": "1"])] }
            .contains("tool-calls-outside-assistant"))
        #expect(reasons { $0.messages[2].toolCallID = "zz" } == ["orphan-tool-result", "unanswered-tool-call"])
        #expect(reasons { $0.messages.insert($0.messages[2], at: 3) } == ["duplicate-tool-result"])
        #expect(reasons { $0.messages[2].name = "cancel" } == ["tool-name-mismatch"])
        #expect(reasons { m in
            let result = m.messages.remove(at: 2)
            m.messages.insert(Message(role: .user, content: "hello?"), at: 2)
            m.messages.insert(result, at: 3)
        } == ["tool-result-out-of-order"])
        #expect(reasons { $0.messages.remove(at: 0) } == ["no-user-turn"])
        #expect(reasons { $0.messages.remove(at: 2) } == ["unanswered-tool-call"])
        #expect(reasons { $0.messages.insert(Message(role: .user, content: "again"), at: 0) } == ["consecutive-user-turns"])
        #expect(reasons { $0.messages.insert(Message(role: .system, content: "late"), at: 1) } == ["late-system-message"])
        #expect(reasons { $0.messages[3].content = "  " } == ["empty-turn"])
        #expect(reasons { $0.outcome = nil } == ["missing-outcome"])
        #expect(reasons { $0.outcome = Outcome(success: nil, reward: JSONNumber(0.5)) } == ["missing-outcome"])
        #expect(reasons { $0.messages[2].content = "Error: 503 Service Unavailable" } == ["tool-error-result"])
        #expect(reasons { $0.messages[2].meta["error"] = true } == ["tool-error-result"])
        #expect(reasons { $0.messages.append(Message(role: .user, content: "###STOP###")) } == ["simulator-control-text"])
        // Every documented reason is exercised above.
        let documented = Set(TrajectoryValidator.reasons.map(\.code))
        #expect(documented.count == TrajectoryValidator.reasons.count)
    }

    @Test func schemaSubset() {
        func kinds(_ value: JSON, _ schema: JSON) -> [String] {
            ArgumentSchema.violations(of: value, against: schema).map(\.kind.rawValue)
        }
        #expect(kinds(1.0, ["type": "integer"]).isEmpty)  // JSON Schema: 1.0 is an integer
        #expect(kinds(1.5, ["type": "integer"]) == ["wrong-argument-type"])
        #expect(kinds(nil, ["type": "string", "nullable": true]).isEmpty)
        #expect(kinds(nil, ["type": ["string", "null"]]).isEmpty)
        #expect(kinds(1, ["enum": [1.0, 2]]).isEmpty)  // enum compares numbers by value
        #expect(kinds(["a", 1], ["type": "array", "items": ["type": "string"]]) == ["wrong-argument-type"])
        #expect(kinds(["a", 1], ["type": "array", "prefixItems": [["type": "string"], ["type": "integer"]]]).isEmpty)
        #expect(kinds(["x": ["y": 1]], ["type": "object", "properties": ["x": ["type": "object", "properties": ["y": ["type": "string"]]]]])
            == ["wrong-argument-type"])
        #expect(kinds(["x": 1], ["type": "object", "additionalProperties": ["type": "string"]]) == ["wrong-argument-type"])
        #expect(kinds("a", ["anyOf": [["type": "integer"], ["type": "string"]]]).isEmpty)
        #expect(kinds(true, ["anyOf": [["type": "integer"], ["type": "string"]]]) == ["argument-matches-no-alternative"])
        #expect(kinds(1, ["oneOf": [["type": "integer"], ["type": "number"]]]) == ["argument-matches-no-alternative"])
        #expect(kinds("abc", ["type": "string", "maxLength": 2]) == ["argument-out-of-range"])
        #expect(kinds("abc", ["type": "string", "pattern": "^z$", "format": "email"]).isEmpty)  // not checked
        let path = ArgumentSchema.violations(of: ["items": [["sku": 3]]],
                                             against: ["type": "object", "properties": ["items": ["type": "array", "items": ["type": "object", "properties": ["sku": ["type": "string"]]]]]])
        #expect(path.map(\.path) == ["items[0].sku"])
    }

    @Test func realRetailFileReportsRealProblems() throws {
        let dir = temporaryFolder()
        let ingested = try runIngest([Paths.grok], format: .tauBench, tools: Paths.retailTools, folder: dir)
        for (mode, kept) in [(ValidateOptions.Mode.strict, 115), (.lenient, 115), (.report, 115)] {
            let run = try runValidate([ingested.output], mode: mode, folder: dir)
            #expect(run.ledger.kept == kept && run.ledger.balances)
            // The grok-3 run injects 503 errors into get_order_details; the user simulator ends with ###STOP###.
            #expect(run.ledger.counters["finding: tool-error-result"] == 159)
            #expect(run.ledger.counters["finding: simulator-control-text"] == 98)
            #expect(run.findings.count == 257)
        }
        // Without --tools every call is a finding, and strict drops all of them.
        let bare = try runIngest([Paths.grok], format: .tauBench, folder: dir, outputName: "bare.jsonl")
        let strict = try runValidate([bare.output], mode: .strict, folder: dir)
        #expect(strict.ledger.kept == 0 && strict.ledger.dropped["no-tool-schemas"] == 115)
        #expect(strict.drops.count == 115 && strict.drops[0]["details"]?["findings"]?.array?.isEmpty == false)
    }

    @Test func modesAndIgnore() throws {
        let dir = temporaryFolder()
        var warn = cleanTrajectory()
        warn.id = "warn-0000000000000000"
        warn.outcome = nil
        var err = cleanTrajectory()
        err.id = "err-0000000000000000"
        err.messages[1].toolCalls[0].arguments["order_id"] = 7
        let path = dir + "/in.jsonl"
        var lines: [UInt8] = []
        for t in [cleanTrajectory(), warn, err] { lines += t.json.serializedBytes() + [0x0A] }
        try Data(lines).write(to: URL(fileURLWithPath: path))
        #expect(try runValidate([path], mode: .strict, folder: dir).ledger.kept == 1)
        #expect(try runValidate([path], mode: .lenient, folder: dir).ledger.kept == 2)
        #expect(try runValidate([path], mode: .report, folder: dir).ledger.kept == 3)
        let ignoring = try runValidate([path], mode: .strict, ignore: ["missing-outcome"], folder: dir)
        #expect(ignoring.ledger.kept == 2 && ignoring.ledger.dropped == ["wrong-argument-type": 1])
        #expect(ignoring.drops.first?["id"] == "err-0000000000000000")
    }
}

struct ValidateRun {
    var ledger: Ledger
    var kept: [JSON]
    var drops: [JSON]
    var findings: [JSON]
}

func runValidate(_ inputs: [String], mode: ValidateOptions.Mode, ignore: Set<String> = [], folder: String) throws -> ValidateRun {
    var options = ValidateOptions()
    options.mode = mode
    options.ignore = ignore
    options.threads = 2
    let out = try OutputFile(path: folder + "/valid.jsonl", compression: OutputCompression(.none))
    let drops = try OutputFile(path: folder + "/valid.drops.jsonl", compression: OutputCompression(.none))
    let report = try OutputFile(path: folder + "/findings.jsonl", compression: OutputCompression(.none))
    let validator = Validator(options: options)
    try validator.run(inputs: inputs, output: out, rejects: nil, drops: drops, report: report)
    try out.commit()
    try drops.commit()
    try report.commit()
    return ValidateRun(ledger: validator.ledger, kept: try readJSONL(folder + "/valid.jsonl"),
                       drops: try readJSONL(folder + "/valid.drops.jsonl"), findings: try readJSONL(folder + "/findings.jsonl"))
}
