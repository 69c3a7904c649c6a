//===- LowerToGPU.cpp - the kvc-lower-to-gpu pass --------------------------===//
#include "kvcc/Conversion/KVCToCPU/KVCToCPU.h"
#include "kvcc/Conversion/KVCToGPU/KVCToGPU.h"

#include "kvcc/Dialect/KVC/IR/KVC.h"

#include "mlir/Dialect/Func/Transforms/FuncConversions.h"

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
    MLIRContext *context = &getContext();
    TypeConverter converter;
    converter.addConversion([](Type type) { return type; });
    // The page buffer is the same on both targets (it lives in device memory
    // on the GPU).
    populateKVCToCPUTypeConversion(converter);

    ConversionTarget target(*context);
    target.addIllegalDialect<kvc::KVCDialect>();
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
    target.addDynamicallyLegalOp<func::FuncOp>([&](func::FuncOp fn) {
      return converter.isSignatureLegal(fn.getFunctionType()) &&
             converter.isLegal(&fn.getBody());
    });
    target.addDynamicallyLegalOp<func::ReturnOp, func::CallOp>(
        [&](Operation *op) { return converter.isLegal(op); });

    RewritePatternSet patterns(context);
    populateFunctionOpInterfaceTypeConversionPattern<func::FuncOp>(patterns,
                                                                   converter);
    populateCallOpTypeConversionPattern(patterns, converter);
    populateReturnOpTypeConversionPattern(patterns, converter);
    populateKVCAttentionToGPUPatterns(converter, patterns);
    populateKVCCacheAndRopeToGPUPatterns(converter, patterns);
    if (failed(applyPartialConversion(getOperation(), target,
                                      std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace
