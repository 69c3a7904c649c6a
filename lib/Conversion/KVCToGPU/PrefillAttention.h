//===- PrefillAttention.h - the tensor-core prefill kernel ------*- C++ -*-===//
#ifndef KVCC_LIB_CONVERSION_KVCTOGPU_PREFILLATTENTION_H
#define KVCC_LIB_CONVERSION_KVCTOGPU_PREFILLATTENTION_H

#include "kvcc/Conversion/KVCToGPU/KVCToGPU.h"
#include "kvcc/Conversion/Utils/LoopBuilder.h"

#include <optional>

namespace kvcc {

struct PrefillParams {
  int64_t groupSize, headDim, blockSize, kvHeads;
  double scale;
  bool causal;
  std::optional<int64_t> window;
  std::optional<double> softcap;
  kvc::CacheLayout layout;
  PrefillTile tile;
  /// Rescale O only when a row's max grew by more than 2^8 (an A/B option).
  bool lazyRescale;
  /// XOR-swizzle the shared-memory tiles (off only to measure what it buys).
  bool swizzle;
  /// S and P·V on Hopper's warpgroup MMA (sm_90a; the prefill instance).
  bool warpgroupMma;
  /// wgmma: P·V of tile j - 1 runs beside the softmax of tile j.
  bool warpgroupOverlap;
  /// The decode instance (kvc_decode_mma_attention): one-token sequences,
  /// one row tile a sequence; otherwise sequences of two or more tokens.
  bool decodeTokens;
  mlir::Value query, pages, blockTables, contextLens, queryStart, out;
  /// The decode instance's split-KV plan: the call's split count (the grid's
  /// x; null: one split) and, when a call may split, the flash-decoding
  /// kernel's workspaces ([splits, tokens, q_heads, head_dim] accumulators,
  /// [.., 2] (max, sum) in base 2), where a call of several splits leaves its
  /// partials for the same combine kernel.
  mlir::Value splits = {}, wsAcc = {}, wsStats = {};
};

/// Where the prefill kernel's shared-memory tiles keep an element: a tile's
/// rows are split into atoms of `atomCols` columns, stored atom after atom
/// ([atoms][rows][atomCols]; one atom: [rows][headDim]): mma.sync takes whole
/// rows, wgmma the 128-byte rows of its swizzled operand layout (64 columns
/// of 16 bits). With `swizzle`, chunk c (8 columns, 16 bytes) of row r is
/// stored at chunk c ^ (r mod 8), so the 8 rows an ldmatrix matrix reads
/// (consecutive, one chunk column) and the cp.async stores of a row hit 8
/// different 16-byte bank groups instead of one. Writers permute the column
/// here; readers fold the permutation into their byte offsets.
struct SharedTileLayout {
  int64_t atoms, atomCols;
  bool swizzle;

  /// The indices of column `col` (a multiple of 8) of tile row `row`, after
  /// `lead` (the stage, if any): its atom (if there are several) and its
  /// (swizzled) column in it.
  llvm::SmallVector<mlir::Value> indices(mlir::ImplicitLocOpBuilder &b, mlir::ValueRange lead,
                                         mlir::Value row, mlir::Value col) const;
  /// Where indices() puts the row, after `lead` indices.
  size_t rowIndex(size_t lead) const { return lead + (atoms > 1 ? 1 : 0); }
};

/// The K/V tiles of one (sequence, KV head) streamed from the paged cache
/// into shared-memory stages by cp.async (PrefillKVCopy.cpp): tile j holds
/// the keys [lo + j·keys, lo + (j + 1)·keys), read through the block table
/// (any page size); keys at or past `hi` zero-fill their rows. A thread
/// copies the same 16-byte column of keys `threads / (headDim / 8)` apart.
class PagedTileCopier {
public:
  /// Where one of a thread's chunks of a tile comes from.
  struct ChunkSource {
    mlir::Value valid, safePos, page;
  };
  /// `lo32`, `hi32`: the keys' range as i32; `sK`, `sV`: the K and V
  /// stages ([stage, (atom,) key, column]).
  PagedTileCopier(mlir::ImplicitLocOpBuilder &b, const PrefillParams &p,
                  const SharedTileLayout &layout, int64_t keys, int64_t threads, mlir::Value tid,
                  mlir::Value kvHead, mlir::Value seq, mlir::Value lo32, mlir::Value hi32,
                  mlir::Value sK, mlir::Value sV);
  /// The block-table reads of the thread's chunks of tile `tile` (an
  /// index), all issued before any copy uses one, so a tile waits for one
  /// read, not one per chunk. A key past `hi` reads the page of `lo`
  /// (always mapped) and copies nothing.
  llvm::SmallVector<ChunkSource> lookUpPages(mlir::ImplicitLocOpBuilder &b, mlir::Value tile) const;
  /// cp.async of those chunks into K stage `kStage` and V stage `vStage`.
  void copy(mlir::ImplicitLocOpBuilder &b, mlir::Value kStage, mlir::Value vStage,
            llvm::ArrayRef<ChunkSource> sources) const;

private:
  const PrefillParams &p;
  const SharedTileLayout &layout;
  int64_t keys, chunksPerThread, keysPerPass, offsetStride, kvStride;
  mlir::Value seq, sK, sV, pageView;
  mlir::Value chunkKey, chunkKey32, headCol32, lo32, hi32;
  llvm::SmallVector<mlir::Value> chunkAt; ///< the thread's first chunk in a stage
};

/// Where a lane's accumulator rows sit in the row tile: row quad + 8·i of
/// MMA tile t of the lane's warp (rows from warpRow of the tile, which starts
/// at rowBase), counted from the sequence's first row (i32: a 64-bit row kept
/// live across the loop for the epilogue spilled at sm_80).
struct FragmentRows {
  mlir::Value rowBase, warpRow, quad;
  mlir::Value at(mlir::ImplicitLocOpBuilder &b, int64_t t, int64_t i) const;
};

/// One K/V tile's step of the online softmax in base 2
/// (PrefillSoftmax.cpp), on S in the mma.sync C layout (vector<2x2xf32>
/// per 8 keys; a lane holds rows quad and quad + 8 of each 16-row MMA
/// tile): the masks of the tiles that cross the diagonal, the window's edge
/// or the end of the keys, the rows' new maxima, the weights P as 16-bit
/// fragments, their sums and the O rescale factors.
class TileSoftmax {
public:
  /// The positions the masks compare against (i32): `firstPos32` the
  /// chunk's first token's, `tileFirstPos32` / `tileLastPos32` the row
  /// tile's first and last token's, `hi32` the end of the visible keys;
  /// `rows`, the lane's rows.
  TileSoftmax(const PrefillParams &p, mlir::Type elem, int64_t keys, int64_t mmaTiles,
              mlir::Value t4, mlir::Value firstPos32, mlir::Value tileFirstPos32,
              mlir::Value tileLastPos32, mlir::Value hi32, FragmentRows rows);

