//===- KernelBuilder.h - helpers shared by the kvc GPU kernels --*- C++ -*-===//
#ifndef KVCC_LIB_CONVERSION_KVCTOGPU_KERNELBUILDER_H
#define KVCC_LIB_CONVERSION_KVCTOGPU_KERNELBUILDER_H

#include "kvcc/Conversion/KVCToGPU/KVCToGPU.h"
#include "kvcc/Conversion/Utils/LoopBuilder.h"

#include <functional>

namespace kvcc::lowering {

/// Kernel and kernel-module name of a launch, so PTX and profiles read well.
inline mlir::FlatSymbolRefAttr kernelName(ImplicitLocOpBuilder &b,
                                          llvm::StringRef name) {
  return mlir::FlatSymbolRefAttr::get(b.getContext(), name);
}

/// Butterfly exchange with the lane `offset` away, full warp.
inline Value shuffleXor(ImplicitLocOpBuilder &b, Value v, int64_t offset) {
  return mlir::gpu::ShuffleOp::create(b, v, static_cast<int32_t>(offset), 32,
                                      mlir::gpu::ShuffleMode::XOR)
      .getShuffleResult();
}

/// for (i = tid; i < n; i += kGPUBlockThreads) body(i): a CTA's threads
/// sweeping n elements.
inline void blockStrided(
    ImplicitLocOpBuilder &b, Value tid, int64_t n,
    const std::function<void(ImplicitLocOpBuilder &, Value)> &body) {
  Loops L{b};
  mlir::scf::ForOp::create(
      b, tid, L.idx(n), L.idx(kGPUBlockThreads), mlir::ValueRange{},
      [&](mlir::OpBuilder &nb, mlir::Location loc, Value i, mlir::ValueRange) {
        ImplicitLocOpBuilder inner(loc, nb);
        body(inner, i);
        mlir::scf::YieldOp::create(inner);
      });
}

} // namespace kvcc::lowering

#endif // KVCC_LIB_CONVERSION_KVCTOGPU_KERNELBUILDER_H
