import ByteJSON
import Foundation

/// Formats trajectories can be exported to.
public enum ExportFormat: String, Sendable, CaseIterable {
    /// `{messages, tools}` with OpenAI tool calls: TRL, axolotl, LLaMA-Factory `formatting: openai`.
    case openai
    /// LLaMA-Factory ShareGPT `{conversations, system, tools}` (APIGen-MT-5k's layout).
    case sharegpt
}

/// How tool-call arguments are written: as JSON objects, or as strings holding JSON (OpenAI API style).
public enum ArgumentsForm: String, Sendable, CaseIterable {
    case object, string
}

public struct ExportOptions: Sendable {
    public var format: ExportFormat = .openai
    public var arguments: ArgumentsForm = .object
    /// Add the `trajforge` column so re-ingesting gives back the exact canonical records.
    public var carry = true
    public var threads: Int = defaultThreadCount
    public var limits = ReaderLimits()
    public init() {}
}

/// The export stage: canonical trajectories in, training-framework records out.
public final class Exporter {
    let options: ExportOptions
    public private(set) var ledger = Ledger(stage: "export")

    public init(options: ExportOptions) {
        self.options = options
        ledger.outputUnit = "\(options.format.rawValue) records"
    }

    public func run(inputs: [String], output: OutputFile, rejects: OutputFile?) throws(IOError) {
        let options = self.options
        try TrajectoryStage.run(inputs: inputs, stage: "export", threads: options.threads, limits: options.limits, ledger: &ledger,
                                output: output, rejects: rejects, drops: nil) { t, out in
            Exporter.export(t, options: options, into: &out)
        }
        let lossy = ledger.counters[Exporter.textBesideCalls, default: 0]
        if lossy > 0 {
            ledger.note("LLaMA-Factory's ShareGPT reader ignores text written beside tool calls (\(lossy) assistant turns); it is kept in the trajforge column. To train on it, export --to openai and render with the model's template")
        }
    }

    static let textBesideCalls = "assistant turns with text beside tool calls"
    static let brokenAlternation = "records LLaMA-Factory would skip (turns do not alternate user/assistant)"

    static func export(_ t: Trajectory, options: ExportOptions, into out: inout ItemOutput) {
        var (visible, stats) = visibleRecord(t, options: options)
        out.count(textBesideCalls, stats.textBesideCalls)
        if !stats.alternates { out.count(brokenAlternation) }
        if options.carry {
            let rebuilt = rebuild(visible, format: options.format)
            visible[Carry.column] = .string(JSON.object(Carry.make(canonical: t, rebuilt: rebuilt)).serialized())
        }
        out.kept += 1
        out.emit(.object(visible))
    }

    /// What ingesting `visible` (without its carry column) gives.
    static func rebuild(_ visible: JSONObject, format: ExportFormat) -> Trajectory {
        let ctx = RecordContext(location: RecordLocation(file: "", line: 0, index: 0, offset: 0), bytes: [], format: .openai)
        let conversion: Conversion
        switch format {
        case .openai: conversion = OpenAIAdapter(domain: nil).convert(.object(visible), ctx)[0]
        case .sharegpt: conversion = ShareGPTAdapter(format: .sharegpt, domain: nil, assumeSuccess: false).convert(.object(visible), ctx)[0]
        }
        switch conversion {
        case .success(let t): return t
        case .failure: return Trajectory(id: "", source: Provenance(format: "", file: ""))
        }
    }

    struct VisibleStats {
        var textBesideCalls = 0
        var alternates = true
    }

    /// The record a training framework reads.
    static func visibleRecord(_ t: Trajectory, options: ExportOptions) -> (JSONObject, VisibleStats) {
        switch options.format {
        case .openai: return (openAIRecord(t, arguments: options.arguments), VisibleStats())
        case .sharegpt: return shareGPTRecord(t, arguments: options.arguments)
        }
    }

    static func arguments(_ call: ToolCall, _ form: ArgumentsForm) -> JSON {
        form == .object ? .object(call.arguments) : .string(JSON.object(call.arguments).serialized())
    }

    static func openAIRecord(_ t: Trajectory, arguments form: ArgumentsForm) -> JSONObject {
        var messages: [JSON] = []
        messages.reserveCapacity(t.messages.count + 1)
        if let system = t.system { messages.append(["role": "system", "content": .string(system)]) }
        for m in t.messages {
            var o: JSONObject = ["role": .string(m.role.rawValue), "content": m.content.map(JSON.string) ?? .null]
            if !m.toolCalls.isEmpty {
                o["tool_calls"] = .array(m.toolCalls.map { c in
                    ["id": .string(c.id), "type": "function",
                     "function": ["name": .string(c.name), "arguments": arguments(c, form)]]
                })
            }
            if m.role == .tool {
                o["tool_call_id"] = m.toolCallID.map(JSON.string) ?? .null
                o["name"] = m.name.map(JSON.string) ?? .null
            }
            messages.append(.object(o))
        }
        return ["messages": .array(messages), "tools": .array(t.tools)]
    }

