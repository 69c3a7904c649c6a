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

/// Element (i, j) of a 2-D vector (a fragment).
inline Value extract(ImplicitLocOpBuilder &b, Value v, int64_t i, int64_t j) {
  return mlir::vector::ExtractOp::create(b, v, llvm::ArrayRef<int64_t>{i, j});
}

/// An i32 constant (with toI32, LoopBuilder.h): the prefill kernel's
/// positions and shared-memory offsets are 32-bit.
inline Value c32(ImplicitLocOpBuilder &b, int64_t v) {
  return mlir::arith::ConstantOp::create(b, b.getI32IntegerAttr(static_cast<int32_t>(v)));
}

/// The rows of a fragment (vector<Rx2xf16/bf16>) as the .b32 registers PTX's
/// bf16 mma.sync and wgmma's register A take: element 0 of a pair in the low
/// half, as ldmatrix leaves it.
inline llvm::SmallVector<Value> packedPairs(ImplicitLocOpBuilder &b, Value fragment) {
  auto type = mlir::cast<mlir::VectorType>(fragment.getType());
  auto word = mlir::VectorType::get({1}, b.getI32Type());
  llvm::SmallVector<Value> regs;
  for (int64_t r = 0; r < type.getDimSize(0); ++r) {
    Value pair = mlir::vector::ExtractOp::create(b, fragment, llvm::ArrayRef<int64_t>{r});
    Value bits = mlir::vector::BitCastOp::create(b, word, pair);
    regs.push_back(mlir::vector::ExtractOp::create(b, bits, llvm::ArrayRef<int64_t>{0}));
  }
  return regs;
}

} // namespace kvcc::lowering

#endif // KVCC_LIB_CONVERSION_KVCTOGPU_KERNELBUILDER_H
