//===- KVCToGPU.h - kvc to GPU kernels ---------------------------*- C++ -*-===//
#ifndef KVCC_CONVERSION_KVCTOGPU_KVCTOGPU_H
#define KVCC_CONVERSION_KVCTOGPU_KVCTOGPU_H

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Transforms/DialectConversion.h"

namespace kvcc {

#define GEN_PASS_DECL_KVCLOWERTOGPU
#define GEN_PASS_DECL_KVCHOSTBUFFERSTOGPU
#define GEN_PASS_DECL_KVCDEDUPGPUKERNELS
#define GEN_PASS_DECL_KVCGPUKERNELHINTS
#include "kvcc/Conversion/Passes.h.inc"

/// Threads of a kvc kernel's CTA (4 warps); kvc_argmax, one CTA per
/// vocabulary-long row, uses 1024.
constexpr int64_t kGPUBlockThreads = 128;

/// kvc.paged_attention to the flash-decoding kernel (+ split combine).
void populateKVCAttentionToGPUPatterns(const mlir::TypeConverter &converter,
                                       mlir::RewritePatternSet &patterns);

/// kvc.append and kvc.rope to one-CTA-per-token kernels.
void populateKVCCacheAndRopeToGPUPatterns(const mlir::TypeConverter &converter,
                                          mlir::RewritePatternSet &patterns);

/// kvc.rms_norm (with its fused residual add) to one CTA-per-row kernel.
void populateKVCNormToGPUPatterns(const mlir::TypeConverter &converter,
                                  mlir::RewritePatternSet &patterns);

/// kvc.argmax to one kernel: a CTA per row, shuffle and shared-memory
/// combination of per-thread candidates.
void populateKVCArgmaxToGPUPatterns(const mlir::TypeConverter &converter,
                                    mlir::RewritePatternSet &patterns);

} // namespace kvcc

#endif // KVCC_CONVERSION_KVCTOGPU_KVCTOGPU_H
