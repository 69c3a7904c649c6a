//===- AttentionToGPU.cpp - flash-decoding paged attention kernels ---------===//
//
// The GPU mapping of the attention algorithm of AttentionToCPU.cpp. One CTA
// of 4 warps per (split, KV head, sequence):
//
//   lanes:  a key row of D elements is read by D/8 lanes, 8 elements (16 bytes
//           of f16) each; a warp covers 32/(D/8) keys per step, the CTA 4x that
//   GQA:    every K/V row a lane loads serves all G query heads of the group
//   mask:   the causal / sliding-window bounds are the loop bounds; the split
//           [lo, hi) of a CTA is its chunk of the visible keys
//   state:  per lane group and head an online-softmax (max, sum, acc[8]) in
//           base 2 (scale·log2 e folded into Q, weights by ex2.approx),
//           rescaled once per trip of kKeysPerLane keys, merged across lane
//           groups by shuffles and across warps in shared memory
//   splits: the grid's x is the split count of the call (num_splits, or
//           planned per call from the batch and the device's SMs with
//           max_splits; one for a call with a prefill chunk); with more than
//           one the CTA writes its partial (max, sum, acc) and a combine
//           kernel merges the splits by log-sum-exp
//
// Loops over keys are uniform per warp (out-of-range lanes are masked, not
// skipped) so every shuffle runs with the full warp.
//
//===----------------------------------------------------------------------===//
#include "KernelBuilder.h"
#include "PrefillAttention.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"

#include <limits>
#include <optional>
#include <tuple>

using namespace mlir;
using namespace kvcc;
using namespace kvcc::lowering;

namespace {

constexpr int64_t kWarps = kGPUBlockThreads / 32;
/// Keys each lane group loads per trip of the key loop: 2 doubles the bytes
/// in flight (a warp at 1 KB a trip kept an H100 at 0.69 of its copy
/// bandwidth) and halves the online-softmax rescales.
constexpr int64_t kKeysPerLane = 2;
/// A per-call plan (max_splits) aims at this many decode CTAs per SM: a CTA of
/// 4 warps keeps too few bytes in flight to saturate an SM's share of the
/// memory bandwidth (on an H100, 512 CTAs reached 0.89 of the copy bandwidth
/// and 1,024 reached 0.92, at b64 c4096 GQA-4 d128).
constexpr int64_t kSplitCTAsPerSM = 2;

struct DecodeShape {
  /// maxSplits: the most splits a call may run (num_splits, max_splits or 1;
  /// 1 compiles no split path).
  int64_t groupSize, headDim, blockSize, maxSplits, kvHeads;
  double scale;
  bool causal;
  std::optional<int64_t> window;
  std::optional<double> softcap;
  kvc::CacheLayout layout;
  /// Sequences with more than one query go to the tensor-core prefill kernel.
  bool usePrefill = false;
  /// max_splits: each call plans its splits from its batch and the SM count.
  bool planPerCall = false;
  int64_t lanesPerKey() const { return headDim / 8; }
  int64_t keysPerWarp() const { return 32 / lanesPerKey(); }
};

/// Online-softmax state of one head in one lane.
struct HeadState {
  Value max, sum, acc; // f32, f32, vector<8xf32>
};

Value shuffleVector(ImplicitLocOpBuilder &b, Value vec, int64_t offset) {
  auto type = cast<VectorType>(vec.getType());
  Value out = vec;
  for (int64_t i = 0; i < type.getDimSize(0); ++i) {
    Value e = vector::ExtractOp::create(b, vec, ArrayRef<int64_t>{i});
    out = vector::InsertOp::create(b, shuffleXor(b, e, offset), out,
                                   ArrayRef<int64_t>{i});
  }
  return out;
}

/// Merges two online-softmax states (scores in base 2): max,
/// sum*2^(max - M), acc*2^(max - M).
HeadState merge(ImplicitLocOpBuilder &b, const HeadState &x, const HeadState &y) {
  Value m = arith::MaximumFOp::create(b, x.max, y.max);
  Value wx = fastExp2(b, arith::SubFOp::create(b, x.max, m));
  Value wy = fastExp2(b, arith::SubFOp::create(b, y.max, m));
  Value sum = arith::AddFOp::create(b, arith::MulFOp::create(b, x.sum, wx),
                                    arith::MulFOp::create(b, y.sum, wy));
  auto vt = cast<VectorType>(x.acc.getType());
  Value acc = vector::FMAOp::create(
      b, vector::BroadcastOp::create(b, vt, wy), y.acc,
      arith::MulFOp::create(b, x.acc, vector::BroadcastOp::create(b, vt, wx)));
  return {m, sum, acc};
}

struct PagedAttentionToGPU : OpConversionPattern<kvc::PagedAttentionOp> {
  PagedAttentionToGPU(const TypeConverter &converter, MLIRContext *context,
                      const AttentionKernelOptions &options)
      : OpConversionPattern(converter, context), options(options) {}
  AttentionKernelOptions options;

