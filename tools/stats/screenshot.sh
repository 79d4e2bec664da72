#!/usr/bin/env bash
# Renders the stats report of the real tau-bench retail run in headless Chromium and checks it.
#
#   tools/stats/screenshot.sh [OUT_DIR]
#
# Runs the real pipeline on ../shared/data/tau-bench/retail (ingest, validate, filter, dedup,
# split, render with token ids, pairs), then `trajforge stats` over the trajectories, the SFT
# samples, the pairs and every ledger and drops file, with --contamination against tasks.json.
# Then Chromium (Debian `chromium`, installed with apt-get when missing) renders report.html:
#   OUT_DIR/report.png         a full-page screenshot (1280 px wide)
#   OUT_DIR/tiles/tile-N.png   the page in 1,400-row tiles, to look at
#   OUT_DIR/report.pdf         the page printed (A4), to check it prints
# and tools/stats/check_screenshot.py checks that the page is not blank, that chart bars and the
# red error/cutoff marks are visible, and that Chromium logged no console or resource errors.
#
# TRAJFORGE=path/to/trajforge picks the binary (default: .build/release/trajforge, else debug, else
# `swift build -c release`). TRAJFORGE_SHARED points at the reference data (default ../shared).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
SHARED="${TRAJFORGE_SHARED:-$ROOT/../shared}"
OUT="${1:-${TMPDIR:-/tmp}/trajforge-stats-screenshot}"
RETAIL="$SHARED/data/tau-bench/retail"
ROLLOUTS="$RETAIL/trajectories/tool-calling-grok-3-0.0_range_0--1_user-grok-3-llm_0921131646.json"
TOKENIZER="$SHARED/tokenizers/xlam-2-fc-r-llama"

if [ -n "${TRAJFORGE:-}" ]; then B="$TRAJFORGE"
elif [ -x "$ROOT/.build/release/trajforge" ]; then B="$ROOT/.build/release/trajforge"
elif [ -x "$ROOT/.build/debug/trajforge" ]; then B="$ROOT/.build/debug/trajforge"
else (cd "$ROOT" && swift build -c release --product trajforge); B="$ROOT/.build/release/trajforge"; fi

if ! command -v chromium >/dev/null 2>&1; then
    echo "installing chromium (apt-get)" >&2
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
PY=python3
[ -x "$ROOT/.venv/bin/python" ] && PY="$ROOT/.venv/bin/python"

rm -rf "$OUT" && mkdir -p "$OUT/run"
cd "$OUT/run"
q() { "$B" "$@" -q 2>>pipeline.log; }
q ingest --tools "$RETAIL/tools.json" "$ROLLOUTS" -o retail.jsonl --ledger ingest.ledger.json
q validate retail.jsonl -o valid.jsonl --ledger validate.ledger.json
q filter --verified --max-tool-errors 3 valid.jsonl -o filtered.jsonl --ledger filter.ledger.json
q dedup filtered.jsonl -o unique.jsonl --ledger dedup.ledger.json
q split unique.jsonl -o splits --validation 0.2 --ledger split.ledger.json
q render --template xlam2-llama --tokenizer "$TOKENIZER" splits/train.jsonl -o sft.train.jsonl --ledger render.train.ledger.json
q render --template xlam2-llama --tokenizer "$TOKENIZER" splits/validation.jsonl -o sft.validation.jsonl --ledger render.validation.ledger.json
q pairs retail.jsonl -o pairs.dpo.jsonl --ledger pairs.ledger.json

"$B" stats retail.jsonl sft.train.jsonl sft.validation.jsonl pairs.dpo.jsonl ./*.ledger.json ./*.drops.jsonl splits/*.drops.jsonl \
    --tokenizer "$TOKENIZER" --cutoff 8192 --contamination "$RETAIL/tasks.json" \
    --title "tau-bench retail (grok-3): dataset audit" -o "$OUT/audit" --ledger "$OUT/audit/stats.ledger.json"
"$PY" "$ROOT/tools/check_schemas.py" "$ROOT/schemas/stats.schema.json" "$OUT/audit/stats.json"

PAGE="file://$OUT/audit/report.html"
FLAGS=(--headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run --disable-extensions
       --enable-logging=stderr --v=0 --user-data-dir="$OUT/chromium-profile")
chromium "${FLAGS[@]}" --window-size=1280,14000 --screenshot="$OUT/report.png" "$PAGE" >"$OUT/chromium.log" 2>&1
chromium "${FLAGS[@]}" --no-pdf-header-footer --print-to-pdf="$OUT/report.pdf" "$PAGE" >>"$OUT/chromium.log" 2>&1
chromium "${FLAGS[@]}" --dump-dom "$PAGE" 2>>"$OUT/chromium.log" >"$OUT/dom.html"

head -c 4 "$OUT/report.pdf" | grep -q "%PDF" || { echo "FAIL: no PDF printed" >&2; exit 1; }
svgs=$(grep -o "<svg" "$OUT/dom.html" | wc -l)
[ "$svgs" -ge 10 ] || { echo "FAIL: the rendered DOM has only $svgs charts" >&2; exit 1; }
echo "DOM after rendering: $svgs SVG charts; PDF $(wc -c <"$OUT/report.pdf") bytes"
"$PY" "$ROOT/tools/stats/check_screenshot.py" "$OUT/report.png" "$OUT/chromium.log" "$OUT/tiles"
echo "screenshot: $OUT/report.png (tiles in $OUT/tiles)"
