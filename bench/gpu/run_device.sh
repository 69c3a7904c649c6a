#!/usr/bin/env bash
# The one command for the device tool (docs/gpu-device-runbook.md):
#
#   run(command="bash bench/gpu/run_device.sh", carry=[".device", "build/bin", "build/lib"],
#       timeout_s=600)
#
# 1. sanity: nvidia-smi, the CUDA runtime's GPU tests (GpuTest.* of
#    build/bin/kvcc-cuda-tests, at most 60 s), the runtime loads and opens the
#    device from Python;
# 2. whole models (when .device/models exists and KVCC_DEVICE_MODELS is not 0):
#    bench/gpu/check_model_device.py
#    against transformers (and CUDA-graph replays against launches), at most
#    180 s; then bench/gpu/executor_graphs_device.py: kvcc-run on the same
#    models with and without --cuda-graphs (same tokens, decode rates), at
#    most 150 s;
# 3. bench/gpu/run_device.py (correctness grid, decode, prefill, sweep) with
#    the time left of a 540 s budget.
# Everything is logged into $OUT (./device-out when OUT is unset): log.txt,
# model_check.json, executor_graphs.json, results.json, results.md,
# decode_bandwidth.png.
set -u
start=$(date +%s)
export PYTHONUNBUFFERED=1
OUT=${OUT:-$PWD/device-out}
mkdir -p "$OUT"
BUDGET=${KVCC_DEVICE_BUDGET:-540}
exec > >(tee -a "$OUT/log.txt") 2>&1

echo "== sanity ($(date -u +%H:%M:%S))"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used,clocks.sm,clocks.mem --format=csv
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.is_available())'
[ -f .device/kernels/index.json ] || { echo "missing .device/kernels/index.json: run python3 bench/gpu/make_kernels.py here and carry .device"; exit 2; }
if [ -x build/bin/kvcc-cuda-tests ]; then
  KVCC_REQUIRE_GPU=1 timeout 60 build/bin/kvcc-cuda-tests --gtest_filter='GpuTest.*' --gtest_brief=1 \
    && echo "runtime GPU tests: PASS" || echo "runtime GPU tests: FAIL (continuing)"
else
  echo "build/bin/kvcc-cuda-tests not carried: skipping the runtime's GPU tests"
fi
python3 - <<'PY' || { echo "the kvcc runtime cannot open the device: stopping"; exit 3; }
import ctypes, torch
torch.cuda.init()
rt = ctypes.CDLL(".device/libkvcc_cuda_runtime.so", mode=ctypes.RTLD_GLOBAL)
rt.kvcc_cuda_last_error.restype = ctypes.c_char_p
rc = rt.kvcc_cuda_init(0)
print("kvcc_cuda_init(0) =", rc, rt.kvcc_cuda_last_error())
raise SystemExit(rc != 0)
PY

if [ "${KVCC_DEVICE_MODELS:-1}" = 0 ]; then
  echo "KVCC_DEVICE_MODELS=0: skipping the whole-model checks"
elif [ -d .device/models ]; then
  echo "== whole models: check_model_device.py ($(date -u +%H:%M:%S))"
  timeout 180 python3 bench/gpu/check_model_device.py --out "$OUT" \
    && echo "model check: PASS" || echo "model check: FAIL (continuing)"
  if [ -x build/bin/kvcc-run ]; then
    echo "== whole models through kvcc-run, with and without --cuda-graphs ($(date -u +%H:%M:%S))"
    timeout 150 python3 bench/gpu/executor_graphs_device.py --out "$OUT" \
      && echo "executor graphs: PASS" || echo "executor graphs: FAIL (continuing)"
  fi
else
  echo "no .device/models (python3 bench/gpu/make_kernels.py --models): skipping the model check"
fi

left=$(( BUDGET - ($(date +%s) - start) ))
echo "== run_device.py (budget ${left}s)"
python3 bench/gpu/run_device.py --out "$OUT" --budget "$left" "$@"
rc=$?
echo "== done in $(( $(date +%s) - start ))s, run_device.py exit $rc"
exit $rc
