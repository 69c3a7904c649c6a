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
//               one is consumed (double buffering)
//   S = Q·Kᵀ    mma.sync m16n8k16 by ldmatrix, 16 rows a warp
//               (PrefillMmaSync.cpp), or on Hopper wgmma by shared-memory
//               descriptor, 64 rows a warpgroup (PrefillWarpgroupMma.cpp);
//               f16 or bf16 in, f32 accumulate
//   softmax     in base 2 (P = ex2(c·S - m), c = scale·log2 e: one FFMA and
//               one MUFU op an element); causal / window / context masks on
//               the accumulator fragments of the tiles that cross an edge
//               only; row max and sum across the 4 lanes of a quad, online
//               rescale
//   O += P·V    P re-packed from the S fragments as the A operand (registers,
//               no shared memory)
//
// Keys outside [lo, hi) of the whole tile are never loaded (causal tiles past
// the diagonal are skipped); per-element masks handle the tiles that cross
// the diagonal, the window's edge or the end of the keys. Both GEMM paths
// leave S and O in mma.m16n8k16's C layout (lane = 4·group + t: c0,c1 row
// group, columns 2t..2t+1; c2,c3 row group + 8), so one softmax serves both.
//
//===----------------------------------------------------------------------===//
#include "KernelBuilder.h"
#include "PrefillAttention.h"

#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"

#include <array>
#include <limits>
#include <tuple>

using namespace mlir;
using namespace kvcc;
using namespace kvcc::lowering;

namespace {

constexpr int64_t kPrefillWarps = kGPUBlockThreads / 32;
/// The lazy rescale keeps a row's max until it grows by more than this (in
/// log2 units): the softmax weights stay at most 2^8.
constexpr double kLazyRescaleLog2 = 8.0;
/// The most CTAs a grid's y dimension takes.
constexpr int64_t kMaxGridY = 65535;
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

} // namespace

