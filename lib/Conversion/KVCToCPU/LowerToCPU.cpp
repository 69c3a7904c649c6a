//===- LowerToCPU.cpp - the kvc-lower-to-cpu pass --------------------------===//
#include "kvcc/Conversion/KVCToCPU/KVCToCPU.h"
#include "kvcc/Conversion/Utils/KVCConversion.h"

namespace kvcc {
#define GEN_PASS_DEF_KVCLOWERTOCPU
#include "kvcc/Conversion/Passes.h.inc"
} // namespace kvcc

using namespace mlir;
using namespace kvcc;

namespace {
struct LowerToCPUPass : public kvcc::impl::KVCLowerToCPUBase<LowerToCPUPass> {
  using Base::Base;

  void runOnOperation() override {
    if (failed(convertKVCOps(getOperation(), [](const TypeConverter &converter,
                                                 RewritePatternSet &patterns) {
          populateKVCAttentionToCPUPatterns(converter, patterns);
          populateKVCCacheAndRopeToCPUPatterns(converter, patterns);
          populateKVCNormToCPUPatterns(converter, patterns);
          populateKVCArgmaxToCPUPatterns(converter, patterns);
        })))
      signalPassFailure();
  }
};
} // namespace
