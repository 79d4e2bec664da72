#!/usr/bin/env python3
"""The dedup benchmark's reference: datasketch MinHash + MinHashLSH on the same corpus, with the
same shingles and the same parameters as `trajforge dedup` (5-word shingles, 14 bands x 8 rows =
112 permutations, seed 1, estimated Jaccard >= 0.8 on candidate pairs, union-find, keep the first
verified record of a cluster, else the first), after exact dedup on SHA-256 of the same canonical
form.

Shingles are built exactly as Sources/TrajForge/Dedup/Shingles.swift builds them and hashed with
XXH64 seeded by the shingle kind (xxhash package); datasketch gets the low 32 bits of those hashes
(`hashfunc` = identity), which spares it its default SHA-1 per shingle: its most favourable setup.
With --sha1, datasketch hashes the tagged shingle strings ("u:..." etc.) with its default hashfunc.

usage:
  datasketch_bench.py CORPUS.jsonl [--removed OUT.tsv] [--limit N] [--sha1]
      Runs the pipeline; prints records/s, MB/s and the time of each phase; --removed writes
      "id<TAB>reason<TAB>kept id" for every removed record (to compare with trajforge's drops).
  datasketch_bench.py CORPUS.jsonl --shingles [--limit N]
      Prints "id<TAB>distinct shingles<TAB>sum of their hashes mod 2^64" per record, the format of
      `trajforge-bench dedup-shingles`, to check that both build the same shingle sets.
  datasketch_bench.py --compare A.tsv B.tsv
      Agreement of two removed lists (precision/recall of B against A).
"""
import hashlib
import json
import os
import re
import sys
import time

import xxhash
from datasketch import MinHash, MinHashLSH

NGRAM, BANDS, ROWS, SEED, THRESHOLD = 5, 14, 8, 1, 0.8
USER, ASSISTANT, OBSERVATION, CALL, ARGUMENT = 1, 2, 3, 4, 5
WORD = re.compile(rb"[0-9A-Za-z\x80-\xff]+")


def canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def shingles(t, n=NGRAM, observations=False):
    """(kind, payload bytes) for every shingle, as Shingler.forEachShingle."""
    out = []

    def text(content, kind):
        words = [w.lower() for w in WORD.findall(content.encode("utf-8"))]
        if not words:
            return
        k = min(n, len(words))
        for i in range(len(words) - k + 1):
            out.append((kind, b" ".join(words[i:i + k])))

    for m in t["messages"]:
        role, content = m["role"], m.get("content")
        if role == "user" and content is not None:
            text(content, USER)
        elif role == "assistant":
            if content is not None:
                text(content, ASSISTANT)
            for c in m.get("tool_calls") or []:
                name, args = c["name"], c["arguments"]
                out.append((CALL, (name + canonical(args)).encode("utf-8")))
                for key, value in args.items():
                    out.append((ARGUMENT, f"{name}.{key}={canonical(value)}".encode("utf-8")))
        elif role == "tool" and observations and content is not None:
            text(content, OBSERVATION)
    return out


TAGS = {USER: b"u:", ASSISTANT: b"a:", OBSERVATION: b"o:", CALL: b"call:", ARGUMENT: b"arg:"}


def shingle_hashes(t):
    return [xxhash.xxh64_intdigest(payload, kind) for kind, payload in shingles(t)]


def exact_digest(t, tools_cache):
    """SHA-256 of the canonical form (trimmed texts, canonical calls, tools; no ids, outcome, meta)."""
    key = canonical(t["tools"])
    tools = tools_cache.get(key)
    if tools is None:
        tools = tools_cache[key] = hashlib.sha256(key.encode("utf-8")).hexdigest()

    def trim(s):
        s = s.strip() if s is not None else None
        return s or None

    messages = []
    for m in t["messages"]:
        o = {"role": m["role"], "content": trim(m.get("content"))}
        if m["role"] == "tool" and m.get("name") is not None:
            o["name"] = m["name"]
        if m.get("tool_calls"):
            o["tool_calls"] = [{"name": c["name"], "arguments": c["arguments"]} for c in m["tool_calls"]]
        messages.append(o)
    form = {"messages": messages, "system": trim(t.get("system")), "tools": tools}
    return hashlib.sha256(canonical(form).encode("utf-8")).digest()


def find(parent, x):
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


def union(parent, a, b):
    ra, rb = find(parent, a), find(parent, b)
    if ra != rb:
        parent[max(ra, rb)] = min(ra, rb)


