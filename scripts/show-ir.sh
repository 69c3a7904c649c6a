#!/usr/bin/env bash
# Shows the compiler at work on a
# grouped-query paged-attention program, printing the IR after every pass
# (kvc ops, split-KV planning, then the CPU lowering to loops and vectors).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh

example=docs/examples/gqa_paged_decode.mlir
pipeline='builtin.module(func.func(kvc-plan-split-kv{num-sms=132}),canonicalize,cse,kvc-lower-to-cpu,canonicalize)'
echo "=== kvcc-opt $example --pass-pipeline='$pipeline' --mlir-print-ir-after-all"
build/bin/kvcc-opt "$example" --pass-pipeline="$pipeline" --mlir-print-ir-after-all
