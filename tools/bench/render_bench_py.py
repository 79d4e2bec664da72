#!/usr/bin/env python3
"""Python side of the render benchmark: the same per-turn work as `trajforge-bench render` with
transformers' chat-template renderer (jinja2 in HF's environment), single thread.

For every assistant reply of every canonical trajectory: render the conversation through the reply
(add_generation_prompt=False) and the conversation before it (add_generation_prompt=True), as
trajforge does to find the supervised span. Messages are prepared once per trajectory (outside the
timing), like trajforge's template context.

usage: render_bench_py.py TRAJECTORIES.jsonl TEMPLATE.jinja [--raw-tools] [--bos TOKEN]
"""
import json
import os
import sys
import time

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
from transformers.utils import chat_template_utils as ctu  # noqa: E402


def messages_of(t):
    out = []
    if t.get("system") is not None:
        out.append({"role": "system", "content": t["system"]})
    for m in t["messages"]:
        msg = {"role": m["role"]}
        if m.get("content") is not None:
            msg["content"] = m["content"]
        if m.get("tool_calls"):
            msg["tool_calls"] = [{"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}} for c in m["tool_calls"]]
        if m["role"] == "tool":
            msg["tool_call_id"] = m["tool_call_id"]
            msg["name"] = m["name"]
        out.append(msg)
    return out


def main():
    args = sys.argv[1:]
    raw = "--raw-tools" in args
    bos = None
    if "--bos" in args:
        bos = args[args.index("--bos") + 1]
    path, template_path = [a for a in args if not a.startswith("--") and a != bos][:2]
    source = open(template_path, encoding="utf-8").read()
    compiled = ctu._compile_jinja_template(source)
    trajectories = [json.loads(line) for line in open(path, encoding="utf-8")]
    work = []
    for t in trajectories:
        msgs = messages_of(t)
        tools = [x["function"] for x in t["tools"]] if raw else t["tools"]
        offset = 1 if t.get("system") is not None else 0
        replies = [offset + k for k, m in enumerate(t["messages"]) if m["role"] == "assistant"]
        work.append((msgs, tools or None, replies))
    extra = {"bos_token": bos} if bos else {}
    best = None
    for _ in range(3):
        start = time.perf_counter()
        samples = 0
        for msgs, tools, replies in work:
            for i in replies:
                compiled.render(messages=msgs[: i + 1], tools=tools, documents=None, add_generation_prompt=False, **extra)
                compiled.render(messages=msgs[:i], tools=tools, documents=None, add_generation_prompt=True, **extra)
                samples += 1
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    print(f"python jinja2 (transformers environment) {os.path.basename(template_path)}: {len(work)} trajectories, "
          f"{samples} samples | 1 thread {samples / best:.0f} samples/s ({best * 1000 / len(work):.1f} ms/trajectory)")


if __name__ == "__main__":
    main()
