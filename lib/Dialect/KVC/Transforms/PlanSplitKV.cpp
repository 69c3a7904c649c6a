//===- PlanSplitKV.cpp - choose the split-KV factor of decode attention ----===//
#include "kvcc/Dialect/KVC/Transforms/Passes.h"

#include <cmath>

namespace kvcc::kvc {
#define GEN_PASS_DEF_KVCPLANSPLITKV
#include "kvcc/Dialect/KVC/Transforms/Passes.h.inc"
} // namespace kvcc::kvc

using namespace mlir;
using namespace kvcc::kvc;

int64_t kvcc::kvc::chooseNumSplits(int64_t ctas, int64_t numSMs,
                                   int64_t maxSplits, double tolerance) {
  if (ctas <= 0 || numSMs <= 0 || maxSplits <= 1)
    return 1;
  // A grid that already fills most of one wave gains nothing from splitting:
  // the combine would only add traffic.
  if (ctas >= numSMs * 8 / 10)
    return 1;
  // Wave efficiency of s splits: the useful fraction of the last wave's SMs.
  auto efficiency = [&](int64_t s) {
    double waves = double(ctas * s) / double(numSMs);
    return waves / std::ceil(waves);
  };
  double best = 0.0;
  for (int64_t s = 1; s <= maxSplits; ++s)
    best = std::max(best, efficiency(s));
  for (int64_t s = 1; s <= maxSplits; ++s)
    if (efficiency(s) >= tolerance * best)
      return s;
  return 1;
}

namespace {
struct PlanSplitKVPass
    : public kvcc::kvc::impl::KVCPlanSplitKVBase<PlanSplitKVPass> {
  using Base::Base;

  void runOnOperation() override {
    if (numSMs < 1 || maxSplits < 1 || !(waveTolerance > 0.0) ||
        waveTolerance > 1.0) {
      getOperation().emitError()
          << "kvc-plan-split-kv: num-sms and max-splits must be at least 1 and "
             "wave-tolerance in (0, 1], got num-sms="
          << numSMs.getValue() << " max-splits=" << maxSplits.getValue()
          << " wave-tolerance=" << waveTolerance.getValue();
      return signalPassFailure();
    }
    getOperation().walk([&](PagedAttentionOp op) {
      if (op.getNumSplits() || op.getMaxSplits())
        return; // planned already (by hand or by an earlier run)
      int64_t batch = op.getContextLens().getType().getDimSize(0);
      int64_t tokens = op.getQuery().getType().getDimSize(0);
      // A dynamic batch (a model's step function, which serves prefill
      // chunks and decode steps of any batch) is planned per call.
      if (ShapedType::isDynamic(batch)) {
        if (maxSplits > 1)
          op.setMaxSplits(static_cast<uint64_t>(maxSplits));
        return;
      }
      // Otherwise only a decode step of a static batch bucket: one query per
      // sequence.
      if (tokens != batch)
        return;
      int64_t ctas = batch * op.getCache().getType().getNumKVHeads();
      int64_t splits = chooseNumSplits(ctas, numSMs, maxSplits, waveTolerance);
      op.setNumSplits(static_cast<uint64_t>(splits));
    });
  }
};
} // namespace
