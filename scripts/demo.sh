#!/usr/bin/env bash
# The README main job: installs what is needed, builds kvcc, fetches the real model
# (SmolLM2-135M-Instruct, GGUF Q4_1) once into ~/.cache/kvcc, compiles it with kvcc
# and generates text with kvcc-run on the CPU (whole-model CUDA compilation is not
# in this build yet; the CUDA target compiles the attention kernels).
# Usage: scripts/demo.sh ["your prompt"]
set -euo pipefail
cd "$(dirname "$0")/.."
prompt=${1:-"Explain in two sentences why a KV cache makes text generation faster."}

./scripts/install-deps.sh
./scripts/build.sh
model=$(./scripts/fetch-model.sh)
cache=${KVCC_CACHE:-$HOME/.cache/kvcc}
artifact="$cache/artifacts/smollm2-cpu"

echo "=== kvcc compile $model --target=cpu -o $artifact"
echo "    (IR after every pass in $cache/artifacts/smollm2-ir)"
rm -rf "$cache/artifacts/smollm2-ir"
build/bin/kvcc compile "$model" --target=cpu --block-size=16 -o "$artifact" \
  --dump-ir-dir="$cache/artifacts/smollm2-ir"

echo "=== kvcc-run $artifact --chat --prompt \"$prompt\""
build/bin/kvcc-run "$artifact" --weights "$model" --chat --prompt "$prompt" \
  --max-tokens 128 --temperature 0
