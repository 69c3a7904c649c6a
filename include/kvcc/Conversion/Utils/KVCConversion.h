//===- KVCConversion.h - the conversion driver shared by the kvc lowerings ===//
#ifndef KVCC_CONVERSION_UTILS_KVCCONVERSION_H
#define KVCC_CONVERSION_UTILS_KVCCONVERSION_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Transforms/DialectConversion.h"

namespace kvcc {

/// Makes every kvc op illegal in `module` and converts it with the patterns
/// `populate` adds: `!kvc.paged_cache` becomes its page buffer (the same on
/// both targets) and function signatures, calls and returns follow.
mlir::LogicalResult convertKVCOps(
    mlir::ModuleOp module,
    llvm::function_ref<void(const mlir::TypeConverter &,
                            mlir::RewritePatternSet &)>
        populate);

} // namespace kvcc

#endif // KVCC_CONVERSION_UTILS_KVCCONVERSION_H
