//===- KVC.h - The kvc dialect: types, attributes, ops ----------*- C++ -*-===//
#ifndef KVCC_DIALECT_KVC_IR_KVC_H
#define KVCC_DIALECT_KVC_IR_KVC_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "kvcc/Dialect/KVC/IR/KVCDialect.h.inc"
#include "kvcc/Dialect/KVC/IR/KVCEnums.h.inc"

namespace kvcc::kvc {
/// The KV cache as one memory-effect resource: appends write it, attention and
/// gather read it.
struct KVCacheResource
    : public mlir::SideEffects::Resource::Base<KVCacheResource> {
  llvm::StringRef getName() final { return "kvc.kv_cache"; }
};
} // namespace kvcc::kvc

#define GET_ATTRDEF_CLASSES
#include "kvcc/Dialect/KVC/IR/KVCAttrs.h.inc"

#define GET_TYPEDEF_CLASSES
#include "kvcc/Dialect/KVC/IR/KVCTypes.h.inc"

#define GET_OP_CLASSES
#include "kvcc/Dialect/KVC/IR/KVCOps.h.inc"

#endif // KVCC_DIALECT_KVC_IR_KVC_H
