#!/usr/bin/env python3
r"""Checks `trajforge config` / `trajforge plan` against DeepSpeed itself (CPU, no GPU needed).

1. Every DeepSpeed JSON a config names (LLaMA-Factory and axolotl `deepspeed:`, TRL's accelerate
   `deepspeed_config_file`) is read with DeepSpeed's own loader (duplicate keys refused), its
   "auto" values filled as the HF Trainer fills them (batch sizes from the framework config,
   gradient_clipping 1.0, bf16 on, bucket sizes from the hidden size), and parsed by
   `deepspeed.runtime.config.DeepSpeedConfig` with the plan's data-parallel size: the ZeRO stage,
   offload devices, bf16 and train_batch_size = micro x accumulation x GPUs must match the plan.
   Every top-level key must be one DeepSpeed names (it ignores others silently).
2. Every emitted YAML loads with PyYAML; numbers that frameworks read as floats are floats.
3. Every plan-<stage>.json validates against schemas/plan.schema.json.
4. With --trajforge BIN: DeepSpeed's estimate_zero2/zero3_model_states_mem_needs_all_cold
   printouts for every catalog model on 1-8 GPUs per node and 1-4 nodes equal
   `trajforge plan --deepspeed-table` byte for byte.

Usage: check_deepspeed.py CONFIGS [--trajforge .build/debug/trajforge] [--catalog recipes/models.json]
Exit status 1 if any check fails.

Install (tested with deepspeed 0.19.8, torch 2.13.0+cpu; tools/dev test makes this venv itself):

    python3 -m venv dsvenv && dsvenv/bin/pip install --extra-index-url https://download.pytorch.org/whl/cpu \
        -r tools/train/requirements-deepspeed.txt

Run it from the folder `trajforge config` ran in (the configs' paths are relative to it);
tools/train/ci.sh (light CI) and tools/train/validate_all.sh (all validators) run it.
"""
import argparse
import contextlib
import io
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL " + msg, flush=True)


def ok(msg):
    print("ok   " + msg, flush=True)


class DataParallel:
    """The `mpu` DeepSpeedConfig asks for the data-parallel world size."""

    def __init__(self, n):
        self.n = n

    def get_data_parallel_world_size(self):
        return self.n


def as_rank_zero():
    """DeepSpeedConfig asks deepspeed.comm for the rank before it asks the mpu for the world size;
    answer as rank 0 of the plan's data-parallel group without a process group (DeepSpeed's CPU
    backend would JIT-compile its shared-memory op to make one)."""
    import deepspeed.comm

    deepspeed.comm.get_rank = lambda group=None: 0


def fill_auto(cfg, micro, accumulation, gpus, hidden):
    """What transformers' HfTrainerDeepSpeedConfig does with "auto" (trainer_config_process/finalize)."""
    fills = {
        ("train_micro_batch_size_per_gpu",): micro,
        ("gradient_accumulation_steps",): accumulation,
        ("train_batch_size",): micro * accumulation * gpus,
        ("gradient_clipping",): 1.0,
        ("bf16", "enabled"): True,
        ("zero_optimization", "reduce_bucket_size"): hidden * hidden,
        ("zero_optimization", "stage3_prefetch_bucket_size"): int(0.9 * hidden * hidden),
        ("zero_optimization", "stage3_param_persistence_threshold"): 10 * hidden,
    }
    autos = []

    def walk(node, path):
        for k, v in list(node.items()):
            p = path + (k,)
            if isinstance(v, dict):
                walk(v, p)
            elif v == "auto":
                if p not in fills:
                    raise ValueError(f"'auto' at {'.'.join(p)} has no HF Trainer fill")
                node[k] = fills[p]
                autos.append(".".join(p))

    walk(cfg, ())
    return autos


def deepspeed_top_level_keys():
    """The config keys DeepSpeed names: the string constants of deepspeed.runtime.constants (batch,
    precision, optimizer, scheduler, ...) and deepspeed.runtime.zero.config (zero_optimization, ...)."""
    import importlib

    keys = set()
    for name in ("deepspeed.runtime.constants", "deepspeed.runtime.zero.config"):
        for k, v in vars(importlib.import_module(name)).items():
            if k.isupper() and isinstance(v, str):
                keys.add(v)
    return keys


def framework_refs(configs, size, stage):
    """(framework config path, DeepSpeed path, micro, accumulation) for each framework config of a stage."""
    import yaml

    refs = []
    base = os.path.join(configs, size)
    lf = os.path.join(base, "llamafactory", f"{stage}.yaml")
    if os.path.exists(lf):
        y = yaml.safe_load(open(lf))
        refs.append((lf, y.get("deepspeed"), y["per_device_train_batch_size"], y["gradient_accumulation_steps"]))
    ax = os.path.join(base, "axolotl", f"{stage}.yaml")
    if os.path.exists(ax):
        y = yaml.safe_load(open(ax))
        refs.append((ax, y.get("deepspeed"), y["micro_batch_size"], y["gradient_accumulation_steps"]))
    trl = os.path.join(base, "trl", f"{stage}.yaml")
    if os.path.exists(trl):
        y = yaml.safe_load(open(trl))
        acc = yaml.safe_load(open(os.path.join(base, "trl", f"{stage}.accelerate.yaml")))
        refs.append((trl, (acc.get("deepspeed_config") or {}).get("deepspeed_config_file"),
                     y["per_device_train_batch_size"], y["gradient_accumulation_steps"]))
    return refs


def check_deepspeed_configs(configs, workdir, catalog):
    import copy

    import hjson
    from deepspeed.runtime.config import DeepSpeedConfig
    from deepspeed.runtime.config_utils import dict_raise_error_on_duplicate_keys

    hidden = {m["size"]: m["architecture"]["hidden"] for m in catalog["models"]}
    known_keys = deepspeed_top_level_keys()
    checked = 0
    for size in sorted(os.listdir(configs)):
        for stage in ("sft", "dpo", "kto"):
            plan_path = os.path.join(configs, size, f"plan-{stage}.json")
            if not os.path.exists(plan_path):
                continue
            plan = json.load(open(plan_path))
            zero = plan["training"]["zero"]
            gpus = plan["layout"]["gpus"]["value"]
            for fw_path, ds_path, micro, accumulation in framework_refs(configs, size, stage):
                if ds_path is None:
                    fail(f"{fw_path}: names no DeepSpeed config")
                    continue
                full = ds_path if os.path.isabs(ds_path) else os.path.join(workdir, ds_path)
                raw = hjson.load(open(full), object_pairs_hook=dict_raise_error_on_duplicate_keys)
                cfg = json.loads(json.dumps(raw))  # plain dicts
                # DeepSpeedConfig reads the top-level keys it knows and ignores the rest (its nested
                # sections are pydantic models that refuse unknown fields): a misspelt top-level key
                # would pass silently, so each one must be a key DeepSpeed names.
                unknown = sorted(k for k in cfg if k != "_comment" and k not in known_keys)
                if unknown:
                    fail(f"{fw_path} -> {ds_path}: top-level keys DeepSpeed does not read: {unknown}")
                    continue
                autos = fill_auto(cfg, micro, accumulation, gpus, hidden.get(size, 4096))
                try:
                    with contextlib.redirect_stdout(io.StringIO()):
                        ds = DeepSpeedConfig(copy.deepcopy(cfg), mpu=DataParallel(gpus))
                except Exception as e:
                    fail(f"{fw_path} -> {ds_path}: DeepSpeedConfig refused it: {type(e).__name__}: {e}")
                    continue
                off_opt = ds.zero_config.offload_optimizer
                off_par = ds.zero_config.offload_param
                got = {
                    "stage": ds.zero_optimization_stage,
                    "offload_optimizer": off_opt is not None and str(off_opt.device).endswith("cpu"),
                    "offload_params": off_par is not None and str(off_par.device).endswith("cpu"),
                    "bf16": ds.bfloat16_config.enabled if hasattr(ds, "bfloat16_config") else ds.bfloat16_enabled,
                    "train_batch_size": ds.train_batch_size,
                    "world_size": ds.world_size,
                }
                want = {
                    "stage": zero["stage"], "offload_optimizer": zero["offload_optimizer"], "offload_params": zero["offload_params"],
                    "bf16": True, "train_batch_size": plan["layout"]["global_batch"]["value"], "world_size": gpus,
                }
                if got != want:
                    fail(f"{fw_path} -> {ds_path}: DeepSpeed read {got}, plan says {want}")
                else:
                    checked += 1
                    ok(f"{fw_path} -> {ds_path}: DeepSpeedConfig: ZeRO-{got['stage']}, offload optimizer {got['offload_optimizer']}, "
                       f"params {got['offload_params']}, bf16, train_batch_size {got['train_batch_size']} on {gpus} GPUs "
                       f"(filled: {', '.join(autos)})")
    return checked


