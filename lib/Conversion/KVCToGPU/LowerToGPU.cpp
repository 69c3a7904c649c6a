//===- LowerToGPU.cpp - the kvc-lower-to-gpu pass --------------------------===//
#include "PrefillAttention.h"
#include "kvcc/Conversion/KVCToGPU/KVCToGPU.h"
#include "kvcc/Conversion/Utils/KVCConversion.h"
#include "kvcc/Conversion/Utils/LoopBuilder.h"

namespace kvcc {
#define GEN_PASS_DEF_KVCLOWERTOGPU
#include "kvcc/Conversion/Passes.h.inc"
} // namespace kvcc

using namespace mlir;
using namespace kvcc;

namespace {
struct LowerToGPUPass : public kvcc::impl::KVCLowerToGPUBase<LowerToGPUPass> {
  using Base::Base;

  void runOnOperation() override {
    PrefillTile tile{prefillRows, prefillKeys};
    if (std::string problem = tile.check(); !problem.empty()) {
      getOperation().emitError("kvc-lower-to-gpu: ") << problem;
      return signalPassFailure();
    }
    if (failed(convertKVCOps(getOperation(), [&](const TypeConverter &converter,
                                                 RewritePatternSet &patterns) {
          populateKVCAttentionToGPUPatterns(converter, patterns, tile);
          populateKVCCacheAndRopeToGPUPatterns(converter, patterns);
          populateKVCNormToGPUPatterns(converter, patterns);
          populateKVCArgmaxToGPUPatterns(converter, patterns);
        })) ||
        failed(swizzlePrefillSharedMemory(getOperation(), swizzleSharedMemory)))
      signalPassFailure();
  }
};
} // namespace
