//===- CacheAndRopeToCPU.cpp - append, gather and rope on the CPU ----------===//
#include "kvcc/Conversion/KVCToCPU/KVCToCPU.h"
#include "kvcc/Conversion/Utils/LoopBuilder.h"

#include <cmath>

using namespace mlir;
using namespace kvcc;
using namespace kvcc::lowering;

namespace {

struct AppendToCPU : OpConversionPattern<kvc::AppendOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(kvc::AppendOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    Loops L{b};
    auto cache = op.getCache().getType();
    int64_t B = cache.getBlockSize(), H = cache.getNumKVHeads(),
            D = cache.getHeadDim();
    Value key = L.toStridedBuffer(op.getKey());
    Value value = L.toStridedBuffer(op.getValue());
    Value slots = L.toBuffer(op.getSlots());
    Value pages = adaptor.getCache();
    // Rows are read in the model's type and stored in the cache's.
    auto rowType = VectorType::get({D}, op.getKey().getType().getElementType());
    Value tokens = memref::DimOp::create(b, key, 0);
    L.forLoop(L.idx(0), tokens, [&](ImplicitLocOpBuilder &b, Value t) {
      Value slot = memref::LoadOp::create(b, slots, ValueRange{t});
      Loops{b}.ifSlot(slot, B, [&](ImplicitLocOpBuilder &b, Value page, Value offset) {
        Loops L{b};
        L.forLoop(L.idx(0), L.idx(H), [&](ImplicitLocOpBuilder &b, Value h) {
          Loops L{b};
          for (int64_t kv = 0; kv < 2; ++kv) {
            Value row = vector::LoadOp::create(b, rowType, kv ? value : key,
                                               ValueRange{t, h, L.idx(0)});
            vector::StoreOp::create(
                b, L.convertTo(row, cache.getElementType()), pages,
                L.cacheRow(cache.getLayout(), page, kv, offset, h));
          }
        });
      });
    });
    rewriter.eraseOp(op);
    return success();
  }
};

struct GatherToCPU : OpConversionPattern<kvc::GatherOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(kvc::GatherOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    Loops L{b};
    auto cache = op.getCache().getType();
    int64_t B = cache.getBlockSize(), H = cache.getNumKVHeads(),
            D = cache.getHeadDim();
    auto resultType = op.getKey().getType();
    Value table = L.toBuffer(op.getBlockTable());
    Value pages = adaptor.getCache();
    // Never read past the block table (or write past a static result): a
    // context_len larger than the pages listed is clamped, not trusted.
    Value length = L.minU(op.getContextLen(),
                          L.mul(memref::DimOp::create(b, table, 0), L.idx(B)));
    auto bufferType =
        MemRefType::get(resultType.getShape(), resultType.getElementType());
    SmallVector<Value> sizes;
    if (resultType.isDynamicDim(0))
      sizes.push_back(length);
    else
      length = L.minU(length, L.idx(resultType.getDimSize(0)));
    Value outs[2] = {memref::AllocOp::create(b, bufferType, sizes),
                     memref::AllocOp::create(b, bufferType, sizes)};
    auto rowType = VectorType::get({D}, cache.getElementType());
    L.forLoop(L.idx(0), length, [&](ImplicitLocOpBuilder &b, Value p) {
      Loops L{b};
      Value page = L.loadIndex(table, {L.divU(p, L.idx(B))});
      Value offset = L.remU(p, L.idx(B));
      L.forLoop(L.idx(0), L.idx(H), [&](ImplicitLocOpBuilder &b, Value h) {
        Loops L{b};
        for (int64_t kv = 0; kv < 2; ++kv) {
          Value row = vector::LoadOp::create(
              b, rowType, pages,
              L.cacheRow(cache.getLayout(), page, kv, offset, h));
          vector::StoreOp::create(b, row, outs[kv], ValueRange{p, h, L.idx(0)});
        }
      });
    });
    rewriter.replaceOp(op, {L.toTensor(resultType, outs[0]),
                            L.toTensor(resultType, outs[1])});
    return success();
  }
};

/// Indices 0..n-1 scaled by `stride` and offset by `start`: shuffle masks.
SmallVector<int64_t> range(int64_t start, int64_t n, int64_t stride = 1) {
  SmallVector<int64_t> r;
  for (int64_t i = 0; i < n; ++i)
    r.push_back(start + i * stride);
  return r;
}

