#!/usr/bin/env python3
r"""Feeds `trajforge config` axolotl outputs to axolotl's own validation and data loading,
offline on CPU, the way `axolotl preprocess` does (AXOLOTL_IS_PREPROCESS=1: load_cfg sets up
the DeepSpeed environment without starting NCCL, which a CPU host lacks).

    tools/train/check_axolotl.py CONFIGS --tiny TINY

For every CONFIGS/<size>/axolotl/<stage>.yaml (sft, dpo, kto):
  1. `axolotl.utils.config.validate_config` (axolotl's pydantic schema, ~100 validators) on the
     file as written; every key of the file (and of each dataset entry) must survive it, since
     the schema drops unknown and deprecated keys without an error;
  2. `axolotl.cli.config.load_cfg` (normalisation, GPU capabilities, the base model's config) on
     a copy whose base_model is TINY/<size> (tools/train/tiny_models.py), whose dataset holds the
     first --limit rows, and whose dataset_prepared_path is temporary; micro batch, accumulation,
     sequence length, DeepSpeed file and stage must match CONFIGS/<size>/plan-<stage>.json;
  3. axolotl's loaders on that data: SFT `load_datasets` (chat_template with the xLAM-2 template,
     tools, assistant-only labels), DPO/KTO `load_preference_datasets` (rows handed to TRL with
     their tools).
Exit status 1 if any check fails.

Options: [--limit 4] [--sizes ...] [--stages ...]

Install (Python 3.11: axolotl 0.19.0 is the last release that supports it; tested with axolotl
0.19.0, transformers 5.16.1, trl 1.9.0, datasets 4.8.4, torch 2.13.0+cpu, deepspeed 0.19.8):

    python3 -m venv axvenv && axvenv/bin/pip install --extra-index-url https://download.pytorch.org/whl/cpu \
        torch==2.13.0+cpu axolotl==0.19.0 deepspeed==0.19.8

Run it from the folder `trajforge config` ran in (the configs' paths are relative to it); TINY
comes from tools/train/tiny_models.py TINY --configs CONFIGS. tools/train/validate_all.sh does all
of it: data, configs, tiny models, checks.
"""
import argparse
import json
import os
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("AXOLOTL_DO_NOT_TRACK", "1")
os.environ.setdefault("AXOLOTL_IS_PREPROCESS", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL " + msg, flush=True)


def ok(msg):
    print("ok   " + msg, flush=True)


def axolotl_version():
    import axolotl

    return axolotl.__version__


def first_rows(path, limit, out):
    with open(path) as f, open(out, "w") as g:
        for k, line in enumerate(f):
            if k >= limit:
                break
            g.write(line)
    return out


def check(path, size, stage, plan, tiny, limit, work):
    import yaml
    from axolotl.cli.config import load_cfg
    from axolotl.common.datasets import load_datasets, load_preference_datasets
    from axolotl.utils.config import validate_config
    from axolotl.utils.dict import DictDefault

    written = yaml.safe_load(open(path))
    try:
        if written.get("plugins"):
            # As load_cfg does first: registered plugins add their keys to the schema.
            from axolotl.cli.config import prepare_plugins

            prepare_plugins(DictDefault(json.loads(json.dumps(written))))
        validated = validate_config(DictDefault(json.loads(json.dumps(written))))
    except Exception as e:
        fail(f"{path}: validate_config refused it: {type(e).__name__}: {e}")
        return
    # axolotl's pydantic models ignore keys they do not know (and rewrite deprecated ones), so a
    # key the schema drops would pass unnoticed: every key written must survive validation.
    dropped = [k for k in written if written[k] is not None and k not in validated]
    for i, d in enumerate(written.get("datasets") or []):
        kept = validated["datasets"][i]
        dropped += [f"datasets[{i}].{k}" for k in d if d[k] is not None and k not in kept]
    if dropped:
        fail(f"{path}: validate_config dropped {dropped} (unknown to axolotl {axolotl_version()}'s schema, or deprecated)")
        return
    ok(f"{path}: validate_config accepted it; every key kept")

    cfg = json.loads(json.dumps(written))
    cfg["base_model"] = os.path.abspath(os.path.join(tiny, size))
    for d in cfg["datasets"]:
        d["path"] = first_rows(d["path"], limit, os.path.join(work, f"{size}-{stage}-{os.path.basename(d['path'])}"))
    cfg["dataset_prepared_path"] = os.path.join(work, f"{size}-{stage}-prepared")
    cfg["output_dir"] = os.path.join(work, f"{size}-{stage}-out")
    copy = os.path.join(work, f"{size}-{stage}.yaml")
    with open(copy, "w") as f:
        yaml.safe_dump(cfg, f, sort_keys=False)
    try:
        loaded = load_cfg(copy)
    except Exception as e:
        fail(f"{path}: load_cfg refused it: {type(e).__name__}: {e}")
        return
    layout = plan["layout"]
    got = {"micro": loaded.micro_batch_size, "accumulation": loaded.gradient_accumulation_steps,
           "sequence_len": loaded.sequence_len, "deepspeed": written.get("deepspeed"), "rl": str(loaded.rl) if loaded.rl else None}
    want = {"micro": layout["micro_batch"]["value"], "accumulation": layout["gradient_accumulation"]["value"],
            "sequence_len": plan["training"]["sequence_length"]["value"], "deepspeed": written.get("deepspeed"),
            "rl": None if stage == "sft" else stage}
    if got["rl"] is not None:
        got["rl"] = got["rl"].split(".")[-1].lower()
    if got != want:
        fail(f"{path}: axolotl read {got}, plan says {want}")
        return
    ok(f"{path}: load_cfg: micro {got['micro']} x accumulation {got['accumulation']}, sequence_len {got['sequence_len']}, "
       f"{got['deepspeed']}, rl {got['rl']}, bf16 -> {loaded.bf16} on {loaded.device}")
    try:
        if stage == "sft":
            meta = load_datasets(cfg=loaded)
            ds = meta.train_dataset
            row = ds[0]
            supervised = sum(1 for t in row["labels"] if t != -100)
            detail = f"{len(ds)} samples, first: {len(row['input_ids'])} tokens, {supervised} supervised"
            if supervised == 0:
                fail(f"{path}: load_datasets: no supervised token in the first sample")
                return
        else:
            meta = load_preference_datasets(cfg=loaded)
            ds = meta.train_dataset
            cols = sorted(ds.column_names)
            need = {"dpo": {"prompt", "chosen", "rejected", "tools"}, "kto": {"prompt", "completion", "label", "tools"}}[stage]
            if not need <= set(cols):
                fail(f"{path}: load_preference_datasets: columns {cols}, need {sorted(need)}")
                return
            detail = f"{len(ds)} rows with {', '.join(sorted(need))} (tools kept for TRL)"
    except Exception as e:
        import traceback

        traceback.print_exc()
        fail(f"{path}: data loading failed: {type(e).__name__}: {e}")
        return
    ok(f"{path}: {'load_datasets' if stage == 'sft' else 'load_preference_datasets'}: {detail}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("configs")
    ap.add_argument("--tiny", required=True)
    ap.add_argument("--sizes", default="")
    ap.add_argument("--stages", default="sft,dpo,kto")
    ap.add_argument("--limit", type=int, default=4)
    ap.add_argument("--one", nargs=2, metavar=("SIZE", "STAGE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        # One config per process: axolotl keeps distributed state across load_cfg calls.
        size, stage = args.one
        path = os.path.join(args.configs, size, "axolotl", f"{stage}.yaml")
        plan = json.load(open(os.path.join(args.configs, size, f"plan-{stage}.json")))
        check(path, size, stage, plan, args.tiny, args.limit, tempfile.mkdtemp(prefix="axolotl-check-"))
        sys.exit(1 if failures else 0)
    import subprocess

    import axolotl

    print(f"axolotl {axolotl.__version__}", flush=True)
    n = bad = 0
    for size in sorted(os.listdir(args.configs)):
        if args.sizes and size not in args.sizes.split(","):
            continue
        for stage in args.stages.split(","):
            if not os.path.exists(os.path.join(args.configs, size, "axolotl", f"{stage}.yaml")):
                continue
            n += 1
            proc = subprocess.run([sys.executable, os.path.abspath(__file__), args.configs, "--tiny", args.tiny,
                                   "--limit", str(args.limit), "--one", size, stage], capture_output=True, text=True)
            for line in proc.stdout.splitlines():
                if line.startswith(("ok ", "FAIL ")):
                    print(line, flush=True)
            if proc.returncode != 0:
                bad += 1
                if "FAIL " not in proc.stdout:
                    print(f"FAIL {size} {stage}: exit {proc.returncode}: {proc.stderr[-800:]}", flush=True)
    if n == 0:
        print(f"FAIL no axolotl/<stage>.yaml under {args.configs}")
        bad += 1
    print(f"{n} axolotl configs, {bad} failures", flush=True)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
