#!/usr/bin/env python3
"""Render the Jinja conformance cases with real jinja2, configured as HF transformers does.

Reads   tools/jinja/conformance_cases.jsonl        ({"name", "template" or "template_file", "context"}
        per line; "template_file" names a real chat template in ../shared/templates, which is read
        from there and never copied into this repository)
Writes  Tests/JinjaTests/Fixtures/conformance-goldens.jsonl
        ({"name", "output"} or {"name", "error": "<exception class>"}, plus "spans" for templates
        using {% generation %}: UTF-8 byte ranges of the generated text).

The environment is transformers' own (`_compile_jinja_template`) when transformers is importable,
otherwise an exact replica of it. `strftime_now` is pinned to 2025-04-07 13:05:09.123456 (a Monday),
the date the Swift test pins too. Set JINJA_GOLDENS_REPLICA=1 to use the replica even when transformers is
installed (both must give the same goldens). Rerun after editing the cases; CI checks the goldens
are current:

    .venv/bin/python tools/jinja/make_goldens.py && git diff --exit-code Tests/JinjaTests/Fixtures
"""

import json
import os
import sys
from datetime import datetime

import jinja2

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CASES = os.path.join(ROOT, "tools", "jinja", "conformance_cases.jsonl")
GOLDENS = os.path.join(ROOT, "Tests", "JinjaTests", "Fixtures", "conformance-goldens.jsonl")
SHARED = os.environ.get("TRAJFORGE_SHARED") or os.path.join(os.path.dirname(ROOT), "shared")
SHARED_TEMPLATES = os.path.join(SHARED, "templates")
PINNED = datetime(2025, 4, 7, 13, 5, 9, 123456)


def compile_with_transformers(source):
    from transformers.utils.chat_template_utils import _cached_compile_jinja_template

    return _cached_compile_jinja_template(source)


def compile_replica(source):
    """transformers' `_cached_compile_jinja_template`, for when transformers is not installed."""
    from contextlib import contextmanager
    from contextvars import ContextVar

    import jinja2.ext
    import jinja2.nodes
    import jinja2.utils
    from jinja2.ext import Extension
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class AssistantTracker(Extension):
        tags = {"generation"}

        def __init__(self, environment):
            super().__init__(environment)
            environment.extend(activate_tracker=self.activate_tracker)
            self._tracking = ContextVar("assistant_tracker", default=None)

        def parse(self, parser):
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
            return jinja2.nodes.CallBlock(self.call_method("_generation_support"), [], [], body).set_lineno(lineno)

        @jinja2.pass_eval_context
        def _generation_support(self, context, caller):
            rv = caller()
            tracking = self._tracking.get()
            if tracking is not None:
                rendered_blocks, generation_indices = tracking
                start_index = len("".join(rendered_blocks))
                generation_indices.append((start_index, start_index + len(rv)))
            return rv

        @contextmanager
        def activate_tracker(self, rendered_blocks, generation_indices):
            token = self._tracking.set((rendered_blocks, generation_indices))
            try:
                yield
            finally:
                self._tracking.reset(token)

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    class TemplateDict:
        def __call__(self, *args, **kwargs):
            return dict(*args, **kwargs)

        def fromkeys(self, *args, **kwargs):
            return dict.fromkeys(*args, **kwargs)

    class TemplateNamespace(jinja2.utils.Namespace):
        def __init__(*args, **kwargs):
            self, args = args[0], args[1:]
            attrs = dict(*args, **kwargs)
            for name in attrs:
                TemplateNamespace._check_name(name)
            jinja2.utils.Namespace.__init__(self, attrs)

        def __setitem__(self, name, value):
            TemplateNamespace._check_name(name)
            jinja2.utils.Namespace.__setitem__(self, name, value)

        @staticmethod
        def _check_name(name):
            if isinstance(name, str) and name.startswith("_"):
                raise jinja2.exceptions.SecurityError(
                    f"Chat templates cannot store underscore-prefixed attributes on a namespace, but got {name!r}. "
                    "Please rename the attribute."
                )

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[AssistantTracker, jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    env.globals["dict"] = TemplateDict()
    env.globals["namespace"] = TemplateNamespace
    return env.from_string(source)


def compiler():
    if os.environ.get("JINJA_GOLDENS_REPLICA"):
        return compile_replica, "replica"
    try:
        import transformers.utils.chat_template_utils  # noqa: F401

        return compile_with_transformers, "transformers"
    except Exception:
        return compile_replica, "replica"


def byte_offsets(text, char_ranges):
    """Character ranges of `text` as UTF-8 byte ranges."""
    out = []
    for start, end in char_ranges:
        b0 = len(text[:start].encode("utf-8"))
        b1 = b0 + len(text[start:end].encode("utf-8"))
        out.append([b0, b1])
    return out


def case_source(case):
    if "template_file" in case:
        with open(os.path.join(SHARED_TEMPLATES, case["template_file"]), encoding="utf-8") as f:
            return f.read()
    return case["template"]


def render_case(compile_fn, case):
    source = case_source(case)
    template = compile_fn(source)
    template.environment.globals["strftime_now"] = lambda fmt: PINNED.strftime(fmt)
    context = case.get("context", {})
    if "{% generation" in source or "{%- generation" in source:
        blocks, indices = [], []
        with template.environment.activate_tracker(blocks, indices):
            for block in template.generate(**context):
                blocks.append(block)
        text = "".join(blocks)
        return {"output": text, "spans": byte_offsets(text, indices)}
    return {"output": template.render(**context)}


def main():
    compile_fn, how = compiler()
    sys.setrecursionlimit(1000)
    results = []
    names = set()
    with open(CASES, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            case = json.loads(line)
            name = case["name"]
            if name in names:
                sys.exit(f"{CASES}:{lineno}: duplicate case name {name!r}")
            names.add(name)
            try:
                result = render_case(compile_fn, case)
            except RecursionError:
                result = {"error": "RecursionError"}
            except Exception as e:  # noqa: BLE001 - every exception class is recorded
                result = {"error": type(e).__name__}
            results.append({"name": name, **result})
    os.makedirs(os.path.dirname(GOLDENS), exist_ok=True)
    with open(GOLDENS, "w", encoding="utf-8") as f:
        for r in results:
            f.write(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n")
    errors = sum(1 for r in results if "error" in r)
    print(f"{len(results)} cases ({errors} errors) rendered with jinja2 {jinja2.__version__} ({how}) -> {GOLDENS}")


if __name__ == "__main__":
    main()
