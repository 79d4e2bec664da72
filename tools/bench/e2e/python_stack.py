#!/usr/bin/env python3
"""The end-to-end benchmark's Python side: the stages of tools/bench/e2e/e2e.yaml with the
ecosystem's libraries, single process, on the same corpus (gen_e2e_corpus.py), timing each stage.

Like `trajforge run`, every stage reads the previous stage's file and writes its own (JSONL, with a
drops file), so each stage's time includes its JSON parsing and writing:

  ingest    json.load of the tau-bench results file (as tau-bench's own tools read it) -> canonical
            trajectories (arguments parsed, verified success from reward_info.info.r_actions, ids
            from SHA-256 of the record)                                -> trajectories.jsonl
  validate  the conversation checks of `trajforge validate` (call ids, results, order) and the tool
            arguments against their schemas with `jsonschema` (Draft 2020-12 validators, cached per
            schema); lenient: errors drop                                 -> valid.jsonl
  filter    verified successes only; secrets (API keys, tokens, private keys, credentials) drop,
            personal data (email, phone, card) counted, with `re` patterns over every text field
                                                                           -> filtered.jsonl
  dedup     exact: SHA-256 of the canonical form; near: `datasketch` MinHash (112 permutations,
            xxh64 shingle hashes) + MinHashLSH (14 bands x 8 rows), Jaccard >= 0.8 verified, union-
            find, keep the first verified record of a cluster (tools/dedup/datasketch_bench.py's
            shingles and rules, its most favourable setup)                 -> unique.jsonl
  split     by task group, seeded SHA-256 (trajforge's rule), 5% validation -> splits/*.jsonl
  render    per split, per assistant reply: the conversation through the reply and the prompt
            before it rendered with the model folder's chat template in transformers' jinja2
            environment (`transformers.utils.chat_template_utils._compile_jinja_template`:
            ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, tojson, raise_exception,
            strftime_now; the special tokens of tokenizer_config.json passed as apply_chat_template
            passes them), the reply's span (prefix of the prompt render, through its last end-of-
            turn token), HF `tokenizers` encode (special tokens parsed, none added; one Rayon
            thread), labels from the token offsets, end-of-turn and max-tokens checks
                                                                           -> sft/*.jsonl
  shard     gzip JSONL (level 6, mtime 0) shards of at most 64 MiB of JSONL each, SHA-256 per shard,
            manifest.json                                                  -> shards/sft/*/

usage: python_stack.py --corpus DIR --tokenizer DIR --out DIR [--json FILE] [--validation 0.05]
Prints one line per stage (records in/out, seconds, CPU seconds, peak RSS) and writes the timings
as JSON with --json.
"""
import argparse
import bisect
import gzip
import hashlib
import json
import os
import re
import resource
import sys
import time

os.environ.setdefault("RAYON_NUM_THREADS", "1")        # HF tokenizers: one core, like the rest
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from datasketch import MinHash, MinHashLSH  # noqa: E402
from jsonschema import Draft202012Validator  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402
from transformers.utils import chat_template_utils as ctu  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "dedup"))
import datasketch_bench as dsb  # noqa: E402  (shingles, exact canonical form)


def dumps(o):
    return json.dumps(o, ensure_ascii=False, separators=(",", ":"))


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class Stage:
    def __init__(self, name, results):
        self.name, self.results = name, results
        self.records_in = self.kept = self.dropped = 0
        self.outputs = 0
        self.notes = {}

    def __enter__(self):
        self.t0, self.c0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        if exc[0] is not None:
            return False
        seconds, cpu = time.perf_counter() - self.t0, time.process_time() - self.c0
        r = {"stage": self.name, "seconds": seconds, "cpu_seconds": cpu, "records_in": self.records_in,
             "kept": self.kept, "dropped": self.dropped, "outputs": self.outputs, "peak_rss_mb": peak_rss_mb(), "notes": self.notes}
        self.results.append(r)
        notes = ", ".join(f"{k} {v}" for k, v in sorted(self.notes.items()))
        print(f"{self.name:9s} in {self.records_in:8d}  kept {self.kept:8d}  dropped {self.dropped:7d}  out {self.outputs:8d}  "
              f"{seconds:8.2f} s  cpu {cpu:8.2f} s  rss {peak_rss_mb():7.0f} MB  {notes}", file=sys.stderr, flush=True)
        return False

    def note(self, key, n=1):
        self.notes[key] = self.notes.get(key, 0) + n


