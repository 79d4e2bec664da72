#!/usr/bin/env bash
# The light CI check of issue 9 (tools/dev test runs it): emits configs for every size, stage
# and framework (the paper's H200; H100 with multi-node 32b/70b; DPO with a fused cross-entropy;
# a forced one-node 70b on H200, which needs optimizer offload; LoRA on A100)
# and checks them with DeepSpeed itself (tools/train/check_deepspeed.py), including DeepSpeed's
# own estimator tables against `trajforge plan --deepspeed-table`.
# Usage: tools/train/ci.sh TRAJFORGE_BINARY PYTHON_WITH_DEEPSPEED
set -euo pipefail
BIN=$1
PY=$2
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
run() { local dir=$1; shift; mkdir -p "$dir"; (cd "$dir" && "$BIN" config "$@" -o configs > config.log); }
run h200 --size all --stage all --framework all
run h100 --size all --stage sft --framework all --gpu h100
run h100-liger --size all --stage dpo --framework all --gpu h100 --fused-ce
run offload --size 70b --stage sft --framework all --gpu h200 --nodes 1
run lora --size 32b --stage sft --framework all --gpu a100 --method lora
"$PY" "$HERE/check_deepspeed.py" h200/configs --trajforge "$BIN"
for d in h100 h100-liger offload lora; do "$PY" "$HERE/check_deepspeed.py" "$d/configs"; done
grep -h "ZeRO" offload/config.log
