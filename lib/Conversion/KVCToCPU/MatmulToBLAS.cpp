//===- MatmulToBLAS.cpp - linalg.matmul on buffers to a BLAS shim ----------===//
//
// Callee names: PREFIX + _nn|_nt + [_beta0] + a type tag:
//   (none)          f32 · f32 -> f32
//   _f16, _bf16     16-bit A and B, a C of the same type (f32 accumulation,
//                   one rounding per element of C)
//   _f16_out_f32,   16-bit A and B, an f32 C (the LM head: f32 logits)
//   _bf16_out_f32
// Other mixes are left to the generic lowering.
//
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

/// The type tag of `op`'s callee (see the file comment), or nullopt when its
/// element types have no BLAS callee.
std::optional<std::string> typeTag(linalg::MatmulOp op) {
  auto elem = [&](unsigned i) { return cast<MemRefType>(op->getOperand(i).getType()).getElementType(); };
  Type a = elem(0), b = elem(1), c = elem(2);
  if (a != b)
    return std::nullopt;
  if (a.isF32())
    return c.isF32() ? std::optional<std::string>("") : std::nullopt;
  if (!a.isF16() && !a.isBF16())
    return std::nullopt;
  std::string tag = a.isF16() ? "_f16" : "_bf16";
  if (c == a)
    return tag;
  if (c.isF32())
    return tag + "_out_f32";
  return std::nullopt;
}

struct MatmulToBLASPass
    : public kvcc::impl::KVCMatmulToBLASBase<MatmulToBLASPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    // Fully dynamic strided layout: one callee serves every slice and offset.
    auto anyLayout = StridedLayoutAttr::get(
        ctx, ShapedType::kDynamic, {ShapedType::kDynamic, ShapedType::kDynamic});
    auto argType = [&](Value v) {
      return MemRefType::get({ShapedType::kDynamic, ShapedType::kDynamic},
                             cast<MemRefType>(v.getType()).getElementType(), anyLayout);
    };
    SmallVector<linalg::MatmulOp> matmuls;
    module.walk([&](linalg::MatmulOp op) {
      if (op.hasPureBufferSemantics() && !calleeSuffix(op).empty() && typeTag(op))
        matmuls.push_back(op);
    });
    for (linalg::MatmulOp op : matmuls) {
      // C = 0 then C += A·B is one C = A·B (beta = 0): on the GPU that is a
      // fill kernel less per projection.
      linalg::FillOp zeroFill = zeroFillOfOutput(op);
      std::string callee = calleePrefix + calleeSuffix(op).str() +
                           (zeroFill ? "_beta0" : "") + *typeTag(op);
      if (zeroFill)
        zeroFill.erase();
      SmallVector<Type> argTypes;
      for (Value v : op->getOperands())
        argTypes.push_back(argType(v));
      if (!module.lookupSymbol(callee)) {
        OpBuilder b = OpBuilder::atBlockBegin(module.getBody());
        auto decl = func::FuncOp::create(b, op.getLoc(), callee,
                                         b.getFunctionType(argTypes, {}));
        decl.setPrivate();
        decl->setAttr("llvm.emit_c_interface", b.getUnitAttr());
      }
      OpBuilder b(op);
      SmallVector<Value> args;
      for (auto [v, type] : llvm::zip(op->getOperands(), argTypes))
        args.push_back(memref::CastOp::create(b, op.getLoc(), type, v));
      func::CallOp::create(b, op.getLoc(), callee, TypeRange{}, args);
      op.erase();
    }
  }
};
} // namespace
