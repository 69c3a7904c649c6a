//===- DedupKernels.cpp - the kvc-dedup-gpu-kernels pass -------------------===//
//
// A model lowers the same kvc op (and the same elementwise linalg op) once
// per layer, so kernel outlining leaves one copy of each kernel per layer:
// SmolLM2's 30 layers would send ~20 identical kernels 30 times each through
// NVVM, ptxas and the fat binary. Kernels are compared by their printed form
// with their own name blanked out; launches of a copy are redirected to the
// first kernel of its kind and the copies are erased.
//
// Kernels that read a weight slice differ in the slice's static offset (part
// of the memref type): where an argument is only loaded from and stored to,
// its offset becomes a run-time value first (the launches cast), so one
// kernel serves every layer.
//
//===----------------------------------------------------------------------===//
#include "kvcc/Conversion/KVCToGPU/KVCToGPU.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/raw_ostream.h"

namespace kvcc {
#define GEN_PASS_DEF_KVCDEDUPGPUKERNELS
#include "kvcc/Conversion/Passes.h.inc"
} // namespace kvcc

using namespace mlir;

namespace {

/// `type` with a dynamic offset when it has a static non-zero one, else null.
MemRefType withDynamicOffset(Type type) {
  auto memref = dyn_cast<MemRefType>(type);
  if (!memref)
    return {};
  auto layout = dyn_cast<StridedLayoutAttr>(memref.getLayout());
  if (!layout || ShapedType::isDynamic(layout.getOffset()) || layout.getOffset() == 0)
    return {};
  return MemRefType::get(
      memref.getShape(), memref.getElementType(),
      StridedLayoutAttr::get(type.getContext(), ShapedType::kDynamic,
                             layout.getStrides()),
      memref.getMemorySpace());
}

/// Makes the static offsets of `fn`'s memref arguments run-time values where
/// the body only loads and stores through them; `launches` (all launches of
/// `fn`) pass casts.
void generalizeOffsets(gpu::GPUFuncOp fn, ArrayRef<gpu::LaunchFuncOp> launches) {
  Block &entry = fn.getBody().front();
  SmallVector<Type> argTypes(fn.getArgumentTypes());
  bool changed = false;
  for (auto [i, arg] : llvm::enumerate(entry.getArguments())) {
    MemRefType general = withDynamicOffset(arg.getType());
    if (!general || !llvm::all_of(arg.getUsers(), [](Operation *user) {
          return isa<memref::LoadOp, memref::StoreOp, vector::LoadOp,
                     vector::StoreOp>(user);
        }))
      continue;
    arg.setType(general);
    argTypes[i] = general;
    changed = true;
    for (gpu::LaunchFuncOp launch : launches) {
      OpBuilder b(launch);
      OpOperand &operand = launch.getKernelOperandsMutable()[i];
      operand.set(memref::CastOp::create(b, launch.getLoc(), general, operand.get()));
    }
  }
  if (changed)
    fn.setFunctionType(FunctionType::get(fn.getContext(), argTypes, {}));
}

/// The kernel's text with its symbol name replaced by a fixed one.
std::string structuralKey(gpu::GPUFuncOp fn) {
  StringAttr name = fn.getNameAttr();
  SymbolTable::setSymbolName(fn, "kvc_kernel");
  std::string key;
  llvm::raw_string_ostream os(key);
  fn->print(os, OpPrintingFlags().printGenericOpForm().useLocalScope().elideLargeElementsAttrs(
                    std::numeric_limits<int64_t>::max()));
  SymbolTable::setSymbolName(fn, name);
  return key;
}

struct DedupGPUKernelsPass
    : public kvcc::impl::KVCDedupGPUKernelsBase<DedupGPUKernelsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    DenseMap<SymbolRefAttr, SmallVector<gpu::LaunchFuncOp>> launchesOf;
    module.walk([&](gpu::LaunchFuncOp launch) {
      launchesOf[launch.getKernelAttr()].push_back(launch);
    });
    llvm::StringMap<SymbolRefAttr> canonical;
    // Duplicate kernel (as @module::@func) -> the kernel that replaces it.
    DenseMap<SymbolRefAttr, SymbolRefAttr> replacement;
    SmallVector<gpu::GPUFuncOp> duplicates;
    for (auto gpuModule : module.getOps<gpu::GPUModuleOp>()) {
      for (auto fn : gpuModule.getOps<gpu::GPUFuncOp>()) {
        if (!fn.isKernel())
          continue;
        auto ref = SymbolRefAttr::get(
            gpuModule.getNameAttr(),
            ArrayRef<FlatSymbolRefAttr>{FlatSymbolRefAttr::get(fn.getNameAttr())});
        generalizeOffsets(fn, launchesOf.lookup(ref));
        auto [it, inserted] = canonical.try_emplace(structuralKey(fn), ref);
        if (inserted)
          continue;
        replacement[ref] = it->second;
        duplicates.push_back(fn);
      }
    }
    if (duplicates.empty())
      return;
    module.walk([&](gpu::LaunchFuncOp launch) {
      auto it = replacement.find(launch.getKernelAttr());
      if (it != replacement.end())
        launch.setKernelAttr(it->second);
    });
    for (gpu::GPUFuncOp fn : duplicates) {
      auto gpuModule = fn->getParentOfType<gpu::GPUModuleOp>();
      fn.erase();
      // A module left without kernels would still be compiled and loaded.
      if (gpuModule.getOps<gpu::GPUFuncOp>().empty())
        gpuModule.erase();
    }
  }
};

} // namespace
