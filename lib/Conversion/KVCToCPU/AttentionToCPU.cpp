//===- AttentionToCPU.cpp - attention as tiled online softmax on the CPU ---===//
//
// The CPU mapping of kvcc's attention algorithm (DESIGN.md §1, §4): the GPU
// prefill kernel's structure, with an f32 vector of 8 lanes where the GPU has
// a tensor-core fragment.
//
//   parallel over (KV head g, block of 8 rows of one sequence):
//     a row is a (query token, query head of group g) pair, as on the GPU,
//     so the G heads of a group and neighbouring tokens share each key
//     stage the block's queries transposed, Qt[d][row], pre-scaled
//     for each tile of 16 keys of [lo, hi) of the block (keys read through
//     the block table, any page size):
//       S[key] = Σ_d K[key][d] · Qt[d]     a vector over the 8 rows: one
//                                           broadcast and one FMA per (key, d),
//                                           no horizontal reduction
//         (a block of at most G < 8 rows, a decode token's: dot products
//         along head_dim, 8 columns of a K row against each row's Q, one
//         horizontal sum per (key, row))
//       mask (causal, window, rows past the sequence) per element
//       online softmax in base 2, vectorized over rows (exp2 by polynomial)
//       O[row] = corr[row] · O[row] + Σ_key P[key][row] · V[key]
//                                           4 rows × 16 columns of O in
//                                           registers across the tile's keys
//                                           (a decode block: its G rows only)
//   O / l into the output rows.
//
// Each key loaded serves 8 rows: for a prefill that is 8 query rows per
// K/V row read (the old mapping visited one query token at a time, with a
// horizontal reduction per score and a libm expf per probability). Blocks of
// a causal sequence are dealt out in zig-zag order (first, last, second, ...)
// so the OpenMP threads' contiguous chunks get equal work.
//
// The CPU runs one split whatever `num_splits` says (the op's contract): the
// splits exist to fill a GPU. As on the GPU, a tile's keys are applied to all
// rows of a block with P = 0 where masked, so keys and values are assumed
// finite (KVCOps.td).
//
//===----------------------------------------------------------------------===//
#include "kvcc/Conversion/KVCToCPU/KVCToCPU.h"
#include "kvcc/Conversion/Utils/LoopBuilder.h"

#include <optional>

using namespace mlir;
using namespace kvcc;
using namespace kvcc::lowering;

namespace {

/// Rows of a block: one vector<8xf32> (a ymm register of the x86-64-v3
/// baseline).
constexpr int64_t kLanes = 8;
/// Keys of a tile: one running-max update and one O rescale each.
constexpr int64_t kTileKeys = 16;
/// Score vectors accumulated at once (with Q's vector and the broadcast,
/// within the 16 vector registers of AVX2).
constexpr int64_t kKeyGroup = 8;
/// Rows of O updated at once by P·V (each with two 8-column vectors).
constexpr int64_t kRowGroup = 4;

/// Where the keys and values come from: pages through a block table, or one
/// contiguous [keys, kv_heads, head_dim] buffer.
struct KeySource {
  bool paged = false;
  int64_t pageSize = 0;
  kvc::CacheLayout layout = kvc::CacheLayout::TokenMajor;
  Value pages;       // paged: the page buffer
  Value blockTables; // paged: [sequences, max_pages]
  Value sequence;    // paged: row of the block table
  Value keys, values; // dense

