#!/usr/bin/env bash
# The README main job: installs what is needed, builds kvcc, fetches the real model
# (SmolLM2-135M-Instruct, GGUF Q4_1) once into ~/.cache/kvcc, compiles it with kvcc
# and generates text with kvcc-run: on the GPU when there is one (an NVIDIA GPU of
# sm_80 or newer that nvidia-smi lists; ptxas comes from an installed CUDA toolkit or
# NVIDIA's PyPI wheels, scripts/fetch-cuda-tools.sh), else on the CPU.
#
# Usage: scripts/demo.sh ["your prompt"]
#   KVCC_DEVICE=auto (default) | cpu | cuda
#   auto falls back to the CPU, saying why, when the GPU path fails; cuda does not.
set -euo pipefail
cd "$(dirname "$0")/.."
prompt=${1:-"Explain in two sentences why a KV cache makes text generation faster."}
device=${KVCC_DEVICE:-auto}

./scripts/install-deps.sh
./scripts/build.sh
model=$(./scripts/fetch-model.sh)
cache=${KVCC_CACHE:-$HOME/.cache/kvcc}

# The GPU's architecture (sm_XY), or nothing when there is no usable GPU.
gpu_arch() {
  command -v nvidia-smi >/dev/null 2>&1 || return 0
  ./scripts/fetch-cuda-tools.sh >/dev/null || return 0
  local cc
  cc=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .') || return 0
  [[ "$cc" =~ ^[0-9]+$ ]] && [ "$cc" -ge 80 ] && echo "sm_$cc"
  return 0
}

run_on() { # run_on cpu|cuda [arch]
  local target=$1 arch=${2:-} artifact="$cache/artifacts/smollm2-$1" ir="$cache/artifacts/smollm2-$1-ir"
  local flags=(--target="$target")
  [ "$target" = cuda ] && flags+=(--gpu-arch="$arch")
  echo "=== kvcc compile $model ${flags[*]} -o $artifact"
  echo "    (IR after every pass in $ir)"
  rm -rf "$ir"
  build/bin/kvcc compile "$model" "${flags[@]}" --block-size=16 \
    -o "$artifact" --dump-ir-dir="$ir" || return 1
  echo "=== kvcc-run $artifact --device=$target --chat --prompt \"$prompt\""
  build/bin/kvcc-run "$artifact" --weights "$model" --device="$target" --chat --prompt "$prompt" \
    --max-tokens 128 --temperature 0
}

arch=""
[ "$device" = cpu ] || arch=$(gpu_arch)
if [ "$device" = cuda ] && [ -z "$arch" ]; then
  echo "KVCC_DEVICE=cuda: no NVIDIA GPU of sm_80+ (nvidia-smi), or no ptxas (scripts/fetch-cuda-tools.sh)" >&2
  exit 1
fi
if [ -n "$arch" ]; then
  # The model's GEMMs run on cuBLAS 13: the toolkit's, else PyPI's (fetched once).
  if ./scripts/fetch-cuda-tools.sh --cublas >/dev/null && run_on cuda "$arch"; then exit 0; fi
  [ "$device" = cuda ] && exit 1
  echo "=== the GPU run failed (above); generating on the CPU instead" >&2
fi
run_on cpu
