#!/usr/bin/env python3
"""Check that two `trajforge render` outputs hold the same samples: same ids, texts and spans.

usage: compare_samples.py A.jsonl B.jsonl
Used to prove a built-in template renders like its upstream template on real data.
"""
import json
import sys


def main():
    a_path, b_path = sys.argv[1:3]
    a = [json.loads(line) for line in open(a_path, encoding="utf-8")]
    b = [json.loads(line) for line in open(b_path, encoding="utf-8")]
    differ = [x["id"] for x, y in zip(a, b) if (x["id"], x["text"], x["spans"]) != (y["id"], y["text"], y["spans"])]
    print(f"{a_path} vs {b_path}: {len(a)} and {len(b)} samples, {len(differ)} differ")
    for i in differ[:5]:
        print("  differs:", i)
    sys.exit(1 if differ or len(a) != len(b) or not a else 0)


if __name__ == "__main__":
    main()
