// JSON writer. Escapes exactly what Python's json.dumps escapes (", \, control characters; with
// `asciiOnly` also every non-ASCII scalar), so output can be compared byte for byte with Python.

public struct JSONWriter: Sendable {
    /// Sort object keys by code point (as Python's `sort_keys=True`; UTF-8 byte order is code point order).
    public var sortKeys = false
    /// Escape every non-ASCII scalar as `\uXXXX` (Python's `ensure_ascii=True`).
    public var asciiOnly = false
    /// Written between array items / object members (Python default `", "`, compact `","`).
    public var itemSeparator = ","
    /// Written between a key and its value (Python default `": "`, compact `":"`).
    public var keySeparator = ":"
    /// Pretty-print with this many spaces per level (Python's `indent=`); nil for one line.
    public var indent: Int? = nil

    public init(sortKeys: Bool = false, asciiOnly: Bool = false, itemSeparator: String = ",",
                keySeparator: String = ":", indent: Int? = nil)
    {
        self.sortKeys = sortKeys
        self.asciiOnly = asciiOnly
        self.itemSeparator = itemSeparator
        self.keySeparator = keySeparator
        self.indent = indent
    }

    /// One line, no spaces, keys in their order: the JSONL form.
    public static let compact = JSONWriter()
    /// Sorted keys, no spaces, minimal escapes: the form hashed for identity and dedup.
    public static let canonical = JSONWriter(sortKeys: true)
    /// Python's `json.dumps(x, ensure_ascii=False)` layout: `", "` and `": "`.
    public static let python = JSONWriter(itemSeparator: ", ", keySeparator: ": ")
    /// Python's `json.dumps(x, indent=2, ensure_ascii=False)` layout.
    public static let pretty = JSONWriter(itemSeparator: ",", keySeparator: ": ", indent: 2)

    public func write(_ value: JSON, into out: inout [UInt8]) {
        write(value, level: 0, into: &out)
    }

