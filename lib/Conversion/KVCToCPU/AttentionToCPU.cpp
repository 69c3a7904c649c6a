//===- AttentionToCPU.cpp - attention as tiled online softmax on the CPU ---===//
//
// The CPU mapping of kvcc's attention algorithm (DESIGN.md §1, §4). The GPU
// mapping keeps the same structure and only adds threads and tensor cores:
//
//   parallel over (sequence, KV head g):
//     for each query token i of the sequence (position pos):
//       stage the G query heads of group g, pre-scaled
//       [lo, hi) = keys visible to pos (causal bound, sliding window)
//       for each of S splits of [lo, hi):              (flash-decoding)
//         for each tile (page) overlapping the split:   (read via block table)
//           scores of the tile for all G heads, tile max
//           rescale running max / sum / accumulator once
//           accumulate exp(score - max) * V
//       combine the S partial results by log-sum-exp
//
// Masked keys are never visited: the loop bounds are the mask.
//
//===----------------------------------------------------------------------===//
#include "kvcc/Conversion/KVCToCPU/KVCToCPU.h"
#include "kvcc/Conversion/Utils/LoopBuilder.h"

#include <optional>
#include <tuple>

using namespace mlir;
using namespace kvcc;
using namespace kvcc::lowering;

namespace {

/// Where the keys and values come from: pages through a block table, or one
/// contiguous [keys, kv_heads, head_dim] buffer cut into fixed tiles.
struct KeySource {
  bool paged = false;
  int64_t tileSize = 0;
  kvc::CacheLayout layout = kvc::CacheLayout::TokenMajor;
  Value pages;            // paged: the page buffer
  Value blockTables;      // paged: [sequences, max_pages]
  Value sequence;         // paged: row of the block table
  Value keys, values;     // dense

  Value tileBase(Loops &L, Value tile) const {
    if (paged)
      return L.loadIndex(blockTables, {sequence, tile});
    return L.mul(tile, L.idx(tileSize));
  }
  Value buffer(int64_t kv) const { return paged ? pages : (kv ? values : keys); }
  SmallVector<Value> row(Loops &L, int64_t kv, Value base, Value offset,
                         Value head) const {
    if (paged)
      return L.cacheRow(layout, base, kv, offset, head);
    return {L.add(base, offset), head, L.idx(0)};
  }
};

struct AttentionShape {
  int64_t groupSize;   // query heads per KV head
  int64_t headDim;
  int64_t numSplits;
  double scale;
  bool causal;
  std::optional<int64_t> window;
  std::optional<double> softcap;
};

/// Per-iteration scratch of the parallel loop (stack, inside an alloca scope).
struct Scratch {
  Value query;   // [G, D]   staged, pre-scaled query heads
  Value maxes;   // [S, G]   running max per split and head
  Value sums;    // [S, G]   running normalizer
  Value accs;    // [S, G, D] running weighted sum of values
  Value scores;  // [G, T]   scores of the current tile
  Value tileMax; // [G]