    static func shareGPTRecord(_ t: Trajectory, arguments form: ArgumentsForm) -> (JSONObject, VisibleStats) {
        var stats = VisibleStats()
        var turns: [JSON] = []
        var k = 0
        let ms = t.messages
        while k < ms.count {
            let m = ms[k]
            switch m.role {
            case .system:
                turns.append(["from": "system", "value": .string(m.content ?? "")])
            case .user:
                turns.append(["from": "human", "value": .string(m.content ?? "")])
            case .assistant where m.toolCalls.isEmpty:
                turns.append(["from": "gpt", "value": .string(m.content ?? "")])
            case .assistant:
                if let c = m.content, !c.isEmpty { stats.textBesideCalls += 1 }
                let calls = m.toolCalls.map { c -> JSON in ["name": .string(c.name), "arguments": arguments(c, form)] }
                let value: JSON = calls.count == 1 ? calls[0] : .array(calls)
                turns.append(["from": "function_call", "value": .string(value.serialized(.python))])
            case .tool:
                // Results of one assistant turn's parallel calls form one observation (a JSON array).
                var results = [m.content ?? ""]
                while k + 1 < ms.count, ms[k + 1].role == .tool, results.count < parallelWidth(before: k, in: ms) {
                    k += 1
                    results.append(ms[k].content ?? "")
                }
                let value = results.count == 1 ? results[0] : JSON.array(results.map(JSON.string)).serialized(.python)
                turns.append(["from": "observation", "value": .string(value)])
            }
            k += 1
        }
        // LLaMA-Factory skips records whose turns do not alternate user-side / assistant-side.
        for (i, turn) in turns.filter({ $0["from"]?.string != "system" }).enumerated() {
            let from = turn["from"]?.string ?? ""
            let userSide = from == "human" || from == "observation"
            if userSide != (i % 2 == 0) { stats.alternates = false }
        }
        if turns.filter({ $0["from"]?.string != "system" }).count % 2 != 0 { stats.alternates = false }
        var record: JSONObject = ["conversations": .array(turns)]
        if let system = t.system { record["system"] = .string(system) }
        let raw = t.tools.map { $0["function"] ?? $0 }
        record["tools"] = .string(raw.isEmpty ? "" : JSON.array(raw).serialized(.python))
        return (record, stats)
    }

    /// How many tool calls the assistant turn before the tool message at `k` made.
    static func parallelWidth(before k: Int, in ms: [Message]) -> Int {
        var j = k - 1
        while j >= 0, ms[j].role == .tool { j -= 1 }
        return j >= 0 ? max(1, ms[j].toolCalls.count) : 1
    }
}

/// LLaMA-Factory's `dataset_info.json`: registers an exported file under a dataset name.
public enum DatasetInfo {
    public static func entry(fileName: String, format: ExportFormat, ranking: Bool = false) -> JSON {
        switch format {
        case .sharegpt where ranking:
            return ["file_name": .string(fileName), "formatting": "sharegpt", "ranking": true,
                    "columns": ["messages": "conversations", "chosen": "chosen", "rejected": "rejected", "system": "system", "tools": "tools"],
                    "tags": ["role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt",
                             "observation_tag": "observation", "function_tag": "function_call", "system_tag": "system"]]
        case .sharegpt:
            return ["file_name": .string(fileName), "formatting": "sharegpt",
                    "columns": ["messages": "conversations", "system": "system", "tools": "tools"],
                    "tags": ["role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt",
                             "observation_tag": "observation", "function_tag": "function_call", "system_tag": "system"]]
        case .openai:
            return ["file_name": .string(fileName), "formatting": "openai",
                    "columns": ["messages": "messages", "tools": "tools"],
                    "tags": ["role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant",
                             "observation_tag": "tool", "function_tag": "function_call", "system_tag": "system"]]
        }
    }

    /// Adds or replaces `name` in the dataset_info.json at `path`, keeping its other entries.
    public static func merge(path: String, name: String, entry: JSON) throws {
        var info = JSONObject()
        if FileManager.default.fileExists(atPath: path) {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            guard case .object(let existing) = try JSON.parse(bytes) else {
                throw IOError(path: path, "is not a JSON object of dataset entries")
            }
            info = existing
        }
        info[name] = entry
        let file = try OutputFile(path: path, compression: OutputCompression(.none))
        try file.write(JSON.object(info).serializedBytes(.pretty) + [0x0A])
        try file.commit()
    }
}
