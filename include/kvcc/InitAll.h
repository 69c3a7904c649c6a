//===- InitAll.h - One registration point for kvcc's tools ------*- C++ -*-===//
//
// kvcc, kvcc-opt and the unit tests see the same dialects and passes: kvc,
// the upstream dialects kvcc lowers through, and every upstream pass (so
// kvcc-opt accepts any pipeline mlir-opt would).
//
//===----------------------------------------------------------------------===//
#ifndef KVCC_INITALL_H
#define KVCC_INITALL_H

namespace mlir {
class DialectRegistry;
class MLIRContext;
} // namespace mlir

namespace kvcc {

/// Adds kvc, the upstream dialects and their interface extensions.
void registerAllDialects(mlir::DialectRegistry &registry);

/// Registers kvc's passes and every upstream pass and pipeline.
void registerAllPasses();

/// Appends the dialects of registerAllDialects to `context` and loads kvc.
void loadAllDialects(mlir::MLIRContext &context);

} // namespace kvcc

#endif // KVCC_INITALL_H
