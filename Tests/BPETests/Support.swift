import BPE
import Foundation
import Testing

/// Paths of the shared tokenizer folders: ../shared beside the repository (CI clones next to it).
enum SharedData {
    static let repoRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let shared = repoRoot.deletingLastPathComponent().appendingPathComponent("shared")

    static func tokenizerDir(_ name: String) -> String {
        shared.appendingPathComponent("tokenizers").appendingPathComponent(name).path
    }

    /// `{"text", "ids"}` golden cases of a tokenizer folder.
    static func parityCases(_ name: String) throws -> [(text: String, ids: [Int32])] {
        let data = try Data(contentsOf: URL(fileURLWithPath: tokenizerDir(name) + "/parity-cases.jsonl"))
        return try data.split(separator: UInt8(ascii: "\n")).map { line in
            let object = try JSONSerialization.jsonObject(with: Data(line)) as! [String: Any]
            return (object["text"] as! String, (object["ids"] as! [Int]).map { Int32($0) })
        }
    }
}

/// Loaded once per test process and shared across tests (a Tokenizer is Sendable).
enum Loaded {
    static let llama: Tokenizer = try! Tokenizer(tokenizerJSONPath: SharedData.tokenizerDir("llama-3.1") + "/tokenizer.json")
    static let qwen: Tokenizer = try! Tokenizer(tokenizerJSONPath: SharedData.tokenizerDir("qwen2.5") + "/tokenizer.json")
    static let fixture: Tokenizer = try! Tokenizer(tokenizerJSON: Array(Fixture.tokenizerJSON.utf8))
}

