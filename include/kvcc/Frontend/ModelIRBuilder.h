//===- ModelIRBuilder.h - A Llama-family model as kvc IR --------*- C++ -*-===//
//
// Builds the model's step function — one step of a ragged batch, prefill
// chunks and decode tokens together — in kvc plus upstream linalg / tensor /
// arith / math, with the argument order of include/kvcc/Runtime/ModelABI.h.
// Weights are bound at run time: they arrive as one flat f32 tensor, sliced
// at the offsets of the weight layout (which the manifest records).
//
//===----------------------------------------------------------------------===//
#ifndef KVCC_FRONTEND_MODELIRBUILDER_H
#define KVCC_FRONTEND_MODELIRBUILDER_H

#include "kvcc/Frontend/ModelSpec.h"
#include "kvcc/Runtime/ModelABI.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <string>
#include <vector>

namespace kvcc {

struct WeightSlot {
  std::string name;           ///< canonical (ModelSource) name
  std::vector<int64_t> shape; ///< row-major
  int64_t offset = 0;         ///< in elements, into the flat weights argument
};

/// Every weight of `spec` in ModelSource's stable order, packed back to back.
/// Each slot starts on a 16-element boundary (64-byte aligned rows), except
/// the members of a fused projection after the first (wk, wv after wq; bk, bv
/// after bq; w_up after w_gate), which follow their predecessor directly so
/// the group is one matrix and the model runs one GEMM for it.
std::vector<WeightSlot> weightLayout(const ModelSpec &spec, int64_t &totalElements);

struct ModelIROptions {
  int64_t blockSize = 16; ///< KV-cache page size, any value >= 1
  /// The weights and the activations between ops: f16 and bf16 halve the
  /// bytes of the weights and put the GEMMs on tensor cores. Reductions
  /// (norms, softmax, GEMM accumulation) and the logits stay f32.
  abi::DType dtype = abi::DType::F32;
  /// What the cache stores; keys and values are rounded once when appended
  /// if it differs from `dtype`, attention computes in f32 either way.
  abi::DType cacheDType = abi::DType::F32;
};

/// `func.func @step` of the model (see ModelABI.h for the arguments).
mlir::OwningOpRef<mlir::ModuleOp> buildModelIR(mlir::MLIRContext &context,
                                               const ModelSpec &spec,
                                               const ModelIROptions &options);

} // namespace kvcc

#endif // KVCC_FRONTEND_MODELIRBUILDER_H
