//===- NormToCPU.cpp - kvc.rms_norm on the CPU ------------------------------===//
//
// kvc.rms_norm becomes linalg on tensors: the residual add (when fused in),
// the per-row f32 sum of squares (a reduction), and the scaling. The CPU
// pipeline vectorizes and parallelizes these like the rest of the model's
// elementwise work; the fused form pays off on the GPU (NormToGPU.cpp), where
// it is one kernel instead of four.
//
//===----------------------------------------------------------------------===//
#include "kvcc/Conversion/KVCToCPU/KVCToCPU.h"
#include "kvcc/Conversion/Utils/LoopBuilder.h"
#include "kvcc/Dialect/KVC/IR/KVC.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

using namespace mlir;
using namespace kvcc;

namespace {

using utils::IteratorType;

struct RMSNormToCPU : OpConversionPattern<kvc::RMSNormOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(kvc::RMSNormOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    MLIRContext *ctx = b.getContext();
    RankedTensorType type = op.getResult().getType();
    Type elem = type.getElementType(), f32 = b.getF32Type();
    int64_t hidden = type.getDimSize(1);
    Value input = adaptor.getInput();
    Value rows = tensor::DimOp::create(b, input, 0);
    SmallVector<Value> dynSizes = {rows};
    if (type.isDynamicDim(1))
      dynSizes.push_back(tensor::DimOp::create(b, input, 1));
    auto emptyLike = [&]() -> Value {
      return tensor::EmptyOp::create(b, type.getShape(), elem, dynSizes);
    };
    auto id = AffineMap::getMultiDimIdentityMap(2, ctx);
    auto row = AffineMap::get(2, 0, {getAffineDimExpr(0, ctx)}, ctx);
    auto col = AffineMap::get(2, 0, {getAffineDimExpr(1, ctx)}, ctx);
    SmallVector<IteratorType> parallel2(2, IteratorType::parallel);
    auto toF32 = [&](OpBuilder &nb, Location loc, Value v) -> Value {
      ImplicitLocOpBuilder ib(loc, nb);
      return lowering::Loops{ib}.toF32(v);
    };

    Value s = input;
    if (Value residual = adaptor.getResidual())
      s = linalg::GenericOp::create(
              b, TypeRange{type}, ValueRange{s, residual}, ValueRange{emptyLike()},
              ArrayRef<AffineMap>{id, id, id}, parallel2,
              [&](OpBuilder &nb, Location loc, ValueRange a) {
                linalg::YieldOp::create(
                    nb, loc, Value(arith::AddFOp::create(nb, loc, a[0], a[1])));
              })
              .getResult(0);

    Value zero = arith::ConstantOp::create(b, b.getF32FloatAttr(0.0f));
    Value sumInit =
        linalg::FillOp::create(
            b, ValueRange{zero},
            ValueRange{tensor::EmptyOp::create(b, ArrayRef<int64_t>{ShapedType::kDynamic},
                                               f32, ValueRange{rows})})
            .getResult(0);
    Value sumSq =
        linalg::GenericOp::create(
            b, TypeRange{sumInit.getType()}, ValueRange{s}, ValueRange{sumInit},
            ArrayRef<AffineMap>{id, row},
            ArrayRef<IteratorType>{IteratorType::parallel, IteratorType::reduction},
            [&](OpBuilder &nb, Location loc, ValueRange a) {
              Value x = toF32(nb, loc, a[0]);
              Value sq = arith::MulFOp::create(nb, loc, x, x);
              linalg::YieldOp::create(
                  nb, loc, Value(arith::AddFOp::create(nb, loc, sq, a[1])));
            })
            .getResult(0);

    // mean = sum * (1 / hidden), as the GPU kernel computes it.
    Value invHidden;
    if (ShapedType::isDynamic(hidden))
      invHidden = arith::DivFOp::create(
          b, arith::ConstantOp::create(b, b.getF32FloatAttr(1.0f)),
          arith::UIToFPOp::create(
              b, f32, arith::IndexCastOp::create(b, b.getI64Type(), dynSizes[1])));
    else
      invHidden = arith::ConstantOp::create(b, b.getF32FloatAttr(1.0f / float(hidden)));
    Value eps = arith::ConstantOp::create(
        b, b.getF32FloatAttr(float(op.getEpsilon().convertToDouble())));
    Value normed =
        linalg::GenericOp::create(
            b, TypeRange{type}, ValueRange{s, sumSq, adaptor.getWeight()},
            ValueRange{emptyLike()}, ArrayRef<AffineMap>{id, row, col, id},
            parallel2,
            [&](OpBuilder &nb, Location loc, ValueRange a) {
              Value mean = arith::MulFOp::create(nb, loc, a[1], invHidden);
              Value inv = math::RsqrtOp::create(
                  nb, loc, arith::AddFOp::create(nb, loc, mean, eps));
              Value x = toF32(nb, loc, a[0]);
              Value w = toF32(nb, loc, a[2]);
              Value y = arith::MulFOp::create(
                  nb, loc, arith::MulFOp::create(nb, loc, x, inv), w);
              ImplicitLocOpBuilder ib(loc, nb);
              y = lowering::Loops{ib}.fromF32(y, elem);
              linalg::YieldOp::create(nb, loc, y);
            })
            .getResult(0);
    SmallVector<Value> results = {normed};
    if (op.getResidual())
      results.push_back(s);
    rewriter.replaceOp(op, results);
    return success();
  }
};

} // namespace

void kvcc::populateKVCNormToCPUPatterns(const TypeConverter &converter,
                                       RewritePatternSet &patterns) {
  patterns.add<RMSNormToCPU>(converter, patterns.getContext());
}