  Value buffer(int64_t kv) const { return paged ? pages : (kv ? values : keys); }
  /// The indices of element 0 of key `key`'s K row and V row for KV head
  /// `head` (one block-table read for both).
  std::pair<SmallVector<Value>, SmallVector<Value>> rows(Loops &L, Value key,
                                                         Value head) const {
    if (!paged)
      return {{key, head, L.idx(0)}, {key, head, L.idx(0)}};
    Value page = L.loadIndex(blockTables, {sequence, L.divU(key, L.idx(pageSize))});
    Value offset = L.remU(key, L.idx(pageSize));
    return {L.cacheRow(layout, page, 0, offset, head), L.cacheRow(layout, page, 1, offset, head)};
  }
};

struct AttentionShape {
  int64_t groupSize; // query heads per KV head
  int64_t headDim;
  double scale;
  bool causal;
  std::optional<int64_t> window;
  std::optional<double> softcap;
};

/// One sequence's part of a block: its rows are (token, head) pairs
/// r = token · G + head, r < numRows = new tokens · G.
struct SequenceRows {
  Value firstToken; // the query row of its first new token
  Value firstPos;   // that token's position
  Value numRows;
  Value contextLen;
};

/// 2^x for x <= 0 (and NaN), lane-wise: 2^round(x) by the exponent bits
/// times 2^f, f in [-1/2, 1/2], by its degree-7 Taylor polynomial (relative
/// error below 1e-8 before rounding). x below -126.5 gives 0 (denormals
/// are flushed).
Value exp2(ImplicitLocOpBuilder &b, Value x) {
  auto type = cast<VectorType>(x.getType());
  auto i32Type = VectorType::get(type.getShape(), b.getI32Type());
  auto splat = [&](double v) { return splatF32(b, type, v); };
  auto splatI = [&](int32_t v) -> Value {
    return arith::ConstantOp::create(b, DenseElementsAttr::get(i32Type, b.getI32IntegerAttr(v)));
  };
  Value clamped = arith::MaximumFOp::create(b, x, splat(-127.0));
  Value n = math::RoundEvenOp::create(b, clamped);
  Value f = arith::SubFOp::create(b, clamped, n);
  // 2^f = e^(f ln 2) = Σ (ln 2)^k / k! · f^k.
  double coefficient[8];
  coefficient[0] = 1.0;
  for (int k = 1; k < 8; ++k)
    coefficient[k] = coefficient[k - 1] * M_LN2 / k;
  Value poly = splat(coefficient[7]);
  for (int k = 6; k >= 0; --k)
    poly = math::FmaOp::create(b, poly, f, splat(coefficient[k]));
  Value exponent = arith::FPToSIOp::create(b, i32Type, n);
  Value bits = arith::ShLIOp::create(b, arith::AddIOp::create(b, exponent, splatI(127)),
                                     splatI(23));
  Value result = arith::MulFOp::create(b, poly, arith::BitcastOp::create(b, type, bits));
  Value isNaN = arith::CmpFOp::create(b, arith::CmpFPredicate::UNO, x, x);
  return arith::SelectOp::create(b, isNaN, x, result);
}

/// Emits the attention of the block of rows [rowStart, rowStart + 8) of
/// sequence `seq` for the heads of KV group `group`.
void emitRowBlock(ImplicitLocOpBuilder &b, const AttentionShape &s, const KeySource &src,
                  Value query, Value out, const SequenceRows &seq, Value rowStart,
                  Value group) {
  Loops L{b};
  const int64_t G = s.groupSize, D = s.headDim;
  Type f32 = b.getF32Type();
  auto laneType = VectorType::get({kLanes}, f32);
  auto laneI32 = VectorType::get({kLanes}, b.getI32Type());
  auto stackBuffer = [&](ArrayRef<int64_t> shape) -> Value {
    return memref::AllocaOp::create(b, MemRefType::get(shape, f32));
  };
  auto splat = [&](VectorType type, double v) { return splatF32(b, type, v); };
  Value zeroLanes = splat(laneType, 0.0);
  Value firstHead = L.mul(group, L.idx(G));

  // Each lane's row: its token, head and visible keys [lo, hi); a lane past
  // the sequence's rows sees no key. Rows go by token, so the block's keys
  // are [lo of lane 0, the largest hi).
  struct Lane {
    Value valid, token, head;
  };
  SmallVector<Lane> lanes;
  SmallVector<Value> los, his;
  Value blockLo, blockHi = L.idx(0);
  for (int64_t l = 0; l < kLanes; ++l) {
    Value row = L.add(rowStart, L.idx(l));
    Value valid = arith::CmpIOp::create(b, arith::CmpIPredicate::ult, row, seq.numRows);
    Value token = L.divU(row, L.idx(G));
    Value head = L.remU(row, L.idx(G));
    Value pos = L.add(seq.firstPos, token);
    auto [lo, hi] = L.visibleKeys(pos, seq.contextLen, s.causal, s.window, L.idx(1), L.idx(0));
    lo = arith::SelectOp::create(b, valid, lo, L.idx(0));
    hi = arith::SelectOp::create(b, valid, hi, L.idx(0));
    if (l == 0)
      blockLo = lo;
    blockHi = L.maxS(blockHi, hi);
    lanes.push_back({valid, token, head});
    los.push_back(toI32(b, lo));
    his.push_back(toI32(b, hi));
  }
  Value loLanes = vector::FromElementsOp::create(b, laneI32, los);
  Value hiLanes = vector::FromElementsOp::create(b, laneI32, his);

  // Qt[d][lane]: the block's queries, transposed and pre-scaled (by
  // scale · log2 e, so the softmax is in base 2; with a soft-cap by scale,
  // and log2 e after the cap). Lanes past the sequence stay 0 (in qRows too).
  const double log2e = M_LOG2E;
  const double qScale = s.softcap ? s.scale : s.scale * log2e;
  // A block of at most `dotRows` rows (a decode token's G heads) takes its
  // scores by dot products along head_dim instead (see below); it reads Q
  // row-major, qRows[lane][d].
  const int64_t dotRows = G < kLanes ? G : 0;
  Value qt = stackBuffer({D, kLanes});
  Value qRows = dotRows ? stackBuffer({dotRows, D}) : Value();
  L.forLoop(L.idx(0), L.idx(D), [&](ImplicitLocOpBuilder &b, Value d) {
    vector::StoreOp::create(b, zeroLanes, qt, ValueRange{d, Loops{b}.idx(0)});
    for (int64_t l = 0; l < dotRows; ++l)
      memref::StoreOp::create(b, Loops{b}.f32(0.0), qRows, ValueRange{Loops{b}.idx(l), d});
  });
  for (int64_t l = 0; l < kLanes; ++l) {
    scf::IfOp::create(b, lanes[l].valid, [&](OpBuilder &nb, Location loc) {
      ImplicitLocOpBuilder b(loc, nb);
      Loops L{b};
      Value token = L.add(seq.firstToken, lanes[l].token);
      Value head = L.add(firstHead, lanes[l].head);
      L.forLoop(L.idx(0), L.idx(D), [&](ImplicitLocOpBuilder &b, Value d) {
        Loops L{b};
        Value q = L.toF32(memref::LoadOp::create(b, query, ValueRange{token, head, d}));
        Value scaled = arith::MulFOp::create(b, q, L.f32(qScale));
        memref::StoreOp::create(b, scaled, qt, ValueRange{d, L.idx(l)});
        if (l < dotRows)
          memref::StoreOp::create(b, scaled, qRows, ValueRange{L.idx(l), d});
      });
      scf::YieldOp::create(b);
    });
  }

  // O[lane][d], P[key][lane] of the current tile and corr[lane].
  Value o = stackBuffer({kLanes, D});
  Value p = stackBuffer({kTileKeys, kLanes});
  Value corrBuffer = stackBuffer({kLanes});
  L.forLoop(L.idx(0), L.idx(kLanes), [&](ImplicitLocOpBuilder &b, Value l) {
    Loops L{b};
    vector::StoreOp::create(b, splat(VectorType::get({D}, f32), 0.0), o, ValueRange{l, L.idx(0)});
  });
  // A half-precision cache's K tile is widened once into f32 rows, which the
  // score loop then broadcasts from (one load an element, no conversion).
  Type cacheElem = cast<MemRefType>(src.buffer(0).getType()).getElementType();
  Value kWide = cacheElem.isF32() ? Value() : stackBuffer({kTileKeys, D});
  const int64_t elementsPerLine = std::max<int64_t>(1, 512 / cacheElem.getIntOrFloatBitWidth());
  Value singleBlock = arith::CmpIOp::create(b, arith::CmpIPredicate::ule, seq.numRows,
                                            L.idx(kLanes));
  Value dotScratch = dotRows ? stackBuffer({kTileKeys, kLanes}) : Value();
  Value fewRows = dotRows ? arith::CmpIOp::create(b, arith::CmpIPredicate::ule,
                                                  L.sub(seq.numRows, rowStart), L.idx(dotRows))
                          : Value();
  // The columns of one vector along head_dim (the dot form's and P·V's).
  const int64_t width = D % 8 == 0 ? 8 : D % 4 == 0 ? 4 : D % 2 == 0 ? 2 : 1;
  auto chunkType = VectorType::get({width}, f32);

  Value lastKey = L.sub(blockHi, L.idx(1));
  Value init[] = {splat(laneType, kNoScore), zeroLanes};
  auto tiles = scf::ForOp::create(
      b, blockLo, blockHi, L.idx(kTileKeys), ValueRange(init),
      [&](OpBuilder &nb, Location loc, Value tileStart, ValueRange state) {
        ImplicitLocOpBuilder b(loc, nb);
        Loops L{b};
        // The tile's keys; those past the block's last key read that key
        // (a written row: no NaN from an unwritten slot reaches 0 · V) and
        // are masked.
        SmallVector<Value> keys;
        SmallVector<SmallVector<Value>> kRows, vRows;
        for (int64_t i = 0; i < kTileKeys; ++i) {
          Value key = L.add(tileStart, L.idx(i));
          keys.push_back(key);
          auto [k, v] = src.rows(L, L.minU(key, lastKey), group);
          kRows.push_back(k);
          vRows.push_back(v);
        }
        // A sequence of one block (decode, a short chunk) reads each K/V
        // row once, from pages in any order: the hardware prefetcher loses
        // the stream at every page, and the score loop waits on its loads.
        // Prefetching the next tile's rows (every 64-byte line) made decode
        // 1.2-1.5x faster; blocks of a longer sequence share their rows
        // through the cache, and there it cost 3-6 %.
        scf::IfOp::create(b, singleBlock, [&](OpBuilder &nb, Location loc) {
          ImplicitLocOpBuilder b(loc, nb);
          Loops L{b};
          for (int64_t i = 0; i < kTileKeys; ++i) {
            Value key = L.minU(L.add(tileStart, L.idx(kTileKeys + i)), lastKey);
            auto [k, v] = src.rows(L, key, group);
            for (int64_t column = 0; column < D; column += elementsPerLine)
              for (auto [kv, row] : llvm::enumerate(ArrayRef<SmallVector<Value>>{k, v})) {
                SmallVector<Value> at(row);
                at.back() = L.idx(column);
                memref::PrefetchOp::create(b, src.buffer(kv), at, /*isWrite=*/false,
                                           /*localityHint=*/3, /*isDataCache=*/true);
              }
          }
          scf::YieldOp::create(b);
        });
        // S[key] = Σ_d K[key][d] · Qt[d], kKeyGroup keys at a time: one
        // broadcast and one FMA per (key, d), each serving 8 rows.
        auto broadcastScores = [&](ImplicitLocOpBuilder &b) {
          Loops L{b};
          if (kWide)
            for (int64_t i = 0; i < kTileKeys; ++i)
              vector::StoreOp::create(b, L.loadRowF32(src.buffer(0), kRows[i], D), kWide,
                                      ValueRange{L.idx(i), L.idx(0)});
          SmallVector<Value> scores;
          for (int64_t first = 0; first < kTileKeys; first += kKeyGroup) {
            SmallVector<Value> noScores(kKeyGroup, zeroLanes);
            auto dot = scf::ForOp::create(
                b, L.idx(0), L.idx(D), L.idx(1), noScores,
                [&](OpBuilder &nb, Location loc, Value d, ValueRange acc) {
                  ImplicitLocOpBuilder b(loc, nb);
                  Loops L{b};
                  Value qd = vector::LoadOp::create(b, laneType, qt, ValueRange{d, L.idx(0)});
                  SmallVector<Value> next;
                  for (int64_t k = 0; k < kKeyGroup; ++k) {
                    Value element;
                    if (kWide) {
                      element = memref::LoadOp::create(b, kWide, ValueRange{L.idx(first + k), d});
                    } else {
                      SmallVector<Value> at(kRows[first + k]);
                      at.back() = d;
                      element = memref::LoadOp::create(b, src.buffer(0), at);
                    }
                    next.push_back(vector::FMAOp::create(
                        b, vector::BroadcastOp::create(b, laneType, element), qd, acc[k]));
                  }
                  scf::YieldOp::create(b, next);
                });
            llvm::append_range(scores, dot.getResults());
          }
          return scores;
        };
        // A block of at most dotRows rows would leave most of the 8 lanes
        // idle in that form (a decode token of a GQA-4 model: half; of
        // multi-head attention: 7/8). Its scores are dot products along
        // head_dim instead: per `width` columns, one load of a K row serves
        // the block's rows with an FMA each (dotRows FMAs, not `width`),
        // and one horizontal sum per (key, row) ends each dot product.
        // `keysAtOnce` keys at a time keep the accumulators, the rows' Q
        // and a K vector within 16 registers. (The group's K rows are looked
        // up again by the loop's index; the tile's kRows are unrolled values.)
        auto dotScores = [&](ImplicitLocOpBuilder &b) {
          Loops L{b};
          const int64_t R = dotRows;
          int64_t keysAtOnce = 1;
          while (keysAtOnce * 2 <= 8 && (keysAtOnce * 2 + 1) * R + 1 <= 16)
            keysAtOnce *= 2;
          // A loop over the key groups, each group's scores through the
          // scratch: with the groups unrolled, LLVM interleaved them and
          // spilled the accumulators.
          scf::ForOp::create(b, L.idx(0), L.idx(kTileKeys), L.idx(keysAtOnce), ValueRange{},
                             [&](OpBuilder &nb, Location loc, Value first, ValueRange) {
            ImplicitLocOpBuilder b(loc, nb);
            Loops L{b};
            SmallVector<SmallVector<Value>> rowsOf;
            for (int64_t k = 0; k < keysAtOnce; ++k)
              rowsOf.push_back(
                  src.rows(L, L.minU(L.add(tileStart, L.add(first, L.idx(k))), lastKey), group)
                      .first);
            SmallVector<Value> noSums(R * keysAtOnce, zeros(b, chunkType));
            auto dot = scf::ForOp::create(
                b, L.idx(0), L.idx(D), L.idx(width), noSums,
                [&](OpBuilder &nb, Location loc, Value d, ValueRange acc) {
                  ImplicitLocOpBuilder b(loc, nb);
                  Loops L{b};
                  SmallVector<Value> q;
                  for (int64_t r = 0; r < R; ++r)
                    q.push_back(vector::LoadOp::create(b, chunkType, qRows, ValueRange{L.idx(r), d}));
                  SmallVector<Value> next(acc.begin(), acc.end());
                  for (int64_t k = 0; k < keysAtOnce; ++k) {
                    SmallVector<Value> at(rowsOf[k]);
                    at.back() = d;
                    Value kv = L.loadRowF32(src.buffer(0), at, width);
                    for (int64_t r = 0; r < R; ++r)
                      next[r * keysAtOnce + k] =
                          vector::FMAOp::create(b, q[r], kv, acc[r * keysAtOnce + k]);
                  }
                  scf::YieldOp::create(b, next);
                });
            for (int64_t k = 0; k < keysAtOnce; ++k) {
              SmallVector<Value> rowScores(kLanes, L.f32(0.0));
              for (int64_t r = 0; r < R; ++r)
                rowScores[r] = vector::ReductionOp::create(b, vector::CombiningKind::ADD,
                                                           dot.getResult(r * keysAtOnce + k),
                                                           arith::FastMathFlags::reassoc);
              vector::StoreOp::create(b, vector::FromElementsOp::create(b, laneType, rowScores),
                                      dotScratch, ValueRange{L.add(first, L.idx(k)), L.idx(0)});
            }
            scf::YieldOp::create(b);
          });
          SmallVector<Value> scores;
          for (int64_t i = 0; i < kTileKeys; ++i)
            scores.push_back(
                vector::LoadOp::create(b, laneType, dotScratch, ValueRange{L.idx(i), L.idx(0)}));
          return scores;
        };
        SmallVector<Value> scores;
        if (!dotRows) {
          scores = broadcastScores(b);
        } else {
          auto form = scf::IfOp::create(
              b, fewRows,
              [&](OpBuilder &nb, Location loc) {
                ImplicitLocOpBuilder b(loc, nb);
                scf::YieldOp::create(b, dotScores(b));
              },
              [&](OpBuilder &nb, Location loc) {
                ImplicitLocOpBuilder b(loc, nb);
                scf::YieldOp::create(b, broadcastScores(b));
              });
          scores.assign(form.getResults().begin(), form.getResults().end());
        }

        // Soft-cap, masks, then the online softmax in base 2, per lane.
        Value minusInf = splat(laneType, -std::numeric_limits<double>::infinity());
        Value tileMax = minusInf;
        for (int64_t i = 0; i < kTileKeys; ++i) {
          Value sc = scores[i];
          // cap · tanh(s / cap), in base 2: (cap · log2 e) · tanh(s · (1 / cap)),
          // a multiply where a division would cost ~10× its throughput.
          if (s.softcap)
            sc = arith::MulFOp::create(
                b, splat(laneType, *s.softcap * log2e),
                math::TanhOp::create(b, arith::MulFOp::create(b, sc, splat(laneType, 1.0 / *s.softcap))));
          Value key = vector::BroadcastOp::create(b, laneI32, toI32(b, keys[i]));
          Value visible = arith::AndIOp::create(
              b, arith::CmpIOp::create(b, arith::CmpIPredicate::sge, key, loLanes),
              arith::CmpIOp::create(b, arith::CmpIPredicate::slt, key, hiLanes));
          scores[i] = arith::SelectOp::create(b, visible, sc, minusInf);
          tileMax = arith::MaximumFOp::create(b, tileMax, scores[i]);
        }
        Value mNew = arith::MaximumFOp::create(b, state[0], tileMax);
        Value corr = exp2(b, arith::SubFOp::create(b, state[0], mNew));
        Value sum = arith::MulFOp::create(b, state[1], corr);
        for (int64_t i = 0; i < kTileKeys; ++i) {
          Value pi = exp2(b, arith::SubFOp::create(b, scores[i], mNew));
          vector::StoreOp::create(b, pi, p, ValueRange{L.idx(i), L.idx(0)});
          sum = arith::AddFOp::create(b, sum, pi);
        }
        vector::StoreOp::create(b, corr, corrBuffer, ValueRange{L.idx(0)});

        // O = corr · O + P·V: up to kRowGroup rows × `chunks` vectors of
        // columns in registers across the tile's keys.
        const int64_t chunks = (D / width) % 2 == 0 ? 2 : 1;
        auto accumulate = [&](ImplicitLocOpBuilder &b, int64_t firstRow, int64_t rowCount) {
          Loops L{b};
          L.forLoop(L.idx(0), L.idx(D / (width * chunks)), [&](ImplicitLocOpBuilder &b, Value c) {
            Loops L{b};
            SmallVector<Value> columns;
            for (int64_t j = 0; j < chunks; ++j)
              columns.push_back(L.mul(L.add(L.mul(c, L.idx(chunks)), L.idx(j)), L.idx(width)));
            SmallVector<Value> acc;
            for (int64_t r = firstRow; r < firstRow + rowCount; ++r) {
              Value rc = vector::BroadcastOp::create(
                  b, chunkType, memref::LoadOp::create(b, corrBuffer, ValueRange{L.idx(r)}));
              for (int64_t j = 0; j < chunks; ++j)
                acc.push_back(arith::MulFOp::create(
                    b, vector::LoadOp::create(b, chunkType, o, ValueRange{L.idx(r), columns[j]}),
                    rc));
            }
            for (int64_t i = 0; i < kTileKeys; ++i) {
              SmallVector<Value> v;
              for (int64_t j = 0; j < chunks; ++j) {
                SmallVector<Value> at(vRows[i]);
                at.back() = columns[j];
                v.push_back(L.loadRowF32(src.buffer(1), at, width));
              }
              for (int64_t r = 0; r < rowCount; ++r) {
                Value pr = vector::BroadcastOp::create(
                    b, chunkType,
                    memref::LoadOp::create(b, p, ValueRange{L.idx(i), L.idx(firstRow + r)}));
                for (int64_t j = 0; j < chunks; ++j)
                  acc[r * chunks + j] = vector::FMAOp::create(b, pr, v[j], acc[r * chunks + j]);
              }
            }
            for (int64_t r = 0; r < rowCount; ++r)
              for (int64_t j = 0; j < chunks; ++j)
                vector::StoreOp::create(b, acc[r * chunks + j], o,
                                        ValueRange{L.idx(firstRow + r), columns[j]});
          });
        };
        // All 8 rows, by groups of kRowGroup; a group with no row of the
        // sequence is skipped.
        auto accumulateLanes = [&](ImplicitLocOpBuilder &b) {
          Loops L{b};
          for (int64_t rows = 0; rows < kLanes; rows += kRowGroup) {
            Value used = arith::CmpIOp::create(b, arith::CmpIPredicate::ult,
                                               L.add(rowStart, L.idx(rows)), seq.numRows);
            scf::IfOp::create(b, used, [&](OpBuilder &nb, Location loc) {
              ImplicitLocOpBuilder b(loc, nb);
              accumulate(b, rows, kRowGroup);
              scf::YieldOp::create(b);
            });
          }
        };
        // A block of at most dotRows rows: exactly those (a decode token of
        // a GQA-3 model updates 3 rows, not 4; of multi-head attention 1).
        if (!dotRows) {
          accumulateLanes(b);
        } else {
          scf::IfOp::create(
              b, fewRows,
              [&](OpBuilder &nb, Location loc) {
                ImplicitLocOpBuilder b(loc, nb);
                for (int64_t rows = 0; rows < dotRows; rows += kRowGroup)
                  accumulate(b, rows, std::min(kRowGroup, dotRows - rows));
                scf::YieldOp::create(b);
              },
              [&](OpBuilder &nb, Location loc) {
                ImplicitLocOpBuilder b(loc, nb);
                accumulateLanes(b);
                scf::YieldOp::create(b);
              });
        }
        scf::YieldOp::create(b, ValueRange{mNew, sum});
      });

  // O / l into the rows of the sequence (a row that sees no key gets 0).
  Value sums = tiles.getResult(1);
  for (int64_t l = 0; l < kLanes; ++l) {
    scf::IfOp::create(b, lanes[l].valid, [&](OpBuilder &nb, Location loc) {
      ImplicitLocOpBuilder b(loc, nb);
      Loops L{b};
      Value total = vector::ExtractOp::create(b, sums, ArrayRef<int64_t>{l});
      Value positive = arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, total, L.f32(0.0));
      Value inv = arith::SelectOp::create(
          b, positive, arith::DivFOp::create(b, L.f32(1.0), total), L.f32(0.0));
      auto rowType = VectorType::get({D}, f32);
      Value row = arith::MulFOp::create(
          b, vector::LoadOp::create(b, rowType, o, ValueRange{L.idx(l), L.idx(0)}),
          vector::BroadcastOp::create(b, rowType, inv));
      L.storeRowF32(row, out,
                    {L.add(seq.firstToken, lanes[l].token), L.add(firstHead, lanes[l].head),
                     L.idx(0)});
      scf::YieldOp::create(b);
    });
  }
}