def drop(f, t_id, stage, reason, detail):
    f.write(dumps({"id": t_id, "stage": stage, "reason": reason, "detail": detail}) + "\n")


# ---------------------------------------------------------------------------------------- ingest

def ingest(corpus, out, st, domain="bookshop"):
    path = os.path.join(corpus, "rollouts.json")
    with open(os.path.join(corpus, "tools.json"), encoding="utf-8") as f:
        tools = [t if "function" in t else {"type": "function", "function": t} for t in json.load(f)]
    with open(path, encoding="utf-8") as f:
        records = json.load(f)
    with open(out, "w", encoding="utf-8") as w:
        for index, r in enumerate(records):
            st.records_in += 1
            traj = r["traj"]
            system = None
            if traj and traj[0].get("role") == "system":
                system, traj = traj[0]["content"], traj[1:]
            messages = []
            for m in traj:
                msg = {"role": m["role"], "content": m.get("content")}
                if m.get("tool_calls"):
                    msg["tool_calls"] = [{"id": c["id"], "name": c["function"]["name"], "arguments": json.loads(c["function"]["arguments"])}
                                         for c in m["tool_calls"]]
                if m["role"] == "tool":
                    msg["tool_call_id"] = m["tool_call_id"]
                    msg["name"] = m["name"]
                messages.append(msg)
            info = dict(r.get("info") or {})
            task = dict(info.pop("task", None) or {})
            reward_info = info.pop("reward_info", None)
            reward = r.get("reward")
            checks = (reward_info or {}).get("info") or {}
            if "r_actions" in checks:
                success = checks["r_actions"] >= 1.0
            elif "r_outputs" in checks:
                success = checks["r_outputs"] >= 1.0 and (reward or 0) > 0
            else:
                success = None if reward is None else reward >= 1.0
            instruction = task.pop("instruction", None)
            actions = [{"name": a["name"], "arguments": a.get("kwargs", a.get("arguments"))} for a in task.pop("actions", None) or []]
            outputs = task.pop("outputs", None) or []
            task_id, trial = r.get("task_id"), r.get("trial")
            digest = hashlib.sha256(dumps(r).encode("utf-8") + index.to_bytes(8, "little")).hexdigest()[:16]
            meta = {"task_id": task_id}
            if info:
                meta["info"] = info
            t = {"id": f"{domain}-{task_id}-t{trial}-{digest}",
                 "source": {"format": "tau-bench", "file": path, "index": index},
                 "group": f"{domain}:{task_id}", "trial": trial, "domain": domain, "system": system, "tools": tools,
                 "messages": messages,
                 "outcome": {"success": success, "reward": reward, "checks": reward_info},
                 "task": {"instruction": instruction, "actions": actions, "outputs": outputs, "meta": task},
                 "meta": meta}
            w.write(dumps(t) + "\n")
            st.kept += 1
            st.outputs += 1
    del records


# -------------------------------------------------------------------------------------- validate

SCHEMA_CODES = {"required": "missing-required-argument", "type": "wrong-argument-type", "enum": "argument-not-in-enum",
                "const": "argument-not-in-enum", "additionalProperties": "unexpected-argument",
                "anyOf": "argument-matches-no-alternative", "oneOf": "argument-matches-no-alternative"}
WARNINGS = {"no-user-turn", "unanswered-tool-call", "consecutive-user-turns", "late-system-message", "empty-turn", "missing-outcome"}
NOTICES = {"tool-error-result", "simulator-control-text"}
CONTROL = ("###STOP###", "###TRANSFER###", "###OUT-OF-SCOPE###")


