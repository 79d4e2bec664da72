import ByteJSON
import Crypto

/// The input formats `trajforge ingest --from` understands.
public enum SourceFormat: String, Sendable, CaseIterable {
    case auto
    /// APIGen-MT-5k: LLaMA-Factory ShareGPT whose records are all verified (success = true).
    case apigenMT = "apigen-mt"
    /// LLaMA-Factory ShareGPT (`conversations` of human/gpt/function_call/observation).
    case sharegpt
    /// tau-bench v1 results: a JSON array of {task_id, reward, info, traj, trial}.
    case tauBench = "tau-bench"
    /// tau2-bench results: one object {info, tasks, simulations}.
    case tau2Bench = "tau2-bench"
    /// OpenAI chat messages, one {messages, tools} record per line (also TRL / axolotl).
    case openai
}

/// Why a record could not be converted.
public struct IngestFailure: Error, Sendable {
    public var reason: RejectReason
    public var detail: String
    public init(_ reason: RejectReason, _ detail: String) {
        self.reason = reason
        self.detail = detail
    }
}

/// One input unit's outcome: a trajectory, or why not. A tau2 document yields one per simulation.
public typealias Conversion = Result<Trajectory, IngestFailure>

/// Things every adapter needs to know about the record it converts.
public struct RecordContext: Sendable {
    public var location: RecordLocation
    /// The record's raw bytes (hashed into the trajectory id).
    public var bytes: ArraySlice<UInt8>
    public var format: SourceFormat

    public init(location: RecordLocation, bytes: ArraySlice<UInt8>, format: SourceFormat) {
        self.location = location
        self.bytes = bytes
        self.format = format
    }

    public var provenance: Provenance {
        Provenance(format: format.rawValue, file: location.file, line: location.line, index: location.index, offset: location.offset)
    }

    /// `<slug>-<16 hex>`: readable, and unique because the hash covers the record's bytes and its index.
    public func makeID(slugParts: [String?], subIndex: Int? = nil) -> String {
        var hasher = SHA256()
        bytes.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        hasher.update(data: Array("\n\(location.index)/\(subIndex ?? 0)".utf8))
        let digest = Array(hasher.finalize())
        var hex = ""
        for b in digest.prefix(8) {
            hex += String(b >> 4, radix: 16) + String(b & 0xF, radix: 16)
        }
        let slug = slugParts.compactMap { $0 }.map(sanitizeSlug).filter { !$0.isEmpty }.joined(separator: "-")
        return (slug.isEmpty ? format.rawValue : slug) + "-" + hex
    }
}

/// Keeps letters, digits, `_` and `.`; everything else becomes `-` (ids stay file- and URL-safe).
func sanitizeSlug(_ s: String) -> String {
    var out = ""
    var lastDash = false
    for u in s.unicodeScalars.prefix(48) {
        if (u >= "a" && u <= "z") || (u >= "A" && u <= "Z") || (u >= "0" && u <= "9") || u == "_" || u == "." {
            out.unicodeScalars.append(u)
            lastDash = false
        } else if !lastDash {
            out += "-"
            lastDash = true
        }
    }
    return String(out.trimmingPrefixAndSuffix("-"))
}

extension String {
    func trimmingPrefixAndSuffix(_ c: Character) -> Substring {
        var s = Substring(self)
        while s.first == c { s.removeFirst() }
        while s.last == c { s.removeLast() }
        return s
    }
}

/// The domain a policy document names in its first heading ("# Retail agent policy" → "retail",
/// "# Airline Agent Policy" → "airline"); nil when the text has no such heading.
public func inferDomain(fromPolicy text: String?) -> String? {
    guard let text else { return nil }
    let first = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: true).first ?? ""
    guard first.hasPrefix("# ") else { return nil }
    let words = first.dropFirst(2).split(separator: " ")
    guard words.count >= 3, words[1].lowercased() == "agent", words[2].lowercased().hasPrefix("polic") else { return nil }
    return words[0].lowercased()
}

