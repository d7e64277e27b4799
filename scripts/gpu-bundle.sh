#!/usr/bin/env bash
# Builds, on a development machine with nvcc but no GPU, the bundle that scripts/gpu-check.sh runs
# on a GPU machine that cannot build the whole project (it lacks Highway and cpp-httplib):
#
#   gpu-bundle/bin/   attnscope (the CLI, --device cuda), attnscope_cuda_tests (the kernels),
#                     attnscope_cuda_model_tests (the device model, beam search, the CLI on the
#                     GPU), attnscope_cuda_bench (W4); stripped
#   gpu-bundle/lib/   the shared libraries they load that are not glibc, libstdc++/libgcc (the
#                     GPU machine's are newer, and backward compatible) or CUDA's (the GPU machine
#                     has its own, in /usr/local/cuda/lib64 like here), copied with their
#                     sonames. Left out too: OpenBLAS with its Fortran runtime, and libgomp —
#                     the GPU machine has them (the system's OpenBLAS must find its own
#                     libgfortran, not ours), their interfaces are stable, and OpenBLAS alone is
#                     34 MiB; gpu-check says so when one is missing.
# The binaries find lib/ by their RPATH ($ORIGIN/../lib, an old-style DT_RPATH, which also
# serves the libraries' own dependencies), so nothing else on the GPU machine — its Python,
# compute-sanitizer — sees the bundle's libraries.
#   gpu-bundle/MANIFEST.txt  the commit, the build, every file with its size, what was left out
#
# Built with -DATTNSCOPE_CUDA=ON -DATTNSCOPE_NATIVE=OFF (the GPU machine's CPU differs from this
# one) in build-gpu-bundle/ (ccache makes a rebuild cheap). The bundle must stay small: the device
# tool carries it with the checkout, 64 MiB in all. Test it here with only the bundle on the
# library path:  bash scripts/gpu-bundle.sh --check
#
#   bash scripts/gpu-bundle.sh [--check]     ATTNSCOPE_BUNDLE_BUILD=DIR to build elsewhere
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${ATTNSCOPE_BUNDLE_BUILD:-$ROOT/build-gpu-bundle}
BUNDLE=$ROOT/gpu-bundle
NVCC=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
TARGETS="attnscope attnscope_cuda_tests attnscope_cuda_model_tests attnscope_cuda_bench"
# Left to the GPU machine: the C library, the C++ runtime and the CUDA libraries.
SYSTEM_LIBS='^(linux-vdso|ld-linux|libc\.so|libm\.so|libpthread\.so|libdl\.so|librt\.so|libstdc\+\+\.so|libgcc_s\.so|libcuda\.so|libcudart\.so|libcublas\.so|libcublasLt\.so|libnvJitLink|libnvrtc)'
KNOWN_THERE='^(libopenblas|libgfortran|libquadmath|libgomp)'

check_only=0
[ "${1:-}" = "--check" ] && check_only=1