def run(path, removed_path, limit, sha1=False):
    size = os.path.getsize(path)
    t0 = time.perf_counter()
    parse_s = minhash_s = lsh_s = 0.0
    ids, verified, parent, minhashes = [], [], [], {}
    first_by_digest, tools_cache = {}, {}
    exact_of = []
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=BANDS * ROWS, params=(BANDS, ROWS))
    read_bytes = 0
    with open(path, "rb") as f:
        for i, line in enumerate(f):
            if limit is not None and i >= limit:
                break
            read_bytes += len(line)
            a = time.perf_counter()
            t = json.loads(line)
            digest = exact_digest(t, tools_cache)
            if sha1:
                hashes = [TAGS[kind] + payload for kind, payload in shingles(t)]
            else:
                hashes = [h & 0xFFFFFFFF for h in shingle_hashes(t)]
            b = time.perf_counter()
            ids.append(t["id"])
            verified.append((t.get("outcome") or {}).get("success") is True)
            parent.append(i)
            first = first_by_digest.setdefault(digest, i)
            exact_of.append(first)
            if first != i:
                union(parent, i, first)
                parse_s += b - a
                continue
            if not hashes:
                parse_s += b - a
                continue
            m = MinHash(num_perm=BANDS * ROWS, seed=SEED) if sha1 else MinHash(num_perm=BANDS * ROWS, seed=SEED, hashfunc=lambda x: x)
            m.update_batch(hashes)
            c = time.perf_counter()
            for other in lsh.query(m):
                if minhashes[other].jaccard(m) >= THRESHOLD:
                    union(parent, i, other)
            lsh.insert(i, m, check_duplication=False)
            minhashes[i] = m
            d = time.perf_counter()
            parse_s += b - a
            minhash_s += c - b
            lsh_s += d - c
    n = len(ids)
    kept = {}
    for i in range(n):
        r = find(parent, i)
        k = kept.get(r)
        if k is None or (not verified[k] and verified[i]):
            kept[r] = i
    removed = [(i, kept[find(parent, i)]) for i in range(n) if kept[find(parent, i)] != i]
    total = time.perf_counter() - t0
    if limit is not None:
        size = read_bytes
    exact = sum(1 for i, k in removed if exact_of[i] == exact_of[k])
    print(f"datasketch ({'sha1' if sha1 else 'xxh64'} shingle hashes): {size / 1e6:.1f} MB, {n} records -> kept {n - len(removed)} "
          f"(exact-duplicate {exact}, near-duplicate {len(removed) - exact}) | {size / 1e6 / total:.1f} MB/s, "
          f"{n / total:.0f} records/s (1 process) | JSON+exact+shingles {parse_s:.1f} s, MinHash {minhash_s:.1f} s, "
          f"LSH query+verify+insert {lsh_s:.1f} s, total {total:.1f} s")
    if removed_path:
        with open(removed_path, "w", encoding="utf-8") as out:
            for i, k in removed:
                reason = "exact-duplicate" if exact_of[i] == exact_of[k] else "near-duplicate"
                out.write(f"{ids[i]}\t{reason}\t{ids[k]}\n")


def dump_shingles(path, limit):
    with open(path, "rb") as f:
        for i, line in enumerate(f):
            if limit is not None and i >= limit:
                break
            t = json.loads(line)
            hs = set(shingle_hashes(t))
            print(f"{t['id']}\t{len(hs)}\t{sum(hs) % (1 << 64)}")


def compare(a_path, b_path):
    def load(p):
        with open(p, encoding="utf-8") as f:
            return {line.split("\t")[0] for line in f if line.strip()}
    a, b = load(a_path), load(b_path)
    common = len(a & b)
    print(f"{a_path}: {len(a)} removed; {b_path}: {len(b)} removed; both: {common}; "
          f"precision of B vs A {common / max(1, len(b)):.4f}, recall {common / max(1, len(a)):.4f}")


def main():
    args = sys.argv[1:]
    if args and args[0] == "--compare":
        compare(args[1], args[2])
        return
    limit = None
    if "--limit" in args:
        k = args.index("--limit")
        limit = int(args[k + 1])
        del args[k:k + 2]
    if "--shingles" in args:
        args.remove("--shingles")
        dump_shingles(args[0], limit)
        return
    sha1 = "--sha1" in args
    if sha1:
        args.remove("--sha1")
    removed = None
    if "--removed" in args:
        k = args.index("--removed")
        removed = args[k + 1]
        del args[k:k + 2]
    run(args[0], removed, limit, sha1)


if __name__ == "__main__":
    main()
