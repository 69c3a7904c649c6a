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

#include <functional>
#include <string>
#include <vector>

namespace kvcc {

struct CPUTargetOptions {
  /// LLVM CPU name; empty: x86-64-v3 (portable), "native": this host.
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

/// Parses a pipeline written as `builtin.module(...)` (or its inner list) into
/// the module-anchored `pm`, registering kvcc's and upstream passes once.
mlir::LogicalResult parseModulePipeline(llvm::StringRef text,
                                        mlir::OpPassManager &pm);

/// Adds that pipeline to `pm`.
mlir::LogicalResult buildCPUPipeline(mlir::OpPassManager &pm);

/// For every function exported with a C interface (`_mlir_ciface_NAME`), adds
/// `void kvcc_NAME(void **args)`, which reads args[i] as a pointer to the i-th
/// argument and calls the C interface: one calling convention for any number
/// of memref arguments (ModelABI.h).
mlir::LogicalResult addPackedEntryPoints(mlir::ModuleOp module);

/// How linkSharedLibrary turns an LLVM-dialect module into a shared library.
struct LinkOptions {
  std::string cpu;                     ///< as CPUTargetOptions::cpu
  std::vector<std::string> inputs;     ///< archives / objects linked in
  std::vector<std::string> libraries;  ///< -l libraries
  std::vector<std::string> flags;      ///< other linker-driver flags
};

/// Marks public functions as C-interface entry points and runs the pipeline
/// `build` adds (IR after every pass into `irDumpDir` when not empty).
mlir::LogicalResult runLoweringPipeline(
    mlir::ModuleOp module,
    const std::function<mlir::LogicalResult(mlir::OpPassManager &)> &build,
    const std::string &irDumpDir);

/// LLVM dialect (+ gpu.binary / gpu.launch_func) → packed entry points → LLVM
/// IR → -O3 → object → shared library at `outputPath` (written under a
/// temporary name first, renamed on success: no partial file).
mlir::LogicalResult linkSharedLibrary(mlir::ModuleOp module,
                                      const std::string &outputPath,
                                      const LinkOptions &options);

/// Lowers `module` (kvc on tensors) through the CPU pipeline, translates it to
/// LLVM IR, optimizes it at -O3, emits an object and links `outputPath`
/// (written to a temporary name first, renamed on success: no partial file).
mlir::LogicalResult compileToSharedLibrary(mlir::ModuleOp module,
                                           const std::string &outputPath,
                                           const CPUTargetOptions &options);

} // namespace kvcc

#endif // KVCC_TARGET_CPUTARGET_H