void kvcc::emitPrefillAttention(ImplicitLocOpBuilder &b,
                                const PrefillParams &p) {
  Loops L{b};
  const int64_t D = p.headDim, G = p.groupSize;
  const bool wgmma = p.warpgroupMma;
  assert((!wgmma || p.swizzle) && "wgmma reads the 128-byte-swizzle layout");
  // wgmma, overlapped (FlashAttention-3's intra-warpgroup pipelining):
  // iteration j issues S_j = Q·K_jᵀ and then O += P_{j-1}·V_{j-1}, waits for
  // S_j only, and computes P_j while the P·V MMAs run; O is rescaled after
  // them (O_j = corr_j·(O_{j-1} + P_{j-1}·V_{j-1}) is the same recurrence).
  // V_{j-1} stays in shared memory while V_{j+1} lands: three V stages.
  const bool overlap = wgmma && p.warpgroupOverlap;
  const int64_t vStages = overlap ? 3 : 2;
  // wgmma: 128 rows (two warpgroups) by 128 keys unless the tile says.
  const int64_t rows = wgmma && !p.tile.rows ? 128 : p.tile.rowsFor(D);
  const int64_t N = wgmma && !p.tile.keys ? 128 : p.tile.keysFor(D);
  // mma.sync: 4 warps, MT 16-row MMA tiles a warp; wgmma: a warpgroup of 4
  // warps per 64 rows, one 16-row slice a warp.
  const int64_t warps = wgmma ? rows / 16 : kPrefillWarps;
  const int64_t threads = 32 * warps;
  const int64_t MT = rows / (16 * warps);
  // The tensor-core operand type is the cache's; a query of another type
  // (an f32 model over an f16 cache) is converted while it is staged.
  Type elem = cast<MemRefType>(p.pages.getType()).getElementType();
  Type queryElem = cast<MemRefType>(p.query.getType()).getElementType();
  Type outElem = cast<MemRefType>(p.out.getType()).getElementType();
  auto workgroup =
      gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup);
  // A tile's rows are split into atoms of atomCols columns, stored atom after
  // atom ([atoms][rows][atomCols]; one atom: [rows][D]): mma.sync takes whole
  // rows; wgmma the 128-byte rows of its swizzled operand layout (64 columns
  // of 16 bits).
  const int64_t atomCols = wgmma ? 64 : D, atoms = D / atomCols;
  auto tileType = [&](std::optional<int64_t> stages, int64_t tileRows) {
    SmallVector<int64_t> shape;
    if (stages)
      shape.push_back(*stages);
    if (atoms > 1)
      shape.push_back(atoms);
    shape.append({tileRows, atomCols});
    return MemRefType::get(shape, elem, nullptr, workgroup);
  };
  auto sQType = tileType(std::nullopt, rows), sKVType = tileType(2, N),
       sVType = tileType(vStages, N);
  // Shared memory: the Q tile, then two stages of K tiles, then of V tiles
  // (three with the overlap, and a word a thread: see softmaxDone)
  // (wgmma: from the first 1024-byte boundary, where its swizzle pattern
  // starts; 1 KiB more to find one).
  const int64_t qBytes = sQType.getNumElements() * sQType.getElementTypeBitWidth() / 8;
  const int64_t kvBytes = sKVType.getNumElements() * sKVType.getElementTypeBitWidth() / 8;
  constexpr int64_t kSwizzleAtomBytes = 1024;
  const int64_t anchorBytes = overlap ? threads * 4 : 0;
  const int64_t smemBytes = qBytes + kvBytes + kvBytes / 2 * vStages + anchorBytes +
                            (wgmma ? kSwizzleAtomBytes : 0);
  // The tiles are views of the launch's dynamic shared memory (one i8
  // buffer: the ldmatrix addresses are byte offsets into it, see
  // ldmatrixAt); past 48 KiB the runtime opts the kernel in on its first
  // launch. MLIR lowers gpu.dynamic_shared_memory to a zero-length shared
  // global at offset 0 of the CTA's window (ptxas reports 1 byte).
  Value tokens = memref::DimOp::create(b, p.query, 0);
  Value numSeqs = memref::DimOp::create(b, p.contextLens, 0);
  // Enough row tiles for the longest possible chunk (every token of the
  // step); a decode token's G rows fit one tile.
  assert((!p.decodeTokens || G <= rows) && "a decode token's heads fit one row tile");
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
  Value slots = L.add(L.divU(L.mul(tokens, L.idx(G)), L.idx(rows)), numSeqs);
  assert(!p.splits == !p.wsAcc && !p.splits == !p.wsStats &&
         "a split plan comes with its workspaces");
  assert((!p.splits || p.decodeTokens) && "only the decode instance splits");
  Value gridX = p.decodeTokens ? (p.splits ? p.splits : L.idx(1)) : L.idx(p.kvHeads);
  Value gridY = p.decodeTokens ? L.idx(p.kvHeads) : L.minU(slots, L.idx(kMaxGridY));
  Value gridZ = p.decodeTokens ? numSeqs : L.ceilDiv(slots, L.idx(kMaxGridY));
  auto name = kernelName(b, p.decodeTokens ? "kvc_decode_mma_attention" : "kvc_prefill_attention");
  Value dynamicBytes = arith::ConstantIntOp::create(b, smemBytes, 32);
  auto launch = gpu::LaunchOp::create(
      b, gridX, gridY, gridZ, L.idx(threads), L.idx(1),
      L.idx(1), dynamicBytes, nullptr, {}, {}, {}, nullptr, nullptr,
      nullptr, name, name);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&launch.getBody().front());
  Loops K{b};
  auto raw = MemRefType::get({ShapedType::kDynamic}, b.getI8Type(), nullptr, workgroup);
  Value buffer = gpu::DynamicSharedMemoryOp::create(b, raw);
  // wgmma: the tiles start `pad` bytes in, at shared-window address
  // `tilesAddress` (a multiple of 1024).
  Value pad = K.idx(0), tilesAddress;
  if (wgmma) {
    Value address = memref::ExtractAlignedPointerAsIndexOp::create(b, buffer);
    pad = K.remU(K.sub(K.idx(kSwizzleAtomBytes), K.remU(address, K.idx(kSwizzleAtomBytes))),
                 K.idx(kSwizzleAtomBytes));
    tilesAddress = K.add(address, pad);
  }
  Value sQ = memref::ViewOp::create(b, sQType, buffer, pad, ValueRange{});
  Value sK = memref::ViewOp::create(b, sKVType, buffer, K.add(pad, K.idx(qBytes)), ValueRange{});
  Value sV = memref::ViewOp::create(b, sVType, buffer, K.add(pad, K.idx(qBytes + kvBytes)),
                                    ValueRange{});
  Value sAnchor;
  if (overlap)
    sAnchor = memref::ViewOp::create(
        b, MemRefType::get({threads}, b.getF32Type(), nullptr, workgroup), buffer,
        K.add(pad, K.idx(qBytes + kvBytes + kvBytes / 2 * vStages)), ValueRange{});
  Value tid = launch.getThreadIds().x;
  Value group, seq, slot;
  // The first slot of sequence s, which starts at query row `start`.
  auto firstSlot = [&](ImplicitLocOpBuilder &b, Value s, Value start) {
    Loops L{b};
    return L.add(L.divU(L.mul(start, L.idx(G)), L.idx(rows)), s);
  };
  if (p.decodeTokens) {
    group = launch.getBlockIds().y;
    seq = launch.getBlockIds().z;
  } else {
    group = launch.getBlockIds().x;
    slot = K.add(launch.getBlockIds().y, K.mul(launch.getBlockIds().z, K.idx(kMaxGridY)));
    seq = sequenceOfSlot(b, tid, threads, numSeqs, slot, [&](ImplicitLocOpBuilder &b, Value s) {
      return firstSlot(b, s, Loops{b}.loadIndex(p.queryStart, {s}));
    });
  }
  Value warp = K.divU(tid, K.idx(32)), lane = K.remU(tid, K.idx(32));
  Value quad = K.divU(lane, K.idx(4)), t4 = K.remU(lane, K.idx(4));
  // The tiles' rows are D/8 16-byte chunks; chunk c of row r is stored at
  // chunk c ^ (r mod 8) (with p.swizzle), so the 8 rows an ldmatrix matrix
  // reads (consecutive, one chunk column) and the cp.async stores of a row
  // hit 8 different 16-byte bank groups instead of one. Writers permute the
  // column here; readers fold the permutation into their byte offsets
  // (ldmatrixAt).
  auto swizzledColumn = [&](ImplicitLocOpBuilder &b, Value row, Value col) -> Value {
    if (!p.swizzle)
      return col;
    Loops L{b};
    Value chunk = arith::XOrIOp::create(b, L.divU(col, L.idx(8)), L.remU(row, L.idx(8)));
    return L.mul(chunk, L.idx(8));
  };
  // The indices of column `col` of tile row `row`, after `lead` (the
  // stage): its atom (if there are several) and (swizzled) column in it.
  auto tileIndices = [&](ImplicitLocOpBuilder &b, ValueRange lead, Value row,
                         Value col) -> SmallVector<Value> {
    Loops L{b};
    SmallVector<Value> indices(lead);
    if (atoms == 1) {
      indices.append({row, swizzledColumn(b, row, col)});
      return indices;
    }
    indices.append({L.divU(col, L.idx(atomCols)), row,
                    swizzledColumn(b, row, L.remU(col, L.idx(atomCols)))});
    return indices;
  };
  Value first = K.loadIndex(p.queryStart, {seq});
  Value qlen = K.sub(K.loadIndex(p.queryStart, {K.add(seq, K.idx(1))}), first);
  Value ctx = K.loadIndex(p.contextLens, {seq});
  // The slot's row tile, counted from the sequence's last.
  Value rowTile = K.idx(0), slotIsTile;
  if (!p.decodeTokens) {
    Value tiles = K.ceilDiv(K.mul(qlen, K.idx(G)), K.idx(rows));
    Value rank = K.sub(slot, firstSlot(b, seq, first));
    slotIsTile = arith::CmpIOp::create(b, arith::CmpIPredicate::ult, rank, tiles);
    rowTile = arith::SelectOp::create(b, slotIsTile, K.sub(K.sub(tiles, K.idx(1)), rank), K.idx(0));
  }
  Value rowBase = K.mul(rowTile, K.idx(rows));
  // Warp w owns rows [16·MT·w, 16·MT·(w + 1)) of the tile: MMA tile t of it
  // starts at warpRow + 16·t.
  Value warpRow = K.mul(warp, K.idx(16 * MT));
  // Decode tokens (one query) go to the decode kernel or instance, chunks
  // to the prefill instance; spare slots exit.
  Value mine = arith::CmpIOp::create(
      b, p.decodeTokens ? arith::CmpIPredicate::eq : arith::CmpIPredicate::sgt, qlen, K.idx(1));
  if (slotIsTile)
    mine = arith::AndIOp::create(b, mine, slotIsTile);
  scf::IfOp::create(b, mine, [&](OpBuilder &nb, Location loc) {
    ImplicitLocOpBuilder b(loc, nb);
    Loops L{b};
    auto tokenType = nvgpu::DeviceAsyncTokenType::get(b.getContext());
    Value firstPos = L.sub(ctx, qlen);
    Value lastTok = arith::MinSIOp::create(
        b, L.sub(qlen, L.idx(1)), L.divU(L.add(rowBase, L.idx(rows - 1)), L.idx(G)));
    Value tileFirstPos = L.add(firstPos, L.divU(rowBase, L.idx(G)));
    Value tileLastPos = L.add(firstPos, lastTok);
    // Keys any row of this tile may see: the tile-level causal skip.
    Value hi = ctx;
    if (p.causal)
      hi = arith::MinSIOp::create(b, L.maxS(L.add(tileLastPos, L.idx(1)), L.idx(0)), ctx);
    Value lo = L.idx(0);
    if (p.window)
      lo = L.maxS(L.sub(L.add(tileFirstPos, L.idx(1)), L.idx(*p.window)), L.idx(0));
    // A split of the decode instance takes its share of [lo, hi) in whole
    // K/V tiles (no split boundary inside a tile); a share past hi is empty.
    Value split = p.splits ? launch.getBlockIds().x : Value();
    if (p.splits)
      std::tie(lo, hi) = L.splitRange(lo, hi, launch.getGridSize().x, split, N);
    Value hasKeys = arith::CmpIOp::create(b, arith::CmpIPredicate::slt, lo, hi);
    Value numTiles = arith::SelectOp::create(
        b, hasKeys, L.ceilDiv(L.sub(hi, lo), L.idx(N)), L.idx(0));

    // Q rows of the tile, row r = (token r / G, head r % G); out-of-range rows
    // are zero-filled by the copy.
    blockStrided(b, tid, rows * D / 8, [&](ImplicitLocOpBuilder &b, Value c) {
      Loops L{b};
      Value r = L.divU(c, L.idx(D / 8)), col = L.mul(L.remU(c, L.idx(D / 8)), L.idx(8));
      Value prow = L.add(rowBase, r);
      SmallVector<Value> at = tileIndices(b, {}, r, col);
      Value tok = L.divU(prow, L.idx(G)), head = L.remU(prow, L.idx(G));
      Value valid = arith::CmpIOp::create(b, arith::CmpIPredicate::slt, tok, qlen);
      Value safeTok = arith::SelectOp::create(b, valid, tok, L.idx(0));
      SmallVector<Value> src = {L.add(first, safeTok), L.add(L.mul(group, L.idx(G)), head), col};
      if (queryElem == elem) {
        Value n = arith::SelectOp::create(b, valid, L.idx(8), L.idx(0));
        nvgpu::DeviceAsyncCopyOp::create(b, tokenType, sQ, at, p.query, src, b.getIndexAttr(8),
                                         n, nullptr);
        return;
      }
      // Q is read once per CTA: a plain load, rounded to the operand type
      // (the barrier before the first ldmatrix publishes it).
      auto chunk = VectorType::get({8}, queryElem);
      Value row = vector::LoadOp::create(b, chunk, p.query, src, false, llvm::Align(16));
      Value zero = arith::ConstantOp::create(
          b, DenseElementsAttr::get(VectorType::get({8}, elem), b.getFloatAttr(elem, 0.0)));
      Value staged = arith::SelectOp::create(b, valid, L.convertTo(row, elem), zero);
      vector::StoreOp::create(b, staged, sQ, at, false, llvm::Align(16));
    }, threads);
    // A thread's share of a K/V tile: N·D/8 16-byte chunks over the CTA's
    // threads, each chunk of one key row (so the thread's column is the same
    // in every one, and its keys are keysPerPass apart).
    assert(threads % (D / 8) == 0 && N * D / 8 % threads == 0 &&
           "head_dim 64 or 128 and tiles of 16 or more keys (64 or more with wgmma)");
    const int64_t chunksPerThread = N * D / 8 / threads;
    const int64_t keysPerPass = threads / (D / 8);
    Value chunkKey = L.divU(tid, L.idx(D / 8));
    Value chunkCol = L.mul(L.remU(tid, L.idx(D / 8)), L.idx(8));
    // The thread's keys are keysPerPass (a multiple of 8) apart: one
    // swizzled column for all of them.
    SmallVector<Value> chunkAt = tileIndices(b, {}, chunkKey, chunkCol);
    // Where the thread's chunks of K/V tile `tile` come from: every
    // block-table read is issued before any copy uses one, so a tile waits
    // for one read, not one per chunk. A position past `hi` reads the page
    // of `lo` (always mapped) and copies nothing.
    //
    // Positions and offsets inside a page are 32-bit (a context holds fewer
    // than 2^31 - 2N tokens, so the lookups one tile past the end do not
    // wrap; a page fewer than 2^31 elements): 64-bit index math
    // took two instructions and two registers a value in the loop. Only the
    // page's base is 64-bit, in the cache viewed as [pages, page elements].
    auto pagesType = cast<MemRefType>(p.pages.getType());
    assert(pagesType.getLayout().isIdentity() && "the page pool is a dense buffer");
    auto [cacheStrides, cacheOffset] = pagesType.getStridesAndOffset();
    (void)cacheOffset;
    assert(cacheStrides[0] <= std::numeric_limits<int32_t>::max() &&
           "a page's elements have 32-bit offsets");
    const CacheRowDims dims = cacheRowDims(p.layout);
    const int64_t offsetStride = cacheStrides[dims.offset], headStride = cacheStrides[dims.head];
    Value pageView = memref::CollapseShapeOp::create(
        b, p.pages, ArrayRef<ReassociationIndices>{{0}, {1, 2, 3, 4}});
    Value lo32 = toI32(b, lo), hi32 = toI32(b, hi);
    Value tileFirstPos32 = toI32(b, tileFirstPos), tileLastPos32 = toI32(b, tileLastPos);
    Value firstPos32 = toI32(b, firstPos);
    Value chunkKey32 = toI32(b, chunkKey);
    Value headCol32 = arith::AddIOp::create(
        b, arith::MulIOp::create(b, toI32(b, group), c32(b, headStride)), toI32(b, chunkCol));
    struct ChunkSource {
      Value valid, safePos, page;
    };
    auto lookUpPages = [&](ImplicitLocOpBuilder &b, Value tile) {
      SmallVector<ChunkSource> sources;
      Value tileStart = arith::AddIOp::create(
          b, lo32, arith::MulIOp::create(b, toI32(b, tile), c32(b, N)));
      for (int64_t i = 0; i < chunksPerThread; ++i) {
        Value pos = arith::AddIOp::create(
            b, tileStart, arith::AddIOp::create(b, chunkKey32, c32(b, i * keysPerPass)));
        Value valid = arith::CmpIOp::create(b, arith::CmpIPredicate::slt, pos, hi32);
        Value safePos = arith::SelectOp::create(b, valid, pos, lo32);
        Value pageIndex = arith::IndexCastUIOp::create(
            b, b.getIndexType(), arith::DivUIOp::create(b, safePos, c32(b, p.blockSize)));
        Value page = memref::LoadOp::create(b, p.blockTables, ValueRange{seq, pageIndex});
        sources.push_back({valid, safePos, page});
      }
      return sources;
    };
    // cp.async of those chunks into shared-memory stages `kStage` of K and
    // `vStage` of V.
    auto copyTile = [&](ImplicitLocOpBuilder &b, Value kStage, Value vStage,
                        ArrayRef<ChunkSource> sources) {
      Loops L{b};
      for (auto [i, source] : llvm::enumerate(sources)) {
        Value offset = arith::RemUIOp::create(b, source.safePos, c32(b, p.blockSize));
        Value rowInPage = arith::AddIOp::create(
            b, arith::MulIOp::create(b, offset, c32(b, offsetStride)), headCol32);
        Value page = arith::IndexCastOp::create(b, b.getIndexType(), source.page);
        Value n = arith::SelectOp::create(b, source.valid, L.idx(8), L.idx(0));
        Value key = L.add(chunkKey, L.idx(static_cast<int64_t>(i) * keysPerPass));
        // [stage, (atom,) key, column]: chunkAt with this chunk's key.
        SmallVector<Value> dst{kStage};
        dst.append(chunkAt);
        dst[atoms > 1 ? 2 : 1] = key;
        for (int64_t kv = 0; kv < 2; ++kv) {
          dst[0] = kv ? vStage : kStage;
          Value inPage = arith::IndexCastUIOp::create(
              b, b.getIndexType(),
              arith::AddIOp::create(b, rowInPage, c32(b, kv * cacheStrides[1])));
          // K/V rows are streamed once per CTA: bypass L1 (cp.async.cg).
          nvgpu::DeviceAsyncCopyOp::create(b, tokenType, kv ? sV : sK,
                                           dst, pageView,
                                           ValueRange{page, inPage}, b.getIndexAttr(8), n,
                                           b.getUnitAttr());
        }
      }
    };
    // The overlap's first iteration multiplies P_{-1} = 0 by V stage 2
    // (tile -1's): zeros, not whatever bits were left there (0·NaN is NaN).
    // The first iteration's fence and barrier publish them.
    if (overlap)
      blockStrided(b, tid, N * D / 8, [&](ImplicitLocOpBuilder &b, Value c) {
        Loops L{b};
        Value key = L.divU(c, L.idx(D / 8)), col = L.mul(L.remU(c, L.idx(D / 8)), L.idx(8));
        Value zero = arith::ConstantOp::create(
            b, DenseElementsAttr::get(VectorType::get({8}, elem), b.getFloatAttr(elem, 0.0)));
        vector::StoreOp::create(b, zero, sV, tileIndices(b, {L.idx(vStages - 1)}, key, col),
                                false, llvm::Align(16));
      }, threads);
    scf::IfOp::create(b, hasKeys, [&](OpBuilder &nb, Location loc) {
      ImplicitLocOpBuilder b(loc, nb);
      Loops L{b};
      copyTile(b, L.idx(0), L.idx(0), lookUpPages(b, L.idx(0)));
      scf::YieldOp::create(b);
    });
    // The prologue's group: Q and the first K/V tile.
    Value prologue = nvgpu::DeviceAsyncCreateGroupOp::create(b, tokenType, ValueRange{});

    auto acc = VectorType::get({2, 2}, b.getF32Type());
    auto aType = VectorType::get({4, 2}, elem);
    Value zeroAcc = arith::ConstantOp::create(
        b, DenseElementsAttr::get(acc, b.getF32FloatAttr(0.0f)));
    // The loop state: per MMA tile t, D/8 O accumulators; then (max, max)
    // and (sum, sum) of its rows (quad, quad + 8) per tile.
    auto oAt = [&](int64_t t, int64_t n) { return t * (D / 8) + n; };
    auto maxAt = [&](int64_t t, int64_t i) { return MT * (D / 8) + 2 * t + i; };
    auto sumAt = [&](int64_t t, int64_t i) { return MT * (D / 8) + 2 * MT + 2 * t + i; };
    SmallVector<Value> init(MT * (D / 8), zeroAcc);
    init.append(2 * MT, Loops{b}.f32(kNoScore));
    init.append(2 * MT, Loops{b}.f32(0.0));
    // The overlap's P of the previous tile, an A fragment a k-step.
    auto pAt = [&](int64_t ks) { return MT * (D / 8) + 4 * MT + ks; };
    if (overlap)
      init.append(N / 16, arith::ConstantOp::create(
                              b, DenseElementsAttr::get(aType, b.getFloatAttr(elem, 0.0))));
    // The GEMMs: mma.sync by ldmatrix (PrefillMmaSync.cpp), or wgmma by
    // shared-memory descriptor (PrefillWarpgroupMma.cpp).
    std::optional<MmaSyncTiles> mmaTiles;
    if (!wgmma)
      mmaTiles.emplace(b, buffer, lane, warpRow, elem, rows, N, D, MT, p.swizzle);
    std::optional<WarpgroupTiles> warpgroupTiles;
    if (wgmma)
      warpgroupTiles.emplace(b, tilesAddress, warp, elem, rows, N, D);
    Value negInf = Loops{b}.f32(-std::numeric_limits<double>::infinity());
    // Rows quad and quad + 8 of MMA tile t, counted from the sequence's
    // first row; 32-bit, as the positions (a 64-bit row kept live across the
    // loop for the epilogue spilled at sm_80).
    auto fragmentRow = [&](ImplicitLocOpBuilder &b, int64_t t, int64_t i) -> Value {
      Loops L{b};
      return toI32(b, L.add(L.add(rowBase, warpRow), L.add(quad, L.idx(16 * t + 8 * i))));
    };
    Value qlen32 = toI32(b, qlen);

    auto loop = scf::ForOp::create(
        b, L.idx(0), numTiles, L.idx(1), init,
        [&](OpBuilder &nb, Location loc, Value j, ValueRange state) {
          ImplicitLocOpBuilder b(loc, nb);
          Loops L{b};
          Value stage = L.remU(j, L.idx(2));
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
          SmallVector<ChunkSource> nextSources;
          if (!wgmma)
            nextSources = lookUpPages(b, next);
          nvgpu::DeviceAsyncWaitOp::create(b, prologue, b.getI32IntegerAttr(0));
          // wgmma reads shared memory through the async proxy: each thread's
          // landed copies (and Q's stores) are fenced into it before the
          // barrier publishes them.
          if (wgmma)
            NVVM::FenceProxyOp::create(
                b, NVVM::ProxyKind::async_shared,
                NVVM::SharedSpaceAttr::get(b.getContext(), NVVM::SharedSpace::shared_cta));
          gpu::BarrierOp::create(b);
          auto copyNextTile = [&] {
            copyTile(b, L.remU(next, L.idx(2)), L.remU(next, L.idx(vStages)),
                     wgmma ? lookUpPages(b, next) : nextSources);
            nvgpu::DeviceAsyncCreateGroupOp::create(b, tokenType, ValueRange{});
          };

          // S = Q Kᵀ for this warp's 16·MT rows and the tile's N keys.
          SmallVector<SmallVector<Value>> s(MT);
          // The overlap: S_j's group, then P_{j-1}·V_{j-1}'s (V stage
          // (j - 1) mod 3) on O as the last iteration left it.
          Value pendingO;
          std::optional<WarpgroupTiles::Operands> operands;
          if (overlap) {
            operands = warpgroupTiles->accumulateOperands(
                b, llvm::to_vector(state.slice(pAt(0), N / 16)),
                llvm::to_vector(state.take_front(D / 8)));
            warpgroupTiles->fence(b);
            Value pendingS = warpgroupTiles->issueScores(b, stage);
            pendingO = warpgroupTiles->issueAccumulate(
                b, L.remU(L.add(j, L.idx(vStages - 1)), L.idx(vStages)), *operands);
            copyNextTile(); // (stages last read by MMAs retired before the barrier)
            s[0] = warpgroupTiles->retired(b, pendingS, /*inFlight=*/1);
          } else if (wgmma) {
            warpgroupTiles->fence(b);
            Value pendingS = warpgroupTiles->issueScores(b, stage);
            copyNextTile();
            s[0] = warpgroupTiles->retired(b, pendingS, /*inFlight=*/0);
          } else {
            copyNextTile();
            s = mmaTiles->scores(b, stage);
          }
          Value tileStart32 = arith::AddIOp::create(
              b, lo32, arith::MulIOp::create(b, toI32(b, j), c32(b, N)));
          SmallVector<Value> yield(state.begin(), state.end());
          SmallVector<SmallVector<Value>> pFrag(MT);
          SmallVector<Value> corrVec(MT);
          // Softmax in base 2: with c = scale·log2(e), P = 2^(c·S - m) is one
          // FFMA and one ex2 an element, and the row max is taken on the raw
          // scores (c > 0). A soft-cap scales inside its tanh instead (c = 1).
          Value c = L.f32(p.softcap ? 1.0 : p.scale * kLog2E);
          // Only tiles that cross the diagonal, the window's edge or the end
          // of the keys need per-element masks; the others (most of a long
          // causal prefill) skip the compares and selects. (32-bit, as the
          // positions: 64-bit index compares kept four more registers live.)
          Value tileLast32 = arith::AddIOp::create(b, tileStart32, c32(b, N - 1));
          Value needsMask = arith::CmpIOp::create(b, arith::CmpIPredicate::sge, tileLast32, hi32);
          if (p.causal)
            needsMask = arith::OrIOp::create(
                b, needsMask,
                arith::CmpIOp::create(b, arith::CmpIPredicate::sgt, tileLast32, tileFirstPos32));
          // tileStart + window <= tileLastPos as a difference (no overflow).
          if (p.window)
            needsMask = arith::OrIOp::create(
                b, needsMask,
                arith::CmpIOp::create(
                    b, arith::CmpIPredicate::sge, arith::SubIOp::create(b, tileLastPos32, tileStart32),
                    c32(b, std::min<int64_t>(*p.window, std::numeric_limits<int32_t>::max()))));
          // The scores of MMA tile t, element (n, i, jj) at [(n * 2 + i) * 2 + jj];
          // rows (quad, quad + 8).
          auto scoresOf = [&](ImplicitLocOpBuilder &b, int64_t t, bool masked) {
            Loops L{b};
            // The lane's element (n, jj) holds key keyBase + e, e = 8n + jj,
            // keyBase = tileStart + 2·t4, for rows fragmentRow(t, i) (row r:
            // token r / G, position firstPos + r / G). Each test is one
            // compare of the constant e against a limit per tile and row:
            //   key < hi                    e < hi - keyBase
            //   causal: key <= position     e·G <= r - kb·G   (kb = keyBase - firstPos:
            //                               kb + e <= r / G  <=>  (kb + e)·G <= r)
            //   window: position - key < W  e > max(position - keyBase, 0) - W
            // kb is clamped to >= -N for the causal limit (keys before the
            // chunk's first position are visible to every row either way),
            // so kb·G stays in 32 bits. The window limit is exact for any W
            // (clamped to 2^31 - 1, as in the tile test: positions are below
            // it): a key at or past the row's position is inside the window,
            // so clamping the difference at 0 changes nothing and keeps the
            // subtraction of W from overflowing. Rows past the chunk's
            // tokens are not masked: they are never stored, and a row whose
            // every key is masked gets zero weights (the running max starts
            // at the finite kNoScore). No division, and no per-row value
            // lives across the loop (each was a register or a spill once
            // ptxas hoisted it).
            Value keyBase, endLimit, causalLimit[2], windowLimit[2];
            if (masked) {
              keyBase = arith::AddIOp::create(b, tileStart32, toI32(b, L.mul(t4, L.idx(2))));
              endLimit = arith::SubIOp::create(b, hi32, keyBase);
              Value kb = arith::SubIOp::create(b, keyBase, firstPos32);
              Value kbG = arith::MulIOp::create(
                  b, arith::MaxSIOp::create(b, kb, c32(b, -N)), c32(b, G));
              for (int64_t i = 0; i < 2; ++i) {
                Value row = fragmentRow(b, t, i);
                if (p.causal)
                  causalLimit[i] = arith::SubIOp::create(b, row, kbG);
                if (p.window) {
                  Value pos = arith::AddIOp::create(
                      b, firstPos32, arith::DivUIOp::create(b, row, c32(b, G)));
                  windowLimit[i] = arith::SubIOp::create(
                      b,
                      arith::MaxSIOp::create(b, arith::SubIOp::create(b, pos, keyBase), c32(b, 0)),
                      c32(b, std::min<int64_t>(*p.window, std::numeric_limits<int32_t>::max())));
                }
              }
            }
            SmallVector<Value> scores;
            for (int64_t n = 0; n < N / 8; ++n)
              for (int64_t i = 0; i < 2; ++i)
                for (int64_t jj = 0; jj < 2; ++jj) {
                  Value v = extract(b, s[t][n], i, jj);
                  if (p.softcap)
                    v = arith::MulFOp::create(
                        b, L.f32(*p.softcap * kLog2E),
                        math::TanhOp::create(b, arith::MulFOp::create(b, v, L.f32(p.scale / *p.softcap))));
                  if (masked) {
                    const int64_t e = n * 8 + jj;
                    Value ok = arith::CmpIOp::create(b, arith::CmpIPredicate::slt, c32(b, e), endLimit);
                    if (p.causal)
                      ok = arith::AndIOp::create(
                          b, ok,
                          arith::CmpIOp::create(b, arith::CmpIPredicate::sle, c32(b, e * G),
                                                causalLimit[i]));
                    if (p.window)
                      ok = arith::AndIOp::create(
                          b, ok,
                          arith::CmpIOp::create(b, arith::CmpIPredicate::sgt, c32(b, e),
                                                windowLimit[i]));
                    v = arith::SelectOp::create(b, ok, v, negInf);
                  }
                  scores.push_back(v);
                }
            return scores;
          };
          // Per MMA tile: its masked scores and its rows' new maxima, then
          // the weights P (with the rows' maxima `m`), their sums and the O
          // rescale factors. By default tile by tile; the lazy rescale takes
          // every tile's maxima first, to decide once for the warp.
          SmallVector<SmallVector<SmallVector<Value>>> scores(MT);
          SmallVector<std::array<Value, 2>> mNew(MT);
          auto scoresAndMaxima = [&](int64_t t) {
            auto masking = scf::IfOp::create(
                b, needsMask,
                [&](OpBuilder &nb, Location loc) {
                  ImplicitLocOpBuilder b(loc, nb);
                  scf::YieldOp::create(b, scoresOf(b, t, true));
                },
                [&](OpBuilder &nb, Location loc) {
                  ImplicitLocOpBuilder b(loc, nb);
                  scf::YieldOp::create(b, scoresOf(b, t, false));
                });
            ValueRange flat = masking.getResults();
            Value rowMax[2] = {negInf, negInf};
            scores[t].resize(N / 8);
            for (int64_t n = 0; n < N / 8; ++n)
              for (int64_t i = 0; i < 2; ++i)
                for (int64_t jj = 0; jj < 2; ++jj) {
                  Value v = flat[(n * 2 + i) * 2 + jj];
                  scores[t][n].push_back(v);
                  rowMax[i] = arith::MaximumFOp::create(b, rowMax[i], v);
                }
            for (int64_t i = 0; i < 2; ++i) {
              for (int32_t o = 1; o < 4; o *= 2)
                rowMax[i] = arith::MaximumFOp::create(b, rowMax[i], shuffleXor(b, rowMax[i], o));
              mNew[t][i] = arith::MaximumFOp::create(b, state[maxAt(t, i)],
                                                     arith::MulFOp::create(b, rowMax[i], c));
            }
          };
          auto weights = [&](int64_t t, Value rescale) {
            Value m[2], corr[2];
            for (int64_t i = 0; i < 2; ++i) {
              Value mOld = state[maxAt(t, i)];
              m[i] = rescale ? arith::SelectOp::create(b, rescale, mNew[t][i], mOld) : mNew[t][i];
              corr[i] = fastExp2(b, arith::SubFOp::create(b, mOld, m[i]));
            }
            // P = 2^(c·S - m), row sums, and P as A fragments (f16/bf16).
            Value rowSum[2] = {Loops{b}.f32(0.0), Loops{b}.f32(0.0)};
            for (int64_t n = 0; n < N / 8; ++n) {
              SmallVector<Value> ps;
              for (int64_t i = 0; i < 2; ++i)
                for (int64_t jj = 0; jj < 2; ++jj) {
                  Value e = fastExp2(b, math::FmaOp::create(b, scores[t][n][2 * i + jj], c,
                                                            arith::NegFOp::create(b, m[i])));
                  rowSum[i] = arith::AddFOp::create(b, rowSum[i], e);
                  ps.push_back(arith::TruncFOp::create(b, elem, e));
                }
              pFrag[t].push_back(vector::FromElementsOp::create(
                  b, VectorType::get({2, 2}, elem), ps));
            }
            for (int64_t i = 0; i < 2; ++i) {
              for (int32_t o = 1; o < 4; o *= 2)
                rowSum[i] = arith::AddFOp::create(b, rowSum[i], shuffleXor(b, rowSum[i], o));
              yield[maxAt(t, i)] = m[i];
              yield[sumAt(t, i)] = arith::AddFOp::create(
                  b, arith::MulFOp::create(b, state[sumAt(t, i)], corr[i]), rowSum[i]);
            }
            corrVec[t] = vector::FromElementsOp::create(
                b, acc, ValueRange{corr[0], corr[0], corr[1], corr[1]});
          };
          // Lazy rescale (FlashAttention-4's): keep every row's max unless one
          // of the warp's rows grew by more than kLazyRescaleLog2 (then all
          // take their new max), so most tiles skip the O rescale (MT x D/2
          // multiplies a lane); the weights are then at most 2^kLazyRescaleLog2
          // (exact in f16 and bf16), and the final O / l is unchanged.
          Value rescale;
          if (p.lazyRescale) {
            for (int64_t t = 0; t < MT; ++t)
              scoresAndMaxima(t);
            Value grew = arith::ConstantOp::create(b, b.getBoolAttr(false));
            for (int64_t t = 0; t < MT; ++t)
              for (int64_t i = 0; i < 2; ++i)
                grew = arith::OrIOp::create(
                    b, grew,
                    arith::CmpFOp::create(b, arith::CmpFPredicate::OGT,
                                          arith::SubFOp::create(b, mNew[t][i], state[maxAt(t, i)]),
                                          L.f32(kLazyRescaleLog2)));
            rescale = NVVM::VoteSyncOp::create(b, b.getI1Type(),
                                               arith::ConstantOp::create(b, b.getI32IntegerAttr(-1)),
                                               grew, NVVM::VoteSyncKind::any);
            for (int64_t t = 0; t < MT; ++t)
              weights(t, rescale);
          } else {
            for (int64_t t = 0; t < MT; ++t) {
              scoresAndMaxima(t);
              weights(t, Value());
            }
          }
          // Rescale O rows (with the lazy rescale only when a max moved: a
          // uniform branch), then O += P V; each V fragment serves all MT row
          // tiles.
          // O before its rescale: the overlap's after P_{j-1}·V_{j-1}.
          SmallVector<Value> oIn(state.take_front(MT * (D / 8)));
          if (overlap) {
            // softmaxDone: ptxas schedules the wait for P_{j-1}·V_{j-1} as
            // early as it can (at the top of the softmax's block), which
            // left the exponentials behind it and the tensor cores idle
            // beside them. It keeps shared-memory stores and the wait in
            // order, so a store of a value every exponential feeds (the
            // row sums) pins the wait after them: one FADD and one
            // conflict-free STS a thread a tile (cuda-wgmma-sass.test
            // checks the order: every MUFU between the two waits).
            Value sums = arith::AddFOp::create(b, yield[sumAt(0, 0)], yield[sumAt(0, 1)]);
            memref::StoreOp::create(b, sums, sAnchor, ValueRange{tid});
            oIn = warpgroupTiles->retired(b, pendingO, /*inFlight=*/0, &*operands);
          }
          auto rescaled = [&](ImplicitLocOpBuilder &b) {
            SmallVector<Value> o;
            for (int64_t t = 0; t < MT; ++t)
              for (int64_t n = 0; n < D / 8; ++n)
                o.push_back(arith::MulFOp::create(b, oIn[oAt(t, n)], corrVec[t]));
            return o;
          };
          if (rescale) {
            auto branch = scf::IfOp::create(
                b, rescale,
                [&](OpBuilder &nb, Location loc) {
                  ImplicitLocOpBuilder b(loc, nb);
                  scf::YieldOp::create(b, rescaled(b));
                },
                [&](OpBuilder &nb, Location loc) {
                  ImplicitLocOpBuilder b(loc, nb);
                  scf::YieldOp::create(b, oIn);
                });
            for (int64_t k = 0; k < MT * (D / 8); ++k)
              yield[k] = branch.getResult(k);
          } else {
            SmallVector<Value> o = rescaled(b);
            for (int64_t k = 0; k < MT * (D / 8); ++k)
              yield[k] = o[k];
          }
          // P of MMA tile t, keys 16ks..16ks+15, as an A fragment: a0 = (row
          // quad, k lo), a1 = (quad + 8, k lo), a2 = (quad, k hi), a3.
          auto pOperand = [&](int64_t t, int64_t ks) -> Value {
            SmallVector<Value> aElems;
            for (int64_t half : {0, 1})     // k columns 0-7, then 8-15
              for (int64_t i = 0; i < 2; ++i) // rows quad, quad + 8
                for (int64_t jj = 0; jj < 2; ++jj)
                  aElems.push_back(extract(b, pFrag[t][2 * ks + half], i, jj));
            return vector::FromElementsOp::create(b, aType, aElems);
          };
          if (overlap) {
            // P_j, for the next iteration's (or the tail's) P·V.
            for (int64_t ks = 0; ks < N / 16; ++ks)
              yield[pAt(ks)] = pOperand(0, ks);
          } else if (wgmma) {
            // O += P V for the warpgroup's 64 rows (one MMA tile a warp).
            SmallVector<Value> p;
            for (int64_t ks = 0; ks < N / 16; ++ks)
              p.push_back(pOperand(0, ks));
            warpgroupTiles->accumulate(b, stage, p,
                                       MutableArrayRef<Value>(yield).take_front(D / 8));
          } else {
            mmaTiles->accumulate(b, stage, pOperand,
                                 MutableArrayRef<Value>(yield).take_front(MT * (D / 8)));
          }
          scf::YieldOp::create(b, yield);
        });

    // A tile with no visible key never waited for its Q copies.
    nvgpu::DeviceAsyncWaitOp::create(b, prologue, b.getI32IntegerAttr(0));
    SmallVector<Value> finalO(loop.getResults().take_front(MT * (D / 8)));
    if (overlap) {
      // The last tile's P·V (V stage (tiles - 1) mod 3; with no tile, P = 0
      // over the zeroed stage 2, which this fence and barrier publish).
      NVVM::FenceProxyOp::create(
          b, NVVM::ProxyKind::async_shared,
          NVVM::SharedSpaceAttr::get(b.getContext(), NVVM::SharedSpace::shared_cta));
      gpu::BarrierOp::create(b);
      warpgroupTiles->accumulate(
          b, L.remU(L.add(numTiles, L.idx(vStages - 1)), L.idx(vStages)),
          SmallVector<Value>(loop.getResults().slice(pAt(0), N / 16)), finalO);
    }

    // O / l, rows that exist only.
    for (int64_t t = 0; t < MT; ++t)
      for (int64_t i = 0; i < 2; ++i) {
        Value prow = fragmentRow(b, t, i);
        Value tok32 = arith::DivUIOp::create(b, prow, c32(b, G));
        Value exists = arith::CmpIOp::create(b, arith::CmpIPredicate::slt, tok32, qlen32);
        Value tok = arith::IndexCastUIOp::create(b, b.getIndexType(), tok32);
        Value head = arith::IndexCastUIOp::create(b, b.getIndexType(),
                                                  arith::RemUIOp::create(b, prow, c32(b, G)));
        Value sum = loop.getResult(sumAt(t, i));
        Value positive = arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, sum, Loops{b}.f32(0.0));
        Value inv = arith::SelectOp::create(
            b, positive, arith::DivFOp::create(b, Loops{b}.f32(1.0), sum), Loops{b}.f32(0.0));
        auto storeRow = [&](ImplicitLocOpBuilder &b, bool partial) {
          Loops L{b};
          Value token = L.add(first, tok), qHead = L.add(L.mul(group, L.idx(G)), head);
          for (int64_t n = 0; n < D / 8; ++n) {
            if (partial) {
              // The lane's two adjacent columns in one 8-byte store.
              Value pair = vector::ExtractOp::create(b, finalO[oAt(t, n)],
                                                     ArrayRef<int64_t>{i});
              vector::StoreOp::create(
                  b, pair, p.wsAcc,
                  ValueRange{split, token, qHead, L.add(L.idx(n * 8), L.mul(t4, L.idx(2)))});
              continue;
            }
            for (int64_t jj = 0; jj < 2; ++jj) {
              Value o = extract(b, finalO[oAt(t, n)], i, jj);
              Value d = L.add(L.idx(n * 8 + jj), L.mul(t4, L.idx(2)));
              memref::StoreOp::create(b, L.fromF32(arith::MulFOp::create(b, o, inv), outElem),
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
            memref::StoreOp::create(b, loop.getResult(maxAt(t, i)), p.wsStats,
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
    scf::YieldOp::create(b);
  });
  gpu::TerminatorOp::create(b);
}
