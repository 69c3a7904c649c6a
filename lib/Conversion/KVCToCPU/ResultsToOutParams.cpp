//===- ResultsToOutParams.cpp - caller-owned outputs for entry points ------===//
#include "kvcc/Conversion/KVCToCPU/KVCToCPU.h"

namespace kvcc {
#define GEN_PASS_DEF_KVCRESULTSTOOUTPARAMS
#include "kvcc/Conversion/Passes.h.inc"
} // namespace kvcc

using namespace mlir;

namespace {
struct ResultsToOutParamsPass
    : public kvcc::impl::KVCResultsToOutParamsBase<ResultsToOutParamsPass> {
  using Base::Base;

  void runOnOperation() override {
    for (auto fn : getOperation().getOps<func::FuncOp>()) {
      if (!fn.isPublic() || fn.isExternal())
        continue;
      auto type = fn.getFunctionType();
      if (type.getNumResults() == 0)
        continue;
      if (!llvm::all_of(type.getResults(), llvm::IsaPred<MemRefType>)) {
        fn.emitError() << "kvc-results-to-out-params: entry point results must "
                          "all be memrefs after bufferization, got "
                       << type;
        return signalPassFailure();
      }
      // Callers of an entry point inside the module would need rewriting too;
      // kvcc's entry points are only called from outside.
      if (auto uses = SymbolTable::getSymbolUses(fn, getOperation());
          uses && !uses->empty()) {
        fn.emitError() << "kvc-results-to-out-params: entry point '"
                       << fn.getName() << "' is also called inside the module";
        return signalPassFailure();
      }
      SmallVector<Type> inputs(type.getInputs());
      unsigned first = inputs.size();
      Block &entry = fn.getBody().front();
      for (Type result : type.getResults()) {
        inputs.push_back(result);
        entry.addArgument(result, fn.getLoc());
      }
      fn.setType(FunctionType::get(&getContext(), inputs, {}));
      fn.walk([&](func::ReturnOp ret) {
        OpBuilder b(ret);
        for (auto [i, value] : llvm::enumerate(ret.getOperands()))
          memref::CopyOp::create(b, ret.getLoc(), value,
                                 entry.getArgument(first + i));
        func::ReturnOp::create(b, ret.getLoc());
        ret.erase();
      });
    }
  }
};
} // namespace
