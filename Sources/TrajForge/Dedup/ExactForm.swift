import ByteJSON
import Crypto
import Foundation

/// The first 128 bits of a SHA-256 digest: the identity of a trajectory's exact-dedup form.
public struct Digest128: Hashable, Sendable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// 32 lowercase hex digits.
    public var description: String {
        let h = String(high, radix: 16), l = String(low, radix: 16)
        return String(repeating: "0", count: 16 - h.count) + h + String(repeating: "0", count: 16 - l.count) + l
    }
}

/// The form two trajectories must share to be exact duplicates: what a model would be trained on,
/// without anything that names or grades the rollout.
///
/// Kept: the system prompt and every message's text, trimmed of surrounding whitespace (empty text
/// and no text are the same); roles; tool calls as name + arguments in canonical JSON (sorted keys,
/// no spaces); a tool result's tool name; the tool schemas, as the SHA-256 of their canonical JSON
/// (whole domains share them, so the digest is cached).
/// Removed: ids (trajectory, tool-call and tool-call-id), provenance, group, trial, domain, task,
/// outcome, and every `meta`.
public enum ExactForm {
    /// The form as bytes: a version line, the tools digest, then length-prefixed fields (no JSON
    /// escaping to pay for): system; message count; per message its role letter, text and tool
    /// name (tool results) and its calls (name, canonical arguments). A field is 0xFF when absent,
    /// else 0x01, its length (8 bytes, little-endian) and its UTF-8 bytes.
    public static func bytes(of t: Trajectory, cache: ToolsDigestCache? = nil) -> [UInt8] {
        bytes(of: t, toolsDigest: cache?.digest(of: t.tools) ?? toolsDigest(t.tools))
    }

    /// The form with the tools digest given (for a record decoded without its tools).
    static func bytes(of t: Trajectory, toolsDigest: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(4096)
        out.append(contentsOf: "trajforge exact form 1\n".utf8)
        out.append(contentsOf: toolsDigest)
        appendText(t.system, into: &out)
        appendCount(t.messages.count, into: &out)
        var scratch: [UInt8] = []
        for m in t.messages {
            switch m.role {
            case .system: out.append(UInt8(ascii: "s"))
            case .user: out.append(UInt8(ascii: "u"))
            case .assistant: out.append(UInt8(ascii: "a"))
            case .tool: out.append(UInt8(ascii: "t"))
            }
            appendText(m.content, into: &out)
            appendField(m.role == .tool ? m.name : nil, into: &out)
            appendCount(m.toolCalls.count, into: &out)
            for call in m.toolCalls {
                appendField(call.name, into: &out)
                scratch.removeAll(keepingCapacity: true)
                JSONWriter.canonical.write(.object(call.arguments), into: &scratch)
                appendField(scratch, into: &out)
            }
        }
        return out
    }

    /// SHA-256 of `bytes(of:)`, first 128 bits.
    public static func digest(of t: Trajectory, cache: ToolsDigestCache? = nil) -> Digest128 {
        digest(bytes(of: t, cache: cache))
    }

