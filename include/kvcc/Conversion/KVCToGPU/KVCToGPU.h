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

#include <string>

namespace kvcc {

#define GEN_PASS_DECL_KVCLOWERTOGPU
#define GEN_PASS_DECL_KVCHOSTBUFFERSTOGPU
#define GEN_PASS_DECL_KVCDEDUPGPUKERNELS
#define GEN_PASS_DECL_KVCGPUKERNELHINTS
#include "kvcc/Conversion/Passes.h.inc"

/// Threads of a kvc kernel's CTA (4 warps); kvc_argmax, one CTA per
/// vocabulary-long row, uses 1024.
constexpr int64_t kGPUBlockThreads = 128;

/// The tensor-core prefill kernel's tile (4 warps a CTA).
struct PrefillTile {
  /// Query rows a CTA: 64 (one 16-row MMA tile a warp) or 128 (two, which
  /// share every K and V fragment a warp loads from shared memory); 0 picks
  /// the measured best (docs/performance.md): 128 at head_dim 128, 64 at 64.
  int64_t rows = 0;
  /// Keys a K/V tile: 16, 32, 64 or 128; 0 picks 64 at head_dim 64 (48 KiB
  /// of static shared memory with 64 rows) and 32 at 128 (64 KiB, dynamic,
  /// with 128 rows).
  int64_t keys = 0;

  int64_t rowsFor(int64_t headDim) const;
  int64_t keysFor(int64_t headDim) const;
  /// Empty if the tile is valid, else what is wrong with it.
  std::string check() const;
};

/// How kvc.paged_attention becomes kernels (kvc-lower-to-gpu's options).
struct AttentionKernelOptions {
  /// The tensor-core prefill kernel's tile.
  PrefillTile prefillTile;
  /// Its lazy O rescale (an A/B option).
  bool prefillLazyRescale = false;
  /// XOR-swizzled shared-memory tiles in the tensor-core kernels.
  bool swizzleSharedMemory = true;
  /// The prefill kernel on Hopper's warpgroup MMA (wgmma, sm_90a only).
  bool prefillWarpgroupMma = false;
  /// wgmma: P·V of one K/V tile runs beside the softmax of the next (off: an
  /// A/B option).
  bool prefillWarpgroupOverlap = true;
  /// One-token sequences of GQA groups of kTensorCoreDecodeMinGroup or more
  /// heads decode on tensor cores (the prefill kernel's loop at 64 rows),
  /// split like the flash-decoding kernel (which such groups then lack).
  bool decodeTensorCores = true;
};

/// GQA groups of at least this many query heads decode on tensor cores (with
/// `decodeTensorCores`): the flash-decoding kernel keeps 16 registers a head
/// in every lane, so groups above 4 leave its 128-register budget (2 CTAs an
/// SM: 0.54 of the copy bandwidth at GQA 8 on an H100; GQA 16 spills).
constexpr int64_t kTensorCoreDecodeMinGroup = 5;

/// kvc.paged_attention to the flash-decoding kernel (+ split combine),
/// multi-token chunks to the tensor-core prefill kernel, and the one-token
/// sequences of large GQA groups to its decode instance (`options`).
void populateKVCAttentionToGPUPatterns(const mlir::TypeConverter &converter,
                                       mlir::RewritePatternSet &patterns,
                                       const AttentionKernelOptions &options = {});

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