if [ "$check_only" -eq 0 ]; then
  [ -x "$NVCC" ] || { echo "gpu-bundle: nvcc not found" >&2; exit 1; }
  launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache
                                            -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DATTNSCOPE_CUDA=ON \
    -DATTNSCOPE_NATIVE=OFF -DCMAKE_CUDA_COMPILER="$NVCC" "${launcher[@]}" \
    '-DCMAKE_BUILD_RPATH=$ORIGIN/../lib' -DCMAKE_EXE_LINKER_FLAGS=-Wl,--disable-new-dtags >/dev/null
  # shellcheck disable=SC2086
  cmake --build "$BUILD" -j"$(nproc)" --target $TARGETS
  for t in $TARGETS; do  # the bundle's folder comes first in every binary's RPATH
    readelf -d "$BUILD/$t" | grep -q 'RPATH.*\$ORIGIN/../lib' ||
      { echo "gpu-bundle: $t has no RPATH \$ORIGIN/../lib" >&2; exit 1; }
  done
  rm -rf "$BUNDLE"
  mkdir -p "$BUNDLE/bin" "$BUNDLE/lib"
  for t in $TARGETS; do
    cp "$BUILD/$t" "$BUNDLE/bin/$t"
    strip --strip-unneeded "$BUNDLE/bin/$t"
  done
  left_out=()
  declare -A seen=()
  for t in $TARGETS; do
    while read -r name _ path _; do
      [ -n "$path" ] && [ -f "$path" ] || continue
      [[ "$name" =~ $SYSTEM_LIBS ]] && continue
      [ -n "${seen[$name]:-}" ] && continue
      seen[$name]=1
      real=$(readlink -f "$path")
      mib=$(( $(stat -c %s "$real") / 1048576 ))
      if [[ "$name" =~ $KNOWN_THERE ]]; then
        left_out+=("$name ($mib MiB; the GPU machine's own)")
        continue
      fi
      cp "$real" "$BUNDLE/lib/$name"
      strip --strip-unneeded "$BUNDLE/lib/$name" 2>/dev/null || true
    done < <(ldd "$BUILD/$t" | awk '/=>/ {print $1, $2, $3, $4}')
  done
  {
    echo "attnscope GPU bundle, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet 2>/dev/null || echo ' with local changes')"
    echo "built on $(. /etc/os-release && echo "$PRETTY_NAME"), $("$NVCC" --version | tail -n 2 | head -n 1), $(g++ --version | head -n 1)"
    echo "cmake -DATTNSCOPE_CUDA=ON -DATTNSCOPE_NATIVE=OFF -DCMAKE_BUILD_TYPE=Release, RPATH \$ORIGIN/../lib"
    echo "files:"
    (cd "$BUNDLE" && find bin lib -type f -printf '  %p %s\n' | sort)
    echo "left out:"
    for l in "${left_out[@]}"; do echo "  $l"; done
    echo "total $(du -sh "$BUNDLE" | cut -f1)"
  } >"$BUNDLE/MANIFEST.txt"
  cat "$BUNDLE/MANIFEST.txt"
fi

# ---- check: every library a binary loads is the bundle's (through its RPATH, with nothing on
# LD_LIBRARY_PATH), or one left to the GPU machine (the system's list above, OpenBLAS); and the
# binaries run ----
[ -d "$BUNDLE/bin" ] || { echo "gpu-bundle: no bundle in $BUNDLE (run without --check)" >&2; exit 1; }
status=0
for t in "$BUNDLE"/bin/*; do
  while read -r name _ path _; do
    [[ "$name" =~ $SYSTEM_LIBS ]] && continue
    [[ "$name" =~ $KNOWN_THERE ]] && [ ! -e "$BUNDLE/lib/$name" ] && continue
    [ -n "$path" ] && [ -e "$path" ] && path=$(readlink -f "$path")
    case "$path" in
      "$BUNDLE"/lib/*) ;;
      *) echo "gpu-bundle: $(basename "$t") loads $name from ${path:-nowhere}, not the bundle" >&2
         status=1 ;;
    esac
  done < <(env -u LD_LIBRARY_PATH ldd "$t" | awk '/=>/ {print $1, $2, $3, $4}')
done
echo "25 de dezembro de 1969" | env -u LD_LIBRARY_PATH "$BUNDLE/bin/attnscope" translate \
  --model "$ROOT/tests/data/tiny_dates_model" >/dev/null || status=1
env -u LD_LIBRARY_PATH "$BUNDLE/bin/attnscope_cuda_model_tests" --gtest_list_tests \
  >/dev/null || status=1
env -u LD_LIBRARY_PATH "$BUNDLE/bin/attnscope_cuda_tests" --gtest_filter='CudaCheck.*' \
  --gtest_brief=1 >/dev/null || status=1
size=$(du -sm "$BUNDLE" | cut -f1)
echo "gpu-bundle: $BUNDLE, ${size} MiB$([ "$status" -eq 0 ] && echo ', every binary loads from it and the CLI translates')"
[ "$size" -le 40 ] || { echo "gpu-bundle: ${size} MiB is too large to carry (keep it under 40)" >&2; status=1; }
exit "$status"