    static func digest(_ form: [UInt8]) -> Digest128 {
        let d = SHA256.hash(data: form)
        return d.withUnsafeBytes { raw in
            Digest128(high: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                      low: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
        }
    }

    /// SHA-256 of the canonical JSON of tool schemas.
    static func toolsDigest(_ tools: [JSON]) -> [UInt8] {
        var bytes: [UInt8] = []
        JSONWriter.canonical.write(.array(tools), into: &bytes)
        return Array(SHA256.hash(data: bytes))
    }

    static func appendCount(_ n: Int, into out: inout [UInt8]) {
        withUnsafeBytes(of: UInt64(n).littleEndian) { out.append(contentsOf: $0) }
    }

    static func appendField(_ text: String?, into out: inout [UInt8]) {
        guard let text else {
            out.append(0xFF)
            return
        }
        out.append(0x01)
        appendCount(text.utf8.count, into: &out)
        out.append(contentsOf: text.utf8)
    }

    static func appendField(_ bytes: [UInt8], into out: inout [UInt8]) {
        out.append(0x01)
        appendCount(bytes.count, into: &out)
        out.append(contentsOf: bytes)
    }

    /// Trimmed text, or absent when nothing is left.
    static func appendText(_ text: String?, into out: inout [UInt8]) {
        appendField(text.flatMap(trimmed), into: &out)
    }

    /// `text` without leading and trailing Unicode whitespace (nil if that is everything).
    public static func trimmed(_ text: String) -> String? {
        // Fast path: ASCII letters, digits and punctuation at both ends.
        let utf8 = text.utf8
        if let first = utf8.first, let last = utf8.last, first > 0x20 && first < 0x80 && last > 0x20 && last < 0x80 { return text }
        let scalars = text.unicodeScalars
        var lo = scalars.startIndex
        var hi = scalars.endIndex
        while lo < hi, scalars[lo].properties.isWhitespace { lo = scalars.index(after: lo) }
        while hi > lo, scalars[scalars.index(before: hi)].properties.isWhitespace { hi = scalars.index(before: hi) }
        if lo == hi { return nil }
        if lo == scalars.startIndex && hi == scalars.endIndex { return text }
        return String(scalars[lo..<hi])
    }
}

extension ExactForm {
    /// `trimmed` on UTF-8 bytes (valid ones): the same scalars are trimmed; nil if that is all.
    static func trimmed(utf8 b: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8>? {
        guard let base = b.baseAddress, let first = b.first, let last = b.last else { return nil }
        if first > 0x20 && first < 0x80 && last > 0x20 && last < 0x80 { return b }
        var lo = 0, hi = b.count
        while lo < hi {
            let (scalar, length) = scalar(at: lo, in: b)
            guard scalar.properties.isWhitespace else { break }
            lo += length
        }
        while hi > lo {
            var start = hi - 1
            while b[start] & 0xC0 == 0x80 { start -= 1 }
            guard scalar(at: start, in: b).0.properties.isWhitespace else { break }
            hi = start
        }
        return lo == hi ? nil : UnsafeBufferPointer(start: base + lo, count: hi - lo)
    }

    /// The scalar whose (valid) UTF-8 starts at `i`, and its length.
    private static func scalar(at i: Int, in b: UnsafeBufferPointer<UInt8>) -> (Unicode.Scalar, Int) {
        let c = UInt32(b[i])
        let (value, length): (UInt32, Int)
        if c < 0x80 {
            (value, length) = (c, 1)
        } else if c < 0xE0 {
            (value, length) = ((c & 0x1F) << 6 | UInt32(b[i + 1] & 0x3F), 2)
        } else if c < 0xF0 {
            (value, length) = ((c & 0x0F) << 12 | UInt32(b[i + 1] & 0x3F) << 6 | UInt32(b[i + 2] & 0x3F), 3)
        } else {
            (value, length) = ((c & 0x07) << 18 | UInt32(b[i + 1] & 0x3F) << 12 | UInt32(b[i + 2] & 0x3F) << 6 | UInt32(b[i + 3] & 0x3F), 4)
        }
        return (Unicode.Scalar(value) ?? "\u{FFFD}", length)
    }
}

/// The last few distinct tool-schema lists seen and their digests. Comparing a record's tools with
/// a cached list costs a fraction of writing them as canonical JSON, and a file usually has a
/// handful of domains. It also remembers the exact bytes the tools had in records, so a record
/// whose tools are byte for byte the same as an earlier one's needs them neither parsed nor
/// compared (see `Deduplicator.analyze`). Safe to share between threads.
public final class ToolsDigestCache: @unchecked Sendable {
    let lock = NSLock()
    var entries: [(tools: [JSON], digest: [UInt8])] = []
    var rawEntries: [(raw: [UInt8], digest: [UInt8])] = []
    let capacity: Int

    public init(capacity: Int = 16) { self.capacity = capacity }

    /// SHA-256 of the canonical JSON of `tools`.
    public func digest(of tools: [JSON]) -> [UInt8] {
        lock.lock()
        let snapshot = entries
        lock.unlock()
        for e in snapshot where e.tools == tools { return e.digest }
        let digest = ExactForm.toolsDigest(tools)
        lock.lock()
        if !entries.contains(where: { $0.tools == tools }) {
            if entries.count == capacity { entries.removeFirst() }
            entries.append((tools, digest))
        }
        lock.unlock()
        return digest
    }

    /// The digest of tools whose JSON text was exactly `raw` in a record that decoded, if cached.
    func digest(ofRaw raw: UnsafeRawBufferPointer) -> [UInt8]? {
        lock.lock()
        let snapshot = rawEntries
        lock.unlock()
        for e in snapshot where e.raw.count == raw.count {
            let same = e.raw.withUnsafeBytes { memcmp($0.baseAddress!, raw.baseAddress!, raw.count) == 0 }
            if same { return e.digest }
        }
        return nil
    }

