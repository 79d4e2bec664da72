#!/usr/bin/env python3
r"""Feeds `trajforge config` TRL outputs to TRL's own parser, and optionally trains a few steps.

For every CONFIGS/<size>/trl/<stage>.yaml (stage sft, dpo, kto):
  1. parse it with the parser `trl <stage>` itself builds (trl.scripts.<stage>.make_parser(),
     TrlParser over ScriptArguments + <Stage>Config + ModelConfig + DatasetMixtureConfig), with
     unknown keys refused; check batch, accumulation, sequence length and learning rate against
     CONFIGS/<size>/plan-<stage>.json;
  2. load <stage>.accelerate.yaml with accelerate's own config loader and check DeepSpeed, the
     machine and process counts, and that the DeepSpeed file exists.
With --run, each stage's config then trains --steps real steps, as `trl <stage>` would (the same
main() body), on a tiny random model from tools/train/tiny_models.py, with the data file
overridden by --data-<stage> (trajforge outputs) and --limit rows. On CPU the run is forced to
fp32/sdpa (bf16 and FlashAttention-2 need a GPU); on a GPU bf16 stays and FlashAttention-2 is used
when flash_attn is importable (else sdpa; the report says which).

Usage: check_trl.py CONFIGS [--sizes 1b,8b] [--stages sft,dpo]
       check_trl.py CONFIGS --run --tiny TINY --data-sft sft.trl.jsonl --data-dpo dpo.trl.jsonl
                    [--data-kto kto.trl.jsonl] [--steps 3] [--limit 16] [--max-length 2048]
                    [--compare-sft rendered.tok.jsonl] [--micro-batch 1] [--accumulation 1]
                    [--truncation keep_end]
Exit status 1 if any check fails.

Install (tested with trl 1.16.0, transformers 5.24.0, accelerate 1.15.0, datasets 5.2.0,
torch 2.13.0+cpu; the parse needs no GPU and no model files):

    python3 -m venv dsvenv && dsvenv/bin/pip install --extra-index-url https://download.pytorch.org/whl/cpu \
        torch==2.13.0+cpu trl==1.16.0 deepspeed==0.19.8 jsonschema pyyaml

Run it from the folder `trajforge config` ran in (the configs' paths are relative to it).
tools/train/validate_all.sh runs it with the other validators.
"""
import argparse
import importlib
import json
import os
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

STAGES = ("sft", "dpo", "kto")
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL " + msg, flush=True)


def ok(msg):
    print("ok   " + msg, flush=True)


def plan_of(configs, size, stage):
    return json.load(open(os.path.join(configs, size, f"plan-{stage}.json")))


def parse(path, stage, extra=()):
    module = importlib.import_module(f"trl.scripts.{stage}")
    parser = module.make_parser()
    return parser.parse_args_and_config(["--config", path, *extra], fail_with_unknown_args=True)


