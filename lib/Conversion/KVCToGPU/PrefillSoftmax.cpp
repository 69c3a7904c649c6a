//===- PrefillSoftmax.cpp - the prefill kernel's online softmax, a K/V tile ===//
//
// Between the prefill kernel's two GEMMs (PrefillAttentionToGPU.cpp): the
// scores of one K/V tile, masked where the tile crosses an edge, become the
// weights P of P·V and update each row's running max and sum (FlashAttention-2's
// online softmax, in base 2). Both GEMM paths leave S in mma.m16n8k16's C
// layout (lane = 4·quad + t4: c0,c1 row quad, columns 2·t4..2·t4+1; c2,c3
// row quad + 8), so a row's values live in the 4 lanes of a quad.
//
//===----------------------------------------------------------------------===//
#include "KernelBuilder.h"
#include "PrefillAttention.h"

#include "mlir/Dialect/LLVMIR/NVVMDialect.h"

#include <algorithm>
#include <array>
#include <limits>

using namespace mlir;
using namespace kvcc;
using namespace kvcc::lowering;

namespace {
/// The lazy rescale keeps a row's max until it grows by more than this (in
/// log2 units): the softmax weights stay at most 2^8.
constexpr double kLazyRescaleLog2 = 8.0;
} // namespace

Value FragmentRows::at(ImplicitLocOpBuilder &b, int64_t t, int64_t i) const {
  Loops L{b};
  return toI32(b, L.add(L.add(rowBase, warpRow), L.add(quad, L.idx(16 * t + 8 * i))));
}

TileSoftmax::TileSoftmax(const PrefillParams &p, Type elem, int64_t keys, int64_t mmaTiles,
                         Value t4, Value firstPos32, Value tileFirstPos32, Value tileLastPos32,
                         Value hi32, FragmentRows rows)
    : p(p), elem(elem), keys(keys), mmaTiles(mmaTiles),
      window32(std::min<int64_t>(p.window.value_or(0), std::numeric_limits<int32_t>::max())),
      t4(t4), firstPos32(firstPos32),
      tileFirstPos32(tileFirstPos32), tileLastPos32(tileLastPos32), hi32(hi32),
      rows(rows) {}

SmallVector<Value> TileSoftmax::cappedScores(ImplicitLocOpBuilder &b, ArrayRef<Value> s) const {
  Loops L{b};
  SmallVector<Value> out;
  for (int64_t n = 0; n < keys / 8; ++n)
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t jj = 0; jj < 2; ++jj) {
        Value v = extract(b, s[n], i, jj);
        if (p.softcap)
          v = arith::MulFOp::create(
              b, L.f32(*p.softcap * kLog2E),
              math::TanhOp::create(b, arith::MulFOp::create(b, v, L.f32(p.scale / *p.softcap))));
        out.push_back(v);
      }
  return out;
}

