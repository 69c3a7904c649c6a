//===- LowerToCPU.cpp - the kvc-lower-to-cpu pass --------------------------===//
#include "kvcc/Conversion/KVCToCPU/KVCToCPU.h"
#include "kvcc/Conversion/Utils/LoopBuilder.h"

#include "mlir/Dialect/Func/Transforms/FuncConversions.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/DialectConversion.h"

namespace kvcc {
#define GEN_PASS_DEF_KVCLOWERTOCPU
#include "kvcc/Conversion/Passes.h.inc"
} // namespace kvcc

using namespace mlir;
using namespace kvcc;

void kvcc::populateKVCToCPUTypeConversion(TypeConverter &converter) {
  converter.addConversion([](kvc::PagedCacheType cache) -> Type {
    return lowering::pageBufferType(cache);
  });
}

namespace {
struct LowerToCPUPass : public kvcc::impl::KVCLowerToCPUBase<LowerToCPUPass> {
  using Base::Base;

  void runOnOperation() override {
    MLIRContext *context = &getContext();
    TypeConverter converter;
    converter.addConversion([](Type type) { return type; });
    populateKVCToCPUTypeConversion(converter);

    ConversionTarget target(*context);
    target.addIllegalDialect<kvc::KVCDialect>();
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
    // Functions that take or return a cache change signature.
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
    populateKVCAttentionToCPUPatterns(converter, patterns);
    populateKVCCacheAndRopeToCPUPatterns(converter, patterns);
    if (failed(applyPartialConversion(getOperation(), target,
                                      std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace
