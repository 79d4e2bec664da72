#!/usr/bin/env bash
# GPU check of the emitted TRL configs: on a machine with a CUDA GPU and torch + transformers +
# trl + datasets already installed (no network needed), trains a few real steps of each TRL
# stage config on tiny random models built from the catalog's configs, with trajforge data.
#
# Usage: tools/train/gpu_check.sh BUNDLE [sizes] [stages]
#   BUNDLE holds configs/ (trajforge config -o configs, run inside BUNDLE), data/ (trajforge
#   outputs: sft-<family>.trl.jsonl, dpo.trl.jsonl, kto.trl.jsonl, sft-<family>.tok.jsonl) and
#   shared/tokenizers/{qwen2.5,llama-3.1}/ (tokenizer.json + tokenizer_config.json).
#   Prepare it with tools/train/make_gpu_bundle.sh. A BUNDLE/wheels/ folder (pure-Python wheels
#   for the machine's Python) is installed with --no-deps when trl or datasets is missing.
#   Results go to stdout and, when $OUT is set, to $OUT/gpu-check.log.
set -uo pipefail
BUNDLE=$(cd "${1:?bundle folder}" && pwd)
SIZES=${2:-1b,8b}
STAGES=${3:-sft,dpo,kto}
HERE=$(cd "$(dirname "$0")" && pwd)
LOG=${OUT:-/tmp}/gpu-check.log
PY=${PYTHON:-python3}
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false

{
    echo "== machine"
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 || echo "no nvidia-smi"
    "$PY" - <<'EOF'
import importlib, sys
print("python", sys.version.split()[0])
for name in ("torch", "transformers", "trl", "accelerate", "datasets", "deepspeed", "flash_attn", "peft"):
    try:
        m = importlib.import_module(name)
        print(name, getattr(m, "__version__", "?"))
    except Exception as e:
        print(name, "MISSING", type(e).__name__, str(e)[:120])
try:
    import torch
    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        free, total = torch.cuda.mem_get_info()
        print(f"cuda device {p.name}: total_memory {p.total_memory} bytes ({p.total_memory / 2**30:.2f} GiB), mem_get_info total {total}, free {free}")
except Exception as e:
    print("torch.cuda:", e)
EOF
    if [ -d "$BUNDLE/wheels" ] && ! "$PY" -c "import trl, datasets" 2>/dev/null; then
        # Pure-Python wheels carried in the bundle (no network on the GPU machine).
        echo "== installing $(ls "$BUNDLE/wheels" | tr '\n' ' ')into /tmp/trajforge-site (--no-deps)"
        "$PY" -m pip install -q --no-deps --no-index --target /tmp/trajforge-site "$BUNDLE"/wheels/*.whl
        export PYTHONPATH="/tmp/trajforge-site${PYTHONPATH:+:$PYTHONPATH}"
    fi
    if ! "$PY" -c "import torch, transformers, trl, datasets, accelerate" 2>/dev/null; then
        echo "== cannot run: torch, transformers, trl, datasets or accelerate is missing (listed above)"
        exit 3
    fi
    echo "== tiny models"
    "$PY" "$HERE/tiny_models.py" "$BUNDLE/tiny" --shared "$BUNDLE/shared" --configs "$BUNDLE/configs" --sizes "$SIZES" --dtype bfloat16
    echo "== TRL configs: parse and train"
    cd "$BUNDLE"
    status=0
    for size in ${SIZES//,/ }; do
        fam=qwen
        grep -q '"model_type": "llama"' "tiny/$size/config.json" && fam=llama
        "$PY" "$HERE/check_trl.py" configs --sizes "$size" --stages "$STAGES" --run --tiny tiny \
            --data-sft "data/sft-$fam.trl.jsonl" --data-dpo data/dpo.trl.jsonl --data-kto data/kto.trl.jsonl \
            --compare-sft "data/sft-$fam.tok.jsonl" --steps "${STEPS:-3}" --limit "${LIMIT:-24}" \
            --max-length "${MAX_LENGTH:-16384}" || status=1
    done
    exit $status
} 2>&1 | tee "$LOG" | grep -v -E "it/s\]|s/it\]|examples/s\]|^\s*$"
exit "${PIPESTATUS[0]}"
