#!/usr/bin/env python3
"""Compare our token ids with HF `tokenizers`.

Usage: compare_hf.py TOKENIZER_DIR TEXTS.jsonl OURS.jsonl [--no-special] [--show N] [--check-labels]

TEXTS.jsonl has one {"text": ...} per line; OURS.jsonl one {"ids": [...]} (or {"input_ids": [...]})
per line, same order. Rendered samples (`trajforge render --tokenizer`) hold both: pass the file
twice. --check-labels also checks that the tokens with a label (not -100) decode, with HF's
decoder, to exactly the text of the sample's supervised spans.
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
    ap.add_argument("--check-labels", action="store_true", help="supervised tokens must decode to the span text")
    a = ap.parse_args()

    path = a.tokenizer_dir
    if os.path.isdir(path):
        path = os.path.join(path, "tokenizer.json")
    tok = Tokenizer.from_file(path)
    tok.encode_special_tokens = a.no_special

    with open(a.texts, encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    texts = [r["text"] for r in records]
    with open(a.ours, encoding="utf-8") as f:
        ours = [r["ids"] if "ids" in r else r["input_ids"] for r in (json.loads(line) for line in f if line.strip())]
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
    bad_labels = 0
    if a.check_labels:
        for n, r in enumerate(records, start=1):
            supervised = [i for i, label in zip(r["input_ids"], r["labels"]) if label != -100]
            want = "".join(r["text"][s:e] for s, e in r["spans"])
            if tok.decode(supervised, skip_special_tokens=False) != want:
                bad_labels += 1
                if bad_labels <= a.show:
                    print(f"line {n}: supervised tokens decode to {tok.decode(supervised, skip_special_tokens=False)[:120]!r}, spans hold {want[:120]!r}")
        print(f"labels: {len(records)} samples, {bad_labels} whose supervised tokens differ from their spans")
    return 0 if mismatches == 0 and bad_labels == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
