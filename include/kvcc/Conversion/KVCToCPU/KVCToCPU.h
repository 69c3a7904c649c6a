//===- KVCToCPU.h - kvc to loops and vectors --------------------*- C++ -*-===//
#ifndef KVCC_CONVERSION_KVCTOCPU_KVCTOCPU_H
#define KVCC_CONVERSION_KVCTOCPU_KVCTOCPU_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Transforms/DialectConversion.h"

namespace kvcc {

#define GEN_PASS_DECL_KVCLOWERTOCPU
#define GEN_PASS_DECL_KVCRESULTSTOOUTPARAMS
#define GEN_PASS_DECL_KVCMATMULTOBLAS
#include "kvcc/Conversion/Passes.h.inc"

/// kvc.paged_attention and kvc.attention to the tiled online-softmax loops.
void populateKVCAttentionToCPUPatterns(const mlir::TypeConverter &converter,
                                       mlir::RewritePatternSet &patterns);

/// kvc.append, kvc.gather and kvc.rope to loops of vector loads and stores.
void populateKVCCacheAndRopeToCPUPatterns(const mlir::TypeConverter &converter,
                                          mlir::RewritePatternSet &patterns);

/// kvc.rms_norm to linalg on tensors (residual add, sum of squares, scale).
void populateKVCNormToCPUPatterns(const mlir::TypeConverter &converter,
                                  mlir::RewritePatternSet &patterns);

/// kvc.argmax to one two-output linalg reduction.
void populateKVCArgmaxToCPUPatterns(const mlir::TypeConverter &converter,
                                    mlir::RewritePatternSet &patterns);

} // namespace kvcc

#endif // KVCC_CONVERSION_KVCTOCPU_KVCTOCPU_H