/// Normalises a list of tool schemas to the wrapped OpenAI form `{"type":"function","function":{…}}`.
/// Accepts a JSON array, or a string holding one (ShareGPT / APIGen-MT), of wrapped or raw schemas.
public func normalizeTools(_ value: JSON?, field: String) throws(IngestFailure) -> [JSON] {
    var list: [JSON]
    switch value {
    case nil, .null?: return []
    case .array(let a)?: list = a
    case .string(let s)?:
        if s.allSatisfy({ $0.isWhitespace }) { return [] }
        let parsed: JSON
        do { parsed = try JSON.parse(s) } catch {
            throw IngestFailure(.wrongType, "\(field) is a string but not valid JSON: \(error)")
        }
        guard case .array(let a) = parsed else {
            throw IngestFailure(.wrongType, "\(field) is a string but not a JSON list of tool schemas")
        }
        list = a
    case let other?: throw IngestFailure(.wrongType, "\(field) must be a list of tool schemas, found \(other.typeName)")
    }
    for (k, tool) in list.enumerated() {
        guard case .object(let o) = tool else { throw IngestFailure(.wrongType, "\(field)[\(k)] is not an object") }
        if o["type"]?.string == "function", case .object(let f)? = o["function"] {
            guard f["name"]?.string != nil else { throw IngestFailure(.missingField, "\(field)[\(k)].function has no name") }
            continue
        }
        guard o["name"]?.string != nil else { throw IngestFailure(.missingField, "\(field)[\(k)] has no name") }
        list[k] = .object(["type": "function", "function": tool])
    }
    return list
}

/// Reads the `--tools` file: a JSON list of schemas (wrapped or raw).
public func loadToolsFile(_ path: String) throws -> [JSON] {
    let source = try openDecompressed(path).source
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = try source.read(into: &chunk)
        if n == 0 { break }
        bytes.append(contentsOf: chunk[0..<n])
    }
    let json: JSON
    do { json = try JSON.parse(bytes) } catch { throw IOError(path: path, "not valid JSON: \(error)") }
    do { return try normalizeTools(json, field: "tools") } catch { throw IOError(path: path, error.detail) }
}

/// Parses tool-call arguments given as an object or as a string holding one.
/// An empty string means no arguments (some providers send "" for argument-less calls).
func parseArguments(_ value: JSON?, call: String) throws(IngestFailure) -> (JSONObject, raw: JSON?) {
    switch value {
    case .object(let o)?: return (o, nil)
    case .string(let s)?:
        if s.allSatisfy({ $0.isWhitespace }) { return ([:], .string(s)) }
        let parsed: JSON
        do { parsed = try JSON.parse(s) } catch {
            throw IngestFailure(.invalidArguments, "arguments of \(call) are not valid JSON (\(error)): \(s.prefix(120))")
        }
        guard case .object(let o) = parsed else {
            throw IngestFailure(.invalidArguments, "arguments of \(call) are JSON \(parsed.typeName), not an object")
        }
        return (o, nil)
    case nil, .null?:
        return ([:], value)
    case let other?:
        throw IngestFailure(.invalidArguments, "arguments of \(call) are \(other.typeName), not an object or a JSON string")
    }
}

/// Text of a message `content`: a string, null, or a list of parts whose text parts are joined
/// (the original list is then kept in the message meta).
func contentText(_ value: JSON?, at path: String) throws(IngestFailure) -> (String?, keepOriginal: Bool) {
    switch value {
    case nil, .null?: return (nil, false)
    case .string(let s)?: return (s, false)
    case .array(let parts)?:
        var text = ""
        for part in parts {
            if part["type"]?.string == "text", let t = part["text"]?.string { text += t } else if let s = part.string { text += s }
        }
        return (text, true)
    case let other?:
        throw IngestFailure(.wrongType, "\(path).content is \(other.typeName), not a string or a list of parts")
    }
}
