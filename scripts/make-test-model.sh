#!/usr/bin/env bash
# Remakes tests/data/tiny_dates_model: a very small Transformer (d_model 32, 2 heads, 2+2
# layers) trained for a minute on the demo's date task. The decoding and capture tests read
# its attention; it is committed so the tests need no training. Usage:
#   bash scripts/make-test-model.sh [path/to/attnscope]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build/attnscope}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cat > "$WORK/config.json" <<'JSON'
{"arch": "transformer", "d_model": 32, "heads": 2, "encoder_layers": 2, "decoder_layers": 2,
 "d_ff": 64, "src_vocab": 160, "tgt_vocab": 160, "max_len": 64, "dropout": 0.0}
JSON
OMP_NUM_THREADS=1 "$BIN" demo --out "$WORK/demo" --config "$WORK/config.json" --steps 1500 \
  --minutes 2 --train-pairs 8000 --seed 7
DEST=tests/data/tiny_dates_model
rm -rf "$DEST"
mkdir -p "$DEST"
cp "$WORK/demo/model/config.json" "$WORK/demo/model/model.safetensors" "$DEST/"
cp "$WORK/demo/model/"*.spm "$DEST/"
du -sh "$DEST"