SmallVector<Value> TileSoftmax::masked(ImplicitLocOpBuilder &b, ArrayRef<Value> scores, int64_t t,
                                       Value tileStart32) const {
  Loops L{b};
  const int64_t G = p.groupSize, N = keys;
  // The lane's element (n, jj) holds key keyBase + e, e = 8n + jj,
  // keyBase = tileStart + 2·t4, for rows rows.at(t, i) (row r: token
  // r / G, position firstPos + r / G). Each test is one compare of the
  // constant e against a limit per tile and row:
  //   key < hi                    e < hi - keyBase
  //   causal: key <= position     e·G <= r - kb·G   (kb = keyBase - firstPos:
  //                               kb + e <= r / G  <=>  (kb + e)·G <= r)
  //   window: position - key < W  e > max(position - keyBase, 0) - W
  // kb is clamped to >= -N for the causal limit (keys before the chunk's
  // first position are visible to every row either way), so kb·G stays in
  // 32 bits. The window limit is exact for any W (clamped to 2^31 - 1, as in
  // the tile test: positions are below it): a key at or past the row's
  // position is inside the window, so clamping the difference at 0 changes
  // nothing and keeps the subtraction of W from overflowing. Rows past the
  // chunk's tokens are not masked: they are never stored, and a row whose
  // every key is masked gets zero weights (the running max starts at the
  // finite kNoScore). No division, and no per-row value lives across the
  // loop (each was a register or a spill once ptxas hoisted it).
  Value keyBase = arith::AddIOp::create(b, tileStart32, toI32(b, L.mul(t4, L.idx(2))));
  Value endLimit = arith::SubIOp::create(b, hi32, keyBase);
  Value kb = arith::SubIOp::create(b, keyBase, firstPos32);
  Value kbG = arith::MulIOp::create(b, arith::MaxSIOp::create(b, kb, c32(b, -N)), c32(b, G));
  Value causalLimit[2], windowLimit[2];
  for (int64_t i = 0; i < 2; ++i) {
    Value row = rows.at(b, t, i);
    if (p.causal)
      causalLimit[i] = arith::SubIOp::create(b, row, kbG);
    if (p.window) {
      Value pos = arith::AddIOp::create(b, firstPos32, arith::DivUIOp::create(b, row, c32(b, G)));
      windowLimit[i] = arith::SubIOp::create(
          b, arith::MaxSIOp::create(b, arith::SubIOp::create(b, pos, keyBase), c32(b, 0)),
          c32(b, window32));
    }
  }
  Value negInf = L.f32(-std::numeric_limits<double>::infinity());
  SmallVector<Value> out;
  for (int64_t n = 0; n < N / 8; ++n)
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t jj = 0; jj < 2; ++jj) {
        const int64_t e = n * 8 + jj;
        Value ok = arith::CmpIOp::create(b, arith::CmpIPredicate::slt, c32(b, e), endLimit);
        if (p.causal)
          ok = arith::AndIOp::create(
              b, ok,
              arith::CmpIOp::create(b, arith::CmpIPredicate::sle, c32(b, e * G), causalLimit[i]));
        if (p.window)
          ok = arith::AndIOp::create(
              b, ok, arith::CmpIOp::create(b, arith::CmpIPredicate::sgt, c32(b, e), windowLimit[i]));
        out.push_back(arith::SelectOp::create(b, ok, scores[(n * 2 + i) * 2 + jj], negInf));
      }
  return out;
}

