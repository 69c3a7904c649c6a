//===- PrefillKVCopy.cpp - K/V tiles from the paged cache into shared memory ===//
//
// The prefill kernel's loads (PrefillAttentionToGPU.cpp): its shared-memory
// tile layout, and the cp.async copies of each K/V tile from the page pool,
// read through the block table (any page size), into a shared-memory stage.
//
//===----------------------------------------------------------------------===//
#include "KernelBuilder.h"
#include "PrefillAttention.h"

#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"

#include <limits>

using namespace mlir;
using namespace kvcc;
using namespace kvcc::lowering;

SmallVector<Value> SharedTileLayout::indices(ImplicitLocOpBuilder &b, ValueRange lead, Value row,
                                             Value col) const {
  Loops L{b};
  auto swizzled = [&](Value col) -> Value {
    if (!swizzle)
      return col;
    Value chunk = arith::XOrIOp::create(b, L.divU(col, L.idx(8)), L.remU(row, L.idx(8)));
    return L.mul(chunk, L.idx(8));
  };
  SmallVector<Value> at(lead);
  if (atoms == 1) {
    at.append({row, swizzled(col)});
    return at;
  }
  at.append({L.divU(col, L.idx(atomCols)), row, swizzled(L.remU(col, L.idx(atomCols)))});
  return at;
}

PagedTileCopier::PagedTileCopier(ImplicitLocOpBuilder &b, const PrefillParams &p,
                                 const SharedTileLayout &layout, int64_t keys, int64_t threads,
                                 Value tid, Value kvHead, Value seq, Value lo32, Value hi32,
                                 Value sK, Value sV)
    : p(p), layout(layout), keys(keys), seq(seq), sK(sK), sV(sV), lo32(lo32), hi32(hi32) {
  Loops L{b};
  const int64_t D = p.headDim;
  // A thread's share of a K/V tile: keys·D/8 16-byte chunks over the CTA's
  // threads, each chunk of one key row (so the thread's column is the same
  // in every one, and its keys are keysPerPass apart).
  assert(threads % (D / 8) == 0 && keys * D / 8 % threads == 0 &&
         "head_dim 64 or 128 and tiles of 16 or more keys (64 or more with wgmma)");
  chunksPerThread = keys * D / 8 / threads;
  keysPerPass = threads / (D / 8);
  chunkKey = L.divU(tid, L.idx(D / 8));
  Value chunkCol = L.mul(L.remU(tid, L.idx(D / 8)), L.idx(8));
  // The thread's keys are keysPerPass (a multiple of 8) apart: one swizzled
  // column for all of them.
  chunkAt = layout.indices(b, {}, chunkKey, chunkCol);
  // Positions and offsets inside a page are 32-bit (a context holds fewer
  // than 2^31 - 2·keys tokens, so the lookups one tile past the end do not
  // wrap; a page fewer than 2^31 elements): 64-bit index math took two
  // instructions and two registers a value in the loop. Only the page's
  // base is 64-bit, in the cache viewed as [pages, page elements].
  auto pagesType = cast<MemRefType>(p.pages.getType());
  assert(pagesType.getLayout().isIdentity() && "the page pool is a dense buffer");
  auto [cacheStrides, cacheOffset] = pagesType.getStridesAndOffset();
  (void)cacheOffset;
  assert(cacheStrides[0] <= std::numeric_limits<int32_t>::max() &&
         "a page's elements have 32-bit offsets");
  const CacheRowDims dims = cacheRowDims(p.layout);
  offsetStride = cacheStrides[dims.offset];
  kvStride = cacheStrides[1];
  pageView = memref::CollapseShapeOp::create(b, p.pages,
                                             ArrayRef<ReassociationIndices>{{0}, {1, 2, 3, 4}});
  chunkKey32 = toI32(b, chunkKey);
  headCol32 = arith::AddIOp::create(
      b, arith::MulIOp::create(b, toI32(b, kvHead), c32(b, cacheStrides[dims.head])),
      toI32(b, chunkCol));
}

SmallVector<PagedTileCopier::ChunkSource>
PagedTileCopier::lookUpPages(ImplicitLocOpBuilder &b, Value tile) const {
  SmallVector<ChunkSource> sources;
  Value tileStart =
      arith::AddIOp::create(b, lo32, arith::MulIOp::create(b, toI32(b, tile), c32(b, keys)));
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
}

void PagedTileCopier::copy(ImplicitLocOpBuilder &b, Value kStage, Value vStage,
                           ArrayRef<ChunkSource> sources) const {
  Loops L{b};
  auto tokenType = nvgpu::DeviceAsyncTokenType::get(b.getContext());
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
    dst[layout.rowIndex(1)] = key;
    for (int64_t kv = 0; kv < 2; ++kv) {
      dst[0] = kv ? vStage : kStage;
      Value inPage = arith::IndexCastUIOp::create(
          b, b.getIndexType(), arith::AddIOp::create(b, rowInPage, c32(b, kv * kvStride)));
      // K/V rows are streamed once per CTA: bypass L1 (cp.async.cg).
      nvgpu::DeviceAsyncCopyOp::create(b, tokenType, kv ? sV : sK, dst, pageView,
                                       ValueRange{page, inPage}, b.getIndexAttr(8), n,
                                       b.getUnitAttr());
    }
  }
}