def findings(t, validators):
    out = []
    msgs = t["messages"]
    if not msgs or not any(m["role"] == "assistant" for m in msgs):
        out.append(("empty-conversation", "messages"))
    if not any(m["role"] == "user" for m in msgs):
        out.append(("no-user-turn", "messages"))
    schemas = {}
    tools_key = dumps(t["tools"])
    cached = validators.get(tools_key)
    if cached is None:
        for tool in t["tools"]:
            f = tool.get("function", tool)
            schemas[f["name"]] = Draft202012Validator(f.get("parameters") or {})
        validators[tools_key] = schemas
    else:
        schemas = cached
    calls_n = sum(len(m.get("tool_calls") or []) for m in msgs)
    if calls_n and not schemas:
        out.append(("no-tool-schemas", "tools"))
    calls, answered, open_turn, pending, last_role = {}, set(), None, set(), None
    for k, m in enumerate(msgs):
        role, content, tcs = m["role"], m.get("content"), m.get("tool_calls") or []
        if role != "assistant" and tcs:
            out.append(("tool-calls-outside-assistant", f"messages[{k}]"))
        if role == "system" and k > 0:
            out.append(("late-system-message", f"messages[{k}]"))
        if role == "user" and last_role == "user":
            out.append(("consecutive-user-turns", f"messages[{k}]"))
        if role in ("user", "assistant") and not tcs and not (content or "").strip():
            out.append(("empty-turn", f"messages[{k}]"))
        if role == "user" and content and any(c in content for c in CONTROL):
            out.append(("simulator-control-text", f"messages[{k}]"))
        if role == "tool" and (content or "").startswith("Error"):
            out.append(("tool-error-result", f"messages[{k}]"))
        if role == "assistant":
            if pending:
                open_turn = None
            for c, call in enumerate(tcs):
                at = f"messages[{k}].tool_calls[{c}]"
                if call["id"] in calls:
                    out.append(("duplicate-call-id", at))
                calls[call["id"]] = (call["name"], k)
                if schemas:
                    v = schemas.get(call["name"])
                    if v is None:
                        out.append(("unknown-tool", at))
                    else:
                        for e in v.iter_errors(call["arguments"]):
                            out.append((SCHEMA_CODES.get(e.validator, "argument-out-of-range"), f"{at}.arguments: {e.message}"))
            if tcs:
                open_turn, pending = k, {c["id"] for c in tcs}
            else:
                open_turn, pending = None, set()
        elif role == "tool":
            cid = m.get("tool_call_id")
            call = calls.get(cid)
            if call is None:
                out.append(("orphan-tool-result", f"messages[{k}]"))
            else:
                if cid in answered:
                    out.append(("duplicate-tool-result", f"messages[{k}]"))
                answered.add(cid)
                if m.get("name") is not None and m["name"] != call[0]:
                    out.append(("tool-name-mismatch", f"messages[{k}]"))
                if open_turn != call[1]:
                    out.append(("tool-result-out-of-order", f"messages[{k}]"))
                pending.discard(cid)
        else:
            open_turn, pending = None, set()
        last_role = role
    for k, m in enumerate(msgs):
        for c, call in enumerate(m.get("tool_calls") or []):
            if call["id"] not in answered:
                out.append(("unanswered-tool-call", f"messages[{k}].tool_calls[{c}]"))
    if (t.get("outcome") or {}).get("success") is None:
        out.append(("missing-outcome", "outcome"))
    return out


def validate(src, out, drops_path, st):
    validators = {}
    with open(src, encoding="utf-8") as f, open(out, "w", encoding="utf-8") as w, open(drops_path, "w", encoding="utf-8") as d:
        for line in f:
            st.records_in += 1
            t = json.loads(line)
            found = findings(t, validators)
            errors = [x for x in found if x[0] not in WARNINGS and x[0] not in NOTICES]
            for reason, _ in found:
                st.note(reason)
            if errors:
                drop(d, t["id"], "validate", errors[0][0], errors[0][1])
                st.dropped += 1
                continue
            w.write(dumps(t) + "\n")   # trajforge writes every kept record again (canonical form)
            st.kept += 1
            st.outputs += 1


