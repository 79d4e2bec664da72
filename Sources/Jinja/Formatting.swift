// Python string formatting: printf-style `fmt % args` (used by the `format` filter and the `%`
// operator) and `str.format` with the format-spec mini-language.

enum PercentFormat {
    /// `fmt % args`. With `escape` (a Markup format string) `%s`/`%r` arguments are HTML-escaped.
    static func format(_ fmt: String, _ args: Value, limit: Int, escape: Bool) throws(TemplateError) -> String {
        var positional: [Value]
        var argIndex = 0
        var single = false
        var mapping: Dict? = nil
        switch args {
        case .tuple(let items): positional = items
        case .dict(let d):
            positional = [args]
            single = true
            mapping = d
        default:
            positional = [args]
            single = true
        }
        func nextArg() throws(TemplateError) -> Value {
            if argIndex < positional.count {
                argIndex += 1
                return positional[argIndex - 1]
            }
            throw TemplateError(.type, "not enough arguments for format string")
        }
        let f = Array(fmt.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        while i < f.count {
            let c = f[i]
            if c != "%" {
                out.append(c)
                i += 1
                continue
            }
            i += 1
            guard i < f.count else { throw TemplateError(.value, "incomplete format") }
            var arg: Value? = nil
            if f[i] == "(" {
                guard let mapping else { throw TemplateError(.type, "format requires a mapping") }
                var depth = 1
                i += 1
                let keyStart = i
                while i < f.count && depth > 0 {
                    if f[i] == "(" { depth += 1 } else if f[i] == ")" { depth -= 1 }
                    i += 1
                }
                if depth > 0 { throw TemplateError(.value, "incomplete format key") }
                let key = PyStr.string(f[keyStart..<(i - 1)])
                guard let v = mapping[string: key] else { throw TemplateError(.lookup, "'\(key)'") }
                arg = v
            }
            var spec = NumberSpec()
            flags: while i < f.count {
                switch f[i] {
                case "-": spec.leftAlign = true
                case "+": spec.sign = "+"
                case " ": if spec.sign != "+" { spec.sign = " " }
                case "#": spec.alternate = true
                case "0": spec.zeroPad = true
                default: break flags
                }
                i += 1
            }
            if i < f.count && f[i] == "*" {
                let w = try nextArg()
                guard case .int(let n) = Py.numeric(w) ?? .none else { throw TemplateError(.type, "* wants int") }
                spec.width = abs(n)
                if n < 0 { spec.leftAlign = true }
                i += 1
            } else {
                var w = 0
                var any = false
                while i < f.count, let d = digit(f[i]) {
                    w = w * 10 + d
                    any = true
                    i += 1
                }
                if any { spec.width = w }
            }
            if i < f.count && f[i] == "." {
                i += 1
                if i < f.count && f[i] == "*" {
                    let p = try nextArg()
                    guard case .int(let n) = Py.numeric(p) ?? .none else { throw TemplateError(.type, "* wants int") }
                    spec.precision = max(0, n)
                    i += 1
                } else {
                    var p = 0
                    while i < f.count, let d = digit(f[i]) {
                        p = p * 10 + d
                        i += 1
                    }
                    spec.precision = p
                }
            }
            while i < f.count && (f[i] == "h" || f[i] == "l" || f[i] == "L") { i += 1 }
            guard i < f.count else { throw TemplateError(.value, "incomplete format") }
            let type = f[i]
            i += 1
            if type == "%" {
                out.append("%")
                continue
            }
            let value: Value
            if let arg { value = arg } else { value = try nextArg() }
            let text: String
            switch type {
            case "s", "r", "a":
                var s: String
                if type == "s" { s = try PyText.str(value) } else {
                    s = try PyText.repr(value)
                    if type == "a" { s = asciiEscape(s) }
                }
                if escape, !(type == "s" && { if case .markup = value { return true } else { return false } }()) {
                    s = Markup.escape(s)
                }
                if let p = spec.precision { s = PyStr.string(s.unicodeScalars.prefix(p)) }
                text = spec.pad(s, numeric: false)
            case "d", "i", "u":
                let n: Int
                switch value {
                case .int(let v): n = v
                case .bool(let b): n = b ? 1 : 0
                case .float(let d):
                    guard d.isFinite else { throw TemplateError(.arithmetic, "cannot convert float \(PyFloat.repr(d)) to integer") }
                    guard abs(d) < 9.2e18 else { throw Py.overflow() }
                    n = Int(d)
                case .undefined(let info): throw Py.undefinedError(info)
                default:
                    throw TemplateError(.type, "%\(type) format: a real number is required, not \(Py.typeName(value))")
                }
                text = spec.formatInt(n, type: "d")
            case "x", "X", "o":
                let n: Int
                switch value {
                case .int(let v): n = v
                case .bool(let b): n = b ? 1 : 0
                case .undefined(let info): throw Py.undefinedError(info)
                default:
                    throw TemplateError(.type, "%\(type) format: an integer is required, not \(Py.typeName(value))")
                }
                text = spec.formatInt(n, type: type)
            case "e", "E", "f", "F", "g", "G":
                let d: Double
                switch value {
                case .int(let v): d = Double(v)
                case .bool(let b): d = b ? 1 : 0
                case .float(let v): d = v
                case .undefined(let info): throw Py.undefinedError(info)
                default: throw TemplateError(.type, "must be real number, not \(Py.typeName(value))")
                }
                text = spec.formatFloat(d, type: type, precisionDefault: 6)
            case "c":
                var s: String
                switch value {
                case .int(let v):
                    guard let sc = Unicode.Scalar(UInt32(truncatingIfNeeded: v)), v >= 0 else {
                        throw TemplateError(.arithmetic, "%c arg not in range(0x110000)")
                    }
                    s = String(Character(sc))
                case .string(let str) where PyStr.length(str) == 1: s = str
                default: throw TemplateError(.type, "%c requires int or char")
                }
                text = spec.pad(s, numeric: false)
            default:
                throw TemplateError(.value, "unsupported format character '\(type)' (0x\(String(type.value, radix: 16))) at index \(i - 1)")
            }
            out.append(contentsOf: text.unicodeScalars)
            if out.count > limit { try Py.checkLength(out.count, limit) }
        }
        if argIndex < positional.count && mapping == nil && !(single && argIndex == 1) {
            throw TemplateError(.type, "not all arguments converted during string formatting")
        }
        if single && argIndex == 0 && mapping == nil {
            throw TemplateError(.type, "not all arguments converted during string formatting")
        }
        return String(out)
    }

    @inline(__always)
    static func digit(_ c: Unicode.Scalar) -> Int? {
        c.value >= 0x30 && c.value <= 0x39 ? Int(c.value - 0x30) : nil
    }

    /// Python's `ascii()` applied to a repr: non-ASCII characters escaped.
    static func asciiEscape(_ s: String) -> String {
        var out: [UInt8] = []
        for c in s.unicodeScalars {
            if c.value < 0x80 { out.append(UInt8(c.value)) } else if c.value <= 0xFF {
                PyText.appendHexEscape(c.value, prefix: "\\x", width: 2, to: &out)
            } else if c.value <= 0xFFFF {
                PyText.appendHexEscape(c.value, prefix: "\\u", width: 4, to: &out)
            } else {
                PyText.appendHexEscape(c.value, prefix: "\\U", width: 8, to: &out)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Layout options shared by printf-style and format-spec number formatting.
struct NumberSpec {
    var leftAlign = false
    var sign: Character = "-"
    var alternate = false
    var zeroPad = false
    var width = 0
    var precision: Int? = nil

    func pad(_ s: String, numeric: Bool) -> String {
        let len = PyStr.length(s)
        if len >= width { return s }
        let fill = String(repeating: " ", count: width - len)
        return leftAlign ? s + fill : fill + s
    }

    /// Sign + prefix + digits with printf zero padding.
    func assemble(negative: Bool, prefix: String, body: String) -> String {
        var head = negative ? "-" : (sign == "-" ? "" : String(sign))
        head += prefix
        let len = PyStr.length(head) + PyStr.length(body)
        if len >= width { return head + body }
        if leftAlign { return head + body + String(repeating: " ", count: width - len) }
        if zeroPad { return head + String(repeating: "0", count: width - len) + body }
        return String(repeating: " ", count: width - len) + head + body
    }

    func formatInt(_ n: Int, type: Unicode.Scalar) -> String {
        let mag = n.magnitude
        var digits: String
        var prefix = ""
        switch type {
        case "x":
            digits = String(mag, radix: 16)
            if alternate { prefix = "0x" }
        case "X":
            digits = String(mag, radix: 16).uppercased()
            if alternate { prefix = "0X" }
        case "o":
            digits = String(mag, radix: 8)
            if alternate { prefix = "0o" }
        default:
            digits = String(mag)
        }
        if let p = precision, digits.utf8.count < p {
            digits = String(repeating: "0", count: p - digits.utf8.count) + digits
        }
        return assemble(negative: n < 0, prefix: prefix, body: digits)
    }

    func formatFloat(_ d: Double, type: Unicode.Scalar, precisionDefault: Int) -> String {
        let upper = type == "E" || type == "F" || type == "G"
        if !d.isFinite {
            var body = d.isNaN ? "nan" : "inf"
            if upper { body = body.uppercased() }
            var spec = self
            spec.zeroPad = false
            return spec.assemble(negative: d < 0 || (d.isNaN && d.sign == .minus), prefix: "", body: body)
        }
        let p = precision ?? precisionDefault
        let a = abs(d)
        var body: String
        switch type {
        case "e", "E": body = PyFloat.exponent(a, precision: p, upper: upper, alternate: alternate)
        case "f", "F":
            body = PyFloat.fixed(a, precision: p)
            if alternate && p == 0 { body += "." }
        default: body = PyFloat.general(a, precision: p, upper: upper, alternate: alternate)
        }
        return assemble(negative: d.sign == .minus, prefix: "", body: body)
    }
}

/// `str.format` as jinja's sandboxed formatter runs it.
enum StrFormat {
    typealias Resolver = (Value, String, Bool) throws(TemplateError) -> Value  // (obj, name, isAttribute)

    static func format(_ fmt: String, args: [Value], kwargs: [(String, Value)], escape: Bool,
                       resolve: Resolver, limit: Int) throws(TemplateError) -> String {
        var auto = 0
        var usedAuto = false
        var usedManual = false
        return try render(fmt, depth: 0)

        func render(_ fmt: String, depth: Int) throws(TemplateError) -> String {
            if depth > 2 { throw TemplateError(.value, "Max string recursion exceeded") }
            let f = Array(fmt.unicodeScalars)
            var out = String.UnicodeScalarView()
            var i = 0
            while i < f.count {
                let c = f[i]
                if c == "{" {
                    if i + 1 < f.count && f[i + 1] == "{" {
                        out.append("{")
                        i += 2
                        continue
                    }
                    // Find the matching close brace (format specs may nest one level of fields).
                    var j = i + 1
                    var nest = 1
                    while j < f.count {
                        if f[j] == "{" { nest += 1 } else if f[j] == "}" {
                            nest -= 1
                            if nest == 0 { break }
                        }
                        j += 1
                    }
                    if j >= f.count { throw TemplateError(.value, "expected '}' before end of string") }
                    let field = Array(f[(i + 1)..<j])
                    out.append(contentsOf: try replaceField(field, depth: depth).unicodeScalars)
                    if out.count > limit { try Py.checkLength(out.count, limit) }
                    i = j + 1
                } else if c == "}" {
                    if i + 1 < f.count && f[i + 1] == "}" {
                        out.append("}")
                        i += 2
                        continue
                    }
                    throw TemplateError(.value, "Single '}' encountered in format string")
                } else {
                    out.append(c)
                    i += 1
                }
            }
            return String(out)
        }

        func replaceField(_ field: [Unicode.Scalar], depth: Int) throws(TemplateError) -> String {
            // field_name [! conversion] [: spec]
            var nameEnd = 0
            var bracket = false
            while nameEnd < field.count {
                let c = field[nameEnd]
                if c == "[" { bracket = true } else if c == "]" { bracket = false } else if !bracket && (c == "!" || c == ":") { break }
                nameEnd += 1
            }
            let name = Array(field[0..<nameEnd])
            var conversion: Unicode.Scalar? = nil
            var specText = ""
            var k = nameEnd
            if k < field.count && field[k] == "!" {
                guard k + 1 < field.count else { throw TemplateError(.value, "end of string while looking for conversion specifier") }
                conversion = field[k + 1]
                k += 2
                if k < field.count && field[k] != ":" { throw TemplateError(.value, "expected ':' after conversion specifier") }
            }
            if k < field.count && field[k] == ":" {
                specText = try render(PyStr.string(field[(k + 1)...]), depth: depth + 1)
            }
            var value = try lookupField(name)
            if let conversion {
                switch conversion {
                case "r": value = .string(try PyText.repr(value))
                case "s": value = .string(try PyText.str(value))
                case "a": value = .string(PercentFormat.asciiEscape(try PyText.repr(value)))
                default: throw TemplateError(.value, "Unknown conversion specifier \(conversion)")
                }
            }
            var text = try FormatSpec.apply(value, specText)
            if escape {
                if case .markup = value {} else { text = Markup.escape(text) }
            }
            return text
        }

        func lookupField(_ name: [Unicode.Scalar]) throws(TemplateError) -> Value {
            var i = 0
            while i < name.count && name[i] != "." && name[i] != "[" { i += 1 }
            let first = PyStr.string(name[0..<i])
            var obj: Value
            if first.isEmpty {
                if usedManual { throw TemplateError(.value, "cannot switch from manual field specification to automatic field numbering") }
                usedAuto = true
                guard auto < args.count else { throw TemplateError(.lookup, "Replacement index \(auto) out of range for positional args tuple") }
                obj = args[auto]
                auto += 1
            } else if let n = Int(first), first.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
                if usedAuto { throw TemplateError(.value, "cannot switch from automatic field numbering to manual field specification") }
                usedManual = true
                guard n < args.count else { throw TemplateError(.lookup, "Replacement index \(n) out of range for positional args tuple") }
                obj = args[n]
            } else {
                guard let kw = kwargs.last(where: { pyEqual($0.0, first) }) else { throw TemplateError(.lookup, "'\(first)'") }
                obj = kw.1
            }
            while i < name.count {
                if name[i] == "." {
                    var j = i + 1
                    while j < name.count && name[j] != "." && name[j] != "[" { j += 1 }
                    let attr = PyStr.string(name[(i + 1)..<j])
                    if attr.isEmpty { throw TemplateError(.value, "Empty attribute in format string") }
                    obj = try resolve(obj, attr, true)
                    i = j
                } else if name[i] == "[" {
                    var j = i + 1
                    while j < name.count && name[j] != "]" { j += 1 }
                    if j >= name.count { throw TemplateError(.value, "Missing ']' in format string") }
                    let key = PyStr.string(name[(i + 1)..<j])
                    if let n = Int(key), key.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
                        obj = try resolve(obj, String(n), false)
                        if case .undefined = obj {}
                    } else {
                        obj = try resolve(obj, key, false)
                    }
                    i = j + 1
                } else {
                    throw TemplateError(.value, "Only '.' or '[' may follow ']' in format field specifier")
                }
            }
            return obj
        }
    }
}

/// The format-spec mini-language: `[[fill]align][sign][z][#][0][width][,|_][.precision][type]`.
enum FormatSpec {
    static func apply(_ v: Value, _ specText: String) throws(TemplateError) -> String {
        switch v {
        case .string(let s), .markup(let s):
            if specText.isEmpty { return s }
            let spec = try parse(specText)
            if spec.type != nil && spec.type != "s" {
                throw TemplateError(.value, "Unknown format code '\(spec.type!)' for object of type 'str'")
            }
            if spec.sign != nil { throw TemplateError(.value, "Sign not allowed in string format specifier") }
            if spec.alternate { throw TemplateError(.value, "Alternate form (#) not allowed in string format specifier") }
            if spec.align == "=" { throw TemplateError(.value, "'=' alignment not allowed in string format specifier") }
            var body = s
            if let p = spec.precision { body = PyStr.string(body.unicodeScalars.prefix(p)) }
            return align(body, spec, defaultAlign: "<")
        case .bool(let b) where specText.isEmpty:
            return b ? "True" : "False"
        case .int, .bool:
            let n: Int = { if case .int(let i) = v { return i }; if case .bool(let b) = v { return b ? 1 : 0 }; return 0 }()
            let spec = try parse(specText)
            switch spec.type {
            case nil, "d", "n", "b", "o", "x", "X", "c":
                return try formatInt(n, spec)
            case "e", "E", "f", "F", "g", "G", "%":
                return try formatFloat(Double(n), spec)
            default:
                throw TemplateError(.value, "Unknown format code '\(spec.type!)' for object of type 'int'")
            }
        case .float(let d):
            if specText.isEmpty { return PyFloat.repr(d) }
            let spec = try parse(specText)
            switch spec.type {
            case nil, "e", "E", "f", "F", "g", "G", "n", "%":
                return try formatFloat(d, spec)
            default:
                throw TemplateError(.value, "Unknown format code '\(spec.type!)' for object of type 'float'")
            }
        default:
            if specText.isEmpty { return try PyText.str(v) }
            throw TemplateError(.type, "unsupported format string passed to \(Py.typeName(v)).__format__")
        }
    }

    struct Spec {
        var fill: Unicode.Scalar = " "
        var fillGiven = false
        var align: Unicode.Scalar? = nil
        var sign: Unicode.Scalar? = nil
        var coerceZero = false
        var alternate = false
        var zero = false
        var width = 0
        var grouping: Unicode.Scalar? = nil
        var precision: Int? = nil
        var type: Unicode.Scalar? = nil
    }

    static func parse(_ text: String) throws(TemplateError) -> Spec {
        let f = Array(text.unicodeScalars)
        var s = Spec()
        var i = 0
        func isAlign(_ c: Unicode.Scalar) -> Bool { c == "<" || c == ">" || c == "^" || c == "=" }
        if f.count >= 2 && isAlign(f[1]) {
            s.fill = f[0]
            s.fillGiven = true
            s.align = f[1]
            i = 2
        } else if f.count >= 1 && isAlign(f[0]) {
            s.align = f[0]
            i = 1
        }
        if i < f.count && (f[i] == "+" || f[i] == "-" || f[i] == " ") {
            s.sign = f[i]
            i += 1
        }
        if i < f.count && f[i] == "z" {
            s.coerceZero = true
            i += 1
        }
        if i < f.count && f[i] == "#" {
            s.alternate = true
            i += 1
        }
        if i < f.count && f[i] == "0" {
            s.zero = true
            i += 1
        }
        while i < f.count, let d = PercentFormat.digit(f[i]) {
            s.width = s.width * 10 + d
            i += 1
        }
        if i < f.count && (f[i] == "," || f[i] == "_") {
            s.grouping = f[i]
            i += 1
        }
        if i < f.count && f[i] == "." {
            i += 1
            var p = 0
            var any = false
            while i < f.count, let d = PercentFormat.digit(f[i]) {
                p = p * 10 + d
                any = true
                i += 1
            }
            if !any { throw TemplateError(.value, "Format specifier missing precision") }
            s.precision = p
        }
        if i < f.count {
            s.type = f[i]
            i += 1
        }
        if i < f.count { throw TemplateError(.value, "Invalid format specifier '\(text)'") }
        if s.zero && !s.fillGiven {
            s.fill = "0"
            if s.align == nil { s.align = "=" }
        }
        return s
    }

    static func align(_ body: String, _ spec: Spec, defaultAlign: Unicode.Scalar, signPrefix: String = "") -> String {
        let len = PyStr.length(body) + PyStr.length(signPrefix)
        let total = spec.width
        if len >= total { return signPrefix + body }
        let padCount = total - len
        let fill = String(Character(spec.fill))
        switch spec.align ?? defaultAlign {
        case "<": return signPrefix + body + String(repeating: fill, count: padCount)
        case "^":
            let left = padCount / 2
            return String(repeating: fill, count: left) + signPrefix + body + String(repeating: fill, count: padCount - left)
        case "=": return signPrefix + String(repeating: fill, count: padCount) + body
        default: return String(repeating: fill, count: padCount) + signPrefix + body
        }
    }

    static func group(_ digits: String, _ sep: Unicode.Scalar, every: Int) -> String {
        let d = Array(digits.unicodeScalars)
        var out = String.UnicodeScalarView()
        for (i, c) in d.enumerated() {
            if i > 0 && (d.count - i) % every == 0 { out.append(sep) }
            out.append(c)
        }
        return String(out)
    }

    static func signText(_ negative: Bool, _ spec: Spec) -> String {
        if negative { return "-" }
        switch spec.sign {
        case "+": return "+"
        case " ": return " "
        default: return ""
        }
    }

    static func formatInt(_ n: Int, _ spec: Spec) throws(TemplateError) -> String {
        if spec.precision != nil { throw TemplateError(.value, "Precision not allowed in integer format specifier") }
        let mag = n.magnitude
        var digits: String
        var prefix = ""
        switch spec.type {
        case "b":
            digits = String(mag, radix: 2)
            if spec.alternate { prefix = "0b" }
        case "o":
            digits = String(mag, radix: 8)
            if spec.alternate { prefix = "0o" }
        case "x":
            digits = String(mag, radix: 16)
            if spec.alternate { prefix = "0x" }
        case "X":
            digits = String(mag, radix: 16).uppercased()
            if spec.alternate { prefix = "0X" }
        case "c":
            guard let sc = Unicode.Scalar(UInt32(truncatingIfNeeded: n)), n >= 0 else {
                throw TemplateError(.arithmetic, "%c arg not in range(0x110000)")
            }
            return align(String(Character(sc)), spec, defaultAlign: "<")
        default:
            digits = String(mag)
        }
        if let g = spec.grouping {
            let every = (spec.type == nil || spec.type == "d" || spec.type == "n") ? 3 : 4
            digits = group(digits, g, every: every)
        }
        return align(digits, spec, defaultAlign: ">", signPrefix: signText(n < 0, spec) + prefix)
    }

    static func formatFloat(_ d: Double, _ spec: Spec) throws(TemplateError) -> String {
        var x = d
        var type = spec.type
        var suffix = ""
        if type == "%" {
            x *= 100
            type = "f"
            suffix = "%"
        }
        var negative = x.sign == .minus
        if spec.coerceZero && negative && (x == 0 || PyFloat.round(x, spec.precision ?? 6) == 0) { negative = false }
        let a = abs(x)
        var body: String
        if !a.isFinite {
            body = a.isNaN ? "nan" : "inf"
            if type == "E" || type == "F" || type == "G" { body = body.uppercased() }
            var s = spec
            if s.align == "=" && s.fill == "0" && !spec.zero { s.fill = " " }
            return align(body + suffix, s, defaultAlign: ">", signPrefix: signText(negative && !a.isNaN, spec))
        }
        switch type {
        case "e", "E": body = PyFloat.exponent(a, precision: spec.precision ?? 6, upper: type == "E", alternate: spec.alternate)
        case "f", "F":
            body = PyFloat.fixed(a, precision: spec.precision ?? 6)
            if spec.alternate && spec.precision == 0 { body += "." }
        case "g", "G", "n":
            body = PyFloat.general(a, precision: spec.precision ?? 6, upper: type == "G", alternate: spec.alternate)
        default:
            if let p = spec.precision {
                body = generalNoType(a, p)
            } else {
                body = PyFloat.repr(a)
            }
        }
        if let g = spec.grouping {
            var intPart = body
            var rest = ""
            if let dot = body.firstIndex(where: { $0 == "." || $0 == "e" || $0 == "E" }) {
                intPart = String(body[..<dot])
                rest = String(body[dot...])
            }
            body = group(intPart, g, every: 3) + rest
        }
        return align(body + suffix, spec, defaultAlign: ">", signPrefix: signText(negative, spec))
    }

    /// An empty presentation type with a precision: like `g`, but fixed notation keeps a point and
    /// scientific notation starts at exponent p-1.
    static func generalNoType(_ a: Double, _ precision: Int) -> String {
        let p = precision == 0 ? 1 : precision
        if a == 0 { return "0.0" }
        let (d, dp) = PyFloat.exactDigits(a)
        var (r, rp) = PyFloat.roundDigits(d, dp, keep: p)
        if r.isEmpty { r = [0] }
        let exp = rp - 1
        // Python switches to scientific notation when exp >= p - 1.
        if exp >= -4 && exp < p - 1 {
            return PyFloat.fixedLayout(r, rp, minFraction: 1)
        }
        return PyFloat.expLayout(r, exp, alwaysPoint: false)
    }
}
