// Hand-written JSON parser over bytes (RFC 8259). Foundation's JSONSerialization runs ~90 MB/s on
// Linux; this runs several times faster because strings without escapes are found eight bytes at a
// time and handed to String in one piece, and nothing is boxed.

public struct JSONParseOptions: Sendable {
    /// Deepest nesting of arrays/objects accepted (CPython's json stops near 1000 too).
    public var maxDepth: Int = 1000
    public init(maxDepth: Int = 1000) { self.maxDepth = maxDepth }
}

extension JSON {
    /// Parses exactly one JSON value (surrounding whitespace allowed) from `bytes`.
    public static func parse(_ bytes: UnsafeRawBufferPointer, options: JSONParseOptions = .init()) throws(JSONError) -> JSON {
        guard let base = bytes.baseAddress, bytes.count > 0 else { throw JSONError(.empty, at: 0) }
        var parser = JSONParser(base.assumingMemoryBound(to: UInt8.self), count: bytes.count, options: options)
        return try parser.parseDocument()
    }

    public static func parse(_ bytes: [UInt8], options: JSONParseOptions = .init()) throws(JSONError) -> JSON {
        let result: Result<JSON, JSONError> = bytes.withUnsafeBytes { raw in
            do throws(JSONError) { return .success(try JSON.parse(raw, options: options)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    public static func parse(_ text: String, options: JSONParseOptions = .init()) throws(JSONError) -> JSON {
        var text = text
        let result: Result<JSON, JSONError> = text.withUTF8 { buf in
            do throws(JSONError) { return .success(try JSON.parse(UnsafeRawBufferPointer(buf), options: options)) } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }
}

@usableFromInline
struct JSONParser {
    let p: UnsafePointer<UInt8>
    let n: Int
    var i = 0
    var depth = 0
    let maxDepth: Int
    /// Reused buffer for strings with escapes.
    var scratch: [UInt8] = []
    /// Cheap fingerprints of the keys of the objects being parsed (a stack: one frame per open
    /// object), so repeated keys are found without comparing strings.
    var keyHashes: [UInt64] = []

    init(_ p: UnsafePointer<UInt8>, count: Int, options: JSONParseOptions) {
        self.p = p
        self.n = count
        self.maxDepth = options.maxDepth
    }

    mutating func parseDocument() throws(JSONError) -> JSON {
        skipWhitespace()
        if i == n { throw JSONError(.empty, at: i, "no JSON value") }
        let value = try parseValue()
        skipWhitespace()
        if i != n { throw JSONError(.extraData, at: i) }
        return value
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while i < n {
            let c = p[i]
            if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { i += 1 } else { return }
        }
    }

    mutating func parseValue() throws(JSONError) -> JSON {
        guard i < n else { throw JSONError(.unexpectedEnd, at: i, "expected a value") }
        switch p[i] {
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        default: throw unexpected("expected a value")
        }
    }

    func unexpected(_ what: String) -> JSONError {
        guard i < n else { return JSONError(.unexpectedEnd, at: i, what) }
        let c = p[i]
        let shown = c >= 0x20 && c < 0x7F ? "'\(Character(Unicode.Scalar(c)))'" : "byte 0x\(String(c, radix: 16))"
        return JSONError(.unexpectedCharacter, at: i, "\(what), found \(shown)")
    }

    mutating func expectLiteral(_ word: StaticString) throws(JSONError) {
        let len = word.utf8CodeUnitCount
        let w = word.utf8Start
        var k = 0
        while k < len {
            guard i + k < n else { throw JSONError(.unexpectedEnd, at: i + k, "in literal \(word)") }
            guard p[i + k] == w[k] else {
                i += k
                throw unexpected("in literal \(word)")
            }
            k += 1
        }
        i += len
    }

    mutating func parseNumber() throws(JSONError) -> JSONNumber {
        let start = i
        if p[i] == UInt8(ascii: "-") { i += 1 }
        guard i < n else { throw JSONError(.invalidNumber, at: start, "no digits") }
        if p[i] == UInt8(ascii: "0") {
            i += 1
        } else if p[i] &- UInt8(ascii: "1") < 9 {
            i += 1
            while i < n, p[i] &- UInt8(ascii: "0") < 10 { i += 1 }
        } else {
            throw JSONError(.invalidNumber, at: i, "expected a digit")
        }
        if i < n, p[i] == UInt8(ascii: ".") {
            i += 1
            let s = i
            while i < n, p[i] &- UInt8(ascii: "0") < 10 { i += 1 }
            if i == s { throw JSONError(.invalidNumber, at: i, "expected a digit after '.'") }
        }
        if i < n, p[i] | 0x20 == UInt8(ascii: "e") {
            i += 1
            if i < n, p[i] == UInt8(ascii: "+") || p[i] == UInt8(ascii: "-") { i += 1 }
            let s = i
            while i < n, p[i] &- UInt8(ascii: "0") < 10 { i += 1 }
            if i == s { throw JSONError(.invalidNumber, at: i, "expected a digit in the exponent") }
        }
        return JSONNumber(unchecked: String(decoding: UnsafeBufferPointer(start: p + start, count: i - start), as: UTF8.self))
    }

    /// Finds the first byte at or after `j` that is `"`, `\` or a control character; also reports
    /// whether any byte ≥ 0x80 was passed (then the text needs UTF-8 validation).
    @inline(__always)
    func scanString(from start: Int) -> (Int, Bool) {
        var j = start
        var high: UInt64 = 0
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        while j &+ 8 <= n {
            let w = UnsafeRawPointer(p + j).loadUnaligned(as: UInt64.self)
            let q = w ^ 0x2222_2222_2222_2222
            let b = w ^ 0x5C5C_5C5C_5C5C_5C5C
            let hit = ((q &- ones) & ~q | (b &- ones) & ~b | (w &- 0x2020_2020_2020_2020) & ~w) & highs
            high |= w
            if hit != 0 {
                return (j + hit.trailingZeroBitCount >> 3, high & highs != 0)
            }
            j &+= 8
        }
        var sawHigh = high & highs != 0
        while j < n {
            let c = p[j]
            if c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") || c < 0x20 { break }
            if c >= 0x80 { sawHigh = true }
            j += 1
        }
        return (j, sawHigh)
    }

    mutating func parseString() throws(JSONError) -> String {
        let open = i
        let start = i + 1
        var (j, nonASCII) = scanString(from: start)
        if j < n, p[j] == UInt8(ascii: "\"") {
            i = j + 1
            let buf = UnsafeBufferPointer(start: p + start, count: j - start)
            if !nonASCII { return String(decoding: buf, as: UTF8.self) }
            if let s = String(validating: buf, as: UTF8.self) { return s }
            throw invalidUTF8(in: start..<j)
        }
        // Slow path: escapes. Copy runs and decoded escapes into the scratch buffer.
        scratch.removeAll(keepingCapacity: true)
        var runStart = start
        while true {
            guard j < n else { throw JSONError(.unexpectedEnd, at: open, "unterminated string") }
            let c = p[j]
            if c == UInt8(ascii: "\"") { break }
            if c < 0x20 {
                throw JSONError(.controlCharacter, at: j, "byte 0x\(String(c, radix: 16)) must be escaped")
            }
            // c is a backslash.
            scratch.append(contentsOf: UnsafeBufferPointer(start: p + runStart, count: j - runStart))
            guard j + 1 < n else { throw JSONError(.unexpectedEnd, at: open, "unterminated string") }
            let e = p[j + 1]
            j += 2
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scratch.append(e)
            case UInt8(ascii: "b"): scratch.append(0x08)
            case UInt8(ascii: "f"): scratch.append(0x0C)
            case UInt8(ascii: "n"): scratch.append(0x0A)
            case UInt8(ascii: "r"): scratch.append(0x0D)
            case UInt8(ascii: "t"): scratch.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4(at: j)
                j += 4
                if scalar >= 0xD800, scalar < 0xDC00 {
                    // A high surrogate must be followed by an escaped low surrogate.
                    guard j + 6 <= n, p[j] == UInt8(ascii: "\\"), p[j + 1] == UInt8(ascii: "u") else {
                        throw JSONError(.loneSurrogate, at: j - 6, "high surrogate without a low surrogate")
                    }
                    let low = try hex4(at: j + 2)
                    guard low >= 0xDC00, low < 0xE000 else {
                        throw JSONError(.loneSurrogate, at: j - 6, "high surrogate without a low surrogate")
                    }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    j += 6
                } else if scalar >= 0xDC00, scalar < 0xE000 {
                    throw JSONError(.loneSurrogate, at: j - 6, "low surrogate without a high surrogate")
                }
                appendUTF8(scalar)
            default:
                throw JSONError(.invalidEscape, at: j - 2, "\\\(Character(Unicode.Scalar(e))) is not a JSON escape")
            }
            runStart = j
            let (next, more) = scanString(from: j)
            nonASCII = nonASCII || more
            j = next
        }
        scratch.append(contentsOf: UnsafeBufferPointer(start: p + runStart, count: j - runStart))
        i = j + 1
        if !nonASCII { return String(decoding: scratch, as: UTF8.self) }
        if let s = String(validating: scratch, as: UTF8.self) { return s }
        throw invalidUTF8(in: start..<j)
    }

    func hex4(at k: Int) throws(JSONError) -> UInt32 {
        guard k + 4 <= n else { throw JSONError(.unexpectedEnd, at: k, "in \\u escape") }
        var v: UInt32 = 0
        for d in 0..<4 {
            let c = p[k + d]
            let h: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): h = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): h = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): h = c - UInt8(ascii: "A") + 10
            default: throw JSONError(.invalidEscape, at: k - 2, "\\u needs four hex digits")
            }
            v = v << 4 | UInt32(h)
        }
        return v
    }

