// `tojson` as HF transformers defines it: Python's
// `json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)`.
// Separators default to `", "`/`": "`, or `","`/`": "` when indented; floats print as repr
// (`1.0`, `1e+16`, `NaN`, `Infinity`); keys keep insertion order unless sorted.

struct JSONDumpOptions {
    var ensureASCII = false
    /// The indent unit, or nil for a single line.
    var indent: String? = nil
    var itemSeparator = ", "
    var keySeparator = ": "
    var sortKeys = false
    private(set) var itemSeparatorBytes: [UInt8] = Array(", ".utf8)
    var indentBytes: [UInt8]? { indent.map { Array($0.utf8) } }
    private(set) var newlineBytes: [[UInt8]] = []
    private(set) var keySeparatorBytes: [UInt8] = Array(": ".utf8)

    /// Options from the filter's arguments, with Python's defaults and type rules.
    init(ensureASCII: Value = .bool(false), indent: Value = .none, separators: Value = .none, sortKeys: Value = .bool(false)) throws(TemplateError) {
        self.ensureASCII = Py.truthy(ensureASCII)
        self.sortKeys = Py.truthy(sortKeys)
        switch indent {
        case .none: self.indent = nil
        case .string(let s), .markup(let s): self.indent = s
        case .int(let n): self.indent = String(repeating: " ", count: max(0, n))
        case .bool(let b): self.indent = b ? " " : ""
        default:
            throw TemplateError(.type, "can't multiply sequence by non-int of type '\(Py.typeName(indent))'")
        }
        if self.indent != nil { itemSeparator = "," }
        switch separators {
        case .none: break
        case .list(let items), .tuple(let items):
            guard items.count == 2 else {
                throw TemplateError(.value, "too many values to unpack (expected 2)")
            }
            guard let a = items[0].stringValue, let b = items[1].stringValue else {
                throw TemplateError(.type, "separators must be strings")
            }
            itemSeparator = a
            keySeparator = b
        default:
            throw TemplateError(.type, "cannot unpack separators of type '\(Py.typeName(separators))'")
        }
        itemSeparatorBytes = Array(itemSeparator.utf8)
        keySeparatorBytes = Array(keySeparator.utf8)
        if let unit = self.indent {
            var line: [UInt8] = [0x0A]
            for _ in 0..<8 {
                newlineBytes.append(line)
                line += Array(unit.utf8)
            }
        }
    }
}

enum JSONDumps {
    static func dumps(_ v: Value, _ opts: JSONDumpOptions) throws(TemplateError) -> String {
        let out = OutputBuffer(capacity: 256)
        try JSONWriter(JSONFormat(opts), out).encode(v, level: 0)
        return out.string(from: 0)
    }

    /// Writes straight into the render's output (on error, the caller discards the output).
    static func write(_ v: Value, _ format: JSONFormat, into out: OutputBuffer) throws(TemplateError) {
        try JSONWriter(format, out).encode(v, level: 0)
    }

    static func floatString(_ d: Double) -> String {
        if d.isNaN { return "NaN" }
        if d.isInfinite { return d < 0 ? "-Infinity" : "Infinity" }
        return PyFloat.repr(d)
    }

