import ByteJSON
import Foundation
import Testing
@testable import TrajForge

/// Fixtures we wrote for the formats ../shared has no real files of.
@Suite struct FixtureIngestTests {
    @Test func apigenMTShareGPT() throws {
        let run = try runIngest([Paths.fixture("sharegpt/apigen-mt.json")], format: .apigenMT)
        #expect(run.records.count == 2 && run.rejected.isEmpty)
        let first = try Trajectory(json: run.records[0])
        #expect(first.domain == "airline")
        #expect(first.outcome?.success == true)  // APIGen-MT releases only verified trajectories
        #expect(first.tools.count == 3 && first.tools[0]["type"] == "function")
        #expect(first.messages.map(\.role) == [.user, .assistant, .user, .assistant, .tool, .assistant, .tool, .assistant])
        let think = first.messages[5].toolCalls[0]
        #expect(think.name == "think" && think.id == "call00002")
        #expect(first.messages[6].content == "" && first.messages[6].toolCallID == "call00002" && first.messages[6].name == "think")
        // Parallel calls answered by one observation holding a JSON array of results.
        let second = try Trajectory(json: run.records[1])
        #expect(second.messages[1].toolCalls.map(\.arguments) == [["reservation_id": "ABC123"], ["reservation_id": "XYZ789"]])
        #expect(second.messages[2].toolCallID == "call00001" && second.messages[3].toolCallID == "call00002")
        #expect(second.messages[3].content == #"{"reservation_id": "XYZ789", "status": "cancelled"}"#)
        #expect(second.meta["category"] == "parallel-lookup")
        // Plain sharegpt does not claim verification.
        let plain = try runIngest([Paths.fixture("sharegpt/apigen-mt.json")], format: .sharegpt)
        #expect(plain.records[0]["outcome"] == .null)
    }

    @Test func openAIMessages() throws {
        let run = try runIngest([Paths.fixture("openai/messages.jsonl")])
        #expect(run.records.count == 2 && run.rejected.isEmpty)
        let a = try Trajectory(json: run.records[0])
        #expect(a.system?.hasPrefix("# Airline Agent Policy") == true && a.domain == "airline")
        #expect(a.messages[1].toolCalls[0].arguments == ["reservation_id": "8JX2WO"])  // from a JSON string
        #expect(a.messages[2].name == "get_reservation_details")  // filled from the call it answers
        #expect(a.messages[5].content == "Cancelling now." && a.messages[5].toolCalls.count == 1)
        #expect(a.messages[6].content == #"{"status": "cancelled", "refund": 1.50}"#)
        #expect(a.meta["id"] == "ex-1")
        let b = try Trajectory(json: run.records[1])
        #expect(b.messages[0].content == "What is reservation Q1?")
        #expect(b.messages[0].meta["content"]?.array?.count == 2)  // the parts are kept
        #expect(b.messages[1].toolCalls[0].id == "call00001")  // generated: the source had no id
        #expect(b.messages[2].content == #"{"reservation_id":"Q1","passengers":[1,2.0,null,true]}"#)
        #expect(b.messages[2].meta["content"]?.object != nil)
        #expect(b.tools.count == 3)  // a JSON string of raw schemas
        #expect(b.meta["label"] == 1)
    }

