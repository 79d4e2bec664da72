import BPE
import ByteJSON
import Foundation
import Testing
@testable import TrajForge

@Suite struct TokenStatsTests {
    @Test func percentilesAreNearestRank() {
        var h = LengthHistogram()
        for n in 1...100 { h.add(n) }
        #expect(h.percentile(0.5) == 50 && h.percentile(0.9) == 90 && h.percentile(0.99) == 99 && h.max == 100)
        #expect(h.countAbove(95) == 5 && h.sum == 5050 && h.total == 100)
        var one = LengthHistogram()
        one.add(7, count: 3)
        #expect(one.percentile(0.01) == 7 && one.percentile(1) == 7)
        #expect(LengthHistogram().percentile(0.5) == nil)
    }

    @Test func countsSamplesTextsAndTrajectories() throws {
        let tokenizer = try Tokenizer(tokenizerJSONPath: Paths.shared + "/tokenizers/llama-3.1")
        let sample: JSON = ["input_ids": [1, 2, 3, 4], "labels": [-100, -100, 3, 4]]
        #expect(TokenCounter.count(sample, tokenizer: nil)?.total == 4)
        #expect(TokenCounter.count(sample, tokenizer: nil)?.supervised == 2)
        let text: JSON = ["text": "<|begin_of_text|>Hello world"]
        #expect(TokenCounter.count(text, tokenizer: tokenizer)?.total == 3)  // BOS parsed as one token
        #expect(TokenCounter.count(text, tokenizer: nil) == nil)
        let t = cleanTrajectory()
        #expect(TokenCounter.count(t.json, tokenizer: tokenizer)?.total == tokenizer.encode(Filter.measuredText(t), parseSpecial: false).count)
    }

    @Test func tokenizeAndTokensCommands() throws {
        let dir = temporaryFolder()
        let texts = dir + "/texts.jsonl"
        try Data(#"{"text": "Hello world"}\#n{"text": "<|eot_id|>"}\#n{"other": 1}\#n"#.utf8).write(to: URL(fileURLWithPath: texts))
        let r = try CLI.run(["tokenize", "--tokenizer", Paths.shared + "/tokenizers/llama-3.1", texts, "-o", dir + "/ids.jsonl"])
        #expect(r.status == 0)
        #expect(try readJSONL(dir + "/ids.jsonl") == [["ids": [9906, 1917]], ["ids": [128009]]])
        #expect(try readJSONL(dir + "/ids.rejects.jsonl").first?["reason"] == "missing-field")
        let plain = try CLI.run(["tokenize", "--no-special", "--tokenizer", Paths.shared + "/tokenizers/llama-3.1", texts])
        #expect(String(decoding: plain.stdout, as: UTF8.self).split(separator: "\n")[1] != #"{"ids":[128009]}"#)

        let stats = try CLI.run(["tokens", "--tokenizer", Paths.shared + "/tokenizers/llama-3.1", texts, "--cutoff", "1", "--json", dir + "/stats.json"])
        #expect(stats.status == 0)
        let json = try JSON.parse(try readBytes(dir + "/stats.json"))
        #expect(json[texts]?["samples"] == 2 && json[texts]?["over_cutoff"] == 1 && json[texts]?["max"] == 2)
    }
}
