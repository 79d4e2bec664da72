// The filter registry: jinja2's builtin filters (plus transformers' `tojson`), each a small
// function `(state, input, arguments) -> Value` with jinja2's argument names and defaults.

enum Filters {
    static let table: [String: FilterFunction] = [
        "abs": abs, "attr": attr, "batch": batch, "capitalize": capitalize, "center": center,
        "count": length, "d": defaultFilter, "default": defaultFilter, "dictsort": dictsort,
        "e": escape, "escape": escape, "filesizeformat": filesizeformat, "first": first, "float": float,
        "forceescape": forceescape, "format": format, "indent": indent, "int": int, "items": items,
        "join": join, "last": last, "length": length, "list": list, "lower": lower, "map": map,
        "max": max, "min": min, "pprint": pprint, "reject": reject, "rejectattr": rejectattr,
        "replace": replace, "reverse": reverse, "round": round, "safe": safe, "select": select,
        "selectattr": selectattr, "slice": slice, "sort": sort, "string": string, "striptags": striptagsFilter,
        "sum": sum, "title": title, "tojson": tojson, "trim": trim, "truncate": truncate, "unique": unique,
        "upper": upper, "urlencode": urlencode, "wordcount": wordcount, "wordwrap": wordwrap, "xmlattr": xmlattr,
        "groupby": groupby,
    ]

    /// Filters jinja2 has that cannot give reproducible output (`random`) — rejected at compile time.
    static let unsupported: Set<String> = ["random", "urlize"]

    static func bind(_ name: String, _ args: Arguments, _ names: [String], required: Int = 0) throws(TemplateError) -> [Value?] {
        try Methods.bind(name, args, names, required: required)
    }

    /// `soft_str`: strings (and Markup) as they are, anything else `str()`-ed.
    static func softStr(_ v: Value) throws(TemplateError) -> Value {
        switch v {
        case .string, .markup: return v
        default: return .string(try PyText.str(v))
        }
    }

    /// Applies a str -> str function keeping Markup-ness.
    static func mapStr(_ v: Value, _ f: (String) throws(TemplateError) -> String) throws(TemplateError) -> Value {
        switch try softStr(v) {
        case .markup(let s): return .markup(try f(s))
        case .string(let s): return .string(try f(s))
        default: return v
        }
    }

    static func noArgs(_ name: String, _ args: Arguments) throws(TemplateError) {
        _ = try bind(name, args, [])
    }

    // MARK: Attribute getters (jinja's make_attrgetter)

    static func attributeParts(_ attribute: Value) -> [Value] {
        switch attribute {
        case .string(let s), .markup(let s):
            return s.split(separator: ".", omittingEmptySubsequences: false).map { part in
                let p = String(part)
                if !p.isEmpty, p.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let i = Int(p) { return .int(i) }
                return .string(p)
            }
        case .none: return []
        default: return [attribute]
        }
    }

    static func getAttribute(_ item: Value, _ parts: [Value], _ s: inout RenderState, default dflt: Value? = nil) throws(TemplateError) -> Value {
        var v = item
        for p in parts {
            v = try Access.getitem(v, p, &s)
            if let dflt, case .undefined = v { v = dflt }
        }
        return v
    }

    static func ignoreCase(_ v: Value) -> Value {
        if let s = v.stringValue { return .string(PyStr.lower(s)) }
        return v
    }

    // MARK: Strings