FLOAT_KEYS = {"learning_rate", "weight_decay", "num_train_epochs", "num_epochs", "pref_beta", "beta", "rl_beta",
              "kto_chosen_weight", "kto_rejected_weight", "desirable_weight", "undesirable_weight"}


def check_yaml(configs):
    import yaml

    n = 0
    for dirpath, _, names in os.walk(configs):
        for name in sorted(names):
            if not name.endswith(".yaml"):
                continue
            path = os.path.join(dirpath, name)
            try:
                y = yaml.safe_load(open(path))
            except yaml.YAMLError as e:
                fail(f"{path}: PyYAML: {e}")
                continue
            bad = [k for k in FLOAT_KEYS if k in y and not isinstance(y[k], float)]
            if bad:
                fail(f"{path}: not floats under PyYAML: {', '.join(f'{k}={y[k]!r}' for k in bad)}")
            n += 1
    ok(f"{n} YAML files load with PyYAML; learning rates, weights and epochs are floats")


def check_schemas(configs):
    import jsonschema

    schema = json.load(open(os.path.join(ROOT, "schemas", "plan.schema.json")))
    validator = jsonschema.Draft202012Validator(schema)
    n = 0
    for dirpath, _, names in os.walk(configs):
        for name in sorted(names):
            if name.startswith("plan-") and name.endswith(".json"):
                path = os.path.join(dirpath, name)
                errors = sorted(validator.iter_errors(json.load(open(path))), key=lambda e: list(e.path))
                if errors:
                    fail(f"{path}: {errors[0].message} at {'/'.join(map(str, errors[0].path))}")
                n += 1
    ok(f"{n} plans validate against schemas/plan.schema.json")


def check_estimators(trajforge, catalog):
    from deepspeed.runtime.zero.stage3 import estimate_zero3_model_states_mem_needs_all_cold
    from deepspeed.runtime.zero.stage_1_and_2 import estimate_zero2_model_states_mem_needs_all_cold

    n = 0
    for m in catalog["models"]:
        a = m["architecture"]
        total = m["parameters"]
        largest = a["vocab"] * a["hidden"]
        for g in (1, 2, 4, 8):
            for nodes in (1, 2, 3, 4):
                buf = io.StringIO()
                with contextlib.redirect_stdout(buf):
                    estimate_zero2_model_states_mem_needs_all_cold(total, num_gpus_per_node=g, num_nodes=nodes)
                    estimate_zero3_model_states_mem_needs_all_cold(total, largest, num_gpus_per_node=g, num_nodes=nodes)
                proc = subprocess.run([trajforge, "plan", "--size", m["size"], "--gpus-per-node", str(g), "--nodes", str(nodes),
                                       "--deepspeed-table"], capture_output=True, text=True)
                ours = proc.stdout.split("plan: ")[0]
                if ours != buf.getvalue():
                    fail(f"{m['size']} {g} GPUs x {nodes} nodes: trajforge's table differs from DeepSpeed's:\n{ours}\n---\n{buf.getvalue()}")
                n += 1
    ok(f"DeepSpeed's own estimator tables equal trajforge's for {n} (model, GPUs per node, nodes) cases")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("configs")
    ap.add_argument("--workdir", help="where `trajforge config` ran (default: the parent of CONFIGS)")
    ap.add_argument("--trajforge")
    ap.add_argument("--catalog", default=os.path.join(ROOT, "recipes", "models.json"))
    args = ap.parse_args()
    import deepspeed

    print(f"deepspeed {deepspeed.__version__}", flush=True)
    catalog = json.load(open(args.catalog))
    workdir = args.workdir or os.path.dirname(os.path.abspath(os.path.normpath(args.configs)))
    as_rank_zero()
    checked = check_deepspeed_configs(args.configs, workdir, catalog)
    if checked == 0:
        fail(f"no framework config with a DeepSpeed file under {args.configs}")
    check_yaml(args.configs)
    check_schemas(args.configs)
    if args.trajforge:
        check_estimators(args.trajforge, catalog)
    print(f"{checked} DeepSpeed references checked, {len(failures)} failures", flush=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