def check_config(configs, size, stage):
    path = os.path.join(configs, size, "trl", f"{stage}.yaml")
    plan = plan_of(configs, size, stage)
    layout = plan["layout"]
    import torch

    # bf16 needs a GPU; on a CPU-only host the TrainingArguments check would refuse it, so the
    # parse adds --use_cpu (the only override; every key of the file is parsed as written).
    extra = [] if torch.cuda.is_available() else ["--use_cpu", "true"]
    try:
        script_args, training_args, model_args, dataset_args = parse(path, stage, extra)
    except BaseException as e:  # argparse exits with SystemExit on unknown keys
        fail(f"{path}: TrlParser refused it: {type(e).__name__}: {e}")
        return
    want = {
        "per_device_train_batch_size": layout["micro_batch"]["value"],
        "gradient_accumulation_steps": layout["gradient_accumulation"]["value"],
        "max_length": plan["training"]["sequence_length"]["value"],
        "bf16": True,
    }
    got = {k: getattr(training_args, k) for k in want}
    if got != want:
        fail(f"{path}: parsed {got}, plan says {want}")
        return
    if not dataset_args.datasets or dataset_args.datasets[0].path != "json":
        fail(f"{path}: datasets: expected one json dataset, got {dataset_args.datasets}")
        return
    kind = type(training_args).__name__
    ok(f"{path}: {kind} parsed (lr {training_args.learning_rate}, {training_args.lr_scheduler_type}, "
       f"micro {got['per_device_train_batch_size']} x accumulation {got['gradient_accumulation_steps']}, "
       f"max_length {got['max_length']}, model {model_args.model_name_or_path}, attn {model_args.attn_implementation})")

    from accelerate.commands.config.config_args import load_config_from_file

    apath = os.path.join(configs, size, "trl", f"{stage}.accelerate.yaml")
    try:
        cfg = load_config_from_file(apath)
    except BaseException as e:
        fail(f"{apath}: accelerate refused it: {type(e).__name__}: {e}")
        return
    nodes, gpus = layout["nodes"]["value"], layout["gpus"]["value"]
    ds = (cfg.deepspeed_config or {}).get("deepspeed_config_file")
    problems = []
    if str(cfg.distributed_type) not in ("DistributedType.DEEPSPEED", "DEEPSPEED"):
        problems.append(f"distributed_type {cfg.distributed_type}")
    if cfg.num_machines != nodes or cfg.num_processes != gpus:
        problems.append(f"machines/processes {cfg.num_machines}/{cfg.num_processes}, plan {nodes}/{gpus}")
    workdir = os.path.dirname(os.path.normpath(configs))
    if not ds or not (os.path.exists(ds) or os.path.exists(os.path.join(workdir, ds))):
        problems.append(f"deepspeed_config_file {ds} not found")
    if problems:
        fail(f"{apath}: " + "; ".join(problems))
    else:
        ok(f"{apath}: accelerate {type(cfg).__name__}: {cfg.distributed_type}, {cfg.num_machines} machine(s), "
           f"{cfg.num_processes} processes, {ds}")


def subset(path, limit, out_dir, name):
    """The `limit` shortest rows (by bytes, file order among equals): short runs stay cheap."""
    with open(path) as f:
        rows = [line for line in f if line.strip()]
    keep = sorted(range(len(rows)), key=lambda k: (len(rows[k]), k))[:limit]
    out = os.path.join(out_dir, name)
    with open(out, "w") as g:
        for k in sorted(keep):
            g.write(rows[k] if rows[k].endswith("\n") else rows[k] + "\n")
    return out


def run(configs, size, stage, args, work):
    import torch
    from trl import DPOTrainer, KTOTrainer, SFTTrainer, get_dataset

    path = os.path.join(configs, size, "trl", f"{stage}.yaml")
    data = getattr(args, f"data_{stage}")
    if not data:
        print(f"--   {path}: no --data-{stage}; not run", flush=True)
        return
    gpu = torch.cuda.is_available()
    attn = "sdpa"
    if gpu:
        try:
            import flash_attn  # noqa: F401

            attn = "flash_attention_2"
        except ImportError:
            attn = "sdpa"
    out = os.path.join(work, f"{size}-{stage}")
    extra = ["--model_name_or_path", os.path.join(args.tiny, size), "--output_dir", out, "--max_steps", str(args.steps),
             "--logging_steps", "1", "--save_strategy", "no", "--max_length", str(args.max_length),
             "--attn_implementation", attn, "--dataloader_num_workers", "0"]
    if not gpu:
        extra += ["--use_cpu", "true", "--bf16", "false", "--dtype", "float32"]
    if args.micro_batch:
        extra += ["--per_device_train_batch_size", str(max(args.micro_batch, 2 if stage == "kto" else 1))]
    if args.accumulation:
        extra += ["--gradient_accumulation_steps", str(args.accumulation)]
    if args.truncation and stage != "kto":
        extra += ["--truncation_mode", args.truncation]
    script_args, training_args, model_args, dataset_args = parse(path, stage, extra)
    dataset_args.datasets[0].data_files = subset(data, args.limit, work, f"{size}-{stage}.jsonl")
    # As trl/scripts/<stage>.py main() does:
    training_args.model_init_kwargs = dict(revision=model_args.model_revision, trust_remote_code=training_args.trust_remote_code,
                                           attn_implementation=model_args.attn_implementation, dtype=model_args.dtype)
    dataset = get_dataset(dataset_args)
    trainer_cls = {"sft": SFTTrainer, "dpo": DPOTrainer, "kto": KTOTrainer}[stage]
    trainer = trainer_cls(model=model_args.model_name_or_path, args=training_args, train_dataset=dataset[script_args.dataset_train_split])
    if stage == "sft" and args.compare_sft:
        # TRL's own tokenization of the same rows without truncation, against trajforge's.
        import copy

        untruncated = copy.deepcopy(training_args)
        untruncated.max_length = None
        untruncated.output_dir = out + "-compare"
        compare_sft(trainer_cls(model=model_args.model_name_or_path, args=untruncated, train_dataset=dataset[script_args.dataset_train_split]),
                    args.compare_sft)
    result = trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    device = torch.cuda.get_device_name(0) if gpu else "cpu"
    if trainer.state.global_step != args.steps or not losses or any(l != l for l in losses):
        fail(f"{path}: ran {trainer.state.global_step} steps, losses {losses}")
    else:
        ok(f"{path}: trained {trainer.state.global_step} steps on {device} ({attn}, "
           f"{'bf16' if training_args.bf16 else 'fp32'}, {len(dataset['train'])} rows), losses {[round(l, 4) for l in losses]}, "
           f"train_runtime {result.metrics.get('train_runtime')} s")