struct RopeToCPU : OpConversionPattern<kvc::RopeOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(kvc::RopeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto type = op.getResult().getType();
    if (type.isDynamicDim(1) || type.isDynamicDim(2))
      return rewriter.notifyMatchFailure(op, "heads and head_dim must be static");
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    Loops L{b};
    int64_t H = type.getDimSize(1), D = type.getDimSize(2);
    int64_t R = op.getRotaryDim(), half = R / 2;
    double theta = op.getTheta().convertToDouble();
    double scaling = op.getScalingFactor().convertToDouble();

    // Inverse frequencies theta^(-2i/R), folded at compile time in f64.
    SmallVector<double> invFreq;
    for (int64_t i = 0; i < half; ++i)
      invFreq.push_back(std::pow(theta, -2.0 * double(i) / double(R)) / scaling);
    auto f64Vec = VectorType::get({half}, b.getF64Type());
    auto f32Vec = VectorType::get({half}, b.getF32Type());
    Value freqs = arith::ConstantOp::create(
        b, DenseElementsAttr::get(f64Vec, ArrayRef<double>(invFreq)));

    Value input = L.toStridedBuffer(op.getInput());
    Value positions = L.toBuffer(op.getPositions());
    Value out = L.allocLike(type, input);
    bool neox = op.getStyle() == kvc::RopeStyle::Neox;
    // Which lanes of the rotary slice form the pairs (a, b) rotated together.
    SmallVector<int64_t> aLanes = neox ? range(0, half) : range(0, half, 2);
    SmallVector<int64_t> bLanes = neox ? range(half, half) : range(1, half, 2);
    // Re-interleave [a'..., b'...] into the original lane order.
    SmallVector<int64_t> merge;
    for (int64_t i = 0; i < R; ++i)
      merge.push_back(neox ? i : (i % 2 == 0 ? i / 2 : half + i / 2));
    // Rotated lanes followed by the pass-through lanes of the input.
    SmallVector<int64_t> withTail = range(0, R);
    for (int64_t i = R; i < D; ++i)
      withTail.push_back(R + i);

    Value tokens = memref::DimOp::create(b, input, 0);
    L.forLoop(L.idx(0), tokens, [&](ImplicitLocOpBuilder &b, Value t) {
      Loops L{b};
      Value raw = memref::LoadOp::create(b, positions, ValueRange{t});
      Value pos = arith::SIToFPOp::create(b, b.getF64Type(), raw);
      Value angles = arith::MulFOp::create(
          b, vector::BroadcastOp::create(b, f64Vec, pos), freqs);
      Value cos = arith::TruncFOp::create(b, f32Vec, math::CosOp::create(b, angles));
      Value sin = arith::TruncFOp::create(b, f32Vec, math::SinOp::create(b, angles));
      L.forLoop(L.idx(0), L.idx(H), [&](ImplicitLocOpBuilder &b, Value h) {
        Loops L{b};
        Value x = L.loadRowF32(input, {t, h, L.idx(0)}, D);
        Value xa = vector::ShuffleOp::create(b, x, x, aLanes);
        Value xb = vector::ShuffleOp::create(b, x, x, bLanes);
        Value ra = arith::SubFOp::create(b, arith::MulFOp::create(b, xa, cos),
                                         arith::MulFOp::create(b, xb, sin));
        Value rb = arith::AddFOp::create(b, arith::MulFOp::create(b, xb, cos),
                                         arith::MulFOp::create(b, xa, sin));
        Value rotated = vector::ShuffleOp::create(b, ra, rb, merge);
        Value row = R == D ? rotated
                           : Value(vector::ShuffleOp::create(b, rotated, x,
                                                              withTail));
        L.storeRowF32(row, out, {t, h, L.idx(0)});
      });
    });
    rewriter.replaceOp(op, L.toTensor(type, out));
    return success();
  }
};

/// rope_append is what it abbreviates: rope(q), rope(k), append(k', v). The
/// CPU kernels gain nothing from fusing (each already streams its rows once).
struct RopeAppendToCPU : OpConversionPattern<kvc::RopeAppendOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(kvc::RopeAppendOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    auto rope = [&](Value x) -> Value {
      return kvc::RopeOp::create(b, x.getType(), op.getStyleAttr(), x, op.getPositions(),
                                 op.getRotaryDimAttr(), op.getThetaAttr(),
                                 op.getScalingFactorAttr());
    };
    Value query = rope(op.getQuery());
    Value key = rope(op.getKey());
    kvc::AppendOp::create(b, key, op.getValue(), op.getCache(), op.getSlots());
    rewriter.replaceOp(op, query);
    return success();
  }
};

} // namespace

void kvcc::populateKVCCacheAndRopeToCPUPatterns(const TypeConverter &converter,
                                                RewritePatternSet &patterns) {
  patterns.add<AppendToCPU, RopeAppendToCPU, GatherToCPU, RopeToCPU>(converter,
                                                    patterns.getContext());
}
