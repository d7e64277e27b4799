#!/usr/bin/env bash
# The measurements of docs/scaling.md on this machine: training throughput of one rank with two
# threads against two ranks with one thread each (the same global batch: --accumulate 2 against
# 1 per rank), alternating, over rounds; then `attnscope bench W7` (the gradient sum over the
# ranks, and a training step with it) over TCP on loopback and over shared memory.
#
#   scripts/bench-scaling.sh [--data FILE.tsv] [--rounds R] [--steps N] [--config small]
#                            [--build DIR] [--out DIR]
#
# Defaults: data/tatoeba-pt-en/train.tsv (scripts/get-data.sh), 3 rounds of 30 updates of the
# small model with --batch-tokens 4096, build/. The runs' model directories, logs and the W7 JSON
# lines stay in DIR (default: a temporary folder, named at the end). The machine's other load
# shows in every number: run it on an idle machine, or compare only numbers of one run.
set -euo pipefail
cd "$(dirname "$0")/.."

data=data/tatoeba-pt-en/train.tsv rounds=3 steps=30 config=small build=build out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --data) data="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --config) config="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "bench-scaling.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
bin="$build/attnscope"
[ -x "$bin" ] || { echo "bench-scaling.sh: no $bin; build first (or pass --build DIR)" >&2; exit 1; }
[ -f "$data" ] || { echo "bench-scaling.sh: no $data (bash scripts/get-data.sh, or --data FILE)" >&2; exit 1; }
command -v mpirun >/dev/null || { echo "bench-scaling.sh: no mpirun (apt install openmpi-bin)" >&2; exit 1; }
python=/usr/bin/python3; [ -x "$python" ] || python=python3
out=${out:-$(mktemp -d -t attnscope-scaling.XXXXXX)}
mkdir -p "$out"
mpi=(mpirun -np 2 --oversubscribe)
[ "$(id -u)" = 0 ] && mpi+=(--allow-run-as-root)
shm=(--mca pml ob1 --mca btl self,vader)
tcp=(--mca pml ob1 --mca btl tcp,self --mca btl_tcp_if_include lo)

# One tokenizer for every run, so that the runs time training only.
"$bin" train --config "$config" --data "$data" --out "$out/tokenizer" --steps 1 --vocab 8000 \
  --valid-every 0 >"$out/tokenizer.log" 2>&1
common=(train --config "$config" --data "$data" --spm "$out/tokenizer/shared.spm"
  --batch-tokens 4096 --steps "$steps" --log-every 5 --valid-every 0 --warmup 100)

# Target tokens per second of a run: the median of its log windows after the first (warm-up).
throughput() {
  "$python" - "$1" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl") if '"loss"' in l]
print(round(statistics.median(r["tgt_tokens_per_s"] for r in rows[1:])))
EOF
}

one_rank() {  # round
  OMP_NUM_THREADS=2 "$bin" "${common[@]}" --accumulate 2 --out "$out/one-$1" >"$out/one-$1.log" 2>&1
  echo "round $1: 1 rank  x 2 threads: $(throughput "$out/one-$1") target tokens/s"
}
two_ranks() {  # round
  "${mpi[@]}" "${shm[@]}" --bind-to core -x OMP_NUM_THREADS=1 "$bin" "${common[@]}" --accumulate 1 \
    --out "$out/two-$1" >"$out/two-$1.log" 2>&1
  echo "round $1: 2 ranks x 1 thread:  $(throughput "$out/two-$1") target tokens/s"
}
for r in $(seq 1 "$rounds"); do
  if [ $((r % 2)) = 1 ]; then one_rank "$r"; two_ranks "$r"; else two_ranks "$r"; one_rank "$r"; fi
done | tee "$out/throughput.txt"
"$python" - "$out/throughput.txt" <<'EOF'
import re, statistics, sys
one, two = [], []
for line in open(sys.argv[1]):
    v = int(re.search(r"(\d+) target tokens/s", line).group(1))
    (one if "1 rank" in line else two).append(v)
m1, m2 = statistics.median(one), statistics.median(two)
print(f"median: 1 rank x 2 threads {m1:.0f}, 2 ranks x 1 thread {m2:.0f} target tokens/s: "
      f"ratio {m2 / m1:.2f}")
EOF

# The gradient sums: W7 over TCP on loopback and over shared memory, alternating.
for r in $(seq 1 "$rounds"); do
  for t in tcp shm; do
    if [ $t = tcp ]; then net=("${tcp[@]}"); else net=("${shm[@]}"); fi
    "${mpi[@]}" "${net[@]}" --bind-to core -x OMP_NUM_THREADS=1 "$bin" bench W7 --json |
      sed "s/^{/{\"transport\": \"$t\", \"round\": $r, /" >>"$out/w7.jsonl"
  done
done
"$python" - "$out/w7.jsonl" <<'EOF'
import json, statistics, sys
from collections import defaultdict
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
by = defaultdict(list)
for r in rows:
    by[(r["transport"], r["model"])].append(r)
for (t, m), rs in sorted(by.items()):
    med = lambda k: statistics.median(r[k] for r in rs)
    line = (f"W7 {t:3} {m:5}: {rs[0]['params'] / 1e6:.1f}M params, {rs[0]['bytes'] / 1e6:.0f} MB, "
            f"sum {med('sum_ms'):.1f} ms (bus {med('bus_gbit_s'):.2f} Gbit/s)")
    if "step_ms" in rs[0]:
        line += (f"; step {med('step_ms'):.0f} ms, overlapped {med('step_overlapped_ms'):.0f} ms "
                 f"(waited {med('overlapped_wait_ms'):.1f}), after {med('step_after_ms'):.0f} ms "
                 f"(waited {med('after_wait_ms'):.1f})")
    print(line + f"  [{len(rs)} rounds]")
EOF
echo "bench-scaling.sh: runs, logs and W7 lines in $out"
