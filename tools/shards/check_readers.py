#!/usr/bin/env python3
"""Reads trajforge shards with the real readers and checks every record equals the input.

    check_readers.py TRAJFORGE_BIN INPUT.jsonl [--work DIR] [--limit N] [--readers datasets,webdataset,streaming]

* datasets    datasets.load_dataset("json") on the .jsonl.gz shards, and on .jsonl.zst shards large
              enough to be compressed while read (their frame sizes checked with python-zstandard)
* webdataset  webdataset.WebDataset on .tar, .tar.gz and (through `pipe:zstd -dc`) .tar.zst shards,
              with an extra member, positional and field keys, and the seeded shuffle
* streaming   streaming.StreamingDataset on MDS (zstd) with inferred json columns and with typed
              columns (str, int, json, ndarray:int32); and MDSWriter writing the same records: its
              index.json and shard files must equal ours byte for byte (uncompressed), and
              after decompression (zstd: the compressed bytes come from another zstd build)

The light readers (datasets, webdataset) run in CI (tools/dev test). mosaicml-streaming needs a
CUDA torch build (about 6 GB); run it by hand in its own venv:

    STREAMING_VENV=/tmp/streaming-venv   # any folder outside the repo
    python3 -m venv "$STREAMING_VENV"
    "$STREAMING_VENV"/bin/pip install mosaicml-streaming==0.13.0
    "$STREAMING_VENV"/bin/python tools/shards/check_readers.py .build/debug/trajforge \
        records.jsonl --readers streaming

Exit status 0 when every check passes; each failure is printed.
"""
import argparse
import glob
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

FAILURES = []


def fail(msg):
    FAILURES.append(msg)
    print("FAIL: " + msg)


def ok(msg):
    print("ok: " + msg)


