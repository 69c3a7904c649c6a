//===- CacheAndRopeToGPU.cpp - append, rope and rope_append kernels --------===//
//
// All are one CTA per token: the append copies the token's K and V rows into
// its slot with 16-byte vector loads and stores; the rope rotates every
// (head, pair) of the token with one thread each; rope_append does both in
// one kernel: the rotated query goes to its buffer, the rotated key straight
// into the cache (it is never stored anywhere else), the value is copied.
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

/// A rope's parameters, as the kernels use them.
struct RopeParams {
  int64_t heads, headDim, rotaryDim;
  bool neox;
  double log2Theta, invScaling;
  Type elem; ///< What the rotated rows are stored as.

  template <typename Op> static RopeParams of(Op op, int64_t heads, int64_t headDim, Type elem) {
    return {heads,
            headDim,
            static_cast<int64_t>(op.getRotaryDim()),
            op.getStyle() == kvc::RopeStyle::Neox,
            std::log2(op.getTheta().convertToDouble()),
            1.0 / op.getScalingFactor().convertToDouble(),
            elem};
  }
};

using ElementLoad = std::function<Value(ImplicitLocOpBuilder &, Value h, Value d)>;
using ElementStore = std::function<void(ImplicitLocOpBuilder &, Value v, Value h, Value d)>;

/// The CTA of token `t` rotates the token's heads: one thread per (head, pair)
/// at angle pos * 2^(-(2i/R) log2 theta), then copies the pass-through tail of
/// partial rotary. `rawPos` is the token's position (any integer type).
void emitTokenRope(ImplicitLocOpBuilder &b, Value tid, Value rawPos, const RopeParams &p,
                   const ElementLoad &load, const ElementStore &store) {
  Loops L{b};
  const int64_t H = p.heads, D = p.headDim, R = p.rotaryDim, half = R / 2;
  Type f32 = b.getF32Type();
  Value pos = arith::MulFOp::create(b, arith::SIToFPOp::create(b, f32, rawPos),
                                    L.f32(p.invScaling));
  blockStrided(b, tid, H * half, [&](ImplicitLocOpBuilder &b, Value idx) {
    Loops L{b};
    Value h = L.divU(idx, L.idx(half)), i = L.remU(idx, L.idx(half));
    Value iF = arith::UIToFPOp::create(b, f32, arith::IndexCastOp::create(b, b.getI32Type(), i));
    Value exponent = arith::MulFOp::create(b, iF, L.f32(-2.0 * p.log2Theta / R));
    Value angle = arith::MulFOp::create(b, pos, math::Exp2Op::create(b, exponent));
    Value c = math::CosOp::create(b, angle), sn = math::SinOp::create(b, angle);
    Value ia = p.neox ? i : L.mul(i, L.idx(2));
    Value ib = p.neox ? L.add(i, L.idx(half)) : L.add(ia, L.idx(1));
    Value xa = L.toF32(load(b, h, ia));
    Value xb = L.toF32(load(b, h, ib));
    Value ra = arith::SubFOp::create(b, arith::MulFOp::create(b, xa, c), arith::MulFOp::create(b, xb, sn));
    Value rb = arith::AddFOp::create(b, arith::MulFOp::create(b, xb, c), arith::MulFOp::create(b, xa, sn));
    store(b, L.fromF32(ra, p.elem), h, ia);
    store(b, L.fromF32(rb, p.elem), h, ib);
  });
  if (R < D)
    blockStrided(b, tid, H * (D - R), [&](ImplicitLocOpBuilder &b, Value idx) {
      Loops L{b};
      Value h = L.divU(idx, L.idx(D - R));
      Value d = L.add(L.remU(idx, L.idx(D - R)), L.idx(R));
      store(b, L.convertTo(load(b, h, d), p.elem), h, d);
    });
}

/// Token `t` of `input` ([tokens, H, D]) rotated into the same row of `out`.
void ropeRowInto(ImplicitLocOpBuilder &b, Value tid, Value t, Value rawPos, const RopeParams &p,
                 Value input, Value out) {
  emitTokenRope(
      b, tid, rawPos, p,
      [&](ImplicitLocOpBuilder &b, Value h, Value d) -> Value {
        return memref::LoadOp::create(b, input, ValueRange{t, h, d});
      },
      [&](ImplicitLocOpBuilder &b, Value v, Value h, Value d) {
        memref::StoreOp::create(b, v, out, ValueRange{t, h, d});
      });
}

/// Row `t` of `rows` ([tokens, H, D]) into the cache's `kv` half at (page,
/// offset), in chunks of 8 elements (D % 8 == 0): 16-byte stores into an
/// f16/bf16 cache, the chunk converted when the rows have another type.
void copyRowToCache(ImplicitLocOpBuilder &b, Value tid, Value rows, Value t, Value pages,
                    kvc::PagedCacheType cache, int64_t kv, Value page, Value offset) {
  const int64_t H = cache.getNumKVHeads(), D = cache.getHeadDim();
  auto chunk = VectorType::get({8}, cast<MemRefType>(rows.getType()).getElementType());
  blockStrided(b, tid, H * (D / 8), [&](ImplicitLocOpBuilder &b, Value i) {
    Loops L{b};
    Value h = L.divU(i, L.idx(D / 8));
    Value d = L.mul(L.remU(i, L.idx(D / 8)), L.idx(8));
    Value row = vector::LoadOp::create(b, chunk, rows, ValueRange{t, h, d}, false, llvm::Align(16));
    auto idx = L.cacheRow(cache.getLayout(), page, kv, offset, h);
    idx.back() = d;
    vector::StoreOp::create(b, L.convertTo(row, cache.getElementType()), pages, idx, false,
                            llvm::Align(16));
  });
}

