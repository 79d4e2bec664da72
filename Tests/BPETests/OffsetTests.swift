import BPE
import Testing

@Suite struct OffsetTests {
    /// Offsets are exact byte ranges that tile the input (no NFC change): the bytes of each token are
    /// exactly the input bytes of its range.
    @Test(arguments: ["llama-3.1", "qwen2.5"])
    func offsetsTileTheInputExactly(name: String) throws {
        let t = name == "llama-3.1" ? Loaded.llama : Loaded.qwen
        for c in try SharedData.parityCases(name) {
            let e = t.encodeWithOffsets(c.text, parseSpecial: true)
            #expect(e.ids == c.ids)
            let text = e.normalizedText ?? Array(c.text.utf8)
            var pos = 0
            for (id, r) in zip(e.ids, e.normalizedOffsets) {
                #expect(r.lowerBound == pos)
                #expect(Array(text[r]) == t.tokenBytes(forId: id)!)
                pos = r.upperBound
            }
            #expect(pos == text.count)
            if e.normalizedText == nil { #expect(e.offsets == e.normalizedOffsets) }
        }
    }

    @Test func multiByteCharactersCanBeCutBetweenTokens() throws {
        // "🦙" is 4 bytes; Llama encodes it as several tokens whose offsets cut inside the character.
        let e = Loaded.llama.encodeWithOffsets("🦙", parseSpecial: true)
        #expect(e.ids.count > 1)
        #expect(e.offsets.first?.lowerBound == 0 && e.offsets.last?.upperBound == 4)
        for k in 1..<e.offsets.count { #expect(e.offsets[k - 1].upperBound == e.offsets[k].lowerBound) }
        #expect(e.ids.map { Loaded.llama.tokenBytes(forId: $0)! }.joined().elementsEqual("🦙".utf8))
    }

    @Test func nfcChangedTextMapsToOriginalSegments() {
        // Qwen: "e\u{301}" (3 bytes) becomes "é" (2 bytes); "x" keeps an exact range after it.
        let text = "Caf" + "e\u{301}" + " x"
        let e = Loaded.qwen.encodeWithOffsets(text, parseSpecial: true)
        #expect(e.normalizedText == Array("Caf\u{e9} x".utf8))
        #expect(e.ids == Loaded.qwen.encode("Caf\u{e9} x", parseSpecial: true))
        #expect(e.offsets.first?.lowerBound == 0)
        #expect(e.offsets.last == 6..<8)   // " x" in the original bytes
        for r in e.offsets { #expect(r.upperBound <= text.utf8.count) }
        // Every original byte is covered by some token.
        var covered = Set<Int>()
        for r in e.offsets { covered.formUnion(r) }
        #expect(covered == Set(0..<text.utf8.count))
    }

    @Test func llamaHasNoNormalizer() {
        let text = "Caf" + "e\u{301}"
        let e = Loaded.llama.encodeWithOffsets(text, parseSpecial: true)
        #expect(e.normalizedText == nil)
        #expect(Array(Loaded.llama.decode(e.ids).utf8) == Array(text.utf8))
    }

    @Test func specialTokenOffsets() {
        let e = Loaded.llama.encodeWithOffsets("a<|eot_id|>b", parseSpecial: true, addSpecialTokens: true)
        #expect(e.ids == [128000, 64, 128009, 65])
        #expect(e.offsets == [0..<0, 0..<1, 1..<11, 11..<12])
    }
}
