// Python methods of str, dict, list and tuple that templates call (`.strip()`, `.split()`,
// `.items()`, `.get()`, ...). Methods that would mutate a list or dict are refused by the sandbox
// (see Access.swift). A Markup receiver escapes string arguments and returns Markup, as markupsafe does.

enum Methods {
    static let strMethods: Set<String> = [
        "capitalize", "casefold", "center", "count", "endswith", "expandtabs", "find", "format", "format_map",
        "index", "isalnum", "isalpha", "isascii", "isdecimal", "isdigit", "isidentifier", "islower",
        "isnumeric", "isprintable", "isspace", "istitle", "isupper", "join", "ljust", "lower", "lstrip",
        "partition", "removeprefix", "removesuffix", "replace", "rfind", "rindex", "rjust", "rpartition",
        "rsplit", "rstrip", "split", "splitlines", "startswith", "strip", "swapcase", "title", "upper", "zfill",
    ]
    static let markupMethods: Set<String> = ["striptags", "unescape", "escape"]
    /// markupsafe wraps these: string arguments are escaped, string results become Markup.
    static let markupWrapped: Set<String> = [
        "capitalize", "center", "expandtabs", "format", "format_map", "join", "ljust", "lower", "lstrip",
        "partition", "removeprefix", "removesuffix", "replace", "rjust", "rpartition", "rsplit", "rstrip",
        "split", "splitlines", "strip", "swapcase", "title", "upper", "zfill", "casefold",
    ]
    static let dictMethods: Set<String> = ["items", "keys", "values", "get", "copy", "fromkeys"]
    static let listMethods: Set<String> = ["index", "count", "copy"]
    static let tupleMethods: Set<String> = ["index", "count"]

    /// Whether `obj.name` is a (safe) builtin method.
    static func exists(_ obj: Value, _ name: String) -> Bool {
        switch obj {
        case .string: strMethods.contains(name)
        case .markup: strMethods.contains(name) || markupMethods.contains(name)
        case .dict: dictMethods.contains(name)
        case .list: listMethods.contains(name)
        case .tuple: tupleMethods.contains(name)
        default: false
        }
    }

    /// Fast check used by method-call nodes.
    @inline(__always)
    static func has(_ obj: Value, _ name: String) -> Bool {
        switch obj {
        case .string, .markup, .dict, .list, .tuple: exists(obj, name)
        default: false
        }
    }

    static func call(_ receiver: Value, _ name: String, _ args: Arguments, _ s: inout RenderState) throws(TemplateError) -> Value {
        switch receiver {
        case .string(let str):
            return try strMethod(str, name, args, &s, markup: false)
        case .markup(let str):
            if markupMethods.contains(name) { return try markupMethod(str, name, args) }
            if markupWrapped.contains(name) {
                var escaped = args
                escaped.positional = args.positional.map(escapeArg)
                escaped.keywords = args.keywords.map { ($0.0, escapeArg($0.1)) }
                return wrapMarkup(try strMethod(str, name, escaped, &s, markup: true))
            }
            return try strMethod(str, name, args, &s, markup: true)
        case .dict(let d):
            return try dictMethod(d, name, args)
        case .list(let items), .tuple(let items):
            return try sequenceMethod(receiver, items, name, args)
        default:
            throw TemplateError(.attribute, "'\(Py.typeName(receiver))' object has no attribute '\(name)'")
        }
    }

    static func escapeArg(_ v: Value) -> Value {
        if case .string(let s) = v { return .markup(Markup.escape(s)) }
        return v
    }

    static func wrapMarkup(_ v: Value) -> Value {
        switch v {
        case .string(let s): .markup(s)
        case .list(let items): .list(items.map(wrapMarkup))
        case .tuple(let items): .tuple(items.map(wrapMarkup))
        default: v
        }
    }

    // MARK: Argument binding