# ---------------------------------------------------------------------------------------- filter

TOKEN = r"[A-Za-z0-9_-]"
SECRET = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----"
    r"|\bsk-" + TOKEN + r"{20,}"
    r"|\bgh[pousr]_[A-Za-z0-9]{30,}|\bgithub_pat_[A-Za-z0-9_]{22,}|\bglpat-" + TOKEN + r"{20,}|\bhf_[A-Za-z0-9]{30,}"
    r"|\bAIza" + TOKEN + r"{35,}|\bxox[bpars]-" + TOKEN + r"{10,}|\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"
    r"|\beyJ[A-Za-z0-9_-]{7,}\.eyJ[A-Za-z0-9_-]{7,}\.[A-Za-z0-9_-]{10,}"
    r"|\bBearer [A-Za-z0-9._~+/=-]{8,}"
    r"|\b(?:password|passwd|api_key|apikey|api-key|secret_key|client_secret|access_token|auth_token)\s*[:=]\s*[\"']?[^\s\"']{6,}")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
PHONE = re.compile(r"(?<![\w])(?:\+?\d{1,3}[ .-]?)?(?:\(\d{3}\)|\d{3})[ .-]?\d{3}[ .-]?\d{4}(?![\w])")
CARD = re.compile(r"(?<!\d)(?:\d[ -]?){13,19}(?!\d)")
INTERESTING = re.compile(r"[@0-9_-]")


def strings(v):
    if isinstance(v, str):
        yield v
    elif isinstance(v, list):
        for x in v:
            yield from strings(x)
    elif isinstance(v, dict):
        for x in v.values():
            yield from strings(x)


def texts(t):
    if t.get("system") is not None:
        yield t["system"]
    for m in t["messages"]:
        if m.get("content") is not None:
            yield m["content"]
        for c in m.get("tool_calls") or []:
            yield from strings(c["arguments"])
        yield from strings(m.get("meta") or {})
    task = t.get("task")
    if task:
        if task.get("instruction") is not None:
            yield task["instruction"]
        yield from strings(task.get("actions"))
        yield from strings(task.get("outputs"))
        yield from strings(task.get("meta"))
    if t.get("outcome"):
        yield from strings(t["outcome"].get("checks"))
    yield from strings(t.get("meta"))


def luhn(digits):
    total, alt = 0, False
    for ch in reversed(digits):
        d = ord(ch) - 48
        if alt:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
        alt = not alt
    return total % 10 == 0


def filter_(src, out, drops_path, st):
    with open(src, encoding="utf-8") as f, open(out, "w", encoding="utf-8") as w, open(drops_path, "w", encoding="utf-8") as d:
        for line in f:
            st.records_in += 1
            t = json.loads(line)
            if (t.get("outcome") or {}).get("success") is not True:
                drop(d, t["id"], "filter", "not-verified", "outcome does not pass --verified-only success")
                st.dropped += 1
                continue
            secrets = 0
            for text in texts(t):
                if not INTERESTING.search(text):
                    continue
                secrets += len(SECRET.findall(text))
                st.note("email occurrences found", len(EMAIL.findall(text)))
                st.note("phone occurrences found", len(PHONE.findall(text)))
                st.note("card occurrences found", sum(1 for m in CARD.finditer(text) if luhn(re.sub(r"\D", "", m.group()))))
            if secrets:
                drop(d, t["id"], "filter", "secret-found", f"{secrets} secret value(s) found")
                st.dropped += 1
                continue
            w.write(dumps(t) + "\n")
            st.kept += 1
            st.outputs += 1


# ----------------------------------------------------------------------------------------- dedup