TileSoftmax::Step TileSoftmax::step(ImplicitLocOpBuilder &b, ArrayRef<SmallVector<Value>> s,
                                    Value tileStart32, ValueRange max, ValueRange sum) const {
  Loops L{b};
  const int64_t N = keys, MT = mmaTiles;
  Step out;
  out.p.resize(MT);
  out.corr.resize(MT);
  out.max.assign(max.begin(), max.end());
  out.sum.assign(sum.begin(), sum.end());
  // P = 2^(c·S - m), with c = scale·log2(e): one FFMA and one ex2 an
  // element, and the row max is taken on the raw scores (c > 0). A soft-cap
  // scales inside its tanh instead (c = 1).
  Value c = L.f32(p.softcap ? 1.0 : p.scale * kLog2E);
  // Only tiles that cross the diagonal, the window's edge or the end of the
  // keys need per-element masks; the others (most of a long causal prefill)
  // skip the compares and selects. (32-bit, as the positions: 64-bit index
  // compares kept four more registers live.)
  Value tileLast32 = arith::AddIOp::create(b, tileStart32, c32(b, N - 1));
  Value needsMask = arith::CmpIOp::create(b, arith::CmpIPredicate::sge, tileLast32, hi32);
  if (p.causal)
    needsMask = arith::OrIOp::create(
        b, needsMask, arith::CmpIOp::create(b, arith::CmpIPredicate::sgt, tileLast32, tileFirstPos32));
  // tileStart + window <= tileLastPos as a difference (no overflow).
  if (p.window)
    needsMask = arith::OrIOp::create(
        b, needsMask,
        arith::CmpIOp::create(
            b, arith::CmpIPredicate::sge, arith::SubIOp::create(b, tileLastPos32, tileStart32),
            c32(b, window32)));
  // Per MMA tile: its masked scores and its rows' new maxima, then the
  // weights P (with the rows' maxima `m`), their sums and the O rescale
  // factors. By default tile by tile; the lazy rescale takes every tile's
  // maxima first, to decide once for the warp.
  SmallVector<SmallVector<SmallVector<Value>>> scoresOf(MT);
  SmallVector<std::array<Value, 2>> mNew(MT);
  auto scoresAndMaxima = [&](int64_t t) {
    SmallVector<Value> capped = cappedScores(b, s[t]);
    auto masking = scf::IfOp::create(
        b, needsMask,
        [&](OpBuilder &nb, Location loc) {
          ImplicitLocOpBuilder b(loc, nb);
          scf::YieldOp::create(b, masked(b, capped, t, tileStart32));
        },
        [&](OpBuilder &nb, Location loc) { scf::YieldOp::create(nb, loc, capped); });
    ValueRange flat = masking.getResults();
    Value negInf = L.f32(-std::numeric_limits<double>::infinity());
    Value rowMax[2] = {negInf, negInf};
    scoresOf[t].resize(N / 8);
    for (int64_t n = 0; n < N / 8; ++n)
      for (int64_t i = 0; i < 2; ++i)
        for (int64_t jj = 0; jj < 2; ++jj) {
          Value v = flat[(n * 2 + i) * 2 + jj];
          scoresOf[t][n].push_back(v);
          rowMax[i] = arith::MaximumFOp::create(b, rowMax[i], v);
        }
    for (int64_t i = 0; i < 2; ++i) {
      for (int32_t o = 1; o < 4; o *= 2)
        rowMax[i] = arith::MaximumFOp::create(b, rowMax[i], shuffleXor(b, rowMax[i], o));
      mNew[t][i] = arith::MaximumFOp::create(b, max[2 * t + i], arith::MulFOp::create(b, rowMax[i], c));
    }
  };
  auto weights = [&](int64_t t, Value rescale) {
    Value m[2], corr[2];
    for (int64_t i = 0; i < 2; ++i) {
      Value mOld = max[2 * t + i];
      m[i] = rescale ? arith::SelectOp::create(b, rescale, mNew[t][i], mOld) : mNew[t][i];
      corr[i] = fastExp2(b, arith::SubFOp::create(b, mOld, m[i]));
    }
    // P = 2^(c·S - m), row sums, and P as 16-bit fragments.
    Value rowSum[2] = {L.f32(0.0), L.f32(0.0)};
    for (int64_t n = 0; n < N / 8; ++n) {
      SmallVector<Value> ps;
      for (int64_t i = 0; i < 2; ++i)
        for (int64_t jj = 0; jj < 2; ++jj) {
          Value e = fastExp2(b, math::FmaOp::create(b, scoresOf[t][n][2 * i + jj], c,
                                                    arith::NegFOp::create(b, m[i])));
          rowSum[i] = arith::AddFOp::create(b, rowSum[i], e);
          ps.push_back(arith::TruncFOp::create(b, elem, e));
        }
      out.p[t].push_back(vector::FromElementsOp::create(b, VectorType::get({2, 2}, elem), ps));
    }
    for (int64_t i = 0; i < 2; ++i) {
      for (int32_t o = 1; o < 4; o *= 2)
        rowSum[i] = arith::AddFOp::create(b, rowSum[i], shuffleXor(b, rowSum[i], o));
      out.max[2 * t + i] = m[i];
      out.sum[2 * t + i] =
          arith::AddFOp::create(b, arith::MulFOp::create(b, sum[2 * t + i], corr[i]), rowSum[i]);
    }
    out.corr[t] = vector::FromElementsOp::create(b, VectorType::get({2, 2}, b.getF32Type()),
                                                 ValueRange{corr[0], corr[0], corr[1], corr[1]});
  };
  if (!p.lazyRescale) {
    for (int64_t t = 0; t < MT; ++t) {
      scoresAndMaxima(t);
      weights(t, Value());
    }
    return out;
  }
  // Lazy rescale (FlashAttention-4's): keep every row's max unless one of
  // the warp's rows grew by more than kLazyRescaleLog2 (then all take their
  // new max), so most tiles skip the O rescale (MT x D/2 multiplies a lane);
  // the weights are then at most 2^kLazyRescaleLog2 (exact in f16 and
  // bf16), and the final O / l is unchanged.
  for (int64_t t = 0; t < MT; ++t)
    scoresAndMaxima(t);
  Value grew = arith::ConstantOp::create(b, b.getBoolAttr(false));
  for (int64_t t = 0; t < MT; ++t)
    for (int64_t i = 0; i < 2; ++i)
      grew = arith::OrIOp::create(
          b, grew,
          arith::CmpFOp::create(b, arith::CmpFPredicate::OGT,
                                arith::SubFOp::create(b, mNew[t][i], max[2 * t + i]),
                                L.f32(kLazyRescaleLog2)));
  out.rescale = NVVM::VoteSyncOp::create(b, b.getI1Type(),
                                         arith::ConstantOp::create(b, b.getI32IntegerAttr(-1)),
                                         grew, NVVM::VoteSyncKind::any);
  for (int64_t t = 0; t < MT; ++t)
    weights(t, out.rescale);
  return out;
}
