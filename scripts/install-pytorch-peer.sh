#!/usr/bin/env bash
# Installs the PyTorch peer that attnscope is measured against (docs/benchmarks.md) and that
# writes the parity fixtures (tools/): Debian's PyTorch 1.13 with OpenBLAS as its BLAS, plus
# numpy and sentencepiece, all for Debian's /usr/bin/python3. Safe to run again. Run as root or
# with sudo available.
#
# Debian's python3-torch calls whatever libblas.so.3 the alternatives system points to; with
# only the reference BLAS it runs about ten times slower, so this installs OpenBLAS (pthread
# build) and prints the 1024³ fp32 matmul rate the peer gets, as a check.
set -euo pipefail
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
PACKAGES=(python3-torch python3-numpy python3-sentencepiece libopenblas0-pthread)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-pytorch-peer: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
multiarch=$(/usr/bin/python3 -c 'import sysconfig; print(sysconfig.get_config_var("MULTIARCH"))')
blas=$(readlink -f "/usr/lib/$multiarch/libblas.so.3" || true)
echo "install-pytorch-peer: libblas.so.3 is ${blas:-missing}"
case "$blas" in
  *openblas*) ;;
  *) echo "install-pytorch-peer: warning: not OpenBLAS; choose it with" \
       "update-alternatives --config libblas.so.3-$multiarch" >&2 ;;
esac
/usr/bin/python3 - <<'PY'
import time
import torch
torch.set_num_threads(2)
a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
for _ in range(2):
    a @ b
t = time.perf_counter()
for _ in range(5):
    a @ b
dt = (time.perf_counter() - t) / 5
print(f"install-pytorch-peer: PyTorch {torch.__version__}, fp32 1024^3 matmul "
      f"{2 * 1024**3 / dt / 1e9:.0f} GFLOP/s on 2 threads")
PY