    mutating func appendUTF8(_ v: UInt32) {
        switch v {
        case 0..<0x80:
            scratch.append(UInt8(v))
        case 0x80..<0x800:
            scratch.append(UInt8(0xC0 | v >> 6))
            scratch.append(UInt8(0x80 | v & 0x3F))
        case 0x800..<0x10000:
            scratch.append(UInt8(0xE0 | v >> 12))
            scratch.append(UInt8(0x80 | v >> 6 & 0x3F))
            scratch.append(UInt8(0x80 | v & 0x3F))
        default:
            scratch.append(UInt8(0xF0 | v >> 18))
            scratch.append(UInt8(0x80 | v >> 12 & 0x3F))
            scratch.append(UInt8(0x80 | v >> 6 & 0x3F))
            scratch.append(UInt8(0x80 | v & 0x3F))
        }
    }

    func invalidUTF8(in range: Range<Int>) -> JSONError {
        let bad = UTF8Check.firstInvalid(UnsafeBufferPointer(start: p + range.lowerBound, count: range.count))
        return JSONError(.invalidUTF8, at: range.lowerBound + (bad ?? 0), "in a string")
    }

    mutating func parseArray() throws(JSONError) -> JSON {
        depth += 1
        if depth > maxDepth { throw JSONError(.tooDeep, at: i, "more than \(maxDepth) levels") }
        i += 1
        skipWhitespace()
        var items: [JSON] = []
        if i < n, p[i] == UInt8(ascii: "]") {
            i += 1
            depth -= 1
            return .array(items)
        }
        while true {
            skipWhitespace()
            items.append(try parseValue())
            skipWhitespace()
            guard i < n else { throw JSONError(.unexpectedEnd, at: i, "in an array") }
            if p[i] == UInt8(ascii: ",") {
                i += 1
                continue
            }
            if p[i] == UInt8(ascii: "]") {
                i += 1
                break
            }
            throw unexpected("expected ',' or ']' in an array")
        }
        depth -= 1
        return .array(items)
    }

