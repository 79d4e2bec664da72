#!/usr/bin/env python3
"""End-to-end benchmark: trajforge vs the Python stack on the same generated corpus.

1. gen_e2e_corpus.py writes N tau-bench rollouts (cached per N and seed under --work);
2. `trajforge run e2e.yaml --json-log` runs the whole recipe for each --threads value, under
   /usr/bin/time -v (peak RSS); per-stage wall and CPU seconds come from the step-end events;
3. python_stack.py runs the same stages with jinja2 (transformers' environment), tokenizers,
   jsonschema, datasketch and gzip, single process (under /usr/bin/time -v too);
4. prints the per-stage table (seconds, records/s, ratio per core) and writes it as Markdown and
   JSON (--work/results-N.md, .json).

Ratio per core = Python seconds (one core) / (trajforge seconds x trajforge threads): with 2
threads, a perfect 2x speed-up keeps the per-core ratio of 1 thread. The same ratios are given
for CPU seconds (user + system of the process), which a busy machine disturbs much less than wall
time.

usage: run.py [--n 100000] [--seed 7] [--threads 1,2] [--work DIR] [--trajforge BIN]
              [--tokenizer DIR] [--python PY] [--skip-python] [--python-n M] [--compare-samples]
              [--keep]
--python-n M runs the Python stack on its own corpus of M rollouts (same seed) and scales its
times by N/M (labelled "extrapolated" in the table); use it when the full Python run is too slow.
"""
import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
RECIPE = os.path.join(HERE, "e2e.yaml")

# trajforge step titles -> benchmark stages (render and shard run once per split)
STAGES = ["ingest", "validate", "filter", "dedup", "split", "render", "shard"]


def stage_of(step):
    first = step.split(" ")[0]
    if first in STAGES:
        return first
    return "other"   # "collect drops and rejects": gathering per-partition drop/reject files


def timed(cmd, log_path, env=None):
    """Runs cmd under /usr/bin/time -v (when present); returns (wall seconds, peak RSS MB, stderr text)."""
    time_bin = "/usr/bin/time"
    use_time = os.path.exists(time_bin)
    full = ([time_bin, "-v"] if use_time else []) + cmd
    start = time.perf_counter()
    with open(log_path, "w", encoding="utf-8") as log:
        p = subprocess.run(full, stdout=subprocess.DEVNULL, stderr=log, env=env)
    wall = time.perf_counter() - start
    text = open(log_path, encoding="utf-8", errors="replace").read()
    if p.returncode != 0:
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{text[-3000:]}")
    rss = None
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    if m:
        rss = int(m.group(1)) / 1024.0
    else:
        import resource
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0   # max over children so far
    return wall, rss, text


def corpus(args):
    folder = os.path.join(args.work, f"corpus-{args.n}-s{args.seed}")
    return make_corpus(folder, args.n, args.seed)


def make_corpus(folder, n, seed):
    if not os.path.exists(os.path.join(folder, "rollouts.json")):
        print(f"generating {n} rollouts into {folder} ...", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, os.path.join(HERE, "gen_e2e_corpus.py"), folder, str(n), str(seed)], check=True)
    return folder


