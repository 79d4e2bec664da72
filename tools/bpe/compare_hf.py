#!/usr/bin/env python3
"""Compare our token ids with HF `tokenizers`.

Usage: compare_hf.py TOKENIZER_DIR TEXTS.jsonl OURS.jsonl [--no-special] [--show N]

TEXTS.jsonl has one {"text": ...} per line; OURS.jsonl one {"ids": [...]} per line, same order.
Encodes each text with tokenizers.Tokenizer.from_file(TOKENIZER_DIR/tokenizer.json) and
add_special_tokens=False (with --no-special, special tokens are not parsed:
encode_special_tokens=True) and reports every mismatch with its first differing position.
Exit status 0 only when there is no mismatch.
"""
import argparse
import json
import os
import sys

from tokenizers import Tokenizer


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("tokenizer_dir")
    ap.add_argument("texts")
    ap.add_argument("ours")
    ap.add_argument("--no-special", action="store_true", help="treat special-token text as plain text")
    ap.add_argument("--show", type=int, default=20, help="print at most N mismatches")
    a = ap.parse_args()

    path = a.tokenizer_dir
    if os.path.isdir(path):
        path = os.path.join(path, "tokenizer.json")
    tok = Tokenizer.from_file(path)
    tok.encode_special_tokens = a.no_special

    with open(a.texts, encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f if line.strip()]
    with open(a.ours, encoding="utf-8") as f:
        ours = [json.loads(line)["ids"] for line in f if line.strip()]
    if len(texts) != len(ours):
        print(f"line count differs: {len(texts)} texts, {len(ours)} id lists", file=sys.stderr)
        return 2

    expected = tok.encode_batch(texts, add_special_tokens=False)
    mismatches = 0
    tokens = 0
    for n, (text, got, enc) in enumerate(zip(texts, ours, expected), start=1):
        want = enc.ids
        tokens += len(want)
        if got == want:
            continue
        mismatches += 1
        if mismatches <= a.show:
            k = next((i for i, (x, y) in enumerate(zip(got, want)) if x != y), min(len(got), len(want)))
            print(f"line {n}: first difference at token {k}: ours {got[k:k + 8]} hf {want[k:k + 8]}")
            print(f"  hf tokens there: {enc.tokens[k:k + 8]}")
            print(f"  text: {text[:200]!r}")
    print(f"{len(texts)} texts, {tokens} tokens (hf), {mismatches} mismatches")
    return 0 if mismatches == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
