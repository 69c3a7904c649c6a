//===- LoopBuilder.cpp - shared helpers of the kvc CPU lowering ------------===//
#include "kvcc/Conversion/Utils/LoopBuilder.h"
#include "mlir/IR/TypeUtilities.h"

using namespace mlir;

namespace kvcc::lowering {

MemRefType pageBufferType(kvc::PagedCacheType cache) {
  SmallVector<int64_t> shape = {ShapedType::kDynamic, 2, 0, 0, cache.getHeadDim()};
  CacheRowDims dims = cacheRowDims(cache.getLayout());
  shape[dims.offset] = cache.getBlockSize();
  shape[dims.head] = cache.getNumKVHeads();
  return MemRefType::get(shape, cache.getElementType());
}

Value argmaxPrefers(ImplicitLocOpBuilder &b, Value a, Value ia, Value best,
                    Value ib) {
  using P = arith::CmpFPredicate;
  Value aNaN = arith::CmpFOp::create(b, P::UNO, a, a);
  Value bestNaN = arith::CmpFOp::create(b, P::UNO, best, best);
  Value notBestNaN = arith::XOrIOp::create(
      b, bestNaN, arith::ConstantOp::create(b, b.getBoolAttr(true)));
  Value nanOverNumber = arith::AndIOp::create(b, aNaN, notBestNaN);
  Value greater = arith::CmpFOp::create(b, P::OGT, a, best); // false with a NaN
  Value equal = arith::CmpFOp::create(b, P::OEQ, a, best);
  Value bothNaN = arith::AndIOp::create(b, aNaN, bestNaN);
  Value tie = arith::OrIOp::create(b, equal, bothNaN);
  Value lower = arith::CmpIOp::create(b, arith::CmpIPredicate::slt, ia, ib);
  Value wins = arith::OrIOp::create(b, nanOverNumber, greater);
  Value winsTie = arith::AndIOp::create(b, tie, lower);
  return arith::OrIOp::create(b, wins, winsTie);
}

Value toI32(ImplicitLocOpBuilder &b, Value index) {
  return arith::IndexCastOp::create(b, b.getI32Type(), index);
}

Value splatF32(ImplicitLocOpBuilder &b, ShapedType type, double v) {
  return arith::ConstantOp::create(b, DenseElementsAttr::get(type, b.getF32FloatAttr(v)));
}

Value zeros(ImplicitLocOpBuilder &b, ShapedType type) {
  return arith::ConstantOp::create(b, cast<TypedAttr>(b.getZeroAttr(type)));
}

Value Loops::idx(int64_t v) { return arith::ConstantIndexOp::create(b, v); }
Value Loops::f32(double v) {
  return arith::ConstantOp::create(b, b.getF32FloatAttr(static_cast<float>(v)));
}
Value Loops::add(Value x, Value y) { return arith::AddIOp::create(b, x, y); }
Value Loops::sub(Value x, Value y) { return arith::SubIOp::create(b, x, y); }
Value Loops::mul(Value x, Value y) { return arith::MulIOp::create(b, x, y); }
Value Loops::divU(Value x, Value y) { return arith::DivUIOp::create(b, x, y); }
Value Loops::remU(Value x, Value y) { return arith::RemUIOp::create(b, x, y); }
Value Loops::minU(Value x, Value y) { return arith::MinUIOp::create(b, x, y); }
Value Loops::maxS(Value x, Value y) { return arith::MaxSIOp::create(b, x, y); }
Value Loops::ceilDiv(Value x, Value y) {
  return arith::CeilDivUIOp::create(b, x, y);
}

Value Loops::loadIndex(Value buffer, ValueRange indices) {
  Value v = memref::LoadOp::create(b, buffer, indices);
  return arith::IndexCastOp::create(b, b.getIndexType(), v);
}

Value Loops::toBuffer(Value tensor) {
  auto type = cast<RankedTensorType>(tensor.getType());
  auto memrefType = MemRefType::get(type.getShape(), type.getElementType());
  return bufferization::ToBufferOp::create(b, memrefType, tensor,
                                           /*read_only=*/true);
}

Value Loops::toStridedBuffer(Value tensor) {
  auto type = cast<RankedTensorType>(tensor.getType());
  SmallVector<int64_t> strides(type.getRank(), ShapedType::kDynamic);
  if (!strides.empty())
    strides.back() = 1; // rows stay contiguous: vector loads remain legal
  auto layout = StridedLayoutAttr::get(b.getContext(), ShapedType::kDynamic, strides);
  auto memrefType = MemRefType::get(type.getShape(), type.getElementType(), layout);
  return bufferization::ToBufferOp::create(b, memrefType, tensor,
                                           /*read_only=*/true);
}

Value Loops::allocLike(RankedTensorType type, Value likeBuffer) {
  SmallVector<Value> sizes;
  for (int64_t i = 0; i < type.getRank(); ++i)
    if (type.isDynamicDim(i))
      sizes.push_back(memref::DimOp::create(b, likeBuffer, i));
  auto memrefType = MemRefType::get(type.getShape(), type.getElementType());
  return memref::AllocOp::create(b, memrefType, sizes);
}

Value Loops::toTensor(RankedTensorType type, Value buffer) {
  return bufferization::ToTensorOp::create(b, type, buffer, /*restrict=*/true,
                                           /*writable=*/true);
}

void Loops::forLoop(Value lb, Value ub,
                    const std::function<void(ImplicitLocOpBuilder &, Value)> &body) {
  scf::ForOp::create(b, lb, ub, idx(1), ValueRange{},
                     [&](OpBuilder &nested, Location loc, Value iv, ValueRange) {
                       ImplicitLocOpBuilder inner(loc, nested);
                       body(inner, iv);
                       scf::YieldOp::create(inner);
                     });
}

/// `elem`, or a vector of it shaped like `like`.
static Type withElement(Value like, Type elem) {
  if (auto vec = dyn_cast<VectorType>(like.getType()))
    return vec.clone(elem);
  return elem;
}

Value Loops::toF32(Value v) {
  if (getElementTypeOrSelf(v.getType()).isF32())
    return v;
  return arith::ExtFOp::create(b, withElement(v, b.getF32Type()), v);
}

Value Loops::fromF32(Value v, Type elem) {
  if (elem.isF32())
    return v;
  return arith::TruncFOp::create(b, withElement(v, elem), v);
}

Value Loops::convertTo(Value v, Type elem) {
  if (getElementTypeOrSelf(v.getType()) == elem)
    return v;
  return fromF32(toF32(v), elem);
}

Value Loops::loadRowF32(Value buffer, ValueRange indices, int64_t n) {
  Type elem = cast<MemRefType>(buffer.getType()).getElementType();
  return toF32(vector::LoadOp::create(b, VectorType::get({n}, elem), buffer, indices));
}

void Loops::storeRowF32(Value row, Value buffer, ValueRange indices) {
  Type elem = cast<MemRefType>(buffer.getType()).getElementType();
  vector::StoreOp::create(b, fromF32(row, elem), buffer, indices);
}

std::pair<Value, Value> Loops::visibleKeys(Value pos, Value contextLen,
                                          bool causal,
                                          std::optional<int64_t> window,
                                          Value numSplits, Value split) {
  Value end = add(pos, idx(1));
  Value hi = contextLen;
  if (causal)
    hi = arith::MinSIOp::create(b, maxS(end, idx(0)), contextLen);
  Value lo = idx(0);
  if (window)
    lo = maxS(sub(end, idx(*window)), idx(0));
  return splitRange(lo, hi, numSplits, split);
}

std::pair<Value, Value> Loops::splitRange(Value lo, Value hi, Value numSplits, Value split,
                                          int64_t granule) {
  Value nonEmpty = arith::CmpIOp::create(b, arith::CmpIPredicate::slt, lo, hi);
  Value count = arith::SelectOp::create(b, nonEmpty, sub(hi, lo), idx(0));
  // Counts are below 2^31 (context_lens is i32): a split count known only at
  // run time divides in 32 bits, not through a 64-bit division routine.
  Value chunk;
  if (getConstantIntValue(numSplits)) {
    chunk = ceilDiv(count, numSplits);
  } else {
    auto i32 = b.getI32Type();
    chunk = arith::IndexCastUIOp::create(
        b, b.getIndexType(),
        arith::CeilDivUIOp::create(b, arith::IndexCastUIOp::create(b, i32, count),
                                   arith::IndexCastUIOp::create(b, i32, numSplits)));
  }
  if (granule > 1)
    chunk = mul(ceilDiv(chunk, idx(granule)), idx(granule));
  Value splitLo = arith::MinSIOp::create(b, add(lo, mul(split, chunk)), hi);
  Value splitHi = arith::MinSIOp::create(b, add(splitLo, chunk), hi);
  // lo >= hi (nothing visible): an empty chunk.
  splitHi = arith::MaxSIOp::create(b, splitHi, splitLo);
  return {splitLo, splitHi};
}

void Loops::ifSlot(
    Value slot, int64_t blockSize,
    const std::function<void(ImplicitLocOpBuilder &, Value, Value)> &body) {
  Value zero = arith::ConstantOp::create(b, b.getIntegerAttr(slot.getType(), 0));
  Value valid = arith::CmpIOp::create(b, arith::CmpIPredicate::sge, slot, zero);
  scf::IfOp::create(b, valid, [&](OpBuilder &nested, Location loc) {
    ImplicitLocOpBuilder nb(loc, nested);
    Loops L{nb};
    Value s = arith::IndexCastOp::create(nb, nb.getIndexType(), slot);
    Value page = L.divU(s, L.idx(blockSize));
    Value offset = L.remU(s, L.idx(blockSize));
    body(nb, page, offset);
    scf::YieldOp::create(nb);
  });
}

CacheRowDims cacheRowDims(kvc::CacheLayout layout) {
  if (layout == kvc::CacheLayout::HeadMajor)
    return {3, 2};
  return {2, 3};
}

SmallVector<Value> Loops::cacheRow(kvc::CacheLayout layout, Value page,
                                   int64_t kv, Value offset, Value head) {
  SmallVector<Value> indices = {page, idx(kv), Value(), Value(), idx(0)};
  CacheRowDims dims = cacheRowDims(layout);
  indices[dims.offset] = offset;
  indices[dims.head] = head;
  return indices;
}

} // namespace kvcc::lowering