struct AppendToGPU : OpConversionPattern<kvc::AppendOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(kvc::AppendOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto cache = op.getCache().getType();
    int64_t B = cache.getBlockSize(), D = cache.getHeadDim();
    if (D % 8 != 0)
      return op.emitOpError() << "the GPU append needs head_dim % 8 == 0, got " << D;
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    Loops L{b};
    Value key = L.toStridedBuffer(op.getKey()), value = L.toStridedBuffer(op.getValue());
    Value slots = L.toBuffer(op.getSlots());
    Value pages = adaptor.getCache();
    perRowKernel(b, "kvc_append", memref::DimOp::create(b, key, 0),
                 [&](ImplicitLocOpBuilder &b, Value t, Value tid) {
      Value slot = memref::LoadOp::create(b, slots, ValueRange{t});
      Loops{b}.ifSlot(slot, B, [&](ImplicitLocOpBuilder &b, Value page, Value offset) {
        copyRowToCache(b, tid, key, t, pages, cache, 0, page, offset);
        copyRowToCache(b, tid, value, t, pages, cache, 1, page, offset);
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
    RopeParams p = RopeParams::of(op, type.getDimSize(1), type.getDimSize(2),
                                  type.getElementType());
    Value input = L.toStridedBuffer(op.getInput());
    Value positions = L.toBuffer(op.getPositions());
    Value out = L.allocLike(type, input);
    perRowKernel(b, "kvc_rope", memref::DimOp::create(b, input, 0),
                 [&](ImplicitLocOpBuilder &b, Value t, Value tid) {
      Value pos = memref::LoadOp::create(b, positions, ValueRange{t});
      ropeRowInto(b, tid, t, pos, p, input, out);
    });
    rewriter.replaceOp(op, L.toTensor(type, out));
    return success();
  }
};

struct RopeAppendToGPU : OpConversionPattern<kvc::RopeAppendOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(kvc::RopeAppendOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto cache = op.getCache().getType();
    auto qType = op.getRotatedQuery().getType();
    const int64_t B = cache.getBlockSize(), D = cache.getHeadDim();
    if (D % 8 != 0)
      return op.emitOpError() << "the GPU rope_append needs head_dim % 8 == 0, got " << D;
    if (qType.isDynamicDim(1))
      return op.emitOpError("the GPU rope_append needs static query heads");
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    Loops L{b};
    // The rotated query keeps the query's type; the rotated key is rounded
    // once, into the cache's.
    RopeParams qRope = RopeParams::of(op, qType.getDimSize(1), D, qType.getElementType());
    RopeParams kRope = RopeParams::of(op, cache.getNumKVHeads(), D, cache.getElementType());
    Value query = L.toStridedBuffer(op.getQuery()), key = L.toStridedBuffer(op.getKey());
    Value value = L.toStridedBuffer(op.getValue());
    Value slots = L.toBuffer(op.getSlots()), positions = L.toBuffer(op.getPositions());
    Value pages = adaptor.getCache();
    Value out = L.allocLike(qType, query);
    perRowKernel(b, "kvc_rope_append", memref::DimOp::create(b, key, 0),
                 [&](ImplicitLocOpBuilder &b, Value t, Value tid) {
      Value pos = memref::LoadOp::create(b, positions, ValueRange{t});
      ropeRowInto(b, tid, t, pos, qRope, query, out);
      // A padding token (negative slot) still has its query rotated.
      Value slot = memref::LoadOp::create(b, slots, ValueRange{t});
      Loops{b}.ifSlot(slot, B, [&](ImplicitLocOpBuilder &b, Value page, Value offset) {
        emitTokenRope(
            b, tid, pos, kRope,
            [&](ImplicitLocOpBuilder &b, Value h, Value d) -> Value {
              return memref::LoadOp::create(b, key, ValueRange{t, h, d});
            },
            [&](ImplicitLocOpBuilder &b, Value v, Value h, Value d) {
              auto idx = Loops{b}.cacheRow(cache.getLayout(), page, 0, offset, h);
              idx.back() = d;
              memref::StoreOp::create(b, v, pages, idx);
            });
        copyRowToCache(b, tid, value, t, pages, cache, 1, page, offset);
      });
    });
    rewriter.replaceOp(op, L.toTensor(qType, out));
    return success();
  }
};

} // namespace

void kvcc::populateKVCCacheAndRopeToGPUPatterns(const TypeConverter &converter,
                                                RewritePatternSet &patterns) {
  patterns.add<AppendToGPU, RopeToGPU, RopeAppendToGPU>(converter, patterns.getContext());
}
