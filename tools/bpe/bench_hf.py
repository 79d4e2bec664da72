#!/usr/bin/env python3
"""Single-thread HF `tokenizers` encode throughput on a text file.

Usage: bench_hf.py TOKENIZER_DIR TEXT_FILE [--repeat N]

Encodes the file's lines (each with its trailing newline, as tools/bench/BPEBench.swift does) with
add_special_tokens=False, once with encode_batch and once with a loop of single encode calls, and
prints MB/s for each (best of --repeat runs). Parallelism is pinned to one thread: set
RAYON_NUM_THREADS=1 and TOKENIZERS_PARALLELISM=false before tokenizers is imported (done here).
"""
import os

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["RAYON_RS_NUM_CPUS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import argparse  # noqa: E402
import time  # noqa: E402

from tokenizers import Tokenizer  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("tokenizer_dir")
    ap.add_argument("text_file")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    path = a.tokenizer_dir
    if os.path.isdir(path):
        path = os.path.join(path, "tokenizer.json")
    t0 = time.perf_counter()
    tok = Tokenizer.from_file(path)
    load = time.perf_counter() - t0
    with open(a.text_file, encoding="utf-8", newline="") as f:
        data = f.read()
    lines = [line + "\n" for line in data.split("\n")]
    nbytes = sum(len(line.encode("utf-8")) for line in lines)
    tok.encode_batch(lines[:200], add_special_tokens=False)  # warm-up

    best_batch = best_single = float("inf")
    ntok = 0
    for _ in range(a.repeat):
        t = time.perf_counter()
        encs = tok.encode_batch(lines, add_special_tokens=False)
        best_batch = min(best_batch, time.perf_counter() - t)
        ntok = sum(len(e.ids) for e in encs)
        t = time.perf_counter()
        for line in lines:
            tok.encode(line, add_special_tokens=False)
        best_single = min(best_single, time.perf_counter() - t)
    name = os.path.basename(os.path.dirname(os.path.abspath(path)))
    print(f"hf tokenizers {name} load={load:.3f}s bytes={nbytes} tokens={ntok} "
          f"encode_batch {nbytes / 1e6 / best_batch:.2f} MB/s, encode {nbytes / 1e6 / best_single:.2f} MB/s (1 thread)")


if __name__ == "__main__":
    main()