  LogicalResult
  matchAndRewrite(kvc::PagedAttentionOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto cacheType = op.getCache().getType();
    DecodeShape s{op.getGroupSize(),
                  cacheType.getHeadDim(),
                  cacheType.getBlockSize(),
                  static_cast<int64_t>(op.getNumSplits().value_or(op.getMaxSplits().value_or(1))),
                  cacheType.getNumKVHeads(),
                  op.getScale().convertToDouble(),
                  op.getCausal(),
                  std::nullopt,
                  std::nullopt,
                  cacheType.getLayout()};
    if (auto w = op.getSlidingWindow())
      s.window = static_cast<int64_t>(*w);
    if (auto c = op.getSoftcap())
      s.softcap = c->convertToDouble();
    s.planPerCall = op.getMaxSplits().has_value();
    int64_t D = s.headDim, G = s.groupSize;
    if (D % 8 != 0 || D > 256 || !llvm::isPowerOf2_64(D / 8))
      return op.emitOpError() << "the GPU kernel needs head_dim in {8, 16, 32, "
                                 "64, 128, 256}, got "
                              << D;
    s.usePrefill = prefillKernelApplies(cacheType.getElementType(), D, G);
    const bool tensorCoreDecode =
        s.usePrefill && options.decodeTensorCores && G >= kTensorCoreDecodeMinGroup;
    // The flash-decoding kernel merges its warps' states in shared memory;
    // a group that decodes on tensor cores does not use it.
    int64_t smemBytes = kWarps * G * (D + 2) * 4;
    if (smemBytes > 48 * 1024 && !tensorCoreDecode) {
      auto diag = op.emitOpError() << "the GPU kernel keeps " << G << " heads x " << D
                                   << " per warp in shared memory (" << smemBytes
                                   << " bytes), above 48 KiB";
      if (s.usePrefill && G >= kTensorCoreDecodeMinGroup)
        diag << "; the tensor-core decode (kvcc --gpu-decode-tensor-cores, on by default) "
                "serves this group";
      return diag;
    }
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    Loops L{b};
    auto resultType = op.getResult().getType();
    // Head counts from the query: the verifier keeps its dim 1 static.
    int64_t Hq = op.getQuery().getType().getDimSize(1);
    Value query = L.toBuffer(op.getQuery());
    Value tables = L.toBuffer(op.getBlockTables());
    Value lens = L.toBuffer(op.getContextLens());
    Value starts = L.toBuffer(op.getQueryStart());
    Value pages = adaptor.getCache();
    Value out = L.allocLike(resultType, query);
    Value tokens = memref::DimOp::create(b, query, 0);
    Value numSeqs = memref::DimOp::create(b, lens, 0);

    // The splits of this call, and their workspaces: partial accumulators
    // and (max, sum) pairs, [splits, rows, Hq, ...]. A call with a prefill
    // chunk (more rows than sequences) runs one split: its rows are few
    // sequences' many tokens, which fill the GPU already, and a workspace of
    // splits x tokens rows would be large. One split needs no workspace (0
    // rows: no allocation).
    //
    // No init launch: a call of several splits is all decode (each sequence
    // one row, ModelABI.h), so every split CTA of a sequence writes its
    // partials for that row, empty chunks included ((max, sum) = (kNoScore, 0)),
    // and with one split the decode or prefill kernel writes every row (a
    // row with no visible key gets zeros).
    Value splits = L.idx(1), several;
    Value wsAcc, wsStats;
    auto f32 = b.getF32Type();
    if (s.maxSplits > 1) {
      Value planned = s.planPerCall ? plannedSplits(b, s, numSeqs) : L.idx(s.maxSplits);
      Value decodeOnly = arith::CmpIOp::create(b, arith::CmpIPredicate::ule, tokens, numSeqs);
      splits = arith::SelectOp::create(b, decodeOnly, planned, L.idx(1));
      several = arith::CmpIOp::create(b, arith::CmpIPredicate::ugt, splits, L.idx(1));
      Value wsRows = arith::SelectOp::create(b, several, tokens, L.idx(0));
      int64_t dyn = ShapedType::kDynamic;
      wsAcc = memref::AllocOp::create(b, MemRefType::get({dyn, dyn, Hq, D}, f32),
                                      ValueRange{splits, wsRows});
      wsStats = memref::AllocOp::create(b, MemRefType::get({dyn, dyn, Hq, 2}, f32),
                                        ValueRange{splits, wsRows});
    }

    auto tensorCoreParams = [&](PrefillTile tile, bool decodeTokens) {
      return PrefillParams{G,       D,      s.blockSize, s.kvHeads, s.scale,
                           s.causal, s.window, s.softcap, s.layout, tile,
                           options.prefillLazyRescale, options.swizzleSharedMemory,
                           options.prefillWarpgroupMma && !decodeTokens,
                           options.prefillWarpgroupOverlap, decodeTokens, query, pages,
                           tables,  lens,   starts,      out};
    };
    // Decode tokens: the flash-decoding kernel, or for large groups the
    // decode instance of the tensor-core kernel (one 16-row MMA tile a warp,
    // 64 rows, so the group's G <= 64 heads, a decode token's rows, fit one
    // CTA; 64-key tiles; a decode step is memory-bound, so the rows past G,
    // whole idle warps for G <= 48, cost no time). Either splits the keys the
    // same way: the grid's x is the call's split count, and a call of
    // several leaves partials for the combine.
    if (tensorCoreDecode) {
      PrefillParams params = tensorCoreParams(PrefillTile{64, 64}, true);
      if (s.maxSplits > 1) {
        params.splits = splits;
        params.wsAcc = wsAcc;
        params.wsStats = wsStats;
      }
      emitPrefillAttention(b, params);
    } else {
      emitDecodeLaunch(b, s, splits, query, pages, tables, lens, starts, out, wsAcc, wsStats,
                       numSeqs);
    }
    if (s.maxSplits > 1)
      scf::IfOp::create(b, several, [&](OpBuilder &nb, Location loc) {
        ImplicitLocOpBuilder b(loc, nb);
        emitCombineKernel(b, s, Hq, tokens, wsAcc, wsStats, out);
        scf::YieldOp::create(b);
      });
    // Every sequence has at least one query row, so a step with as many rows
    // as sequences is all decode: the host skips the launch (one a layer).
    // (Only such a step splits, so the combine never overlaps these rows.)
    if (s.usePrefill) {
      Value anyChunk = arith::CmpIOp::create(b, arith::CmpIPredicate::ugt, tokens, numSeqs);
      scf::IfOp::create(b, anyChunk, [&](OpBuilder &nb, Location loc) {
        ImplicitLocOpBuilder b(loc, nb);
        emitPrefillAttention(b, tensorCoreParams(options.prefillTile, false));
        scf::YieldOp::create(b);
      });
    }
    rewriter.replaceOp(op, L.toTensor(resultType, out));
    return success();
  }

