//===- PackedEntryPoints.cpp - void kvcc_NAME(void **args) wrappers --------===//
#include "kvcc/Target/CPUTarget.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

using namespace mlir;

LogicalResult kvcc::addPackedEntryPoints(ModuleOp module) {
  constexpr llvm::StringLiteral kPrefix = "_mlir_ciface_";
  SmallVector<LLVM::LLVMFuncOp> interfaces;
  for (auto fn : module.getOps<LLVM::LLVMFuncOp>())
    if (fn.getName().starts_with(kPrefix) && !fn.isExternal())
      interfaces.push_back(fn);

  for (LLVM::LLVMFuncOp iface : interfaces) {
    std::string name = ("kvcc_" + iface.getName().drop_front(kPrefix.size())).str();
    if (module.lookupSymbol(name))
      return iface.emitError() << "entry point '" << name << "' already exists";
    ImplicitLocOpBuilder b(iface.getLoc(), module.getContext());
    b.setInsertionPointToEnd(module.getBody());
    auto ptr = LLVM::LLVMPointerType::get(module.getContext());
    auto fnType = LLVM::LLVMFunctionType::get(
        LLVM::LLVMVoidType::get(module.getContext()), {ptr});
    auto wrapper = LLVM::LLVMFuncOp::create(b, name, fnType);
    Block *entry = wrapper.addEntryBlock(b);
    b.setInsertionPointToStart(entry);

    SmallVector<Value> callArgs;
    for (auto [i, type] : llvm::enumerate(iface.getArgumentTypes())) {
      Value slot = LLVM::GEPOp::create(b, ptr, ptr, entry->getArgument(0),
                                       ArrayRef<LLVM::GEPArg>{int32_t(i)});
      Value argPtr = LLVM::LoadOp::create(b, ptr, slot);
      // Memref descriptors are passed by pointer; scalars are read through it.
      callArgs.push_back(isa<LLVM::LLVMPointerType>(type)
                             ? argPtr
                             : Value(LLVM::LoadOp::create(b, type, argPtr)));
    }
    LLVM::CallOp::create(b, iface, callArgs);
    LLVM::ReturnOp::create(b, ValueRange{});
  }
  return success();
}
