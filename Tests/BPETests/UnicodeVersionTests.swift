import BPE
import Testing

/// HF tokenizers 0.23.3 uses Unicode 16.0 classes in its Split regex (Oniguruma) and Unicode 9.0 data
/// in its NFC (unicode-normalization-alignments); Swift 6.3 has Unicode 17.0. The library mirrors HF.
/// Expected ids are HF's.
@Suite struct UnicodeVersionTests {
    @Test func scalarsNewInUnicode17AreNotLettersOrNumbers() {
        // U+088F (Lo, 17.0), U+1E6C0 (Lo, 17.0), U+11DE0 (Nd, 17.0).
        #expect(Loaded.llama.encode("a\u{088F}b", parseSpecial: true) == [64, 156, 95, 237, 65])
        #expect(Loaded.llama.encode("x\u{1E6C0}y 12\u{11DE0}", parseSpecial: true)
                == [87, 172, 252, 249, 222, 88, 220, 717, 172, 239, 115, 254])
        #expect(Loaded.qwen.encode("x\u{1E6C0}y 12\u{11DE0}", parseSpecial: true)
                == [87, 172, 252, 249, 222, 88, 220, 16, 17, 128240, 115, 254])
    }

    @Test func combiningMarksAfterUnicode9AreStartersForNFC() {
        // U+1DF6 (ccc 232, Unicode 10.0): HF does not reorder it nor compose "a" + U+0301 across it.
        let s = "a\u{1DF6}\u{301}"
        #expect(Loaded.qwen.encode(s, parseSpecial: true) == [64, 157, 115, 114, 53839])
        #expect(Array(Loaded.qwen.normalize(s).utf8) == Array(s.utf8))
        #expect(Loaded.qwen.decode(Loaded.qwen.encode(s, parseSpecial: true)).unicodeScalars.elementsEqual(s.unicodeScalars))
        // U+3099 (ccc 8) before U+16FF1 (ccc 6, Unicode 13.0): not reordered by HF.
        #expect(Loaded.qwen.encode("\u{3099}\u{16FF1}", parseSpecial: true) == [3402, 247, 125427, 123, 109])
        // U+16D67 U+16D67 composes to U+16D68 in Unicode 16.0; not in HF.
        #expect(Loaded.qwen.encode("\u{16D67}\u{16D67}", parseSpecial: true) == [125427, 113, 100, 125427, 113, 100])
        // Ordinary NFC still applies around them.
        #expect(Loaded.qwen.encode("e\u{301} cafe\u{301}!", parseSpecial: true) == [963, 51950, 0])
    }

    @Test func longSIsFoldedInContractions() {
        // (?i:'s) also matches "'ſ" (U+017F folds to s) in Oniguruma.
        #expect(Loaded.llama.encode("x'\u{17F}a", parseSpecial: true) == [87, 6, 129, 123, 64])
        #expect(Loaded.qwen.encode("x'\u{17F}a", parseSpecial: true) == [87, 6, 144815, 64])
        #expect(Loaded.llama.encode("x'Sa", parseSpecial: true) == [87, 13575, 64])
    }
}
