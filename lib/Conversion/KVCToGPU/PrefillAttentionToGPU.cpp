//===- PrefillAttentionToGPU.cpp - FlashAttention-2 prefill on tensor cores -===//
//
// The prefill mapping of the attention algorithm (DESIGN.md §4): one CTA of
// 4 warps owns a tile of 64 or 128 query rows of one (sequence, KV head)
// (PrefillTile: one or two 16-row MMA tiles a warp); a row is a (token, query
// head of the group) pair, so the G heads of a GQA group share every K/V tile
// the CTA loads. Per K/V tile of N keys:
//
//   cp.async    the next tile's K and V rows (read through the block table,
//               any page size) into the other shared-memory stage while this
//               one is consumed (double buffering; PrefillKVCopy.cpp)
//   S = Q·Kᵀ    mma.sync m16n8k16 by ldmatrix, 16 rows a warp
//               (PrefillMmaSync.cpp), or on Hopper wgmma by shared-memory
//               descriptor, 64 rows a warpgroup (PrefillWarpgroupMma.cpp);
//               f16 or bf16 in, f32 accumulate
//   softmax     in base 2 (P = ex2(c·S - m), c = scale·log2 e: one FFMA and
//               one MUFU op an element); causal / window / context masks on
//               the accumulator fragments of the tiles that cross an edge
//               only; row max and sum across the 4 lanes of a quad, online
//               rescale (PrefillSoftmax.cpp)
//   O += P·V    P re-packed from the S fragments as the A operand (registers,
//               no shared memory)
//
// Keys outside [lo, hi) of the whole tile are never loaded (causal tiles past
// the diagonal are skipped); per-element masks handle the tiles that cross
// the diagonal, the window's edge or the end of the keys. Both GEMM paths
// leave S and O in mma.m16n8k16's C layout (lane = 4·group + t: c0,c1 row
// group, columns 2t..2t+1; c2,c3 row group + 8), so one softmax serves both.
//
// This file builds the kernel around those pieces: its shape and shared
// memory, where a CTA's row tile is, Q's staging, the K/V tile loop (and the
// order of its copies, MMAs and waits, which is what makes it fast) and the
// epilogue.
//
//===----------------------------------------------------------------------===//
#include "KernelBuilder.h"
#include "PrefillAttention.h"

#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"

#include <tuple>

using namespace mlir;
using namespace kvcc;
using namespace kvcc::lowering;

namespace {

constexpr int64_t kPrefillWarps = kGPUBlockThreads / 32;
/// The most CTAs a grid's y dimension takes.
constexpr int64_t kMaxGridY = 65535;
/// wgmma's 128-byte swizzle pattern repeats every 1024 bytes, from a
/// 1024-byte boundary.
constexpr int64_t kSwizzleAtomBytes = 1024;
/// The sequence that owns CTA slot `slot`: the last s in [0, numSeqs) with
/// firstSlotOf(s) <= slot, for an increasing firstSlotOf with
/// firstSlotOf(0) = 0. The CTA's THREADS threads test as many sequences a
/// step and count the owners with one bar.red.popc (one step up to 128 or
/// 256 sequences): no scan, no workspace, no host-side knowledge of the
/// batch.
Value sequenceOfSlot(ImplicitLocOpBuilder &b, Value tid, int64_t threads, Value numSeqs,
                     Value slot,
                     llvm::function_ref<Value(ImplicitLocOpBuilder &, Value)> firstSlotOf) {
  Loops L{b};
  Value zero = arith::ConstantOp::create(b, b.getI32IntegerAttr(0));
  auto loop = scf::ForOp::create(
      b, L.idx(0), numSeqs, L.idx(threads), ValueRange{zero},
      [&](OpBuilder &nb, Location loc, Value base, ValueRange state) {
        ImplicitLocOpBuilder b(loc, nb);
        Loops L{b};
        Value s = L.add(base, tid);
        Value inRange = arith::CmpIOp::create(b, arith::CmpIPredicate::ult, s, numSeqs);
        Value safe = arith::SelectOp::create(b, inRange, s, L.idx(0));
        Value owns = arith::AndIOp::create(
            b, inRange,
            arith::CmpIOp::create(b, arith::CmpIPredicate::ule, firstSlotOf(b, safe), slot));
        Value count = NVVM::BarrierOp::create(
                          b, b.getI32Type(), Value(), Value(),
                          NVVM::BarrierReductionAttr::get(b.getContext(), NVVM::BarrierReduction::POPC),
                          arith::ExtUIOp::create(b, b.getI32Type(), owns))
                          .getRes();
        scf::YieldOp::create(b, ValueRange{arith::AddIOp::create(b, state[0], count)});
      });
  Value owners = arith::IndexCastUIOp::create(b, b.getIndexType(), loop.getResult(0));
  return L.sub(owners, L.idx(1));
}


/// What a prefill kernel instance is at compile time: its tile, its warps
/// and its shared memory.
struct KernelShape {
  int64_t D, G;
  bool wgmma;
  /// wgmma, overlapped (FlashAttention-3's intra-warpgroup pipelining):
  /// iteration j issues S_j = Q·K_jᵀ and then O += P_{j-1}·V_{j-1}, waits
  /// for S_j only, and computes P_j while the P·V MMAs run; O is rescaled
  /// after them (O_j = corr_j·(O_{j-1} + P_{j-1}·V_{j-1}) is the same
  /// recurrence). V_{j-1} stays in shared memory while V_{j+1} lands: three
  /// V stages.
  bool overlap;
  int64_t vStages;
  /// Query rows and keys of a tile (wgmma: 128 by 128 unless the tile says).
  int64_t rows, keys;
  /// mma.sync: 4 warps, `mmaTiles` 16-row MMA tiles a warp; wgmma: a
  /// warpgroup of 4 warps per 64 rows, one 16-row slice a warp.
  int64_t warps, threads, mmaTiles;
  /// The tensor-core operand type is the cache's; a query of another type
  /// (an f32 model over an f16 cache) is converted while it is staged.
  Type elem, queryElem, outElem;
  SharedTileLayout layout;
  MemRefType sQType, sKType, sVType;
  /// Shared memory: the Q tile, then two stages of K tiles at byte kOffset,
  /// then the stages of V tiles at vOffset, and with the overlap a word a
  /// thread at anchorOffset (see "softmaxDone" in emitTileLoop); offsets from the tiles' start
  /// (wgmma: the first 1024-byte boundary, where its swizzle pattern starts;
  /// 1 KiB more to find one).
  int64_t kOffset, vOffset, anchorOffset, smemBytes;
  /// Bytes of one K or V stage.
  int64_t stageBytes;
  SharedTileOffsets offsets() const { return {kOffset, vOffset, stageBytes}; }