def run_trajforge(args, corpus_dir, threads):
    out = os.path.join(args.work, f"trajforge-{args.n}-t{threads}")
    shutil.rmtree(out, ignore_errors=True)
    log = out + ".log"
    cmd = [args.trajforge, "run", RECIPE, "--var", f"CORPUS={corpus_dir}", "--var", f"TOKENIZER={args.tokenizer}",
           "-o", out, "--threads", str(threads), "--json-log", "--force"]
    print(f"$ {' '.join(cmd)}", file=sys.stderr, flush=True)
    wall, rss, text = timed(cmd, log)
    stages = {}
    ledgers = {}
    for line in text.splitlines():
        if not line.startswith("{"):
            continue
        e = json.loads(line)
        if e.get("event") != "step-end":
            continue
        s = stage_of(e["step"])
        agg = stages.setdefault(s, {"seconds": 0.0, "cpu_seconds": 0.0, "records_in": 0, "outputs": 0})
        agg["seconds"] += e["seconds"]
        agg["cpu_seconds"] += e.get("cpu_seconds") or 0.0
        for led in e.get("ledgers", []):
            agg["records_in"] += led["input"]
            agg["outputs"] += led["output"]
            lg = ledgers.setdefault(s, {"input": 0, "kept": 0, "output": 0, "dropped": {}, "counters": {}})
            lg["input"] += led["input"]
            lg["kept"] += led["kept"]
            lg["output"] += led["output"]
            for k, v in led.get("dropped", {}).items():
                lg["dropped"][k] = lg["dropped"].get(k, 0) + v
            for k, v in led.get("counters", {}).items():
                if isinstance(v, (int, float)):
                    lg["counters"][k] = lg["counters"].get(k, 0) + v
    cpu = None
    m_user = re.search(r"User time \(seconds\): ([\d.]+)", text)
    m_sys = re.search(r"System time \(seconds\): ([\d.]+)", text)
    if m_user and m_sys:
        cpu = float(m_user.group(1)) + float(m_sys.group(1))
    if not args.keep:
        for sub in ("sft", ".trajforge"):
            shutil.rmtree(os.path.join(out, sub), ignore_errors=True)
    return {"threads": threads, "wall_seconds": wall, "cpu_seconds": cpu, "peak_rss_mb": rss, "stages": stages,
            "ledgers": ledgers, "output": out, "log": log}


def run_python(args, corpus_dir, n):
    out = os.path.join(args.work, f"python-{n}")
    shutil.rmtree(out, ignore_errors=True)
    js = out + ".json"
    cmd = [args.python, os.path.join(HERE, "python_stack.py"), "--corpus", corpus_dir, "--tokenizer", args.tokenizer,
           "--out", out, "--json", js]
    print(f"$ {' '.join(cmd)}", file=sys.stderr, flush=True)
    wall, rss, text = timed(cmd, out + ".log")
    data = json.load(open(js, encoding="utf-8"))
    stages = {r["stage"]: r for r in data["stages"]}
    m_user = re.search(r"User time \(seconds\): ([\d.]+)", text)
    m_sys = re.search(r"System time \(seconds\): ([\d.]+)", text)
    cpu = float(m_user.group(1)) + float(m_sys.group(1)) if m_user and m_sys else data["total_cpu_seconds"]
    if not args.keep:
        shutil.rmtree(os.path.join(out, "sft"), ignore_errors=True)
    return {"n": n, "wall_seconds": wall, "cpu_seconds": cpu, "peak_rss_mb": rss, "stages": stages, "output": out,
            "log": out + ".log"}


def compare_samples(tf_out, py_out):
    """The samples both sides wrote, matched by (source record index, supervised turn): text, spans,
    input_ids and labels must be equal (ids differ by design: trajforge hashes the source bytes).
    Samples only one side wrote come from records only one side's dedup removed."""
    import hashlib

    def digests(path):
        out = {}
        with open(path, encoding="utf-8") as f:
            for line in f:
                x = json.loads(line)
                key = (x["source"]["index"], tuple(x["turns"]))
                body = json.dumps([x["text"], x["spans"], x["input_ids"], x["labels"]], separators=(",", ":"))
                out[key] = hashlib.sha256(body.encode("utf-8")).digest()
        return out

    same = differ = only_tf = only_py = 0
    first = None
    for split in ("train", "validation"):
        a = digests(os.path.join(tf_out, "sft", "xlam-2-8b", f"{split}.jsonl"))
        b = digests(os.path.join(py_out, "sft", f"{split}.jsonl"))
        for k, v in a.items():
            if k not in b:
                only_tf += 1
            elif b[k] == v:
                same += 1
            else:
                differ += 1
                first = first or f"{split} record {k[0]} turn {k[1][0]}"
        only_py += sum(1 for k in b if k not in a)
    text = (f"{same:,} samples identical (text, spans, input_ids, labels), {differ:,} differ"
            f"{' (first: ' + first + ')' if first else ''}; only trajforge {only_tf:,}, only Python {only_py:,}")
    return text


