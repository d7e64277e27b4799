#!/usr/bin/env bash
# The one GPU check of attnscope's CUDA path (issue 19, docs/cuda.md), for a machine with an
# NVIDIA GPU (Hopper or later). Every step is time-boxed and the script goes on past a failing
# step, so one run tells everything; a step that no longer fits in the budget is skipped and
# says so. In order:
#   tests      the kernels (attnscope_cuda_tests) and the device model: logits and maps against
#              the CPU for every config switch, decoding, beam search and captured maps equal to
#              the CPU's, the CLI with --device cuda (attnscope_cuda_model_tests); GoogleTest XML
#   cli        attnscope translate and attention --device cuda --precision fp32 on the trained
#              model of tests/data: the same text as --device cpu (greedy and beam 4;
#              scripts/gpu-cli-check.sh)
#   bench      W6 (beam-4 translation, Transformer-base, batch 64) with `attnscope bench` beside
#              its KV-cached PyTorch twin in bf16, and W4 (attention) beside PyTorch's SDPA
#   sanitizer  compute-sanitizer memcheck on the kernel tests and on a decoding subset of the
#              model tests, racecheck on the tensor-core attention
# (when a test fails, memcheck runs before the benchmarks: it names the kernel that went wrong).
#
# The binaries: a bundle built on a development machine by scripts/gpu-bundle.sh (gpu-bundle/:
# the CLI and the CUDA test and bench binaries built with -DATTNSCOPE_CUDA=ON, plus the shared
# libraries the GPU machine lacks) — the GPU machine cannot build the whole project (no Highway,
# no cpp-httplib). Without a bundle the script builds only the CUDA kernels there (cmake/cuda_only)
# and runs what needs nothing else (kernel tests, W4, sanitizers).
#
# HOW THE LEAD RUNS IT with the device tool (it runs a command in the repository root of a copy of
# the checkout; ignored paths travel only when carried; results come back from $OUT):
#   1. here:   bash scripts/gpu-bundle.sh            (builds and checks gpu-bundle/, ~24 MiB)
#   2. device: run(command="bash scripts/gpu-check.sh", carry=["gpu-bundle"], timeout_s=300)
#   3. read:   summary.txt (also the end of the output); logs and JSON lines beside it.
# Expected: about 2–3 minutes. The script itself stops starting steps at ATTNSCOPE_GPU_BUDGET
# seconds (270), so a 300 s timeout leaves the tool time to return the files. Outputs (at most 8 files) go to the folder given, else $OUT, else
# ./gpu-check-out: summary.txt, tests.log, cuda-tests.xml, cuda-model-tests.xml,
# bench-attnscope.jsonl, bench-pytorch.jsonl, sanitizer.log (and build.log when it builds).
#
#   bash scripts/gpu-check.sh [OUT]
#   ATTNSCOPE_BUNDLE=DIR       the bundle (default gpu-bundle/ when it is there)
#   ATTNSCOPE_PREBUILT=DIR     kernel test and bench binaries built elsewhere, without a bundle
#   ATTNSCOPE_GPU_BUDGET=270 (seconds for the whole run), ATTNSCOPE_GPU_JOBS=16
#   bash scripts/gpu-check.sh --build-only [BUILD_DIR]  configure and build cuda_only (no GPU)
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUDGET=${ATTNSCOPE_GPU_BUDGET:-270}
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
  if [ "$limit" -lt 10 ]; then
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
skip() { log "SKIP  $1: $2"; STATUS+=("$1: skipped ($2)"); }

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
have() { command -v "$1" >/dev/null 2>&1; }
PY=python3
have "$PY" && echo "python: $($PY -c 'import sys, torch; print(sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda)' 2>&1 | tail -n 1)" | tee -a "$SUMMARY"
SANITIZER=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || true)
echo "compute-sanitizer: ${SANITIZER:-not found}" | tee -a "$SUMMARY"