def dedup(src, out, drops_path, st):
    n_perm = dsb.BANDS * dsb.ROWS
    lsh = MinHashLSH(threshold=dsb.THRESHOLD, num_perm=n_perm, params=(dsb.BANDS, dsb.ROWS))
    ids, verified, parent, exact_of, minhashes = [], [], [], [], {}
    first_by_digest, tools_cache = {}, {}
    with open(src, "rb") as f:
        for i, line in enumerate(f):
            st.records_in += 1
            t = json.loads(line)
            ids.append(t["id"])
            verified.append((t.get("outcome") or {}).get("success") is True)
            parent.append(i)
            first = first_by_digest.setdefault(dsb.exact_digest(t, tools_cache), i)
            exact_of.append(first)
            if first != i:
                dsb.union(parent, i, first)
                continue
            hashes = [h & 0xFFFFFFFF for h in dsb.shingle_hashes(t)]
            if not hashes:
                continue
            m = MinHash(num_perm=n_perm, seed=dsb.SEED, hashfunc=lambda x: x)
            m.update_batch(hashes)
            for other in lsh.query(m):
                if minhashes[other].jaccard(m) >= dsb.THRESHOLD:
                    dsb.union(parent, i, other)
            lsh.insert(i, m, check_duplication=False)
            minhashes[i] = m
    kept = {}
    for i in range(len(ids)):
        r = dsb.find(parent, i)
        k = kept.get(r)
        if k is None or (not verified[k] and verified[i]):
            kept[r] = i
    # Second pass: the kept lines as they are, in input order.
    with open(src, "rb") as f, open(out, "wb") as w, open(drops_path, "w", encoding="utf-8") as d:
        for i, line in enumerate(f):
            k = kept[dsb.find(parent, i)]
            if k == i:
                w.write(line)
                st.kept += 1
                st.outputs += 1
            else:
                reason = "exact-duplicate" if exact_of[i] == exact_of[k] else "near-duplicate"
                st.note(reason)
                drop(d, ids[i], "dedup", reason, f"duplicate of {ids[k]}")
                st.dropped += 1


# ----------------------------------------------------------------------------------------- split

def split_of(key, seed, validation, test=0.0):
    digest = hashlib.sha256(f"{seed}\0{key}".encode("utf-8")).digest()
    u = (int.from_bytes(digest[:8], "big") >> 11) / float(1 << 53)
    if u < test:
        return "test"
    if u < test + validation:
        return "validation"
    return "train"


def split(src, folder, st, seed=6, validation=0.05):
    os.makedirs(folder, exist_ok=True)
    outs = {name: open(os.path.join(folder, f"{name}.jsonl"), "w", encoding="utf-8") for name in ("train", "validation")}
    try:
        with open(src, encoding="utf-8") as f:
            for line in f:
                st.records_in += 1
                t = json.loads(line)
                key = "group:" + t["group"] if t.get("group") is not None else (
                    "instruction:" + t["task"]["instruction"] if (t.get("task") or {}).get("instruction") is not None else "id:" + t["id"])
                name = split_of(key, seed, validation)
                outs[name].write(dumps(t) + "\n")
                st.note(name)
                st.kept += 1
                st.outputs += 1
    finally:
        for o in outs.values():
            o.close()


# ---------------------------------------------------------------------------------------- render

