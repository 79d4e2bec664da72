// Global functions a template can call: jinja2's defaults in the sandbox (`range`, `dict`,
// `namespace`, `cycler`, `joiner`) and the ones transformers adds (`raise_exception`,
// `strftime_now`).

enum Globals {
    static let table: [String: Value] = [
        "range": .object(BuiltinFunction("range", range)),
        "dict": .object(BuiltinFunction("dict", attributes: ["fromkeys": .object(BuiltinFunction("fromkeys", fromkeys))], dict)),
        "namespace": .object(BuiltinFunction("namespace", namespace)),
        "cycler": .object(BuiltinFunction("cycler", cycler)),
        "joiner": .object(BuiltinFunction("joiner", joiner)),
        "lipsum": .object(BuiltinFunction("lipsum", lipsum)),
        "raise_exception": .object(BuiltinFunction("raise_exception", raiseException)),
        "strftime_now": .object(BuiltinFunction("strftime_now", strftimeNow)),
    ]

    @Sendable static func range(_ a: Arguments, _ s: inout RenderState) throws(TemplateError) -> Value {
        if !a.keywords.isEmpty { throw TemplateError(.type, "range() takes no keyword arguments") }
        let n = a.positional.count
        guard n >= 1 && n <= 3 else {
            throw TemplateError(.type, n == 0 ? "range expected at least 1 argument, got 0" : "range expected at most 3 arguments, got \(n)")
        }
        var ints: [Int] = []
        for v in a.positional { ints.append(try Methods.intArg(v)) }
        let start = n == 1 ? 0 : ints[0]
        let stop = n == 1 ? ints[0] : ints[1]
        let step = n == 3 ? ints[2] : 1
        if step == 0 { throw TemplateError(.value, "range() arg 3 must not be zero") }
        let r = RangeObject(start: start, stop: stop, step: step)
        if r.count > RangeObject.maxRange {
            throw TemplateError(.arithmetic, "Range too big. The sandbox blocks ranges larger than MAX_RANGE (\(RangeObject.maxRange)).")
        }
        return .object(r)
    }

    /// `dict(mapping_or_pairs, **kwargs)`.
    static func makePairs(_ a: Arguments, _ fname: String) throws(TemplateError) -> [(Value, Value)] {
        if a.positional.count > 1 {
            throw TemplateError(.type, "\(fname) expected at most 1 argument, got \(a.positional.count)")
        }
        var pairs: [(Value, Value)] = []
        if let first = a.positional.first {
            switch first {
            case .dict(let d): pairs = Array(d.pairs)
            case .namespace(let ns): pairs = zip(ns.names.map { Value.string($0) }, ns.values).map { ($0, $1) }
            default:
                let items: [Value]
                do { items = try Py.iterate(first) } catch {
                    throw TemplateError(.type, "'\(Py.typeName(first))' object is not iterable")
                }
                for (i, item) in items.enumerated() {
                    guard Py.isIterable(item) else {
                        throw TemplateError(.type, "cannot convert dictionary update sequence element #\(i) to a sequence")
                    }
                    let kv = try Py.iterate(item)
                    guard kv.count == 2 else {
                        throw TemplateError(.value, "dictionary update sequence element #\(i) has length \(kv.count); 2 is required")
                    }
                    pairs.append((kv[0], kv[1]))
                }
            }
        }
        for (k, v) in a.keywords { pairs.append((.string(k), v)) }
        return pairs
    }

    @Sendable static func dict(_ a: Arguments, _ s: inout RenderState) throws(TemplateError) -> Value {
        .dict(try Dict(pairs: try makePairs(a, "dict")))
    }

    @Sendable static func fromkeys(_ a: Arguments, _ s: inout RenderState) throws(TemplateError) -> Value {
        let p = try Methods.bind("fromkeys", a, ["iterable", "value"], required: 1, keywords: false)
        let value = p[1] ?? .none
        return .dict(try Dict(pairs: try Py.iterate(p[0]!).map { ($0, value) }))
    }

    @Sendable static func namespace(_ a: Arguments, _ s: inout RenderState) throws(TemplateError) -> Value {
        let d = try Dict(pairs: try makePairs(a, "dict"))
        let ns = Namespace()
        for (k, v) in d.pairs {
            if let name = k.stringValue, name.hasPrefix("_") {
                throw TemplateError(.security, "Chat templates cannot store underscore-prefixed attributes on a namespace, but got '\(name)'. Please rename the attribute.")
            }
            guard let name = k.stringValue else { throw TemplateError(.type, "namespace attribute names must be strings") }
            ns.set(name, v)
        }
        s.cyclic.append(ns)
        return .namespace(ns)
    }

    @Sendable static func cycler(_ a: Arguments, _ s: inout RenderState) throws(TemplateError) -> Value {
        if !a.keywords.isEmpty { throw TemplateError(.type, "Cycler.__init__() got an unexpected keyword argument '\(a.keywords[0].0)'") }
        if a.positional.isEmpty { throw TemplateError(.runtime, "at least one item has to be provided") }
        return .object(CyclerObject(items: a.positional))
    }

    @Sendable static func joiner(_ a: Arguments, _ s: inout RenderState) throws(TemplateError) -> Value {
        let p = try Methods.bind("Joiner.__init__", a, ["sep"])
        return .object(JoinerObject(separator: p[0] ?? .string(", ")))
    }

    @Sendable static func lipsum(_ a: Arguments, _ s: inout RenderState) throws(TemplateError) -> Value {
        throw TemplateError(.unsupported, "lipsum() produces random text and is not supported")
    }

    @Sendable static func raiseException(_ a: Arguments, _ s: inout RenderState) throws(TemplateError) -> Value {
        let p = try Methods.bind("raise_exception", a, ["message"], required: 1)
        throw TemplateError(.raised, try PyText.str(p[0]!))
    }

    @Sendable static func strftimeNow(_ a: Arguments, _ s: inout RenderState) throws(TemplateError) -> Value {
        let p = try Methods.bind("strftime_now", a, ["format"], required: 1)
        guard let fmt = p[0]!.stringValue else {
            throw TemplateError(.type, "strftime() argument 1 must be str, not \(Py.typeName(p[0]!))")
        }
        return .string(Strftime.format(fmt, s.clock()))
    }
}