    private func write(_ value: JSON, level: Int, into out: inout [UInt8]) {
        switch value {
        case .null: JSONWriter.appendLiteral("null", into: &out)
        case .bool(let b): JSONWriter.appendLiteral(b ? "true" : "false", into: &out)
        case .number(let n): JSONWriter.appendUTF8(n.text, into: &out)
        case .string(let s): JSONWriter.appendString(s, asciiOnly: asciiOnly, into: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            if items.isEmpty {
                out.append(UInt8(ascii: "]"))
                return
            }
            for (k, item) in items.enumerated() {
                if k > 0 { JSONWriter.appendUTF8(itemSeparator, into: &out) }
                newline(level + 1, into: &out)
                write(item, level: level + 1, into: &out)
            }
            newline(level, into: &out)
            out.append(UInt8(ascii: "]"))
        case .object(let object):
            out.append(UInt8(ascii: "{"))
            if object.isEmpty {
                out.append(UInt8(ascii: "}"))
                return
            }
            let members = sortKeys ? object.members.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) } : object.members
            for (k, m) in members.enumerated() {
                if k > 0 { JSONWriter.appendUTF8(itemSeparator, into: &out) }
                newline(level + 1, into: &out)
                JSONWriter.appendString(m.key, asciiOnly: asciiOnly, into: &out)
                JSONWriter.appendUTF8(keySeparator, into: &out)
                write(m.value, level: level + 1, into: &out)
            }
            newline(level, into: &out)
            out.append(UInt8(ascii: "}"))
        }
    }

    /// Appends a string's UTF-8 (in place for native strings: no array is made for a separator or
    /// a number's text on every call).
    @inline(__always)
    static func appendUTF8(_ s: String, into out: inout [UInt8]) {
        if s.utf8.count == 1 {
            out.append(s.utf8.first!)
            return
        }
        let done: Void? = s.utf8.withContiguousStorageIfAvailable { out.append(contentsOf: $0) }
        if done == nil { out.append(contentsOf: s.utf8) }
    }

    @inline(__always)
    static func appendLiteral(_ s: StaticString, into out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    @inline(__always)
    private func newline(_ level: Int, into out: inout [UInt8]) {
        guard let indent else { return }
        out.append(0x0A)
        out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: indent * level))
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Appends `s` as a quoted JSON string.
    public static func appendString(_ s: String, asciiOnly: Bool = false, into out: inout [UInt8]) {
        var s = s
        s.withUTF8 { appendString(utf8: $0, asciiOnly: asciiOnly, into: &out) }
    }

    /// Appends valid UTF-8 `b` as a quoted JSON string. Runs of bytes that need no escape are
    /// found eight at a time and copied in one piece, into a buffer sized for the worst case.
    public static func appendString(utf8 b: UnsafeBufferPointer<UInt8>, asciiOnly: Bool = false, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        appendEscaped(utf8: b, asciiOnly: asciiOnly, into: &out)
        out.append(UInt8(ascii: "\""))
    }

    /// Appends the escaped form of valid UTF-8 `b` (a JSON string's contents, without quotes).
    /// Escaping works byte by byte, so `escaped(a + b) == escaped(a) + escaped(b)` when `a` ends
    /// on a character boundary: callers extend an earlier result instead of redoing it.
    public static func appendEscaped(utf8 b: UnsafeBufferPointer<UInt8>, asciiOnly: Bool = false, into out: inout [UInt8]) {
        let n = b.count
        // Worst case: every byte becomes \u00XX (6 bytes). Written into an uninitialized buffer,
        // then appended in one copy.
        let escaped = [UInt8](unsafeUninitializedCapacity: n * 6) { dst, initialized in
            initialized = encode(into: dst)
        }
        out.append(contentsOf: escaped)

        func encode(into dst: UnsafeMutableBufferPointer<UInt8>) -> Int {
            var o = 0
            guard let src = b.baseAddress else { return o }
            func copy(_ from: Int, _ to: Int) {
                if to > from { (dst.baseAddress! + o).update(from: src + from, count: to - from); o += to - from }
            }
            func u(_ v: UInt32) {
                let hex: StaticString = "0123456789abcdef"
                let h = hex.utf8Start
                dst[o] = UInt8(ascii: "\\"); dst[o + 1] = UInt8(ascii: "u")
                dst[o + 2] = h[Int(v >> 12 & 0xF)]; dst[o + 3] = h[Int(v >> 8 & 0xF)]
                dst[o + 4] = h[Int(v >> 4 & 0xF)]; dst[o + 5] = h[Int(v & 0xF)]
                o += 6
            }
            let ones: UInt64 = 0x0101_0101_0101_0101
            let highs: UInt64 = 0x8080_8080_8080_8080
            var run = 0
            var i = 0
            while i < n {
                // Skip safe bytes a word at a time: no '"', no '\\', no control byte (no high byte if asciiOnly).
                while i &+ 8 <= n {
                    let w = UnsafeRawPointer(src + i).loadUnaligned(as: UInt64.self)
                    let q = w ^ 0x2222_2222_2222_2222
                    let k = w ^ 0x5C5C_5C5C_5C5C_5C5C
                    var hit = ((q &- ones) & ~q | (k &- ones) & ~k | (w &- 0x2020_2020_2020_2020) & ~w) & highs
                    if asciiOnly { hit |= w & highs }
                    if hit != 0 { break }
                    i &+= 8
                }
                guard i < n else { break }
                let c = src[i]
                if c >= 0x20 && c != UInt8(ascii: "\"") && c != UInt8(ascii: "\\") && (c < 0x80 || !asciiOnly) {
                    i += 1
                    continue
                }
                copy(run, i)
                if c >= 0x80 {
                    let (scalar, len) = decodeScalar(b, at: i)
                    if scalar >= 0x10000 {
                        let v = scalar - 0x10000
                        u(0xD800 + (v >> 10))
                        u(0xDC00 + (v & 0x3FF))
                    } else {
                        u(scalar)
                    }
                    i += len
                    run = i
                    continue
                }
                switch c {
                case UInt8(ascii: "\""): dst[o] = UInt8(ascii: "\\"); dst[o + 1] = c; o += 2
                case UInt8(ascii: "\\"): dst[o] = c; dst[o + 1] = c; o += 2
                case 0x0A: dst[o] = UInt8(ascii: "\\"); dst[o + 1] = UInt8(ascii: "n"); o += 2
                case 0x0D: dst[o] = UInt8(ascii: "\\"); dst[o + 1] = UInt8(ascii: "r"); o += 2
                case 0x09: dst[o] = UInt8(ascii: "\\"); dst[o + 1] = UInt8(ascii: "t"); o += 2
                case 0x08: dst[o] = UInt8(ascii: "\\"); dst[o + 1] = UInt8(ascii: "b"); o += 2
                case 0x0C: dst[o] = UInt8(ascii: "\\"); dst[o + 1] = UInt8(ascii: "f"); o += 2
                default: u(UInt32(c))
                }
                i += 1
                run = i
            }
            copy(run, n)
            return o
        }
    }

    @inline(__always)
    private static func appendU(_ v: UInt32, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\\"))
        out.append(UInt8(ascii: "u"))
        out.append(hexDigits[Int(v >> 12 & 0xF)])
        out.append(hexDigits[Int(v >> 8 & 0xF)])
        out.append(hexDigits[Int(v >> 4 & 0xF)])
        out.append(hexDigits[Int(v & 0xF)])
    }

    /// Decodes the (valid) UTF-8 scalar starting at `i`.
    @inline(__always)
    private static func decodeScalar(_ b: UnsafeBufferPointer<UInt8>, at i: Int) -> (UInt32, Int) {
        let c = UInt32(b[i])
        if c < 0xE0 { return ((c & 0x1F) << 6 | UInt32(b[i + 1] & 0x3F), 2) }
        if c < 0xF0 { return ((c & 0x0F) << 12 | UInt32(b[i + 1] & 0x3F) << 6 | UInt32(b[i + 2] & 0x3F), 3) }
        return ((c & 0x07) << 18 | UInt32(b[i + 1] & 0x3F) << 12 | UInt32(b[i + 2] & 0x3F) << 6 | UInt32(b[i + 3] & 0x3F), 4)
    }
}

extension JSON {
    /// The value written with `writer` (compact by default).
    public func serializedBytes(_ writer: JSONWriter = .compact) -> [UInt8] {
        var out: [UInt8] = []
        writer.write(self, into: &out)
        return out
    }

    public func serialized(_ writer: JSONWriter = .compact) -> String {
        String(decoding: serializedBytes(writer), as: UTF8.self)
    }

    /// Sorted keys, no spaces, minimal escapes, numbers as written in the source.
    public var canonicalBytes: [UInt8] { serializedBytes(.canonical) }
    public var canonicalString: String { serialized(.canonical) }
}

extension JSON: CustomStringConvertible {
    public var description: String { serialized() }
}
