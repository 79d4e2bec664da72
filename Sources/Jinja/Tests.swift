// The test registry: jinja2's builtin tests (`x is defined`, `x is string`, `x is divisibleby 3`, ...).

enum Tests {
    static let table: [String: TestFunction] = [
        "odd": odd, "even": even, "divisibleby": divisibleby, "defined": defined, "undefined": undefined,
        "filter": filter, "test": test, "none": none, "boolean": boolean, "false": isFalse, "true": isTrue,
        "integer": integer, "float": float, "lower": lower, "upper": upper, "string": string, "mapping": mapping,
        "number": number, "sequence": sequence, "iterable": iterable, "callable": callable, "sameas": sameas,
        "escaped": escaped, "in": isIn,
        "==": eq, "eq": eq, "equalto": eq, "!=": ne, "ne": ne,
        ">": gt, "gt": gt, "greaterthan": gt, ">=": ge, "ge": ge,
        "<": lt, "lt": lt, "lessthan": lt, "<=": le, "le": le,
    ]

    static func one(_ name: String, _ a: Arguments) throws(TemplateError) -> Value {
        let p = try Methods.bind(name, a, ["other"], required: 1)
        return p[0]!
    }

    static func noArgs(_ name: String, _ a: Arguments) throws(TemplateError) {
        _ = try Methods.bind(name, a, [])
    }

    static func odd(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Bool {
        try noArgs("test_odd", a)
        return Py.eq(try Py.mod(v, .int(2), limit: s.budget.maxOutputBytes), .int(1))
    }

    static func even(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Bool {
        try noArgs("test_even", a)
        return Py.eq(try Py.mod(v, .int(2), limit: s.budget.maxOutputBytes), .int(0))
    }

    static func divisibleby(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Bool {
        let n = try Methods.bind("test_divisibleby", a, ["num"], required: 1)[0]!
        return Py.eq(try Py.mod(v, n, limit: s.budget.maxOutputBytes), .int(0))
    }

    static func defined(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Bool {
        try noArgs("test_defined", a)
        return !v.isUndefined
    }

    static func undefined(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Bool {
        try noArgs("test_undefined", a)
        return v.isUndefined
    }

    static func filter(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Bool {
        try noArgs("test_filter", a)
        guard let n = v.stringValue else { return false }
        return Filters.table[n] != nil || Filters.unsupported.contains(n)
    }

    static func test(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Bool {
        try noArgs("test_test", a)
        guard let n = v.stringValue else { return false }
        return table[n] != nil
    }

    static func none(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Bool {
        try noArgs("test_none", a)
        return v.isNone
    }

    static func boolean(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Bool {
        try noArgs("test_boolean", a)
        if case .bool = v { return true }
        return false
    }

    static func isFalse(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Bool {
        try noArgs("test_false", a)
        if case .bool(false) = v { return true }
        return false
    }

    static func isTrue(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Bool {
        try noArgs("test_true", a)
        if case .bool(true) = v { return true }
        return false
    }

    static func integer(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Bool {
        try noArgs("test_integer", a)
        if case .int = v { return true }
        return false
    }

    static func float(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Bool {
        try noArgs("test_float", a)
        if case .float = v { return true }
        return false
    }

    static func lower(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Bool {
        try noArgs("test_lower", a)
        return PyStr.isLower(try PyText.str(v))
    }

    static func upper(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Bool {
        try noArgs("test_upper", a)
        return PyStr.isUpper(try PyText.str(v))
    }

    static func string(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Bool {
        try noArgs("test_string", a)
        return v.stringValue != nil
    }

    static func mapping(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Bool {
        try noArgs("test_mapping", a)
        if case .dict = v { return true }
        return false
    }

    static func number(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Bool {
        try noArgs("test_number", a)
        switch v {
        case .int, .float, .bool: return true
        default: return false
        }
    }

    static func sequence(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Bool {
        try noArgs("test_sequence", a)
        switch v {
        case .string, .markup, .list, .tuple, .dict, .undefined: return true
        case .object(let o): return o.length() != nil && (o is RangeObject || o is GroupTuple)
        default: return false
        }
    }

    static func iterable(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Bool {
        try noArgs("test_iterable", a)
        if case .object(let o) = v { return o is LoopObject || o.isIterable }
        return Py.isIterable(v)
    }

    static func callable(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Bool {
        try noArgs("callable", a)
        switch v {
        case .object(let o): return o.isCallable
        case .undefined: return true
        default: return false
        }
    }

    static func sameas(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Bool {
        let other = try Methods.bind("test_sameas", a, ["other"], required: 1)[0]!
        switch (v, other) {
        case (.none, .none): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.undefined, .undefined): return false
        case (.namespace(let x), .namespace(let y)): return x === y
        case (.object(let x), .object(let y)): return x === y
        case (.dict(let x), .dict(let y)): return x === y
        case (.int(let x), .int(let y)): return x == y && x >= -5 && x <= 256
        default: return false
        }
    }

    static func escaped(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Bool {
        try noArgs("test_escaped", a)
        if case .markup = v { return true }
        return false
    }

    static func isIn(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Bool {
        let seq = try Methods.bind("test_in", a, ["seq"], required: 1)[0]!
        return try Py.contains(seq, v)
    }

    static func eq(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Bool {
        Py.eq(v, try one("eq", a))
    }

    static func ne(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Bool {
        !Py.eq(v, try one("ne", a))
    }

    static func gt(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Bool {
        try Py.compare(v, .gt, try one("gt", a))
    }

    static func ge(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Bool {
        try Py.compare(v, .ge, try one("ge", a))
    }

    static func lt(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Bool {
        try Py.compare(v, .lt, try one("lt", a))
    }

    static func le(_ s: inout RenderState, _ v: Value, _ a: Arguments) throws(TemplateError) -> Bool {
        try Py.compare(v, .le, try one("le", a))
    }
}
