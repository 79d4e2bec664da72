#!/usr/bin/env python3
r"""Feeds `trajforge config` LLaMA-Factory outputs to LLaMA-Factory's own argument checks and
dataset pipeline, offline on CPU. Run it under torchrun (one process), as llamafactory-cli
does with FORCE_TORCHRUN, because the configs name a DeepSpeed file:

    torchrun --nproc-per-node 1 tools/train/check_llamafactory.py CONFIGS --tiny TINY [--limit 8]
            [--sizes 1b,8b] [--stages sft,dpo,kto]

Install (Python 3.11; tested with llamafactory 0.9.5, transformers 5.6.0, datasets 4.0.0,
torch 2.11.0, deepspeed 0.19.8):

    python3 -m venv lfvenv && lfvenv/bin/pip install llamafactory==0.9.5 torch==2.11.0 \
        torchvision==0.26.0 torchaudio==2.11.0 deepspeed==0.19.8

(PyPI's CUDA build of torch, about 6 GB: LLaMA-Factory imports torchvision and torchaudio; it
runs on CPU.) Configs made with `trajforge config --fused-ce` (enable_liger_kernel) also need
`pip install liger-kernel==0.8.1`: get_train_args refuses them when it is missing. CONFIGS is a `trajforge config -o CONFIGS` output, run from the folder `config` ran
in (the configs' paths are relative to it); TINY comes from tools/train/tiny_models.py TINY
--configs CONFIGS. tools/train/validate_all.sh does all of it: data, configs, tiny models, checks.

For every CONFIGS/<size>/llamafactory/<stage>.yaml (sft, dpo, kto):
  1. `llamafactory.hparams.get_train_args` on the file as written (read with OmegaConf, as
     llamafactory-cli reads it), with two overrides: model_name_or_path -> TINY/<size> (a tiny
     local model with the family's real tokenizer; tools/train/tiny_models.py) and use_cpu
     (bf16 on a CPU host needs it); the DeepSpeed file is processed by the HF Trainer
     integration as in a real launch. Stage, method, DeepSpeed file, bf16, batch, accumulation
     and cutoff_len must match CONFIGS/<size>/plan-<stage>.json.
  2. LLaMA-Factory's template and `get_dataset` on the data file its dataset_info.json names
     (the first --limit rows): examples must come out with supervised tokens; SFT with
     mask_history must supervise only the last reply of each per-turn sample.
Exit status 1 if any check fails.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL " + msg, flush=True)


def ok(msg):
    print("ok   " + msg, flush=True)


def limited_dataset_dir(cfg, limit, work):
    """A copy of the config's dataset_dir whose data files hold only the first `limit` rows."""
    src = cfg["dataset_dir"]
    info = json.load(open(os.path.join(src, "dataset_info.json")))
    dst = tempfile.mkdtemp(prefix="lf-data-", dir=work)
    for name, entry in info.items():
        if name.startswith("_") or not isinstance(entry, dict):
            continue
        path = os.path.normpath(os.path.join(src, entry["file_name"]))
        out = os.path.join(dst, os.path.basename(path))
        with open(path) as f, open(out, "w") as g:
            for k, line in enumerate(f):
                if k >= limit:
                    break
                g.write(line)
        entry["file_name"] = os.path.basename(path)
    with open(os.path.join(dst, "dataset_info.json"), "w") as f:
        json.dump(info, f)
    return dst


