#!/usr/bin/env bash
# README command two: install what is missing, build everything, run the whole test suite.
# Arguments go to ctest: `bash scripts/test.sh -L unit` runs one label (unit, integration, cli,
# browser, mpi) of it.
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
# Where nvcc is (on PATH or in /usr/local/cuda), the CUDA code is compiled too (-DATTNSCOPE_CUDA=ON:
# the kernels, the device model and their tests, which skip without a GPU); ATTNSCOPE_CUDA=OFF
# opts out. The CPU code and its tests are the same either way.
cuda=()
nvcc=$(command -v nvcc || true)
[ -z "$nvcc" ] && [ -x /usr/local/cuda/bin/nvcc ] && nvcc=/usr/local/cuda/bin/nvcc
if [ -n "$nvcc" ] && [ "${ATTNSCOPE_CUDA:-ON}" != "OFF" ]; then
  cuda=(-DATTNSCOPE_CUDA=ON -DCMAKE_CUDA_COMPILER="$nvcc")
else
  cuda=(-DATTNSCOPE_CUDA=OFF)
fi
cmake -S . -B build-test -G Ninja -DCMAKE_BUILD_TYPE=Release -DATTNSCOPE_BUILD_TESTS=ON \
  "${cuda[@]}" >/dev/null
cmake --build build-test -j"$(nproc)"
cd build-test
ctest --output-on-failure -j"$(nproc)" "$@"
