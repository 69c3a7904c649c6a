#!/usr/bin/env bash
# The README main job: installs, builds, and shows the compiler at work on a
# grouped-query paged-attention program, printing the IR after every pass.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh

example=docs/examples/gqa_paged_decode.mlir
pipeline='builtin.module(func.func(kvc-plan-split-kv{num-sms=132}),canonicalize,cse)'
echo "=== kvcc-opt $example --pass-pipeline='$pipeline' --mlir-print-ir-after-all"
build/bin/kvcc-opt "$example" --pass-pipeline="$pipeline" --mlir-print-ir-after-all