    static func upper(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Value {
        try noArgs("upper", a)
        return try mapStr(v) { PyStr.upper($0) }
    }

    static func lower(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Value {
        try noArgs("lower", a)
        return try mapStr(v) { PyStr.lower($0) }
    }

    static func capitalize(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Value {
        try noArgs("capitalize", a)
        return try mapStr(v) { PyStr.capitalize($0) }
    }

    /// jinja's `title`: upper-cases the first letter of each word split on `[-\s({[<]+`.
    static func title(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Value {
        try noArgs("title", a)
        return try mapStr(v) { text in
            func isSep(_ c: Unicode.Scalar) -> Bool {
                c == "-" || c == "(" || c == "{" || c == "[" || c == "<" || PyStr.isSpace(c.value)
            }
            var items: [[Unicode.Scalar]] = []
            var cur: [Unicode.Scalar] = []
            var curSep: Bool? = nil
            for c in text.unicodeScalars {
                let sep = isSep(c)
                if curSep != nil && curSep != sep {
                    items.append(cur)
                    cur = []
                }
                curSep = sep
                cur.append(c)
            }
            if !cur.isEmpty { items.append(cur) }
            var out = ""
            for item in items {
                out += item[0].properties.uppercaseMapping
                out += PyStr.lower(PyStr.string(item.dropFirst()))
            }
            return out
        }
    }

    static func trim(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Value {
        let p = try bind("trim", a, ["chars"])
        var chars: String? = nil
        if let c = p[0], !c.isNone {
            guard let cs = c.stringValue else { throw TemplateError(.type, "strip arg must be None or str") }
            chars = cs
        }
        return try mapStr(v) { PyStr.strip($0, chars) }
    }

    static func center(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Value {
        let p = try bind("center", a, ["width"])
        let width = try p[0].map(Methods.intArg) ?? 80
        try Py.checkLength(width, s.budget.maxOutputBytes)
        return try mapStr(v) { PyStr.center($0, width) }
    }

    static func replace(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Value {
        let p = try bind("replace", a, ["old", "new", "count"], required: 2)
        let count = try p[2].flatMap { $0.isNone ? nil : $0 }.map(Methods.intArg) ?? -1
        let str = try PyText.str(v)
        let r = PyStr.replace(str, try PyText.str(p[0]!), try PyText.str(p[1]!), count)
        try Py.checkLength(r.utf8.count, s.budget.maxOutputBytes)
        return .string(r)
    }

    static func string(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Value {
        try noArgs("string", a)
        return try softStr(v)
    }

    static func safe(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Value {
        try noArgs("safe", a)
        if case .markup = v { return v }
        return .markup(try PyText.str(v))
    }

    static func escape(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Value {
        try noArgs("escape", a)
        return try Markup.escapeValue(v)
    }

    static func forceescape(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Value {
        try noArgs("forceescape", a)
        return .markup(Markup.escape(try PyText.str(v)))
    }

    static func format(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Value {
        if !a.positional.isEmpty && !a.keywords.isEmpty {
            throw TemplateError(.runtime, "can't handle positional and keyword arguments at the same time")
        }
        let fmtArgs: Value = a.keywords.isEmpty ? .tuple(a.positional) : .dict(Dict(stringPairs: a.keywords))
        switch try softStr(v) {
        case .markup(let f): return .markup(try PercentFormat.format(f, fmtArgs, limit: s.budget.maxOutputBytes, escape: true))
        case .string(let f): return .string(try PercentFormat.format(f, fmtArgs, limit: s.budget.maxOutputBytes, escape: false))
        default: return v
        }
    }

    static func indent(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Value {
        let p = try bind("indent", a, ["width", "first", "blank"])
        var indention = "    "
        if let w = p[0] {
            if let str = w.stringValue { indention = str } else {
                let n = try Methods.intArg(w)
                try Py.checkLength(n, s.budget.maxOutputBytes)
                indention = String(repeating: " ", count: Swift.max(0, n))
            }
        }
        let first = p[1].map(Py.truthy) ?? false
        let blank = p[2].map(Py.truthy) ?? false
        let isMarkup: Bool = { if case .markup = v { return true }; return false }()
        guard let text = v.stringValue else {
            if case .undefined(let info) = v { throw Py.undefinedError(info) }
            throw TemplateError(.type, "unsupported operand type(s) for +=: '\(Py.typeName(v))' and 'str'")
        }
        let body = text + "\n"
        var rv: String
        let lines = PyStr.splitlines(body)
        if blank {
            rv = lines.joined(separator: "\n" + indention)
        } else {
            rv = lines.first ?? ""
            if lines.count > 1 {
                rv += "\n" + lines.dropFirst().map { $0.isEmpty ? $0 : indention + $0 }.joined(separator: "\n")
            }
        }
        if first { rv = indention + rv }
        try Py.checkLength(rv.utf8.count, s.budget.maxOutputBytes)
        return isMarkup ? .markup(rv) : .string(rv)
    }

    static func truncate(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Value {
        let p = try bind("truncate", a, ["length", "killwords", "end", "leeway"])
        let length = try p[0].map(Methods.intArg) ?? 255
        let killwords = p[1].map(Py.truthy) ?? false
        let end = try p[2].map { (x: Value) throws(TemplateError) -> String in try PyText.str(x) } ?? "..."
        var leeway = 5
        if let l = p[3], !l.isNone { leeway = try Methods.intArg(l) }
        let endLen = PyStr.length(end)
        if length < endLen { throw TemplateError(.runtime, "expected length >= \(endLen), got \(length)") }
        if leeway < 0 { throw TemplateError(.runtime, "expected leeway >= 0, got \(leeway)") }
        guard let str = v.stringValue else {
            if case .undefined = v { return .string("") }
            throw TemplateError(.type, "object of type '\(Py.typeName(v))' has no len()")
        }
        let scalars = Array(str.unicodeScalars)
        if scalars.count <= length + leeway { return v }
        let cut = Swift.max(0, length - endLen)
        let head = PyStr.string(scalars[0..<Swift.min(cut, scalars.count)])
        if killwords { return .string(head + end) }
        let parts = try PyStr.rsplit(head, " ", 1)
        return .string(parts[0] + end)
    }

    static func wordcount(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Value {
        try noArgs("wordcount", a)
        let str = try PyText.str(v)
        var count = 0
        var inWord = false
        for c in str.unicodeScalars {
            let w = c == "_" || Methods.isLetterCategory(c) || c.properties.numericType != nil
                || c.properties.generalCategory == .nonspacingMark || c.properties.generalCategory == .spacingMark
                || c.properties.generalCategory == .connectorPunctuation
            if w && !inWord { count += 1 }
            inWord = w
        }
        return .int(count)
    }

    static func wordwrap(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Value {
        let p = try bind("wordwrap", a, ["width", "break_long_words", "wrapstring", "break_on_hyphens"])
        let width = try p[0].map(Methods.intArg) ?? 79
        let breakLong = p[1].map(Py.truthy) ?? true
        let wrap = try p[2].flatMap { $0.isNone ? nil : $0 }.map { (x: Value) throws(TemplateError) -> String in try PyText.str(x) } ?? "\n"
        let onHyphens = p[3].map(Py.truthy) ?? true
        let str = try PyText.str(v)
        let lines = PyStr.splitlines(str).map {
            TextWrap.wrap($0, width: width, breakLongWords: breakLong, breakOnHyphens: onHyphens).joined(separator: wrap)
        }
        return .string(lines.joined(separator: wrap))
    }

    static func striptagsFilter(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Value {
        try noArgs("striptags", a)
        return .string(striptags(try PyText.str(v)))
    }

    static func striptags(_ value: String) -> String {
        let b = Array(value.utf8)
        var parts: [UInt8] = []
        var pos = 0
        var found = false
        while let start = PyStr.findBytes(b, Array("<".utf8), from: pos, to: b.count) {
            var end: Int
            if b[start...].starts(with: "<!--".utf8) {
                guard let e = PyStr.findBytes(b, Array("-->".utf8), from: start + 4, to: b.count) else { break }
                end = e + 3
            } else {
                guard let e = PyStr.findBytes(b, Array(">".utf8), from: start, to: b.count) else { break }
                end = e + 1
            }
            parts.append(contentsOf: b[pos..<start])
            pos = end
            found = true
        }
        var text = value
        if found {
            parts.append(contentsOf: b[pos...])
            text = String(decoding: parts, as: UTF8.self)
        }
        text = PyStr.splitWhitespace(text, -1).joined(separator: " ")
        return unescapeHTML(text)
    }

    /// `html.unescape` for numeric references and the common named entities.
    static func unescapeHTML(_ s: String) -> String {
        guard s.contains("&") else { return s }
        let named: [String: String] = [
            "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": "\u{A0}", "#39": "'",
            "copy": "\u{A9}", "reg": "\u{AE}", "raquo": "\u{BB}", "laquo": "\u{AB}", "hellip": "\u{2026}",
            "mdash": "\u{2014}", "ndash": "\u{2013}",
        ]
        let scalars = Array(s.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        while i < scalars.count {
            if scalars[i] == "&", let semi = scalars[(i + 1)...].prefix(32).firstIndex(of: ";") {
                let name = PyStr.string(scalars[(i + 1)..<semi])
                if name.hasPrefix("#") {
                    let digits = name.dropFirst()
                    let value = digits.first == "x" || digits.first == "X" ? UInt32(digits.dropFirst(), radix: 16) : UInt32(digits)
                    if let value, let sc = Unicode.Scalar(value) {
                        out.append(sc)
                        i = semi + 1
                        continue
                    }
                } else if let r = named[name] {
                    out.append(contentsOf: r.unicodeScalars)
                    i = semi + 1
                    continue
                }
            }
            out.append(scalars[i])
            i += 1
        }
        return String(out)
    }

    static func urlencode(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Value {
        try noArgs("urlencode", a)
        func quote(_ x: Value, forQS: Bool) throws(TemplateError) -> String {
            let str = try PyText.str(x)
            let safe = forQS ? "" : "/"
            var out = ""
            for b in str.utf8 {
                let c = Character(Unicode.Scalar(b))
                if (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
                    || "_.-~".utf8.contains(b) || safe.utf8.contains(b)
                {
                    out.append(c)
                } else if forQS && b == 0x20 {
                    out.append("+")
                } else {
                    out += "%" + String(b, radix: 16, uppercase: true).leftPad(2)
                }
            }
            return out
        }
        switch v {
        case .string, .markup: return .string(try quote(v, forQS: false))
        case .dict(let d):
            var parts: [String] = []
            for (k, x) in d.pairs { parts.append(try quote(k, forQS: true) + "=" + quote(x, forQS: true)) }
            return .string(parts.joined(separator: "&"))
        default:
            if !Py.isIterable(v) { return .string(try quote(v, forQS: false)) }
            var parts: [String] = []
            for item in try Py.iterate(v) {
                let kv = try Py.iterate(item)
                guard kv.count == 2 else { throw TemplateError(.value, "too many values to unpack (expected 2)") }
                parts.append(try quote(kv[0], forQS: true) + "=" + quote(kv[1], forQS: true))
            }
            return .string(parts.joined(separator: "&"))
        }
    }

    static func xmlattr(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Value {
        let p = try bind("xmlattr", a, ["autospace"])
        let autospace = p[0].map(Py.truthy) ?? true
        guard case .dict(let d) = v else { throw TemplateError(.attribute, "'\(Py.typeName(v))' object has no attribute 'items'") }
        var items: [String] = []
        for (k, x) in d.pairs {
            if case .none = x { continue }
            if case .undefined = x { continue }
            let key = try PyText.str(k)
            if key.unicodeScalars.contains(where: { PyStr.isSpace($0.value) && $0.value < 0x80 || $0 == "/" || $0 == ">" || $0 == "=" }) {
                throw TemplateError(.value, "Invalid character in attribute name: \(try PyText.repr(k))")
            }
            items.append("\(Markup.escape(key))=\"\(Markup.escape(try PyText.str(x)))\"")
        }
        var rv = items.joined(separator: " ")
        if autospace && !rv.isEmpty { rv = " " + rv }
        return .string(rv)
    }

    static func filesizeformat(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Value {
        let p = try bind("filesizeformat", a, ["binary"])
        let binary = p[0].map(Py.truthy) ?? false
        let bytes = try toFloat(v)
        let base: Double = binary ? 1024 : 1000
        let prefixes = binary ? ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"] : ["kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"]
        if bytes == 1 { return "1 Byte" }
        if bytes < base {
            guard bytes.isFinite, Swift.abs(bytes) < 9.2e18 else { throw Py.overflow() }
            return .string("\(Int(bytes)) Bytes")
        }
        var unit = base
        for (i, prefix) in prefixes.enumerated() {
            unit = cPow(base, Double(i + 2))
            if bytes < unit || i == prefixes.count - 1 {
                return .string(PyFloat.fixed(base * bytes / unit, precision: 1) + " " + prefix)
            }
        }
        return .string("")
    }

    static func toFloat(_ v: Value) throws(TemplateError) -> Double {
        switch v {
        case .int(let i): return Double(i)
        case .float(let d): return d
        case .bool(let b): return b ? 1 : 0
        case .string(let s), .markup(let s):
            guard let d = parsePythonFloat(s) else { throw TemplateError(.value, "could not convert string to float: \(try PyText.repr(v))") }
            return d
        case .undefined(let info): throw Py.undefinedError(info)
        default: throw TemplateError(.type, "float() argument must be a string or a real number, not '\(Py.typeName(v))'")
        }
    }

    // MARK: Numbers

    static func abs(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Value {
        try noArgs("abs", a)
        switch v {
        case .int(let i):
            if i == Int.min { throw Py.overflow() }
            return .int(Swift.abs(i))
        case .bool(let b): return .int(b ? 1 : 0)
        case .float(let d): return .float(Swift.abs(d))
        default: throw TemplateError(.type, "bad operand type for abs(): '\(Py.typeName(v))'")
        }
    }

    static func round(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Value {
        let p = try bind("round", a, ["precision", "method"])
        let precision = try p[0].map(Methods.intArg) ?? 0
        let method = try p[1].map { (x: Value) throws(TemplateError) -> String in try PyText.str(x) } ?? "common"
        guard ["common", "ceil", "floor"].contains(method) else {
            throw TemplateError(.runtime, "method must be common, ceil or floor")
        }
        if method == "common" {
            switch v {
            case .int(let i):
                if precision >= 0 { return .int(i) }
                return .int(try roundInt(i, precision))
            case .bool(let b): return .int(b ? 1 : 0)
            case .float(let d): return .float(PyFloat.round(d, precision))
            default: throw TemplateError(.type, "type \(Py.typeName(v)) doesn't define __round__ method")
            }
        }
        let x: Double
        switch v {
        case .int(let i): x = Double(i)
        case .bool(let b): x = b ? 1 : 0
        case .float(let d): x = d
        default: throw TemplateError(.type, "can't multiply sequence by non-int of type 'float'")
        }
        let scale: Double = precision >= 0 ? cPow(10, Double(precision)) : cPow(10, Double(precision))
        let scaled = x * scale
        let r = method == "ceil" ? scaled.rounded(.up) : scaled.rounded(.down)
        if !r.isFinite { throw TemplateError(.arithmetic, "cannot convert float infinity to integer") }
        return .float(r / scale)
    }

    /// `round(int, negative_ndigits)`: half to even at a power of ten.
    static func roundInt(_ i: Int, _ ndigits: Int) throws(TemplateError) -> Int {
        if ndigits <= -19 { return 0 }
        var p = 1
        for _ in 0 ..< -ndigits { p *= 10 }
        let q = i / p, r = i % p
        var base = q * p
        let twice = 2 * Swift.abs(r)
        if twice > p || (twice == p && q % 2 != 0) {
            base += i < 0 ? -p : p
        }
        return base
    }

    static func int(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Value {
        let p = try bind("int", a, ["default", "base"])
        let dflt = p[0] ?? .int(0)
        let base = try p[1].map(Methods.intArg) ?? 10
        switch v {
        case .string(let str), .markup(let str):
            if let i = parsePythonInt(str, base: base) { return .int(i) }
            if let d = parsePythonFloat(str), d.isFinite {
                guard Swift.abs(d) < 9.2e18 else { throw Py.overflow() }
                return .int(Int(d))
            }
            return dflt
        case .int: return v
        case .bool(let b): return .int(b ? 1 : 0)
        case .float(let d):
            if !d.isFinite { return dflt }
            guard Swift.abs(d) < 9.2e18 else { throw Py.overflow() }
            return .int(Int(d))
        case .undefined(let info): throw Py.undefinedError(info)
        default: return dflt
        }
    }

    static func float(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Value {
        let p = try bind("float", a, ["default"])
        let dflt = p[0] ?? .float(0)
        switch v {
        case .string(let str), .markup(let str): return parsePythonFloat(str).map { .float($0) } ?? dflt
        case .int(let i): return .float(Double(i))
        case .bool(let b): return .float(b ? 1 : 0)
        case .float: return v
        case .undefined(let info): throw Py.undefinedError(info)
        default: return dflt
        }
    }

    /// Python `int(s, base)` for strings: surrounding whitespace, sign, underscores between digits,
    /// base prefixes when base is 0 or matches.
    static func parsePythonInt(_ text: String, base: Int) -> Int? {
        var s = Substring(PyStr.strip(text, nil))
        var negative = false
        if let f = s.first, f == "+" || f == "-" {
            negative = f == "-"
            s = s.dropFirst()
        }
        var b = base
        let lower = s.lowercased()
        for (prefix, pb) in [("0x", 16), ("0o", 8), ("0b", 2)] where lower.hasPrefix(prefix) && (b == 0 || b == pb) {
            b = pb
            s = s.dropFirst(2)
            if s.first == "_" { s = s.dropFirst() }
            break
        }
        if b == 0 {
            b = 10
            if s.count > 1 && s.first == "0" && !s.allSatisfy({ $0 == "0" || $0 == "_" }) { return nil }
        }
        guard b >= 2 && b <= 36, !s.isEmpty, s.first != "_", s.last != "_", !s.contains("__") else { return nil }
        let digits = s.replacingOccurrences(of: "_", with: "")
        guard let mag = UInt64(digits, radix: b) else { return nil }
        if negative {
            guard mag <= UInt64(Int.max) + 1 else { return nil }
            return mag == UInt64(Int.max) + 1 ? Int.min : -Int(mag)
        }
        guard mag <= UInt64(Int.max) else { return nil }
        return Int(mag)
    }

    /// Python `float(s)`.
    static func parsePythonFloat(_ text: String) -> Double? {
        let s = PyStr.strip(text, nil)
        var body = Substring(s)
        var sign = 1.0
        if let f = body.first, f == "+" || f == "-" {
            if f == "-" { sign = -1 }
            body = body.dropFirst()
        }
        switch body.lowercased() {
        case "inf", "infinity": return sign * .infinity
        case "nan": return .nan
        default: break
        }
        // Digits with single underscores between digits; optional fraction and exponent.
        var chars = Array(body.utf8)
        guard !chars.isEmpty else { return nil }
        for (i, c) in chars.enumerated() where c == UInt8(ascii: "_") {
            guard i > 0, i < chars.count - 1, chars[i - 1] >= 0x30 && chars[i - 1] <= 0x39,
                chars[i + 1] >= 0x30 && chars[i + 1] <= 0x39 else { return nil }
        }
        chars.removeAll { $0 == UInt8(ascii: "_") }
        var i = 0
        var digits = 0
        while i < chars.count && chars[i] >= 0x30 && chars[i] <= 0x39 { i += 1; digits += 1 }
        if i < chars.count && chars[i] == UInt8(ascii: ".") {
            i += 1
            while i < chars.count && chars[i] >= 0x30 && chars[i] <= 0x39 { i += 1; digits += 1 }
        }
        guard digits > 0 else { return nil }
        if i < chars.count && (chars[i] | 0x20) == UInt8(ascii: "e") {
            i += 1
            if i < chars.count && (chars[i] == UInt8(ascii: "+") || chars[i] == UInt8(ascii: "-")) { i += 1 }
            var e = 0
            while i < chars.count && chars[i] >= 0x30 && chars[i] <= 0x39 { i += 1; e += 1 }
            guard e > 0 else { return nil }
        }
        guard i == chars.count, let d = Double(String(decoding: chars, as: UTF8.self)) else { return nil }
        return sign * d
    }

    // MARK: Defaults and JSON

    static func defaultFilter(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Value {
        let p = try bind("default", a, ["default_value", "boolean"])
        let dflt = p[0] ?? .string("")
        let boolean = p[1].map(Py.truthy) ?? false
        if case .undefined = v { return dflt }
        if boolean && !Py.truthy(v) { return dflt }
        return v
    }

    static func tojson(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Value {
        let p = try bind("tojson", a, ["ensure_ascii", "indent", "separators", "sort_keys"])
        let opts = try JSONDumpOptions(ensureASCII: p[0] ?? .bool(false), indent: p[1] ?? .none,
                                       separators: p[2] ?? .none, sortKeys: p[3] ?? .bool(false))
        return .string(try JSONDumps.dumps(v, opts))
    }

    static func pprint(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Value {
        try noArgs("pprint", a)
        return .string(try PrettyPrint.pformat(v))
    }

    // MARK: Sequences

    static func length(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Value {
        if !a.isEmpty { throw TemplateError(.type, "len() takes exactly one argument (\(a.positional.count + 1) given)") }
        return .int(try Py.length(v))
    }

    static func list(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Value {
        try noArgs("list", a)
        return .list(try Py.iterate(v))
    }

    static func first(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Value {
        try noArgs("first", a)
        if case .object(let o) = v, let g = o as? GeneratorObject {
            if let x = g.next() { return x }
            return .undefined(UndefinedInfo(message: "No first item, sequence was empty."))
        }
        let items = try Py.iterate(v)
        return items.first ?? .undefined(UndefinedInfo(message: "No first item, sequence was empty."))
    }

    static func last(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Value {
        try noArgs("last", a)
        switch v {
        case .list, .tuple, .dict, .string, .markup, .undefined: break
        case .object(let o) where o is RangeObject: break
        default: throw TemplateError(.type, "'\(Py.typeName(v))' object is not reversible")
        }
        return try Py.iterate(v).last ?? .undefined(UndefinedInfo(message: "No last item, sequence was empty."))
    }

    static func reverse(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Value {
        try noArgs("reverse", a)
        switch v {
        case .string(let str): return .string(String(String.UnicodeScalarView(str.unicodeScalars.reversed())))
        case .markup(let str): return .markup(String(String.UnicodeScalarView(str.unicodeScalars.reversed())))
        case .list, .tuple, .dict, .undefined:
            return .object(GeneratorObject(Array(try Py.iterate(v).reversed()), kind: "list_reverseiterator"))
        default:
            guard Py.isIterable(v) else { throw TemplateError(.runtime, "argument must be iterable") }
            return .list(Array(try Py.iterate(v).reversed()))
        }
    }

    static func join(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Value {
        let p = try bind("join", a, ["d", "attribute"])
        let sep = try p[0].map { (x: Value) throws(TemplateError) -> String in try PyText.str(x) } ?? ""
        var items = try Py.iterate(v)
        if let attribute = p[1], !attribute.isNone {
            let parts = attributeParts(attribute)
            items = try items.map { (x: Value) throws(TemplateError) -> Value in try getAttribute(x, parts, &s) }
        }
        var out: [UInt8] = []
        for (i, item) in items.enumerated() {
            if i > 0 { out.append(contentsOf: sep.utf8) }
            try PyText.appendStr(item, to: &out)
            if out.count > s.budget.maxOutputBytes { try Py.checkLength(out.count, s.budget.maxOutputBytes) }
        }
        return .string(String(decoding: out, as: UTF8.self))
    }

    static func items(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Value {
        try noArgs("items", a)
        switch v {
        case .undefined: return .object(GeneratorObject([], kind: "generator"))
        case .dict(let d): return .object(GeneratorObject(d.pairs.map { .tuple([$0, $1]) }, kind: "generator"))
        default: throw TemplateError(.type, "Can only get item pairs from a mapping.")
        }
    }

    static func dictsort(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Value {
        let p = try bind("dictsort", a, ["case_sensitive", "by", "reverse"])
        let caseSensitive = p[0].map(Py.truthy) ?? false
        let by = try p[1].map { (x: Value) throws(TemplateError) -> String in try PyText.str(x) } ?? "key"
        let rev = p[2].map(Py.truthy) ?? false
        guard by == "key" || by == "value" else {
            throw TemplateError(.runtime, "You can only sort by either \"key\" or \"value\"")
        }
        guard case .dict(let d) = v else {
            if case .undefined(let info) = v { throw Py.undefinedError(info) }
            throw TemplateError(.attribute, "'\(Py.typeName(v))' object has no attribute 'items'")
        }
        let pairs = d.pairs.map { Value.tuple([$0, $1]) }
        let pos = by == "key" ? 0 : 1
        let keys = pairs.map { (p: Value) -> Value in
            guard case .tuple(let kv) = p else { return p }
            return caseSensitive ? kv[pos] : ignoreCase(kv[pos])
        }
        return .list(try sortedBy(pairs, keys, reverse: rev))
    }

    /// Python's `sorted(items, key=..., reverse=...)`: stable; reverse keeps equal items in order.
    static func sortedBy(_ items: [Value], _ keys: [Value], reverse: Bool) throws(TemplateError) -> [Value] {
        let order = try Py.stableSort(Array(items.indices)) { (i: Int, j: Int) throws(TemplateError) -> Bool in
            reverse ? try Py.compare(keys[j], .lt, keys[i]) : try Py.compare(keys[i], .lt, keys[j])
        }
        return order.map { items[$0] }
    }

    static func sort(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Value {
        let p = try bind("sort", a, ["reverse", "case_sensitive", "attribute"])
        let rev = p[0].map(Py.truthy) ?? false
        let caseSensitive = p[1].map(Py.truthy) ?? false
        let items = try Py.iterate(v)
        var attrs: [[Value]] = []
        if let attribute = p[2], !attribute.isNone {
            if let str = attribute.stringValue {
                attrs = str.split(separator: ",", omittingEmptySubsequences: false).map { attributeParts(.string(String($0))) }
            } else {
                attrs = [attributeParts(attribute)]
            }
        }
        var keys: [Value] = []
        keys.reserveCapacity(items.count)
        for item in items {
            if attrs.isEmpty {
                keys.append(caseSensitive ? item : ignoreCase(item))
            } else {
                var k: [Value] = []
                for parts in attrs {
                    let x = try getAttribute(item, parts, &s)
                    k.append(caseSensitive ? x : ignoreCase(x))
                }
                keys.append(.list(k))
            }
        }
        return .list(try sortedBy(items, keys, reverse: rev))
    }

    static func unique(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Value {
        let p = try bind("unique", a, ["case_sensitive", "attribute"])
        let caseSensitive = p[0].map(Py.truthy) ?? false
        let parts = p[1].map(attributeParts) ?? []
        var seen = Set<HashKey>()
        var out: [Value] = []
        for item in try Py.iterate(v) {
            var key = try getAttribute(item, parts, &s)
            if !caseSensitive { key = ignoreCase(key) }
            if seen.insert(try HashKey(key)).inserted { out.append(item) }
        }
        return .object(GeneratorObject(out, kind: "generator"))
    }

    static func minMax(_ name: String, _ s: inout RenderState, _ v: Value, _ a: Arguments, max: Bool) throws(TemplateError) -> Value {
        let p = try bind(name, a, ["case_sensitive", "attribute"])
        let caseSensitive = p[0].map(Py.truthy) ?? false
        let parts = p[1].map(attributeParts) ?? []
        let items = try Py.iterate(v)
        guard var best = items.first else {
            return .undefined(UndefinedInfo(message: "No aggregated item, sequence was empty."))
        }
        func key(_ x: Value, _ s: inout RenderState) throws(TemplateError) -> Value {
            let k = try getAttribute(x, parts, &s)
            return caseSensitive ? k : ignoreCase(k)
        }
        var bestKey = try key(best, &s)
        for item in items.dropFirst() {
            let k = try key(item, &s)
            if try Py.compare(k, max ? .gt : .lt, bestKey) {
                best = item
                bestKey = k
            }
        }
        return best
    }

    static func min(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Value {
        try minMax("min", &s, v, a, max: false)
    }

    static func max(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Value {
        try minMax("max", &s, v, a, max: true)
    }

    static func sum(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Value {
        let p = try bind("sum", a, ["attribute", "start"])
        var acc = p[1] ?? .int(0)
        let parts = (p[0].flatMap { $0.isNone ? nil : $0 }).map(attributeParts) ?? []
        if acc.stringValue != nil { throw TemplateError(.type, "sum() can't sum strings [use ''.join(seq) instead]") }
        for item in try Py.iterate(v) {
            let x = try getAttribute(item, parts, &s)
            acc = try Py.add(acc, x, limit: s.budget.maxOutputBytes)
        }
        return acc
    }

    static func batch(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Value {
        let p = try bind("batch", a, ["linecount", "fill_with"], required: 1)
        let n = try Methods.intArg(p[0]!)
        let fill = p[1].flatMap { $0.isNone ? nil : $0 }
        var out: [Value] = []
        var tmp: [Value] = []
        for item in try Py.iterate(v) {
            if tmp.count == n {
                out.append(.list(tmp))
                tmp = []
            }
            tmp.append(item)
        }
        if !tmp.isEmpty {
            if let fill, tmp.count < n { tmp += Array(repeating: fill, count: n - tmp.count) }
            out.append(.list(tmp))
        }
        return .object(GeneratorObject(out, kind: "generator"))
    }

    static func slice(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Value {
        let p = try bind("slice", a, ["slices", "fill_with"], required: 1)
        let slices = try Methods.intArg(p[0]!)
        let fill = p[1].flatMap { $0.isNone ? nil : $0 }
        let seq = try Py.iterate(v)
        if slices == 0 { throw TemplateError(.arithmetic, "integer division or modulo by zero") }
        let perSlice = Int(floorDiv(seq.count, slices))
        let withExtra = ((seq.count % slices) + slices) % slices
        var offset = 0
        var out: [Value] = []
        if slices > 0 {
            for n in 0..<slices {
                let start = offset + n * perSlice
                if n < withExtra { offset += 1 }
                let end = offset + (n + 1) * perSlice
                var tmp = Array(seq[Swift.max(0, Swift.min(start, seq.count))..<Swift.max(0, Swift.min(end, seq.count))])
                if let fill, n >= withExtra { tmp.append(fill) }
                out.append(.list(tmp))
            }
        }
        return .object(GeneratorObject(out, kind: "generator"))
    }

    static func floorDiv(_ a: Int, _ b: Int) -> Int {
        var q = a / b
        if (a % b != 0) && ((a < 0) != (b < 0)) { q -= 1 }
        return q
    }

    static func groupby(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Value {
        let p = try bind("groupby", a, ["attribute", "default", "case_sensitive"], required: 1)
        let parts = attributeParts(p[0]!)
        let dflt = p[1].flatMap { $0.isNone ? nil : $0 }
        let caseSensitive = p[2].map(Py.truthy) ?? false
        let items = try Py.iterate(v)
        var keys: [Value] = []
        for item in items {
            let k = try getAttribute(item, parts, &s, default: dflt)
            keys.append(caseSensitive ? k : ignoreCase(k))
        }
        let order = try Py.stableSort(Array(items.indices)) { (i: Int, j: Int) throws(TemplateError) -> Bool in
            try Py.compare(keys[i], .lt, keys[j])
        }
        var groups: [Value] = []
        var i = 0
        while i < order.count {
            let k = keys[order[i]]
            var members: [Value] = []
            while i < order.count && Py.eq(keys[order[i]], k) {
                members.append(items[order[i]])
                i += 1
            }
            let grouper = caseSensitive ? k : try getAttribute(members[0], parts, &s, default: dflt)
            groups.append(.object(GroupTuple(grouper: grouper, list: members)))
        }
        return .list(groups)
    }

    // MARK: map / select / reject

    static func map(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Value {
        guard Py.truthy(v) else { return .object(GeneratorObject([], kind: "generator")) }
        let items = try Py.iterate(v)
        var out: [Value] = []
        out.reserveCapacity(items.count)
        if a.positional.isEmpty, let attrIndex = a.keywords.firstIndex(where: { $0.0 == "attribute" }) {
            let parts = attributeParts(a.keywords[attrIndex].1)
            var dflt: Value? = nil
            for (k, x) in a.keywords where k != "attribute" {
                if k == "default" { dflt = x } else {
                    throw TemplateError(.runtime, "Unexpected keyword argument '\(k)'")
                }
            }
            for item in items { out.append(try getAttribute(item, parts, &s, default: dflt.flatMap { $0.isNone ? nil : $0 })) }
        } else {
            guard let nameValue = a.positional.first else { throw TemplateError(.runtime, "map requires a filter argument") }
            let name = try PyText.str(nameValue)
            guard let f = table[name] else { throw TemplateError(.runtime, "No filter named '\(name)'.") }
            var rest = a
            rest.positional.removeFirst()
            for item in items { out.append(try f(&s, item, rest)) }
        }
        return .object(GeneratorObject(out, kind: "generator"))
    }

    static func selectOrReject(_ s: inout RenderState, _ v: Value, _ a: Arguments, attribute: Bool, keep: Bool) throws(TemplateError) -> Value {
        guard Py.truthy(v) else { return .object(GeneratorObject([], kind: "generator")) }
        var args = a.positional
        var parts: [Value] = []
        if attribute {
            guard !args.isEmpty else { throw TemplateError(.runtime, "Missing parameter for attribute name") }
            parts = attributeParts(args.removeFirst())
        }
        var test: TestFunction? = nil
        if !args.isEmpty {
            let name = try PyText.str(args.removeFirst())
            guard let t = Tests.table[name] else { throw TemplateError(.runtime, "No test named '\(name)'.") }
            test = t
        }
        let testArgs = Arguments(args, keywords: a.keywords)
        var out: [Value] = []
        for item in try Py.iterate(v) {
            let x = attribute ? try getAttribute(item, parts, &s) : item
            let r = try test.map { (t: TestFunction) throws(TemplateError) -> Bool in try t(&s, x, testArgs) } ?? Py.truthy(x)
            if r == keep { out.append(item) }
        }
        return .object(GeneratorObject(out, kind: "generator"))
    }

    static func select(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Value {
        try selectOrReject(&s, v, a, attribute: false, keep: true)
    }

    static func reject(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Value {
        try selectOrReject(&s, v, a, attribute: false, keep: false)
    }

    static func selectattr(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Value {
        try selectOrReject(&s, v, a, attribute: true, keep: true)
    }

    static func rejectattr(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Value {
        try selectOrReject(&s, v, a, attribute: true, keep: false)
    }

    static func attr(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Value {
        let p = try bind("attr", a, ["name"], required: 1)
        let name = try PyText.str(p[0]!)
        if case .undefined(let info) = v { throw Py.undefinedError(info) }
        return try Access.pythonAttribute(v, name, &s) ?? .undefined(nil)
    }
}

private extension Substring {
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        String(self).split(separator: Character(target), omittingEmptySubsequences: false).joined(separator: replacement)
    }
}

private extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}

// MARK: - Generators

/// A one-shot iterator, as jinja's generator-returning filters (`map`, `select`, `unique`, ...)
/// produce: always truthy, no `len()`, no indexing, and a second iteration sees nothing.
final class GeneratorObject: PyObject, @unchecked Sendable {
    let items: [Value]
    var position = 0
    let kind: String

    init(_ items: [Value], kind: String) {
        self.items = items
        self.kind = kind
    }

    override var typeName: String { kind }
    override func repr() -> String { "<\(kind) object>" }
    override var isIterable: Bool { true }

    override func iterate() -> [Value]? {
        let rest = position == 0 ? items : Array(items[position...])
        position = items.count
        return rest
    }

    func next() -> Value? {
        guard position < items.count else { return nil }
        position += 1
        return items[position - 1]
    }
}

/// jinja's `_GroupTuple(grouper, list)`: a 2-tuple with named fields.
final class GroupTuple: PyObject, @unchecked Sendable {
    let grouper: Value
    let list: [Value]

    init(grouper: Value, list: [Value]) {
        self.grouper = grouper
        self.list = list
    }

    override var typeName: String { "_GroupTuple" }
    override func repr() -> String { (try? PyText.repr(.tuple([grouper, .list(list)]))) ?? "(...)" }
    override func iterate() -> [Value]? { [grouper, .list(list)] }
    override var isIterable: Bool { true }
    override func length() -> Int? { 2 }
    override func attribute(_ name: String, _ s: inout RenderState) throws(TemplateError) -> Value? {
        switch name {
        case "grouper": return grouper
        case "list": return .list(list)
        default: return nil
        }
    }
    override func item(_ key: Value, _ s: inout RenderState) throws(TemplateError) -> Value? {
        guard let i = Access.intIndex(key) else { return nil }
        guard let j = PyStr.normalizeIndex(i, 2) else { return .undefined(nil) }
        return j == 0 ? grouper : .list(list)
    }
    override func equals(_ other: PyObject) -> Bool {
        guard let o = other as? GroupTuple else { return false }
        return Py.eq(grouper, o.grouper) && Py.eq(.list(list), .list(o.list))
    }
}
