//===- KVCOps.cpp - kvc operation verifiers --------------------------------===//
//
// Every diagnostic names the operand or attribute at fault and the values that
// disagree, so a frontend bug reads as a sentence, not a shape dump.
//
//===----------------------------------------------------------------------===//
#include "kvcc/Dialect/KVC/IR/KVC.h"

#include <cmath>

using namespace mlir;
using namespace kvcc::kvc;

namespace {

/// Each split keeps per-CTA (CPU: per-thread stack) state and adds a combine
/// term; beyond this many the plan is a mistake, not a tuning choice.
constexpr int64_t kMaxNumSplits = 256;

/// Two dimensions agree unless both are static and differ.
bool dimsAgree(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

std::string dimString(int64_t d) {
  return ShapedType::isDynamic(d) ? std::string("?") : std::to_string(d);
}

LogicalResult checkRank(Operation *op, StringRef name, Value v, int64_t rank) {
  auto type = cast<RankedTensorType>(v.getType());
  if (type.getRank() == rank)
    return success();
  return op->emitOpError() << name << " must have rank " << rank << ", got "
                           << type;
}

/// `what` of `name` must equal the cache's `cacheWhat` when static.
LogicalResult checkDim(Operation *op, StringRef name, int64_t dim,
                       StringRef what, int64_t expected, StringRef expectedWhat) {
  if (dimsAgree(dim, expected))
    return success();
  return op->emitOpError() << name << " has " << what << " " << dimString(dim)
                           << ", but " << expectedWhat << " is "
                           << dimString(expected);
}

/// How the element type of a tensor next to a cache must relate to the
/// cache's: the same (a read-out of the cache), or any type a cache may hold,
/// converted on the way in or out (an f32 model with an f16 cache: keys and
/// values are rounded when stored, attention computes in f32 either way).
enum class CacheElement { Same, Convertible };

/// The [tokens, heads, head_dim] tensor `name` must hold the cache's head_dim
/// and an element type allowed by `rule`; with `mustMatchHeads` also its
/// kv_heads.
LogicalResult checkAgainstCache(Operation *op, StringRef name, Value v,
                                PagedCacheType cache, bool mustMatchHeads,
                                CacheElement rule) {
  if (failed(checkRank(op, name, v, 3)))
    return failure();
  auto type = cast<RankedTensorType>(v.getType());
  Type elem = type.getElementType();
  if (rule == CacheElement::Same && elem != cache.getElementType())
    return op->emitOpError() << name << " element type " << elem
                             << " differs from the cache element type "
                             << cache.getElementType();
  if (rule == CacheElement::Convertible && !elem.isF16() && !elem.isBF16() &&
      !elem.isF32())
    return op->emitOpError() << name << " element type " << elem
                             << " is not f16, bf16 or f32 (the types a cache "
                                "converts from)";
  if (failed(checkDim(op, name, type.getDimSize(2), "head_dim",
                      cache.getHeadDim(), "the cache head_dim")))
    return failure();
  if (mustMatchHeads &&
      failed(checkDim(op, name, type.getDimSize(1), "kv_heads",
                      cache.getNumKVHeads(), "the cache kv_heads")))
    return failure();
  return success();
}

/// Query heads must be a whole multiple of KV heads (GQA groups).
LogicalResult checkGrouping(Operation *op, int64_t qHeads, int64_t kvHeads) {
  if (ShapedType::isDynamic(qHeads) || ShapedType::isDynamic(kvHeads))
    return op->emitOpError()
           << "query and KV head counts must be static, got query heads "
           << dimString(qHeads) << " and kv_heads " << dimString(kvHeads);
  if (kvHeads < 1)
    return op->emitOpError() << "kv_heads must be at least 1, got " << kvHeads;
  if (qHeads % kvHeads != 0)
    return op->emitOpError() << "query has " << qHeads
                             << " heads, which is not a multiple of the "
                             << kvHeads << " KV heads";
  return success();
}

/// Results carry exactly the type of the operand they mirror: the lowerings
/// read static head counts off either.
LogicalResult checkExactType(Operation *op, StringRef name, Type actual,
                             StringRef refName, Type expected) {
  if (actual == expected)
    return success();
  return op->emitOpError() << name << " type " << actual << " does not match "
                           << refName << " type " << expected;
}

LogicalResult checkSameType(Operation *op, StringRef name, Type actual,
                            StringRef refName, Type expected) {
  auto a = cast<RankedTensorType>(actual), e = cast<RankedTensorType>(expected);
  bool shapesAgree = a.getRank() == e.getRank();
  for (int64_t i = 0; shapesAgree && i < a.getRank(); ++i)
    shapesAgree = dimsAgree(a.getDimSize(i), e.getDimSize(i));
  if (shapesAgree && a.getElementType() == e.getElementType())
    return success();
  return op->emitOpError() << name << " type " << actual << " does not match "
                           << refName << " type " << expected;
}

/// scale > 0, sliding_window >= 1, softcap > 0: shared by both attentions.
LogicalResult checkAttentionAttrs(Operation *op, APFloat scale,
                                  std::optional<uint64_t> window,
                                  std::optional<APFloat> softcap) {
  double s = scale.convertToDouble();
  if (!(s > 0.0) || !std::isfinite(s))
    return op->emitOpError() << "scale must be positive and finite, got " << s;
  if (window && static_cast<int64_t>(*window) < 1)
    return op->emitOpError() << "sliding_window must be at least 1, got "
                             << static_cast<int64_t>(*window);
  if (softcap) {
    double c = softcap->convertToDouble();
    if (!(c > 0.0) || !std::isfinite(c))
      return op->emitOpError() << "softcap must be positive and finite, got "
                               << c;
  }
  return success();
}

} // namespace

//===----------------------------------------------------------------------===//
// AppendOp
//===----------------------------------------------------------------------===//

/// The rows an append writes (kvc.append, kvc.rope_append): keys and values
/// of one type, [tokens, kv_heads, head_dim] of the cache, in an element type
/// the store converts from, and one slot per token.
static LogicalResult checkAppendedRows(Operation *op, Value key, Value value,
                                       TypedValue<RankedTensorType> slots,
                                       PagedCacheType cache) {
  if (failed(checkAgainstCache(op, "key", key, cache, true,
                               CacheElement::Convertible)) ||
      failed(checkAgainstCache(op, "value", value, cache, true,
                               CacheElement::Convertible)) ||
      failed(checkSameType(op, "value", value.getType(), "key", key.getType())) ||
      failed(checkRank(op, "slots", slots, 1)))
    return failure();
  return checkDim(op, "slots", slots.getType().getDimSize(0), "length",
                  cast<RankedTensorType>(key.getType()).getDimSize(0),
                  "the key token count");
}

LogicalResult AppendOp::verify() {
  return checkAppendedRows(*this, getKey(), getValue(), getSlots(),
                           getCache().getType());
}

//===----------------------------------------------------------------------===//
// PagedAttentionOp
//===----------------------------------------------------------------------===//

int64_t PagedAttentionOp::getGroupSize() {
  return getQuery().getType().getDimSize(1) /
         getCache().getType().getNumKVHeads();
}

LogicalResult PagedAttentionOp::verify() {
  auto cache = getCache().getType();
  auto query = getQuery().getType();
  if (failed(checkAgainstCache(*this, "query", getQuery(), cache, false,
                               CacheElement::Convertible)) ||
      failed(checkGrouping(*this, query.getDimSize(1), cache.getNumKVHeads())) ||
      failed(checkExactType(*this, "result", getResult().getType(), "query",
                            query)) ||
      failed(checkRank(*this, "block_tables", getBlockTables(), 2)) ||
      failed(checkRank(*this, "context_lens", getContextLens(), 1)) ||
      failed(checkRank(*this, "query_start", getQueryStart(), 1)))
    return failure();

  int64_t batch = getContextLens().getType().getDimSize(0);
  if (failed(checkDim(*this, "block_tables",
                      getBlockTables().getType().getDimSize(0), "rows", batch,
                      "the context_lens length")))
    return failure();
  int64_t starts = getQueryStart().getType().getDimSize(0);
  if (!ShapedType::isDynamic(batch) && !ShapedType::isDynamic(starts) &&
      starts != batch + 1)
    return emitOpError() << "query_start must have one entry per sequence plus "
                            "one ("
                         << batch + 1 << "), got " << starts;
  for (auto [name, splits] : {std::pair{"num_splits", getNumSplits()},
                               std::pair{"max_splits", getMaxSplits()}})
    if (splits && (static_cast<int64_t>(*splits) < 1 ||
                   static_cast<int64_t>(*splits) > kMaxNumSplits))
      return emitOpError() << name << " must be in [1, " << kMaxNumSplits
                           << "], got " << static_cast<int64_t>(*splits);
  if (getNumSplits() && getMaxSplits())
    return emitOpError() << "num_splits (a fixed plan) and max_splits (a plan "
                            "per call) are exclusive";
  return checkAttentionAttrs(*this, getScale(), getSlidingWindow(),
                             getSoftcap());
}

//===----------------------------------------------------------------------===//
// AttentionOp
//===----------------------------------------------------------------------===//

LogicalResult AttentionOp::verify() {
  if (failed(checkRank(*this, "query", getQuery(), 3)) ||
      failed(checkRank(*this, "key", getKey(), 3)) ||
      failed(checkSameType(*this, "value", getValue().getType(), "key",
                           getKey().getType())) ||
      failed(checkExactType(*this, "result", getResult().getType(), "query",
                            getQuery().getType())))
    return failure();
  auto q = getQuery().getType(), k = getKey().getType();
  if (q.getElementType() != k.getElementType())
    return emitOpError() << "query element type " << q.getElementType()
                         << " differs from the key element type "
                         << k.getElementType();
  if (failed(checkDim(*this, "query", q.getDimSize(2), "head_dim",
                      k.getDimSize(2), "the key head_dim")) ||
      failed(checkGrouping(*this, q.getDimSize(1), k.getDimSize(1))))
    return failure();
  return checkAttentionAttrs(*this, getScale(), getSlidingWindow(),
                             getSoftcap());
}

//===----------------------------------------------------------------------===//
// RopeOp
//===----------------------------------------------------------------------===//

/// The rotary parameters of a rope: `rotary_dim` even, within `headDim`;
/// `theta` and `scaling` positive and finite.
static LogicalResult checkRopeParameters(Operation *op, int64_t rotary, int64_t headDim,
                                         double theta, double scaling) {
  if (rotary < 2 || rotary % 2 != 0)
    return op->emitOpError() << "rotary_dim must be a positive even number, got "
                             << rotary;
  if (!ShapedType::isDynamic(headDim) && rotary > headDim)
    return op->emitOpError() << "rotary_dim " << rotary
                             << " exceeds the input head_dim " << headDim;
  if (!(theta > 0.0) || !std::isfinite(theta))
    return op->emitOpError() << "theta must be positive and finite, got " << theta;
  if (!(scaling > 0.0) || !std::isfinite(scaling))
    return op->emitOpError() << "scaling_factor must be positive and finite, got "
                             << scaling;
  return success();
}

LogicalResult RopeOp::verify() {
  if (failed(checkRank(*this, "input", getInput(), 3)) ||
      failed(checkRank(*this, "positions", getPositions(), 1)) ||
      failed(checkExactType(*this, "result", getResult().getType(), "input",
                            getInput().getType())))
    return failure();
  auto input = getInput().getType();
  if (failed(checkDim(*this, "positions", getPositions().getType().getDimSize(0),
                      "length", input.getDimSize(0), "the input token count")))
    return failure();
  return checkRopeParameters(*this, getRotaryDim(), input.getDimSize(2),
                             getTheta().convertToDouble(),
                             getScalingFactor().convertToDouble());
}

//===----------------------------------------------------------------------===//
// RopeAppendOp
//===----------------------------------------------------------------------===//

LogicalResult RopeAppendOp::verify() {
  auto cache = getCache().getType();
  auto query = getQuery().getType();
  if (failed(checkAppendedRows(*this, getKey(), getValue(), getSlots(), cache)) ||
      failed(checkAgainstCache(*this, "query", getQuery(), cache, false,
                               CacheElement::Convertible)) ||
      failed(checkGrouping(*this, query.getDimSize(1), cache.getNumKVHeads())) ||
      failed(checkExactType(*this, "rotated_query", getRotatedQuery().getType(),
                            "query", query)) ||
      failed(checkRank(*this, "positions", getPositions(), 1)))
    return failure();
  int64_t tokens = getKey().getType().getDimSize(0);
  if (failed(checkDim(*this, "query", query.getDimSize(0), "token count", tokens,
                      "the key token count")) ||
      failed(checkDim(*this, "positions", getPositions().getType().getDimSize(0),
                      "length", tokens, "the key token count")))
    return failure();
  return checkRopeParameters(*this, getRotaryDim(), cache.getHeadDim(),
                             getTheta().convertToDouble(),
                             getScalingFactor().convertToDouble());
}

//===----------------------------------------------------------------------===//
// RMSNormOp
//===----------------------------------------------------------------------===//

LogicalResult RMSNormOp::verify() {
  if (failed(checkRank(*this, "input", getInput(), 2)) ||
      failed(checkRank(*this, "weight", getWeight(), 1)) ||
      failed(checkExactType(*this, "result", getResult().getType(), "input",
                            getInput().getType())))
    return failure();
  auto input = getInput().getType();
  if (failed(checkDim(*this, "weight", getWeight().getType().getDimSize(0),
                      "length", input.getDimSize(1), "the input hidden size")))
    return failure();
  if (getWeight().getType().getElementType() != input.getElementType())
    return emitOpError() << "weight element type "
                         << getWeight().getType().getElementType()
                         << " differs from the input's " << input.getElementType();
  if (bool(getResidual()) != bool(getSum()))
    return emitOpError() << (getResidual() ? "a residual needs the sum result"
                                           : "the sum result needs a residual");
  if (getResidual() &&
      (failed(checkExactType(*this, "residual", getResidual().getType(),
                             "input", input)) ||
       failed(checkExactType(*this, "sum", getSum().getType(), "input", input))))
    return failure();
  double eps = getEpsilon().convertToDouble();
  if (!(eps >= 0.0) || !std::isfinite(eps))
    return emitOpError() << "epsilon must be non-negative and finite, got " << eps;
  return success();
}

//===----------------------------------------------------------------------===//
// ArgmaxOp
//===----------------------------------------------------------------------===//

LogicalResult ArgmaxOp::verify() {
  if (failed(checkRank(*this, "input", getInput(), 2)) ||
      failed(checkRank(*this, "index result", getIndex(), 1)) ||
      failed(checkRank(*this, "value result", getValue(), 1)))
    return failure();
  auto input = getInput().getType();
  if (getValue().getType().getElementType() != input.getElementType())
    return emitOpError() << "value result element type "
                         << getValue().getType().getElementType()
                         << " differs from the input's " << input.getElementType();
  if (failed(checkDim(*this, "index result", getIndex().getType().getDimSize(0),
                      "length", input.getDimSize(0), "the input's rows")) ||
      failed(checkDim(*this, "value result", getValue().getType().getDimSize(0),
                      "length", input.getDimSize(0), "the input's rows")))
    return failure();
  // An empty row has no maximum; column indices are i32.
  if (!input.isDynamicDim(1) &&
      (input.getDimSize(1) < 1 || input.getDimSize(1) > INT32_MAX))
    return emitOpError() << "needs rows of 1 .. 2^31-1 columns (i32 indices), got "
                         << input.getDimSize(1);
  return success();
}

//===----------------------------------------------------------------------===//
// GatherOp
//===----------------------------------------------------------------------===//

LogicalResult GatherOp::verify() {
  auto cache = getCache().getType();
  if (failed(checkRank(*this, "block_table", getBlockTable(), 1)) ||
      failed(checkAgainstCache(*this, "key result", getKey(), cache, true,
                               CacheElement::Same)) ||
      failed(checkSameType(*this, "value result", getValue().getType(),
                           "key result", getKey().getType())))
    return failure();
  return success();
}

#define GET_OP_CLASSES
#include "kvcc/Dialect/KVC/IR/KVCOps.cpp.inc"
