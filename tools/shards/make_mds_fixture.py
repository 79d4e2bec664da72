#!/usr/bin/env python3
"""Writes the MDS reference fixture the Swift tests compare against, with the real MDSWriter.

    make_mds_fixture.py OUT_DIR      (default Tests/TrajForgeTests/Fixtures/shards/mds-reference)

The records are our own synthetic ones (seeded generator below): unicode, escapes, Python float
reprs, big integers, nested objects, token-id arrays. OUT_DIR gets records.jsonl and one folder per
case, each holding MDSWriter's index.json and shard files (uncompressed: zstd output depends on the
libzstd build, so compressed bytes are compared after decompression by tools/shards/check_readers.py).
Needs mosaicml-streaming (a CUDA torch venv, see check_readers.py).
"""
import json
import os
import random
import shutil
import sys

import numpy as np
from streaming import MDSWriter

COLUMNS = {
    "id": "str",
    "turn": "int",
    "messages": "json",
    "meta": "json",
    "input_ids": "ndarray:int32",
    "mask": "ndarray:uint8:8",
    "flag": "uint8",
    "blob": "bytes",
}

# (folder, size_limit, hashes, records): several shards; a limit below the first sample (MDSWriter
# then writes an empty shard 0 first; the first 6 records only); the default limit (one shard).
CASES = [("limit-4096", 4096, ["sha1", "sha256"], 24), ("limit-tiny", 300, ["md5"], 6), ("default-limit", 1 << 26, [], 24)]

WORDS = ["order", "refund", "Zürich", "東京", "emoji 🧪👩‍🔬", "tab\tnew\nline", 'quote " back \\ slash', "\u0001ctl", "café", "ok"]


def make_records(n=24, seed=20251124):
    rng = random.Random(seed)
    out = []
    for i in range(n):
        msgs = []
        for t in range(rng.randint(1, 4)):
            m = {"role": rng.choice(["user", "assistant", "tool"]), "content": " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 12)))}
            if rng.random() < 0.4:
                m["tool_calls"] = [{"id": f"call{t:05d}", "name": "get_order", "arguments": {"order_id": f"#W{rng.randint(0, 10**7)}", "n": rng.randint(-5, 5)}}]
            msgs.append(m)
        meta = {
            "reward": rng.choice([0.1, 1e-05, 1e16, 0.9299999999999999, 2.5, -0.0, 1.0]),
            "big": rng.choice([2**63 + 7, 12345678901234567890123, -1]),
            "ok": rng.random() < 0.5,
            "none": None,
            "nested": {"a": [1, 2.0, "x", {"b": []}], "ünï": "cödé"},
        }
        ids = [rng.randint(0, 151_000) for _ in range(rng.randint(1, 70))]
        if i % 13 == 5:
            ids = [rng.randint(0, 151_000) for _ in range(300)]  # a shape needing uint16
        out.append({
            "id": f"rec-{i:03d}",
            "turn": rng.randint(-(2**40), 2**40),
            "messages": msgs,
            "meta": meta,
            "input_ids": ids,
            "mask": [rng.randint(0, 1) for _ in range(8)],
            "flag": rng.randint(0, 255),
            "blob": rng.choice(WORDS),
        })
    return out


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "Tests/TrajForgeTests/Fixtures/shards/mds-reference"
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    records = make_records()
    with open(os.path.join(out, "records.jsonl"), "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    for name, limit, hashes, count in CASES:
        folder = os.path.join(out, name)
        with MDSWriter(out=folder, columns=COLUMNS, compression=None, hashes=hashes, size_limit=limit) as w:
            for r in records[:count]:
                s = dict(r)
                s["input_ids"] = np.array(r["input_ids"], dtype=np.int32)
                s["mask"] = np.array(r["mask"], dtype=np.uint8)
                s["blob"] = r["blob"].encode("utf-8")
                w.write(s)
        print(name, sorted(os.listdir(folder)))


if __name__ == "__main__":
    main()
