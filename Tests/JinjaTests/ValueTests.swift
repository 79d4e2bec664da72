// The Value type: conversions from JSON, literals, and Python printing.

import ByteJSON
import Jinja
import Testing

@Suite struct ValueTests {
    func render(_ source: String, _ ctx: [String: Value] = [:]) throws -> String {
        try Template(source: source).render(ctx)
    }

    @Test func fromJSONNumbers() throws {
        let j = try JSON.parse(#"{"i": 42, "neg": -7, "f": 1.0, "e": 1e3, "big": 123456789012345678901234567890, "z": -0, "s": "x", "n": null, "b": true, "a": [1, "2"], "o": {"k": "v"}}"#)
        let v = Value(json: j)
        #expect(try render("{{ v.i }} {{ v.neg }} {{ v.f }} {{ v.e }} {{ v.z }}", ["v": v]) == "42 -7 1.0 1000.0 0")
        #expect(try render("{{ v.i is integer }} {{ v.f is float }} {{ v.big is float }}", ["v": v]) == "True True True")
        #expect(try render("{{ v.big }}", ["v": v]) == "1.2345678901234568e+29")
        #expect(try render("{{ v.s }} {{ v.n }} {{ v.b }} {{ v.a }} {{ v.o }}", ["v": v]) == "x None True [1, '2'] {'k': 'v'}")
    }

    @Test func fromJSONKeepsKeyOrder() throws {
        let j = try JSON.parse(#"{"z": 1, "a": 2, "m": {"y": 1, "b": 2}}"#)
        #expect(try render("{{ v }} {{ v|tojson }}", ["v": Value(json: j)]) == #"{'z': 1, 'a': 2, 'm': {'y': 1, 'b': 2}} {"z": 1, "a": 2, "m": {"y": 1, "b": 2}}"#)
        var wide = JSONObject()
        for i in 0..<40 { wide["k\(i)"] = .number(JSONNumber(i)) }
        let v = Value(json: .object(wide))
        #expect(try render("{{ v.k39 }} {{ v['k0'] }} {{ v|length }} {{ (v|list)[:3] }}", ["v": v]) == "39 0 40 ['k0', 'k1', 'k2']")
    }

    @Test func literals() throws {
        let v: Value = ["s", 1, 2.5, true, nil, ["k": "v"]]
        #expect(try render("{{ v }}", ["v": v]) == "['s', 1, 2.5, True, None, {'k': 'v'}]")
        #expect(try render("{{ x }}", ["x": Value.none]) == "None")
    }

    @Test(arguments: [
        (1.0, "1.0"), (0.1, "0.1"), (1e16, "1e+16"), (1e15, "1000000000000000.0"), (123456789012345678.0, "1.2345678901234568e+17"),
        (1e-4, "0.0001"), (1e-5, "1e-05"), (0.30000000000000004, "0.30000000000000004"), (-0.0, "-0.0"),
        (Double.leastNonzeroMagnitude, "5e-324"), (1.7976931348623157e308, "1.7976931348623157e+308"), (2.5e-10, "2.5e-10"),
        (100.0, "100.0"), (1234.5678, "1234.5678"), (9999999999999998.0, "9999999999999998.0"), (Double.infinity, "inf"),
    ])
    func floatsPrintLikePython(_ x: Double, _ expected: String) throws {
        #expect(try render("{{ x }}", ["x": .float(x)]) == expected)
    }

    @Test func stringsReprLikePython() throws {
        #expect(try render("{{ v }}", ["v": ["it's", "say \"hi\"", "both ' \"", "a\\b", "tab\t", "\u{7}", "é", "\u{200B}"]])
            == #"["it's", 'say "hi"', 'both \' "', 'a\\b', 'tab\t', '\x07', 'é', '\u200b']"#)
    }

    @Test func stringComparisonIsByCodePoint() throws {
        // Canonically equivalent but different code points: Python says different (Swift's == says equal).
        let composed = "\u{E9}", decomposed = "e\u{301}"
        #expect(try render("{{ a == b }} {{ a in [b] }} {{ {a: 1}[b] is defined }}", ["a": .string(composed), "b": .string(decomposed)]) == "False False False")
    }
}