  static Scratch create(ImplicitLocOpBuilder &b, const AttentionShape &s,
                        int64_t tile) {
    auto f32 = b.getF32Type();
    auto stackBuffer = [&](ArrayRef<int64_t> shape) -> Value {
      return memref::AllocaOp::create(b, MemRefType::get(shape, f32));
    };
    int64_t g = s.groupSize, d = s.headDim, n = s.numSplits;
    return {stackBuffer({g, d}), stackBuffer({n, g}), stackBuffer({n, g}),
            stackBuffer({n, g, d}), stackBuffer({g, tile}), stackBuffer({g})};
  }
};

/// Emits the attention of query row `token` (at sequence position `pos`,
/// context length `contextLen`) for the heads of KV group `group`.
void emitQueryToken(ImplicitLocOpBuilder &b, const AttentionShape &s,
                    const KeySource &src, const Scratch &scratch, Value query,
                    Value out, Value token, Value pos, Value contextLen,
                    Value group) {
  Loops L{b};
  int64_t G = s.groupSize, D = s.headDim, T = src.tileSize;
  auto vecType = VectorType::get({D}, b.getF32Type());
  Value firstHead = L.mul(group, L.idx(G));
  Value scaleVec = vector::BroadcastOp::create(b, vecType, L.f32(s.scale));

  // Stage the group's query heads once, pre-scaled.
  L.forLoop(L.idx(0), L.idx(G), [&](ImplicitLocOpBuilder &b, Value h) {
    Loops L{b};
    Value q = L.loadRowF32(query, {token, L.add(firstHead, h), L.idx(0)}, D);
    vector::StoreOp::create(b, arith::MulFOp::create(b, q, scaleVec),
                            scratch.query, ValueRange{h, L.idx(0)});
  });

  L.forLoop(L.idx(0), L.idx(s.numSplits), [&](ImplicitLocOpBuilder &b,
                                               Value split) {
    Loops L{b};
    Value splitLo, splitHi;
    std::tie(splitLo, splitHi) =
        L.visibleKeys(pos, contextLen, s.causal, s.window, L.idx(s.numSplits), split);
    L.forLoop(L.idx(0), L.idx(G), [&](ImplicitLocOpBuilder &b, Value h) {
      Loops L{b};
      memref::StoreOp::create(b, L.f32(kNoScore), scratch.maxes,
                              ValueRange{split, h});
      memref::StoreOp::create(b, L.f32(0.0), scratch.sums, ValueRange{split, h});
      Value zero = arith::ConstantOp::create(
          b, DenseElementsAttr::get(vecType, b.getF32FloatAttr(0.0f)));
      vector::StoreOp::create(b, zero, scratch.accs,
                              ValueRange{split, h, L.idx(0)});
    });

    Value hasKeys =
        arith::CmpIOp::create(b, arith::CmpIPredicate::ult, splitLo, splitHi);
    Value firstTile = L.divU(splitLo, L.idx(T));
    Value endTile = arith::SelectOp::create(
        b, hasKeys, L.ceilDiv(splitHi, L.idx(T)), firstTile);

    L.forLoop(firstTile, endTile, [&](ImplicitLocOpBuilder &b, Value tile) {
      Loops L{b};
      Value tileStart = L.mul(tile, L.idx(T));
      Value keyLo = arith::MaxUIOp::create(b, splitLo, tileStart);
      Value keyHi = L.minU(splitHi, L.add(tileStart, L.idx(T)));
      Value base = src.tileBase(L, tile);

      L.forLoop(L.idx(0), L.idx(G), [&](ImplicitLocOpBuilder &b, Value h) {
        Loops L{b};
        memref::StoreOp::create(b, L.f32(kNoScore), scratch.tileMax,
                                ValueRange{h});
      });
      // Scores of the tile for every head of the group.
      L.forLoop(keyLo, keyHi, [&](ImplicitLocOpBuilder &b, Value key) {
        Loops L{b};
        Value k = L.loadRowF32(src.buffer(0),
                               src.row(L, 0, base, L.sub(key, tileStart), group),
                               D);
        Value slot = L.sub(key, keyLo);
        L.forLoop(L.idx(0), L.idx(G), [&](ImplicitLocOpBuilder &b, Value h) {
          Loops L{b};
          Value q = vector::LoadOp::create(b, vecType, scratch.query,
                                           ValueRange{h, L.idx(0)});
          Value score = vector::ReductionOp::create(
              b, vector::CombiningKind::ADD, arith::MulFOp::create(b, q, k));
          if (s.softcap) {
            Value cap = L.f32(*s.softcap);
            score = arith::MulFOp::create(
                b, cap,
                math::TanhOp::create(b, arith::DivFOp::create(b, score, cap)));
          }
          memref::StoreOp::create(b, score, scratch.scores, ValueRange{h, slot});
          Value m = memref::LoadOp::create(b, scratch.tileMax, ValueRange{h});
          memref::StoreOp::create(b, arith::MaximumFOp::create(b, m, score),
                                  scratch.tileMax, ValueRange{h});
        });
      });
      // Rescale the running state once per tile.
      L.forLoop(L.idx(0), L.idx(G), [&](ImplicitLocOpBuilder &b, Value h) {
        Loops L{b};
        Value mOld = memref::LoadOp::create(b, scratch.maxes, ValueRange{split, h});
        Value tMax = memref::LoadOp::create(b, scratch.tileMax, ValueRange{h});
        Value mNew = arith::MaximumFOp::create(b, mOld, tMax);
        Value corr = math::ExpOp::create(b, arith::SubFOp::create(b, mOld, mNew));
        memref::StoreOp::create(b, mNew, scratch.maxes, ValueRange{split, h});
        Value l = memref::LoadOp::create(b, scratch.sums, ValueRange{split, h});
        memref::StoreOp::create(b, arith::MulFOp::create(b, l, corr),
                                scratch.sums, ValueRange{split, h});
        Value acc = vector::LoadOp::create(b, vecType, scratch.accs,
                                           ValueRange{split, h, L.idx(0)});
        Value corrVec = vector::BroadcastOp::create(b, vecType, corr);
        vector::StoreOp::create(b, arith::MulFOp::create(b, acc, corrVec),
                                scratch.accs, ValueRange{split, h, L.idx(0)});
      });
      // Accumulate exp(score - max) * V.
      L.forLoop(keyLo, keyHi, [&](ImplicitLocOpBuilder &b, Value key) {
        Loops L{b};
        Value v = L.loadRowF32(src.buffer(1),
                               src.row(L, 1, base, L.sub(key, tileStart), group),
                               D);
        Value slot = L.sub(key, keyLo);
        L.forLoop(L.idx(0), L.idx(G), [&](ImplicitLocOpBuilder &b, Value h) {
          Loops L{b};
          Value score = memref::LoadOp::create(b, scratch.scores, ValueRange{h, slot});
          Value m = memref::LoadOp::create(b, scratch.maxes, ValueRange{split, h});
          Value p = math::ExpOp::create(b, arith::SubFOp::create(b, score, m));
          Value l = memref::LoadOp::create(b, scratch.sums, ValueRange{split, h});
          memref::StoreOp::create(b, arith::AddFOp::create(b, l, p),
                                  scratch.sums, ValueRange{split, h});
          Value acc = vector::LoadOp::create(b, vecType, scratch.accs,
                                             ValueRange{split, h, L.idx(0)});
          Value pVec = vector::BroadcastOp::create(b, vecType, p);
          vector::StoreOp::create(b, vector::FMAOp::create(b, pVec, v, acc),
                                  scratch.accs, ValueRange{split, h, L.idx(0)});
        });
      });
    });
  });

  // Combine the splits by log-sum-exp and normalize.
  L.forLoop(L.idx(0), L.idx(G), [&](ImplicitLocOpBuilder &b, Value h) {
    Loops L{b};
    Value globalMax = L.f32(kNoScore);
    for (int64_t sp = 0; sp < s.numSplits; ++sp)
      globalMax = arith::MaximumFOp::create(
          b, globalMax,
          memref::LoadOp::create(b, scratch.maxes, ValueRange{L.idx(sp), h}));
    Value total = L.f32(0.0);
    Value sum = arith::ConstantOp::create(
        b, DenseElementsAttr::get(vecType, b.getF32FloatAttr(0.0f)));
    for (int64_t sp = 0; sp < s.numSplits; ++sp) {
      Value m = memref::LoadOp::create(b, scratch.maxes, ValueRange{L.idx(sp), h});
      Value w = math::ExpOp::create(b, arith::SubFOp::create(b, m, globalMax));
      Value l = memref::LoadOp::create(b, scratch.sums, ValueRange{L.idx(sp), h});
      total = arith::AddFOp::create(b, total, arith::MulFOp::create(b, l, w));
      Value acc = vector::LoadOp::create(b, vecType, scratch.accs,
                                         ValueRange{L.idx(sp), h, L.idx(0)});
      sum = vector::FMAOp::create(b, vector::BroadcastOp::create(b, vecType, w),
                                  acc, sum);
    }
    // A query that sees no key (impossible for a well-formed batch) gets 0.
    Value positive =
        arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, total, L.f32(0.0));
    Value inv = arith::SelectOp::create(
        b, positive, arith::DivFOp::create(b, L.f32(1.0), total), L.f32(0.0));
    Value o = arith::MulFOp::create(b, sum,
                                    vector::BroadcastOp::create(b, vecType, inv));
    L.storeRowF32(o, out, {token, L.add(firstHead, h), L.idx(0)});
  });
}

