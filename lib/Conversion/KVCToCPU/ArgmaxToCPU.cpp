//===- ArgmaxToCPU.cpp - kvc.argmax on the CPU ------------------------------===//
//
// kvc.argmax becomes one linalg reduction with two outputs (the value and the
// column of the best so far), initialized to (-inf, 0) and scanned in column
// order, with the order of argmaxPrefers: the GPU kernel (ArgmaxToGPU.cpp)
// combines partial results in another order with the same comparison, so
// both targets pick the same column.
//
//===----------------------------------------------------------------------===//
#include "kvcc/Conversion/KVCToCPU/KVCToCPU.h"
#include "kvcc/Conversion/Utils/LoopBuilder.h"
#include "kvcc/Dialect/KVC/IR/KVC.h"

using namespace mlir;
using namespace kvcc;

namespace {

using utils::IteratorType;

struct ArgmaxToCPU : OpConversionPattern<kvc::ArgmaxOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(kvc::ArgmaxOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    MLIRContext *ctx = b.getContext();
    Value input = adaptor.getInput();
    auto valueType = op.getValue().getType();
    auto indexType = op.getIndex().getType();
    Type elem = valueType.getElementType(), i32 = b.getI32Type();
    SmallVector<Value> rows;
    if (valueType.isDynamicDim(0))
      rows.push_back(tensor::DimOp::create(b, input, 0));
    auto filled = [&](RankedTensorType type, TypedAttr init) -> Value {
      Value empty = tensor::EmptyOp::create(b, type.getShape(), type.getElementType(), rows);
      Value c = arith::ConstantOp::create(b, init);
      return linalg::FillOp::create(b, ValueRange{c}, ValueRange{empty}).getResult(0);
    };
    Value valueInit = filled(
        valueType, FloatAttr::get(elem, -std::numeric_limits<double>::infinity()));
    Value indexInit = filled(indexType, b.getI32IntegerAttr(0));

    auto id = AffineMap::getMultiDimIdentityMap(2, ctx);
    auto row = AffineMap::get(2, 0, {getAffineDimExpr(0, ctx)}, ctx);
    auto generic = linalg::GenericOp::create(
        b, TypeRange{valueType, indexType}, ValueRange{input},
        ValueRange{valueInit, indexInit}, ArrayRef<AffineMap>{id, row, row},
        ArrayRef<IteratorType>{IteratorType::parallel, IteratorType::reduction},
        [&](OpBuilder &nb, Location loc, ValueRange args) {
          ImplicitLocOpBuilder ib(loc, nb);
          lowering::Loops L{ib};
          Value column = arith::IndexCastOp::create(ib, i32, linalg::IndexOp::create(ib, 1));
          Value a = L.toF32(args[0]);
          Value best = L.toF32(args[1]);
          Value take = lowering::argmaxPrefers(ib, a, column, best, args[2]);
          Value value = arith::SelectOp::create(ib, take, args[0], args[1]);
          Value index = arith::SelectOp::create(ib, take, column, args[2]);
          linalg::YieldOp::create(ib, ValueRange{value, index});
        });
    // Results are (index, value); the generic's outputs are (value, index).
    rewriter.replaceOp(op, ValueRange{generic.getResult(1), generic.getResult(0)});
    return success();
  }
};

} // namespace

void kvcc::populateKVCArgmaxToCPUPatterns(const TypeConverter &converter,
                                         RewritePatternSet &patterns) {
  patterns.add<ArgmaxToCPU>(converter, patterns.getContext());
}
