import BPE
import Testing

/// Expected ids come from HF tokenizers 0.23.3 on the same fixture (tools/bpe/make_fixture.py).
@Suite struct AddedTokenTests {
    let t = Loaded.fixture

    @Test func mergesAndPlainText() {
        #expect(t.encode("hello world", parseSpecial: true) == [259, 264])
    }

    @Test func specialTokenParsedOnlyWhenAsked() {
        #expect(t.encode("hello<|special|>world", parseSpecial: true) == [259, 268, 119, 261, 108, 100])
        #expect(t.encode("hello<|special|>world", parseSpecial: false)
                == [259, 60, 124, 115, 112, 101, 99, 105, 97, 108, 124, 62, 119, 261, 108, 100])
    }

    @Test func rstripSwallowsFollowingWhitespace() {
        let e = t.encodeWithOffsets("a <rs>   b", parseSpecial: true)
        #expect(e.ids == [97, 32, 269, 98])
        #expect(e.offsets == [0..<1, 1..<2, 2..<9, 9..<10])
        // <rs> is not special: still split out with parseSpecial false.
        #expect(t.encode("a <rs>   b", parseSpecial: false) == [97, 32, 269, 98])
    }

    @Test func lstripSwallowsPrecedingWhitespace() {
        let e = t.encodeWithOffsets("a   <ls> b", parseSpecial: true)
        #expect(e.ids == [97, 270, 32, 98])
        #expect(e.offsets == [0..<1, 1..<8, 8..<9, 9..<10])
        #expect(t.encode("a   <ls> b", parseSpecial: false) == [97, 32, 32, 32, 60, 108, 115, 62, 32, 98])
    }

    @Test func lstripAndRstrip() {
        let e = t.encodeWithOffsets("a  <both>  b", parseSpecial: true)
        #expect(e.ids == [97, 273, 98])
        #expect(e.offsets == [0..<1, 1..<11, 11..<12])
        #expect(t.encode("<both><rs> <ls>", parseSpecial: true) == [273, 269, 270])
        #expect(t.encode("<both><rs> <ls>", parseSpecial: false) == [60, 98, 111, 116, 104, 62, 269, 60, 108, 115, 62])
        #expect(t.encode("hello <|special|><ls><rs>", parseSpecial: true) == [259, 32, 268, 270, 269])
    }

    @Test func singleWordNeedsWordBoundaries() {
        #expect(t.encode("x [word] y", parseSpecial: true) == [120, 32, 271, 32, 121])
        #expect(t.encode("x[word]y", parseSpecial: true) == [120, 91, 119, 261, 100, 93, 121])
        #expect(t.encode("_[word]", parseSpecial: true) == [95, 91, 119, 261, 100, 93])
        #expect(t.encode("1[word]", parseSpecial: true) == [49, 91, 119, 261, 100, 93])
        #expect(t.encode("é[word]", parseSpecial: true) == [267, 91, 119, 261, 100, 93])
    }

    @Test func normalizedAddedTokenMatchesAfterNFC() {
        // "cafe\u{301}" is NFC'd to "café", which is the normalized added token 272.
        let e = t.encodeWithOffsets("cafe\u{301} caf\u{e9}", parseSpecial: true)
        #expect(e.ids == [272, 32, 272])
        #expect(e.normalizedText == Array("caf\u{e9} caf\u{e9}".utf8))
        #expect(e.normalizedOffsets == [0..<5, 5..<6, 6..<11])
        // In the original text the first token covers the whole decomposed "cafe\u{301}".
        #expect(e.offsets == [0..<6, 6..<7, 7..<12])
    }

    @Test func emptyText() {
        #expect(t.encode("", parseSpecial: true).isEmpty)
        #expect(t.encodeWithOffsets("", parseSpecial: true).offsets.isEmpty)
    }

    @Test func templateAddsSpecialTokens() {
        #expect(t.encode("hello", parseSpecial: true, addSpecialTokens: true) == [268, 259, 270])
        let e = t.encodeWithOffsets("hello", parseSpecial: true, addSpecialTokens: true)
        #expect(e.offsets == [0..<0, 0..<5, 0..<0])
    }

    @Test func decodeLikeHF() {
        // Added-token content goes through the ByteLevel decoder, as in HF: "é" (U+00E9) is byte 0xE9.
        #expect(t.decode([268, 259, 269, 270, 272, 271, 273]) == "<|special|>hello<rs><ls>caf\u{FFFD}[word]<both>")
        #expect(t.decode([268, 259, 269, 270, 272, 271, 273], skipSpecial: true) == "hello<rs>caf\u{FFFD}[word]")
        #expect(t.decode([195, 169, 32, 169]) == "é \u{FFFD}")
        #expect(t.decode([5000, 104]) == "h")
    }

    @Test func lookups() {
        #expect(t.id(forToken: "<rs>") == 269)
        #expect(t.token(forId: 264) == "Ġworld")
        #expect(t.addedTokens.map(\.id) == [268, 269, 270, 271, 272, 273])
        #expect(t.specialTokenIds == [268, 270, 273])
        #expect(t.vocabSize == 274)
        #expect(t.tokenBytes(forId: 264) == Array(" world".utf8))
        #expect(t.token(forId: 9999) == nil)
    }

    @Test func mergesAsPairsLoadTheSame() throws {
        // The newer ["a", "b"] form of merges must give the same tokenizer as "a b".
        var json = Fixture.tokenizerJSON
        let start = json.range(of: "\"merges\": [")!.upperBound
        let end = json[start...].range(of: "]")!.lowerBound
        let pairs = json[start..<end].split(separator: ",").map { item -> String in
            let inner = item.trimmingCharacters(in: .whitespaces).dropFirst().dropLast()
            let parts = inner.split(separator: " ", maxSplits: 1)
            return "[\"\(parts[0])\", \"\(parts[1])\"]"
        }
        json.replaceSubrange(start..<end, with: pairs.joined(separator: ", "))
        let t2 = try Tokenizer(tokenizerJSON: Array(json.utf8))
        for text in ["hello world", "cafe\u{301}", "hello <|special|> world"] {
            #expect(t2.encode(text, parseSpecial: true) == t.encode(text, parseSpecial: true))
        }
    }
}

import Foundation
