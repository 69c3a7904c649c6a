#!/usr/bin/env bash
# Nsight Compute on the device machine (docs/gpu-device-runbook.md §5):
#
#   run(command="bash bench/gpu/profile_device.sh", carry=[".device", "build/bin", "build/lib"],
#       timeout_s=600)
#
# runs `run_device.py --phases profile` (one call each of kvcc's 16k causal
# prefill and SDPA's flash backend on it, kvcc's b64 c4096 decode at GQA 4
# and SDPA on it, and the GQA 8 decode with and without the tensor-core
# instance) under ncu with the sections that say what bounds a kernel: speed
# of light, occupancy, warp states (stall reasons), compute workload (pipe
# use, issue slots), instruction statistics, memory workload. Clocks are left
# alone (--clock-control none, as METHOD.md asks). Writes to $OUT:
#   profile.ncu-rep     the report (ncu-ui opens it)
#   ncu_raw.csv         every collected metric, a row a kernel
#   ncu_summary.md      bench/gpu/ncu_summary.py's table: time, issue slots,
#                       tensor pipe, occupancy, the top stall reasons, and
#                       instructions per tensor-core instruction
set -u
OUT=${OUT:-$PWD/device-out}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/profile_log.txt") 2>&1
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu /usr/local/cuda/bin/ncu 2>/dev/null | head -1)
[ -n "$NCU" ] || { echo "no ncu on this machine"; exit 2; }
"$NCU" --version | tail -1
[ -f .device/kernels/index.json ] || { echo "missing .device/kernels: run python3 bench/gpu/make_kernels.py here and carry .device"; exit 2; }
timeout 420 "$NCU" --clock-control none --target-processes all \
  --kernel-name "regex:kvc_|flash|fmha|sdpa|cudnn" --launch-count 12 \
  --section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats \
  --section ComputeWorkloadAnalysis --section InstructionStats --section MemoryWorkloadAnalysis \
  --export "$OUT/profile" --force-overwrite \
  python3 bench/gpu/run_device.py --out "$OUT" --phases profile --no-flex --budget 300
rc=$?
echo "ncu exit $rc"
[ -f "$OUT/profile.ncu-rep" ] || exit 3
"$NCU" --import "$OUT/profile.ncu-rep" --csv --page raw > "$OUT/ncu_raw.csv" || exit 4
python3 bench/gpu/ncu_summary.py "$OUT/ncu_raw.csv" | tee "$OUT/ncu_summary.md"
