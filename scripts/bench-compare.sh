#!/usr/bin/env bash
# attnscope against its PyTorch peer on the CPU workloads of docs/benchmarks.md, in the same
# run: for each round and workload, `attnscope bench W --json` and `scripts/bench-pytorch.py W`
# run one after the other (the order alternates between rounds), each in its own process (so each
# peak_rss_mb belongs to one workload). Prints the medians over rounds and the speedup
# attnscope/PyTorch for each metric (> 1: attnscope is faster, or for memory: uses less).
#
#   scripts/bench-compare.sh [--rounds R] [--repeat N] [--w3-repeat N] [--threads T]
#                            [--build DIR] [--out FILE.jsonl] [W1 W1w W2 W3 W3m]
#
# Defaults: W1 W1w W2 W3 (W3m when named), 3 rounds, each program's own repetitions (W1 20, W2 5)
# except W3 and W3m, which run once a round (--w3-repeat 1: PyTorch's W3 takes about a minute a
# run, W3m half a minute per beam size), 2 threads, build/ or build-bench/. The raw JSON lines
# go to FILE.jsonl (default: a temporary file, named at the end).
# PyTorch's OpenMP keeps its default wait policy (spinning) unless PEER_OMP_WAIT_POLICY is set;
# attnscope runs with passive waiting unless OMP_WAIT_POLICY is set (see docs/architecture.md).
# Needs Debian's python3-torch: bash scripts/install-pytorch-peer.sh
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3 repeat="" w3_repeat=1 threads=2 small="" build="" out="" workloads=()
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    --w3-repeat) w3_repeat="$2"; shift 2 ;;
    --small) small=--small; shift ;;  # tiny shapes: a smoke test of this script
    --threads) threads="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    W1|W1w|W2|W3|W3m) workloads+=("$1"); shift ;;
    *) echo "bench-compare.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[ ${#workloads[@]} -gt 0 ] || workloads=(W1 W1w W2 W3)
if [ -z "$build" ]; then
  for d in build build-bench; do [ -x "$d/attnscope" ] && { build="$d"; break; }; done
fi
bin="${build:-build}/attnscope"
[ -x "$bin" ] || { echo "bench-compare.sh: no $bin; build first (or pass --build DIR)" >&2; exit 1; }
py=/usr/bin/python3
"$py" -c 'import torch' 2>/dev/null || {
  echo "bench-compare.sh: $py has no torch; run bash scripts/install-pytorch-peer.sh" >&2
  exit 1
}
[ -n "$out" ] || out="$(mktemp /tmp/bench-compare.XXXXXX.jsonl)"
: > "$out"
# Repetitions for workload $1 (both programs get the same).
reps() {
  echo $small
  if [ "$1" = W3 ] || [ "$1" = W3m ]; then echo --repeat "${repeat:-$w3_repeat}"
  elif [ -n "$repeat" ]; then echo --repeat "$repeat"; fi
}

run_ours() {
  # shellcheck disable=SC2046
  "$bin" bench "$1" --json --threads "$threads" $(reps "$1") | sed "s/^{/{\"round\": $2, /" >> "$out"
}
run_peer() {
  # shellcheck disable=SC2046
  if [ -n "${PEER_OMP_WAIT_POLICY:-}" ]; then
    OMP_WAIT_POLICY="$PEER_OMP_WAIT_POLICY" "$py" scripts/bench-pytorch.py "$1" \
      --threads "$threads" $(reps "$1")
  else
    "$py" scripts/bench-pytorch.py "$1" --threads "$threads" $(reps "$1")
  fi | sed "s/^{/{\"round\": $2, /" >> "$out"
}

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for ((r = 1; r <= rounds; ++r)); do
  for w in "${workloads[@]}"; do
    echo "round $r/$rounds: $w" >&2
    if (( r % 2 )); then run_ours "$w" "$r"; run_peer "$w" "$r"
    else run_peer "$w" "$r"; run_ours "$w" "$r"; fi
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

"$py" - "$out" <<'PY'
import json, statistics, sys

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]

def pick(impl, workload, causal=None, variant=None):
    out = {}
    for r in rows:
        if r["impl"] != impl or r["workload"] != workload:
            continue
        if causal is not None and r.get("causal") != causal:
            continue
        if variant is not None and r.get("variant") != variant:
            continue
        out.setdefault(r["round"], []).append(r)
    return out

