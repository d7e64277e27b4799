#!/usr/bin/env bash
# Decoding against the KV-cached PyTorch peer, every precision in the same rounds: each round runs
# the peer's W3c (greedy) and W3b (beam 4) with passive waiting, and attnscope's W3 and W3b in
# fp32, int8, bf16, and fp32 and int8 capturing every attention map (the order of attnscope and
# the peer alternates between rounds). Prints per configuration the tokens/s of each round, the
# median ratio to the peer and to attnscope's fp32 of the same round, with their range.
#
#   scripts/bench-decoding.sh [--rounds R] [--build DIR] [--out FILE.jsonl]
#
# Defaults: 3 rounds, build/ (or build-bench/), a temporary file for the JSON lines.
# Needs Debian's python3-torch: bash scripts/install-pytorch-peer.sh
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=3 build="" out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "bench-decoding.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case "$rounds" in ''|*[!0-9]*|0) echo "bench-decoding.sh: --rounds takes a positive integer" >&2; exit 2 ;; esac
if [ -z "$build" ]; then
  for d in build build-bench; do [ -x "$d/attnscope" ] && { build="$d"; break; }; done
fi
bin="${build:-build}/attnscope"
[ -x "$bin" ] || { echo "bench-decoding.sh: no $bin; build first (or pass --build DIR)" >&2; exit 1; }
py=/usr/bin/python3
"$py" -c 'import torch' 2>/dev/null || {
  echo "bench-decoding.sh: $py has no torch; run bash scripts/install-pytorch-peer.sh" >&2
  exit 1
}
[ -n "$out" ] || out="$(mktemp "${TMPDIR:-/tmp}/bench-decoding.XXXXXX.jsonl")"
: > "$out"

tag() { sed "s/^{/{\"round\": $1, \"cfg\": \"$2\", /" >> "$out"; }
peer() {
  OMP_WAIT_POLICY=passive "$py" scripts/bench-pytorch.py W3c --threads 2 --repeat 2 | tag "$1" peer
  OMP_WAIT_POLICY=passive "$py" scripts/bench-pytorch.py W3b --threads 2 --repeat 1 | tag "$1" peer
}
ours() {
  for cfg in fp32 int8 bf16 "fp32 --capture" "int8 --capture"; do
    # shellcheck disable=SC2086
    set -- $cfg
    "$bin" bench W3 W3b --json --repeat 3 --precision "$@" | tag "$r" "${cfg/ --/ +}"
  done
}
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for ((r = 1; r <= rounds; ++r)); do
  echo "round $r/$rounds (load $(cut -d' ' -f1 /proc/loadavg))" >&2
  if (( r % 2 )); then ours; peer "$r"; else peer "$r"; ours; fi
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

"$py" - "$out" <<'PY'
import json, statistics as st, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rounds = sorted({r["round"] for r in rows})
def rate(r, cfg, wl):
    return next(x["tokens_per_s"] for x in rows
                if x["round"] == r and x["cfg"] == cfg and x["workload"] == wl)
def spread(v):
    return f"{st.median(v):.2f}× ({min(v):.2f}–{max(v):.2f})"
for wl, peer_wl in (("W3", "W3c"), ("W3b", "W3b")):
    peer = [rate(r, "peer", peer_wl) for r in rounds]
    fp32 = [rate(r, "fp32", wl) for r in rounds]
    print(f"{wl} (peer: PyTorch {peer_wl}, tokens/s per round {[round(v) for v in peer]})")
    for cfg in ("fp32", "int8", "bf16", "fp32 +capture", "int8 +capture"):
        ours = [rate(r, cfg, wl) for r in rounds]
        base = [rate(r, cfg.split()[0], wl) for r in rounds]
        print(f"  {cfg:14} {str([round(v) for v in ours]):24} vs peer {spread([a / b for a, b in zip(ours, peer)])}"
              f"  vs fp32 {spread([a / b for a, b in zip(ours, fp32)])}"
              + (f"  vs uncaptured {spread([a / b for a, b in zip(ours, base)])}" if "capture" in cfg else ""))
print(f"raw JSON lines: {sys.argv[1]}")
PY