def same(a, b, floats):
    """Exact equality, except what columnar readers do to numbers: a float may differ by one ulp
    (pyarrow's JSON parser is not correctly rounded; counted in floats[0]) and an int may come back
    as the equal float when Arrow gives a column mixing 0 and 0.0 one type (floats[1])."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b if isinstance(a, bool) and isinstance(b, bool) else False
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and type(a) is not type(b):
        if float(a) == float(b):
            floats[1] += 1
            return True
        return False
    if isinstance(a, float) and isinstance(b, float):
        if a == b:
            return True
        if abs(a - b) <= math.ulp(max(abs(a), abs(b))):
            floats[0] += 1
            return True
        return False
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k], floats) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y, floats) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def shard(binary, inputs, out, *args):
    """Runs `trajforge shard`; returns what it printed on standard output (the URL list)."""
    cmd = [binary, "shard", *inputs, "-o", out, "--overwrite", "-q", *args]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"trajforge shard failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr}")
    verify = subprocess.run([binary, "verify", "-q", out], capture_output=True, text=True)
    if verify.returncode != 0:
        fail(f"trajforge verify {out}: {verify.stdout}{verify.stderr}")
    return r.stdout.strip()


def manifest(out):
    with open(os.path.join(out, "manifest.json")) as f:
        return json.load(f)


def compare(name, got, expected):
    floats = [0, 0]
    if len(got) != len(expected):
        fail(f"{name}: {len(got)} records read, {len(expected)} expected")
        return
    bad = [i for i, (g, e) in enumerate(zip(got, expected)) if not same(g, e, floats)]
    if bad:
        fail(f"{name}: {len(bad)} of {len(expected)} records differ (first: #{bad[0]})")
        return
    notes = []
    if floats[0]:
        notes.append(f"{floats[0]} floats within 1 ulp: the reader's float parsing")
    if floats[1]:
        notes.append(f"{floats[1]} ints read as equal floats: Arrow's column types")
    note = f" ({'; '.join(notes)})" if notes else ""
    ok(f"{name}: {len(got)} records equal the input{note}")


# -- datasets -----------------------------------------------------------------------------------

def check_datasets(binary, source, records, work):
    import datasets

    out = os.path.join(work, os.path.splitext(os.path.basename(source))[0].replace(".", "-") + "-jsonl")
    shard(binary, [source], out, "--format", "jsonl", "--max-shard-bytes", "1MB")
    files = [os.path.join(out, s["file"]) for s in manifest(out)["shards"]]
    if len(files) < 2:
        fail("datasets: expected several shards")
    ds = datasets.load_dataset("json", data_files=files, split="train", cache_dir=os.path.join(work, "hf-cache"))
    compare(f"datasets {datasets.__version__} load_dataset('json') on {len(files)} .jsonl.gz shards", ds.to_list(), records)
    check_zstd_jsonl(binary, source, records, work)


STREAMING_THRESHOLD = 4 << 20  # ZstdFrameSink.streamingThreshold: larger shards stream their zstd frame


def check_zstd_jsonl(binary, source, records, work):
    """zstd JSONL shards, large ones included: those are compressed while being read, and the size
    in their frame header is filled in at the end. python-zstandard's one-shot decompress needs
    that size (as mosaicml-streaming's does); datasets reads the .jsonl.zst files."""
    import datasets
    import zstandard

    with open(source, "rb") as f:
        text = f.read()
    if not text.endswith(b"\n"):
        text += b"\n"
    copies = max(1, -(-(3 * STREAMING_THRESHOLD) // len(text)))
    big = os.path.join(work, "zstd-source.jsonl")
    with open(big, "wb") as f:
        f.write(text * copies)
    out = os.path.join(work, os.path.splitext(os.path.basename(source))[0].replace(".", "-") + "-jsonl-zst")
    shard(binary, [big], out, "--format", "jsonl", "--compression", "zstd", "--max-shard-bytes", str(STREAMING_THRESHOLD + (1 << 20)))
    shards = manifest(out)["shards"]
    streamed = 0
    for s in shards:
        with open(os.path.join(out, s["file"]), "rb") as f:
            data = f.read()
        size = zstandard.get_frame_parameters(data).content_size
        raw = zstandard.ZstdDecompressor().decompress(data)  # one-shot: uses the header's size
        if size != s["uncompressed_bytes"] or len(raw) != size:
            fail(f"zstd {s['file']}: header size {size}, decompressed {len(raw)}, manifest {s['uncompressed_bytes']}")
            return
        streamed += size >= STREAMING_THRESHOLD
    if streamed == 0:
        fail("zstd: no shard reached the streaming threshold")
        return
    ok(f"zstandard {zstandard.__version__}: {len(shards)} .jsonl.zst frames ({streamed} streamed) carry their size, one-shot decompress works")
    files = [os.path.join(out, s["file"]) for s in shards]
    ds = datasets.load_dataset("json", data_files=files, split="train", cache_dir=os.path.join(work, "hf-cache"))
    compare(f"datasets load_dataset('json') on {len(files)} .jsonl.zst shards ({copies} copies of the input)", ds.to_list(), records * copies)


# -- webdataset ---------------------------------------------------------------------------------

def read_wds(url):
    import webdataset as wds

    return list(wds.WebDataset(url, shardshuffle=False, empty_check=False).decode())


def usable_ids(records):
    """The records' ids when they can be WebDataset keys (strings of A-Z a-z 0-9 _ -, unique)."""
    ids = [r.get("id") for r in records]
    ok = all(isinstance(i, str) and i and all(c.isascii() and (c.isalnum() or c in "_-") for c in i) for i in ids)
    return ids if ok and len(set(ids)) == len(ids) else None


def check_webdataset(binary, source, records, work):
    import webdataset as wds

    text_key = next((k for k, v in records[0].items() if isinstance(v, str) and all(isinstance(r.get(k), str) for r in records)), None)
    member = ["--member", f"txt={text_key}"] if text_key else []
    prefix = os.path.splitext(os.path.basename(source))[0].replace(".", "-")
    for codec, ext in [("none", ".tar"), ("gzip", ".tar.gz"), ("zstd", ".tar.zst")]:
        out = os.path.join(work, f"{prefix}-wds-{codec}")
        url = shard(binary, [source], out, "--format", "webdataset", "--compression", codec, "--max-shard-bytes", "1MB", *member)
        if not url.endswith(ext) or "{" not in url:
            fail(f"webdataset: unexpected URL list {url!r}")
        if codec == "zstd":
            if shutil.which("zstd") is None:
                print("skip: .tar.zst needs the zstd command for webdataset's pipe: URLs")
                continue
            url = "pipe:zstd -dc " + url
        samples = read_wds(url)
        compare(f"webdataset {wds.__version__} WebDataset({ext}, {len(manifest(out)['shards'])} shards) .json members",
                [s["json"] for s in samples], records)
        keys = [s["__key__"] for s in samples]
        if keys != [f"{i:09d}" for i in range(len(records))]:
            fail(f"webdataset {ext}: keys are not the positions 000000000…")
        if text_key and [s["txt"] for s in samples] != [r[text_key] for r in records]:
            fail(f"webdataset {ext}: the .txt member differs from the records' {text_key}")
        else:
            ok(f"webdataset {ext}: keys are the positions" + (f", the .txt member is each record's {text_key}" if text_key else ""))

    # The seeded shuffle (same records, another order, same bytes twice), keys from the ids when they can be.
    ids = usable_ids(records)
    keyed = ["--key-field", "id"] if ids else []
    out = os.path.join(work, f"{prefix}-wds-shuffled")
    args = ["--format", "webdataset", "--compression", "gzip", *keyed, "--shuffle", "--seed", "7", "--max-shard-bytes", "1MB"]
    url = shard(binary, [source], out, *args)
    first = manifest(out)["shards"]
    samples = read_wds(url)
    got = [s["json"] for s in samples]
    if ids:
        by_id = {r["id"]: r for r in records}
        compare("webdataset shuffled (--seed 7, --key-field id), records by key", got, [by_id[s["__key__"]] for s in samples])
    canon = lambda r: json.dumps(r, sort_keys=True)
    if sorted(map(canon, got)) != sorted(map(canon, records)):
        fail("webdataset shuffled: not the same records as the input")
    elif len(records) > 2 and list(map(canon, got)) == list(map(canon, records)):
        fail("webdataset shuffled: the order did not change")
    else:
        ok(f"webdataset shuffled (--seed 7): the same {len(got)} records in another order")
    shard(binary, [source], out, *args, "--threads", "1")
    if manifest(out)["shards"] != first:
        fail("webdataset shuffled: a second run (1 thread) wrote other bytes")
    else:
        ok("webdataset shuffled: a second run with 1 thread wrote the same bytes (sha256 of every shard)")


# -- mosaicml-streaming -------------------------------------------------------------------------

def typed_dataset(records):
    """The records with typed MDS columns inferred from them: str, int, ndarray:int32 (lists of ints,
    e.g. token ids and labels), json for the rest, and one string column stored as bytes. Records
    without an int list get a token-id-like one derived from their id, so ndarray is always covered."""
    rows = [dict(r) for r in records]
    def int_list(v):
        return isinstance(v, list) and v and all(type(y) is int and -2**31 <= y < 2**31 for y in v)
    if not any(int_list(v) for v in rows[0].values()):
        for r in rows:
            r["input_ids"] = [b * 1000 + i for i, b in enumerate(json.dumps(r.get("id")).encode())]
    columns = {}
    for k in rows[0]:
        vals = [r.get(k) for r in rows]
        if all(isinstance(x, str) for x in vals):
            columns[k] = "str"
        elif all(type(x) is int and -2**63 <= x < 2**63 for x in vals):
            columns[k] = "int"
        elif all(int_list(x) for x in vals):
            columns[k] = "ndarray:int32"
        else:
            columns[k] = "json"
    for k, enc in columns.items():
        if enc == "str" and k != "id":
            columns[k] = "bytes"
            break
    return rows, columns


def to_mds(r, columns):
    import numpy as np

    return {k: np.array(r[k], dtype=np.int32) if enc == "ndarray:int32" else r[k].encode() if enc == "bytes" else r[k]
            for k, enc in columns.items()}


def from_mds(row, columns):
    return {k: row[k].tolist() if enc == "ndarray:int32" else row[k].decode() if enc == "bytes" else row[k]
            for k, enc in columns.items()}


def read_streaming(folder):
    from streaming import StreamingDataset

    ds = StreamingDataset(local=folder, remote=None, shuffle=False, batch_size=1)
    return [ds[i] for i in range(len(ds))]


def mds_writer(folder, columns, rows, compression, size_limit, convert):
    from streaming import MDSWriter

    if os.path.exists(folder):
        shutil.rmtree(folder)
    with MDSWriter(out=folder, columns=columns, compression=compression, hashes=["sha256"], size_limit=size_limit) as w:
        for r in rows:
            w.write(convert(r))


def decompress_zstd(path):
    return subprocess.run(["zstd", "-dc", path], capture_output=True, check=True).stdout


def check_streaming(binary, source, records, work):
    import numpy as np
    import streaming

    version = streaming.__version__
    # 1. Inferred columns (every top-level key as json), zstd (the default) and gzip, several shards.
    for codec in ["zstd", "gzip"]:
        out = os.path.join(work, "mds-" + codec)
        shard(binary, [source], out, "--format", "mds", "--compression", codec, "--max-shard-bytes", "1MB")
        rows = read_streaming(out)
        compare(f"streaming {version} StreamingDataset(MDS {codec}, {len(manifest(out)['shards'])} shards, json columns)",
                [dict(r) for r in rows], records)

    # 2. Typed columns: str, int, json, ndarray:int32, bytes.
    typed, columns = typed_dataset(records)
    typed_path = os.path.join(work, "typed.jsonl")
    with open(typed_path, "w") as f:
        for r in typed:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    args = [x for name, enc in columns.items() for x in ("--column", f"{name}:{enc}")]
    out = os.path.join(work, "mds-typed")
    shard(binary, [typed_path], out, "--format", "mds", "--max-shard-bytes", "1MB", *args)
    rows = read_streaming(out)
    encodings = sorted(set(columns.values()))
    compare(f"streaming StreamingDataset(MDS zstd, typed columns {encodings})", [from_mds(r, columns) for r in rows], typed)

    # 3. MDSWriter writes the same bytes.
    for compression, limit in [(None, 1 << 20), (None, 300_000), ("zstd", 1 << 20)]:
        ours = os.path.join(work, f"mds-ours-{compression}-{limit}")
        ref = os.path.join(work, f"mds-ref-{compression}-{limit}")
        shard(binary, [typed_path], ours, "--format", "mds", "--compression", "zstd" if compression else "none",
              "--max-shard-bytes", str(limit), *args)
        mds_writer(ref, columns, typed, compression, limit, lambda r: to_mds(r, columns))
        compare_mds(ours, ref, compressed=compression is not None, label=f"MDSWriter(compression={compression}, size_limit={limit})")

    # 4. Inferred json columns against MDSWriter (whole trajectories, Python's json.dumps layout).
    ours = os.path.join(work, "mds-ours-json")
    ref = os.path.join(work, "mds-ref-json")
    shard(binary, [source], ours, "--format", "mds", "--compression", "none", "--max-shard-bytes", "1MB")
    columns = {c["name"]: c["encoding"] for c in manifest(ours)["options"]["columns"]}
    mds_writer(ref, columns, records, None, 1_000_000, lambda r: r)
    compare_mds(ours, ref, compressed=False, label="MDSWriter(json columns, compression=None, size_limit=1MB)")


def compare_mds(ours, ref, compressed, label):
    with open(os.path.join(ref, "index.json"), "rb") as f:
        ref_index_bytes = f.read()
    with open(os.path.join(ours, "index.json"), "rb") as f:
        our_index_bytes = f.read()
    ref_index = json.loads(ref_index_bytes)
    our_index = json.loads(our_index_bytes)
    n = len(ref_index["shards"])
    if not compressed:
        files = ["index.json"] + [s["raw_data"]["basename"] for s in ref_index["shards"]]
        diffs = [f for f in files if not os.path.exists(os.path.join(ours, f))
                 or open(os.path.join(ours, f), "rb").read() != open(os.path.join(ref, f), "rb").read()]
        if diffs:
            fail(f"{label}: files differ from MDSWriter's: {diffs}")
        else:
            ok(f"{label}: index.json and {n} shard files are byte-identical to MDSWriter's")
        return
    # zstd: our frames come from libzstd 1.5.4 via libarchive, MDSWriter's from python-zstd's bundled
    # libzstd: compare the decompressed shards, and the index apart from zip_data bytes/hashes.
    def strip(index):
        return [{k: ({"basename": v["basename"]} if k == "zip_data" else v) for k, v in s.items()} for s in index["shards"]]

    if strip(ref_index) != strip(our_index) or len(our_index["shards"]) != n:
        fail(f"{label}: index.json differs beyond zip_data bytes/hashes")
        return
    for s in our_index["shards"]:
        data = open(os.path.join(ours, s["zip_data"]["basename"]), "rb").read()
        if len(data) != s["zip_data"]["bytes"] or hashlib.sha256(data).hexdigest() != s["zip_data"]["hashes"]["sha256"]:
            fail(f"{label}: {s['zip_data']['basename']} does not match our own index entry")
    for s in ref_index["shards"]:
        mine = decompress_zstd(os.path.join(ours, s["zip_data"]["basename"]))
        theirs = decompress_zstd(os.path.join(ref, s["zip_data"]["basename"]))
        if mine != theirs:
            fail(f"{label}: decompressed {s['raw_data']['basename']} differs")
            return
    same_index_text = json.dumps(strip(ref_index)) == json.dumps(strip(our_index))
    ok(f"{label}: {n} shards decompress to MDSWriter's bytes; index.json equal apart from zip_data bytes/hashes"
       + ("" if same_index_text else " (key order differs!)"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binary")
    ap.add_argument("input", help="JSONL of JSON objects (e.g. ingested trajectories)")
    ap.add_argument("--work", help="scratch folder (default: a temporary one, removed)")
    ap.add_argument("--readers", default="datasets,webdataset,streaming")
    ap.add_argument("--limit", type=int, help="use the first N records only")
    a = ap.parse_args()
    with open(a.input) as f:
        lines = [line for line in f if line.strip()]
    if a.limit is not None:
        lines = lines[:a.limit]
    records = [json.loads(line) for line in lines]
    work = a.work or tempfile.mkdtemp(prefix="trajforge-shards-")
    os.makedirs(work, exist_ok=True)
    source = a.input
    if a.limit is not None:
        source = os.path.join(work, os.path.basename(a.input).replace(".jsonl", "") + f"-first{a.limit}.jsonl")
        with open(source, "w") as f:
            f.writelines(line if line.endswith("\n") else line + "\n" for line in lines)
    checks = {"datasets": check_datasets, "webdataset": check_webdataset, "streaming": check_streaming}
    try:
        for name in a.readers.split(","):
            if name not in checks:
                raise SystemExit(f"unknown reader {name}; use {','.join(checks)}")
            print(f"== {name}")
            checks[name](a.binary, source, records, work)
    finally:
        if not a.work:
            shutil.rmtree(work, ignore_errors=True)
    if FAILURES:
        print(f"{len(FAILURES)} check(s) failed")
        sys.exit(1)
    print("all reader checks passed")


if __name__ == "__main__":
    main()
