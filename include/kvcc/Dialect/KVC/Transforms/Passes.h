//===- Passes.h - kvc transformation passes ---------------------*- C++ -*-===//
#ifndef KVCC_DIALECT_KVC_TRANSFORMS_PASSES_H
#define KVCC_DIALECT_KVC_TRANSFORMS_PASSES_H

#include "kvcc/Dialect/KVC/IR/KVC.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/Pass.h"

namespace kvcc::kvc {

#define GEN_PASS_DECL
#include "kvcc/Dialect/KVC/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "kvcc/Dialect/KVC/Transforms/Passes.h.inc"

/// The split-KV factor for `ctas` CTAs (batch x kv_heads) on `numSMs` SMs:
/// the fewest splits whose wave efficiency is within `tolerance` of the best.
int64_t chooseNumSplits(int64_t ctas, int64_t numSMs, int64_t maxSplits,
                        double tolerance);

} // namespace kvcc::kvc

#endif // KVCC_DIALECT_KVC_TRANSFORMS_PASSES_H
