#!/usr/bin/env python3
"""Render speed of Python jinja2 on the real chat templates, set up as transformers does.

    .venv/bin/python tools/jinja/bench_python.py [--shared DIR] [--iterations N] [TEMPLATE ...]

Same inputs as tools/jinja/bench (the Swift side): the golden conversation, full variant, checked
against the golden before timing.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_goldens import compiler  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NAMES = [
    "xLAM-2-fc-r-llama.vllm", "xLAM-2-fc-r-qwen.vllm", "xLAM-2-fc-r-qwen.hf-reconstructed",
    "Llama-3.1-8B-Instruct", "Llama-3.3-70B-Instruct", "Llama-3.2-3B-Instruct", "Llama-3.1-json.vllm",
    "Qwen2.5-7B-Instruct", "Hermes-2-Pro-Llama-3-8B.tool_use", "Hermes-3-Llama-3.1-8B.tool_use",
    "Hermes-Qwen2.5-style.vllm", "Mistral-Nemo-Instruct-2407", "Mistral-7B-Instruct-v0.3-style.vllm",
]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--shared", default=os.environ.get("TRAJFORGE_SHARED") or os.path.join(os.path.dirname(ROOT), "shared"))
    p.add_argument("--iterations", type=int, default=3000)
    p.add_argument("templates", nargs="*")
    a = p.parse_args()
    compile_fn, how = compiler()
    templates = os.path.join(a.shared, "templates")
    with open(os.path.join(templates, "rendered", "input-conversation.json"), encoding="utf-8") as f:
        conv = json.load(f)
    for name in a.templates or NAMES:
        with open(os.path.join(templates, name + ".jinja"), encoding="utf-8") as f:
            template = compile_fn(f.read())
        template.environment.globals["strftime_now"] = lambda fmt: "07 Apr 2025"
        ctx = dict(messages=conv["messages"], add_generation_prompt=False,
                   tools=conv["tools_raw_for_xlam"] if name.startswith("xLAM") else conv["tools_wrapped"])
        if "qwen" in name.lower():
            ctx["bos_token"] = None
        elif name.startswith("Mistral"):
            ctx.update(bos_token="<s>", eos_token="</s>")
        else:
            ctx["bos_token"] = "<|begin_of_text|>"
        with open(os.path.join(templates, "rendered", name + ".full.txt"), encoding="utf-8") as f:
            if template.render(**ctx) != f.read():
                sys.exit(f"{name}: output differs from the golden")
        for _ in range(min(a.iterations, 300)):
            template.render(**ctx)
        t0 = time.perf_counter()
        for _ in range(a.iterations):
            template.render(**ctx)
        us = (time.perf_counter() - t0) / a.iterations * 1e6
        print(f"python jinja2 ({how}) {name}: {us:.1f} us/render ({a.iterations} renders)")


if __name__ == "__main__":
    main()