def fmt_rate(n, s):
    if not s:
        return "-"
    r = n / s
    return f"{r / 1e6:.2f}M" if r >= 1e6 else f"{r / 1e3:.1f}k" if r >= 1e3 else f"{r:.0f}"


def table(args, corpus_mb, tf, py, scale, extrapolated):
    lines = []
    t1 = next((r for r in tf if r["threads"] == 1), tf[0])
    head = ["stage", "records in"]
    for r in tf:
        head += [f"trajforge {r['threads']}t s", f"rec/s"]
    head += ["Python s" + (" (extrap.)" if extrapolated else ""), "rec/s"]
    for r in tf:
        head += [f"ratio/core {r['threads']}t"]
    head += [f"CPU s tf {r['threads']}t" for r in tf] + ["CPU s Python"] + [f"CPU ratio {r['threads']}t" for r in tf]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    rows = STAGES + (["other"] if "other" in t1["stages"] else [])
    tot = {"tf": [0.0] * len(tf), "tfc": [0.0] * len(tf), "py": 0.0, "pyc": 0.0}
    json_rows = []
    for s in rows:
        n = t1["stages"].get(s, {}).get("records_in", 0)
        cells = [s if s != "other" else "collect drops/rejects (trajforge only)", f"{n:,}"]
        row = {"stage": s, "records_in": n}
        for k, r in enumerate(tf):
            sec = r["stages"].get(s, {}).get("seconds", 0.0)
            tot["tf"][k] += sec
            cells += [f"{sec:.2f}", fmt_rate(n, sec)]
            row[f"trajforge_{r['threads']}t_seconds"] = sec
        ps = py["stages"].get(s) if py else None
        pysec = ps["seconds"] * scale if ps else None
        pycpu = ps["cpu_seconds"] * scale if ps else None
        if ps:
            tot["py"] += pysec
            tot["pyc"] += pycpu
        cells += [f"{pysec:.2f}" if ps else "-", fmt_rate(n, pysec) if ps else "-"]
        row["python_seconds"] = pysec
        for r in tf:
            sec = r["stages"].get(s, {}).get("seconds", 0.0)
            ratio = pysec / (sec * r["threads"]) if ps and sec else None
            cells.append(f"{ratio:.1f}x" if ratio else "-")
            row[f"ratio_per_core_{r['threads']}t"] = ratio
        for k, r in enumerate(tf):
            c = r["stages"].get(s, {}).get("cpu_seconds", 0.0)
            tot["tfc"][k] += c
            cells.append(f"{c:.2f}")
            row[f"trajforge_{r['threads']}t_cpu_seconds"] = c
        cells.append(f"{pycpu:.2f}" if ps else "-")
        for r in tf:
            c = r["stages"].get(s, {}).get("cpu_seconds", 0.0)
            cells.append(f"{pycpu / c:.1f}x" if ps and c else "-")
            row[f"cpu_ratio_{r['threads']}t"] = pycpu / c if ps and c else None
        row["python_cpu_seconds"] = pycpu
        lines.append("| " + " | ".join(cells) + " |")
        json_rows.append(row)
    # Totals: the sum of the steps, and the whole process (start-up, ledger, exit included).
    n = t1["stages"].get("ingest", {}).get("records_in", 0)
    cells = ["**total (sum of stages)**", f"{n:,}"]
    for k, r in enumerate(tf):
        cells += [f"**{tot['tf'][k]:.2f}**", fmt_rate(n, tot["tf"][k])]
    cells += [f"**{tot['py']:.2f}**" if py else "-", fmt_rate(n, tot["py"]) if py else "-"]
    for k, r in enumerate(tf):
        cells.append(f"**{tot['py'] / (tot['tf'][k] * r['threads']):.1f}x**" if py else "-")
    cells += [f"{c:.2f}" for c in tot["tfc"]] + [f"{tot['pyc']:.2f}" if py else "-"]
    cells += [f"**{tot['pyc'] / c:.1f}x**" if py and c else "-" for c in tot["tfc"]]
    lines.append("| " + " | ".join(cells) + " |")
    cells = ["total (process, /usr/bin/time)", f"{n:,}"]
    for r in tf:
        cells += [f"{r['wall_seconds']:.2f}", fmt_rate(n, r["wall_seconds"])]
    pw = py["wall_seconds"] * scale if py else None
    pc = py["cpu_seconds"] * scale if py and py["cpu_seconds"] else None
    cells += [f"{pw:.2f}" if py else "-", fmt_rate(n, pw) if py else "-"]
    for r in tf:
        cells.append(f"{pw / (r['wall_seconds'] * r['threads']):.1f}x" if py else "-")
    cells += [f"{r['cpu_seconds']:.2f}" if r["cpu_seconds"] else "-" for r in tf]
    cells.append(f"{pc:.2f}" if pc else "-")
    cells += [f"{pc / r['cpu_seconds']:.1f}x" if pc and r["cpu_seconds"] else "-" for r in tf]
    lines.append("| " + " | ".join(cells) + " |")
    return lines, json_rows, tot


