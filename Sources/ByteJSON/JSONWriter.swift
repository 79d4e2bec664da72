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
        case .null: out.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
        case .bool(let b): b ? out.append(contentsOf: [0x74, 0x72, 0x75, 0x65]) : out.append(contentsOf: [0x66, 0x61, 0x6C, 0x73, 0x65])
        case .number(let n): out.append(contentsOf: n.text.utf8)
        case .string(let s): JSONWriter.appendString(s, asciiOnly: asciiOnly, into: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            if items.isEmpty {
                out.append(UInt8(ascii: "]"))
                return
            }
            for (k, item) in items.enumerated() {
                if k > 0 { out.append(contentsOf: itemSeparator.utf8) }
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
                if k > 0 { out.append(contentsOf: itemSeparator.utf8) }
                newline(level + 1, into: &out)
                JSONWriter.appendString(m.key, asciiOnly: asciiOnly, into: &out)
                out.append(contentsOf: keySeparator.utf8)
                write(m.value, level: level + 1, into: &out)
            }
            newline(level, into: &out)
            out.append(UInt8(ascii: "}"))
        }
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
        out.append(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { b in
            var run = 0
            var i = 0
            let n = b.count
            while i < n {
                let c = b[i]
                if c >= 0x20 && c != UInt8(ascii: "\"") && c != UInt8(ascii: "\\") && (c < 0x80 || !asciiOnly) {
                    i += 1
                    continue
                }
                if i > run { out.append(contentsOf: UnsafeBufferPointer(rebasing: b[run..<i])) }
                if c >= 0x80 {
                    // asciiOnly: decode one scalar and write it as \uXXXX (a surrogate pair above the BMP).
                    let (scalar, len) = decodeScalar(b, at: i)
                    if scalar >= 0x10000 {
                        let v = scalar - 0x10000
                        appendU(0xD800 + (v >> 10), into: &out)
                        appendU(0xDC00 + (v & 0x3FF), into: &out)
                    } else {
                        appendU(scalar, into: &out)
                    }
                    i += len
                    run = i
                    continue
                }
                out.append(UInt8(ascii: "\\"))
                switch c {
                case UInt8(ascii: "\""): out.append(UInt8(ascii: "\""))
                case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\"))
                case 0x0A: out.append(UInt8(ascii: "n"))
                case 0x0D: out.append(UInt8(ascii: "r"))
                case 0x09: out.append(UInt8(ascii: "t"))
                case 0x08: out.append(UInt8(ascii: "b"))
                case 0x0C: out.append(UInt8(ascii: "f"))
                default:
                    out.removeLast()
                    appendU(UInt32(c), into: &out)
                }
                i += 1
                run = i
            }
            if n > run { out.append(contentsOf: UnsafeBufferPointer(rebasing: b[run..<n])) }
        }
        out.append(UInt8(ascii: "\""))
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
