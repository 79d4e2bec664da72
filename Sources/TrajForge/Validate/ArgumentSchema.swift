import ByteJSON

// Checks tool-call arguments against the JSON Schema subset that function schemas use: type (also
// unions such as ["string", "null"] and OpenAPI's `nullable`), properties, required, enum, const,
// items / prefixItems, additionalProperties, anyOf / oneOf / allOf, and the numeric, length and
// size bounds. `pattern` and `format` are not checked (they are rare in tool schemas and need a
// regex engine): they never cause a problem.

/// One way a value breaks its schema, at a JSON path such as `items[2].sku`.
public struct SchemaViolation: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case missingRequired = "missing-required-argument"
        case wrongType = "wrong-argument-type"
        case notInEnum = "argument-not-in-enum"
        case unexpectedProperty = "unexpected-argument"
        case noAlternative = "argument-matches-no-alternative"
        case outOfRange = "argument-out-of-range"
    }

    public var kind: Kind
    public var path: String
    public var detail: String
}

public enum ArgumentSchema {
    /// Every violation of `schema` by `value` (empty when valid). `path` prefixes reported paths.
    public static func violations(of value: JSON, against schema: JSON, path: String = "") -> [SchemaViolation] {
        var out: [SchemaViolation] = []
        check(value, schema, path, &out, depth: 0)
        return out
    }

    static func check(_ value: JSON, _ schema: JSON, _ path: String, _ out: inout [SchemaViolation], depth: Int) {
        guard depth < 64, case .object(let s) = schema else { return }  // `true`/`{}`-like schemas accept anything
        let here = path.isEmpty ? "arguments" : path

        // type (a name or a list of names) and OpenAPI's nullable
        var types: [String] = []
        switch s["type"] {
        case .string(let t)?: types = [t]
        case .array(let list)?: types = list.compactMap(\.string)
        default: break
        }
        if !types.isEmpty {
            if s["nullable"] == .bool(true) { types.append("null") }
            if !types.contains(where: { matches(value, type: $0) }) {
                out.append(SchemaViolation(kind: .wrongType, path: here,
                                           detail: "expected \(types.joined(separator: " or ")), found \(describe(value))"))
                return
            }
        }

        if let allowed = s["enum"]?.array, !allowed.contains(where: { jsonEqual($0, value) }) {
            let shown = allowed.prefix(8).map { $0.serialized() }.joined(separator: ", ")
            out.append(SchemaViolation(kind: .notInEnum, path: here, detail: "\(value.serialized()) is not one of [\(shown)\(allowed.count > 8 ? ", …" : "")]"))
        }
        if let constant = s["const"], !jsonEqual(constant, value) {
            out.append(SchemaViolation(kind: .notInEnum, path: here, detail: "\(value.serialized()) is not the constant \(constant.serialized())"))
        }

        switch value {
        case .object(let o):
            let properties = s["properties"]?.object ?? [:]
            for name in s["required"]?.array?.compactMap(\.string) ?? [] where o[name] == nil {
                out.append(SchemaViolation(kind: .missingRequired, path: join(path, name), detail: "required argument \"\(name)\" is missing"))
            }
            for m in o {
                if let sub = properties[m.key] {
                    check(m.value, sub, join(path, m.key), &out, depth: depth + 1)
                } else {
                    switch s["additionalProperties"] {
                    case .bool(false)?:
                        out.append(SchemaViolation(kind: .unexpectedProperty, path: join(path, m.key),
                                                   detail: "\"\(m.key)\" is not a declared argument (additionalProperties is false)"))
                    case .object(let extra)?:
                        check(m.value, .object(extra), join(path, m.key), &out, depth: depth + 1)
                    default: break
                    }
                }
            }
            bound(Double(o.count), s["minProperties"], s["maxProperties"], "properties", here, &out)
        case .array(let items):
            let prefix = s["prefixItems"]?.array ?? (s["items"]?.array ?? [])
            for (k, item) in items.enumerated() {
                if k < prefix.count {
                    check(item, prefix[k], "\(here)[\(k)]", &out, depth: depth + 1)
                } else if case .object? = s["items"] {
                    check(item, s["items"]!, "\(here)[\(k)]", &out, depth: depth + 1)
                }
            }
            bound(Double(items.count), s["minItems"], s["maxItems"], "items", here, &out)
        case .string(let text):
            bound(Double(text.unicodeScalars.count), s["minLength"], s["maxLength"], "characters", here, &out)
        case .number(let n):
            if let x = n.double {
                if let lo = s["minimum"]?.double, x < lo { out.append(SchemaViolation(kind: .outOfRange, path: here, detail: "\(n.text) < minimum \(lo)")) }
                if let hi = s["maximum"]?.double, x > hi { out.append(SchemaViolation(kind: .outOfRange, path: here, detail: "\(n.text) > maximum \(hi)")) }
                if let lo = s["exclusiveMinimum"]?.double, x <= lo { out.append(SchemaViolation(kind: .outOfRange, path: here, detail: "\(n.text) <= exclusiveMinimum \(lo)")) }
                if let hi = s["exclusiveMaximum"]?.double, x >= hi { out.append(SchemaViolation(kind: .outOfRange, path: here, detail: "\(n.text) >= exclusiveMaximum \(hi)")) }
            }
        default: break
        }

        for sub in s["allOf"]?.array ?? [] { check(value, sub, path, &out, depth: depth + 1) }
        if let alternatives = s["anyOf"]?.array ?? s["oneOf"]?.array {
            let fits = alternatives.filter { violations(of: value, against: $0, path: path).isEmpty }.count
            let isOneOf = s["oneOf"] != nil && s["anyOf"] == nil
            if fits == 0 || (isOneOf && fits > 1) {
                out.append(SchemaViolation(kind: .noAlternative, path: here,
                                           detail: fits == 0 ? "\(describe(value)) matches none of the \(alternatives.count) alternatives"
                                               : "\(describe(value)) matches \(fits) oneOf alternatives, not exactly one"))
            }
        }
    }