/// Builds `scf.parallel` over [0, ub0) x [0, ub1) whose body runs inside an
/// alloca scope, so per-iteration scratch lives on the stack and is released.
void parallelWithScratch(
    ImplicitLocOpBuilder &b, Value ub0, Value ub1,
    const std::function<void(ImplicitLocOpBuilder &, Value, Value)> &body) {
  Loops L{b};
  scf::ParallelOp::create(
      b, ValueRange{L.idx(0), L.idx(0)}, ValueRange{ub0, ub1},
      ValueRange{L.idx(1), L.idx(1)},
      [&](OpBuilder &nested, Location loc, ValueRange ivs) {
        ImplicitLocOpBuilder inner(loc, nested);
        auto scope = memref::AllocaScopeOp::create(inner, TypeRange{});
        Block *block = new Block();
        scope.getBodyRegion().push_back(block);
        ImplicitLocOpBuilder scoped(loc, nested);
        scoped.setInsertionPointToStart(block);
        body(scoped, ivs[0], ivs[1]);
        memref::AllocaScopeReturnOp::create(scoped, ValueRange{});
        inner.setInsertionPointAfter(scope);
        scf::ReduceOp::create(inner);
      });
}

/// Zeroes rows [0, rows) x heads of a [rows, heads, D] buffer, so rows outside
/// every sequence of a ragged batch hold a defined value.
void zeroFill(ImplicitLocOpBuilder &b, Value out, int64_t heads, int64_t D) {
  Loops L{b};
  auto outType = cast<MemRefType>(out.getType());
  auto vecType = VectorType::get({D}, outType.getElementType());
  Value zero = arith::ConstantOp::create(
      b, DenseElementsAttr::get(
             vecType, b.getFloatAttr(outType.getElementType(), 0.0)));
  Value rows = memref::DimOp::create(b, out, 0);
  L.forLoop(L.idx(0), rows, [&](ImplicitLocOpBuilder &b, Value r) {
    Loops L{b};
    L.forLoop(L.idx(0), L.idx(heads), [&](ImplicitLocOpBuilder &b, Value h) {
      Loops L{b};
      vector::StoreOp::create(b, zero, out, ValueRange{r, h, L.idx(0)});
    });
  });
}