  struct Step {
    /// p[t][n]: the weights of MMA tile t, keys 8n..8n+7 (vector<2x2xE>).
    llvm::SmallVector<llvm::SmallVector<mlir::Value>> p;
    /// corr[t]: O's rescale factors (vector<2x2xf32>, the C layout's rows).
    llvm::SmallVector<mlir::Value> corr;
    /// The rows' running (max, max) and (sum, sum) per MMA tile, updated.
    llvm::SmallVector<mlir::Value> max, sum;
    /// With the lazy rescale: whether O is rescaled (warp-uniform).
    mlir::Value rescale;
  };
  /// The step over scores `s[t][n]` of the tile starting at key
  /// `tileStart32`, from the rows' running maxima and sums `max`, `sum`
  /// (2 per MMA tile).
  Step step(mlir::ImplicitLocOpBuilder &b, llvm::ArrayRef<llvm::SmallVector<mlir::Value>> s,
            mlir::Value tileStart32, mlir::ValueRange max, mlir::ValueRange sum) const;

private:
  /// MMA tile t's scores, flat in (n, i, jj) order, soft-capped once
  /// (outside the mask branch: both arms need them).
  llvm::SmallVector<mlir::Value> cappedScores(mlir::ImplicitLocOpBuilder &b,
                                              llvm::ArrayRef<mlir::Value> s) const;
  /// `scores` of MMA tile t with the masked keys set to -inf.
  llvm::SmallVector<mlir::Value> masked(mlir::ImplicitLocOpBuilder &b,
                                        llvm::ArrayRef<mlir::Value> scores, int64_t t,
                                        mlir::Value tileStart32) const;

  const PrefillParams &p;
  mlir::Type elem;
  int64_t keys, mmaTiles;
  /// The window in 32-bit math: clamped to 2^31 - 1 (positions are below it).
  int64_t window32;
  mlir::Value t4, firstPos32, tileFirstPos32, tileLastPos32, hi32;
  FragmentRows rows;
};

/// Where the prefill kernel's K and V stages start in shared memory, in
/// bytes from the tiles' start (after Q): two stages of K at `k`, then the
/// V stages at `v`, `stage` bytes each (PrefillAttentionToGPU.cpp's
/// KernelShape lays them out).
struct SharedTileOffsets {
  int64_t k, v, stage;
};

/// The prefill kernel's two GEMMs on mma.sync m16n8k16 (PrefillMmaSync.cpp):
/// fragments by ldmatrix from the shared tiles, one i8 `buffer`: Q [rows x
/// headDim], then the stages of K and of V ([keys x headDim] each) at
/// `offsets`, rows of 2·headDim bytes (chunk-swizzled with `swizzle`); `mt`
/// 16-row MMA tiles a warp from row `warpRow`. Results in the C layout,
/// vector<2x2xf32> per 8 columns.
class MmaSyncTiles {
public:
  MmaSyncTiles(mlir::ImplicitLocOpBuilder &b, mlir::Value buffer, mlir::Value lane,
               mlir::Value warpRow, mlir::Type elem, SharedTileOffsets offsets, int64_t keys,
               int64_t headDim, int64_t mt, bool swizzle);
  /// S = Q·Kᵀ over K stage `stage`: [t][n] for MMA tile t, keys 8n..8n+7.
  llvm::SmallVector<llvm::SmallVector<mlir::Value>> scores(mlir::ImplicitLocOpBuilder &b,
                                                           mlir::Value stage) const;
  /// O += P·V over V stage `stage`: p(t, ks) the A fragment (vector<4x2xE>)
  /// of MMA tile t, keys 16ks..16ks+15; o[t·headDim/8 + n] the accumulators,
  /// updated.
  void accumulate(mlir::ImplicitLocOpBuilder &b, mlir::Value stage,
                  llvm::function_ref<mlir::Value(int64_t, int64_t)> p,
                  llvm::MutableArrayRef<mlir::Value> o) const;

private:
  mlir::Value ldmatrixAt(mlir::ImplicitLocOpBuilder &b, mlir::Value offset, bool transpose) const;