# ---- the binaries: the bundle, prebuilt kernel binaries, or a cuda_only build here ----
BUNDLE=${ATTNSCOPE_BUNDLE:-$ROOT/gpu-bundle}
ATTNSCOPE="" MODEL_TESTS=""
TESTS=$BUILD/attnscope_cuda_tests
BENCH=$BUILD/attnscope_cuda_bench
have_bundle=0
if [ "$build_only" -eq 0 ] && [ -d "$BUNDLE/bin" ]; then
  BUNDLE=$(cd "$BUNDLE" && pwd)
  # The binaries find the bundle's libraries through their RPATH ($ORIGIN/../lib): nothing else
  # here (Python, compute-sanitizer) sees them.
  head -n 3 "$BUNDLE/MANIFEST.txt" 2>/dev/null | sed 's/^/bundle: /' | tee -a "$SUMMARY"
  missing=""
  for b in "$BUNDLE"/bin/*; do
    m=$(ldd "$b" 2>&1 | grep "not found" | awk '{print $1}' | tr '\n' ' ')
    [ -n "$m" ] && missing="$missing $(basename "$b"): $m"
  done
  if [ -n "$missing" ]; then
    log "BUNDLE: libraries not found here:$missing (the bundle's binaries cannot run)"
  else
    have_bundle=1
    ATTNSCOPE=$BUNDLE/bin/attnscope
    MODEL_TESTS=$BUNDLE/bin/attnscope_cuda_model_tests
    TESTS=$BUNDLE/bin/attnscope_cuda_tests
    BENCH=$BUNDLE/bin/attnscope_cuda_bench
    log "using the bundle in $BUNDLE"
  fi
fi
if [ "$have_bundle" -eq 0 ] && [ -n "${ATTNSCOPE_PREBUILT:-}" ]; then
  P=$(cd "$ATTNSCOPE_PREBUILT" 2>/dev/null && pwd || echo "$ATTNSCOPE_PREBUILT")
  if [ -x "$P/attnscope_cuda_tests" ] && "$P/attnscope_cuda_tests" --gtest_list_tests >/dev/null 2>&1; then
    TESTS=$P/attnscope_cuda_tests BENCH=$P/attnscope_cuda_bench
    have_bundle=2
    log "using the prebuilt kernel binaries in $P (no bundle: the device model is not checked)"
  fi
fi
if [ "$have_bundle" -eq 0 ]; then
  log "no bundle (scripts/gpu-bundle.sh): building the CUDA kernels only; the device model, the CLI and W6 are not checked"
  GEN="Unix Makefiles"
  have ninja && GEN=Ninja
  run_step configure 120 "$OUT/build.log" cmake -S "$ROOT/cmake/cuda_only" -B "$BUILD" -G "$GEN" \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_COMPILER="$NVCC"
  run_step build 300 "$OUT/build.log" cmake --build "$BUILD" -j "$JOBS" \
    --target attnscope_cuda_tests attnscope_cuda_bench
fi
if [ "$build_only" -eq 1 ]; then
  for s in "${STATUS[@]}"; do echo "  $s"; done
  [ -x "$TESTS" ] && [ -x "$BENCH" ] && echo "built: $TESTS $BENCH" && exit 0
  exit 1
fi
# The bundle's binaries were built elsewhere: tell the tests where the data and the CLI are.
export ATTNSCOPE_TEST_DATA="$ROOT/tests/data"
[ -n "$ATTNSCOPE" ] && export ATTNSCOPE_BINARY="$ATTNSCOPE"
export OMP_WAIT_POLICY=passive

# ---- steps ----
tests_rc=0
tests_step() {
  if [ -x "$TESTS" ]; then
    run_step kernel-tests 60 "$OUT/tests.log" "$TESTS" --gtest_output="xml:$OUT/cuda-tests.xml" || tests_rc=1
  else
    skip kernel-tests "no test binary"; tests_rc=1
  fi
  if [ -n "$MODEL_TESTS" ]; then
    run_step model-tests 120 "$OUT/tests.log" "$MODEL_TESTS" \
      --gtest_output="xml:$OUT/cuda-model-tests.xml" || tests_rc=1
  else
    skip model-tests "no bundle"
  fi
}
bench_steps() {
  if [ -n "$ATTNSCOPE" ]; then
    run_step bench-w6-attnscope 60 "$OUT/tests.log" sh -c "\"$ATTNSCOPE\" bench W6 --device cuda --json >> \"$OUT/bench-attnscope.jsonl\""
    run_step bench-w6-pytorch 90 "$OUT/tests.log" sh -c "$PY \"$ROOT/scripts/bench-pytorch-cuda.py\" W6 >> \"$OUT/bench-pytorch.jsonl\""
  else
    skip bench-w6 "no bundle"
  fi
  if [ -x "$BENCH" ]; then
    run_step bench-w4-attnscope 60 "$OUT/tests.log" sh -c "\"$BENCH\" >> \"$OUT/bench-attnscope.jsonl\""
  else
    skip bench-w4-attnscope "no benchmark binary"
  fi
  run_step bench-w4-pytorch 90 "$OUT/tests.log" sh -c "$PY \"$ROOT/scripts/bench-pytorch-cuda.py\" W4 >> \"$OUT/bench-pytorch.jsonl\""
}
memcheck_step() {
  # Left out: CudaCheck.FailedCall… makes a cudaMalloc fail on purpose (memcheck counts it), and
  # CudaAllocator.DestructorFreesEverything reads free device memory, which the sanitizer's own
  # allocations change.
  run_step memcheck-kernels 90 "$OUT/sanitizer.log" "$SANITIZER" --tool memcheck --error-exitcode 3 \
    --print-limit 20 "$TESTS" --gtest_brief=1 \
    --gtest_filter='-CudaCheck.FailedCallNamesCallFileAndLineAndError:CudaAllocator.DestructorFreesEverything'
  if [ -n "$MODEL_TESTS" ]; then
    # Decoding (every step kernel, reorders, dropped rows, the ranked step), beam search with
    # captured maps and reductions, and one forward: the device model's own launches and copies.
    run_step memcheck-model 90 "$OUT/sanitizer.log" "$SANITIZER" --tool memcheck --error-exitcode 3 \
      --print-limit 20 "$MODEL_TESTS" --gtest_brief=1 \
      --gtest_filter='*CudaDecode.*:CudaModel.*:*CudaForward.ValueVectors*:CudaTranslateCapture.*'
  fi
}
racecheck_step() {
  run_step racecheck 60 "$OUT/sanitizer.log" "$SANITIZER" --tool racecheck --error-exitcode 3 \
    --print-limit 20 "$TESTS" --gtest_brief=1 --gtest_filter='CudaAttention.FlashRacecheckShapes'
}

tests_step
if [ -n "$ATTNSCOPE" ]; then
  run_step cli 60 "$OUT/tests.log" bash "$ROOT/scripts/gpu-cli-check.sh" "$ATTNSCOPE" \
    "$ROOT/tests/data/tiny_dates_model"
else
  skip cli "no bundle"
fi
sanitize=0
if [ -n "$SANITIZER" ] && [ -x "$TESTS" ]; then sanitize=1; else
  skip sanitizers "compute-sanitizer or the test binary missing"
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
  if [ -f "$OUT/tests.log" ]; then
    echo "== cli =="
    grep -E "^translate beam|^attention beam" "$OUT/tests.log" | sed 's/^/  /'
    echo "== device model vs CPU (measured) =="
    grep -E "^\[ (forward|bf16) \]" "$OUT/tests.log" | sort -u | sed 's/^/  /' | head -n 40
  fi
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
