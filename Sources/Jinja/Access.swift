// Attribute and item access as jinja2's SandboxedEnvironment does it:
// `obj.name` tries Python's getattr first (so `d.items` is the method), then `obj['name']`;
// `obj[key]` tries the item first, then (for string keys) the attribute. A miss is Undefined.
// Underscore-dunder attributes and methods that mutate lists/dicts are refused (SecurityError when
// the resulting undefined is used), as in ImmutableSandboxedEnvironment.

enum Access {
    static let dictAttributes: Set<String> = [
        "items", "keys", "values", "get", "copy", "fromkeys",
        "clear", "pop", "popitem", "setdefault", "update",
    ]
    static let unsafeDictMethods: Set<String> = ["clear", "pop", "popitem", "setdefault", "update"]
    static let unsafeListMethods: Set<String> = ["append", "clear", "pop", "reverse", "insert", "sort", "extend", "remove"]

    /// Whether `some_dict.name` resolves to a dict attribute rather than the key.
    static func isDictAttribute(_ name: String) -> Bool {
        dictAttributes.contains(name) || isDunder(name)
    }

    static func isDunder(_ name: String) -> Bool {
        name.utf8.count > 4 && name.hasPrefix("__") && name.hasSuffix("__")
    }

    static func unsafe(_ obj: Value, _ name: String) -> Value {
        .undefined(UndefinedInfo(message: "access to attribute '\(name)' of '\(Py.typeName(obj))' object is unsafe.", isSecurity: true))
    }

    /// Python's getattr(obj, name) for the types templates see; nil when there is no attribute.
    static func pythonAttribute(_ obj: Value, _ name: String, _ s: inout RenderState) throws(TemplateError) -> Value? {
        switch obj {
        case .dict:
            if unsafeDictMethods.contains(name) { return unsafe(obj, name) }
        case .list:
            if unsafeListMethods.contains(name) { return unsafe(obj, name) }
        case .namespace(let ns):
            if name == "__class__" { return unsafe(obj, name) }
            return ns[name]
        case .object(let o):
            if let v = try o.attribute(name, &s) { return v }
        case .int, .bool:
            let i: Int = { if case .int(let v) = obj { return v }; if case .bool(let b) = obj { return b ? 1 : 0 }; return 0 }()
            switch name {
            case "real", "numerator": return .int(i)
            case "imag": return .int(0)
            case "denominator": return .int(1)
            default: break
            }
        case .float(let d):
            switch name {
            case "real": return .float(d)
            case "imag": return .float(0)
            default: break
            }
        default:
            break
        }
        if Methods.exists(obj, name) { return .object(BoundMethod(receiver: obj, name: name)) }
        if isDunder(name) {
            if case .undefined = obj { return nil }
            return unsafe(obj, name)
        }
        return nil
    }

    /// `obj.name` in a template.
    static func getattr(_ obj: Value, _ name: String, _ s: inout RenderState) throws(TemplateError) -> Value {
        if case .undefined(let info) = obj { throw Py.undefinedError(info) }
        if let v = try pythonAttribute(obj, name, &s) { return v }
        if case .dict(let d) = obj, let v = d[string: name] { return v }
        return .undefined(nil)
    }

    /// `obj[key]` in a template.
    static func getitem(_ obj: Value, _ key: Value, _ s: inout RenderState) throws(TemplateError) -> Value {
        switch obj {
        case .undefined(let info):
            throw Py.undefinedError(info)
        case .dict(let d):
            if let v = (try? d.lookup(key)) ?? nil { return v }
        case .list(let items), .tuple(let items):
            if let i = intIndex(key) {
                if let j = PyStr.normalizeIndex(i, items.count) { return items[j] }
                return .undefined(nil)
            }
        case .string(let str), .markup(let str):
            if let i = intIndex(key) {
                let scalars = str.unicodeScalars
                let n = PyStr.length(str)
                if let j = PyStr.normalizeIndex(i, n) {
                    let c = String(scalars[scalars.index(scalars.startIndex, offsetBy: j)])
                    if case .markup = obj { return .markup(c) }
                    return .string(c)
                }
                return .undefined(nil)
            }
        case .object(let o):
            if let v = try o.item(key, &s) { return v }
        default:
            break
        }
        if case .string(let name) = key, let v = try pythonAttribute(obj, name, &s) { return v }
        return .undefined(nil)
    }

    @inline(__always)
    static func intIndex(_ key: Value) -> Int? {
        switch key {
        case .int(let i): i
        case .bool(let b): b ? 1 : 0
        default: nil
        }
    }

    /// `obj[a:b:c]`. jinja compiles slices to plain Python subscripts (bypassing the sandbox's
    /// getitem), so failures raise instead of giving Undefined.
    static func slice(_ obj: Value, _ a: Value, _ b: Value, _ c: Value) throws(TemplateError) -> Value {
        if case .undefined(let info) = obj { throw Py.undefinedError(info) }
        switch obj {
        case .list, .tuple, .string, .markup: break
        case .object(let o) where o is RangeObject: break
        case .dict: throw TemplateError(.type, "unhashable type: 'slice'")
        default: throw TemplateError(.type, "'\(Py.typeName(obj))' object is not subscriptable")
        }
        func bound(_ v: Value) throws(TemplateError) -> Int? {
            switch v {
            case .none: return nil
            case .int(let i): return i
            case .bool(let b): return b ? 1 : 0
            case .undefined(let info): throw Py.undefinedError(info)
            default: throw TemplateError(.type, "slice indices must be integers or None or have an __index__ method")
            }
        }
        let start = try bound(a), stop = try bound(b), step = try bound(c)
        switch obj {
        case .list(let items) where step == nil || step == 1:
            let (lo, hi, _) = try PyStr.sliceIndices(start, stop, 1, items.count)
            return .list(lo < hi ? Array(items[lo..<hi]) : [])
        case .list(let items), .tuple(let items):
            let positions = try PyStr.slicePositions(start, stop, step, items.count)
            var out: [Value] = []
            out.reserveCapacity(positions.count)
            for p in positions { out.append(items[p]) }
            if case .tuple = obj { return .tuple(out) }
            return .list(out)
        case .string(let str), .markup(let str):
            let r: String
            if step == nil || step == 1 {
                // Fast path on byte offsets.
                let n = PyStr.length(str)
                let (lo, hi, _) = try PyStr.sliceIndices(start, stop, 1, n)
                if lo >= hi {
                    r = ""
                } else if n == str.utf8.count {
                    let u = Array(str.utf8)
                    r = String(decoding: u[lo..<hi], as: UTF8.self)
                } else {
                    let scalars = Array(str.unicodeScalars)
                    r = PyStr.string(scalars[lo..<hi])
                }
            } else {
                let scalars = Array(str.unicodeScalars)
                let positions = try PyStr.slicePositions(start, stop, step, scalars.count)
                r = PyStr.string(positions.map { scalars[$0] })
            }
            if case .markup = obj { return .markup(r) }
            return .string(r)
        case .object(let o):
            if let v = try o.slice(start, stop, step) { return v }
            return .undefined(nil)
        default:
            return .undefined(nil)
        }
    }

    /// `f(args)`.
    static func call(_ f: Value, _ args: Arguments, _ s: inout RenderState) throws(TemplateError) -> Value {
        switch f {
        case .object(let o) where o.isCallable:
            return try o.call(args, &s)
        case .undefined(let info):
            throw Py.undefinedError(info)
        default:
            throw TemplateError(.type, "'\(Py.typeName(f))' object is not callable")
        }
    }
}
