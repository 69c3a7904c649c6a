//===- MatmulToBLAS.cpp - f32 linalg.matmul on buffers to a CBLAS shim -----===//
#include "kvcc/Conversion/KVCToCPU/KVCToCPU.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

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

/// The `linalg.fill` of zeros into `op`'s output that the matmul would only
/// add to, or null. The fill must write the very buffer (same value) and only
/// effect-free ops (views, casts, constants) may sit between the two, so
/// nothing reads the zeros but the matmul, which overwrites them all.
linalg::FillOp zeroFillOfOutput(linalg::MatmulOp op) {
  Value out = op.getDpsInits()[0];
  for (Operation *prev = op->getPrevNode(); prev; prev = prev->getPrevNode()) {
    if (auto fill = dyn_cast<linalg::FillOp>(prev)) {
      if (fill.hasPureBufferSemantics() && fill.getDpsInits()[0] == out &&
          matchPattern(fill.getInputs()[0], m_AnyZeroFloat()))
        return fill;
      return nullptr;
    }
    if (!isMemoryEffectFree(prev))
      return nullptr;
  }
  return nullptr;
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
      // C = 0 then C += A·B is one C = A·B (beta = 0): on the GPU that is a
      // fill kernel less per projection.
      linalg::FillOp zeroFill = zeroFillOfOutput(op);
      std::string callee =
          calleePrefix + calleeSuffix(op).str() + (zeroFill ? "_beta0" : "");
      if (zeroFill)
        zeroFill.erase();
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
