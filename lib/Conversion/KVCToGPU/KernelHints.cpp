//===- KernelHints.cpp - the kvc-gpu-kernel-hints pass ---------------------===//
//
// ptxas chooses registers for the occupancy a kernel's `.maxntid` allows
// unless told otherwise; see the pass description in Passes.td for why the
// decode attention gets an explicit `.maxnreg`.
//
//===----------------------------------------------------------------------===//
#include "kvcc/Conversion/KVCToGPU/KVCToGPU.h"

#include "llvm/ADT/StringExtras.h"

#include <optional>

namespace kvcc {
#define GEN_PASS_DEF_KVCGPUKERNELHINTS
#include "kvcc/Conversion/Passes.h.inc"
} // namespace kvcc

using namespace mlir;

namespace {

/// 4 CTAs of 128 threads fill an SM's 64K registers: the occupancy the
/// kernel had with ptxas's own choice at head_dim 128 (121-123 registers).
constexpr int64_t kDecodeMaxRegisters = 128;
/// Every lane keeps 8 accumulators and 8 query elements for each head of its
/// GQA group: up to 4 heads fit 128 registers; 8 heads need 222-234 (they
/// spilled 280-700 bytes under the cap and ran at 0.15 of copy bandwidth on
/// an H100), so larger groups get the whole register file (2 CTAs an SM).
constexpr int64_t kDecodeMaxGroupUnderCap = 4;
constexpr int64_t kRegisterFile = 255;

/// The GQA group size of an outlined decode kernel: its cross-warp merge
/// buffer (the second workgroup attribution) is memref<warps x group x D>.
std::optional<int64_t> decodeGroupSize(gpu::GPUFuncOp fn) {
  auto attributions = fn.getWorkgroupAttributions();
  if (attributions.size() < 2)
    return std::nullopt;
  auto type = dyn_cast<MemRefType>(attributions[1].getType());
  if (!type || type.getRank() != 3 || type.isDynamicDim(1))
    return std::nullopt;
  return type.getDimSize(1);
}

/// `name` is `base` or an outlining copy of it (`base_N`).
bool isKernel(StringRef name, StringRef base) {
  if (!name.consume_front(base))
    return false;
  return name.empty() || (name.consume_front("_") && !name.empty() && llvm::all_of(name, llvm::isDigit));
}

struct GPUKernelHintsPass : public kvcc::impl::KVCGPUKernelHintsBase<GPUKernelHintsPass> {
  void runOnOperation() override {
    getOperation().walk([&](gpu::GPUFuncOp fn) {
      if (!fn.isKernel() || !isKernel(fn.getName(), "kvc_paged_attention"))
        return;
      std::optional<int64_t> group = decodeGroupSize(fn);
      int64_t cap = group && *group > kDecodeMaxGroupUnderCap ? kRegisterFile : kDecodeMaxRegisters;
      fn->setAttr("nvvm.maxnreg", Builder(&getContext()).getI32IntegerAttr(cap));
    });
  }
};

} // namespace