    /// Binds positional and keyword arguments to parameter names, Python style.
    static func bind(_ fname: String, _ args: Arguments, _ names: [String], required: Int = 0,
                     keywords: Bool = true) throws(TemplateError) -> [Value?] {
        if args.positional.count > names.count {
            throw TemplateError(.type, "\(fname)() takes at most \(names.count) argument\(names.count == 1 ? "" : "s") (\(args.positional.count) given)")
        }
        var out = [Value?](repeating: nil, count: names.count)
        for (i, v) in args.positional.enumerated() { out[i] = v }
        if !args.keywords.isEmpty && !keywords {
            throw TemplateError(.type, "\(fname)() takes no keyword arguments")
        }
        for (k, v) in args.keywords {
            guard let i = names.firstIndex(of: k) else {
                throw TemplateError(.type, "\(fname)() got an unexpected keyword argument '\(k)'")
            }
            if out[i] != nil { throw TemplateError(.type, "\(fname)() got multiple values for argument '\(k)'") }
            out[i] = v
        }
        for i in 0..<required where out[i] == nil {
            throw TemplateError(.type, "\(fname)() missing required argument '\(names[i])' (pos \(i + 1))")
        }
        return out
    }

    static func intArg(_ v: Value) throws(TemplateError) -> Int {
        switch v {
        case .int(let i): return i
        case .bool(let b): return b ? 1 : 0
        case .undefined(let info): throw Py.undefinedError(info)
        default: throw TemplateError(.type, "'\(Py.typeName(v))' object cannot be interpreted as an integer")
        }
    }

    /// An optional slice bound (None allowed).
    static func boundArg(_ v: Value?) throws(TemplateError) -> Int? {
        guard let v else { return nil }
        if case .none = v { return nil }
        switch v {
        case .int(let i): return i
        case .bool(let b): return b ? 1 : 0
        default: throw TemplateError(.type, "slice indices must be integers or None or have an __index__ method")
        }
    }

    static func strArg(_ v: Value, _ fname: String, _ what: String = "argument") throws(TemplateError) -> String {
        if let s = v.stringValue { return s }
        if case .undefined(let info) = v { throw Py.undefinedError(info) }
        throw TemplateError(.type, "\(fname)() \(what) must be str, not \(Py.typeName(v))")
    }

    static func fillArg(_ v: Value?) throws(TemplateError) -> String {
        guard let v else { return " " }
        guard let f = v.stringValue, PyStr.length(f) == 1 else {
            throw TemplateError(.type, "The fill character must be exactly one character long")
        }
        return f
    }

    // MARK: str