def compare_sft(trainer, samples_path):
    """TRL's tokenization of the first rows vs trajforge's tokenized samples with the same id."""
    wanted = {}
    with open(samples_path) as f:
        for line in f:
            s = json.loads(line)
            wanted[s["id"]] = s
    ds = trainer.train_dataset
    same = differ = 0
    first_diff = None
    for row in ds:
        ref = wanted.get(row.get("id"))
        if ref is None or "input_ids" not in ref:
            continue
        if list(row["input_ids"]) == ref["input_ids"]:
            labels_trl = [t if m else -100 for t, m in zip(row["input_ids"], row.get("completion_mask", []))]
            if labels_trl and labels_trl != ref["labels"]:
                differ += 1
                first_diff = first_diff or f"{row['id']}: same ids, different supervised tokens"
            else:
                same += 1
        else:
            differ += 1
            if first_diff is None:
                a, b = list(row["input_ids"]), ref["input_ids"]
                k = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
                tok = trainer.processing_class
                first_diff = (f"{row['id']}: token {k} of {len(a)} (TRL) / {len(b)} (trajforge): "
                              f"TRL {tok.decode(a[k:k + 12])!r} vs trajforge {tok.decode(b[k:k + 12])!r}")
    msg = f"TRL SFT tokenization vs trajforge render --tokenizer: {same} identical, {differ} different"
    if differ:
        print("note " + msg + "; first: " + first_diff, flush=True)
    else:
        ok(msg)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("configs")
    ap.add_argument("--sizes", default="")
    ap.add_argument("--stages", default="sft,dpo,kto")
    ap.add_argument("--run", action="store_true")
    ap.add_argument("--tiny")
    for s in STAGES:
        ap.add_argument(f"--data-{s}")
    ap.add_argument("--compare-sft")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--limit", type=int, default=16)
    ap.add_argument("--max-length", type=int, default=8192)
    ap.add_argument("--micro-batch", type=int, help="override the per-device batch (KTO: at least 2)")
    ap.add_argument("--accumulation", type=int, help="override gradient accumulation")
    ap.add_argument("--truncation", help="override truncation_mode (sft, dpo): keep_start or keep_end")
    args = ap.parse_args()
    import trl

    print(f"trl {trl.__version__}", flush=True)
    sizes = [s for s in sorted(os.listdir(args.configs)) if os.path.isdir(os.path.join(args.configs, s, "trl"))]
    if args.sizes:
        sizes = [s for s in sizes if s in args.sizes.split(",")]
    work = tempfile.mkdtemp(prefix="trl-check-")
    checked = 0
    for size in sizes:
        for stage in args.stages.split(","):
            if not os.path.exists(os.path.join(args.configs, size, "trl", f"{stage}.yaml")):
                continue
            checked += 1
            check_config(args.configs, size, stage)
            if args.run:
                try:
                    run(args.configs, size, stage, args, work)
                except Exception as e:
                    import traceback

                    traceback.print_exc()
                    fail(f"{size} {stage}: run failed: {type(e).__name__}: {e}")
    if checked == 0:
        fail(f"no trl/<stage>.yaml under {args.configs}")
    print(f"{checked} TRL configs, {len(failures)} failures", flush=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