    /// The cached tools text that `b` starts with, if any, and its digest. Cached texts are whole
    /// JSON arrays, so when one is a prefix of a value that starts at `b`, it is that value.
    func entry(prefixOf b: UnsafeRawBufferPointer) -> (raw: [UInt8], digest: [UInt8])? {
        lock.lock()
        let snapshot = rawEntries
        lock.unlock()
        for e in snapshot where e.raw.count <= b.count {
            let same = e.raw.withUnsafeBytes { memcmp($0.baseAddress!, b.baseAddress!, $0.count) == 0 }
            if same { return e }
        }
        return nil
    }

    /// Remembers the JSON text of tools from a record that decoded (so the text is a valid array).
    func remember(raw: UnsafeRawBufferPointer, digest: [UInt8]) {
        guard !raw.isEmpty else { return }
        lock.lock()
        if !rawEntries.contains(where: { $0.raw.elementsEqual(raw) }) {
            if rawEntries.count == capacity { rawEntries.removeFirst() }
            rawEntries.append((Array(raw), digest))
        }
        lock.unlock()
    }
}

/// Finds the text of one member's value at the top level of a JSON object without parsing it.
enum TopLevelMember {
    /// The byte range of `key`'s value in the object `b`, or nil when the key is absent, appears
    /// twice, when a top-level key has escapes, or when `b` does not scan as an object (the
    /// caller then parses the record the ordinary way).
    static func valueRange(of key: [UInt8], in b: UnsafeRawBufferPointer) -> Range<Int>? {
        let n = b.count
        var i = 0
        func skipSpace() { while i < n, isJSONWhitespace(b[i]) { i += 1 } }
        skipSpace()
        guard i < n, b[i] == UInt8(ascii: "{") else { return nil }
        i += 1
        skipSpace()
        if i < n, b[i] == UInt8(ascii: "}") { return nil }
        var found: Range<Int>?
        while true {
            skipSpace()
            guard i < n, b[i] == UInt8(ascii: "\"") else { return nil }
            let keyStart = i + 1
            guard let keyEnd = stringEnd(b, from: i) else { return nil }
            let keyBytes = UnsafeRawBufferPointer(rebasing: b[keyStart..<keyEnd])
            if keyBytes.contains(UInt8(ascii: "\\")) { return nil }
            i = keyEnd + 1
            skipSpace()
            guard i < n, b[i] == UInt8(ascii: ":") else { return nil }
            i += 1
            skipSpace()
            let valueStart = i
            guard let valueEnd = valueEnd(b, from: i) else { return nil }
            if keyBytes.elementsEqual(key) {
                if found != nil { return nil }
                found = valueStart..<valueEnd
            }
            i = valueEnd
            skipSpace()
            guard i < n else { return nil }
            if b[i] == UInt8(ascii: ",") {
                i += 1
                continue
            }
            guard b[i] == UInt8(ascii: "}") else { return nil }
            i += 1
            skipSpace()
            return i == n ? found : nil
        }
    }

    /// Index of the closing quote of the string opening at `start` (found with memchr: a quote
    /// preceded by an odd number of backslashes is escaped).
    static func stringEnd(_ b: UnsafeRawBufferPointer, from start: Int) -> Int? {
        guard let base = b.baseAddress else { return nil }
        var i = start + 1
        while i < b.count {
            guard let hit = memchr(base + i, 0x22, b.count - i) else { return nil }
            let q = UnsafeRawPointer(hit) - base
            var k = q - 1
            while k > start && b[k] == 0x5C { k -= 1 }
            if (q - 1 - k) % 2 == 0 { return q }
            i = q + 1
        }
        return nil
    }

    /// Index just past the value starting at `start` (strings, arrays and objects by bracket
    /// depth outside strings; other values up to the next delimiter).
    static func valueEnd(_ b: UnsafeRawBufferPointer, from start: Int) -> Int? {
        guard start < b.count else { return nil }
        switch b[start] {
        case UInt8(ascii: "\""):
            return stringEnd(b, from: start).map { $0 + 1 }
        case UInt8(ascii: "["), UInt8(ascii: "{"):
            var depth = 0
            var i = start
            while i < b.count {
                switch b[i] {
                case UInt8(ascii: "\""):
                    guard let end = stringEnd(b, from: i) else { return nil }
                    i = end
                case UInt8(ascii: "["), UInt8(ascii: "{"): depth += 1
                case UInt8(ascii: "]"), UInt8(ascii: "}"):
                    depth -= 1
                    if depth == 0 { return i + 1 }
                default: break
                }
                i += 1
            }
            return nil
        default:
            var i = start
            while i < b.count, b[i] != UInt8(ascii: ","), b[i] != UInt8(ascii: "}"), b[i] != UInt8(ascii: "]"), !isJSONWhitespace(b[i]) { i += 1 }
            return i > start ? i : nil
        }
    }
}
