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

/// The prefill kernel's two GEMMs on mma.sync m16n8k16 (PrefillMmaSync.cpp):
/// fragments by ldmatrix from the shared tiles, one i8 `buffer`: Q [rows x
/// headDim], then two stages of K and two of V ([keys x headDim] each), rows
/// of 2·headDim bytes (chunk-swizzled with `swizzle`); `mt` 16-row MMA tiles
/// a warp from row `warpRow`. Results in the C layout, vector<2x2xf32> per 8
/// columns.
class MmaSyncTiles {
public:
  MmaSyncTiles(mlir::ImplicitLocOpBuilder &b, mlir::Value buffer, mlir::Value lane,
               mlir::Value warpRow, mlir::Type elem, int64_t rows, int64_t keys, int64_t headDim,
               int64_t mt, bool swizzle);
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
/// then two stages of K, then the stages of V ([keys x headDim] each), 16-bit `elem`,
/// in 64-column atoms with the 128-byte swizzle, from `tilesAddress` (a
/// shared-window address, a multiple of 1024). Warp w owns rows 16w..16w+15;
/// results are in the mma.sync C layout, vector<2x2xf32> per 8 columns.
class WarpgroupTiles {
public:
  WarpgroupTiles(mlir::ImplicitLocOpBuilder &b, mlir::Value tilesAddress, mlir::Value warp,
                 mlir::Type elem, int64_t rows, int64_t keys, int64_t headDim);
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
  /// The descriptor base of stage `stage` of K (or of V).
  mlir::Value stageDescriptor(mlir::ImplicitLocOpBuilder &b, mlir::Value stage, bool v) const;

  mlir::Type elem;
  int64_t rows, keys, headDim;
  mlir::Value descBase, qDescBase; ///< the tiles', and this warpgroup's Q rows'
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
