#!/usr/bin/env python3
"""Write the end-to-end benchmark's input: N tau-bench v1 rollouts (one results file, a JSON array,
as tau-bench's run.py writes it) and the tool schemas they were made with, deterministically.

The conversations come from tools/dedup/gen_dedup_corpus.py: scaled up from our quickstart sample
(recipes/quickstart: the bookshop policy, its three tools and its conversation flow), ~10% exact
copies and ~10% near copies (1-3 word edits, a changed tool argument or a dropped user turn) of
earlier records, ~70% verified successes. On top of that, with their own seeded generator:
  - ~1% of the records break their tool schema (a cancel reason outside the enum, or get_order
    without its order_id): `validate` drops them;
  - ~0.5% carry an API key in a user turn: the `secrets: drop` filter drops them.
The tool schemas are the sample's, with cancel_order's reason enum widened to the five reasons
the generator uses.

usage: gen_e2e_corpus.py OUT_DIR [RECORDS=100000] [SEED=7]
Writes OUT_DIR/rollouts.json and OUT_DIR/tools.json; the last stderr line gives the counts.
"""
import copy
import json
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "dedup"))
import gen_dedup_corpus as gdc  # noqa: E402

SECRET_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def tools_file(generator):
    tools = copy.deepcopy(generator.tools)
    for t in tools:
        f = t["function"]
        if f["name"] == "cancel_order":
            f["parameters"]["properties"]["reason"]["enum"] = list(gdc.REASONS)
    return tools


def perturb(t, rng, kinds):
    """Schema breaks and secrets, on a copy (the ring of originals stays clean)."""
    roll = rng.random()
    if roll < 0.01:
        t = copy.deepcopy(t)
        calls = [c for m in t["messages"] for c in (m.get("tool_calls") or [])]
        cancels = [c for c in calls if c["name"] == "cancel_order"]
        if cancels:
            rng.choice(cancels)["arguments"]["reason"] = "changed my mind"
        else:
            gets = [c for c in calls if c["name"] == "get_order"]
            del rng.choice(gets)["arguments"]["order_id"]
        kinds["schema-break"] += 1
    elif roll < 0.015:
        t = copy.deepcopy(t)
        users = [m for m in t["messages"] if m["role"] == "user" and m["content"] != "###STOP###"]
        key = "sk-proj-" + "".join(rng.choice(SECRET_CHARS) for _ in range(40))
        m = rng.choice(users)
        m["content"] = f"{m['content']} my key is {key}"
        kinds["secret"] += 1
    return t


def tau_record(t, task_id):
    """A canonical trajectory as a tau-bench v1 result."""
    traj = [{"role": "system", "content": t["system"]}]
    actions = []
    for m in t["messages"]:
        if m["role"] == "assistant" and m.get("tool_calls"):
            traj.append({"content": m["content"], "role": "assistant", "tool_calls": [
                {"function": {"arguments": json.dumps(c["arguments"]), "name": c["name"]}, "id": c["id"], "type": "function"}
                for c in m["tool_calls"]]})
            actions += [{"name": c["name"], "kwargs": c["arguments"]} for c in m["tool_calls"]]
        elif m["role"] == "tool":
            traj.append({"role": "tool", "tool_call_id": m["tool_call_id"], "name": m["name"], "content": m["content"]})
        else:
            traj.append({"role": m["role"], "content": m["content"]})
    reward = 1.0 if t["outcome"]["success"] else 0.0
    return {"task_id": task_id, "reward": reward,
            "info": {"task": {"user_id": "", "actions": actions, "instruction": t["task"]["instruction"], "outputs": []},
                     "source": "user", "user_cost": 0.0012,
                     "reward_info": {"reward": reward, "info": {"r_actions": reward, "gt_data_hash": "%064x" % task_id},
                                     "actions": actions}},
            "traj": traj, "trial": t["trial"]}


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 100000
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 7
    os.makedirs(out, exist_ok=True)
    g = gdc.Generator(seed)
    extra = random.Random(seed * 1000003 + 1)
    ring, ring_size = [], 50000
    kinds = {"original": 0, "exact": 0, "near": 0, "schema-break": 0, "secret": 0}
    tasks = max(1, count // 4)
    with open(os.path.join(out, "tools.json"), "w", encoding="utf-8") as f:
        json.dump(tools_file(g), f, indent=2)
        f.write("\n")
    path = os.path.join(out, "rollouts.json")
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write("[\n")
        for i in range(count):
            # The same draws as gen_dedup_corpus.py's main loop.
            roll = g.rng.random()
            if ring and roll < 0.1:
                t, kind = g.exact_copy(g.rng.choice(ring)), "exact"
            elif ring and roll < 0.2:
                t, kind = g.near_copy(g.rng.choice(ring)), "near"
            else:
                t, kind = g.original(i, tasks), "original"
            kinds[kind] += 1
            t["id"] = f"gen-{i:08d}"
            if len(ring) < ring_size:
                ring.append(t)
            else:
                ring[g.rng.randrange(ring_size)] = t
            task_id = int(t["group"].split(":", 1)[1])
            record = tau_record(perturb(t, extra, kinds), task_id)
            if i:
                f.write(",\n")
            f.write(json.dumps(record, ensure_ascii=False))
        f.write("\n]\n")
    os.replace(path + ".tmp", path)
    print(f"{path}: {count} rollouts ({os.path.getsize(path) / 1e6:.1f} MB): {kinds['original']} originals, "
          f"{kinds['exact']} exact copies, {kinds['near']} near copies; {kinds['schema-break']} schema breaks, "
          f"{kinds['secret']} with a secret", file=sys.stderr)


if __name__ == "__main__":
    main()
