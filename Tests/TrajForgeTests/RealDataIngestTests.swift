import ByteJSON
import Foundation
import Testing
@testable import TrajForge

/// The real tau-bench retail results in ../shared (grok-3, 115 rollouts, composite rewards).
@Suite struct RealDataIngestTests {
    @Test func ingestsAllRetailRolloutsWithVerifiedSuccess() throws {
        let run = try runIngest([Paths.grok], format: .tauBench, tools: Paths.retailTools)
        #expect(run.records.count == 115)
        #expect(run.rejected.isEmpty)
        #expect(run.ledger.input == 115 && run.ledger.kept == 115 && run.ledger.balances)
        let successes = run.records.filter { $0["outcome"]?["success"] == .bool(true) }.count
        #expect(successes == 78)
        // Composite rewards: almost nothing has reward exactly 1.0, so success must not come from it.
        #expect(run.records.filter { $0["outcome"]?["reward"]?.double == 1.0 }.count < 5)
        for r in run.records {
            #expect(r["tools"]?.array?.count == 16)
            #expect(r["domain"] == "retail")
            #expect(r["group"]?.string == "retail:" + (r["meta"]?["task_id"]?.number?.text ?? "?"))
        }
        let ids = Set(run.records.compactMap { $0["id"]?.string })
        #expect(ids.count == 115)
    }

    @Test func everySourceFieldIsReachableInTheOutput() throws {
        let sourceBytes = try readBytes(Paths.grok)
        guard case .array(let source) = try JSON.parse(sourceBytes) else { Issue.record("not an array"); return }
        let run = try runIngest([Paths.grok], format: .tauBench, tools: Paths.retailTools)
        #expect(source.count == run.records.count)
        var checked = 0
        for (record, output) in zip(source, run.records) {
            for (path, value) in leaves(record) {
                let mapped = TauBenchFieldMap.locate(path, in: output)
                #expect(sameValue(source: value, canonical: mapped), "\(path.joined(separator: ".")) not found in \(output["id"]?.string ?? "?")")
                checked += 1
            }
        }
        #expect(checked > 20_000)
    }

    @Test func roundTripsThroughBothExportFormatsByteForByte() throws {
        let dir = temporaryFolder()
        let first = try runIngest([Paths.grok], format: .tauBench, tools: Paths.retailTools, folder: dir)
        let original = try readBytes(first.output)
        for format in ExportFormat.allCases {
            for arguments in ArgumentsForm.allCases {
                let exported = try runExport([first.output], to: format, arguments: arguments, folder: dir)
                #expect(exported.records.count == 115)
                let back = try runIngest([exported.output], folder: dir, outputName: "back.jsonl")
                #expect(back.rejected.isEmpty)
                #expect(try readBytes(back.output) == original, "\(format) \(arguments)")
            }
        }
    }

    @Test func outputDoesNotDependOnThreadCount() throws {
        let one = try runIngest([Paths.grok], format: .tauBench, tools: Paths.retailTools, threads: 1)
        let two = try runIngest([Paths.grok], format: .tauBench, tools: Paths.retailTools, threads: 2)
        let eight = try runIngest([Paths.grok], format: .tauBench, tools: Paths.retailTools, threads: 8)
        let bytes = try readBytes(one.output)
        #expect(try readBytes(two.output) == bytes)
        #expect(try readBytes(eight.output) == bytes)
    }
}

/// Equal values; or a source JSON string (tool-call arguments) whose parsed value is the canonical object.
func sameValue(source: JSON, canonical: JSON?) -> Bool {
    if source == canonical { return true }
    if case .string(let text) = source, case .object? = canonical, let parsed = try? JSON.parse(text) { return parsed == canonical }
    return false
}

/// Every leaf of a JSON value with its path (object keys and array indices as text).
func leaves(_ value: JSON, _ path: [String] = []) -> [([String], JSON)] {
    switch value {
    case .object(let o):
        if o.isEmpty { return [(path, value)] }
        return o.members.flatMap { leaves($0.value, path + [$0.key]) }
    case .array(let a):
        if a.isEmpty { return [(path, value)] }
        return a.enumerated().flatMap { leaves($0.element, path + [String($0.offset)]) }
    default:
        return [(path, value)]
    }
}

/// Follows a path of keys / indices.
func follow(_ value: JSON?, _ path: ArraySlice<String>) -> JSON? {
    var v = value
    for p in path {
        switch v {
        case .object(let o)?: v = o[p]
        case .array(let a)?: v = Int(p).flatMap { $0 < a.count ? a[$0] : nil }
        default: return nil
        }
    }
    return v
}

/// Where each tau-bench source field lives in the canonical record (the mapping the adapter documents).
enum TauBenchFieldMap {
    static func locate(_ path: [String], in out: JSON) -> JSON? {
        let p = path[...]
        switch p.first {
        case "task_id": return out["meta"]?["task_id"]
        case "reward": return out["outcome"]?["reward"]
        case "trial": return out["trial"]
        case "info":
            let rest = p.dropFirst()
            switch rest.first {
            case "reward_info": return follow(out["outcome"]?["checks"], rest.dropFirst())
            case "task":
                let t = rest.dropFirst()
                switch t.first {
                case "instruction": return out["task"]?["instruction"]
                case "outputs": return follow(out["task"]?["outputs"], t.dropFirst())
                case "actions":
                    var a = Array(t.dropFirst())
                    if a.count > 1, a[1] == "kwargs" { a[1] = "arguments" }
                    return follow(out["task"]?["actions"], a[...])
                default: return follow(out["task"]?["meta"], t)
                }
            default: return follow(out["meta"]?["info"], rest)
            }
        case "traj":
            let k = Int(p.dropFirst().first!)!
            let field = p.dropFirst(2)
            if k == 0 {
                switch field.first {
                case "content": return out["system"]
                case "role": return "system"
                default: return follow(out["meta"]?["system_message"], field)
                }
            }
            let message = out["messages"]?.array?[k - 1]
            switch field.first {
            case "role", "content", "tool_call_id", "name": return follow(message, field)
            case "tool_calls":
                // `tool_calls: null` is how litellm says "no calls"; the canonical record omits the key.
                if field.count == 1 { return message?["tool_calls"] ?? .null }
                let call = follow(message, field.prefix(2))
                let inner = field.dropFirst(2)
                switch inner.first {
                case "id": return call?["id"]
                case "type": return "function"
                case "function":
                    switch inner.dropFirst().first {
                    case "name": return call?["name"]
                    case "arguments": return call?["arguments"]
                    default: return nil
                    }
                default: return nil
                }
            default: return follow(message?["meta"], field)
            }
        default:
            return follow(out["meta"], p)
        }
    }
}