    @Test func tau2BenchResults() throws {
        let run = try runIngest([Paths.fixture("tau2/results.json")])
        #expect(run.records.count == 3 && run.rejected.isEmpty)
        let ts = try run.records.map { try Trajectory(json: $0) }
        #expect(ts.map(\.group) == ["airline:7", "airline:7", "airline:9"])
        #expect(ts.map(\.trial) == [0, 1, 0])
        #expect(ts.map { $0.outcome?.success } == [true, false, true])
        #expect(ts[0].system?.hasPrefix("# Airline Agent Policy") == true)
        #expect(ts[0].task?.actions == [["action_id": "7_0", "requestor": "assistant", "name": "cancel_reservation",
                                         "arguments": ["reservation_id": "8JX2WO"], "info": nil, "compare_args": nil]])
        #expect(ts[0].task?.outputs == ["cancelled"])
        #expect(ts[0].task?.instruction == "Domain: airline\nReason for call:\n\tYou want to cancel 8JX2WO.\n\tYou insist politely.\nKnown info:\n\tYou are Noah Muller.\nTask instructions:\n\tAccept if refused.")
        #expect(ts[2].task?.instruction == "Ask for the status of Q1.")
        // Tool results are keyed by `id` in tau2; the name comes from the call.
        #expect(ts[0].messages[3].toolCallID == "call_x1" && ts[0].messages[3].name == "cancel_reservation")
        #expect(ts[0].messages[3].meta["error"] == false)
        // The simulated user's own tool call and its result stay with the user turn.
        #expect(ts[1].messages.map(\.role) == [.assistant, .user, .assistant, .tool, .assistant, .user])
        #expect(ts[1].messages[1].meta["tool_results"]?.array?.count == 1)
        // The run's info is kept in every record, minus what became system/domain.
        #expect(ts[0].meta["run"]?["info"]?["agent_info"]?["llm"] == "gpt-4.1")
        #expect(ts[0].meta["run"]?["info"]?["environment_info"]?["policy"] == nil)
        #expect(ts[0].meta["id"] == "sim-1" && ts[0].meta["termination_reason"] == "user_stop")
    }

    @Test func tau2DocumentOnOneLineAndFromStandardLocations() throws {
        // The same document written on one line is read as one record holding three simulations.
        let dir = temporaryFolder()
        let doc = try JSON.parse(try readBytes(Paths.fixture("tau2/results.json")))
        let oneLine = dir + "/one-line.jsonl"
        try Data(doc.serializedBytes() + [0x0A]).write(to: URL(fileURLWithPath: oneLine))
        let run = try runIngest([oneLine], folder: dir)
        #expect(run.records.count == 3 && run.ledger.input == 3 && run.ledger.balances)
        #expect(run.records.map { $0["group"] } == ["airline:7", "airline:7", "airline:9"])
    }

    @Test(arguments: ["sharegpt/apigen-mt.json", "openai/messages.jsonl", "tau2/results.json"])
    func fixtureRoundTripsAreByteIdentical(_ name: String) throws {
        let dir = temporaryFolder()
        let first = try runIngest([Paths.fixture(name)], format: name.hasPrefix("sharegpt") ? .apigenMT : .auto, folder: dir)
        let original = try readBytes(first.output)
        for format in ExportFormat.allCases {
            for arguments in ArgumentsForm.allCases {
                let exported = try runExport([first.output], to: format, arguments: arguments, folder: dir)
                let back = try runIngest([exported.output], folder: dir, outputName: "back.jsonl")
                #expect(back.rejected.isEmpty)
                #expect(try readBytes(back.output) == original, "\(name) via \(format) \(arguments)")
            }
        }
    }

    @Test func exportWithoutCarryIsWhatTrainersRead() throws {
        let first = try runIngest([Paths.fixture("openai/messages.jsonl")])
        let openai = try runExport([first.output], to: .openai, carry: false)
        let record = openai.records[0]
        #expect(record.object?.keys == ["messages", "tools"])
        #expect(record["messages"]?.array?[0] == ["role": "system", "content": .string(first.records[0]["system"]!.string!)])
        let call = record["messages"]?.array?[2]["tool_calls"]?.array?[0]
        #expect(call == ["id": "call_a1", "type": "function", "function": ["name": "get_reservation_details", "arguments": ["reservation_id": "8JX2WO"]]])
        let strings = try runExport([first.output], to: .openai, arguments: .string, carry: false)
        #expect(strings.records[0]["messages"]?.array?[2]["tool_calls"]?.array?[0]["function"]?["arguments"] == #"{"reservation_id":"8JX2WO"}"#)

        let apigen = try runIngest([Paths.fixture("sharegpt/apigen-mt.json")], format: .apigenMT)
        let share = try runExport([apigen.output], to: .sharegpt, carry: false)
        let conv = share.records[1]["conversations"]?.array ?? []
        #expect(conv.map { $0["from"]?.string ?? "" } == ["human", "function_call", "observation", "gpt"])
        #expect(conv[1]["value"] == #"[{"name": "get_reservation_details", "arguments": {"reservation_id": "ABC123"}}, {"name": "get_reservation_details", "arguments": {"reservation_id": "XYZ789"}}]"#)
        #expect(share.records[0]["tools"]?.string?.hasPrefix(#"[{"name": "get_reservation_details""#) == true)
        #expect(share.ledger.counters.isEmpty)  // alternating, no text beside calls
    }

    @Test func exportCountsWhatLLaMAFactoryWouldLose() throws {
        let run = try runIngest([Paths.grok], format: .tauBench, tools: Paths.retailTools)
        let share = try runExport([run.output], to: .sharegpt)
        #expect(share.ledger.counters[Exporter.textBesideCalls] == 897)
        // tau-bench conversations end with the simulated user's ###STOP### turn.
        #expect(share.ledger.counters[Exporter.brokenAlternation] == 115)
    }

    @Test func datasetInfoIsMergedNotOverwritten() throws {
        let dir = temporaryFolder()
        let path = dir + "/dataset_info.json"
        try Data(#"{"other": {"file_name": "x.json"}}"#.utf8).write(to: URL(fileURLWithPath: path))
        try DatasetInfo.merge(path: path, name: "retail_sft", entry: DatasetInfo.entry(fileName: "retail.json", format: .sharegpt))
        let info = try JSON.parse(try readBytes(path))
        #expect(info.object?.keys == ["other", "retail_sft"])
        #expect(info["retail_sft"]?["formatting"] == "sharegpt")
        #expect(info["retail_sft"]?["columns"]?["messages"] == "conversations")
    }
}
