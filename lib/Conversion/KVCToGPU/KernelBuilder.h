//===- KernelBuilder.h - helpers shared by the kvc GPU kernels --*- C++ -*-===//
#ifndef KVCC_LIB_CONVERSION_KVCTOGPU_KERNELBUILDER_H
#define KVCC_LIB_CONVERSION_KVCTOGPU_KERNELBUILDER_H

#include "kvcc/Conversion/KVCToGPU/KVCToGPU.h"
#include "kvcc/Conversion/Utils/LoopBuilder.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

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

/// The runtime function (MgpuABI.h) that gives host code the device's SM
/// count: `() -> i32`, declared by kvc-lower-to-gpu where a call plans its
/// split-KV factor.
constexpr llvm::StringLiteral kSMCountFunction = "kvcc_cuda_multiprocessor_count";

/// log2(e): softmax in base 2 scales the scores by it, so that exp(s - m)
/// becomes one fastExp2.
constexpr double kLog2E = 1.4426950408889634;

/// 2^x by the SFU's ex2.approx.ftz (one MUFU instruction). math.exp2 and
/// math.exp lower to libdevice, whose range reduction and denormal handling
/// cost 6-8 instructions an element; softmax needs none of it (its inputs
/// are <= 0 and a result below 2^-126 is as good as zero).
inline Value fastExp2(ImplicitLocOpBuilder &b, Value x) {
  return mlir::LLVM::CallIntrinsicOp::create(
             b, x.getType(), b.getStringAttr("llvm.nvvm.ex2.approx.ftz.f32"),
             mlir::ValueRange{x})
      .getResults();
}

/// for (i = tid; i < n; i += threads) body(i): a CTA's threads sweeping n
/// elements.
inline void blockStrided(
    ImplicitLocOpBuilder &b, Value tid, int64_t n,
    const std::function<void(ImplicitLocOpBuilder &, Value)> &body,
    int64_t threads = kGPUBlockThreads) {
  Loops L{b};
  mlir::scf::ForOp::create(
      b, tid, L.idx(n), L.idx(threads), mlir::ValueRange{},
      [&](mlir::OpBuilder &nb, mlir::Location loc, Value i, mlir::ValueRange) {
        ImplicitLocOpBuilder inner(loc, nb);
        body(inner, i);
        mlir::scf::YieldOp::create(inner);
      });
}

} // namespace kvcc::lowering

#endif // KVCC_LIB_CONVERSION_KVCTOGPU_KERNELBUILDER_H
