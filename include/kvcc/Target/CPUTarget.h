//===- CPUTarget.h - kvc IR to a loadable shared library --------*- C++ -*-===//
//
// The CPU back end: the lowering pipeline (kvc → loops/vectors → LLVM
// dialect), packed entry points, LLVM IR → optimized native object → a shared
// library the runtime dlopens (ModelABI.h).
//
//===----------------------------------------------------------------------===//
#ifndef KVCC_TARGET_CPUTARGET_H
#define KVCC_TARGET_CPUTARGET_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"

#include <string>

namespace kvcc {

struct CPUTargetOptions {
  /// LLVM CPU name; empty means the host CPU.
  std::string cpu;
  /// Archives and objects linked into model.so besides the compiled code
  /// (empty: the CPU shim library built with kvcc).
  std::vector<std::string> linkInputs;
  /// Libraries model.so links against.
  std::vector<std::string> libraries = {"openblas", "m"};
  /// Where --dump-ir-dir style callers want the IR after every pass; empty: off.
  std::string irDumpDir;
};

/// The pass pipeline from kvc + upstream dialects on tensors to the LLVM
/// dialect, as a textual pipeline (what `kvcc-opt --pass-pipeline` accepts).
std::string cpuPipelineText();

/// Adds that pipeline to `pm`.
mlir::LogicalResult buildCPUPipeline(mlir::OpPassManager &pm);

/// For every function exported with a C interface (`_mlir_ciface_NAME`), adds
/// `void kvcc_NAME(void **args)`, which reads args[i] as a pointer to the i-th
/// argument and calls the C interface: one calling convention for any number
/// of memref arguments (ModelABI.h).
mlir::LogicalResult addPackedEntryPoints(mlir::ModuleOp module);

/// Lowers `module` (kvc on tensors) through the CPU pipeline, translates it to
/// LLVM IR, optimizes it at -O3, emits an object and links `outputPath`
/// (written to a temporary name first, renamed on success: no partial file).
mlir::LogicalResult compileToSharedLibrary(mlir::ModuleOp module,
                                           const std::string &outputPath,
                                           const CPUTargetOptions &options);

} // namespace kvcc

#endif // KVCC_TARGET_CPUTARGET_H