def report(res):
    """The Markdown report of a result (as run.py writes it to results-N.json)."""
    tf, py, scale = res["trajforge"], res.get("python"), res.get("python_scale", 1.0)
    extrapolated = scale != 1.0
    n = res["n"]
    lines, rows, tot = table(None, res["corpus_mb"], tf, py, scale, extrapolated)
    t1 = tf[0]
    render = t1["ledgers"].get("render", {})
    lb, la = res.get("load_before") or [0], res.get("load_after") or [0]
    md = [f"## trajforge end-to-end benchmark: {n:,} trajectories", "",
          f"- corpus: {res.get('corpus_dir', '?')}/rollouts.json, {res['corpus_mb']:.1f} MB (tau-bench results, seed {res.get('seed')}); "
          f"recipe tools/bench/e2e/e2e.yaml; tokenizer {res.get('tokenizer', '?')}",
          f"- machine: {res.get('machine', '?')}; load average before {lb[0]:.1f}, after {la[0]:.1f} "
          f"(other processes share the cores: compare CPU seconds when it is high)",
          f"- SFT samples: {render.get('output', 0):,} (trajforge), tokens {int(render.get('counters', {}).get('tokens', 0)):,}"]
    if py:
        prs = py["stages"].get("render", {})
        md[-1] += f"; Python: {prs.get('outputs', 0):,} samples, tokens {int(prs.get('notes', {}).get('tokens', 0)):,}" + \
            (f" (on {py['n']:,} rollouts)" if extrapolated else "")
    md += [""] + lines + [""]
    md.append("Peak RSS: " + ", ".join(f"trajforge {r['threads']} thread{'s' if r['threads'] > 1 else ''} {r['peak_rss_mb']:.0f} MB" for r in tf) +
              (f", Python {py['peak_rss_mb']:.0f} MB" + (f" (on {py['n']:,} rollouts)" if extrapolated else "") if py else "") + ".")
    md.append("")
    md.append("Kept per stage (trajforge 1 thread / Python): " + ", ".join(
        f"{s} {t1['ledgers'].get(s, {}).get('output', 0):,}" + (f" / {py['stages'][s]['outputs']:,}" if py and s in py["stages"] and not extrapolated else "")
        for s in STAGES))
    if res.get("compare"):
        md += ["", "Samples, trajforge vs Python: " + res["compare"]]
    if extrapolated:
        md += ["", f"Python times are EXTRAPOLATED: measured on {py['n']:,} rollouts and multiplied by {scale:.2f}."]
    return "\n".join(md) + "\n", rows