  mlir::Value buffer;
  mlir::Type elem;
  int64_t keys, headDim, mt, rowBytes, stageBytes;
  mlir::Value qLane, kLane, vLane; ///< the lane's ldmatrix byte offsets (stage 0, k-step 0)
};

/// The prefill kernel's two GEMMs on Hopper's warpgroup MMA
/// (PrefillWarpgroupMma.cpp) over its shared-memory tiles: Q [rows x headDim],
/// then the stages of K and of V ([keys x headDim] each) at `offsets`, 16-bit `elem`,
/// in 64-column atoms with the 128-byte swizzle, from `tilesAddress` (a
/// shared-window address, a multiple of 1024). Warp w owns rows 16w..16w+15;
/// results are in the mma.sync C layout, vector<2x2xf32> per 8 columns.
class WarpgroupTiles {
public:
  WarpgroupTiles(mlir::ImplicitLocOpBuilder &b, mlir::Value tilesAddress, mlir::Value warp,
                 mlir::Type elem, SharedTileOffsets offsets, int64_t rows, int64_t keys,
                 int64_t headDim);
  /// O += P·V over V stage `stage`: p[ks] the A fragment (vector<4x2xE>) of
  /// keys 16ks..16ks+15, o the headDim/8 accumulator blocks, updated.
  void accumulate(mlir::ImplicitLocOpBuilder &b, mlir::Value stage, llvm::ArrayRef<mlir::Value> p,
                  llvm::MutableArrayRef<mlir::Value> o) const;

  // The steps, for a kernel that keeps several groups in flight: operands
  // first, then a fence, then the MMAs as committed groups, each retired by
  // a wait that leaves `inFlight` younger groups running.
  /// The registers of O += P·V: P packed, one list a k-step, and O's.
  struct Operands {
    llvm::SmallVector<llvm::SmallVector<mlir::Value>> a;
    llvm::SmallVector<mlir::Value> o;
  };
  Operands accumulateOperands(mlir::ImplicitLocOpBuilder &b, llvm::ArrayRef<mlir::Value> p,
                              llvm::ArrayRef<mlir::Value> o) const;
  void fence(mlir::ImplicitLocOpBuilder &b) const;
  /// S = Q·Kᵀ's group; the accumulators, pending.
  mlir::Value issueScores(mlir::ImplicitLocOpBuilder &b, mlir::Value stage) const;
  /// O += P·V's group over V stage `stage`; the accumulators, pending.
  mlir::Value issueAccumulate(mlir::ImplicitLocOpBuilder &b, mlir::Value stage,
                              const Operands &operands) const;
  /// Waits until at most `inFlight` groups are pending; `accumulators` (of
  /// an older group) as vector<2x2xf32> blocks of 8 columns. With the
  /// `operands` of a P·V group it retires, their A registers stay live and
  /// unwritten until the wait.
  llvm::SmallVector<mlir::Value> retired(mlir::ImplicitLocOpBuilder &b, mlir::Value accumulators,
                                         int64_t inFlight,
                                         const Operands *operands = nullptr) const;

private:
  /// The descriptor low word of stage `stage` of K (or of V).
  mlir::Value stageDescriptor(mlir::ImplicitLocOpBuilder &b, mlir::Value stage, bool v) const;

  mlir::Type elem;
  SharedTileOffsets offsets;
  int64_t rows, keys, headDim;
  /// The descriptors' low words (i32) of the tiles, and of this warpgroup's
  /// Q rows.
  mlir::Value descBase, qDescBase;
};

/// Whether the tensor-core kernel serves this shape (an f16 or bf16 cache, head_dim
/// 64 or 128, GQA groups of at most 64 heads); otherwise the flash-decoding
/// kernel serves every sequence.
bool prefillKernelApplies(mlir::Type elem, int64_t headDim, int64_t groupSize);

/// Launches the prefill kernel over every sequence with more than one query
/// token (decode tokens are left to the decode kernels), or with
/// `decodeTokens` its decode instance over the one-token sequences, a CTA per
/// (split, KV head, sequence) (`splits`).
void emitPrefillAttention(mlir::ImplicitLocOpBuilder &b, const PrefillParams &p);

} // namespace kvcc

#endif // KVCC_LIB_CONVERSION_KVCTOGPU_PREFILLATTENTION_H
