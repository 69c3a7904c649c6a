//===- CacheAndRopeToGPU.cpp - append and rope kernels ---------------------===//
//
// Both are one CTA per token: the append copies the token's K and V rows into
// its slot with 16-byte vector loads and stores; the rope rotates every
// (head, pair) of the token with one thread each.
//
//===----------------------------------------------------------------------===//
#include "KernelBuilder.h"

#include <cmath>

using namespace mlir;
using namespace kvcc;
using namespace kvcc::lowering;

namespace {

/// A CTA per row of `rows`, `kGPUBlockThreads` threads; `body(b, row, tid)`.
/// `name` names the outlined kernel.
void perRowKernel(ImplicitLocOpBuilder &b, StringRef name, Value rows,
                  const std::function<void(ImplicitLocOpBuilder &, Value, Value)>
                      &body) {
  Loops L{b};
  auto symbol = kernelName(b, name);
  auto launch = gpu::LaunchOp::create(
      b, rows, L.idx(1), L.idx(1), L.idx(kGPUBlockThreads), L.idx(1), L.idx(1),
      nullptr, nullptr, {}, {}, {}, nullptr, nullptr, nullptr, symbol, symbol);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&launch.getBody().front());
  body(b, launch.getBlockIds().x, launch.getThreadIds().x);
  gpu::TerminatorOp::create(b);
}

struct AppendToGPU : OpConversionPattern<kvc::AppendOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(kvc::AppendOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto cache = op.getCache().getType();
    int64_t B = cache.getBlockSize(), H = cache.getNumKVHeads(),
            D = cache.getHeadDim();
    if (D % 8 != 0)
      return op.emitOpError() << "the GPU append needs head_dim % 8 == 0, got " << D;
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    Loops L{b};
    Value key = L.toBuffer(op.getKey()), value = L.toBuffer(op.getValue());
    Value slots = L.toBuffer(op.getSlots());
    Value pages = adaptor.getCache();
    auto chunk = VectorType::get({8}, cache.getElementType());
    perRowKernel(b, "kvc_append", memref::DimOp::create(b, key, 0),
                 [&](ImplicitLocOpBuilder &b, Value t, Value tid) {
      Value slot = memref::LoadOp::create(b, slots, ValueRange{t});
      Loops{b}.ifSlot(slot, B, [&](ImplicitLocOpBuilder &b, Value page, Value offset) {
        // 16-byte chunks of the token's H x D keys and values.
        blockStrided(b, tid, H * (D / 8), [&](ImplicitLocOpBuilder &b, Value i) {
          Loops L{b};
          Value h = L.divU(i, L.idx(D / 8));
          Value d = L.mul(L.remU(i, L.idx(D / 8)), L.idx(8));
          for (int64_t kv = 0; kv < 2; ++kv) {
            Value row = vector::LoadOp::create(b, chunk, kv ? value : key,
                                               ValueRange{t, h, d}, false,
                                               llvm::Align(16));
            auto idx = L.cacheRow(cache.getLayout(), page, kv, offset, h);
            idx.back() = d;
            vector::StoreOp::create(b, row, pages, idx, false, llvm::Align(16));
          }
        });
      });
    });
    rewriter.eraseOp(op);
    return success();
  }
};

struct RopeToGPU : OpConversionPattern<kvc::RopeOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(kvc::RopeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto type = op.getResult().getType();
    if (type.isDynamicDim(1) || type.isDynamicDim(2))
      return op.emitOpError("the GPU rope needs static heads and head_dim");
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    Loops L{b};
    int64_t H = type.getDimSize(1), D = type.getDimSize(2);
    int64_t R = op.getRotaryDim(), half = R / 2;
    bool neox = op.getStyle() == kvc::RopeStyle::Neox;
    double log2Theta = std::log2(op.getTheta().convertToDouble());
    double invScaling = 1.0 / op.getScalingFactor().convertToDouble();
    Value input = L.toBuffer(op.getInput());
    Value positions = L.toBuffer(op.getPositions());
    Value out = L.allocLike(type, input);
    Type elem = type.getElementType();
    auto toF32 = [&](ImplicitLocOpBuilder &b, Value v) -> Value {
      return elem.isF32() ? v : Value(arith::ExtFOp::create(b, b.getF32Type(), v));
    };
    auto fromF32 = [&](ImplicitLocOpBuilder &b, Value v) -> Value {
      return elem.isF32() ? v : Value(arith::TruncFOp::create(b, elem, v));
    };
    perRowKernel(b, "kvc_rope", memref::DimOp::create(b, input, 0),
                 [&](ImplicitLocOpBuilder &b, Value t, Value tid) {
      Loops L{b};
      Value raw = memref::LoadOp::create(b, positions, ValueRange{t});
      Value pos = arith::MulFOp::create(
          b, arith::SIToFPOp::create(b, b.getF32Type(), raw), L.f32(invScaling));
      // One thread per (head, pair): angle = pos * 2^(-(2i/R) log2 theta).
      blockStrided(b, tid, H * half, [&](ImplicitLocOpBuilder &b, Value idx) {
        Loops L{b};
        Value h = L.divU(idx, L.idx(half)), i = L.remU(idx, L.idx(half));
        Value iF = arith::UIToFPOp::create(
            b, b.getF32Type(), arith::IndexCastOp::create(b, b.getI32Type(), i));
        Value exponent = arith::MulFOp::create(b, iF, L.f32(-2.0 * log2Theta / R));
        Value angle = arith::MulFOp::create(b, pos, math::Exp2Op::create(b, exponent));
        Value c = math::CosOp::create(b, angle), s = math::SinOp::create(b, angle);
        Value ia = neox ? i : L.mul(i, L.idx(2));
        Value ib = neox ? L.add(i, L.idx(half)) : L.add(ia, L.idx(1));
        Value xa = toF32(b, memref::LoadOp::create(b, input, ValueRange{t, h, ia}));
        Value xb = toF32(b, memref::LoadOp::create(b, input, ValueRange{t, h, ib}));
        Value ra = arith::SubFOp::create(b, arith::MulFOp::create(b, xa, c),
                                         arith::MulFOp::create(b, xb, s));
        Value rb = arith::AddFOp::create(b, arith::MulFOp::create(b, xb, c),
                                         arith::MulFOp::create(b, xa, s));
        memref::StoreOp::create(b, fromF32(b, ra), out, ValueRange{t, h, ia});
        memref::StoreOp::create(b, fromF32(b, rb), out, ValueRange{t, h, ib});
      });
      // The pass-through tail of partial rotary.
      if (R < D)
        blockStrided(b, tid, H * (D - R), [&](ImplicitLocOpBuilder &b, Value idx) {
          Loops L{b};
          Value h = L.divU(idx, L.idx(D - R));
          Value d = L.add(L.remU(idx, L.idx(D - R)), L.idx(R));
          Value x = memref::LoadOp::create(b, input, ValueRange{t, h, d});
          memref::StoreOp::create(b, x, out, ValueRange{t, h, d});
        });
    });
    rewriter.replaceOp(op, L.toTensor(type, out));
    return success();
  }
};

} // namespace

void kvcc::populateKVCCacheAndRopeToGPUPatterns(const TypeConverter &converter,
                                                RewritePatternSet &patterns) {
  patterns.add<AppendToGPU, RopeToGPU>(converter, patterns.getContext());
}
