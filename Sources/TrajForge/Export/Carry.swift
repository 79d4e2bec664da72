import ByteJSON

/// The `trajforge` column of exported records: a JSON *string* (so Arrow-based loaders see one
/// plain string column) holding what the visible conversation cannot say — the trajectory's id,
/// provenance, group, outcome, task and meta, and for each message only the fields that
/// re-ingesting the visible form would get wrong (ids the format lacks, text beside tool calls,
/// per-message meta). Re-ingesting an export with its column gives the original record exactly.
public enum Carry {
    public static let column = "trajforge"
    static let version = 1
    /// Top-level fields always carried (small, and they make the result independent of ingest options).
    static let alwaysCarried = ["id", "source", "group", "trial", "domain", "outcome", "task", "meta"]
    static let messageFields = ["role", "content", "tool_calls", "tool_call_id", "name", "meta"]

    /// The carry object for `canonical`, given what re-ingesting its visible form rebuilt.
    static func make(canonical: Trajectory, rebuilt: Trajectory) -> JSONObject {
        guard case .object(let want) = canonical.json, case .object(let got) = rebuilt.json else { return [:] }
        var carry: JSONObject = ["v": .number(JSONNumber(version))]
        for key in alwaysCarried { carry[key] = want[key] ?? .null }
        for key in ["system", "tools"] where want[key] != got[key] { carry[key] = want[key] ?? .null }
        let wantMessages = want["messages"]?.array ?? []
        let gotMessages = got["messages"]?.array ?? []
        if wantMessages.count != gotMessages.count {
            carry["messages_all"] = .array(wantMessages)
            return carry
        }
        carry["message_count"] = .number(JSONNumber(gotMessages.count))
        var patches = JSONObject()
        for (k, (w, g)) in zip(wantMessages, gotMessages).enumerated() {
            var patch = JSONObject()
            for field in messageFields {
                let wv = fieldValue(w, field)
                if wv != fieldValue(g, field) { patch[field] = wv }
            }
            if !patch.isEmpty { patches[String(k)] = .object(patch) }
        }
        if !patches.isEmpty { carry["messages"] = .object(patches) }
        return carry
    }

    /// A message field with absent values spelled out, so "absent" compares and carries explicitly.
    static func fieldValue(_ message: JSON, _ field: String) -> JSON {
        if let v = message[field] { return v }
        switch field {
        case "tool_calls": return .array([])
        case "meta": return .object([:])
        default: return .null
        }
    }

    /// Applies a carry column (string or object) to a trajectory rebuilt from the visible fields.
    static func apply(_ value: JSON, to rebuilt: Trajectory) throws(IngestFailure) -> Trajectory {
        var carry: JSONObject
        switch value {
        case .object(let o): carry = o
        case .string(let s):
            guard case .object(let o)? = try? JSON.parse(s) else {
                throw IngestFailure(.carryMismatch, "the \(column) column is not a JSON object")
            }
            carry = o
        default: throw IngestFailure(.carryMismatch, "the \(column) column is \(value.typeName), not a JSON string")
        }
        guard carry.removeValue(forKey: "v")?.int == version else {
            throw IngestFailure(.carryMismatch, "the \(column) column has an unknown version")
        }
        guard case .object(var record) = rebuilt.json else { return rebuilt }
        let expected = carry.removeValue(forKey: "message_count")?.int
        if let expected, expected != rebuilt.messages.count {
            throw IngestFailure(.carryMismatch,
                                "the \(column) column was made for \(expected) messages but the conversation has \(rebuilt.messages.count) (edited after export?)")
        }
        if let all = carry.removeValue(forKey: "messages_all") {
            record["messages"] = all
        } else if case .object(let patches)? = carry.removeValue(forKey: "messages") {
            var messages = record["messages"]?.array ?? []
            for patch in patches {
                guard let k = Int(patch.key), k >= 0, k < messages.count, case .object(let fields) = patch.value,
                      case .object(var message) = messages[k]
                else {
                    throw IngestFailure(.carryMismatch,
                                        "the \(column) column patches message \(patch.key) but the conversation has \(messages.count) messages (edited after export?)")
                }
                for f in fields { message[f.key] = f.value }
                messages[k] = .object(message)
            }
            record["messages"] = .array(messages)
        }
        for m in carry { record[m.key] = m.value }
        do { return try Trajectory(json: .object(record)) } catch {
            throw IngestFailure(.carryMismatch, "the \(column) column does not fit the conversation: \(error)")
        }
    }
}
