//===- MatmulToBLAS.cpp - f32 linalg.matmul on buffers to a CBLAS shim -----===//
#include "kvcc/Conversion/KVCToCPU/KVCToCPU.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"

namespace kvcc {
#define GEN_PASS_DEF_KVCMATMULTOBLAS
#include "kvcc/Conversion/Passes.h.inc"
} // namespace kvcc

using namespace mlir;

namespace {

/// The callee suffix for `op`'s indexing maps: "_nn" (C += A·B), "_nt"
/// (C += A·Bᵀ), or "" when neither.
StringRef calleeSuffix(linalg::MatmulOp op) {
  MLIRContext *ctx = op.getContext();
  AffineExpr m, n, k;
  bindDims(ctx, m, n, k);
  auto maps = op.getIndexingMapsArray();
  auto map = [&](ArrayRef<AffineExpr> e) { return AffineMap::get(3, 0, e, ctx); };
  if (maps.size() != 3 || maps[0] != map({m, k}) || maps[2] != map({m, n}))
    return "";
  if (maps[1] == map({k, n}))
    return "_nn";
  if (maps[1] == map({n, k}))
    return "_nt";
  return "";
}

struct MatmulToBLASPass
    : public kvcc::impl::KVCMatmulToBLASBase<MatmulToBLASPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    auto f32 = Float32Type::get(ctx);
    // Fully dynamic strided layout: one callee serves every slice and offset.
    auto anyLayout = StridedLayoutAttr::get(
        ctx, ShapedType::kDynamic, {ShapedType::kDynamic, ShapedType::kDynamic});
    auto argType = MemRefType::get({ShapedType::kDynamic, ShapedType::kDynamic},
                                   f32, anyLayout);
    SmallVector<linalg::MatmulOp> matmuls;
    module.walk([&](linalg::MatmulOp op) {
      if (op.hasPureBufferSemantics() && !calleeSuffix(op).empty() &&
          llvm::all_of(op->getOperandTypes(), [&](Type t) {
            return cast<MemRefType>(t).getElementType() == f32;
          }))
        matmuls.push_back(op);
    });
    for (linalg::MatmulOp op : matmuls) {
      std::string callee = calleePrefix + calleeSuffix(op).str();
      if (!module.lookupSymbol(callee)) {
        OpBuilder b = OpBuilder::atBlockBegin(module.getBody());
        auto decl = func::FuncOp::create(
            b, op.getLoc(), callee,
            b.getFunctionType({argType, argType, argType}, {}));
        decl.setPrivate();
        decl->setAttr("llvm.emit_c_interface", b.getUnitAttr());
      }
      OpBuilder b(op);
      SmallVector<Value> args;
      for (Value v : op->getOperands())
        args.push_back(memref::CastOp::create(b, op.getLoc(), argType, v));
      func::CallOp::create(b, op.getLoc(), callee, TypeRange{}, args);
      op.erase();
    }
  }
};
} // namespace