    static func strMethod(_ str: String, _ name: String, _ args: Arguments, _ s: inout RenderState, markup: Bool) throws(TemplateError) -> Value {
        switch name {
        case "strip", "lstrip", "rstrip":
            let a = try bind(name, args, ["chars"], keywords: false)
            var chars: String? = nil
            if let c = a[0], !c.isNone {
                guard let cs = c.stringValue else { throw TemplateError(.type, "\(name) arg must be None or str") }
                chars = cs
            }
            return .string(PyStr.strip(str, chars, left: name != "rstrip", right: name != "lstrip"))
        case "split", "rsplit":
            let a = try bind(name, args, ["sep", "maxsplit"])
            var sep: String? = nil
            if let v = a[0], !v.isNone { sep = try strArg(v, name) }
            let maxsplit = try a[1].map(intArg) ?? -1
            let parts = name == "split" ? try PyStr.split(str, sep, maxsplit) : try PyStr.rsplit(str, sep, maxsplit)
            return .list(parts.map { .string($0) })
        case "splitlines":
            let a = try bind(name, args, ["keepends"])
            return .list(PyStr.splitlines(str, keepends: a[0].map(Py.truthy) ?? false).map { .string($0) })
        case "startswith", "endswith":
            let a = try bind(name, args, ["prefix", "start", "end"], required: 1, keywords: false)
            let candidates: [String]
            switch a[0]! {
            case .string(let p), .markup(let p): candidates = [p]
            case .tuple(let items):
                var cs: [String] = []
                for item in items {
                    guard let p = item.stringValue else {
                        throw TemplateError(.type, "tuple for \(name) must only contain str, not \(Py.typeName(item))")
                    }
                    cs.append(p)
                }
                candidates = cs
            default:
                throw TemplateError(.type, "\(name) first arg must be str or a tuple of str, not \(Py.typeName(a[0]!))")
            }
            let scalars = Array(str.unicodeScalars)
            let (lo, hi, _) = try PyStr.sliceIndices(try boundArg(a[1]), try boundArg(a[2]), 1, scalars.count)
            for c in candidates {
                let cs = Array(c.unicodeScalars)
                if lo > scalars.count { continue }
                if hi - lo < cs.count { continue }
                if name == "startswith" {
                    if Array(scalars[lo..<(lo + cs.count)]) == cs { return .bool(true) }
                } else {
                    if Array(scalars[(hi - cs.count)..<hi]) == cs { return .bool(true) }
                }
            }
            return .bool(false)
        case "replace":
            let a = try bind(name, args, ["old", "new", "count"], required: 2, keywords: false)
            let old = try strArg(a[0]!, name, "argument 1")
            let new = try strArg(a[1]!, name, "argument 2")
            let count = try a[2].map(intArg) ?? -1
            let r = PyStr.replace(str, old, new, count)
            try Py.checkLength(r.utf8.count, s.budget.maxOutputBytes)
            return .string(r)
        case "upper": try noArgs(name, args); return .string(PyStr.upper(str))
        case "lower": try noArgs(name, args); return .string(PyStr.lower(str))
        case "casefold": try noArgs(name, args); return .string(PyStr.lower(str).replacingSharpS())
        case "title": try noArgs(name, args); return .string(PyStr.title(str))
        case "capitalize": try noArgs(name, args); return .string(PyStr.capitalize(str))
        case "swapcase": try noArgs(name, args); return .string(PyStr.swapcase(str))
        case "center", "ljust", "rjust":
            let a = try bind(name, args, ["width", "fillchar"], required: 1, keywords: false)
            let width = try intArg(a[0]!)
            let fill = try fillArg(a[1])
            try Py.checkLength(width, s.budget.maxOutputBytes)
            let len = PyStr.length(str)
            if width <= len { return .string(str) }
            switch name {
            case "center": return .string(PyStr.center(str, width, fill))
            case "ljust": return .string(PyStr.pad(str, left: 0, right: width - len, fill: fill))
            default: return .string(PyStr.pad(str, left: width - len, right: 0, fill: fill))
            }
        case "zfill":
            let a = try bind(name, args, ["width"], required: 1, keywords: false)
            let width = try intArg(a[0]!)
            try Py.checkLength(width, s.budget.maxOutputBytes)
            let len = PyStr.length(str)
            if width <= len { return .string(str) }
            var body = str
            var sign = ""
            if let f = str.first, f == "+" || f == "-" {
                sign = String(f)
                body = String(str.dropFirst())
            }
            return .string(sign + String(repeating: "0", count: width - len) + body)
        case "count", "find", "rfind", "index", "rindex":
            let a = try bind(name, args, ["sub", "start", "end"], required: 1, keywords: false)
            let sub = try strArg(a[0]!, name)
            let n = PyStr.length(str)
            let startArg = try boundArg(a[1]), endArg = try boundArg(a[2])
            var (lo, hi, _) = try PyStr.sliceIndices(startArg, endArg, 1, n)
            if startArg != nil && lo > n {
                if name == "count" { return .int(0) }
                if name == "index" || name == "rindex" { throw TemplateError(.value, "substring not found") }
                return .int(-1)
            }
            hi = max(hi, lo)
            let bytes = Array(str.utf8)
            let blo = PyStr.byteOffset(str, scalarOffset: lo), bhi = PyStr.byteOffset(str, scalarOffset: hi)
            let needle = Array(sub.utf8)
            if name == "count" {
                if needle.isEmpty { return .int(hi - lo + 1) }
                var c = 0
                var from = blo
                while let i = PyStr.findBytes(bytes, needle, from: from, to: bhi) {
                    c += 1
                    from = i + needle.count
                }
                return .int(c)
            }
            let found = (name == "find" || name == "index")
                ? PyStr.findBytes(bytes, needle, from: blo, to: bhi)
                : PyStr.rfindBytes(bytes, needle, from: blo, to: bhi)
            guard let f = found else {
                if name == "index" || name == "rindex" { throw TemplateError(.value, "substring not found") }
                return .int(-1)
            }
            return .int(PyStr.scalarOffset(str, byteOffset: f))
        case "join":
            let a = try bind(name, args, ["iterable"], required: 1, keywords: false)
            let items = try Py.iterate(a[0]!)
            var parts: [String] = []
            parts.reserveCapacity(items.count)
            for (i, item) in items.enumerated() {
                guard let p = item.stringValue else {
                    throw TemplateError(.type, "sequence item \(i): expected str instance, \(Py.typeName(item)) found")
                }
                parts.append(p)
            }
            let r = parts.joined(separator: str)
            try Py.checkLength(r.utf8.count, s.budget.maxOutputBytes)
            return .string(r)
        case "format":
            return .string(try format(str, args.positional, args.keywords, markup: markup, &s))
        case "format_map":
            if !args.keywords.isEmpty { throw TemplateError(.type, "format_map() takes no keyword arguments") }
            guard args.positional.count == 1 else {
                throw TemplateError(.type, "format_map() takes exactly one argument (\(args.positional.count) given)")
            }
            guard case .dict(let d) = args.positional[0] else {
                throw TemplateError(.type, "format_map() argument must be a mapping")
            }
            var kw: [(String, Value)] = []
            for (k, v) in d.pairs { if let ks = k.stringValue { kw.append((ks, v)) } }
            return .string(try format(str, [], kw, markup: markup, &s))
        case "partition", "rpartition":
            let a = try bind(name, args, ["sep"], required: 1, keywords: false)
            let sep = try strArg(a[0]!, name)
            if sep.isEmpty { throw TemplateError(.value, "empty separator") }
            let bytes = Array(str.utf8), n = Array(sep.utf8)
            let found = name == "partition" ? PyStr.findBytes(bytes, n, from: 0, to: bytes.count) : PyStr.rfindBytes(bytes, n, from: 0, to: bytes.count)
            guard let f = found else {
                return name == "partition" ? .tuple([.string(str), "", ""]) : .tuple(["", "", .string(str)])
            }
            return .tuple([.string(String(decoding: bytes[0..<f], as: UTF8.self)), .string(sep),
                           .string(String(decoding: bytes[(f + n.count)...], as: UTF8.self))])
        case "removeprefix":
            let a = try bind(name, args, ["prefix"], required: 1, keywords: false)
            let p = try strArg(a[0]!, name)
            if !p.isEmpty && str.utf8.starts(with: p.utf8) {
                return .string(String(decoding: Array(str.utf8)[p.utf8.count...], as: UTF8.self))
            }
            return .string(str)
        case "removesuffix":
            let a = try bind(name, args, ["suffix"], required: 1, keywords: false)
            let p = try strArg(a[0]!, name)
            if !p.isEmpty && str.utf8.reversed().starts(with: p.utf8.reversed()) {
                let u = Array(str.utf8)
                return .string(String(decoding: u[0..<(u.count - p.utf8.count)], as: UTF8.self))
            }
            return .string(str)
        case "expandtabs":
            let a = try bind(name, args, ["tabsize"])
            let tab = try a[0].map(intArg) ?? 8
            var out = ""
            var col = 0
            for c in str.unicodeScalars {
                if c == "\t" {
                    if tab > 0 {
                        let n = tab - col % tab
                        out += String(repeating: " ", count: n)
                        col += n
                    }
                } else {
                    out.unicodeScalars.append(c)
                    col = (c == "\n" || c == "\r") ? 0 : col + 1
                }
            }
            return .string(out)
        case "isalnum", "isalpha", "isascii", "isdecimal", "isdigit", "isidentifier", "islower", "isnumeric",
            "isprintable", "isspace", "istitle", "isupper":
            try noArgs(name, args)
            return .bool(predicate(str, name))
        default:
            throw TemplateError(.attribute, "'str' object has no attribute '\(name)'")
        }
    }