def per_round(impl, workload, key, causal=None, best=min, beam=None):
    """{round: value}; PyTorch's W1 takes its best variant of the round."""
    out = {}
    for rnd, rs in pick(impl, workload, causal).items():
        rs = [r for r in rs if beam is None or r.get("beam") == beam]
        if rs:
            out[rnd] = best(r[key] for r in rs)
    return out

# metric, workload, key, causal, higher_is_better, target (speedup) or None
metrics = []
for causal in (False, True):
    tag = "causal" if causal else "non-causal"
    metrics.append((f"W1 fwd ms, {tag}", "W1", "fwd_ms", causal, False,
                    3.0 if not causal else None))
    metrics.append((f"W1 fwd+bwd ms, {tag}", "W1", "fwdbwd_ms", causal, False, None))
for causal in (False, True):
    tag = "causal" if causal else "non-causal"
    metrics.append((f"W1w fwd+weights ms, {tag}", "W1w", "fwd_ms", causal, False, None))
metrics += [
    ("W2 tgt tokens/s", "W2", "tgt_tokens_per_s", None, True, 3.0),
    ("W2 peak RSS MiB", "W2", "peak_rss_mb", None, False, 1.0),
    ("W3 tokens/s", "W3", "tokens_per_s", None, True, 10.0),
    ("W3m greedy tokens/s", "W3m", "tokens_per_s", None, True, 2.0, 1),
    ("W3m beam 4 tokens/s", "W3m", "tokens_per_s", None, True, 2.0, 4),
]

def fmt(v):
    return f"{v:.1f}" if v >= 10 else f"{v:.2f}"

print(f"{'metric':<32} {'attnscope':>10} {'PyTorch':>10} {'speedup':>8} {'(range)':>14}  target")
for name, w, key, causal, higher, target, *beam in metrics:
    best = max if higher else min
    beam = beam[0] if beam else None
    ours = per_round("attnscope", w, key, causal, best, beam)
    peer = per_round("pytorch", w, key, causal, best, beam)
    common = sorted(set(ours) & set(peer))
    if not common:
        continue
    a = statistics.median(ours[r] for r in common)
    p = statistics.median(peer[r] for r in common)
    speed = (lambda x, y: x / y) if higher else (lambda x, y: y / x)
    s = speed(a, p)
    per = [speed(ours[r], peer[r]) for r in common]
    rng = f"{min(per):.2f}–{max(per):.2f}"
    goal = ""
    if target is not None:
        goal = f"≥ {target:g}× {'met' if s >= target else 'NOT met'}"
    print(f"{name:<32} {fmt(a):>10} {fmt(p):>10} {s:>7.2f}× {rng:>14}  {goal}")

for causal in (False, True):
    ratios = per_round("attnscope", "W1w", "ratio_to_w1_fwd", causal)
    if ratios:
        r = statistics.median(ratios.values())
        tag = "causal" if causal else "non-causal"
        goal = f"≤ 1.3 {'met' if r <= 1.3 else 'NOT met'}"
        print(f"{'attnscope W1w/W1 fwd, ' + tag:<32} {r:>10.2f} {'':>10} {'':>8} {'':>14}  {goal}")
first = next((r for r in rows if r["impl"] == "attnscope"), None)
peer = next((r for r in rows if r["impl"] == "pytorch"), None)
if first and peer:
    print(f"\nattnscope: {first['threads']} threads, {first['isa']} (built for {first['build_isa']}), "
          f"OMP_WAIT_POLICY={first['omp_wait_policy'] or 'unset'}; PyTorch {peer['torch']}: "
          f"{peer['threads']} threads, kernels {peer['build_isa']}, "
          f"OMP_WAIT_POLICY={peer['omp_wait_policy'] or 'unset'}")
print("speedup: PyTorch time / attnscope time, attnscope rate / PyTorch rate, PyTorch memory / "
      "attnscope memory (> 1: attnscope is better); medians over rounds, range over rounds.")
print("W1 PyTorch = its fastest variant each round (matmul-softmax-matmul, or SDPA where it "
      "exists); W3 PyTorch: nn.Transformer has no KV cache; W3m PyTorch: a KV-cached Marian "
      "twin with Hugging Face's greedy and beam search.")
PY
echo "raw JSON lines: $out" >&2
