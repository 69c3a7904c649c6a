//===- KernelHints.cpp - the kvc-gpu-kernel-hints pass ---------------------===//
//
// ptxas chooses registers for the occupancy a kernel's `.maxntid` allows
// unless told otherwise; see the pass description in Passes.td for why the
// decode attention gets an explicit `.maxnreg`.
//
//===----------------------------------------------------------------------===//
#include "kvcc/Conversion/KVCToGPU/KVCToGPU.h"

#include "llvm/ADT/StringExtras.h"

namespace kvcc {
#define GEN_PASS_DEF_KVCGPUKERNELHINTS
#include "kvcc/Conversion/Passes.h.inc"
} // namespace kvcc

using namespace mlir;

namespace {

/// 4 CTAs of 128 threads fill an SM's 64K registers: the occupancy the
/// kernel had with ptxas's own choice at head_dim 128 (121-123 registers).
constexpr int64_t kDecodeMaxRegisters = 128;

/// `name` is `base` or an outlining copy of it (`base_N`).
bool isKernel(StringRef name, StringRef base) {
  if (!name.consume_front(base))
    return false;
  return name.empty() || (name.consume_front("_") && !name.empty() && llvm::all_of(name, llvm::isDigit));
}

struct GPUKernelHintsPass : public kvcc::impl::KVCGPUKernelHintsBase<GPUKernelHintsPass> {
  void runOnOperation() override {
    getOperation().walk([&](gpu::GPUFuncOp fn) {
      if (fn.isKernel() && isKernel(fn.getName(), "kvc_paged_attention"))
        fn->setAttr("nvvm.maxnreg", Builder(&getContext()).getI32IntegerAttr(kDecodeMaxRegisters));
    });
  }
};

} // namespace
