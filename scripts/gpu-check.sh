#!/usr/bin/env bash
# The one GPU check of the CUDA kernels (issue 19), for a machine with an NVIDIA GPU, nvcc, CMake,
# GoogleTest and fmt: builds only the CUDA targets (cmake/cuda_only: the kernels, their tests and
# the W4 benchmark — no Highway, cpp-httplib or the rest of the CPU project needed), runs the
# tests, benchmarks W4 beside PyTorch in the same call, runs compute-sanitizer (memcheck on the
# whole suite, racecheck on the tensor-core attention) and writes a summary. Every step is
# time-boxed and the script goes on past a failing step, so one run tells everything; steps that
# no longer fit in the time budget are skipped and say so. Results (at most 8 files) go to OUT:
#   summary.txt  environment, every step's status and time, the test and W4 tables (also printed)
#   build.log  tests.log  cuda-tests.xml  bench-attnscope.jsonl  bench-pytorch.jsonl  sanitizer.log
#
#   bash scripts/gpu-check.sh [OUT]                 OUT defaults to $OUT, else ./gpu-check-out
#   ATTNSCOPE_PREBUILT=DIR bash scripts/gpu-check.sh  use DIR/attnscope_cuda_{tests,bench} as they
#                                                   are (built elsewhere), when they load here
#   ATTNSCOPE_GPU_BUDGET=540 (seconds for the whole run), ATTNSCOPE_GPU_JOBS=16
#   bash scripts/gpu-check.sh --build-only [BUILD_DIR]  configure and build only (no GPU needed)
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUDGET=${ATTNSCOPE_GPU_BUDGET:-540}
JOBS=${ATTNSCOPE_GPU_JOBS:-16}

build_only=0
if [ "${1:-}" = "--build-only" ]; then
  build_only=1
  BUILD=${2:-$ROOT/build-cuda}
  OUT=$(mktemp -d)
else
  OUT=${1:-${OUT:-$PWD/gpu-check-out}}
  BUILD=${ATTNSCOPE_GPU_BUILD:-$ROOT/build-gpu}
fi
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
SUMMARY=$OUT/summary.txt
: >"$SUMMARY"

log() { echo "[$(date -u +%H:%M:%S) +${SECONDS}s] $*" | tee -a "$SUMMARY"; }
# run_step NAME CAP LOGFILE CMD...: runs CMD with a timeout of min(CAP, what is left of the
# budget), appending its output to LOGFILE; records status and time. Returns CMD's status.
STATUS=()
run_step() {
  local name=$1 cap=$2 logfile=$3
  shift 3
  local left=$((BUDGET - SECONDS - 10))
  local limit=$((cap < left ? cap : left))
  if [ "$limit" -lt 15 ]; then
    log "SKIP  $name: out of time (${left}s left of the ${BUDGET}s budget)"
    STATUS+=("$name: skipped (out of time)")
    return 125
  fi
  log "start $name (limit ${limit}s) → $(basename "$logfile")"
  echo "===== $name: $* =====" >>"$logfile"
  local t0=$SECONDS rc=0
  timeout -k 10 "$limit" "$@" >>"$logfile" 2>&1 || rc=$?
  local dt=$((SECONDS - t0)) what="ok"
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    what="TIMED OUT after ${limit}s"
  elif [ "$rc" -ne 0 ]; then
    what="FAILED (exit $rc)"
  fi
  log "done  $name: $what in ${dt}s"
  STATUS+=("$name: $what (${dt}s)")
  if [ "$rc" -ne 0 ]; then
    echo "----- last lines of $(basename "$logfile") -----"
    tail -n 25 "$logfile"
    echo "-----"
  fi
  return "$rc"
}

# ---- environment: what is here, what is missing ----
{
  commit="(no git metadata)"
  if git -C "$ROOT" rev-parse --short HEAD >/dev/null 2>&1; then
    commit="commit $(git -C "$ROOT" rev-parse --short HEAD)"
    git -C "$ROOT" diff --quiet 2>/dev/null || commit="$commit with local changes"
  fi
  echo "attnscope gpu-check, $(date -u +%Y-%m-%dT%H:%M:%SZ), $commit"
  echo "host: $(uname -srm), $(nproc) cores; $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,temperature.gpu,utilization.gpu --format=csv,noheader 2>&1 | sed 's/^/gpu: /'
  else
    echo "gpu: nvidia-smi not found"
  fi
} | tee -a "$SUMMARY"
NVCC=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
missing=()
have() { command -v "$1" >/dev/null 2>&1; }
[ -x "$NVCC" ] && echo "nvcc: $("$NVCC" --version | tail -n 2 | head -n 1)" | tee -a "$SUMMARY" || missing+=("nvcc")
have cmake && echo "cmake: $(cmake --version | head -n 1)" | tee -a "$SUMMARY" || missing+=("cmake")
GEN="Unix Makefiles"
if have ninja; then GEN=Ninja; else echo "ninja: not found (Unix Makefiles instead)" | tee -a "$SUMMARY"; fi
have g++ && echo "g++: $(g++ --version | head -n 1)" | tee -a "$SUMMARY" || missing+=("g++")
for h in gtest/gtest.h fmt/format.h; do
  if ! echo "#include <$h>" | g++ -std=c++20 -x c++ -fsyntax-only - 2>/dev/null; then missing+=("$h"); fi
done
for pc in libhwy cpp-httplib openblas sentencepiece; do  # the CPU project's; not needed here
  if have pkg-config && pkg-config --exists "$pc" 2>/dev/null; then :; else
    echo "note: $pc not found by pkg-config (the CPU project needs it; this check does not)" | tee -a "$SUMMARY"
  fi
