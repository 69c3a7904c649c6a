//===- LowerToGPU.cpp - the kvc-lower-to-gpu pass --------------------------===//
#include "KernelBuilder.h"
#include "PrefillAttention.h"
#include "kvcc/Conversion/KVCToGPU/KVCToGPU.h"
#include "kvcc/Conversion/Utils/KVCConversion.h"
#include "kvcc/Conversion/Utils/LoopBuilder.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace kvcc {
#define GEN_PASS_DEF_KVCLOWERTOGPU
#include "kvcc/Conversion/Passes.h.inc"
} // namespace kvcc

using namespace mlir;
using namespace kvcc;

namespace {
struct LowerToGPUPass : public kvcc::impl::KVCLowerToGPUBase<LowerToGPUPass> {
  using Base::Base;

  /// Host code that plans its split-KV factor per call asks the runtime for
  /// the device's SM count.
  void declareSMCountFunction() {
    ModuleOp module = getOperation();
    bool planned = false;
    module.walk([&](kvc::PagedAttentionOp op) {
      planned |= op.getMaxSplits().value_or(1) > 1;
    });
    if (!planned || module.lookupSymbol(lowering::kSMCountFunction))
      return;
    OpBuilder b = OpBuilder::atBlockBegin(module.getBody());
    auto decl = func::FuncOp::create(b, module.getLoc(), lowering::kSMCountFunction,
                                     b.getFunctionType({}, {b.getI32Type()}));
    decl.setPrivate();
  }

  void runOnOperation() override {
    PrefillTile tile{prefillRows, prefillKeys};
    std::string problem = tile.check();
    if (problem.empty() && prefillWarpgroupMma && tile.keys != 0 && tile.keys < 64)
      problem = "prefill-wgmma takes K/V tiles of 64 or 128 keys, got " + std::to_string(tile.keys);
    if (problem.empty() && prefillWarpgroupMma && !swizzleSharedMemory)
      problem = "prefill-wgmma reads the 128-byte-swizzle layout: it needs "
                "swizzle-shared-memory";
    if (!problem.empty()) {
      getOperation().emitError("kvc-lower-to-gpu: ") << problem;
      return signalPassFailure();
    }
    declareSMCountFunction();
    if (failed(convertKVCOps(getOperation(), [&](const TypeConverter &converter,
                                                 RewritePatternSet &patterns) {
          populateKVCAttentionToGPUPatterns(
              converter, patterns,
              AttentionKernelOptions{tile, prefillLazyRescale, swizzleSharedMemory,
                                     prefillWarpgroupMma, prefillWarpgroupOverlap,
                                     decodeTensorCores});
          populateKVCCacheAndRopeToGPUPatterns(converter, patterns);
          populateKVCNormToGPUPatterns(converter, patterns);
          populateKVCArgmaxToGPUPatterns(converter, patterns);
        })))
      signalPassFailure();
  }
};
} // namespace