  explicit KernelShape(const PrefillParams &p) : D(p.headDim), G(p.groupSize) {
    wgmma = p.warpgroupMma;
    assert((!wgmma || p.swizzle) && "wgmma reads the 128-byte-swizzle layout");
    overlap = wgmma && p.warpgroupOverlap;
    vStages = overlap ? 3 : 2;
    rows = wgmma && !p.tile.rows ? 128 : p.tile.rowsFor(D);
    keys = wgmma && !p.tile.keys ? 128 : p.tile.keysFor(D);
    warps = wgmma ? rows / 16 : kPrefillWarps;
    threads = 32 * warps;
    mmaTiles = rows / (16 * warps);
    elem = cast<MemRefType>(p.pages.getType()).getElementType();
    queryElem = cast<MemRefType>(p.query.getType()).getElementType();
    outElem = cast<MemRefType>(p.out.getType()).getElementType();
    // mma.sync takes whole rows; wgmma the 128-byte rows of its swizzled
    // operand layout.
    const int64_t atomCols = wgmma ? 64 : D;
    layout = SharedTileLayout{D / atomCols, atomCols, p.swizzle};
    auto workgroup = gpu::AddressSpaceAttr::get(elem.getContext(), gpu::AddressSpace::Workgroup);
    auto tileType = [&](std::optional<int64_t> stages, int64_t tileRows) {
      SmallVector<int64_t> shape;
      if (stages)
        shape.push_back(*stages);
      if (layout.atoms > 1)
        shape.push_back(layout.atoms);
      shape.append({tileRows, atomCols});
      return MemRefType::get(shape, elem, nullptr, workgroup);
    };
    sQType = tileType(std::nullopt, rows);
    sKType = tileType(2, keys);
    sVType = tileType(vStages, keys);
    auto bytesOf = [](MemRefType t) {
      return t.getNumElements() * t.getElementTypeBitWidth() / 8;
    };
    kOffset = bytesOf(sQType);
    vOffset = kOffset + bytesOf(sKType);
    stageBytes = bytesOf(sKType) / 2;
    anchorOffset = vOffset + bytesOf(sVType);
    const int64_t anchorBytes = overlap ? threads * 4 : 0;
    smemBytes = anchorOffset + anchorBytes + (wgmma ? kSwizzleAtomBytes : 0);
  }
};

/// The K/V tile loop's state: per MMA tile t, D/8 O accumulators; then
/// (max, max) and (sum, sum) of its rows (quad, quad + 8) per tile; with the
/// overlap, the previous tile's P, an A fragment a k-step.
struct LoopState {
  int64_t mmaTiles, D;
  int64_t oAt(int64_t t, int64_t n) const { return t * (D / 8) + n; }
  int64_t accumulators() const { return mmaTiles * (D / 8); }
  int64_t maxAt(int64_t t, int64_t i) const { return accumulators() + 2 * t + i; }
  int64_t sumAt(int64_t t, int64_t i) const { return accumulators() + 2 * mmaTiles + 2 * t + i; }
  int64_t pAt(int64_t ks) const { return accumulators() + 4 * mmaTiles + ks; }
};

/// Builds one instance of the kernel, step by step.
/// A barrier that publishes the threads' shared-memory writes. wgmma reads
/// shared memory through the async proxy: with `toAsyncProxy` each thread
/// first fences its own writes (landed copies, stores) into it.
void publishSharedWrites(ImplicitLocOpBuilder &b, bool toAsyncProxy) {
  if (toAsyncProxy)
    NVVM::FenceProxyOp::create(
        b, NVVM::ProxyKind::async_shared,
        NVVM::SharedSpaceAttr::get(b.getContext(), NVVM::SharedSpace::shared_cta));
  gpu::BarrierOp::create(b);
}

class PrefillKernel {
public:
  explicit PrefillKernel(const PrefillParams &p)
      : p(p), s(p), state{s.mmaTiles, s.D} {}
  void emit(ImplicitLocOpBuilder &b);

private:
  /// The gpu.launch: its grid and dynamic shared memory.
  void launchGrid(ImplicitLocOpBuilder &b);
  /// The Q, K and V tiles (and the overlap's anchor) as views of the
  /// launch's shared memory.
  void carveSharedMemory(ImplicitLocOpBuilder &b);
  /// The CTA's KV head, sequence and row tile, and whether it has one.
  void placeRowTile(ImplicitLocOpBuilder &b);
  /// The work of a CTA with a row tile: its keys, Q, the K/V tile loop and
  /// the epilogue.
  void emitRowTile(ImplicitLocOpBuilder &b);
  /// Q's rows of the tile into shared memory (cp.async, or converted).
  void stageQuery(ImplicitLocOpBuilder &b);
  /// The loop over the row tile's K/V tiles; its results are the state.
  scf::ForOp emitTileLoop(ImplicitLocOpBuilder &b, const PagedTileCopier &copier,
                          const TileSoftmax &softmax, Value prologue);
  /// O / l of the rows that exist (or a split's partials).
  void storeRows(ImplicitLocOpBuilder &b, scf::ForOp loop, ArrayRef<Value> finalO);
  /// The lane's accumulator rows (placeRowTile sets their values).
  FragmentRows fragmentRows() const { return {rowBase, warpRow, quad}; }
  /// The prefill grid's first slot of sequence `seq`, whose rows start at
  /// query row `start` (launchGrid says why).
  Value firstSlot(ImplicitLocOpBuilder &b, Value seq, Value start) const;

