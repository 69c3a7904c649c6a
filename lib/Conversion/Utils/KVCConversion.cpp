//===- KVCConversion.cpp - the conversion driver shared by the lowerings ---===//
#include "kvcc/Conversion/Utils/KVCConversion.h"
#include "kvcc/Conversion/Utils/LoopBuilder.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Func/Transforms/FuncConversions.h"

using namespace mlir;

LogicalResult kvcc::convertKVCOps(
    ModuleOp module,
    function_ref<void(const TypeConverter &, RewritePatternSet &)> populate) {
  MLIRContext *context = module.getContext();
  TypeConverter converter;
  converter.addConversion([](Type type) { return type; });
  converter.addConversion([](kvc::PagedCacheType cache) -> Type {
    return lowering::pageBufferType(cache);
  });

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
  populate(converter, patterns);
  return applyPartialConversion(module, target, std::move(patterns));
}
