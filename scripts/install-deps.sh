#!/usr/bin/env bash
# Installs everything kvcc needs on a Debian 12 (bookworm) machine: LLVM/MLIR 22 from Debian's
# packages, the build tools, GoogleTest, and the Python packages the tests use.
# Idempotent: packages already present are skipped, so a warm machine pays seconds.
set -euo pipefail

packages=(
  llvm-22-dev libmlir-22-dev mlir-22-tools llvm-22-tools lld-22 clang-22
  cmake ninja-build ccache googletest libgtest-dev libgmock-dev
  libopenblas-dev libomp-22-dev pkg-config python3 python3-pip unzip
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "install-deps: Debian packages already present"
fi

# Python packages used by the test suite (lit comes from llvm-22-tools; numpy for references).
py=$(command -v python3)
need_py=()
"$py" -c "import numpy" 2>/dev/null || need_py+=("numpy")
if [ ${#need_py[@]} -gt 0 ]; then
  echo "install-deps: pip installing ${need_py[*]}"
  "$py" -m pip install -q "${need_py[@]}" || "$py" -m pip install -q --break-system-packages "${need_py[@]}"
fi
# cuobjdump and nvdisasm (NVIDIA's PyPI wheels, ~6 MB, unpacked into build/tools once) for
# the lit tests that read the SASS ptxas makes and bench/gpu/sass_profile.py; without
# them those tests are UNSUPPORTED, so a failed fetch is a warning.
"$py" "$(dirname "$0")/../bench/gpu/sass_profile.py" --fetch-tools >/dev/null \
  || echo "install-deps: warning: no cuobjdump/nvdisasm; the SASS tests will be UNSUPPORTED"
# ptxas, fatbinary and libdevice for `kvcc compile --target=cuda` (and the lit tests that
# judge its PTX): an installed CUDA toolkit, else NVIDIA's PyPI wheels (~40 MB unpacked,
# into ~/.cache/kvcc/cuda-toolkit once). The CPU path needs none of it.
"$(dirname "$0")/fetch-cuda-tools.sh" >/dev/null \
  || echo "install-deps: warning: no CUDA toolkit; kvcc cannot compile for --target=cuda"
echo "install-deps: done"