  const PrefillParams &p;
  const KernelShape s;
  const LoopState state;
  gpu::LaunchOp launch;
  Value numSeqs;
  // Shared memory: the launch's dynamic buffer and the tiles' views of it.
  Value buffer, tilesAddress, sQ, sK, sV, sAnchor;
  // The thread, and the CTA's (KV head, sequence, row tile).
  Value tid, warp, lane, quad, t4, group, seq, slot, first, qlen, ctx;
  Value rowBase, warpRow, mine;
  // The row tile's keys [lo, hi) in numTiles K/V tiles (lo32: as the
  // loop's i32 positions), and the decode instance's split.
  Value lo, hi, split, numTiles, lo32;
  // The GEMMs (emitRowTile makes one before the tile loop): mma.sync by
  // ldmatrix (PrefillMmaSync.cpp), or wgmma by shared-memory descriptor
  // (PrefillWarpgroupMma.cpp).
  std::optional<MmaSyncTiles> mmaSync;
  std::optional<WarpgroupTiles> warpgroup;
};

void PrefillKernel::emit(ImplicitLocOpBuilder &b) {
  launchGrid(b);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&launch.getBody().front());
  carveSharedMemory(b);
  tid = launch.getThreadIds().x;
  placeRowTile(b);
  scf::IfOp::create(b, mine, [&](OpBuilder &nb, Location loc) {
    ImplicitLocOpBuilder b(loc, nb);
    emitRowTile(b);
    scf::YieldOp::create(b);
  });
  gpu::TerminatorOp::create(b);
}

void PrefillKernel::launchGrid(ImplicitLocOpBuilder &b) {
  Loops L{b};
  Value tokens = memref::DimOp::create(b, p.query, 0);
  numSeqs = memref::DimOp::create(b, p.contextLens, 0);
  // Enough row tiles for the longest possible chunk (every token of the
  // step); a decode token's G rows fit one tile.
  assert((!p.decodeTokens || s.G <= s.rows) && "a decode token's heads fit one row tile");
  // The decode instance: one row tile a (split, KV head, sequence). The
  // prefill instance: a grid of (KV head, slot), the KV head fastest (x), the
  // slot in y and z, where sequence s owns the slots [f(s), f(s + 1)) with
  // f(s) = floor(query_start[s]·G / rows) + s: at least as many as its
  // ceil(qlen·G / rows) row tiles (f(s + 1) - f(s) > qlen·G / rows), at most
  // two to spare, and f(B) = floor(tokens·G / rows) + B in all. So a ragged
  // batch launches about the CTAs it has work for (a grid of every row tile
  // of the longest possible chunk for every sequence was mostly empty CTAs),
  // and a sequence's slots take its row tiles last first: a causal row tile
  // sees more keys the later it is, so a sequence's heaviest CTAs start first
  // and its lightest fill the tail (longest-processing-time order for one
  // chunk; a batch runs it sequence by sequence).
  // (The slots take grid y and z, y < 2^16: the KV head stays a special
  // register, which ptxas re-reads instead of keeping it live.)
  Value slots = firstSlot(b, numSeqs, tokens);
  assert(!p.splits == !p.wsAcc && !p.splits == !p.wsStats &&
         "a split plan comes with its workspaces");
  assert((!p.splits || p.decodeTokens) && "only the decode instance splits");
  Value gridX = p.decodeTokens ? (p.splits ? p.splits : L.idx(1)) : L.idx(p.kvHeads);
  Value gridY = p.decodeTokens ? L.idx(p.kvHeads) : L.minU(slots, L.idx(kMaxGridY));
  Value gridZ = p.decodeTokens ? numSeqs : L.ceilDiv(slots, L.idx(kMaxGridY));
  auto name = kernelName(b, p.decodeTokens ? "kvc_decode_mma_attention" : "kvc_prefill_attention");
  Value dynamicBytes = arith::ConstantIntOp::create(b, s.smemBytes, 32);
  launch = gpu::LaunchOp::create(b, gridX, gridY, gridZ, L.idx(s.threads), L.idx(1), L.idx(1),
                                 dynamicBytes, nullptr, {}, {}, {}, nullptr, nullptr, nullptr,
                                 name, name);
}