    mutating func parseObject() throws(JSONError) -> JSON {
        depth += 1
        if depth > maxDepth { throw JSONError(.tooDeep, at: i, "more than \(maxDepth) levels") }
        i += 1
        skipWhitespace()
        var members: [JSONMember] = []
        if i < n, p[i] == UInt8(ascii: "}") {
            i += 1
            depth -= 1
            return .object(JSONObject(members))
        }
        let frame = keyHashes.count
        var bigIndex: [String: Int]? = nil
        while true {
            skipWhitespace()
            guard i < n else { throw JSONError(.unexpectedEnd, at: i, "in an object") }
            guard p[i] == UInt8(ascii: "\"") else { throw unexpected("expected a string key") }
            let keyStart = i + 1
            let key = try parseString()
            let h = keyHash(key, rawStart: keyStart, rawEnd: i - 1)
            skipWhitespace()
            guard i < n else { throw JSONError(.unexpectedEnd, at: i, "in an object") }
            guard p[i] == UInt8(ascii: ":") else { throw unexpected("expected ':' after an object key") }
            i += 1
            skipWhitespace()
            let value = try parseValue()
            // Python keeps the first position and the last value of a repeated key.
            if members.count >= 32 {
                if bigIndex == nil {
                    var index = [String: Int](minimumCapacity: members.count * 2)
                    for (k, m) in members.enumerated() { index[m.key] = k }
                    bigIndex = index
                }
                if let at = bigIndex![key] {
                    members[at].value = value
                } else {
                    bigIndex![key] = members.count
                    members.append(JSONMember(key, value))
                }
            } else {
                var replaced = false
                var k = frame
                while k < keyHashes.count {
                    if keyHashes[k] == h, members[k - frame].key == key {
                        members[k - frame].value = value
                        replaced = true
                        break
                    }
                    k += 1
                }
                if !replaced {
                    keyHashes.append(h)
                    members.append(JSONMember(key, value))
                }
            }
            skipWhitespace()
            guard i < n else { throw JSONError(.unexpectedEnd, at: i, "in an object") }
            if p[i] == UInt8(ascii: ",") {
                i += 1
                continue
            }
            if p[i] == UInt8(ascii: "}") {
                i += 1
                break
            }
            throw unexpected("expected ',' or '}' in an object")
        }
        keyHashes.removeSubrange(frame...)
        depth -= 1
        return .object(JSONObject(members))
    }