std::optional<int64_t> optionalInt(std::optional<uint64_t> v) {
  if (!v)
    return std::nullopt;
  return static_cast<int64_t>(*v);
}
std::optional<double> optionalDouble(std::optional<APFloat> v) {
  if (!v)
    return std::nullopt;
  return v->convertToDouble();
}

struct PagedAttentionToCPU : OpConversionPattern<kvc::PagedAttentionOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(kvc::PagedAttentionOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    Loops L{b};
    auto cacheType = op.getCache().getType();
    auto resultType = op.getResult().getType();
    AttentionShape shape{op.getGroupSize(),
                         cacheType.getHeadDim(),
                         static_cast<int64_t>(op.getNumSplits().value_or(1)),
                         op.getScale().convertToDouble(),
                         op.getCausal(),
                         optionalInt(op.getSlidingWindow()),
                         optionalDouble(op.getSoftcap())};

    Value query = L.toBuffer(op.getQuery());
    Value tables = L.toBuffer(op.getBlockTables());
    Value lens = L.toBuffer(op.getContextLens());
    Value starts = L.toBuffer(op.getQueryStart());
    Value out = L.allocLike(resultType, query);
    zeroFill(b, out, op.getQuery().getType().getDimSize(1), shape.headDim);

    KeySource src;
    src.paged = true;
    src.tileSize = cacheType.getBlockSize();
    src.layout = cacheType.getLayout();
    src.pages = adaptor.getCache();
    src.blockTables = tables;

    Value numSeqs = memref::DimOp::create(b, lens, 0);
    parallelWithScratch(
        b, numSeqs, L.idx(cacheType.getNumKVHeads()),
        [&](ImplicitLocOpBuilder &b, Value seq, Value group) {
          Loops L{b};
          Scratch scratch = Scratch::create(b, shape, src.tileSize);
          KeySource seqSrc = src;
          seqSrc.sequence = seq;
          Value first = L.loadIndex(starts, {seq});
          Value end = L.loadIndex(starts, {L.add(seq, L.idx(1))});
          Value contextLen = L.loadIndex(lens, {seq});
          // The queries are the last (end - first) tokens of the context.
          Value firstPos = L.sub(contextLen, L.sub(end, first));
          L.forLoop(first, end, [&](ImplicitLocOpBuilder &b, Value token) {
            Loops L{b};
            Value pos = L.add(firstPos, L.sub(token, first));
            emitQueryToken(b, shape, seqSrc, scratch, query, out, token, pos,
                           contextLen, group);
          });
        });
    rewriter.replaceOp(op, L.toTensor(resultType, out));
    return success();
  }
};

