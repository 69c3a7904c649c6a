//===- VectorMemRefOps.cpp - vector values, memref views, loads, stores ----===//
//
// Vectors are a lane's elements in row-major order; memrefs are strided
// views (base, offset, sizes, strides) into an allocation, and every load or
// store is checked against that allocation.
//
//===----------------------------------------------------------------------===//
#include "Interpreter.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "llvm/ADT/SmallBitVector.h"

#include <cstring>

using namespace mlir;
using namespace kvcc::emu;
using namespace kvcc::emu::sim;

namespace {

/// Reads a little-endian element of BYTES bytes.
uint64_t loadBits(const char *p, unsigned bytes) {
  uint64_t v = 0;
  std::memcpy(&v, p, bytes);
  return v;
}
void storeBits(char *p, unsigned bytes, uint64_t v) { std::memcpy(p, &v, bytes); }

/// Row-major strides of SIZES.
SmallVector<int64_t, 5> identityStrides(ArrayRef<int64_t> sizes) {
  SmallVector<int64_t, 5> strides(sizes.size(), 1);
  for (int i = static_cast<int>(sizes.size()) - 2; i >= 0; --i)
    strides[i] = strides[i + 1] * sizes[i + 1];
  return strides;
}

} // namespace

bool Warp::execVectorMemRef(Operation &op, uint32_t mask, bool &handled) {
  handled = true;
  // vector.extract / vector.insert: a static or per-lane position into the
  // leading dimensions, the rest of the vector contiguous after it.
  auto linearPosition = [&](ArrayRef<int64_t> shape, ArrayRef<OpFoldResult> position,
                            unsigned lane, int64_t &linear, int64_t &width) {
    linear = 0;
    for (auto [k, p] : llvm::enumerate(position)) {
      int64_t i = laneInt(p, lane);
      if (i < 0 || i >= shape[k])
        return false;
      linear = linear * shape[k] + i;
    }
    width = 1;
    for (int64_t d : shape.drop_front(position.size()))
      width *= d;
    linear *= width;
    return true;
  };
  if (auto e = dyn_cast<vector::ExtractOp>(op)) {
    const Slot &src = get(e.getSource());
    ArrayRef<int64_t> shape = e.getSourceVectorType().getShape();
    SmallVector<OpFoldResult> position = e.getMixedPosition();
    Slot &r = def(e.getResult(), slotWidth(e.getResult().getType()));
    bool ok = true;
    forLanes(mask, [&](unsigned l) {
      int64_t linear, width;
      if (!linearPosition(shape, position, l, linear, width)) {
        ok = false;
        return;
      }
      for (int64_t i = 0; i < width; ++i)
        r.at(l, i) = src.at(l, linear + i);
    });
    return ok || fail(&op, "vector.extract position out of range");
  }
  if (auto ins = dyn_cast<vector::InsertOp>(op)) {
    const Slot &value = get(ins.getValueToStore());
    Slot dest = get(ins.getDest());
    ArrayRef<int64_t> shape = ins.getDestVectorType().getShape();
    SmallVector<OpFoldResult> position = ins.getMixedPosition();
    bool ok = true;
    forLanes(mask, [&](unsigned l) {
      int64_t linear, width;
      if (!linearPosition(shape, position, l, linear, width)) {
        ok = false;
        return;
      }
      for (int64_t i = 0; i < width; ++i)
        dest.at(l, linear + i) = value.at(l, i);
    });
    assignLanes(ins.getResult(), dest, mask);
    return ok || fail(&op, "vector.insert position out of range");
  }
  if (auto fe = dyn_cast<vector::FromElementsOp>(op)) {
    Slot &r = def(fe.getResult(), fe.getElements().size());
    for (auto [i, v] : llvm::enumerate(fe.getElements())) {
      const Slot &s = get(v);
      forLanes(mask, [&](unsigned l) { r.at(l, i) = s.at(l, 0); });
    }
    return true;
  }
  if (auto b = dyn_cast<vector::BroadcastOp>(op)) {
    const Slot &src = get(b.getSource());
    auto resultType = cast<VectorType>(b.getResult().getType());
    ArrayRef<int64_t> shape = resultType.getShape();
    SmallVector<int64_t> srcShape;
    if (auto v = dyn_cast<VectorType>(b.getSource().getType()))
      srcShape.assign(v.getShape().begin(), v.getShape().end());
    Slot &r = def(b.getResult(), resultType.getNumElements());
    size_t lead = shape.size() - srcShape.size();
    forLanes(mask, [&](unsigned l) {
      for (int64_t i = 0; i < resultType.getNumElements(); ++i) {
        // The source element of result element i: trailing dims aligned, a
        // source dim of 1 stretched.
        int64_t rem = i, srcLinear = 0, srcStride = 1;
        for (int k = static_cast<int>(shape.size()) - 1; k >= static_cast<int>(lead); --k) {
          int64_t idx = rem % shape[k];
          rem /= shape[k];
          int64_t sdim = srcShape[k - lead];
          srcLinear += (sdim == 1 ? 0 : idx) * srcStride;
          srcStride *= sdim;
        }
        r.at(l, i) = src.at(l, srcShape.empty() ? 0 : srcLinear);
      }
    });
    return true;
  }
  if (auto sc = dyn_cast<vector::ShapeCastOp>(op)) {
    assignLanes(sc.getResult(), get(sc.getSource()), mask);
    return true;
  }
  if (auto bc = dyn_cast<vector::BitCastOp>(op)) {
    Type from = elementType(bc.getSource().getType()), to = elementType(bc.getType());
    unsigned fromBytes = bitWidth(from) / 8, toBytes = bitWidth(to) / 8;
    if (bitWidth(from) % 8 || bitWidth(to) % 8)
      return fail(&op, "vector.bitcast of sub-byte elements not modelled");
    const Slot &src = get(bc.getSource());
    Slot &r = def(bc.getResult(), slotWidth(bc.getType()));
    std::vector<char> bytes(src.width * fromBytes);
    forLanes(mask, [&](unsigned l) {
      for (unsigned i = 0; i < src.width; ++i)
        storeBits(&bytes[i * fromBytes], fromBytes, src.at(l, i));
      for (unsigned i = 0; i < r.width; ++i)
        r.at(l, i) = loadBits(&bytes[i * toBytes], toBytes);
    });
    return true;
  }
  if (isa<vector::LoadOp, vector::StoreOp>(op)) {
    bool isLoad = isa<vector::LoadOp>(op);
    Value base = isLoad ? cast<vector::LoadOp>(op).getBase() : cast<vector::StoreOp>(op).getBase();
    ValueRange indices =
        isLoad ? cast<vector::LoadOp>(op).getIndices() : cast<vector::StoreOp>(op).getIndices();
    auto vt = cast<VectorType>(isLoad ? op.getResult(0).getType()
                                      : cast<vector::StoreOp>(op).getValueToStore().getType());
    if (vt.getRank() != 1)
      return fail(&op, "only 1-D vector loads and stores are modelled");
    const Slot &m = get(base);
    const Slot *value = isLoad ? nullptr : &get(cast<vector::StoreOp>(op).getValueToStore());
    Slot *r = isLoad ? &def(op.getResult(0), vt.getNumElements()) : nullptr;
    int64_t n = vt.getNumElements();
    bool ok = true;
    SharedRequest request; // contiguous accesses only
    forLanes(mask, [&](unsigned l) {
      if (!ok)
        return;
      const MemRefVal &mv = m.mem[l];
      char *p;
      if (!address(&op, l, mv, indices, p)) {
        ok = false;
        return;
      }
      int64_t step = (mv.strides.empty() ? 1 : mv.strides.back()) * mv.elemBytes;
      if (n == 1 || step == mv.elemBytes)
        request.add(l, mv.alloc, p, static_cast<unsigned>(n * mv.elemBytes));
      // The span of the n elements, whichever way the stride runs.
      if (!checkRange(&op, l, mv, std::min(p, p + (n - 1) * step),
                      std::abs((n - 1) * step) + mv.elemBytes)) {
        ok = false;
        return;
      }
      for (int64_t i = 0; i < n; ++i) {
        if (isLoad)
          r->at(l, i) = loadBits(p + i * step, mv.elemBytes);
        else
          storeBits(p + i * step, mv.elemBytes, value->at(l, i));
      }
      if (!isLoad)
        noteSharedStore(mv, std::min(p, p + (n - 1) * step), std::abs((n - 1) * step) + mv.elemBytes);
    });
    if (ok)
      countSharedAccess(isLoad ? "load" : "store", request);
    return ok;
  }
  if (isa<memref::LoadOp, memref::StoreOp>(op)) {
    bool isLoad = isa<memref::LoadOp>(op);
    Value base = isLoad ? cast<memref::LoadOp>(op).getMemRef() : cast<memref::StoreOp>(op).getMemRef();
    ValueRange indices =
        isLoad ? cast<memref::LoadOp>(op).getIndices() : cast<memref::StoreOp>(op).getIndices();
    const Slot &m = get(base);
    const Slot *value = isLoad ? nullptr : &get(cast<memref::StoreOp>(op).getValueToStore());
    Slot *r = isLoad ? &def(op.getResult(0), 1) : nullptr;
    unsigned w = bitWidth(elementType(base.getType()));
    bool ok = true;
    SharedRequest request;
    forLanes(mask, [&](unsigned l) {
      if (!ok)
        return;
      const MemRefVal &mv = m.mem[l];
      char *p;
      if (!address(&op, l, mv, indices, p) || !checkRange(&op, l, mv, p, mv.elemBytes)) {
        ok = false;
        return;
      }
      request.add(l, mv.alloc, p, mv.elemBytes);
      if (isLoad) {
        r->at(l, 0) = truncBits(w, loadBits(p, mv.elemBytes));
      } else {
        storeBits(p, mv.elemBytes, value->at(l, 0));
        noteSharedStore(mv, p, mv.elemBytes);
      }
    });
    if (ok)
      countSharedAccess(isLoad ? "load" : "store", request);
    return ok;
  }
  if (auto d = dyn_cast<memref::DimOp>(op)) {
    const Slot &m = get(d.getSource());
    const Slot &k = get(d.getIndex());
    Slot &r = def(d.getResult(), 1);
    bool ok = true;
    forLanes(mask, [&](unsigned l) {
      uint64_t dim = k.at(l, 0);
      if (dim >= m.mem[l].sizes.size())
        ok = false;
      else
        r.at(l, 0) = static_cast<uint64_t>(m.mem[l].sizes[dim]);
    });
    return ok || fail(&op, "memref.dim index out of range");
  }
  if (auto c = dyn_cast<memref::CastOp>(op)) {
    assignLanes(c.getResult(), get(c.getSource()), mask);
    return true;
  }
  if (auto e = dyn_cast<memref::ExtractAlignedPointerAsIndexOp>(op)) {
    // Shared memory: the address in the CTA's shared window (what the
    // lowered kernel gets for a pointer to address space 3); otherwise the
    // host address.
    const Slot &src = get(e.getSource());
    Slot &r = def(e.getResult(), 1);
    forLanes(mask, [&](unsigned l) {
      const MemRefVal &m = src.mem[l];
      r.at(l, 0) = m.alloc && m.alloc->shared
                       ? m.alloc->window + static_cast<uint64_t>(m.base - m.alloc->begin)
                       : reinterpret_cast<uint64_t>(m.base);
    });
    return true;
  }
  if (auto v = dyn_cast<memref::ViewOp>(op)) {
    const Slot &src = get(v.getSource());
    const Slot &shift = get(v.getByteShift());
    MemRefType t = v.getType();
    SmallVector<const Slot *> dynamic;
    for (Value s : v.getSizes())
      dynamic.push_back(&get(s));
    Slot &r = defMemRef(v.getResult());
    forLanes(mask, [&](unsigned l) {
      MemRefVal m;
      m.alloc = src.mem[l].alloc;
      m.base = src.mem[l].base + src.mem[l].offset * src.mem[l].elemBytes +
               static_cast<int64_t>(shift.at(l, 0));
      m.elemBytes = elementBytes(t.getElementType());
      unsigned next = 0;
      for (int64_t s : t.getShape())
        m.sizes.push_back(ShapedType::isDynamic(s) ? static_cast<int64_t>(dynamic[next++]->at(l, 0)) : s);
      m.strides = identityStrides(m.sizes);
      r.mem[l] = m;
    });
    return true;
  }
  if (auto c = dyn_cast<memref::CollapseShapeOp>(op)) {
    const Slot &src = get(c.getSrc());
    auto groups = c.getReassociationIndices();
    Slot &r = defMemRef(c.getResult());
    forLanes(mask, [&](unsigned l) {
      const MemRefVal &s = src.mem[l];
      MemRefVal m = s;
      m.sizes.clear();
      m.strides.clear();
      for (const auto &group : groups) {
        int64_t size = 1;
        for (int64_t d : group)
          size *= s.sizes[d];
        m.sizes.push_back(size);
        m.strides.push_back(s.strides[group.back()]);
      }
      r.mem[l] = m;
    });
    return true;
  }
  if (auto e = dyn_cast<memref::ExpandShapeOp>(op)) {
    const Slot &src = get(e.getSrc());
    auto groups = e.getReassociationIndices();
    SmallVector<OpFoldResult> outShape = e.getMixedOutputShape();
    Slot &r = defMemRef(e.getResult());
    forLanes(mask, [&](unsigned l) {
      const MemRefVal &s = src.mem[l];
      MemRefVal m = s;
      m.sizes.assign(outShape.size(), 0);
      m.strides.assign(outShape.size(), 0);
      for (auto [k, ofr] : llvm::enumerate(outShape))
        m.sizes[k] = laneInt(ofr, l);
      for (auto [d, group] : llvm::enumerate(groups)) {
        int64_t stride = s.strides[d];
        for (int i = static_cast<int>(group.size()) - 1; i >= 0; --i) {
          m.strides[group[i]] = stride;
          stride *= m.sizes[group[i]];
        }
      }
      r.mem[l] = m;
    });
    return true;
  }
  if (auto sv = dyn_cast<memref::SubViewOp>(op)) {
    const Slot &src = get(sv.getSource());
    SmallVector<OpFoldResult> offsets = sv.getMixedOffsets(), sizes = sv.getMixedSizes(),
                              strides = sv.getMixedStrides();
    llvm::SmallBitVector dropped = sv.getDroppedDims();
    Slot &r = defMemRef(sv.getResult());
    forLanes(mask, [&](unsigned l) {
      const MemRefVal &s = src.mem[l];
      MemRefVal m = s;
      m.sizes.clear();
      m.strides.clear();
      for (size_t k = 0; k < offsets.size(); ++k) {
        m.offset += laneInt(offsets[k], l) * s.strides[k];
        if (dropped.test(k))
          continue;
        m.sizes.push_back(laneInt(sizes[k], l));
        m.strides.push_back(s.strides[k] * laneInt(strides[k], l));
      }
      r.mem[l] = m;
    });
    return true;
  }
  if (auto rc = dyn_cast<memref::ReinterpretCastOp>(op)) {
    const Slot &src = get(rc.getSource());
    SmallVector<OpFoldResult> offsets = rc.getMixedOffsets(), sizes = rc.getMixedSizes(),
                              strides = rc.getMixedStrides();
    Slot &r = defMemRef(rc.getResult());
    forLanes(mask, [&](unsigned l) {
      MemRefVal m = src.mem[l];
      m.offset = laneInt(offsets[0], l);
      m.sizes.clear();
      m.strides.clear();
      for (size_t k = 0; k < sizes.size(); ++k) {
        m.sizes.push_back(laneInt(sizes[k], l));
        m.strides.push_back(laneInt(strides[k], l));
      }
      r.mem[l] = m;
    });
    return true;
  }
  handled = false;
  return true;
}
