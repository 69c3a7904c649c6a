//===- CUDATarget.h - kvc IR to kernels and a CUDA host library -*- C++ -*-===//
//
// The CUDA back end: kvc → gpu dialect kernels (kvc-lower-to-gpu) → NVVM →
// PTX → cubin by ptxas, embedded in a fat binary (cubin for the chosen arch +
// PTX for newer GPUs) inside the host shared library, whose entry points call
// the mgpu* launch ABI that the runtime's libkvcc_cuda_runtime.so implements.
//
//===----------------------------------------------------------------------===//
#ifndef KVCC_TARGET_CUDATARGET_H
#define KVCC_TARGET_CUDATARGET_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/raw_ostream.h"

#include <map>
#include <string>

namespace kvcc {

struct CUDATargetOptions {
  std::string gpuArch = "sm_90"; ///< sm_80 or sm_90 (any sm_XX ptxas knows)
  std::string irDumpDir;
  /// XOR-swizzled shared-memory tiles in the prefill kernel (kvc-lower-to-gpu
  /// swizzle-shared-memory); off only to measure what the swizzle buys.
  bool swizzleSharedMemory = true;
  /// The prefill kernel's tile (kvc-lower-to-gpu prefill-rows / prefill-keys;
  /// keys 0: by head_dim).
  int64_t prefillRows = 0, prefillKeys = 0;
  /// kvc-lower-to-gpu prefill-lazy-rescale (an A/B option, off).
  bool prefillLazyRescale = false;
  /// kvc-lower-to-gpu prefill-wgmma: the prefill kernel on warpgroup MMA
  /// (gpuArch sm_90a only; off until measured).
  bool prefillWarpgroupMma = false;
  /// kvc-lower-to-gpu prefill-wgmma-overlap (on; off for A/B runs).
  bool prefillWarpgroupOverlap = true;
  /// kvc-lower-to-gpu decode-tensor-cores: GQA groups of 5+ heads decode on
  /// tensor cores, split or not (off only for A/B runs).
  bool decodeTensorCores = true;
  /// The most KV splits a decode call of a dynamic batch may plan for itself
  /// (kvc-plan-split-kv max-splits; 1: one CTA per sequence and KV head).
  int64_t maxDecodeSplits = 32;
};

/// Checks `gpuArch` ("sm_80", "sm_90", ...): an error message or "".
std::string checkGPUArch(const std::string &gpuArch);

/// Parses `--gpu-prefill-tile` ("ROWSxKEYS", e.g. "128x64"; KEYS 0 picks
/// them by head_dim; "" keeps the default) into `options`: an error message
/// or "".
std::string parsePrefillTile(const std::string &text, CUDATargetOptions &options);

/// The CUDA pipeline up to host code on gpu.alloc / gpu.launch_func and
/// outlined kernels in the GPU dialect (what `--emit=gpu` prints).
std::string cudaGPUDialectPipelineText(const CUDATargetOptions &options = {});

/// The CUDA pipeline as text; `format` is gpu-module-to-binary's: isa (PTX),
/// bin (cubin) or fatbin.
std::string cudaPipelineText(const CUDATargetOptions &options,
                             const std::string &format);

/// Runs cudaGPUDialectPipelineText(): the GPU dialect IR.
mlir::LogicalResult lowerToGPUDialect(mlir::ModuleOp module,
                                      const CUDATargetOptions &options);

/// Lowers `module` and returns the PTX of every kernel module by name.
mlir::LogicalResult emitPTX(mlir::ModuleOp module,
                            const CUDATargetOptions &options,
                            std::map<std::string, std::string> &ptx);

/// Lowers `module` and writes the host shared library with the fat binary.
mlir::LogicalResult compileToCUDASharedLibrary(mlir::ModuleOp module,
                                               const std::string &outputPath,
                                               const CUDATargetOptions &options);

} // namespace kvcc

#endif // KVCC_TARGET_CUDATARGET_H
