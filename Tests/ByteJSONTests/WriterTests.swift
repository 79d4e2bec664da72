import Testing
@testable import ByteJSON

@Suite struct WriterTests {
    @Test func pythonLayouts() throws {
        let v = try JSON.parse(#"{"b": [1, {"x": []}, {}], "a": "é\u001f"}"#)
        #expect(v.serialized(.python) == #"{"b": [1, {"x": []}, {}], "a": "é\u001f"}"#)
        #expect(v.serialized(.pretty) == "{\n  \"b\": [\n    1,\n    {\n      \"x\": []\n    },\n    {}\n  ],\n  \"a\": \"é\\u001f\"\n}")
    }

    @Test func pythonFloatRepr() {
        let cases: [(Double, String)] = [
            (1.0, "1.0"), (0.1, "0.1"), (1e16, "1e+16"), (1e15, "1000000000000000.0"),
            (123456789012345680, "1.2345678901234568e+17"), (0.0001, "0.0001"), (0.00001, "1e-05"),
            (-2.5e-7, "-2.5e-07"), (Double.leastNonzeroMagnitude, "5e-324"), (1.7976931348623157e308, "1.7976931348623157e+308"),
            (0.9299999999999999, "0.9299999999999999"), (100.0, "100.0"), (-0.0, "-0.0"), (12.5, "12.5"),
            (1.5e16, "1.5e+16"), (9999999999999998.0, "9999999999999998.0"),
        ]
        for (x, py) in cases { #expect(PythonFloat.repr(x) == py, "\(x)") }
    }

    @Test func numberValidation() {
        #expect(JSONNumber(validating: "-0.5e+3") != nil)
        #expect(JSONNumber(validating: "01") == nil)
        #expect(JSONNumber(validating: "1.") == nil)
        #expect(JSONNumber(validating: "+1") == nil)
    }
}
