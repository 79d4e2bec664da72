import BPE
import Testing

/// Golden ids from the upstream reference encoders (Meta's tiktoken tokenizer for Llama 3.1; tiktoken
/// over qwen.tiktoken after NFC for Qwen2.5), 282 cases each (the notes say 283; the files hold 282
/// lines), encoded with special-token parsing on.
@Suite struct ParityTests {
    @Test(arguments: ["llama-3.1", "qwen2.5"])
    func parityCasesMatch(name: String) throws {
        let tokenizer = name == "llama-3.1" ? Loaded.llama : Loaded.qwen
        let cases = try SharedData.parityCases(name)
        #expect(cases.count == 282)
        var mismatches: [String] = []
        for c in cases where tokenizer.encode(c.text, parseSpecial: true) != c.ids {
            mismatches.append(String(c.text.prefix(60)))
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) mismatches, first: \(mismatches.first ?? "")")
    }

    @Test func llamaRoundTripIsIdentity() throws {
        for c in try SharedData.parityCases("llama-3.1") {
            // Compare bytes: String == is canonical equivalence, which would hide a normalization.
            #expect(Array(Loaded.llama.decode(c.ids).utf8) == Array(c.text.utf8))
            #expect(Array(Loaded.llama.decode(Loaded.llama.encode(c.text, parseSpecial: true)).utf8) == Array(c.text.utf8))
        }
    }

    @Test func qwenRoundTripIsNFC() throws {
        // The parity texts are all NFC already; add decomposed ones so NFC really changes something.
        let texts = try SharedData.parityCases("qwen2.5").map(\.text)
            + ["cafe\u{301} Cre\u{300}me bru\u{302}le\u{301}e", "\u{1100}\u{1161}\u{11A8} A\u{30A}ngstro\u{308}m"]
        var changedByNFC = 0
        for text in texts {
            let nfc = Loaded.qwen.normalize(text)
            if !nfc.unicodeScalars.elementsEqual(text.unicodeScalars) { changedByNFC += 1 }
            #expect(Array(Loaded.qwen.decode(Loaded.qwen.encode(text, parseSpecial: true)).utf8) == Array(nfc.utf8))
            #expect(nfc.unicodeScalars.elementsEqual(text.precomposedStringWithCanonicalMappingScalars))
        }
        #expect(changedByNFC >= 2)
    }

    @Test func knownIds() {
        #expect(Loaded.llama.encode("Hello world", parseSpecial: true) == [9906, 1917])
        #expect(Loaded.llama.id(forToken: "<|eot_id|>") == 128009)
        #expect(Loaded.llama.id(forToken: "<|begin_of_text|>") == 128000)
        #expect(Loaded.llama.id(forToken: "<|eom_id|>") == 128008)
        #expect(Loaded.llama.id(forToken: "<|python_tag|>") == 128010)
        #expect(Loaded.llama.encode("<|eot_id|>", parseSpecial: true) == [128009])
        #expect(Loaded.llama.token(forId: 1917) == "Ġworld")
        #expect(Loaded.llama.vocabSize == 128_256)
        #expect(Loaded.llama.modelVocabSize == 128_000)
        #expect(Loaded.llama.specialTokenIds.count == 256)

        #expect(Loaded.qwen.encode("Hello world", parseSpecial: true) == [9707, 1879])
        #expect(Loaded.qwen.id(forToken: "<|im_end|>") == 151645)
        #expect(Loaded.qwen.id(forToken: "<|im_start|>") == 151644)
        #expect(Loaded.qwen.id(forToken: "<|endoftext|>") == 151643)
        #expect(Loaded.qwen.id(forToken: "<tool_call>") == 151657)
        #expect(Loaded.qwen.vocabSize == 151_665)
        #expect(Loaded.qwen.isSpecial(151645))
        #expect(!Loaded.qwen.isSpecial(151657))
    }

    /// Values from HF tokenizers 0.23.3.
    @Test func specialTokenParsingOnAndOff() {
        let text = "<|eot_id|><|im_end|><tool_call>"
        #expect(Loaded.llama.encode(text, parseSpecial: true) == [128009, 27, 91, 318, 6345, 91, 1822, 14506, 13735, 29])
        #expect(Loaded.llama.encode("<|eot_id|>", parseSpecial: false) == [27, 91, 68, 354, 851, 91, 29])
        #expect(Loaded.qwen.encode(text, parseSpecial: true) == [27, 91, 68, 354, 842, 91, 29, 151645, 151657])
        // Non-special added tokens (<tool_call>) are split out even when special tokens are not parsed.
        #expect(Loaded.qwen.encode("<|im_end|><tool_call>", parseSpecial: false) == [27, 91, 318, 6213, 91, 29, 151657])
    }

    @Test func addSpecialTokensAppliesTemplate() {
        #expect(Loaded.llama.encode("hi", parseSpecial: true, addSpecialTokens: true) == [128000, 6151])
        #expect(Loaded.qwen.encode("hi", parseSpecial: true, addSpecialTokens: true) == [6023])
    }

    @Test func decodeSkipsOnlySpecialTokens() {
        #expect(Loaded.qwen.decode([151657, 151645, 9707], skipSpecial: true) == "<tool_call>Hello")
        #expect(Loaded.qwen.decode([151657, 151645, 9707], skipSpecial: false) == "<tool_call><|im_end|>Hello")
        #expect(Loaded.llama.decode([128000, 9906, 1917, 128009], skipSpecial: true) == "Hello world")
        #expect(Loaded.llama.decode([9906, 999_999, -1]) == "Hello")
    }

    /// Llama 3 needs `ignore_merges`: these words are vocabulary tokens that merges cannot reach.
    @Test func ignoreMergesWholeWordLookup() throws {
        let llama = Loaded.llama
        for word in ["ĠViá»ĩc", "Ġsoubor"] {
            let id = try #require(llama.id(forToken: word))
            let text = String(decoding: try #require(llama.tokenBytes(forId: id)), as: UTF8.self)
            #expect(llama.encode(text, parseSpecial: true) == [id])
        }
    }
}

extension String {
    /// Foundation's NFC, as an independent check of `Tokenizer.normalize` on the parity texts.
    var precomposedStringWithCanonicalMappingScalars: String.UnicodeScalarView {
        (self as NSString).precomposedStringWithCanonicalMapping.unicodeScalars
    }
}

import Foundation
