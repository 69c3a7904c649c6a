//===- KVCDialect.cpp - kvc dialect, types and attributes ------------------===//
#include "kvcc/Dialect/KVC/IR/KVC.h"

#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace kvcc::kvc;

#include "kvcc/Dialect/KVC/IR/KVCDialect.cpp.inc"
#include "kvcc/Dialect/KVC/IR/KVCEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "kvcc/Dialect/KVC/IR/KVCAttrs.cpp.inc"

#define GET_TYPEDEF_CLASSES
#include "kvcc/Dialect/KVC/IR/KVCTypes.cpp.inc"

void KVCDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "kvcc/Dialect/KVC/IR/KVCOps.cpp.inc"
      >();
  addTypes<
#define GET_TYPEDEF_LIST
#include "kvcc/Dialect/KVC/IR/KVCTypes.cpp.inc"
      >();
  addAttributes<
#define GET_ATTRDEF_LIST
#include "kvcc/Dialect/KVC/IR/KVCAttrs.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// PagedCacheType
//===----------------------------------------------------------------------===//

LogicalResult
PagedCacheType::verify(function_ref<InFlightDiagnostic()> emitError,
                       int64_t blockSize, int64_t numKVHeads, int64_t headDim,
                       Type elementType, CacheLayout layout) {
  if (blockSize < 1)
    return emitError() << "paged_cache block size must be at least 1, got "
                       << blockSize;
  if (numKVHeads < 1)
    return emitError() << "paged_cache kv_heads must be at least 1, got "
                       << numKVHeads;
  if (headDim < 1)
    return emitError() << "paged_cache head_dim must be at least 1, got "
                       << headDim;
  // The kernels widen to f32 for the math and narrow back for storage.
  if (!elementType.isF16() && !elementType.isBF16() && !elementType.isF32())
    return emitError() << "paged_cache element type must be f16, bf16 or f32, got "
                       << elementType;
  return success();
}

int64_t PagedCacheType::getBytesPerToken() const {
  int64_t bits = getElementType().getIntOrFloatBitWidth();
  return 2 * getNumKVHeads() * getHeadDim() * bits / 8;
}