def write(res, work):
    text, rows = report(res)
    res["rows"] = rows
    print(text)
    base = os.path.join(work, f"results-{res['n']}")
    with open(base + ".md", "w", encoding="utf-8") as f:
        f.write(text)
    with open(base + ".json", "w", encoding="utf-8") as f:
        json.dump(res, f, indent=2, default=str)
    print(f"wrote {base}.md and {base}.json", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--work", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "trajforge-e2e"))
    ap.add_argument("--trajforge", default=os.path.join(ROOT, ".build", "release", "trajforge"))
    shared = os.environ.get("TRAJFORGE_SHARED", os.path.join(ROOT, "..", "shared"))
    ap.add_argument("--tokenizer", default=os.path.join(shared, "tokenizers", "xlam-2-fc-r-llama"))
    ap.add_argument("--python", default=sys.executable, help="interpreter with jinja2, transformers, tokenizers, jsonschema, datasketch, xxhash")
    ap.add_argument("--skip-python", action="store_true")
    ap.add_argument("--python-n", type=int, help="run the Python stack on M rollouts and scale its times by N/M")
    ap.add_argument("--python-from", help="take the Python run from an earlier results-N.json instead of running it")
    ap.add_argument("--from-json", help="only print (and rewrite) the report of an earlier results-N.json")
    ap.add_argument("--compare-samples", action="store_true", help="check trajforge's and Python's samples are identical (implies --keep)")
    ap.add_argument("--keep", action="store_true", help="keep the sft/ intermediates of every run")
    args = ap.parse_args()
    args.work = os.path.abspath(args.work)
    if args.from_json:
        res = json.load(open(args.from_json, encoding="utf-8"))
        write(res, os.path.dirname(os.path.abspath(args.from_json)))
        return
    if args.compare_samples:
        args.keep = True
    args.tokenizer = os.path.abspath(args.tokenizer)
    args.trajforge = os.path.abspath(args.trajforge)
    os.makedirs(args.work, exist_ok=True)
    if not os.path.exists(args.trajforge):
        sys.exit(f"no trajforge binary at {args.trajforge}: swift build -c release --product trajforge (or --trajforge BIN)")

    load_before = os.getloadavg()
    corpus_dir = corpus(args)
    corpus_mb = os.path.getsize(os.path.join(corpus_dir, "rollouts.json")) / 1e6
    tf = [run_trajforge(args, corpus_dir, int(t)) for t in args.threads.split(",")]
    py, scale = None, 1.0
    if args.python_from:
        old = json.load(open(args.python_from, encoding="utf-8"))
        py, scale = old["python"], old.get("python_scale", 1.0)
    elif not args.skip_python:
        if args.python_n and args.python_n < args.n:
            small = make_corpus(os.path.join(args.work, f"corpus-{args.python_n}-s{args.seed}"), args.python_n, args.seed)
            py = run_python(args, small, args.python_n)
            scale = args.n / args.python_n
        else:
            py = run_python(args, corpus_dir, args.n)
    load_after = os.getloadavg()
    compare = None
    if args.compare_samples and py and scale == 1.0:
        compare = compare_samples(tf[0]["output"], py["output"])
    write({"n": args.n, "seed": args.seed, "corpus_dir": corpus_dir, "corpus_mb": corpus_mb, "tokenizer": args.tokenizer,
           "machine": f"{platform.node()}, {os.cpu_count()} cores, {platform.platform()}",
           "load_before": load_before, "load_after": load_after, "trajforge": tf, "python": py, "python_scale": scale,
           "compare": compare}, args.work)


if __name__ == "__main__":
    main()