    /// A fingerprint of a key's decoded bytes: length plus its first and last eight bytes. Equal
    /// keys always get equal fingerprints; unequal keys that collide are told apart by comparison.
    @inline(__always)
    func keyHash(_ key: String, rawStart: Int, rawEnd: Int) -> UInt64 {
        var k = rawStart
        while k < rawEnd {
            if p[k] == UInt8(ascii: "\\") {
                // Escaped: the decoded text differs from the raw bytes.
                var decoded = key
                return decoded.withUTF8 { JSONParser.fingerprint($0) }
            }
            k += 1
        }
        return JSONParser.fingerprint(UnsafeBufferPointer(start: p + rawStart, count: rawEnd - rawStart))
    }

    @inline(__always)
    static func fingerprint(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        let len = bytes.count
        var a: UInt64 = 0
        var b: UInt64 = 0
        if len >= 8, let base = bytes.baseAddress {
            a = UnsafeRawPointer(base).loadUnaligned(as: UInt64.self)
            b = UnsafeRawPointer(base + len - 8).loadUnaligned(as: UInt64.self)
        } else {
            for k in 0..<len { a |= UInt64(bytes[k]) << (8 * UInt64(k)) }
        }
        return (a &* 0x9E37_79B9_7F4A_7C15) ^ ((b &+ UInt64(len)) &* 0xC2B2_AE3D_27D4_EB4F)
    }
}
