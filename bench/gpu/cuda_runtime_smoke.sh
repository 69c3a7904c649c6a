#!/usr/bin/env bash
# The CUDA runtime against a real GPU. Builds nothing: it receives a build
# directory (default: build) that holds bin/kvcc-cuda-tests, bin/kvcc-run and
# lib/libkvcc_cuda_runtime.so, lib/libmock_cuda.so, lib/libkvcc_test_mgpu_vadd.so
# (built with `ninja -C BUILD kvcc-cuda-tests kvcc-run`; they find each other
# through $ORIGIN, so the directory may be copied to the GPU machine).
#
#   bench/gpu/cuda_runtime_smoke.sh [BUILD]
#
# 1. GpuTest.* against the real libcuda.so.1 (KVCC_LIBCUDA unset) with
#    KVCC_REQUIRE_GPU=1, so a missing device fails instead of skipping:
#    device info, real allocations / copies / memsets, a hand-written PTX
#    module JIT-compiled by the driver, the mgpu ABI (vadd through
#    mgpuModuleLoadJIT and mgpuModuleLoad, >48 KiB dynamic shared memory,
#    a bad PTX recorded as an error) and host code exactly as MLIR emits it.
# 2. The whole suite (the mock tests run in the same process as the GPU ones).
# 3. kvcc-run --device=cuda finds and reports the device.
# Exit status: 0 when all pass.
set -u
BUILD=${1:-build}
TESTS="$BUILD/bin/kvcc-cuda-tests"
RUN="$BUILD/bin/kvcc-run"
for f in "$TESTS" "$RUN"; do
  [ -x "$f" ] || { echo "cuda_runtime_smoke: missing $f (ninja -C $BUILD kvcc-cuda-tests kvcc-run)" >&2; exit 2; }
done
unset KVCC_LIBCUDA KVCC_MOCK_CUDA_FAIL KVCC_MOCK_CUDA_DEVICES
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader

status=0
echo "== 1. GPU tests against the real driver"
KVCC_REQUIRE_GPU=1 "$TESTS" --gtest_filter='GpuTest.*' || status=1

echo "== 2. the whole suite"
"$TESTS" --gtest_brief=1 || status=1

echo "== 3. kvcc-run --device=cuda"
dir=$(mktemp -d)
printf '{"format": "kvcc-artifact", "version": 1, "target": "cuda"}\n' >"$dir/manifest.json"
"$RUN" "$dir" --weights /nonexistent --prompt hi --device=cuda >"$dir/out" 2>"$dir/err"
cat "$dir/err"
if grep -q "^kvcc-run: CUDA device " "$dir/err" && [ ! -s "$dir/out" ]; then
  echo "kvcc-run found the device"
else
  echo "FAIL: kvcc-run did not report a CUDA device" >&2
  status=1
fi
rm -rf "$dir"

[ $status = 0 ] && echo "cuda_runtime_smoke: PASS" || echo "cuda_runtime_smoke: FAIL"
exit $status
