//===- InitAll.cpp - One registration point for kvcc's tools ---------------===//
#include "kvcc/InitAll.h"

#include "kvcc/Dialect/KVC/IR/KVC.h"
#include "kvcc/Conversion/Passes.h"
#include "kvcc/Dialect/KVC/Transforms/Passes.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"

void kvcc::registerAllDialects(mlir::DialectRegistry &registry) {
  registry.insert<kvc::KVCDialect>();
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  // gpu-module-to-binary translates kernels to LLVM IR and serializes them
  // through the NVVM target (ptxas on PATH).
  mlir::registerAllToLLVMIRTranslations(registry);
  mlir::NVVM::registerNVVMTargetInterfaceExternalModels(registry);
}

void kvcc::registerAllPasses() {
  mlir::registerAllPasses();
  kvc::registerKVCPasses();
  registerKVCConversionPasses();
}

void kvcc::loadAllDialects(mlir::MLIRContext &context) {
  mlir::DialectRegistry registry;
  kvcc::registerAllDialects(registry);
  context.appendDialectRegistry(registry);
  context.loadDialect<kvc::KVCDialect>();
}
