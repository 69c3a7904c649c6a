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
      SmallVector<func::ReturnOp> returns;
      fn.walk([&](func::ReturnOp ret) { returns.push_back(ret); });
      for (func::ReturnOp ret : returns) {
        SmallVector<Value> values(ret.getOperands());
        for (auto [i, value] : llvm::enumerate(values)) {
          BlockArgument out = entry.getArgument(first + i);
          // A buffer allocated for the result and returned once is the
          // caller's buffer from the start: no copy (for logits, B x vocab
          // floats a step; on the GPU one device copy fewer per output).
          auto alloc = value.getDefiningOp<memref::AllocOp>();
          if (returns.size() == 1 && alloc && alloc->getBlock() == &entry &&
              alloc.getType() == out.getType() && llvm::count(values, value) == 1) {
            alloc.getResult().replaceAllUsesWith(out);
            alloc.erase();
            continue;
          }
          OpBuilder b(ret);
          memref::CopyOp::create(b, ret.getLoc(), value, out);
        }
        OpBuilder b(ret);
        func::ReturnOp::create(b, ret.getLoc());
        ret.erase();
      }
    }
  }
};
} // namespace
