#!/usr/bin/env bash
# Configures and builds kvcc into build/ (tools in build/bin/) with ninja and ccache.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${KVCC_JOBS:-$(nproc)}
if [ ! -f build/build.ninja ]; then
  cmake -G Ninja -S . -B build -DCMAKE_BUILD_TYPE=Release \
    -DLLVM_EXTERNAL_LIT=/usr/lib/llvm-22/bin/lit
fi
start=$(date +%s)
ninja -C build -j"$jobs"
echo "build: done in $(( $(date +%s) - start ))s"
