//===- CPUPipeline.cpp - kvc on tensors to the LLVM dialect ----------------===//
#include "kvcc/Target/CPUTarget.h"
#include "kvcc/InitAll.h"

#include "mlir/Pass/PassRegistry.h"

#include <mutex>

using namespace mlir;

std::string kvcc::cpuPipelineText() {
  // Function results become out-parameters so the runtime owns every output
  // buffer; buffers use identity layouts so descriptors are plain row-major.
  return "builtin.module("
         "kvc-lower-to-cpu,"
         "one-shot-bufferize{bufferize-function-boundaries "
         "function-boundary-type-conversion=identity-layout-map},"
         "kvc-results-to-out-params,"
         "kvc-matmul-to-blas,"
         "buffer-deallocation-pipeline,"
         "canonicalize,cse,"
         // The attention's parallel loop over (KV head, row block) runs on
         // OpenMP threads; each iteration's stack scratch lives in an alloca
         // scope, lowered before the loops become CFG blocks.
         "convert-scf-to-openmp,"
         "convert-linalg-to-loops,"
         "convert-vector-to-scf,"
         "lower-affine,"
         // bf16 arithmetic (a --dtype=bf16 model's bias adds, residual
         // adds) as f32 arithmetic between conversions, and bf16 <-> f32 as
         // integer shifts: LLVM would call __truncsfbf2, which the libgcc of
         // GCC 12 (Debian 12) does not have.
         "arith-emulate-unsupported-floats{source-types=bf16 target-type=f32},"
         "arith-expand{include-bf16=true},"
         "expand-strided-metadata,"
         "finalize-memref-to-llvm,"
         "convert-scf-to-cf,"
         "convert-vector-to-llvm,"
         "convert-math-to-llvm,"
         "finalize-memref-to-llvm,"
         "convert-arith-to-llvm,"
         "convert-index-to-llvm,"
         "convert-func-to-llvm,"
         "convert-cf-to-llvm,"
         "convert-openmp-to-llvm,"
         "reconcile-unrealized-casts)";
}

LogicalResult kvcc::parseModulePipeline(StringRef text, OpPassManager &pm) {
  // The textual pipelines name registered passes; tools other than kvcc-opt
  // (the driver, tests) may not have registered them yet.
  static std::once_flag registered;
  std::call_once(registered, [] { registerAllPasses(); });
  // `pm` is anchored on builtin.module already: parsing the wrapped text would
  // nest a module pass manager that never matches (and silently does nothing).
  text.consume_front("builtin.module(");
  text.consume_back(")");
  return parsePassPipeline(text, pm);
}

LogicalResult kvcc::buildCPUPipeline(OpPassManager &pm) {
  return parseModulePipeline(cpuPipelineText(), pm);
}
