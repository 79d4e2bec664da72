import BPE
import Foundation
import Testing

@Suite struct TiktokenTests {
    /// A tiny rank file of our own: the 256 bytes, then "ab" (256), "cd" (257), "abcd" (258), "bc" (259).
    static func tinyRankFile() -> String {
        var lines: [String] = (0..<256).map { "\(Data([UInt8($0)]).base64EncodedString()) \($0)" }
        for (i, t) in ["ab", "cd", "abcd", "bc"].enumerated() {
            lines.append("\(Data(t.utf8).base64EncodedString()) \(256 + i)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    @Test func tinyRankFileMergesByRank() throws {
        let t = try Tokenizer(tiktokenRanks: Array(Self.tinyRankFile().utf8),
                              specialTokens: [("<|end|>", 260)], pattern: .llama3)
        // "abcd" is a whole token (whole-word lookup first).
        #expect(t.encode("abcd", parseSpecial: true) == [258])
        // "abcda": ab (256) and cd (257) merge first, then ab+cd -> abcd (258); "bc" (259) never wins.
        #expect(t.encode("abcda", parseSpecial: true) == [258, 97])
        // "bcd": bc (259) vs cd (257): cd has the lower rank.
        #expect(t.encode("bcd", parseSpecial: true) == [98, 257])
        #expect(t.encode("x<|end|>", parseSpecial: true) == [120, 260])
        #expect(t.encode("<|end|>", parseSpecial: false) == [60, 124, 101, 110, 100, 124, 62])
        #expect(t.decode([258, 260, 97]) == "abcd<|end|>a")
        #expect(t.decode([258, 260, 97], skipSpecial: true) == "abcda")
        #expect(t.vocabSize == 261)
        #expect(t.token(forId: 32) == "Ġ")
    }

    @Test func rejectsBadLines() {
        #expect(throws: BPEError.self) {
            try Tokenizer(tiktokenRanks: Array("YWI=\n".utf8), specialTokens: [], pattern: .llama3)
        }
        #expect(throws: BPEError.self) {
            try Tokenizer(tiktokenRanks: Array("@@@ 3\n".utf8), specialTokens: [], pattern: .llama3)
        }
    }

    /// Llama 3's HF vocabulary ids are its tiktoken ranks: a rank file rebuilt from the loaded
    /// tokenizer.json must reproduce the golden parity cases through the tiktoken loader.
    @Test func llamaRanksReproduceParity() throws {
        let llama = Loaded.llama
        var file = ""
        for id in 0..<Int32(llama.modelVocabSize) {
            let bytes = try #require(llama.tokenBytes(forId: id))
            file += "\(Data(bytes).base64EncodedString()) \(id)\n"
        }
        let specials = llama.addedTokens.map { ($0.content, $0.id) }
        let t = try Tokenizer(tiktokenRanks: Array(file.utf8), specialTokens: specials, pattern: .llama3,
                              bosTokens: [128000])
        for c in try SharedData.parityCases("llama-3.1") {
            #expect(t.encode(c.text, parseSpecial: true) == c.ids)
        }
        #expect(t.encode("Hello world", parseSpecial: true, addSpecialTokens: true) == [128000, 9906, 1917])
    }
}