class Renderer:
    def __init__(self, folder, max_tokens):
        with open(os.path.join(folder, "tokenizer_config.json"), encoding="utf-8") as f:
            config = json.load(f)
        self.source = config["chat_template"]
        if isinstance(self.source, list):
            self.source = next(x["template"] for x in self.source if x.get("name") == "default")
        self.template = ctu._compile_jinja_template(self.source)
        # apply_chat_template passes the tokenizer's special tokens (bos_token, eos_token, ...).
        self.special = {}
        for k, v in config.items():
            if k.endswith("_token") and v is not None:
                self.special[k] = v["content"] if isinstance(v, dict) else v
        self.tokenizer = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
        self.raw_tools = "xLAM" in self.source
        self.end_of_turn = [m for m in ("<|eot_id|>", "<|eom_id|>", "<|im_end|>") if m in self.source]
        self.eot_ids = {self.tokenizer.token_to_id(m) for m in self.end_of_turn}
        self.max_tokens = max_tokens
        self.template_info = {"name": os.path.join(folder, "tokenizer_config.json"),
                              "sha256": hashlib.sha256(self.source.encode("utf-8")).hexdigest()}

    @staticmethod
    def messages_of(t):
        out = []
        if t.get("system") is not None:
            out.append({"role": "system", "content": t["system"]})
        for m in t["messages"]:
            msg = {"role": m["role"]}
            if m.get("content") is not None:
                msg["content"] = m["content"]
            if m.get("tool_calls"):
                msg["tool_calls"] = [{"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
                                     for c in m["tool_calls"]]
            if m["role"] == "tool":
                msg["tool_call_id"] = m["tool_call_id"]
                msg["name"] = m["name"]
            out.append(msg)
        return out

    def render(self, messages, tools, generation):
        return self.template.render(messages=messages, tools=tools, documents=None, add_generation_prompt=generation, **self.special)

    def samples(self, t, st, drops):
        msgs = self.messages_of(t)
        tools = ([x.get("function", x) for x in t["tools"]] if self.raw_tools else t["tools"]) or None
        offset = 1 if t.get("system") is not None else 0
        pending = []   # (k, text, span)
        for k, m in enumerate(t["messages"]):
            if m["role"] != "assistant":
                continue
            i = offset + k
            full = self.render(msgs[: i + 1], tools, False)
            prompt = self.render(msgs[:i], tools, True)
            if not full.startswith(prompt):
                st.note("samples dropped: span-not-found")
                drop(drops, f"{t['id']}#{k}", "render", "span-not-found", "prompt render is not a prefix")
                continue
            start = len(prompt)
            end = -1
            for marker in self.end_of_turn:
                p = full.rfind(marker, start)
                if p >= 0:
                    end = max(end, p + len(marker))
            if end < 0:
                st.note("samples dropped: no-end-of-turn")
                drop(drops, f"{t['id']}#{k}", "render", "no-end-of-turn", "no end-of-turn token after the reply")
                continue
            pending.append((k, full, (start, end)))
        if not pending:
            return []
        encodings = self.tokenizer.encode_batch([p[1] for p in pending], add_special_tokens=False)
        lines = []
        for (k, text, (s, e)), enc in zip(pending, encodings):
            ids, offsets = enc.ids, enc.offsets
            n = len(ids)
            # A token is supervised when its characters overlap the span (one span per sample).
            ends = [o[1] for o in offsets]
            first = bisect.bisect_right(ends, s)           # first token ending after s
            starts = [o[0] for o in offsets]
            last = bisect.bisect_left(starts, e) - 1       # last token starting before e
            if last < first or ids[last] not in self.eot_ids:
                st.note("samples dropped: end-of-turn-not-tokenized")
                drop(drops, f"{t['id']}#{k}", "render", "end-of-turn-not-tokenized", "span does not end with an end-of-turn token")
                continue
            if self.max_tokens and n > self.max_tokens:
                st.note("samples dropped: too-long")
                drop(drops, f"{t['id']}#{k}", "render", "too-long", f"{n} tokens")
                continue
            labels = [-100] * first + ids[first:last + 1] + [-100] * (n - last - 1)
            st.note("tokens", n)
            st.note("supervised tokens", last + 1 - first)
            lines.append(dumps({"id": f"{t['id']}#{k}", "trajectory_id": t["id"], "mode": "per-turn", "turns": [k], "text": text,
                                "spans": [[s, e]], "span_method": "prefix", "template": self.template_info,
                                "input_ids": ids, "labels": labels, "group": t.get("group"), "domain": t.get("domain"),
                                "success": (t.get("outcome") or {}).get("success"), "source": t["source"]}))
        return lines


def render(renderer, src, out, drops_path, st):
    with open(src, encoding="utf-8") as f, open(out, "w", encoding="utf-8") as w, open(drops_path, "w", encoding="utf-8") as d:
        for line in f:
            st.records_in += 1
            t = json.loads(line)
            lines = renderer.samples(t, st, d)
            if not lines:
                drop(d, t["id"], "render", "no-samples", "every reply was dropped")
                st.dropped += 1
                continue
            st.kept += 1
            for s in lines:
                w.write(s + "\n")
            st.outputs += len(lines)


# ----------------------------------------------------------------------------------------- shard

class HashingFile:
    def __init__(self, path):
        self.f, self.h, self.n = open(path, "wb"), hashlib.sha256(), 0

    def write(self, b):
        self.h.update(b)
        self.n += len(b)
        return self.f.write(b)

    def flush(self):
        self.f.flush()

    def close(self):
        self.f.close()


def shard(src, folder, split_name, st, max_bytes=64 << 20):
    os.makedirs(folder, exist_ok=True)
    shards, current = [], None

    def close():
        nonlocal current
        if current is None:
            return
        gz, raw, name, records, size = current
        gz.close()
        raw.close()
        shards.append({"file": name, "records": records, "uncompressed_bytes": size, "compressed_bytes": raw.n, "sha256": raw.h.hexdigest()})
        current = None

    with open(src, "rb") as f:
        for line in f:
            st.records_in += 1
            if current is not None and current[4] + len(line) > max_bytes:
                close()
            if current is None:
                name = f"{split_name}-{len(shards):05d}.jsonl.gz"
                raw = HashingFile(os.path.join(folder, name))
                current = [gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0), raw, name, 0, 0]
            current[0].write(line)
            current[3] += 1
            current[4] += len(line)
            st.kept += 1
            st.outputs += 1
    close()
    with open(os.path.join(folder, "manifest.json"), "w", encoding="utf-8") as m:
        json.dump({"format": "jsonl", "compression": "gz", "split": split_name, "shards": shards,
                   "totals": {"shards": len(shards), "records": sum(s["records"] for s in shards)}}, m, indent=2)
    st.note("shards", len(shards))


