#!/usr/bin/env bash
# Long fuzzing runs for docs/reliability.md: each libFuzzer target of tests/fuzz/ runs until it has
# used a given amount of CPU time (not wall time: a shared or niced machine gives less CPU than
# the clock shows), from a working corpus seeded with tests/fuzz/corpus/<target>/. A crash is
# kept (with the input) and the target started again, until its CPU time is used.
#
#   bash scripts/fuzz-long.sh [--cpu-seconds N] [--jobs J] [--build DIR] [--out DIR] [TARGET...]
#
#   --cpu-seconds N   CPU seconds per target (default 3600: one CPU-hour)
#   --jobs J          targets run at once (default 1)
#   --build DIR       the sanitizer build (default build-asan; built here if its targets are
#                     missing: cmake -DATTNSCOPE_SANITIZE=ON with clang++-14)
#   --out DIR         logs, working corpora, crashes and summary.tsv (default fuzz-long/)
#   TARGET...         default: every tests/fuzz/*_fuzz.cc
#
# OUT/summary.tsv gets one line per target: target, cpu_s, wall_s, runs, execs, cov, ft, corpus
# (inputs), crashes (not slow-unit-… inputs: a starved, niced fuzzer writes those too; the log line
# counts them); OUT/<target>.log is libFuzzer's output; OUT/artifacts/<target>/ the crashing
# inputs (replay one: build-asan/attnscope_fuzz_<target> OUT/artifacts/<target>/crash-…).
# Run it in the background under `nice -n 19` on a machine that does other work.
set -euo pipefail
cd "$(dirname "$0")/.."
cpu_seconds=3600
jobs=1
build=build-asan
out=fuzz-long
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --cpu-seconds) cpu_seconds=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    -*) echo "fuzz-long: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
case "$cpu_seconds$jobs" in *[!0-9]*) echo "fuzz-long: --cpu-seconds and --jobs take integers" >&2; exit 2 ;; esac
if [ ${#targets[@]} -eq 0 ]; then
  for f in tests/fuzz/*_fuzz.cc; do n=$(basename "$f" _fuzz.cc); targets+=("$n"); done
fi
missing=0
for t in "${targets[@]}"; do [ -x "$build/attnscope_fuzz_$t" ] || missing=1; done
if [ $missing = 1 ]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CXX_FLAGS_RELEASE="-O1 -gline-tables-only" -DATTNSCOPE_SANITIZE=ON \
    -DATTNSCOPE_BUILD_BENCH=OFF >/dev/null
  cmake --build "$build" --target attnscope_fuzz_all
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
summary="$out/summary.tsv"
[ -f "$summary" ] || printf 'target\tcpu_s\twall_s\truns\texecs\tcov\tft\tcorpus\tcrashes\n' >"$summary"

# CPU seconds (user + system) a running process has used so far.
cpu_of() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
  stat=${stat##*) }
  set -- $stat
  echo $(( (${12} + ${13}) / $(getconf CLK_TCK) ))
}

fuzz_one() {
  local t=$1 bin="$build/attnscope_fuzz_$1"
  local corpus="$out/corpus/$t" artifacts="$out/artifacts/$t" log="$out/$t.log"
  mkdir -p "$corpus" "$artifacts"
  local state="$out/$t.used" used=0 wall=0 runs=0 start=$SECONDS
  [ -f "$state" ] && read -r used wall runs <"$state"
  case "$used$wall$runs" in *[!0-9]*|'') echo "fuzz-long: $state is not 'cpu wall runs'" >&2; return 1 ;; esac
  if [ "$used" -ge "$cpu_seconds" ]; then
    echo "fuzz-long: $t already had ${used} CPU-s (see $summary)"
    return 0
  fi
  start=$((SECONDS - wall))
  while [ "$used" -lt "$cpu_seconds" ] && [ "$runs" -lt 50 ]; do
    runs=$((runs + 1))
    echo "=== run $runs (CPU used so far: ${used}s of ${cpu_seconds}s)" >>"$log"
    OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive "$bin" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" "tests/fuzz/corpus/$t" \
      >>"$log" 2>&1 &
    local pid=$! cpu=0 c=0
    while kill -0 "$pid" 2>/dev/null; do
      sleep 2
      c=$(cpu_of "$pid")  # 0 once it has exited: keep the last reading
      [ "$c" -gt "$cpu" ] && cpu=$c
      if [ $((used + cpu)) -ge "$cpu_seconds" ]; then kill -INT "$pid" 2>/dev/null || true; fi
      echo "$((used + cpu)) $((SECONDS - start)) $runs" >"$state.tmp" && mv "$state.tmp" "$state"
    done
    wait "$pid" || true
    used=$((used + cpu))  # this run's CPU at its last look (≤ 2 s short)
    echo "$used $((SECONDS - start)) $runs" >"$state.tmp" && mv "$state.tmp" "$state"
  done
  local last execs cov ft corp crashes slow
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  execs=$(grep -h 'stat::number_of_executed_units' "$log" | awk '{s += $2} END {print s + 0}')
  cov=$(sed -n 's/.* cov: \([0-9]*\) .*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\) .*/\1/p' <<<"$last")
  corp=$(find "$corpus" -type f | wc -l)
  # slow-unit-… files are inputs that took long on the wall clock (a starved, niced process writes
  # them too): kept, reported, not counted as crashes; replay one to judge it.
  crashes=$(find "$artifacts" -type f ! -name 'slow-unit-*' | wc -l)
  slow=$(find "$artifacts" -type f -name 'slow-unit-*' | wc -l)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$used" $((SECONDS - start)) "$runs" \
    "$execs" "${cov:-?}" "${ft:-?}" "$corp" "$crashes" >>"$summary"
  echo "fuzz-long: $t: ${used} CPU-s, $execs executions, cov ${cov:-?}, ft ${ft:-?}, $crashes crash(es), $slow slow unit(s)"
}

running=0
for t in "${targets[@]}"; do
  fuzz_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then wait -n || true; running=$((running - 1)); fi
done
wait
echo "fuzz-long: summary in $summary"