/// Block `slot` of a sequence of `blocks` blocks in zig-zag order: 0, n-1,
/// 1, n-2, ... A causal sequence's blocks cost more the later they come;
/// pairing them gives contiguous chunks of slots equal work.
Value zigZag(Loops &L, Value slot, Value blocks) {
  Value half = L.divU(slot, L.idx(2));
  Value even = arith::CmpIOp::create(L.b, arith::CmpIPredicate::eq, L.remU(slot, L.idx(2)),
                                     L.idx(0));
  return arith::SelectOp::create(L.b, even, half, L.sub(L.sub(blocks, L.idx(1)), half));
}

/// Calls the module's private function `name` (suffixed `_1`, `_2`, ... for
/// other argument types) with `args`, building it with `body` over its
/// arguments if no earlier call made it: the layers of a model share one
/// attention kernel per shape, so LLVM compiles it once, not once a layer.
void callKernel(ImplicitLocOpBuilder &b, const std::string &name, ValueRange args,
                function_ref<void(ImplicitLocOpBuilder &, ValueRange)> body) {
  auto module = b.getInsertionBlock()->getParentOp()->getParentOfType<ModuleOp>();
  FunctionType type = b.getFunctionType(TypeRange(args), {});
  func::FuncOp fn;
  for (int suffix = 0; !fn; ++suffix) {
    std::string candidate = suffix ? name + "_" + std::to_string(suffix) : name;
    if (Operation *existing = module.lookupSymbol(candidate)) {
      fn = dyn_cast<func::FuncOp>(existing);
      if (fn && (fn.getFunctionType() != type || !fn.isPrivate() || fn.isExternal()))
        fn = nullptr;
      continue;
    }
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToEnd(module.getBody());
    fn = func::FuncOp::create(b, candidate, type);
    fn.setPrivate();
    Block *entry = fn.addEntryBlock();
    b.setInsertionPointToStart(entry);
    body(b, entry->getArguments());
    func::ReturnOp::create(b);
  }
  func::CallOp::create(b, fn, args);
}

