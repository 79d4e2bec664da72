#!/usr/bin/env python3
"""Replay a `trajforge render --trace` file with HF transformers' own chat-template renderer.

Every render trajforge made (its template variables and output, or its error) is rendered again by
`transformers.utils.chat_template_utils.render_jinja_template` — the function `apply_chat_template`
calls, with jinja2's ImmutableSandboxedEnvironment, transformers' tojson, raise_exception and
strftime_now (pinned to the trace's --date when it has one). Outputs must be byte-identical, and
where jinja2 raises, trajforge must have raised too.

usage: render_conformance.py TRACE.jsonl [TRACE.jsonl ...] [--jobs N]
Exit status 1 on any disagreement.
"""
import datetime
import json
import multiprocessing
import os
import sys

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from transformers.utils import chat_template_utils as ctu  # noqa: E402

_SOURCE = None


def _init(source, date):
    global _SOURCE
    _SOURCE = source
    compiled = ctu._compile_jinja_template(source)
    if date:
        day = datetime.datetime.strptime(date, "%Y-%m-%d")
        compiled.globals["strftime_now"] = lambda fmt: day.strftime(fmt)


def _render(line):
    record = json.loads(line)
    v = dict(record["variables"])
    messages = v.pop("messages")
    tools = v.pop("tools")
    documents = v.pop("documents")
    gen = v.pop("add_generation_prompt")
    try:
        rendered, _ = ctu.render_jinja_template(conversations=[messages], tools=tools, documents=documents,
                                                chat_template=_SOURCE, add_generation_prompt=gen, **v)
        python = ("ok", rendered[0])
    except Exception as e:  # jinja2 / template errors: both sides must raise
        python = ("error", f"{type(e).__name__}: {e}")
    if "error" in record:
        ours = ("error", f"{record['error']['kind']}: {record['error']['message']}")
    else:
        ours = ("ok", record["output"])
    if python[0] != ours[0]:
        return ("mismatch", record["record"], f"python {python[0]} ({python[1][:200]}), trajforge {ours[0]} ({ours[1][:200]})")
    if python[0] == "error":
        return ("both-error", record["record"], python[1][:200])
    if python[1] != ours[1]:
        a, b = python[1], ours[1]
        at = next((k for k in range(min(len(a), len(b))) if a[k] != b[k]), min(len(a), len(b)))
        return ("mismatch", record["record"], f"first difference at character {at}: python {a[max(0, at - 40):at + 40]!r} vs trajforge {b[max(0, at - 40):at + 40]!r}")
    return ("identical", record["record"], "")


def check(path, jobs):
    with open(path, encoding="utf-8") as f:
        header = json.loads(f.readline())
        lines = f.readlines()
    if jobs > 1:
        with multiprocessing.Pool(jobs, initializer=_init, initargs=(header["source"], header.get("date"))) as pool:
            results = pool.map(_render, lines, chunksize=64)
    else:
        _init(header["source"], header.get("date"))
        results = [_render(line) for line in lines]
    counts = {}
    for kind, _, _ in results:
        counts[kind] = counts.get(kind, 0) + 1
    mismatches = [r for r in results if r[0] == "mismatch"]
    errors = sorted({r[2].split(":")[0] for r in results if r[0] == "both-error"})
    print(f"{header['template']}: {len(results)} renders: {counts.get('identical', 0)} byte-identical, "
          f"{counts.get('both-error', 0)} raised in both ({', '.join(errors) or '-'}), {len(mismatches)} mismatches")
    for _, rec, detail in mismatches[:5]:
        print(f"  {rec}: {detail}")
    return len(mismatches)


def main():
    args = sys.argv[1:]
    jobs = os.cpu_count() or 1
    if "--jobs" in args:
        i = args.index("--jobs")
        jobs = int(args[i + 1])
        del args[i:i + 2]
    if not args:
        sys.exit(__doc__)
    bad = sum(check(p, jobs) for p in args)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