    static func matches(_ value: JSON, type: String) -> Bool {
        switch (type, value) {
        case ("null", .null), ("boolean", .bool), ("string", .string), ("object", .object), ("array", .array), ("number", .number): true
        case ("integer", .number(let n)):
            // JSON Schema: an integer is a number with no fractional part (1.0 counts).
            n.isInteger || (n.double.map { $0.rounded() == $0 && $0.isFinite } ?? false)
        case ("any", _): true
        default: false
        }
    }

    static func describe(_ v: JSON) -> String {
        switch v {
        case .string(let s): "string \"\(s.prefix(40))\(s.count > 40 ? "…" : "")\""
        case .number(let n): "number \(n.text)"
        case .bool(let b): "boolean \(b)"
        case .null: "null"
        case .array(let a): "array of \(a.count)"
        case .object: "object"
        }
    }

    /// JSON equality with numbers compared by value (1 == 1.0, as JSON Schema's enum does).
    static func jsonEqual(_ a: JSON, _ b: JSON) -> Bool {
        switch (a, b) {
        case (.number(let x), .number(let y)): x.text == y.text || (x.double != nil && x.double == y.double)
        case (.array(let x), .array(let y)): x.count == y.count && zip(x, y).allSatisfy { jsonEqual($0, $1) }
        case (.object(let x), .object(let y)):
            x.count == y.count && x.allSatisfy { m in y[m.key].map { jsonEqual(m.value, $0) } ?? false }
        default: a == b
        }
    }

    static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : path + "." + key }

    static func bound(_ n: Double, _ lo: JSON?, _ hi: JSON?, _ unit: String, _ path: String, _ out: inout [SchemaViolation]) {
        if let lo = lo?.double, n < lo { out.append(SchemaViolation(kind: .outOfRange, path: path, detail: "\(Int(n)) \(unit), fewer than \(Int(lo))")) }
        if let hi = hi?.double, n > hi { out.append(SchemaViolation(kind: .outOfRange, path: path, detail: "\(Int(n)) \(unit), more than \(Int(hi))")) }
    }
}