    /// A JSON string literal with Python's escapes.
    static func appendString(_ s: String, ascii: Bool, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        if !ascii {
            let done: Bool? = s.utf8.withContiguousStorageIfAvailable { buf in
                appendEscaped(buf, into: &out)
                return true
            }
            if done == nil {
                let bytes = Array(s.utf8)
                bytes.withUnsafeBufferPointer { appendEscaped($0, into: &out) }
            }
        } else {
            for scalar in s.unicodeScalars {
                let c = scalar.value
                switch c {
                case 0x22: out.append(contentsOf: "\\\"".utf8)
                case 0x5C: out.append(contentsOf: "\\\\".utf8)
                case 0x0A: out.append(contentsOf: "\\n".utf8)
                case 0x0D: out.append(contentsOf: "\\r".utf8)
                case 0x09: out.append(contentsOf: "\\t".utf8)
                case 0x08: out.append(contentsOf: "\\b".utf8)
                case 0x0C: out.append(contentsOf: "\\f".utf8)
                case 0x20...0x7E: out.append(UInt8(c))
                case 0x10000...:
                    let v = c - 0x10000
                    PyText.appendHexEscape(0xD800 | (v >> 10), prefix: "\\u", width: 4, to: &out)
                    PyText.appendHexEscape(0xDC00 | (v & 0x3FF), prefix: "\\u", width: 4, to: &out)
                default: PyText.appendHexEscape(c, prefix: "\\u", width: 4, to: &out)
                }
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// Appends UTF-8 bytes with JSON escapes (ensure_ascii=False): runs of plain bytes are copied
    /// in one go.
    @inline(__always)
    static func appendEscaped(_ buf: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        var start = 0
        var i = 0
        let n = buf.count
        while i < n {
            let b = buf[i]
            if b < 0x20 || b == 0x22 || b == 0x5C {
                if i > start { out.append(contentsOf: UnsafeBufferPointer(rebasing: buf[start..<i])) }
                switch b {
                case 0x22: out.append(contentsOf: "\\\"".utf8)
                case 0x5C: out.append(contentsOf: "\\\\".utf8)
                case 0x0A: out.append(contentsOf: "\\n".utf8)
                case 0x0D: out.append(contentsOf: "\\r".utf8)
                case 0x09: out.append(contentsOf: "\\t".utf8)
                case 0x08: out.append(contentsOf: "\\b".utf8)
                case 0x0C: out.append(contentsOf: "\\f".utf8)
                default: PyText.appendHexEscape(UInt32(b), prefix: "\\u", width: 4, to: &out)
                }
                start = i + 1
            }
            i += 1
        }
        if n > start { out.append(contentsOf: UnsafeBufferPointer(rebasing: buf[start..<n])) }
    }
}

/// JSONDumpOptions as the writer uses them (built once per `tojson` call site when constant).
final class JSONFormat: @unchecked Sendable {
    let ensureASCII: Bool
    let sortKeys: Bool
    let indent: [UInt8]?
    /// "\n" followed by `level` indents, for the first few levels.
    let newlines: [[UInt8]]
    let itemSeparator: [UInt8]
    let keySeparator: [UInt8]

    init(_ opts: JSONDumpOptions) {
        ensureASCII = opts.ensureASCII
        sortKeys = opts.sortKeys
        indent = opts.indentBytes
        newlines = opts.newlineBytes
        itemSeparator = opts.itemSeparatorBytes
        keySeparator = opts.keySeparatorBytes
    }
}

/// Writes JSON into an output buffer.
struct JSONWriter {
    let out: OutputBuffer
    let format: JSONFormat
    var ensureASCII: Bool { format.ensureASCII }
    var sortKeys: Bool { format.sortKeys }
    var indent: [UInt8]? { format.indent }
    var newlines: [[UInt8]] { format.newlines }
    var itemSeparator: [UInt8] { format.itemSeparator }
    var keySeparator: [UInt8] { format.keySeparator }

    init(_ format: JSONFormat, _ out: OutputBuffer) {
        self.out = out
        self.format = format
    }

    @inline(__always) private func byte(_ b: UInt8) { out.append(b) }
    @inline(__always) private func bytes(_ a: [UInt8]) { out.append(a) }
    @inline(__always) private func bytes(_ b: UnsafeBufferPointer<UInt8>) { out.append(b) }
    @inline(__always) private func literal(_ s: StaticString) { out.append(s) }
    @inline(__always) private func text(_ s: String) { out.append(s) }

    @inline(__always)
    private func newline(_ level: Int) {
        guard let indent else { return }
        if level < newlines.count {
            out.append(newlines[level])
            return
        }
        out.append(0x0A)
        for _ in 0..<level { out.append(indent) }
    }

    func encode(_ v: Value, level: Int) throws(TemplateError) {
        var copy = v
        try withUnsafePointer(to: &copy) { (p) throws(TemplateError) in try encode(p, level: level) }
    }

    /// Encodes the value at `p` (read in place: no copies of the containers).
    func encode(_ p: UnsafePointer<Value>, level: Int) throws(TemplateError) {
        if level > PyText.maxNesting {
            throw TemplateError(.recursionLimit, "maximum recursion depth exceeded while encoding a JSON object")
        }
        if Borrow.isSupported {
            // In place: strings, lists and dicts are read without copying them.
            if let sp = Borrow.string(p) {
                string(borrowed: sp)
                return
            }
            if let du = Borrow.dict(p) {
                try withGuaranteed(du) { (d) throws(TemplateError) in try object(d, level) }
                return
            }
            if let ap = Borrow.array(p) {
                try array(ap, level)
                return
            }
        }
        switch p.pointee {
        case .string(let s): string(s)
        case .markup(let s): string(s)
        case .none: literal("null")
        case .bool(let b): if b { literal("true") } else { literal("false") }
        case .int(let i): out.appendInt(i)
        case .float(let d): text(JSONDumps.floatString(d))
        case .list(let items):
            try array(items, level)
        case .tuple(let items):
            try array(items, level)
        case .dict(let d):
            try object(d, level)
        case .object(let o as GroupTuple):
            try encode(.list([o.grouper, .list(o.list)]), level: level)
        case .undefined, .namespace, .object:
            throw TemplateError(.type, "Object of type \(Py.typeName(p.pointee)) is not JSON serializable")
        }
    }

    private func array(_ ap: UnsafePointer<[Value]>, _ level: Int) throws(TemplateError) {
        let n = ap.pointee.count
        if n == 0 {
            literal("[]")
            return
        }
        byte(UInt8(ascii: "["))
        try ap.pointee.withUnsafeBufferPointer { (buf) throws(TemplateError) in
            let base = buf.baseAddress!
            for i in 0..<n {
                if i > 0 { bytes(itemSeparator) }
                newline(level + 1)
                try encode(base + i, level: level + 1)
            }
        }
        newline(level)
        byte(UInt8(ascii: "]"))
    }

    private func array(_ items: [Value], _ level: Int) throws(TemplateError) {
        if items.isEmpty {
            literal("[]")
            return
        }
        byte(UInt8(ascii: "["))
        try items.withUnsafeBufferPointer { (buf) throws(TemplateError) in
            let base = buf.baseAddress!
            for i in 0..<buf.count {
                if i > 0 { bytes(itemSeparator) }
                newline(level + 1)
                try encode(base + i, level: level + 1)
            }
        }
        newline(level)
        byte(UInt8(ascii: "]"))
    }

    private func object(_ d: Dict, _ level: Int) throws(TemplateError) {
        if d.isEmpty {
            literal("{}")
            return
        }
        byte(UInt8(ascii: "{"))
        if sortKeys {
            let keys = d.keys, values = d.values
            let order = try Py.sortedIndices(keys)
            for (n, i) in order.enumerated() {
                if n > 0 { bytes(itemSeparator) }
                newline(level + 1)
                try key(keys[i])
                bytes(keySeparator)
                try encode(values[i], level: level + 1)
            }
        } else {
            try d.keys.withUnsafeBufferPointer { (kb) throws(TemplateError) in
                try d.values.withUnsafeBufferPointer { (vb) throws(TemplateError) in
                    let vbase = vb.baseAddress!
                    for i in 0..<kb.count {
                        if i > 0 { bytes(itemSeparator) }
                        newline(level + 1)
                        if case .string(let k) = kb[i] { string(k) } else { try key(kb[i]) }
                        bytes(keySeparator)
                        try encode(vbase + i, level: level + 1)
                    }
                }
            }
        }
        newline(level)
        byte(UInt8(ascii: "}"))
    }

    private func key(_ k: Value) throws(TemplateError) {
        switch k {
        case .string(let s), .markup(let s): string(s)
        case .float(let d): string(JSONDumps.floatString(d))
        case .bool(let b): string(b ? "true" : "false")
        case .none: string("null")
        case .int(let i): string(String(i))
        default:
            throw TemplateError(.type, "keys must be str, int, float, bool or None, not \(Py.typeName(k))")
        }
    }

    private func integer(_ i: Int) { out.appendInt(i) }

    private func string(borrowed sp: UnsafePointer<String>) {
        if ensureASCII {
            string(sp.pointee)
            return
        }
        let done: Void? = sp.pointee.utf8.withContiguousStorageIfAvailable { buf in
            if !out.appendQuotedIfClean(buf) {
                byte(UInt8(ascii: "\""))
                escape(buf)
                byte(UInt8(ascii: "\""))
            }
        }
        if done == nil { string(sp.pointee) }
    }

    private func string(_ s: String) {
        if ensureASCII {
            var tmp: [UInt8] = []
            JSONDumps.appendString(s, ascii: true, into: &tmp)
            bytes(tmp)
            return
        }
        let done: Void? = s.utf8.withContiguousStorageIfAvailable { buf in
            if !out.appendQuotedIfClean(buf) {
                byte(UInt8(ascii: "\""))
                escape(buf)
                byte(UInt8(ascii: "\""))
            }
        }
        if done == nil {
            byte(UInt8(ascii: "\""))
            Array(s.utf8).withUnsafeBufferPointer { escape($0) }
            byte(UInt8(ascii: "\""))
        }
    }

    @inline(__always)
    private func escape(_ buf: UnsafeBufferPointer<UInt8>) {
        if buf.isEmpty { return }
        do {
            var start = 0
            let n = buf.count
            var i = 0
            // Skip 8 clean bytes at a time (no control character, quote or backslash).
            let raw = UnsafeRawPointer(buf.baseAddress!)
            while i + 8 <= n {
                let x = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                let lo: UInt64 = 0x0101010101010101, hi: UInt64 = 0x8080808080808080
                let ctl = (x &- lo &* 0x20) & ~x & hi
                let q = x ^ (lo &* 0x22), bs = x ^ (lo &* 0x5C)
                let quote = (q &- lo) & ~q & hi
                let back = (bs &- lo) & ~bs & hi
                if ctl | quote | back != 0 { break }
                i += 8
            }
            while i < n {
                let b = buf[i]
                if b < 0x20 || b == 0x22 || b == 0x5C {
                    if i > start { bytes(UnsafeBufferPointer(rebasing: buf[start..<i])) }
                    switch b {
                    case 0x22: literal("\\\"")
                    case 0x5C: literal("\\\\")
                    case 0x0A: literal("\\n")
                    case 0x0D: literal("\\r")
                    case 0x09: literal("\\t")
                    case 0x08: literal("\\b")
                    case 0x0C: literal("\\f")
                    default:
                        var tmp: [UInt8] = []
                        PyText.appendHexEscape(UInt32(b), prefix: "\\u", width: 4, to: &tmp)
                        bytes(tmp)
                    }
                    start = i + 1
                }
                i += 1
            }
            if n > start { bytes(UnsafeBufferPointer(rebasing: buf[start..<n])) }
        }
    }
}
