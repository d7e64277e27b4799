#!/usr/bin/env bash
# `attnscope translate` and `attention` with --device cuda --precision fp32 print exactly what they
# print with --device cpu (greedy and beam 4), on a model directory with tokenizers; bf16's
# agreement is reported. Part of scripts/gpu-check.sh; exits non-zero on any difference.
#
#   bash scripts/gpu-cli-check.sh ATTNSCOPE_BINARY MODEL_DIR
set -u -o pipefail
BIN=$1 MODEL=$2
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
printf '%s\n' "25 de dezembro de 1969" "October 9, 1993" "1993/10/12" \
  "terça-feira, 12 de outubro de 1993" "3 March 2001" "1º de janeiro de 2000" "2049-12-31" \
  "July 4, 1776" "12.05.1987" "domingo, 7 de setembro de 1822" >"$TMP/in.txt"
rc=0
same() {  # same WHAT A B
  if cmp -s "$2" "$3"; then echo "$1: cpu = cuda fp32 ($(wc -l <"$2") lines)"
  else echo "$1: DIFFERENT"; diff "$2" "$3"; rc=1; fi
}
for beam in 1 4; do
  "$BIN" translate --model "$MODEL" --input "$TMP/in.txt" --beam "$beam" >"$TMP/cpu.txt" || rc=1
  "$BIN" translate --model "$MODEL" --input "$TMP/in.txt" --beam "$beam" --device cuda \
    --precision fp32 >"$TMP/gpu.txt" || rc=1
  same "translate beam $beam" "$TMP/cpu.txt" "$TMP/gpu.txt"
  "$BIN" translate --model "$MODEL" --input "$TMP/in.txt" --beam "$beam" --device cuda \
    >"$TMP/bf16.txt" || rc=1
  echo "translate beam $beam: cuda bf16 equals cpu on $(paste -d'\t' "$TMP/cpu.txt" "$TMP/bf16.txt" | awk -F'\t' '$1 == $2' | wc -l) of $(wc -l <"$TMP/in.txt") lines"
done
for beam in 1 4; do
  "$BIN" attention --model "$MODEL" --input "$TMP/in.txt" --beam "$beam" --no-pictures --no-html \
    --out "$TMP/att-cpu" >"$TMP/cpu.txt" 2>/dev/null || rc=1
  "$BIN" attention --model "$MODEL" --input "$TMP/in.txt" --beam "$beam" --no-pictures --no-html \
    --out "$TMP/att-gpu" --device cuda --precision fp32 >"$TMP/gpu.txt" 2>/dev/null || rc=1
  same "attention beam $beam" "$TMP/cpu.txt" "$TMP/gpu.txt"
done
exit "$rc"
