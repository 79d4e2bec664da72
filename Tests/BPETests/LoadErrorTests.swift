import BPE
import Testing

/// Unsupported components must fail at load time, naming the component.
@Suite struct LoadErrorTests {
    func component(_ bytes: [UInt8]) -> String? {
        do {
            _ = try Tokenizer(tokenizerJSON: bytes)
            return nil
        } catch BPEError.unsupported(let component, _) {
            return component
        } catch {
            return "other error: \(error)"
        }
    }

    @Test func unsupportedNormalizer() {
        #expect(component(Fixture.replacing(#""normalizer": {"type": "NFC"}"#, with: #""normalizer": {"type": "NFKC"}"#))
                == "normalizer")
        #expect(component(Fixture.replacing(#""normalizer": {"type": "NFC"}"#,
                                            with: #""normalizer": {"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "Lowercase"}]}"#))
                == "normalizer.normalizers[1]")
    }

    @Test func unsupportedSplitPattern() {
        #expect(component(Fixture.replacing(#"\\p{N}{1,3}"#, with: #"\\p{N}{1,2}"#)) == "pre_tokenizer.pretokenizers[0].pattern")
        #expect(component(Fixture.replacing(#""behavior": "Isolated""#, with: #""behavior": "Removed""#))
                == "pre_tokenizer.pretokenizers[0].behavior")
    }

    @Test func unsupportedPreTokenizerType() {
        #expect(component(Fixture.replacing(#"{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]"#,
                                            with: #"{"type": "Whitespace"}]"#))
                == "pre_tokenizer.pretokenizers[1]")
        #expect(component(Fixture.replacing(#""add_prefix_space": false, "trim_offsets": true, "use_regex": false}]"#,
                                            with: #""add_prefix_space": true, "trim_offsets": true, "use_regex": false}]"#))
                == "pre_tokenizer.pretokenizers[1].add_prefix_space")
    }

    @Test func unsupportedModel() {
        #expect(component(Fixture.replacing(#""type": "BPE""#, with: #""type": "WordPiece""#)) == "model")
        #expect(component(Fixture.replacing(#""dropout": null"#, with: #""dropout": 0.1"#)) == "model.dropout")
        #expect(component(Fixture.replacing(#""byte_fallback": false"#, with: #""byte_fallback": true"#)) == "model.byte_fallback")
        #expect(component(Fixture.replacing(#""continuing_subword_prefix": null"#, with: #""continuing_subword_prefix": "@@""#))
                == "model.continuing_subword_prefix")
    }

    @Test func unsupportedPostProcessorAndDecoder() {
        #expect(component(Fixture.replacing(#""post_processor": {"type": "TemplateProcessing""#,
                                            with: #""post_processor": {"type": "BertProcessing""#)) == "post_processor")
        #expect(component(Fixture.replacing(#""decoder": {"type": "ByteLevel""#, with: #""decoder": {"type": "WordPiece""#))
                == "decoder")
    }

    @Test func truncationIsRejected() {
        #expect(component(Fixture.replacing(#""truncation": null"#, with: #""truncation": {"max_length": 8}"#)) == "truncation")
    }

    @Test func malformedInputs() {
        #expect(throws: BPEError.self) { try Tokenizer(tokenizerJSON: Array("{not json".utf8)) }
        #expect(throws: BPEError.self) { try Tokenizer(tokenizerJSON: Fixture.replacing(#""Ġwor l""#, with: #""Ġwor zz""#)) }
        #expect(throws: BPEError.self) { try Tokenizer(tokenizerJSONPath: "/nonexistent/tokenizer.json") }
    }

    @Test func gpt2ByteLevelRegexVariant() throws {
        // The Llama 3.1 file with its pre-tokenizer replaced by ByteLevel(use_regex: true); ids from HF.
        var json = try String(contentsOfFile: SharedData.tokenizerDir("llama-3.1") + "/tokenizer.json", encoding: .utf8)
        let start = try #require(json.range(of: #""pre_tokenizer": "#)).upperBound
        let end = try #require(json.range(of: #""post_processor""#)).lowerBound
        json.replaceSubrange(start..<end,
                             with: #"{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}, "#)
        let gpt2 = try Tokenizer(tokenizerJSON: Array(json.utf8))
        #expect(gpt2.encode("Hello 12345 world!!\n\n\nx  y", parseSpecial: true)
                == [9906, 220, 4513, 1774, 1917, 3001, 271, 198, 87, 220, 379])
        #expect(gpt2.encode("It'S", parseSpecial: true) == [2181, 6, 50])
    }

    @Test func folderPathLoadsItsTokenizerJSON() throws {
        let t = try Tokenizer(tokenizerJSONPath: SharedData.tokenizerDir("qwen2.5"))
        #expect(t.encode("Hello world", parseSpecial: true) == [9707, 1879])
    }

    @Test func nullNormalizerLoads() throws {
        #expect(component(Fixture.replacing(#""normalizer": {"type": "NFC"}"#, with: #""normalizer": null"#)) == nil)
    }
}

import Foundation