done
PY=python3
have "$PY" && echo "python: $($PY -c 'import sys, torch; print(sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda)' 2>&1 | tail -n 1)" | tee -a "$SUMMARY"
SANITIZER=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || true)
echo "compute-sanitizer: ${SANITIZER:-not found}" | tee -a "$SUMMARY"
if [ "${#missing[@]}" -gt 0 ]; then log "MISSING: ${missing[*]}"; fi

# ---- build (or take prebuilt binaries) ----
TESTS=$BUILD/attnscope_cuda_tests
BENCH=$BUILD/attnscope_cuda_bench
use_prebuilt=0
if [ -n "${ATTNSCOPE_PREBUILT:-}" ]; then
  P=$(cd "$ATTNSCOPE_PREBUILT" 2>/dev/null && pwd || echo "$ATTNSCOPE_PREBUILT")
  if [ -x "$P/attnscope_cuda_tests" ] && [ -x "$P/attnscope_cuda_bench" ] &&
     ! ldd "$P/attnscope_cuda_tests" 2>&1 | grep -q "not found" &&
     "$P/attnscope_cuda_tests" --gtest_list_tests >/dev/null 2>&1; then
    TESTS=$P/attnscope_cuda_tests BENCH=$P/attnscope_cuda_bench use_prebuilt=1
    log "using the prebuilt binaries in $P"
  else
    log "prebuilt binaries in $ATTNSCOPE_PREBUILT do not load here ($(ldd "$P/attnscope_cuda_tests" 2>&1 | grep 'not found' | head -n 3 | tr '\n' ' ')); building instead"
  fi
fi
if [ "$use_prebuilt" -eq 0 ]; then
  run_step configure 120 "$OUT/build.log" cmake -S "$ROOT/cmake/cuda_only" -B "$BUILD" -G "$GEN" \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_COMPILER="$NVCC"
  run_step build 360 "$OUT/build.log" cmake --build "$BUILD" -j "$JOBS" \
    --target attnscope_cuda_tests attnscope_cuda_bench
fi
if [ "$build_only" -eq 1 ]; then
  for s in "${STATUS[@]}"; do echo "  $s"; done
  [ -x "$TESTS" ] && [ -x "$BENCH" ] && echo "built: $TESTS $BENCH" && exit 0
  exit 1
fi

# ---- run: tests, benchmarks, sanitizers (in order of importance; when a test fails, memcheck
# runs before the benchmarks, since it names the kernel that went wrong) ----
bench_steps() {
  if [ -x "$BENCH" ]; then
    run_step bench-attnscope 150 "$OUT/tests.log" sh -c "\"$BENCH\" > \"$OUT/bench-attnscope.jsonl\""
  else
    log "SKIP  bench-attnscope: no benchmark binary"; STATUS+=("bench-attnscope: not built")
  fi
  run_step bench-pytorch 180 "$OUT/tests.log" sh -c "$PY \"$ROOT/scripts/bench-pytorch-cuda.py\" > \"$OUT/bench-pytorch.jsonl\""
}
memcheck_step() {
  # Left out: CudaCheck.FailedCall… makes a cudaMalloc fail on purpose (memcheck counts it), and
  # CudaAllocator.DestructorFreesEverything reads free device memory, which the sanitizer's own
  # allocations change.
  run_step memcheck 200 "$OUT/sanitizer.log" "$SANITIZER" --tool memcheck --error-exitcode 3 \
    --print-limit 20 "$TESTS" --gtest_brief=1 \
    --gtest_filter='-CudaCheck.FailedCallNamesCallFileAndLineAndError:CudaAllocator.DestructorFreesEverything'
}
racecheck_step() {
  run_step racecheck 120 "$OUT/sanitizer.log" "$SANITIZER" --tool racecheck --error-exitcode 3 \
    --print-limit 20 "$TESTS" --gtest_brief=1 --gtest_filter='CudaAttention.FlashRacecheckShapes'
}
tests_rc=1
if [ -x "$TESTS" ]; then
  tests_rc=0
  run_step tests 180 "$OUT/tests.log" "$TESTS" --gtest_output="xml:$OUT/cuda-tests.xml" || tests_rc=$?
else
  log "SKIP  tests: no test binary"; STATUS+=("tests: not built")
fi
sanitize=0
if [ -n "$SANITIZER" ] && [ -x "$TESTS" ]; then sanitize=1; else
  log "SKIP  sanitizers: compute-sanitizer or the test binary missing"; STATUS+=("sanitizers: skipped")
fi
if [ "$tests_rc" -ne 0 ] && [ "$sanitize" -eq 1 ]; then
  memcheck_step
  bench_steps
  racecheck_step
else
  bench_steps
  if [ "$sanitize" -eq 1 ]; then memcheck_step; racecheck_step; fi
fi

# ---- summary ----
{
  echo
  echo "== steps =="
  for s in "${STATUS[@]}"; do echo "  $s"; done
  if [ -f "$OUT/sanitizer.log" ]; then
    echo "== sanitizer verdicts =="
    grep -E "ERROR SUMMARY|RACECHECK SUMMARY|Error:" "$OUT/sanitizer.log" | head -n 12 | sed 's/^/  /'
  fi
  echo "== results =="
  $PY "$ROOT/scripts/gpu-summary.py" "$OUT" 2>&1 || echo "(summary failed)"
  echo "total ${SECONDS}s"
} >>"$SUMMARY"
echo
sed -n '/^== steps ==/,$p' "$SUMMARY"