def check(path, size, stage, plan, tiny, limit, work):
    from omegaconf import OmegaConf
    from llamafactory.data import get_dataset, get_template_and_fix_tokenizer
    from llamafactory.hparams import get_train_args
    from llamafactory.model import load_tokenizer

    cfg = OmegaConf.to_container(OmegaConf.load(path))
    written = dict(cfg)
    cfg["model_name_or_path"] = os.path.join(tiny, size)
    cfg["use_cpu"] = True
    cfg["output_dir"] = os.path.join(work, f"{size}-{stage}")
    try:
        model_args, data_args, training_args, finetuning_args, _ = get_train_args(cfg)
    except BaseException as e:
        fail(f"{path}: get_train_args refused it: {type(e).__name__}: {e}")
        return
    layout = plan["layout"]
    method = plan["training"]["method"]["value"]  # full, lora or qlora (LoRA on a 4-bit base)
    got = {
        "stage": finetuning_args.stage, "finetuning_type": finetuning_args.finetuning_type,
        "deepspeed": training_args.deepspeed, "bf16": training_args.bf16,
        "micro": training_args.per_device_train_batch_size, "accumulation": training_args.gradient_accumulation_steps,
        "cutoff_len": data_args.cutoff_len, "template": data_args.template,
    }
    want = {
        "stage": stage, "finetuning_type": "full" if method == "full" else "lora", "deepspeed": written["deepspeed"], "bf16": True,
        "micro": layout["micro_batch"]["value"], "accumulation": layout["gradient_accumulation"]["value"],
        "cutoff_len": plan["training"]["sequence_length"]["value"], "template": written["template"],
    }
    if method != "full":
        got["lora_rank"] = finetuning_args.lora_rank
        want["lora_rank"] = plan["training"]["lora_rank"]["value"]
        got["quantization_bit"] = model_args.quantization_bit
        want["quantization_bit"] = 4 if method == "qlora" else None
    if got != want:
        fail(f"{path}: LLaMA-Factory read {got}, plan says {want}")
        return
    ok(f"{path}: get_train_args: {stage}, {got['finetuning_type']}"
       f"{'' if method == 'full' else ' rank ' + str(got['lora_rank'])}, {got['deepspeed']} (HF DeepSpeed integration: "
       f"{type(getattr(training_args, 'hf_deepspeed_config', None)).__name__}), bf16, micro {got['micro']} x accumulation "
       f"{got['accumulation']}, cutoff_len {got['cutoff_len']}, template {got['template']}, {training_args.parallel_mode}")

    # The dataset pipeline on the first rows of the named data file.
    data_args.dataset_dir = limited_dataset_dir(written, limit, work)
    data_args.cutoff_len = min(data_args.cutoff_len, 32768)
    data_args.preprocessing_num_workers = None
    data_args.overwrite_cache = True
    tokenizer_module = load_tokenizer(model_args)
    template = get_template_and_fix_tokenizer(tokenizer_module["tokenizer"], data_args)
    try:
        ds = get_dataset(template, model_args, data_args, training_args, stage="rm" if stage == "dpo" else stage,
                         **tokenizer_module)["train_dataset"]
    except BaseException as e:
        fail(f"{path}: get_dataset failed: {type(e).__name__}: {e}")
        return
    tok = tokenizer_module["tokenizer"]
    if len(ds) == 0:
        fail(f"{path}: get_dataset kept no example of {limit}")
        return
    row = ds[0]
    if stage == "sft":
        supervised = [t for t in row["labels"] if t != -100]
        spans = 0
        previous = False
        for t in row["labels"]:
            if t != -100 and not previous:
                spans += 1
            previous = t != -100
        if spans != 1:
            fail(f"{path}: mask_history should supervise one reply, found {spans} spans")
            return
        detail = f"{len(supervised)} supervised tokens in one span: {tok.decode(supervised)[:70]!r}"
    elif stage == "dpo":
        detail = f"chosen {len(row['chosen_input_ids'])} / rejected {len(row['rejected_input_ids'])} tokens"
    else:
        detail = f"{len(row['input_ids'])} tokens, kto_tags {sorted(set(ds['kto_tags']))}"
    ok(f"{path}: get_dataset: {len(ds)} of {limit} rows tokenized with template {template.__class__.__name__}; first: {detail}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("configs")
    ap.add_argument("--tiny", required=True)
    ap.add_argument("--sizes", default="")
    ap.add_argument("--stages", default="sft,dpo,kto")
    ap.add_argument("--limit", type=int, default=8)
    args = ap.parse_args()
    import llamafactory

    print(f"llamafactory {llamafactory.__version__}", flush=True)
    work = tempfile.mkdtemp(prefix="lf-check-")
    n = 0
    for size in sorted(os.listdir(args.configs)):
        if args.sizes and size not in args.sizes.split(","):
            continue
        for stage in args.stages.split(","):
            path = os.path.join(args.configs, size, "llamafactory", f"{stage}.yaml")
            if not os.path.exists(path):
                continue
            n += 1
            plan = json.load(open(os.path.join(args.configs, size, f"plan-{stage}.json")))
            try:
                check(path, size, stage, plan, args.tiny, args.limit, work)
            except Exception as e:
                import traceback

                traceback.print_exc()
                fail(f"{path}: {type(e).__name__}: {e}")
    shutil.rmtree(work, ignore_errors=True)
    if n == 0:
        fail(f"no llamafactory/<stage>.yaml under {args.configs}")
    print(f"{n} LLaMA-Factory configs, {len(failures)} failures", flush=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
