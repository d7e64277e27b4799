#!/usr/bin/env bash
# README command one: install what is missing, build attnscope, run its main job.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DATTNSCOPE_BUILD_TESTS=OFF >/dev/null
cmake --build build --target attnscope -j"$(nproc)"
echo
./build/attnscope demo "$@"