struct DenseAttentionToCPU : OpConversionPattern<kvc::AttentionOp> {
  using OpConversionPattern::OpConversionPattern;

  /// Keys per tile of contiguous K/V: enough to amortize the rescale.
  static constexpr int64_t kTile = 64;

  LogicalResult
  matchAndRewrite(kvc::AttentionOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto keyType = op.getKey().getType();
    auto resultType = op.getResult().getType();
    if (keyType.isDynamicDim(2))
      return rewriter.notifyMatchFailure(op, "head_dim must be static");
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    Loops L{b};
    int64_t kvHeads = keyType.getDimSize(1);
    AttentionShape shape{op.getQuery().getType().getDimSize(1) / kvHeads,
                         keyType.getDimSize(2),
                         1,
                         op.getScale().convertToDouble(),
                         op.getCausal(),
                         optionalInt(op.getSlidingWindow()),
                         optionalDouble(op.getSoftcap())};
    Value query = L.toBuffer(op.getQuery());
    KeySource src;
    src.tileSize = kTile;
    src.keys = L.toBuffer(op.getKey());
    src.values = L.toBuffer(op.getValue());
    Value out = L.allocLike(resultType, query);

    Value numQueries = memref::DimOp::create(b, query, 0);
    Value numKeys = memref::DimOp::create(b, src.keys, 0);
    // The queries are the last positions of the keys (decode / chunked prefill).
    Value firstPos = L.sub(numKeys, numQueries);
    parallelWithScratch(
        b, L.idx(1), L.idx(kvHeads),
        [&](ImplicitLocOpBuilder &b, Value, Value group) {
          Loops L{b};
          Scratch scratch = Scratch::create(b, shape, kTile);
          L.forLoop(L.idx(0), numQueries, [&](ImplicitLocOpBuilder &b, Value t) {
            Loops L{b};
            emitQueryToken(b, shape, src, scratch, query, out, t,
                           L.add(firstPos, t), numKeys, group);
          });
        });
    rewriter.replaceOp(op, L.toTensor(resultType, out));
    return success();
  }
};

} // namespace

void kvcc::populateKVCAttentionToCPUPatterns(const TypeConverter &converter,
                                             RewritePatternSet &patterns) {
  patterns.add<PagedAttentionToCPU, DenseAttentionToCPU>(converter,
                                                         patterns.getContext());
}
