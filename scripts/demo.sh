#!/usr/bin/env bash
# README command one: install what is missing, build attnscope (and its Python module), run its
# main job.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DATTNSCOPE_BUILD_TESTS=OFF >/dev/null
# The CLI, and the Python module beside it (PYTHONPATH=build/python; docs/python.md) when CMake
# found pybind11 and NumPy (install-deps.sh installs them).
targets=(attnscope)
if cmake --build build --target help | grep -q '^attnscope_python:'; then
  targets+=(attnscope_python)
fi
cmake --build build --target "${targets[@]}" -j"$(nproc)"
echo
./build/attnscope demo "$@"