void PrefillKernel::carveSharedMemory(ImplicitLocOpBuilder &b) {
  // The tiles are views of the launch's dynamic shared memory (one i8
  // buffer: the ldmatrix addresses are byte offsets into it, see
  // ldmatrixAt); past 48 KiB the runtime opts the kernel in on its first
  // launch. MLIR lowers gpu.dynamic_shared_memory to a zero-length shared
  // global at offset 0 of the CTA's window (ptxas reports 1 byte).
  Loops K{b};
  auto workgroup = gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup);
  auto raw = MemRefType::get({ShapedType::kDynamic}, b.getI8Type(), nullptr, workgroup);
  buffer = gpu::DynamicSharedMemoryOp::create(b, raw);
  // wgmma: the tiles start `pad` bytes in, at shared-window address
  // `tilesAddress` (a multiple of 1024).
  Value pad = K.idx(0);
  if (s.wgmma) {
    Value address = memref::ExtractAlignedPointerAsIndexOp::create(b, buffer);
    pad = K.remU(K.sub(K.idx(kSwizzleAtomBytes), K.remU(address, K.idx(kSwizzleAtomBytes))),
                 K.idx(kSwizzleAtomBytes));
    tilesAddress = K.add(address, pad);
  }
  sQ = memref::ViewOp::create(b, s.sQType, buffer, pad, ValueRange{});
  sK = memref::ViewOp::create(b, s.sKType, buffer, K.add(pad, K.idx(s.kOffset)), ValueRange{});
  sV = memref::ViewOp::create(b, s.sVType, buffer, K.add(pad, K.idx(s.vOffset)), ValueRange{});
  if (s.overlap)
    sAnchor = memref::ViewOp::create(
        b, MemRefType::get({s.threads}, b.getF32Type(), nullptr, workgroup), buffer,
        K.add(pad, K.idx(s.anchorOffset)), ValueRange{});
}

void PrefillKernel::placeRowTile(ImplicitLocOpBuilder &b) {
  Loops K{b};
  const int64_t G = s.G, rows = s.rows;
  if (p.decodeTokens) {
    group = launch.getBlockIds().y;
    seq = launch.getBlockIds().z;
  } else {
    group = launch.getBlockIds().x;
    slot = K.add(launch.getBlockIds().y, K.mul(launch.getBlockIds().z, K.idx(kMaxGridY)));
    seq = sequenceOfSlot(b, tid, s.threads, numSeqs, slot, [&](ImplicitLocOpBuilder &b, Value seq) {
      return firstSlot(b, seq, Loops{b}.loadIndex(p.queryStart, {seq}));
    });
  }
  warp = K.divU(tid, K.idx(32));
  lane = K.remU(tid, K.idx(32));
  quad = K.divU(lane, K.idx(4));
  t4 = K.remU(lane, K.idx(4));
  first = K.loadIndex(p.queryStart, {seq});
  qlen = K.sub(K.loadIndex(p.queryStart, {K.add(seq, K.idx(1))}), first);
  ctx = K.loadIndex(p.contextLens, {seq});
  // The slot's row tile, counted from the sequence's last.
  Value rowTile = K.idx(0), slotIsTile;
  if (!p.decodeTokens) {
    Value tiles = K.ceilDiv(K.mul(qlen, K.idx(G)), K.idx(rows));
    Value rank = K.sub(slot, firstSlot(b, seq, first));
    slotIsTile = arith::CmpIOp::create(b, arith::CmpIPredicate::ult, rank, tiles);
    rowTile = arith::SelectOp::create(b, slotIsTile, K.sub(K.sub(tiles, K.idx(1)), rank), K.idx(0));
  }
  rowBase = K.mul(rowTile, K.idx(rows));
  // Warp w owns rows [16·MT·w, 16·MT·(w + 1)) of the tile: MMA tile t of it
  // starts at warpRow + 16·t.
  warpRow = K.mul(warp, K.idx(16 * s.mmaTiles));
  // Decode tokens (one query) go to the decode kernel or instance, chunks
  // to the prefill instance; spare slots exit.
  mine = arith::CmpIOp::create(
      b, p.decodeTokens ? arith::CmpIPredicate::eq : arith::CmpIPredicate::sgt, qlen, K.idx(1));
  if (slotIsTile)
    mine = arith::AndIOp::create(b, mine, slotIsTile);
}

