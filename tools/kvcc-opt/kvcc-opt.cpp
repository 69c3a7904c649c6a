//===- kvcc-opt.cpp - mlir-opt with the kvc dialect and passes -------------===//
#include "kvcc/InitAll.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  kvcc::registerAllDialects(registry);
  kvcc::registerAllPasses();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "kvcc optimizer driver\n", registry));
}
