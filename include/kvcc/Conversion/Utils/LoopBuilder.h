//===- LoopBuilder.h - loop-nest helpers of the kvc lowerings ---*- C++ -*-===//
//
// Small conveniences over ImplicitLocOpBuilder for the loop nests the CPU
// and GPU lowerings emit: constants, index arithmetic, loads of integer
// tensors as indices, the tensor/buffer boundary, and rows of the paged cache.
//
//===----------------------------------------------------------------------===//
#ifndef KVCC_CONVERSION_UTILS_LOOPBUILDER_H
#define KVCC_CONVERSION_UTILS_LOOPBUILDER_H

#include "kvcc/Dialect/KVC/IR/KVC.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

#include <functional>
#include <optional>
#include <utility>

namespace kvcc::lowering {

using mlir::ImplicitLocOpBuilder;
using mlir::Value;

/// The running max of an online softmax before any key: finite, so that
/// exp(m_old - m_new) stays defined while both are at the initial value.
constexpr double kNoScore = -1.0e30;

/// The page buffer a `!kvc.paged_cache` lowers to:
/// token_major: [pages, 2, block_size, kv_heads, head_dim],
/// head_major:  [pages, 2, kv_heads, block_size, head_dim].
mlir::MemRefType pageBufferType(kvc::PagedCacheType cache);

/// The dimensions of a page buffer that hold the token's offset in its page
/// and the KV head: (2, 3) token-major, (3, 2) head-major.
struct CacheRowDims {
  int64_t offset, head;
};
CacheRowDims cacheRowDims(kvc::CacheLayout layout);

/// kvc.argmax's order, shared by every lowering so they pick the same column:
/// true when (a, column ia) beats (best, column ib). NaN beats every number,
/// a larger number beats a smaller one, and equal values (two NaNs included)
/// go to the lower column. Values are f32, columns i32.
Value argmaxPrefers(ImplicitLocOpBuilder &b, Value a, Value ia, Value best,
                    Value ib);

/// An index as i32: positions and key bounds fit (context_lens is i32), and
/// 32-bit vectors hold twice the lanes.
Value toI32(ImplicitLocOpBuilder &b, Value index);

/// A vector (or tensor) type's constant with every element `v`.
Value splatF32(ImplicitLocOpBuilder &b, mlir::ShapedType type, double v);
/// A vector (or tensor) of zeros, any element type.
Value zeros(ImplicitLocOpBuilder &b, mlir::ShapedType type);

struct Loops {
  ImplicitLocOpBuilder &b;

  Value idx(int64_t v);
  Value f32(double v);
  Value add(Value x, Value y);
  Value sub(Value x, Value y);
  Value mul(Value x, Value y);
  Value divU(Value x, Value y);
  Value remU(Value x, Value y);
  Value minU(Value x, Value y);
  Value maxS(Value x, Value y);
  Value ceilDiv(Value x, Value y);

  /// Element `indices` of an integer buffer as an index.
  Value loadIndex(Value buffer, mlir::ValueRange indices);

  /// A read-only buffer view of a tensor operand.
  Value toBuffer(Value tensor);

  /// A read-only view of a tensor operand in any strided layout whose rows
  /// are contiguous (unit innermost stride): a slice of a bigger buffer (a
  /// weight of the flat weight argument, a column block of a fused q/k/v
  /// projection) is read in place rather than copied into an identity-layout
  /// buffer first (on the CPU such a copy is a call into MLIR's runtime
  /// library, which model.so does not link; on the GPU a host loop).
  Value toStridedBuffer(Value tensor);

  /// A fresh buffer of the shape of `like` (dynamic sizes read off `like`).
  Value allocLike(mlir::RankedTensorType type, Value likeBuffer);

  /// Wraps a filled buffer as the op's result tensor.
  Value toTensor(mlir::RankedTensorType type, Value buffer);

  /// for (iv = lb; iv < ub; iv += 1) body(iv), no loop-carried values.
  void forLoop(Value lb, Value ub,
               const std::function<void(ImplicitLocOpBuilder &, Value)> &body);

  /// A float scalar or vector extended to f32 (unchanged when it is f32):
  /// kernels compute in f32 whatever the storage type.
  Value toF32(Value v);

  /// An f32 scalar or vector truncated to `elem` (unchanged when f32).
  Value fromF32(Value v, mlir::Type elem);

  /// A float scalar or vector in element type `elem` (unchanged when it
  /// already is; otherwise through f32, so f16 <-> bf16 rounds once): what a
  /// cache store does with keys of the model's type.
  Value convertTo(Value v, mlir::Type elem);

  /// Loads buffer[indices..., 0:n] as vector<n x f32> (extending from f16/bf16).
  Value loadRowF32(Value buffer, mlir::ValueRange indices, int64_t n);

  /// Stores an f32 vector to buffer[indices..., 0:n] (truncating as needed).
  void storeRowF32(Value row, Value buffer, mlir::ValueRange indices);

  /// The keys [lo, hi) the query at position `pos` sees in a context of
  /// `contextLen` keys, cut into `numSplits` chunks: the bounds of chunk
  /// `split` (empty chunks have lo == hi). The causal bound and the sliding
  /// window are loop bounds, so masked keys are never visited. Signed clamps:
  /// a malformed batch (pos < -1) sees no key instead of every key.
  std::pair<Value, Value> visibleKeys(Value pos, Value contextLen, bool causal,
                                      std::optional<int64_t> window,
                                      Value numSplits, Value split);

  /// Chunk `split` of [lo, hi) cut into `numSplits`: ceil(count / numSplits)
  /// keys rounded up to a multiple of `granule`, from lo + split * chunk;
  /// chunks past hi (or of an empty range) are empty (lo == hi).
  std::pair<Value, Value> splitRange(Value lo, Value hi, Value numSplits, Value split,
                                     int64_t granule = 1);

  /// kvc.append's slot rule, shared by every target: a negative `slot`
  /// (integer) marks a padding token and writes nothing; otherwise
  /// body(page, offset) runs with slot = page * blockSize + offset.
  void ifSlot(Value slot, int64_t blockSize,
              const std::function<void(ImplicitLocOpBuilder &, Value page,
                                       Value offset)> &body);

  /// Indices of token `offset` of `page`, head `head`, keys (kv = 0) or values
  /// (kv = 1) in a page buffer of the given layout.
  llvm::SmallVector<Value> cacheRow(kvc::CacheLayout layout, Value page,
                                    int64_t kv, Value offset, Value head);
};

} // namespace kvcc::lowering

#endif // KVCC_CONVERSION_UTILS_LOOPBUILDER_H
