#!/usr/bin/env bash
# The real-data benchmark of docs/training.md: the same recipe trained by attnscope and by the
# PyTorch peer (scripts/train-pytorch.py), one after the other on the same machine, each scored
# on the Tatoeba pt→en test set after 10, 25 and 50 minutes of training.
#
#   bash scripts/benchmark-tatoeba.sh [--data DIR] [--out DIR] [--marks "10 25 50"]
#                                     [--threads 2] [--only attnscope|pytorch]
#
# The corpus is DIR/tatoeba-pt-en/{train,dev,test}.tsv; DIR is data/ in the repository unless
# --data says otherwise (bash scripts/get-data.sh tatoeba-pt-en fetches and verifies it there).
#
# attnscope reaches each mark by resuming its own run (`train --resume --minutes M`), which is
# also a check that a resumed run goes on exactly. Training time counts the updates and the
# periodic dev-loss validation (both trainers do the same); scoring the test set at a mark is
# not counted. Results: OUT/results.jsonl, one line per (system, mark, decoding).
# PyTorch needs bash scripts/install-pytorch-peer.sh (Debian python3-torch + OpenBLAS).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)

DATA=$REPO/data
OUT=$REPO/runs/tatoeba
MARKS="10 25 50"
THREADS=2
ONLY=""
while [ $# -gt 0 ]; do
  case "$1" in
    --data|--out|--marks|--threads|--only)
      [ $# -ge 2 ] && [ -n "$2" ] || { echo "benchmark-tatoeba.sh: $1 needs a value" >&2; exit 2; }
      case "$1" in
        --data) DATA=$2 ;; --out) OUT=$2 ;; --marks) MARKS=$2 ;; --threads) THREADS=$2 ;;
        --only) ONLY=$2 ;;
      esac
      shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "benchmark-tatoeba.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
case "$ONLY" in ""|attnscope|pytorch) ;; *)
  echo "benchmark-tatoeba.sh: --only takes attnscope or pytorch, not '$ONLY'" >&2; exit 2 ;;
esac
# Folders given relative to where the script was started from; the rest runs in the repository.
[[ $DATA == /* ]] || DATA=$PWD/$DATA
[[ $OUT == /* ]] || OUT=$PWD/$OUT
cd "$REPO"
DATA=$DATA/tatoeba-pt-en
for f in train dev test; do
  [ -f "$DATA/$f.tsv" ] || {
    echo "benchmark-tatoeba.sh: $DATA/$f.tsv not found: fetch the corpus with" \
      "bash scripts/get-data.sh tatoeba-pt-en (or pass --data DIR)" >&2
    exit 2
  }
done
B=build/attnscope
[ -x "$B" ] || { echo "benchmark-tatoeba.sh: build attnscope first (bash scripts/demo.sh)" >&2; exit 2; }
mkdir -p "$OUT"
RESULTS=$OUT/results.jsonl

# The recipe, shared by both trainers: Transformer small (d_model 256, 4 heads, 3+3 layers,
# d_ff 1024, dropout 0.1), joint SentencePiece unigram 8k with tied embeddings, batches of at
# most 2048 padded tokens, Adam (0.9, 0.98, 1e-9), 300 warm-up steps to 1e-3 then inverse
# square root, label smoothing 0.1, gradient norm clipped at 1, dev loss every 500 updates.
SEED=1
COMMON=(--config small --vocab 8000 --batch-tokens 2048 --lr 1e-3 --warmup 300
        --label-smoothing 0.1 --clip-norm 1 --valid-every 500 --valid-bleu-sentences 0 --seed $SEED)

record() {  # system mark decoding json
  python3 -c 'import json,sys; d=json.loads(sys.argv[4]); d.update(system=sys.argv[1], minutes=float(sys.argv[2]), decoding=sys.argv[3]); print(json.dumps(d))' \
    "$@" >> "$RESULTS"
  tail -n 1 "$RESULTS"
}

if [ "$ONLY" != pytorch ]; then
  M=$OUT/attnscope
  rm -rf "$M"
  resume=()
  for mark in $MARKS; do
    OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS $B train --data "$DATA/train.tsv" \
      --valid "$DATA/dev.tsv" --out "$M" "${COMMON[@]}" --minutes "$mark" "${resume[@]}" \
      --log-every 100 2> "$OUT/attnscope-train-$mark.log"
    resume=(--resume)
    steps=$(python3 -c 'import json,sys; t=json.load(open(sys.argv[1])); print(json.dumps({k: t[k] for k in ("step", "best_step")})[1:-1])' "$M/checkpoint/trainer.json")
    for beam in 1 4; do
      j=$(OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS $B eval --model "$M" --data "$DATA/test.tsv" --beam "$beam" --json \
            --hypotheses "$OUT/attnscope-$mark-beam$beam.txt")
      record attnscope "$mark" "beam$beam" "${j%\}}, $steps}"
    done
    # The last weights too: the checkpoint's, in a model directory of their own.
    L=$OUT/attnscope-last
    rm -rf "$L" && mkdir -p "$L"
    cp "$M/config.json" "$M"/*.spm "$L/" && cp "$M/checkpoint/model.safetensors" "$L/"
    j=$(OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS $B eval --model "$L" --data "$DATA/test.tsv" --json \
          --hypotheses "$OUT/attnscope-$mark-last.txt")
    record attnscope "$mark" "beam1-last" "${j%\}}, $steps}"
  done
fi

if [ "$ONLY" != attnscope ]; then
  SPM=$OUT/attnscope/shared.spm
  [ -f "$SPM" ] || { echo "benchmark-tatoeba.sh: $SPM missing: run the attnscope part first" >&2; exit 2; }
  /usr/bin/python3 scripts/train-pytorch.py --train "$DATA/train.tsv" --valid "$DATA/dev.tsv" \
    --test "$DATA/test.tsv" --spm "$SPM" --out "$OUT/pytorch" --marks "$MARKS" \
    --threads "$THREADS" --seed $SEED 2> "$OUT/pytorch-train.log"
  for mark in $MARKS; do
    steps=$(python3 -c 'import json,sys; t=json.load(open(sys.argv[1])); print(json.dumps({k: t[k] for k in ("step", "best_step")})[1:-1])' "$OUT/pytorch/mark-$mark.json")
    j=$($B score --hypotheses "$OUT/pytorch/hyp-$mark.txt" --data "$DATA/test.tsv" --json)
    record pytorch "$mark" beam1 "${j%\}}, $steps}"
    j=$($B score --hypotheses "$OUT/pytorch/hyp-$mark-last.txt" --data "$DATA/test.tsv" --json)
    record pytorch "$mark" beam1-last "${j%\}}, $steps}"
  done
fi
echo "results: $RESULTS"
