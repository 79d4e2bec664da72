#!/usr/bin/env bash
# Builds the bundle tools/train/gpu_check.sh needs (about 20 MB): TRL configs for 1b and 8b,
# trajforge data from the 8 shortest real retail rollouts (SFT) and all their pairs (DPO, KTO),
# and the Qwen2.5 / Llama 3.1 tokenizer files from ../shared.
#
# Usage: tools/train/make_gpu_bundle.sh BUNDLE [trajforge binary] [python version of the GPU machine]
#   With a python version (e.g. 3.12), also downloads pure-Python wheels of trl 1.16.0,
#   datasets 5.2.0, dill and multiprocess for machines that have torch, transformers,
#   accelerate, pyarrow, pandas and xxhash but not TRL (as the H100 machine used here).
#   then on the GPU machine: tools/train/gpu_check.sh BUNDLE
# The bundle lives in an ignored folder (.build-gpu/ by convention) so it can be carried.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
SHARED=${TRAJFORGE_SHARED:-$ROOT/../shared}
BUNDLE=${1:?bundle folder}
BIN=${2:-$(swift build --show-bin-path)/trajforge}
PYVER=${3:-}
RETAIL=$SHARED/data/tau-bench/retail

rm -rf "$BUNDLE"
mkdir -p "$BUNDLE/data"
BUNDLE=$(cd "$BUNDLE" && pwd)
for t in qwen2.5 llama-3.1; do
    mkdir -p "$BUNDLE/shared/tokenizers/$t"
    cp "$SHARED/tokenizers/$t/tokenizer.json" "$SHARED/tokenizers/$t/tokenizer_config.json" "$BUNDLE/shared/tokenizers/$t/"
    chmod u+w "$BUNDLE/shared/tokenizers/$t/"*
done

cd "$BUNDLE/data"
"$BIN" ingest -q --from tau-bench --tools "$RETAIL/tools.json" "$RETAIL"/trajectories/*.json -o retail.jsonl
python3 - <<'EOF'
rows = open("retail.jsonl").readlines()
keep = sorted(range(len(rows)), key=lambda k: (len(rows[k]), k))[:8]
open("short.jsonl", "w").writelines(rows[k] for k in sorted(keep))
EOF
for fam in qwen llama; do
    tok=qwen2.5
    [ "$fam" = llama ] && tok=llama-3.1
    "$BIN" render -q --template "xlam2-$fam" --to trl short.jsonl -o "sft-$fam.trl.jsonl"
    "$BIN" render -q --template "xlam2-$fam" --tokenizer "$SHARED/tokenizers/$tok" short.jsonl -o "sft-$fam.tok.jsonl"
done
"$BIN" pairs -q retail.jsonl --to trl-dpo -o dpo.trl.jsonl
"$BIN" pairs -q retail.jsonl --strategy kto -o kto.trl.jsonl
rm -f retail.jsonl ./*.rejects.jsonl ./*.drops.jsonl

cd "$BUNDLE"
"$BIN" config --size 1b --stage all --framework trl --gpu h100 -o configs --data data >/dev/null
"$BIN" config --size 8b --stage all --framework trl --gpu h100 -o configs --data data >/dev/null
if [ -n "$PYVER" ]; then
    pip download -q --no-deps --only-binary=:all: --python-version "$PYVER" \
        trl==1.16.0 datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19 -d "$BUNDLE/wheels"
fi
du -sh "$BUNDLE"