Value PrefillKernel::firstSlot(ImplicitLocOpBuilder &b, Value seq, Value start) const {
  Loops L{b};
  return L.add(L.divU(L.mul(start, L.idx(s.G)), L.idx(s.rows)), seq);
}

void PrefillKernel::stageQuery(ImplicitLocOpBuilder &b) {
  // Q rows of the tile, row r = (token r / G, head r % G); out-of-range rows
  // are zero-filled by the copy.
  const int64_t D = s.D, G = s.G;
  auto tokenType = nvgpu::DeviceAsyncTokenType::get(b.getContext());
  blockStrided(b, tid, s.rows * D / 8, [&](ImplicitLocOpBuilder &b, Value c) {
    Loops L{b};
    Value r = L.divU(c, L.idx(D / 8)), col = L.mul(L.remU(c, L.idx(D / 8)), L.idx(8));
    Value prow = L.add(rowBase, r);
    SmallVector<Value> at = s.layout.indices(b, {}, r, col);
    Value tok = L.divU(prow, L.idx(G)), head = L.remU(prow, L.idx(G));
    Value valid = arith::CmpIOp::create(b, arith::CmpIPredicate::slt, tok, qlen);
    Value safeTok = arith::SelectOp::create(b, valid, tok, L.idx(0));
    SmallVector<Value> src = {L.add(first, safeTok), L.add(L.mul(group, L.idx(G)), head), col};
    if (s.queryElem == s.elem) {
      Value n = arith::SelectOp::create(b, valid, L.idx(8), L.idx(0));
      nvgpu::DeviceAsyncCopyOp::create(b, tokenType, sQ, at, p.query, src, b.getIndexAttr(8), n,
                                       nullptr);
      return;
    }
    // Q is read once per CTA: a plain load, rounded to the operand type
    // (the barrier before the first ldmatrix publishes it).
    auto chunk = VectorType::get({8}, s.queryElem);
    Value row = vector::LoadOp::create(b, chunk, p.query, src, false, llvm::Align(16));
    Value zero = zeros(b, VectorType::get({8}, s.elem));
    Value staged = arith::SelectOp::create(b, valid, L.convertTo(row, s.elem), zero);
    vector::StoreOp::create(b, staged, sQ, at, false, llvm::Align(16));
  }, s.threads);
}

