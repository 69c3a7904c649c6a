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
