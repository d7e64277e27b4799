#!/usr/bin/env bash
# README command two: install what is missing, build everything, run the whole test suite.
#
# Two builds: build-test (gcc, Release) runs every test; build-asan (clang 14 with AddressSanitizer
# and UndefinedBehaviorSanitizer, docs/reliability.md) runs the unit tests again and each libFuzzer
# target of tests/fuzz/ for a short fixed time (ATTNSCOPE_FUZZ_SECONDS, default 15), and checks
# that clang compiles everything with -Werror. Arguments go to the first build's ctest:
# `bash scripts/test.sh -L unit` runs one label (unit, integration, cli, browser, mpi) of it;
# ATTNSCOPE_SANITIZER_BUILD=0 skips the second build.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
# The browser tests' npm package (tests/browser/package-lock.json), installed again only when
# node_modules is missing or the lock changed. CMake registers Browser.* only when it is there.
lock=tests/browser/package-lock.json
stamp=tests/browser/node_modules/.attnscope-package-lock.json
if ! cmp -s "$lock" "$stamp"; then
  if npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error >/dev/null; then
    cp "$lock" "$stamp"
  elif [ -n "${CI:-}" ]; then
    echo "test: npm ci --prefix tests/browser failed" >&2
    exit 1
  else
    echo "test: npm ci --prefix tests/browser failed: the browser tests are skipped" >&2
  fi
fi
jobs=$(nproc)
# ccache, where installed, keeps a second run of this script (or of CI) from compiling again.
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
# Where nvcc is (on PATH or in /usr/local/cuda), the CUDA code is compiled too (-DATTNSCOPE_CUDA=ON:
# the kernels, the device model and their tests, which skip without a GPU); ATTNSCOPE_CUDA=OFF
# opts out. The CPU code and its tests are the same either way.
cuda=()
nvcc=$(command -v nvcc || true)
[ -z "$nvcc" ] && [ -x /usr/local/cuda/bin/nvcc ] && nvcc=/usr/local/cuda/bin/nvcc
if [ -n "$nvcc" ] && [ "${ATTNSCOPE_CUDA:-ON}" != "OFF" ]; then
  cuda=(-DATTNSCOPE_CUDA=ON -DCMAKE_CUDA_COMPILER="$nvcc")
  command -v ccache >/dev/null && cuda+=(-DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
else
  cuda=(-DATTNSCOPE_CUDA=OFF)
fi
start=$SECONDS
cmake -S . -B build-test -G Ninja -DCMAKE_BUILD_TYPE=Release -DATTNSCOPE_BUILD_TESTS=ON \
  "${launcher[@]}" "${cuda[@]}" >/dev/null
cmake --build build-test -j"$jobs"
(cd build-test && ctest --output-on-failure -j"$jobs" "$@")
echo "test: gcc build and its tests took $((SECONDS - start)) s"
[ "${ATTNSCOPE_SANITIZER_BUILD:-1}" = 0 ] && exit 0

# The sanitizer build: every target (so clang compiles all of the sources with -Werror), the
# libraries once for the unit tests and the fuzz targets; the unit tests and the fuzz targets run.
start=$SECONDS
cmake -S . -B build-asan -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_FLAGS_RELEASE="-O1 -gline-tables-only" -DATTNSCOPE_SANITIZE=ON \
  -DATTNSCOPE_FUZZ_SECONDS="${ATTNSCOPE_FUZZ_SECONDS:-15}" "${launcher[@]}" >/dev/null
cmake --build build-asan -j"$jobs"
(cd build-asan && ctest --output-on-failure -j"$jobs" -L 'unit|fuzz' -E '^Python\.')
echo "test: clang sanitizer build, its unit tests and fuzzing took $((SECONDS - start)) s"
