// Python's `str()` and `repr()` of template values, written straight into a byte buffer:
// `None`, `True`, `[1, 'a']`, `{'a': 1}`, `(1,)`, strings quoted the way CPython picks quotes
// and escapes, floats via `PyFloat.repr`.

enum PyText {
    /// Nesting deeper than this in repr/tojson/comparisons raises (Python raises RecursionError).
    static let maxNesting = 500

    /// `str(v)` appended to `out`.
    static func appendStr(_ v: Value, to out: inout [UInt8]) throws(TemplateError) {
        switch v {
        case .string(let s), .markup(let s): out.append(contentsOf: s.utf8)
        case .undefined: break
        case .int(let i): appendInt(i, to: &out)
        default: try appendRepr(v, to: &out, depth: 0)
        }
    }

    /// `str(v)` as a String.
    static func str(_ v: Value) throws(TemplateError) -> String {
        switch v {
        case .string(let s), .markup(let s): return s
        case .undefined: return ""
        case .none: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .float(let d): return PyFloat.repr(d)
        default:
            var out: [UInt8] = []
            try appendRepr(v, to: &out, depth: 0)
            return String(decoding: out, as: UTF8.self)
        }
    }

    /// `repr(v)` as a String.
    static func repr(_ v: Value) throws(TemplateError) -> String {
        var out: [UInt8] = []
        try appendRepr(v, to: &out, depth: 0)
        return String(decoding: out, as: UTF8.self)
    }

    @inline(__always)
    static func appendInt(_ i: Int, to out: inout [UInt8]) {
        if i >= 0 && i < 10 {
            out.append(UInt8(0x30 + i))
            return
        }
        var buf: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes of scratch
        withUnsafeMutableBytes(of: &buf) { raw in
            var pos = raw.count
            var m = i.magnitude
            repeat {
                pos -= 1
                raw[pos] = UInt8(0x30 + m % 10)
                m /= 10
            } while m > 0
            if i < 0 {
                pos -= 1
                raw[pos] = UInt8(ascii: "-")
            }
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[pos...]))
        }
    }

    static func appendRepr(_ v: Value, to out: inout [UInt8], depth: Int) throws(TemplateError) {
        if depth > maxNesting {
            throw TemplateError(.recursionLimit, "maximum recursion depth exceeded while getting the repr of an object")
        }
        switch v {
        case .undefined: out.append(contentsOf: "Undefined".utf8)
        case .none: out.append(contentsOf: "None".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "True" : "False").utf8)
        case .int(let i): appendInt(i, to: &out)
        case .float(let d): out.append(contentsOf: PyFloat.repr(d).utf8)
        case .string(let s): appendStringRepr(s, to: &out)
        case .markup(let s):
            out.append(contentsOf: "Markup(".utf8)
            appendStringRepr(s, to: &out)
            out.append(UInt8(ascii: ")"))
        case .list(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(contentsOf: ", ".utf8) }
                try appendRepr(item, to: &out, depth: depth + 1)
            }
            out.append(UInt8(ascii: "]"))
        case .tuple(let items):
            out.append(UInt8(ascii: "("))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(contentsOf: ", ".utf8) }
                try appendRepr(item, to: &out, depth: depth + 1)
            }
            if items.count == 1 { out.append(UInt8(ascii: ",")) }
            out.append(UInt8(ascii: ")"))
        case .dict(let d):
            try appendDictRepr(keys: d.keys, values: d.values, to: &out, depth: depth)
        case .namespace(let ns):
            out.append(contentsOf: "<Namespace ".utf8)
            try appendDictRepr(keys: ns.names.map { .string($0) }, values: ns.values, to: &out, depth: depth)
            out.append(UInt8(ascii: ">"))
        case .object(let o):
            out.append(contentsOf: o.repr().utf8)
        }
    }

    static func appendDictRepr(keys: [Value], values: [Value], to out: inout [UInt8], depth: Int) throws(TemplateError) {
        out.append(UInt8(ascii: "{"))
        for i in 0..<keys.count {
            if i > 0 { out.append(contentsOf: ", ".utf8) }
            try appendRepr(keys[i], to: &out, depth: depth + 1)
            out.append(contentsOf: ": ".utf8)
            try appendRepr(values[i], to: &out, depth: depth + 1)
        }
        out.append(UInt8(ascii: "}"))
    }

    /// CPython's `unicode_repr`: single quotes unless the text has `'` and no `"`.
    static func appendStringRepr(_ s: String, to out: inout [UInt8]) {
        var hasSingle = false
        var hasDouble = false
        for b in s.utf8 {
            if b == UInt8(ascii: "'") { hasSingle = true } else if b == UInt8(ascii: "\"") { hasDouble = true }
        }
        let quote: UInt8 = (hasSingle && !hasDouble) ? UInt8(ascii: "\"") : UInt8(ascii: "'")
        out.append(quote)
        for scalar in s.unicodeScalars {
            let c = scalar.value
            if c == UInt32(quote) || c == 0x5C {
                out.append(0x5C)
                out.append(UInt8(c))
            } else if c == 0x09 {
                out.append(contentsOf: "\\t".utf8)
            } else if c == 0x0A {
                out.append(contentsOf: "\\n".utf8)
            } else if c == 0x0D {
                out.append(contentsOf: "\\r".utf8)
            } else if c < 0x20 || c == 0x7F {
                appendHexEscape(c, prefix: "\\x", width: 2, to: &out)
            } else if c < 0x7F {
                out.append(UInt8(c))
            } else if isPrintable(scalar) {
                out.append(contentsOf: String(Character(scalar)).utf8)
            } else if c <= 0xFF {
                appendHexEscape(c, prefix: "\\x", width: 2, to: &out)
            } else if c <= 0xFFFF {
                appendHexEscape(c, prefix: "\\u", width: 4, to: &out)
            } else {
                appendHexEscape(c, prefix: "\\U", width: 8, to: &out)
            }
        }
        out.append(quote)
    }

    static func appendHexEscape(_ c: UInt32, prefix: String, width: Int, to out: inout [UInt8]) {
        out.append(contentsOf: prefix.utf8)
        let hex = Array("0123456789abcdef".utf8)
        for i in stride(from: width - 1, through: 0, by: -1) {
            out.append(hex[Int((c >> (UInt32(i) * 4)) & 0xF)])
        }
    }

    /// Python's `str.isprintable()` for one character: not in categories Cc, Cf, Cs, Co, Cn, Zl,
    /// Zp, Zs (space excepted).
    static func isPrintable(_ s: Unicode.Scalar) -> Bool {
        if s.value == 0x20 { return true }
        switch s.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned,
            .lineSeparator, .paragraphSeparator, .spaceSeparator:
            return false
        default:
            return true
        }
    }
}