    static func noArgs(_ name: String, _ args: Arguments) throws(TemplateError) {
        if !args.isEmpty {
            throw TemplateError(.type, "str.\(name)() takes no arguments (\(args.positional.count + args.keywords.count) given)")
        }
    }

    static func predicate(_ str: String, _ name: String) -> Bool {
        let scalars = Array(str.unicodeScalars)
        switch name {
        case "isascii": return scalars.allSatisfy { $0.value < 0x80 }
        case "isprintable": return scalars.allSatisfy(PyText.isPrintable)
        case "islower": return PyStr.isLower(str)
        case "isupper": return PyStr.isUpper(str)
        case "istitle": return PyStr.isTitle(str)
        default: break
        }
        if scalars.isEmpty { return false }
        switch name {
        case "isspace": return scalars.allSatisfy { PyStr.isSpace($0.value) }
        case "isalpha": return scalars.allSatisfy { $0.properties.isAlphabetic && isLetterCategory($0) }
        case "isdecimal": return scalars.allSatisfy { $0.properties.generalCategory == .decimalNumber }
        case "isdigit": return scalars.allSatisfy { $0.properties.numericType == .decimal || $0.properties.numericType == .digit }
        case "isnumeric": return scalars.allSatisfy { $0.properties.numericType != nil }
        case "isalnum":
            return scalars.allSatisfy { isLetterCategory($0) || $0.properties.numericType != nil }
        case "isidentifier":
            guard let f = scalars.first, f == "_" || f.properties.isXIDStart else { return false }
            return scalars.dropFirst().allSatisfy { $0.properties.isXIDContinue }
        default: return false
        }
    }