/// The part of a kernel's name that tells attention attributes apart.
std::string shapeName(const AttentionShape &s) {
  auto bits = [](double v) { return llvm::utohexstr(llvm::bit_cast<uint64_t>(v)); };
  std::string name = "g" + std::to_string(s.groupSize) + "_d" + std::to_string(s.headDim) +
                     "_scale" + bits(s.scale);
  if (s.causal)
    name += "_causal";
  if (s.window)
    name += "_window" + std::to_string(*s.window);
  if (s.softcap)
    name += "_softcap" + bits(*s.softcap);
  return name;
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

/// kvc.paged_attention over buffers: a parallel loop over (KV head, block of
/// 8 rows) of the whole ragged batch.
void emitPagedAttention(ImplicitLocOpBuilder &b, const AttentionShape &shape,
                        kvc::PagedCacheType cacheType, Value query, Value pages, Value tables,
                        Value lens, Value starts, Value out) {
  Loops L{b};
  const int64_t G = shape.groupSize;
  zeroFill(b, out, cast<MemRefType>(query.getType()).getDimSize(1), shape.headDim);
  KeySource src;
  src.paged = true;
  src.pageSize = cacheType.getBlockSize();
  src.layout = cacheType.getLayout();
  src.pages = pages;
  src.blockTables = tables;

  // firstBlock[s]: the blocks of the sequences before s (a block is 8 rows
  // of one sequence), so the parallel loop covers (KV head, block) of the
  // whole ragged batch without empty iterations.
  Value numSeqs = memref::DimOp::create(b, lens, 0);
  // (A decreasing query_start, outside the contract, gives a sequence no
  // rows rather than 2^64 of them.)
  auto rowsOf = [&](Loops &L, Value seq) {
    Value tokens = L.sub(L.loadIndex(starts, {L.add(seq, L.idx(1))}), L.loadIndex(starts, {seq}));
    return L.mul(L.maxS(tokens, L.idx(0)), L.idx(G));
  };
  Value firstBlock = memref::AllocaOp::create(
      b, MemRefType::get({ShapedType::kDynamic}, b.getIndexType()), L.add(numSeqs, L.idx(1)));
  memref::StoreOp::create(b, L.idx(0), firstBlock, ValueRange{L.idx(0)});
  L.forLoop(L.idx(0), numSeqs, [&](ImplicitLocOpBuilder &b, Value seq) {
    Loops L{b};
    Value blocks = L.ceilDiv(rowsOf(L, seq), L.idx(kLanes));
    Value before = memref::LoadOp::create(b, firstBlock, ValueRange{seq});
    memref::StoreOp::create(b, L.add(before, blocks), firstBlock, ValueRange{L.add(seq, L.idx(1))});
  });
  Value totalBlocks = memref::LoadOp::create(b, firstBlock, ValueRange{numSeqs});

  parallelWithScratch(
      b, L.idx(cacheType.getNumKVHeads()), totalBlocks,
      [&](ImplicitLocOpBuilder &b, Value group, Value slot) {
        Loops L{b};
        // The sequence of the slot: the last s with firstBlock[s] <= slot
        // (binary search; firstBlock[numSeqs] > slot).
        auto search = scf::WhileOp::create(
            b, TypeRange{b.getIndexType(), b.getIndexType()}, ValueRange{L.idx(0), numSeqs},
            [&](OpBuilder &nb, Location loc, ValueRange range) {
              ImplicitLocOpBuilder b(loc, nb);
              Loops L{b};
              Value more = arith::CmpIOp::create(b, arith::CmpIPredicate::ugt,
                                                 L.sub(range[1], range[0]), L.idx(1));
              scf::ConditionOp::create(b, more, range);
            },
            [&](OpBuilder &nb, Location loc, ValueRange range) {
              ImplicitLocOpBuilder b(loc, nb);
              Loops L{b};
              Value mid = L.divU(L.add(range[0], range[1]), L.idx(2));
              Value atOrBefore = arith::CmpIOp::create(
                  b, arith::CmpIPredicate::ule,
                  memref::LoadOp::create(b, firstBlock, ValueRange{mid}), slot);
              scf::YieldOp::create(
                  b, ValueRange{arith::SelectOp::create(b, atOrBefore, mid, range[0]),
                                arith::SelectOp::create(b, atOrBefore, range[1], mid)});
            });
        Value seq = search.getResult(0);
        Value first = memref::LoadOp::create(b, firstBlock, ValueRange{seq});
        Value blocks = L.sub(
            memref::LoadOp::create(b, firstBlock, ValueRange{L.add(seq, L.idx(1))}), first);
        Value blockIndex = zigZag(L, L.sub(slot, first), blocks);

        KeySource seqSrc = src;
        seqSrc.sequence = seq;
        SequenceRows rows;
        rows.firstToken = L.loadIndex(starts, {seq});
        rows.numRows = rowsOf(L, seq);
        rows.contextLen = L.loadIndex(lens, {seq});
        // The queries are the last (new tokens) positions of the context.
        rows.firstPos = L.sub(rows.contextLen, L.divU(rows.numRows, L.idx(G)));
        emitRowBlock(b, shape, seqSrc, query, out, rows, L.mul(blockIndex, L.idx(kLanes)), group);
      });
}

/// kvc.attention over buffers: one sequence whose queries are the last
/// positions of the keys (decode / chunked prefill).
void emitDenseAttention(ImplicitLocOpBuilder &b, const AttentionShape &shape, int64_t kvHeads,
                        Value query, Value keys, Value values, Value out) {
  Loops L{b};
  KeySource src;
  src.keys = keys;
  src.values = values;
  SequenceRows rows;
  rows.firstToken = L.idx(0);
  Value numQueries = memref::DimOp::create(b, query, 0);
  rows.numRows = L.mul(numQueries, L.idx(shape.groupSize));
  rows.contextLen = memref::DimOp::create(b, keys, 0);
  rows.firstPos = L.sub(rows.contextLen, numQueries);
  Value blocks = L.ceilDiv(rows.numRows, L.idx(kLanes));
  parallelWithScratch(b, L.idx(kvHeads), blocks,
                      [&](ImplicitLocOpBuilder &b, Value group, Value slot) {
                        Loops L{b};
                        Value rowStart = L.mul(zigZag(L, slot, blocks), L.idx(kLanes));
                        emitRowBlock(b, shape, src, query, out, rows, rowStart, group);
                      });
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
                         op.getScale().convertToDouble(),
                         op.getCausal(),
                         optionalInt(op.getSlidingWindow()),
                         optionalDouble(op.getSoftcap())};
    Value query = L.toBuffer(op.getQuery());
    Value out = L.allocLike(resultType, query);
    std::string name = "kvc_cpu_paged_attention_" + shapeName(shape) + "_page" +
                       std::to_string(cacheType.getBlockSize()) +
                       (cacheType.getLayout() == kvc::CacheLayout::HeadMajor ? "_head_major" : "");
    Value args[] = {query, adaptor.getCache(), L.toBuffer(op.getBlockTables()),
                    L.toBuffer(op.getContextLens()), L.toBuffer(op.getQueryStart()), out};
    callKernel(b, name, args, [&](ImplicitLocOpBuilder &b, ValueRange args) {
      emitPagedAttention(b, shape, cacheType, args[0], args[1], args[2], args[3], args[4],
                         args[5]);
    });
    rewriter.replaceOp(op, L.toTensor(resultType, out));
    return success();
  }
};

struct DenseAttentionToCPU : OpConversionPattern<kvc::AttentionOp> {
  using OpConversionPattern::OpConversionPattern;

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
                         op.getScale().convertToDouble(),
                         op.getCausal(),
                         optionalInt(op.getSlidingWindow()),
                         optionalDouble(op.getSoftcap())};
    Value query = L.toBuffer(op.getQuery());
    Value out = L.allocLike(resultType, query);
    Value args[] = {query, L.toBuffer(op.getKey()), L.toBuffer(op.getValue()), out};
    callKernel(b, "kvc_cpu_attention_" + shapeName(shape), args,
               [&](ImplicitLocOpBuilder &b, ValueRange args) {
                 emitDenseAttention(b, shape, kvHeads, args[0], args[1], args[2], args[3]);
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