void PrefillKernel::emitRowTile(ImplicitLocOpBuilder &b) {
  Loops L{b};
  const int64_t D = s.D, G = s.G, N = s.keys;
  auto tokenType = nvgpu::DeviceAsyncTokenType::get(b.getContext());
  Value firstPos = L.sub(ctx, qlen);
  Value lastTok = arith::MinSIOp::create(
      b, L.sub(qlen, L.idx(1)), L.divU(L.add(rowBase, L.idx(s.rows - 1)), L.idx(G)));
  Value tileFirstPos = L.add(firstPos, L.divU(rowBase, L.idx(G)));
  Value tileLastPos = L.add(firstPos, lastTok);
  // Keys any row of this tile may see: the tile-level causal skip.
  hi = ctx;
  if (p.causal)
    hi = arith::MinSIOp::create(b, L.maxS(L.add(tileLastPos, L.idx(1)), L.idx(0)), ctx);
  lo = L.idx(0);
  if (p.window)
    lo = L.maxS(L.sub(L.add(tileFirstPos, L.idx(1)), L.idx(*p.window)), L.idx(0));
  // A split of the decode instance takes its share of [lo, hi) in whole
  // K/V tiles (no split boundary inside a tile); a share past hi is empty.
  if (p.splits) {
    split = launch.getBlockIds().x;
    std::tie(lo, hi) = L.splitRange(lo, hi, launch.getGridSize().x, split, N);
  }
  Value hasKeys = arith::CmpIOp::create(b, arith::CmpIPredicate::slt, lo, hi);
  numTiles = arith::SelectOp::create(b, hasKeys, L.ceilDiv(L.sub(hi, lo), L.idx(N)), L.idx(0));

  stageQuery(b);
  lo32 = toI32(b, lo);
  Value hi32 = toI32(b, hi);
  Value tileFirstPos32 = toI32(b, tileFirstPos);
  Value tileLastPos32 = toI32(b, tileLastPos);
  Value firstPos32 = toI32(b, firstPos);
  PagedTileCopier copier(b, p, s.layout, N, s.threads, tid, group, seq, lo32, hi32, sK, sV);
  TileSoftmax softmax(p, s.elem, N, s.mmaTiles, t4, firstPos32, tileFirstPos32, tileLastPos32,
                      hi32, fragmentRows());
  // The overlap's first iteration multiplies P_{-1} = 0 by V stage 2
  // (tile -1's): zeros, not whatever bits were left there (0·NaN is NaN).
  // The first iteration's fence and barrier publish them.
  if (s.overlap)
    blockStrided(b, tid, N * D / 8, [&](ImplicitLocOpBuilder &b, Value c) {
      Loops L{b};
      Value key = L.divU(c, L.idx(D / 8)), col = L.mul(L.remU(c, L.idx(D / 8)), L.idx(8));
      vector::StoreOp::create(b, zeros(b, VectorType::get({8}, s.elem)), sV, s.layout.indices(b, {L.idx(s.vStages - 1)}, key, col),
                              false, llvm::Align(16));
    }, s.threads);
  scf::IfOp::create(b, hasKeys, [&](OpBuilder &nb, Location loc) {
    ImplicitLocOpBuilder b(loc, nb);
    Loops L{b};
    copier.copy(b, L.idx(0), L.idx(0), copier.lookUpPages(b, L.idx(0)));
    scf::YieldOp::create(b);
  });
  // The prologue's group: Q and the first K/V tile.
  Value prologue = nvgpu::DeviceAsyncCreateGroupOp::create(b, tokenType, ValueRange{});
  if (s.wgmma)
    warpgroup.emplace(b, tilesAddress, warp, s.elem, s.offsets(), s.rows, N, s.D);
  else
    mmaSync.emplace(b, buffer, lane, warpRow, s.elem, s.offsets(), N, s.D, s.mmaTiles, p.swizzle);
  scf::ForOp loop = emitTileLoop(b, copier, softmax, prologue);

  // A tile with no visible key never waited for its Q copies.
  nvgpu::DeviceAsyncWaitOp::create(b, prologue, b.getI32IntegerAttr(0));
  SmallVector<Value> finalO(loop.getResults().take_front(state.accumulators()));
  if (s.overlap) {
    // The last tile's P·V (V stage (tiles - 1) mod 3; with no tile, P = 0
    // over the zeroed stage 2, which this fence and barrier publish).
    publishSharedWrites(b, /*toAsyncProxy=*/true);
    warpgroup->accumulate(b, L.remU(L.add(numTiles, L.idx(s.vStages - 1)), L.idx(s.vStages)),
                          SmallVector<Value>(loop.getResults().slice(state.pAt(0), N / 16)),
                          finalO);
  }
  storeRows(b, loop, finalO);
}