# ------------------------------------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True, help="folder with rollouts.json and tools.json (gen_e2e_corpus.py)")
    ap.add_argument("--tokenizer", required=True, help="model folder: tokenizer.json + tokenizer_config.json (chat template)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--json", help="write the stage timings here")
    ap.add_argument("--validation", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=6)
    ap.add_argument("--max-tokens", type=int, default=16384)
    a = ap.parse_args()

    out = a.out
    os.makedirs(out, exist_ok=True)
    results = []
    start = time.perf_counter()
    p = lambda *x: os.path.join(out, *x)  # noqa: E731
    with Stage("ingest", results) as st:
        ingest(a.corpus, p("trajectories.jsonl"), st)
    with Stage("validate", results) as st:
        validate(p("trajectories.jsonl"), p("valid.jsonl"), p("validate.drops.jsonl"), st)
    with Stage("filter", results) as st:
        filter_(p("valid.jsonl"), p("filtered.jsonl"), p("filter.drops.jsonl"), st)
    with Stage("dedup", results) as st:
        dedup(p("filtered.jsonl"), p("unique.jsonl"), p("dedup.drops.jsonl"), st)
    with Stage("split", results) as st:
        split(p("unique.jsonl"), p("splits"), st, seed=a.seed, validation=a.validation)
    with Stage("render", results) as st:
        renderer = Renderer(a.tokenizer, a.max_tokens)
        os.makedirs(p("sft"), exist_ok=True)
        for name in ("train", "validation"):
            render(renderer, p("splits", f"{name}.jsonl"), p("sft", f"{name}.jsonl"), p("sft", f"{name}.drops.jsonl"), st)
    with Stage("shard", results) as st:
        for name in ("train", "validation"):
            shard(p("sft", f"{name}.jsonl"), p("shards", "sft", name), name, st)
    total = time.perf_counter() - start
    summary = {"stages": results, "total_seconds": total, "total_cpu_seconds": sum(r["cpu_seconds"] for r in results),
               "peak_rss_mb": peak_rss_mb(), "python": sys.version.split()[0]}
    print(f"total {total:.2f} s, peak RSS {peak_rss_mb():.0f} MB", file=sys.stderr)
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=2)


if __name__ == "__main__":
    main()