    static func isLetterCategory(_ c: Unicode.Scalar) -> Bool {
        switch c.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: true
        default: false
        }
    }

    static func format(_ fmt: String, _ args: [Value], _ kwargs: [(String, Value)], markup: Bool, _ s: inout RenderState) throws(TemplateError) -> String {
        var state = s
        defer { s = state }
        return try StrFormat.format(fmt, args: args, kwargs: kwargs, escape: markup, resolve: { (obj: Value, name: String, isAttribute: Bool) throws(TemplateError) -> Value in
            if isAttribute { return try Access.getattr(obj, name, &state) }
            let key: Value = Int(name).map { .int($0) } ?? .string(name)
            return try Access.getitem(obj, key, &state)
        }, limit: state.budget.maxOutputBytes)
    }

    static func markupMethod(_ str: String, _ name: String, _ args: Arguments) throws(TemplateError) -> Value {
        switch name {
        case "striptags": return .string(Filters.striptags(str))
        case "unescape": return .string(Filters.unescapeHTML(str))
        default: return .markup(Markup.escape(str))
        }
    }

    // MARK: dict

    static func dictMethod(_ d: Dict, _ name: String, _ args: Arguments) throws(TemplateError) -> Value {
        switch name {
        case "items":
            try noArgs(name, args)
            return .object(DictView(.items, d))
        case "keys":
            try noArgs(name, args)
            return .object(DictView(.keys, d))
        case "values":
            try noArgs(name, args)
            return .object(DictView(.values, d))
        case "get":
            let a = try bind(name, args, ["key", "default"], required: 1, keywords: false)
            return try d.lookup(a[0]!) ?? (a[1] ?? .none)
        case "copy":
            try noArgs(name, args)
            return .dict(d)
        case "fromkeys":
            let a = try bind(name, args, ["iterable", "value"], required: 1, keywords: false)
            let value = a[1] ?? .none
            return .dict(try Dict(pairs: try Py.iterate(a[0]!).map { ($0, value) }))
        default:
            throw TemplateError(.attribute, "'dict' object has no attribute '\(name)'")
        }
    }

    // MARK: list / tuple

    static func sequenceMethod(_ receiver: Value, _ items: [Value], _ name: String, _ args: Arguments) throws(TemplateError) -> Value {
        let tname = Py.typeName(receiver)
        switch name {
        case "index":
            let a = try bind(name, args, ["value", "start", "stop"], required: 1, keywords: false)
            let (lo, hi, _) = try PyStr.sliceIndices(try boundArg(a[1]), try boundArg(a[2]), 1, items.count)
            if lo < hi {
                for i in lo..<hi where Py.eq(items[i], a[0]!) { return .int(i) }
            }
            throw TemplateError(.value, tname == "list" ? "\((try? PyText.repr(a[0]!)) ?? "value") is not in list" : "tuple.index(x): x not in tuple")
        case "count":
            let a = try bind(name, args, ["value"], required: 1, keywords: false)
            return .int(items.reduce(0) { $0 + (Py.eq($1, a[0]!) ? 1 : 0) })
        case "copy":
            try noArgs(name, args)
            return receiver
        default:
            throw TemplateError(.attribute, "'\(tname)' object has no attribute '\(name)'")
        }
    }
}

private extension String {
    func replacingSharpS() -> String {
        guard unicodeScalars.contains("\u{DF}") else { return self }
        var out = String.UnicodeScalarView()
        for c in unicodeScalars {
            if c == "\u{DF}" { out.append(contentsOf: "ss".unicodeScalars) } else { out.append(c) }
        }
        return String(out)
    }
}
