#!/usr/bin/env bash
# Installs the Debian packages attnscope builds and tests with: the C++ build, the browser tests,
# the Python module (pybind11, Python's headers, NumPy; pytest for tests/python; nbconvert and
# ipykernel run the notebook tour; venv, pip, setuptools and wheel for `pip install
# --no-build-isolation .`), clang with its sanitizer and libFuzzer runtimes and OpenMP for the
# sanitizer build, strace for the crash-consistency tests, Open MPI for training on several
# processes and machines (docs/scaling.md). Safe to run again: it installs only what is missing.
# Run as root or with sudo available.
set -euo pipefail
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
PACKAGES=(
  build-essential cmake ninja-build pkg-config clang-format
  clang-14 libclang-rt-14-dev libomp-14-dev strace
  libopenblas-dev libopenblas0-pthread
  nlohmann-json3-dev libcli11-dev libfmt-dev libsentencepiece-dev libstb-dev
  libgtest-dev libgmock-dev libbenchmark-dev libcpp-httplib-dev libhwy-dev fonts-dejavu-core
  nodejs npm chromium
  python3-numpy python3-pytest
  pybind11-dev python3-dev jupyter-nbconvert python3-ipykernel
  python3-venv python3-pip python3-setuptools python3-wheel
  libopenmpi-dev openmpi-bin
)
# A package also counts as present when an installed one provides it: NodeSource's nodejs
# provides (and conflicts with) Debian's npm, so asking apt for npm there would fail.
provided=$(dpkg-query -W -f='${db:Status-Status} ${Provides}\n' 2>/dev/null |
  sed -n 's/^installed //p' | tr ',' '\n' | sed 's/([^)]*)//g; s/ //g')
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    grep -qx -- "$p" <<<"$provided" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
