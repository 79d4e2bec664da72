#!/usr/bin/env python3
"""Build the small tokenizer.json used by Tests/BPETests (added-token flags, NFC, template) and print
the ids HF tokenizers gives for the test texts, so the Swift expectations can be checked or renewed.

Usage: make_fixture.py OUT_tokenizer.json
"""
import json
import sys

from tokenizers import Tokenizer

LLAMA3 = ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
          "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")


def bytes_to_unicode():
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def main() -> None:
    b2u = bytes_to_unicode()
    vocab = {b2u[b]: b for b in range(256)}
    merges = [("h", "e"), ("l", "l"), ("he", "ll"), ("hell", "o"), ("Ġ", "w"), ("o", "r"), ("Ġw", "or"),
              ("Ġwor", "l"), ("Ġworl", "d"), ("c", "a"), ("ca", "f"), ("Ã", "©")]
    for a, b in merges:
        vocab[a + b] = len(vocab)
    added = [
        {"id": 268, "content": "<|special|>", "special": True, "normalized": False},
        {"id": 269, "content": "<rs>", "rstrip": True, "special": False, "normalized": False},
        {"id": 270, "content": "<ls>", "lstrip": True, "special": True, "normalized": False},
        {"id": 271, "content": "[word]", "single_word": True, "special": False, "normalized": False},
        {"id": 272, "content": "caf\u00e9", "special": False, "normalized": True},
        {"id": 273, "content": "<both>", "lstrip": True, "rstrip": True, "special": True, "normalized": False},
    ]
    for t in added:
        for k in ("single_word", "lstrip", "rstrip"):
            t.setdefault(k, False)
    doc = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": t["id"], "content": t["content"], "single_word": t["single_word"],
                          "lstrip": t["lstrip"], "rstrip": t["rstrip"], "normalized": t["normalized"],
                          "special": t["special"]} for t in added],
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": LLAMA3}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<|special|>", "type_id": 0}},
                                      {"Sequence": {"id": "A", "type_id": 0}},
                                      {"SpecialToken": {"id": "<ls>", "type_id": 0}}],
                           "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
                           "special_tokens": {"<|special|>": {"id": "<|special|>", "ids": [268], "tokens": ["<|special|>"]},
                                              "<ls>": {"id": "<ls>", "ids": [270], "tokens": ["<ls>"]}}},
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": [f"{a} {b}" for a, b in merges]},
    }
    with open(sys.argv[1], "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False)
    tok = Tokenizer.from_file(sys.argv[1])
    texts = ["hello world", "hello<|special|>world", "a <rs>   b", "a   <ls> b", "x [word] y", "x[word]y",
             "_[word]", "1[word]", "é[word]", "cafe\u0301 caf\u00e9", "a  <both>  b", "<both><rs> <ls>", "",
             "hello <|special|><ls><rs>"]
    for special in (True, False):
        tok.encode_special_tokens = not special
        for t in texts:
            e = tok.encode(t, add_special_tokens=False)
            b = [(len(t[:s].encode()), len(t[:x].encode())) for s, x in e.offsets]
            print(json.dumps({"parseSpecial": special, "text": t, "ids": e.ids, "charOffsetsAsBytes": b}, ensure_ascii=False))
    tok.encode_special_tokens = False
    e = tok.encode("hello", add_special_tokens=True)
    print(json.dumps({"addSpecialTokens": True, "text": "hello", "ids": e.ids}))
    for ids in ([268, 259, 269, 270, 272, 271, 273], [195, 169, 32, 169], [5000, 104]):
        print(json.dumps({"decode": ids, "skip": False, "text": tok.decode(ids, skip_special_tokens=False)}, ensure_ascii=False))
        print(json.dumps({"decode": ids, "skip": True, "text": tok.decode(ids, skip_special_tokens=True)}, ensure_ascii=False))


if __name__ == "__main__":
    main()