scf::ForOp PrefillKernel::emitTileLoop(ImplicitLocOpBuilder &b, const PagedTileCopier &copier,
                                       const TileSoftmax &softmax, Value prologue) {
  const int64_t D = s.D, N = s.keys, MT = s.mmaTiles, vStages = s.vStages;
  const bool wgmma = s.wgmma, overlap = s.overlap;
  auto tokenType = nvgpu::DeviceAsyncTokenType::get(b.getContext());
  auto acc = VectorType::get({2, 2}, b.getF32Type());
  auto aType = VectorType::get({4, 2}, s.elem);
  SmallVector<Value> init(state.accumulators(), zeros(b, acc));
  init.append(2 * MT, Loops{b}.f32(kNoScore));
  init.append(2 * MT, Loops{b}.f32(0.0));
  if (overlap)
    init.append(N / 16, zeros(b, aType));
  return scf::ForOp::create(
      b, Loops{b}.idx(0), numTiles, Loops{b}.idx(1), init,
      [&](OpBuilder &nb, Location loc, Value j, ValueRange iterArgs) {
        ImplicitLocOpBuilder b(loc, nb);
        Loops L{b};
        // Stage (j + offset) mod stages, in 32 bits (the V stages' mod 3 in
        // 64-bit index math was ten instructions a warp and tile).
        Value j32 = toI32(b, j);
        auto stageOf = [&](int64_t offset, int64_t stages) -> Value {
          Value n = offset ? arith::AddIOp::create(b, j32, c32(b, offset)) : j32;
          return arith::IndexCastUIOp::create(b, b.getIndexType(),
                                              arith::RemUIOp::create(b, n, c32(b, stages)));
        };
        Value stage = stageOf(0, 2);
        Value next = L.add(j, L.idx(1));
        // mma.sync: the block-table reads of tile j + 1 first, so the
        // barrier's wait hides their latency. Then tile j has landed (this
        // thread's copies, then everyone's at the barrier), and every warp
        // is done with tile j - 1, whose stage the copies of tile j + 1
        // overwrite: one barrier a tile, and the copies have a whole tile
        // to land. Past the last tile every chunk is out of range and
        // zero-fills the stage of tile j - 1, which no one reads again
        // (unconditional, so the reads are not sunk into a branch next to
        // their use).
        // wgmma: the reads, the address math and the copies of tile j + 1
        // all come behind this iteration's MMAs, while the warp would wait
        // for S anyway: between the wait for the last P·V and the next
        // MMAs (the tensor cores' idle window) ptxas left ~140
        // instructions a warp of them, the block-table reads included.
        SmallVector<PagedTileCopier::ChunkSource> nextSources;
        if (!wgmma)
          nextSources = copier.lookUpPages(b, next);
        nvgpu::DeviceAsyncWaitOp::create(b, prologue, b.getI32IntegerAttr(0));
        // The landed copies (and Q's stores), to every thread (and to wgmma).
        publishSharedWrites(b, /*toAsyncProxy=*/wgmma);
        auto copyNextTile = [&] {
          copier.copy(b, stageOf(1, 2), stageOf(1, vStages),
                      wgmma ? copier.lookUpPages(b, next) : nextSources);
          nvgpu::DeviceAsyncCreateGroupOp::create(b, tokenType, ValueRange{});
        };

        // S = Q Kᵀ for this warp's 16·MT rows and the tile's N keys.
        SmallVector<SmallVector<Value>> scores(MT);
        // The overlap: S_j's group, then P_{j-1}·V_{j-1}'s (V stage
        // (j - 1) mod 3) on O as the last iteration left it.
        Value pendingO;
        std::optional<WarpgroupTiles::Operands> operands;
        if (wgmma) {
          if (overlap)
            operands = warpgroup->accumulateOperands(
                b, llvm::to_vector(iterArgs.slice(state.pAt(0), N / 16)),
                llvm::to_vector(iterArgs.take_front(D / 8)));
          warpgroup->fence(b);
          Value pendingS = warpgroup->issueScores(b, stage);
          if (overlap)
            pendingO = warpgroup->issueAccumulate(
                b, stageOf(vStages - 1, vStages), *operands);
          copyNextTile(); // (stages last read by MMAs retired before the barrier)
          scores[0] = warpgroup->retired(b, pendingS, /*inFlight=*/overlap ? 1 : 0);
        } else {
          copyNextTile();
          scores = mmaSync->scores(b, stage);
        }
        Value tileStart32 =
            arith::AddIOp::create(b, lo32, arith::MulIOp::create(b, j32, c32(b, N)));
        SmallVector<Value> yield(iterArgs.begin(), iterArgs.end());
        TileSoftmax::Step step =
            softmax.step(b, scores, tileStart32, iterArgs.slice(state.maxAt(0, 0), 2 * MT),
                         iterArgs.slice(state.sumAt(0, 0), 2 * MT));
        llvm::copy(step.max, yield.begin() + state.maxAt(0, 0));
        llvm::copy(step.sum, yield.begin() + state.sumAt(0, 0));
        // Rescale O rows (with the lazy rescale only when a max moved: a
        // uniform branch), then O += P V; each V fragment serves all MT row
        // tiles.
        // O before its rescale: the overlap's after P_{j-1}·V_{j-1}.
        SmallVector<Value> oIn(iterArgs.take_front(state.accumulators()));
        if (overlap) {
          // softmaxDone: ptxas schedules the wait for P_{j-1}·V_{j-1} as
          // early as it can (at the top of the softmax's block), which
          // left the exponentials behind it and the tensor cores idle
          // beside them. It keeps shared-memory stores and the wait in
          // order, so a store of a value every exponential feeds (the
          // row sums) pins the wait after them: one FADD and one
          // conflict-free STS a thread a tile (cuda-wgmma-sass.test
          // checks the order: every MUFU between the two waits).
          Value sums = arith::AddFOp::create(b, step.sum[0], step.sum[1]);
          memref::StoreOp::create(b, sums, sAnchor, ValueRange{tid});
          oIn = warpgroup->retired(b, pendingO, /*inFlight=*/0, &*operands);
        }
        auto rescaled = [&](ImplicitLocOpBuilder &b) {
          SmallVector<Value> o;
          for (int64_t t = 0; t < MT; ++t)
            for (int64_t n = 0; n < D / 8; ++n)
              o.push_back(arith::MulFOp::create(b, oIn[state.oAt(t, n)], step.corr[t]));
          return o;
        };
        if (step.rescale) {
          auto branch = scf::IfOp::create(
              b, step.rescale,
              [&](OpBuilder &nb, Location loc) {
                ImplicitLocOpBuilder b(loc, nb);
                scf::YieldOp::create(b, rescaled(b));
              },
              [&](OpBuilder &nb, Location loc) {
                ImplicitLocOpBuilder b(loc, nb);
                scf::YieldOp::create(b, oIn);
              });
          llvm::copy(branch.getResults(), yield.begin());
        } else {
          llvm::copy(rescaled(b), yield.begin());
        }
        // P of MMA tile t, keys 16ks..16ks+15, as an A fragment: a0 = (row
        // quad, k lo), a1 = (quad + 8, k lo), a2 = (quad, k hi), a3.
        auto pOperand = [&](int64_t t, int64_t ks) -> Value {
          SmallVector<Value> aElems;
          for (int64_t half : {0, 1})       // k columns 0-7, then 8-15
            for (int64_t i = 0; i < 2; ++i) // rows quad, quad + 8
              for (int64_t jj = 0; jj < 2; ++jj)
                aElems.push_back(extract(b, step.p[t][2 * ks + half], i, jj));
          return vector::FromElementsOp::create(b, aType, aElems);
        };
        if (wgmma) {
          // One MMA tile a warp. The overlap carries P_j to the next
          // iteration's (or the tail's) P·V; else O += P V for the
          // warpgroup's 64 rows now.
          SmallVector<Value> pFragments;
          for (int64_t ks = 0; ks < N / 16; ++ks)
            pFragments.push_back(pOperand(0, ks));
          if (overlap)
            llvm::copy(pFragments, yield.begin() + state.pAt(0));
          else
            warpgroup->accumulate(b, stage, pFragments,
                                  MutableArrayRef<Value>(yield).take_front(D / 8));
        } else {
          mmaSync->accumulate(b, stage, pOperand,
                              MutableArrayRef<Value>(yield).take_front(state.accumulators()));
        }
        scf::YieldOp::create(b, yield);
      });
}

