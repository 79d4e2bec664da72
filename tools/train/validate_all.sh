#!/usr/bin/env bash
# Issue 9's offline validation, end to end on a CPU host: trajforge data from the real tau-bench
# retail rollouts in ../shared, `trajforge config` for every size (1b 3b 8b 32b 70b), stage
# (sft dpo kto) and framework, tiny stand-in models, then each framework's own validator:
#   DeepSpeed     tools/train/check_deepspeed.py  (DeepSpeedConfig; estimator tables vs trajforge)
#   TRL           tools/train/check_trl.py        (TrlParser of `trl sft|dpo|kto`; accelerate's loader)
#   LLaMA-Factory tools/train/check_llamafactory.py (get_train_args + get_dataset, under torchrun)
#   axolotl       tools/train/check_axolotl.py    (validate_config + load_cfg + its data loaders)
#
# Usage: tools/train/validate_all.sh WORK [TRAJFORGE_BINARY] [VENVS]
#   WORK     an empty or new folder (data/, configs/, tiny/ and one log per validator go there)
#   BINARY   default: `swift build --show-bin-path`/trajforge
#   VENVS    a folder holding the three virtual environments below (default: WORK/..);
#            DS_PY, LF_PY, AX_PY override the interpreters one by one.
#   TRAJFORGE_SHARED  the shared reference data (default: ../shared beside the clone).
# The venvs (Python 3.11; axolotl 0.19 is the last release for 3.11), as used for the results
# in issue 9's closing note:
#   python3 -m venv dsvenv && dsvenv/bin/pip install --extra-index-url https://download.pytorch.org/whl/cpu \
#       torch==2.13.0+cpu deepspeed==0.19.8 trl==1.16.0 transformers==5.24.0 datasets==5.2.0 \
#       accelerate==1.15.0 jsonschema pyyaml
#   python3 -m venv lfvenv && lfvenv/bin/pip install llamafactory==0.9.5 torch==2.11.0 \
#       torchvision==0.26.0 torchaudio==2.11.0 deepspeed==0.19.8 liger-kernel==0.8.1
#       (PyPI's CUDA torch: LLaMA-Factory imports torchvision/torchaudio, which the CPU index
#       lacks for 2.13; it runs on CPU; about 6 GB)
#   python3 -m venv axvenv && axvenv/bin/pip install --extra-index-url https://download.pytorch.org/whl/cpu \
#       torch==2.13.0+cpu axolotl==0.19.0 deepspeed==0.19.8
# Everything runs offline (HF_HUB_OFFLINE=1); about 10 minutes on 2 cores, most of it axolotl.
# Exit status 1 if any validator reports a failure; WORK/summary.txt lists each one's last line.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
WORK=${1:?work folder}
BIN=${2:-$(cd "$ROOT" && swift build --show-bin-path)/trajforge}
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
VENVS=${3:-$WORK/..}
DS_PY=${DS_PY:-$VENVS/dsvenv/bin/python}
LF_PY=${LF_PY:-$VENVS/lfvenv/bin/python}
AX_PY=${AX_PY:-$VENVS/axvenv/bin/python}
SHARED=${TRAJFORGE_SHARED:-$ROOT/../shared}
RETAIL=$SHARED/data/tau-bench/retail
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
cd "$WORK"
set -e

# Data: per family, the files `trajforge config --data` names (see `trajforge config --help`).
"$BIN" ingest -q --from tau-bench --tools "$RETAIL/tools.json" "$RETAIL"/trajectories/*.json -o retail.jsonl
for fam in qwen llama; do
    d=data-$fam
    mkdir -p "$d"
    "$BIN" render -q --template "xlam2-$fam" --to sharegpt retail.jsonl -o "$d/sft.sharegpt.jsonl"
    "$BIN" render -q --template "xlam2-$fam" --to trl retail.jsonl -o "$d/sft.trl.jsonl"
    "$BIN" render -q --template "xlam2-$fam" --to trl --mode all-turns retail.jsonl -o "$d/sft.messages.jsonl"
    "$BIN" pairs -q retail.jsonl --to sharegpt -o "$d/dpo.sharegpt.jsonl"
    "$BIN" pairs -q retail.jsonl --to trl-dpo -o "$d/dpo.trl.jsonl"
    "$BIN" pairs -q retail.jsonl --strategy kto -o "$d/kto.trl.jsonl"
    # LLaMA-Factory KTO (trajforge has no writer for it yet): each ranking pair becomes two rows,
    # the conversation + chosen (kto_tag true) and the conversation + rejected (kto_tag false).
    "$DS_PY" - "$d/dpo.sharegpt.jsonl" "$d/kto.sharegpt.jsonl" <<'EOF'
import json, sys
with open(sys.argv[1]) as f, open(sys.argv[2], "w") as g:
    for line in f:
        r = json.loads(line)
        for key, tag in (("chosen", True), ("rejected", False)):
            g.write(json.dumps({"conversations": r["conversations"] + [r[key]], "system": r.get("system"),
                                "tools": r.get("tools"), "id": r.get("id"), "kto_tag": tag}, ensure_ascii=False) + "\n")
EOF
    rm -f "$d"/*.drops.jsonl "$d"/*.rejects.jsonl
done

# Configs: the paper's setup (H200 nodes), every stage and framework; each family's data.
rm -rf configs
for size in 1b 3b 8b 32b 70b; do
    fam=qwen
    case $size in 8b|70b) fam=llama ;; esac
    "$BIN" config --size "$size" --stage all --framework all --data "data-$fam" -o configs >> config.log
done
"$DS_PY" "$HERE/tiny_models.py" tiny --shared "$SHARED" --configs configs 2> tiny.log
set +e

status=0
run() {
    local name=$1; shift
    echo "== $name: $*"
    "$@" > "$name.log" 2>&1
    local rc=$?
    grep -E '^(ok|FAIL|note) ' "$name.log" | cut -c1-240
    echo "$name: exit $rc: $(grep -E '(configs|references checked), [0-9]+ failures' "$name.log" | tail -1)" | tee -a summary.txt
    [ $rc -eq 0 ] || status=1
}
: > summary.txt
run deepspeed "$DS_PY" "$HERE/check_deepspeed.py" configs --trajforge "$BIN"
run trl "$DS_PY" "$HERE/check_trl.py" configs
run llamafactory "$LF_PY" -m torch.distributed.run --nproc-per-node 1 "$HERE/check_llamafactory.py" configs --tiny tiny
run axolotl "$AX_PY" "$HERE/check_axolotl.py" configs --tiny tiny
exit $status