  /// The flash-decoding kernel: a CTA per (split, KV head, sequence); it
  /// leaves multi-token chunks to the prefill kernel where that applies.
  static void emitDecodeLaunch(ImplicitLocOpBuilder &b, const DecodeShape &s, Value splits,
                               Value query, Value pages, Value tables, Value lens, Value starts,
                               Value out, Value wsAcc, Value wsStats, Value numSeqs) {
    Loops L{b};
    const int64_t G = s.groupSize, D = s.headDim;
    auto f32 = b.getF32Type();
    auto workgroup = gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup);
    auto smemStats = MemRefType::get({kWarps, G, 2}, f32, nullptr, workgroup);
    auto smemAcc = MemRefType::get({kWarps, G, D}, f32, nullptr, workgroup);
    auto launch = gpu::LaunchOp::create(
        b, splits, L.idx(s.kvHeads), numSeqs, L.idx(kGPUBlockThreads), L.idx(1), L.idx(1),
        /*dynamicSmem=*/nullptr, /*asyncTokenType=*/nullptr, /*asyncDependencies=*/{},
        TypeRange{smemStats, smemAcc}, /*privateAttributions=*/{}, nullptr, nullptr, nullptr,
        kernelName(b, "kvc_paged_attention"), kernelName(b, "kvc_paged_attention"));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&launch.getBody().front());
    emitDecodeKernel(b, s, launch, query, pages, tables, lens, starts, out, wsAcc, wsStats);
    gpu::TerminatorOp::create(b);
  }

  /// A per-call plan: the most splits (up to max_splits, at least 1) that
  /// keep the call's CTAs within kSplitCTAsPerSM per SM of the device,
  /// whose SM count the runtime reports (kSMCountFunction).
  static Value plannedSplits(ImplicitLocOpBuilder &b, const DecodeShape &s, Value numSeqs) {
    Loops L{b};
    Value sms = func::CallOp::create(b, kSMCountFunction, TypeRange{b.getI32Type()},
                                     ValueRange{})
                    .getResult(0);
    sms = arith::IndexCastOp::create(b, b.getIndexType(), sms);
    Value ctas = L.maxS(L.mul(numSeqs, L.idx(s.kvHeads)), L.idx(1));
    Value fit = arith::DivSIOp::create(b, L.mul(sms, L.idx(kSplitCTAsPerSM)), ctas);
    return arith::MinSIOp::create(b, L.maxS(fit, L.idx(1)), L.idx(s.maxSplits));
  }

  static void emitDecodeKernel(ImplicitLocOpBuilder &b, const DecodeShape &s,
                               gpu::LaunchOp launch, Value query, Value pages,
                               Value tables, Value lens, Value starts, Value out,
                               Value wsAcc, Value wsStats) {
    Loops L{b};
    int64_t D = s.headDim, G = s.groupSize, LPK = s.lanesPerKey(),
            KPW = s.keysPerWarp();
    auto vec8 = VectorType::get({8}, b.getF32Type());
    Value smemStats = launch.getWorkgroupAttributions()[0];
    Value smemAcc = launch.getWorkgroupAttributions()[1];
    Value split = launch.getBlockIds().x, group = launch.getBlockIds().y,
          seq = launch.getBlockIds().z, tid = launch.getThreadIds().x;
    Value numSplits = launch.getGridSize().x;
    Value warp = L.divU(tid, L.idx(32)), lane = L.remU(tid, L.idx(32));
    Value keyInWarp = L.divU(lane, L.idx(LPK));
    Value dOff = L.mul(L.remU(lane, L.idx(LPK)), L.idx(8));
    Value firstHead = L.mul(group, L.idx(G));
    Value first = L.loadIndex(starts, {seq});
    Value end = L.loadIndex(starts, {L.add(seq, L.idx(1))});
    Value contextLen = L.loadIndex(lens, {seq});
    Value firstPos = L.sub(contextLen, L.sub(end, first));
    if (s.usePrefill) {
      // Prefill chunks belong to the tensor-core kernel: no token here.
      Value isPrefill = arith::CmpIOp::create(b, arith::CmpIPredicate::sgt,
                                              L.sub(end, first), L.idx(1));
      end = arith::SelectOp::create(b, isPrefill, first, end);
    }
    // 8 elements of a query or cache row in f32, whatever each stores.
    auto loadRow = [&](ImplicitLocOpBuilder &b, Value buffer,
                       ValueRange idx) -> Value {
      auto rowType = VectorType::get(
          {8}, cast<MemRefType>(buffer.getType()).getElementType());
      Value v = vector::LoadOp::create(b, rowType, buffer, idx,
                                       /*nontemporal=*/false, llvm::Align(16));
      return Loops{b}.toF32(v);
    };

    L.forLoop(first, end, [&](ImplicitLocOpBuilder &b, Value token) {
      Loops L{b};
      Value pos = L.add(firstPos, L.sub(token, first));
      Value splitLo, splitHi;
      std::tie(splitLo, splitHi) =
          L.visibleKeys(pos, contextLen, s.causal, s.window, numSplits, split);

      // The group's query heads, pre-scaled, 8 elements per lane. Scores
      // are in base 2 (scale·log2 e folded into Q; a soft-cap applies
      // log2 e after its tanh), so softmax weights are one ex2 each.
      Value scale = vector::BroadcastOp::create(
          b, vec8, Loops{b}.f32(s.softcap ? s.scale : s.scale * kLog2E));
      SmallVector<Value> q;
      for (int64_t h = 0; h < G; ++h)
        q.push_back(arith::MulFOp::create(
            b, loadRow(b, query, {token, L.add(firstHead, L.idx(h)), dOff}),
            scale));

      // Keys of this warp: warpStart + i * (4 * KPW) + keyInWarp.
      Value warpStart = L.add(splitLo, L.mul(warp, L.idx(KPW)));
      Value remaining = arith::SelectOp::create(
          b, arith::CmpIOp::create(b, arith::CmpIPredicate::ult, warpStart, splitHi),
          L.sub(splitHi, warpStart), L.idx(0));
      // Each lane loads kKeysPerLane keys a trip before any math (twice the
      // bytes in flight) and rescales its state once per trip.
      Value trips = L.ceilDiv(remaining, L.idx(kKeysPerLane * kWarps * KPW));
      SmallVector<Value> init;
      Value zero8 = arith::ConstantOp::create(
          b, DenseElementsAttr::get(vec8, b.getF32FloatAttr(0.0f)));
      for (int64_t h = 0; h < G; ++h)
        init.append({Loops{b}.f32(kNoScore), Loops{b}.f32(0.0), zero8});
      auto keyLoop = scf::ForOp::create(
          b, L.idx(0), trips, L.idx(1), init,
          [&](OpBuilder &nb, Location loc, Value it, ValueRange state) {
            ImplicitLocOpBuilder b(loc, nb);
            Loops L{b};
            // The trip's K/V rows as stored (8 elements of a 16-byte load),
            // all loaded before any math; each is widened to f32 only where
            // it is used, one row at a time, which keeps a half cache's rows
            // at half the registers while the loads are in flight.
            SmallVector<Value> ks, vs, valids;
            auto cacheRowType = VectorType::get(
                {8}, cast<MemRefType>(pages.getType()).getElementType());
            for (int64_t u = 0; u < kKeysPerLane; ++u) {
              Value step = L.add(L.mul(it, L.idx(kKeysPerLane)), L.idx(u));
              Value key = L.add(L.add(warpStart, L.mul(step, L.idx(kWarps * KPW))), keyInWarp);
              Value valid = arith::CmpIOp::create(b, arith::CmpIPredicate::ult, key, splitHi);
              Value safeKey = arith::SelectOp::create(b, valid, key, splitLo);
              Value page = L.loadIndex(tables, {seq, L.divU(safeKey, L.idx(s.blockSize))});
              Value offset = L.remU(safeKey, L.idx(s.blockSize));
              auto kIdx = L.cacheRow(s.layout, page, 0, offset, group);
              auto vIdx = L.cacheRow(s.layout, page, 1, offset, group);
              kIdx.back() = dOff;
              vIdx.back() = dOff;
              for (auto [rows, idx] : {std::pair{&ks, &kIdx}, std::pair{&vs, &vIdx}})
                rows->push_back(vector::LoadOp::create(b, cacheRowType, pages, *idx,
                                                       /*nontemporal=*/false, llvm::Align(16)));
              valids.push_back(valid);
            }
            Value negInf = Loops{b}.f32(-std::numeric_limits<double>::infinity());
            auto element = [&](Value v, int64_t i) -> Value {
              return vector::ExtractOp::create(b, v, ArrayRef<int64_t>{i});
            };
            // Scores of every head for key u, then the next key.
            SmallVector<SmallVector<Value>> scores(G);
            for (int64_t u = 0; u < kKeysPerLane; ++u) {
              Value k = L.toF32(ks[u]);
              for (int64_t h = 0; h < G; ++h) {
                // The lane's 8-element dot product as an FFMA chain.
                Value score = arith::MulFOp::create(b, element(q[h], 0), element(k, 0));
                for (int64_t i = 1; i < 8; ++i)
                  score = math::FmaOp::create(b, element(q[h], i), element(k, i), score);
                for (int64_t o = 1; o < LPK; o *= 2)
                  score = arith::AddFOp::create(b, score, shuffleXor(b, score, o));
                if (s.softcap) {
                  Value cap = Loops{b}.f32(*s.softcap);
                  score = arith::MulFOp::create(
                      b, Loops{b}.f32(*s.softcap * kLog2E),
                      math::TanhOp::create(b, arith::DivFOp::create(b, score, cap)));
                }
                scores[h].push_back(arith::SelectOp::create(b, valids[u], score, negInf));
              }
            }
            // Per head: the new max, one rescale of the state, the weights.
            SmallVector<Value> next;
            SmallVector<SmallVector<Value>> weights(G);
            for (int64_t h = 0; h < G; ++h) {
              Value m = state[3 * h], l = state[3 * h + 1], acc = state[3 * h + 2];
              Value mNew = m;
              for (Value score : scores[h])
                mNew = arith::MaximumFOp::create(b, mNew, score);
              Value corr = fastExp2(b, arith::SubFOp::create(b, m, mNew));
              Value lNew = arith::MulFOp::create(b, l, corr);
              for (int64_t u = 0; u < kKeysPerLane; ++u) {
                weights[h].push_back(fastExp2(b, arith::SubFOp::create(b, scores[h][u], mNew)));
                lNew = arith::AddFOp::create(b, lNew, weights[h][u]);
              }
              next.append({mNew, lNew,
                           arith::MulFOp::create(b, acc, vector::BroadcastOp::create(b, vec8, corr))});
            }
            // Every head's weighted V row of key u, then the next key.
            for (int64_t u = 0; u < kKeysPerLane; ++u) {
              Value v = L.toF32(vs[u]);
              for (int64_t h = 0; h < G; ++h)
                next[3 * h + 2] = vector::FMAOp::create(
                    b, vector::BroadcastOp::create(b, vec8, weights[h][u]), v, next[3 * h + 2]);
            }
            scf::YieldOp::create(b, next);
          });

      // Merge the lane groups of a warp, then the warps through shared memory.
      SmallVector<HeadState> st;
      for (int64_t h = 0; h < G; ++h)
        st.push_back({keyLoop.getResult(3 * h), keyLoop.getResult(3 * h + 1),
                      keyLoop.getResult(3 * h + 2)});
      for (int64_t o = LPK; o < 32; o *= 2)
        for (HeadState &x : st)
          x = merge(b, x, {shuffleXor(b, x.max, o), shuffleXor(b, x.sum, o),
                           shuffleVector(b, x.acc, o)});
      Value leader = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, keyInWarp,
                                           L.idx(0));
      scf::IfOp::create(b, leader, [&](OpBuilder &nb, Location loc) {
        ImplicitLocOpBuilder b(loc, nb);
        Loops L{b};
        for (int64_t h = 0; h < G; ++h) {
          memref::StoreOp::create(b, st[h].max, smemStats,
                                  ValueRange{warp, L.idx(h), L.idx(0)});
          memref::StoreOp::create(b, st[h].sum, smemStats,
                                  ValueRange{warp, L.idx(h), L.idx(1)});
          vector::StoreOp::create(b, st[h].acc, smemAcc,
                                  ValueRange{warp, L.idx(h), dOff});
        }
        scf::YieldOp::create(b);
      });
      gpu::BarrierOp::create(b);

      // Thread t finishes elements t, t + 128, ... of the G x D outputs: the
      // output with one split, else the split's partials. The branch on the
      // call's split count (the grid's x, uniform) encloses the loop: inside
      // it, both stores' registers left the G = 4 kernel 8 bytes of spills.
      auto finish = [&](OpBuilder &nb, Location loc, bool partials) {
        ImplicitLocOpBuilder b(loc, nb);
        scf::ForOp::create(
            b, tid, Loops{b}.idx(G * D), Loops{b}.idx(kGPUBlockThreads), ValueRange{},
            [&](OpBuilder &nb, Location loc, Value idx, ValueRange) {
              ImplicitLocOpBuilder b(loc, nb);
              Loops L{b};
              Value h = L.divU(idx, L.idx(D)), d = L.remU(idx, L.idx(D));
              Value m = Loops{b}.f32(kNoScore);
              for (int64_t w = 0; w < kWarps; ++w)
                m = arith::MaximumFOp::create(
                    b, m, memref::LoadOp::create(b, smemStats,
                                                 ValueRange{L.idx(w), h, L.idx(0)}));
              Value sum = Loops{b}.f32(0.0), acc = Loops{b}.f32(0.0);
              for (int64_t w = 0; w < kWarps; ++w) {
                Value wm = memref::LoadOp::create(b, smemStats,
                                                  ValueRange{L.idx(w), h, L.idx(0)});
                Value scaleW = fastExp2(b, arith::SubFOp::create(b, wm, m));
                Value ws = memref::LoadOp::create(b, smemStats,
                                                  ValueRange{L.idx(w), h, L.idx(1)});
                Value wa = memref::LoadOp::create(b, smemAcc, ValueRange{L.idx(w), h, d});
                sum = arith::AddFOp::create(b, sum, arith::MulFOp::create(b, ws, scaleW));
                acc = arith::AddFOp::create(b, acc, arith::MulFOp::create(b, wa, scaleW));
              }
              Value head = L.add(firstHead, h);
              if (!partials) {
                storeNormalized(b, acc, sum, out, {token, head, d});
                scf::YieldOp::create(b);
                return;
              }
              memref::StoreOp::create(b, acc, wsAcc, ValueRange{split, token, head, d});
              Value isFirst = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, d, L.idx(0));
              scf::IfOp::create(b, isFirst, [&](OpBuilder &nb, Location loc) {
                ImplicitLocOpBuilder b(loc, nb);
                Loops L{b};
                memref::StoreOp::create(b, m, wsStats, ValueRange{split, token, head, L.idx(0)});
                memref::StoreOp::create(b, sum, wsStats, ValueRange{split, token, head, L.idx(1)});
                scf::YieldOp::create(b);
              });
              scf::YieldOp::create(b);
            });
      };
      if (s.maxSplits == 1) {
        finish(b, b.getLoc(), /*partials=*/false);
      } else {
        Value alone = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, numSplits, L.idx(1));
        scf::IfOp::create(
            b, alone,
            [&](OpBuilder &nb, Location loc) {
              finish(nb, loc, /*partials=*/false);
              scf::YieldOp::create(nb, loc);
            },
            [&](OpBuilder &nb, Location loc) {
              finish(nb, loc, /*partials=*/true);
              scf::YieldOp::create(nb, loc);
            });
      }
      // Shared memory is reused by the next query token of the sequence.
      gpu::BarrierOp::create(b);
    });
  }

  /// out = acc / sum (0 when no key was visible), in the output type.
  static void storeNormalized(ImplicitLocOpBuilder &b, Value acc, Value sum,
                              Value out, ValueRange idx) {
    Value zero = Loops{b}.f32(0.0);
    Value positive = arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, sum, zero);
    Value o = arith::SelectOp::create(b, positive,
                                      arith::DivFOp::create(b, acc, sum), zero);
    Type elem = cast<MemRefType>(out.getType()).getElementType();
    if (!elem.isF32())
      o = arith::TruncFOp::create(b, elem, o);
    memref::StoreOp::create(b, o, out, idx);
  }

  /// One CTA per (token, query head), one thread per element of head_dim:
  /// merge the splits' partial results by log-sum-exp. The workspaces hold
  /// the call's splits (their dim 0).
  static void emitCombineKernel(ImplicitLocOpBuilder &b, const DecodeShape &s,
                                int64_t Hq, Value tokens, Value wsAcc,
                                Value wsStats, Value out) {
    Loops L{b};
    auto launch = gpu::LaunchOp::create(
        b, tokens, L.idx(Hq), L.idx(1), L.idx(s.headDim), L.idx(1), L.idx(1),
        nullptr, nullptr, {}, {}, {}, nullptr, nullptr, nullptr,
        kernelName(b, "kvc_split_kv_combine"), kernelName(b, "kvc_split_kv_combine"));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&launch.getBody().front());
    Loops K{b};
    Value t = launch.getBlockIds().x, h = launch.getBlockIds().y,
          d = launch.getThreadIds().x;
    Value numSplits = memref::DimOp::create(b, wsStats, 0);
    auto maxLoop = scf::ForOp::create(
        b, K.idx(0), numSplits, K.idx(1), ValueRange{K.f32(kNoScore)},
        [&](OpBuilder &nb, Location loc, Value sp, ValueRange m) {
          ImplicitLocOpBuilder b(loc, nb);
          Loops L{b};
          Value sm = memref::LoadOp::create(b, wsStats, ValueRange{sp, t, h, L.idx(0)});
          scf::YieldOp::create(b, ValueRange{arith::MaximumFOp::create(b, m[0], sm)});
        });
    Value m = maxLoop.getResult(0);
    auto sumLoop = scf::ForOp::create(
        b, K.idx(0), numSplits, K.idx(1), ValueRange{K.f32(0.0), K.f32(0.0)},
        [&](OpBuilder &nb, Location loc, Value sp, ValueRange state) {
          ImplicitLocOpBuilder b(loc, nb);
          Loops L{b};
          Value sm = memref::LoadOp::create(b, wsStats, ValueRange{sp, t, h, L.idx(0)});
          Value w = fastExp2(b, arith::SubFOp::create(b, sm, m)); // base-2 maxima
          Value sl = memref::LoadOp::create(b, wsStats, ValueRange{sp, t, h, L.idx(1)});
          Value sa = memref::LoadOp::create(b, wsAcc, ValueRange{sp, t, h, d});
          scf::YieldOp::create(
              b, ValueRange{arith::AddFOp::create(b, state[0], arith::MulFOp::create(b, sl, w)),
                            arith::AddFOp::create(b, state[1], arith::MulFOp::create(b, sa, w))});
        });
    storeNormalized(b, sumLoop.getResult(1), sumLoop.getResult(0), out, {t, h, d});
    gpu::TerminatorOp::create(b);
  }
};

} // namespace

void kvcc::populateKVCAttentionToGPUPatterns(const TypeConverter &converter,
                                             RewritePatternSet &patterns,
                                             const AttentionKernelOptions &options) {
  patterns.add<PagedAttentionToGPU>(converter, patterns.getContext(), options);
}