void PrefillKernel::storeRows(ImplicitLocOpBuilder &b, scf::ForOp loop, ArrayRef<Value> finalO) {
  // O / l, rows that exist only.
  const int64_t D = s.D, G = s.G;
  Value qlen32 = toI32(b, qlen);
  for (int64_t t = 0; t < s.mmaTiles; ++t)
    for (int64_t i = 0; i < 2; ++i) {
      Value prow = fragmentRows().at(b, t, i);
      Value tok32 = arith::DivUIOp::create(b, prow, c32(b, G));
      Value exists = arith::CmpIOp::create(b, arith::CmpIPredicate::slt, tok32, qlen32);
      Value tok = arith::IndexCastUIOp::create(b, b.getIndexType(), tok32);
      Value head = arith::IndexCastUIOp::create(b, b.getIndexType(),
                                                arith::RemUIOp::create(b, prow, c32(b, G)));
      Value sum = loop.getResult(state.sumAt(t, i));
      Value positive = arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, sum, Loops{b}.f32(0.0));
      Value inv = arith::SelectOp::create(
          b, positive, arith::DivFOp::create(b, Loops{b}.f32(1.0), sum), Loops{b}.f32(0.0));
      // The row's O / l into the output, or (`partial`, a split of several)
      // its unnormalized O and (max, sum) into the split workspaces.
      auto storeRow = [&](ImplicitLocOpBuilder &b, bool partial) {
        Loops L{b};
        Value token = L.add(first, tok), qHead = L.add(L.mul(group, L.idx(G)), head);
        for (int64_t n = 0; n < D / 8; ++n) {
          if (partial) {
            // The lane's two adjacent columns in one 8-byte store.
            Value pair = vector::ExtractOp::create(b, finalO[state.oAt(t, n)], ArrayRef<int64_t>{i});
            vector::StoreOp::create(
                b, pair, p.wsAcc,
                ValueRange{split, token, qHead, L.add(L.idx(n * 8), L.mul(t4, L.idx(2)))});
            continue;
          }
          for (int64_t jj = 0; jj < 2; ++jj) {
            Value o = extract(b, finalO[state.oAt(t, n)], i, jj);
            Value d = L.add(L.idx(n * 8 + jj), L.mul(t4, L.idx(2)));
            memref::StoreOp::create(b, L.fromF32(arith::MulFOp::create(b, o, inv), s.outElem),
                                    p.out, ValueRange{token, qHead, d});
          }
        }
        if (!partial)
          return;
        // The quad's 4 lanes hold the row's (max, sum) alike: one stores it.
        Value lead = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, t4, L.idx(0));
        scf::IfOp::create(b, lead, [&](OpBuilder &nb, Location loc) {
          ImplicitLocOpBuilder b(loc, nb);
          Loops L{b};
          memref::StoreOp::create(b, loop.getResult(state.maxAt(t, i)), p.wsStats,
                                  ValueRange{split, token, qHead, L.idx(0)});
          memref::StoreOp::create(b, sum, p.wsStats, ValueRange{split, token, qHead, L.idx(1)});
          scf::YieldOp::create(b);
        });
      };
      scf::IfOp::create(b, exists, [&](OpBuilder &nb, Location loc) {
        ImplicitLocOpBuilder b(loc, nb);
        Loops L{b};
        if (!p.wsAcc) {
          storeRow(b, false);
        } else {
          // Several splits (uniform: the grid's x) leave partials for the
          // combine; one writes the row.
          Value several = arith::CmpIOp::create(b, arith::CmpIPredicate::ugt,
                                                launch.getGridSize().x, L.idx(1));
          scf::IfOp::create(
              b, several,
              [&](OpBuilder &nb, Location loc) {
                ImplicitLocOpBuilder b(loc, nb);
                storeRow(b, true);
                scf::YieldOp::create(b);
              },
              [&](OpBuilder &nb, Location loc) {
                ImplicitLocOpBuilder b(loc, nb);
                storeRow(b, false);
                scf::YieldOp::create(b);
              });
        }
        scf::YieldOp::create(b);
      });
    }
}

} // namespace

void kvcc::emitPrefillAttention(ImplicitLocOpBuilder &b, const PrefillParams &p) {
  PrefillKernel(p).emit(b);
}