/// A small tokenizer of our own (tools/bpe/make_fixture.py writes it and prints HF's ids for the
/// texts used in AddedTokenTests): 256 byte tokens, 12 merges ("hello", "Ġworld", "caf", "é"), NFC,
/// the Llama 3 split, and added tokens with each flag:
/// 268 `<|special|>` special; 269 `<rs>` rstrip, not special; 270 `<ls>` lstrip, special;
/// 271 `[word]` single_word; 272 `café` normalized; 273 `<both>` lstrip+rstrip, special.
/// Template: `<|special|>` A `<ls>`.
enum Fixture {
    static let tokenizerJSON = #"""
{"version": "1.0", "truncation": null, "padding": null, "added_tokens": [{"id": 268, "content": "<|special|>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}, {"id": 269, "content": "<rs>", "single_word": false, "lstrip": false, "rstrip": true, "normalized": false, "special": false}, {"id": 270, "content": "<ls>", "single_word": false, "lstrip": true, "rstrip": false, "normalized": false, "special": true}, {"id": 271, "content": "[word]", "single_word": true, "lstrip": false, "rstrip": false, "normalized": false, "special": false}, {"id": 272, "content": "café", "single_word": false, "lstrip": false, "rstrip": false, "normalized": true, "special": false}, {"id": 273, "content": "<both>", "single_word": false, "lstrip": true, "rstrip": true, "normalized": false, "special": true}], "normalizer": {"type": "NFC"}, "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}, "behavior": "Isolated", "invert": false}, {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]}, "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<|special|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "<ls>", "type_id": 0}}], "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}], "special_tokens": {"<|special|>": {"id": "<|special|>", "ids": [268], "tokens": ["<|special|>"]}, "<ls>": {"id": "<ls>", "ids": [270], "tokens": ["<ls>"]}}}, "decoder": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}, "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null, "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false, "vocab": {"Ā": 0, "ā": 1, "Ă": 2, "ă": 3, "Ą": 4, "ą": 5, "Ć": 6, "ć": 7, "Ĉ": 8, "ĉ": 9, "Ċ": 10, "ċ": 11, "Č": 12, "č": 13, "Ď": 14, "ď": 15, "Đ": 16, "đ": 17, "Ē": 18, "ē": 19, "Ĕ": 20, "ĕ": 21, "Ė": 22, "ė": 23, "Ę": 24, "ę": 25, "Ě": 26, "ě": 27, "Ĝ": 28, "ĝ": 29, "Ğ": 30, "ğ": 31, "Ġ": 32, "!": 33, "\"": 34, "#": 35, "$": 36, "%": 37, "&": 38, "'": 39, "(": 40, ")": 41, "*": 42, "+": 43, ",": 44, "-": 45, ".": 46, "/": 47, "0": 48, "1": 49, "2": 50, "3": 51, "4": 52, "5": 53, "6": 54, "7": 55, "8": 56, "9": 57, ":": 58, ";": 59, "<": 60, "=": 61, ">": 62, "?": 63, "@": 64, "A": 65, "B": 66, "C": 67, "D": 68, "E": 69, "F": 70, "G": 71, "H": 72, "I": 73, "J": 74, "K": 75, "L": 76, "M": 77, "N": 78, "O": 79, "P": 80, "Q": 81, "R": 82, "S": 83, "T": 84, "U": 85, "V": 86, "W": 87, "X": 88, "Y": 89, "Z": 90, "[": 91, "\\": 92, "]": 93, "^": 94, "_": 95, "`": 96, "a": 97, "b": 98, "c": 99, "d": 100, "e": 101, "f": 102, "g": 103, "h": 104, "i": 105, "j": 106, "k": 107, "l": 108, "m": 109, "n": 110, "o": 111, "p": 112, "q": 113, "r": 114, "s": 115, "t": 116, "u": 117, "v": 118, "w": 119, "x": 120, "y": 121, "z": 122, "{": 123, "|": 124, "}": 125, "~": 126, "ġ": 127, "Ģ": 128, "ģ": 129, "Ĥ": 130, "ĥ": 131, "Ħ": 132, "ħ": 133, "Ĩ": 134, "ĩ": 135, "Ī": 136, "ī": 137, "Ĭ": 138, "ĭ": 139, "Į": 140, "į": 141, "İ": 142, "ı": 143, "Ĳ": 144, "ĳ": 145, "Ĵ": 146, "ĵ": 147, "Ķ": 148, "ķ": 149, "ĸ": 150, "Ĺ": 151, "ĺ": 152, "Ļ": 153, "ļ": 154, "Ľ": 155, "ľ": 156, "Ŀ": 157, "ŀ": 158, "Ł": 159, "ł": 160, "¡": 161, "¢": 162, "£": 163, "¤": 164, "¥": 165, "¦": 166, "§": 167, "¨": 168, "©": 169, "ª": 170, "«": 171, "¬": 172, "Ń": 173, "®": 174, "¯": 175, "°": 176, "±": 177, "²": 178, "³": 179, "´": 180, "µ": 181, "¶": 182, "·": 183, "¸": 184, "¹": 185, "º": 186, "»": 187, "¼": 188, "½": 189, "¾": 190, "¿": 191, "À": 192, "Á": 193, "Â": 194, "Ã": 195, "Ä": 196, "Å": 197, "Æ": 198, "Ç": 199, "È": 200, "É": 201, "Ê": 202, "Ë": 203, "Ì": 204, "Í": 205, "Î": 206, "Ï": 207, "Ð": 208, "Ñ": 209, "Ò": 210, "Ó": 211, "Ô": 212, "Õ": 213, "Ö": 214, "×": 215, "Ø": 216, "Ù": 217, "Ú": 218, "Û": 219, "Ü": 220, "Ý": 221, "Þ": 222, "ß": 223, "à": 224, "á": 225, "â": 226, "ã": 227, "ä": 228, "å": 229, "æ": 230, "ç": 231, "è": 232, "é": 233, "ê": 234, "ë": 235, "ì": 236, "í": 237, "î": 238, "ï": 239, "ð": 240, "ñ": 241, "ò": 242, "ó": 243, "ô": 244, "õ": 245, "ö": 246, "÷": 247, "ø": 248, "ù": 249, "ú": 250, "û": 251, "ü": 252, "ý": 253, "þ": 254, "ÿ": 255, "he": 256, "ll": 257, "hell": 258, "hello": 259, "Ġw": 260, "or": 261, "Ġwor": 262, "Ġworl": 263, "Ġworld": 264, "ca": 265, "caf": 266, "Ã©": 267}, "merges": ["h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or", "Ġwor l", "Ġworl d", "c a", "ca f", "Ã ©"]}}
"""#

    /// The fixture with a JSON fragment replaced, for load-error tests.
    static func replacing(_ old: String, with new: String) -> [UInt8] {
        precondition(tokenizerJSON.contains(old), "fixture lacks \(old)")
        return Array(tokenizerJSON.replacingOccurrences(of: old, with: new).utf8)
    }
}
