//===- FuseRopeAppend.cpp - rope(q), rope(k), append -> kvc.rope_append ----===//
#include "kvcc/Dialect/KVC/Transforms/Passes.h"

#include "mlir/IR/Dominance.h"

namespace kvcc::kvc {
#define GEN_PASS_DEF_KVCFUSEROPEAPPEND
#include "kvcc/Dialect/KVC/Transforms/Passes.h.inc"
} // namespace kvcc::kvc

using namespace mlir;
using namespace kvcc::kvc;

namespace {

bool sameRotation(RopeOp a, RopeOp b) {
  return a.getPositions() == b.getPositions() && a.getStyle() == b.getStyle() &&
         a.getRotaryDim() == b.getRotaryDim() && a.getTheta() == b.getTheta() &&
         a.getScalingFactor() == b.getScalingFactor();
}

/// The query rope to fuse with `append`, whose key is rotated by `keyRope`:
/// same rotation, same block, before the append, every use after it, and a
/// query rope_append's verifier accepts (head_dim, an f16/bf16/f32 element
/// type, whole groups).
RopeOp findQueryRope(AppendOp append, RopeOp keyRope, DominanceInfo &dom) {
  PagedCacheType cache = append.getCache().getType();
  for (Operation *user : keyRope.getPositions().getUsers()) {
    auto rope = dyn_cast<RopeOp>(user);
    if (!rope || rope == keyRope || !sameRotation(rope, keyRope) ||
        rope->getBlock() != append->getBlock() || !rope->isBeforeInBlock(append))
      continue;
    RankedTensorType q = rope.getResult().getType();
    Type qElem = q.getElementType();
    if (!(qElem.isF16() || qElem.isBF16() || qElem.isF32()) ||
        q.getDimSize(2) != cache.getHeadDim() || q.isDynamicDim(1) ||
        q.getDimSize(1) % cache.getNumKVHeads() != 0 ||
        q.getDimSize(0) != keyRope.getResult().getType().getDimSize(0))
      continue;
    if (llvm::all_of(rope->getUsers(),
                     [&](Operation *u) { return dom.properlyDominates(append, u); }))
      return rope;
  }
  return nullptr;
}

struct FuseRopeAppendPass
    : public kvcc::kvc::impl::KVCFuseRopeAppendBase<FuseRopeAppendPass> {
  using Base::Base;

  void runOnOperation() override {
    DominanceInfo dom(getOperation());
    SmallVector<AppendOp> appends;
    getOperation().walk([&](AppendOp op) { appends.push_back(op); });
    for (AppendOp append : appends) {
      auto keyRope = append.getKey().getDefiningOp<RopeOp>();
      if (!keyRope || !keyRope->hasOneUse())
        continue;
      // rope_append rounds the rotated key once, to the cache's type; the
      // pair rounds it to the key's type first. They agree when the key is
      // f32 (the rotation's own precision) or already of the cache's type.
      Type keyElem = keyRope.getResult().getType().getElementType();
      if (!keyElem.isF32() && keyElem != append.getCache().getType().getElementType())
        continue;
      RopeOp queryRope = findQueryRope(append, keyRope, dom);
      if (!queryRope)
        continue;
      OpBuilder b(append);
      auto fused = RopeAppendOp::create(
          b, append.getLoc(), queryRope.getResult().getType(), keyRope.getStyleAttr(),
          queryRope.getInput(), keyRope.getInput(), append.getValue(), append.getCache(),
          append.getSlots(), keyRope.getPositions(), keyRope.getRotaryDimAttr(),
          keyRope.getThetaAttr(), keyRope.getScalingFactorAttr());
      queryRope.getResult().replaceAllUsesWith(fused.getRotatedQuery());
      append.erase();
      keyRope.erase();
      queryRope.erase();
    }
  }
};

} // namespace
