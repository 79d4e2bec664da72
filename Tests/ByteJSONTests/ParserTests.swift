import Testing
@testable import ByteJSON

@Suite struct ParserTests {
    @Test func keepsKeyOrderAndNumberText() throws {
        let v = try JSON.parse(#"{"b": 1.0, "a": [1, 2.50, -0, 1e5, 12345678901234567890], "c": null}"#)
        #expect(v.serialized() == #"{"b":1.0,"a":[1,2.50,-0,1e5,12345678901234567890],"c":null}"#)
        #expect(v.canonicalString == #"{"a":[1,2.50,-0,1e5,12345678901234567890],"b":1.0,"c":null}"#)
        #expect(v["a"]?.array?[4].number?.int == nil)  // does not fit an Int, text kept
        #expect(v["b"]?.number?.isInteger == false)
    }

    @Test func escapesAndSurrogates() throws {
        let v = try JSON.parse(#""a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00\u0000""#)
        #expect(v.string == "a\"b\\c/d\u{8}\u{c}\n\r\t\u{e9}\u{1F600}\u{0}")
        #expect(v.serialized() == #""a\"b\\c/d\b\f\n\r\té😀\u0000""#)
        #expect(v.serialized(JSONWriter(asciiOnly: true)) == #""a\"b\\c/d\b\f\n\r\t\u00e9\ud83d\ude00\u0000""#)
    }

    @Test func duplicateKeysKeepFirstPositionLastValue() throws {
        let v = try JSON.parse(#"{"a": 1, "b": 2, "\u0061": 3}"#)
        #expect(v.serialized() == #"{"a":3,"b":2}"#)
        // Large objects use a hash index.
        var text = "{"
        for k in 0..<100 { text += "\"k\(k)\": \(k), " }
        text += "\"k7\": \"last\"}"
        let big = try JSON.parse(text)
        #expect(big.object?.count == 100)
        #expect(big["k7"] == .string("last"))
        #expect(big.object?.members[7].key == "k7")
    }

    @Test(arguments: [
        ("", JSONError.Kind.empty, 0),
        ("   ", .empty, 3),
        ("[1, 2", .unexpectedEnd, 5),
        ("{\"a\" 1}", .unexpectedCharacter, 5),
        ("[01]", .unexpectedCharacter, 2),
        ("-", .invalidNumber, 0),
        ("1.", .invalidNumber, 2),
        ("1e+", .invalidNumber, 3),
        ("\"abc", .unexpectedEnd, 0),
        ("\"a\\x\"", .invalidEscape, 2),
        ("\"\\ud800\"", .loneSurrogate, 1),
        ("\"\\udc00\"", .loneSurrogate, 1),
        ("\"a\tb\"", .controlCharacter, 2),
        ("[1] 2", .extraData, 4),
        ("tru", .unexpectedEnd, 3),
        ("nul!", .unexpectedCharacter, 3),
        ("NaN", .unexpectedCharacter, 0),
        ("[1,]", .unexpectedCharacter, 3),
        ("{\"a\":1,}", .unexpectedCharacter, 7),
    ])
    func rejectsMalformedInputWithOffset(text: String, kind: JSONError.Kind, offset: Int) {
        do {
            _ = try JSON.parse(text)
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.kind == kind, "\(text): \(error)")
            #expect(error.offset == offset, "\(text): \(error)")
        }
    }

    @Test func rejectsInvalidUTF8WithOffset() {
        let cases: [([UInt8], Int)] = [
            ([0x22, 0x61, 0xFF, 0x22], 2),  // stray byte
            ([0x22, 0x61, 0x62, 0xC3, 0x22], 3),  // truncated 2-byte sequence
            ([0x22, 0xC0, 0xAF, 0x22], 1),  // overlong
            ([0x22, 0xED, 0xA0, 0x80, 0x22], 1),  // encoded surrogate
            ([0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], 1),  // above U+10FFFF
            (Array("\"0123456789\\n".utf8) + [0xE2, 0x82, 0x22], 13),  // in the escape path
        ]
        for (bytes, offset) in cases {
            do {
                _ = try JSON.parse(bytes)
                Issue.record("accepted invalid UTF-8 \(bytes)")
            } catch {
                #expect(error.kind == .invalidUTF8)
                #expect(error.offset == offset, "\(bytes)")
            }
        }
    }

    @Test func nestingLimit() throws {
        let deep = String(repeating: "[", count: 50) + String(repeating: "]", count: 50)
        #expect(throws: JSONError.self) { try JSON.parse(deep, options: JSONParseOptions(maxDepth: 10)) }
        #expect(try JSON.parse(deep).serialized() == deep)
    }

    @Test func longStringsCrossTheWordScanner() throws {
        for len in 0..<40 {
            let body = String(repeating: "é", count: len) + String(repeating: "x", count: len)
            let v = try JSON.parse("\"" + body + "\\n" + body + "\"")
            #expect(v.string == body + "\n" + body)
        }
    }
}
