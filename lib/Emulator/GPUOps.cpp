//===- GPUOps.cpp - gpu, nvgpu, nvvm and llvm ops inside kernels ----------===//
//
// Thread and block ids, barriers, warp shuffles, tensor-core MMAs, ldmatrix
// and cp.async, with the fragment layouts of the PTX ISA (lane = 4·group + t):
//
//   mma.m16n8k16 A (row): a[r][h] = A[group + 8·(r%2)][2t + h + 8·(r/2)]
//                B (col): b[r][h] = B[2t + h + 8r][group]        (k × n)
//                C, D:    c[r][h] = C[group + 8r][2t + h]
//   ldmatrix .m8n8.b16:   lanes 8i..8i+7 give the row addresses of matrix i;
//                         lane l receives row l/4, columns 2(l%4), 2(l%4)+1
//                         (.trans: rows 2(l%4), 2(l%4)+1 of column l/4)
//
// These are written from the ISA, independently of the kernel generator, so
// a fragment-index mistake in either shows as a wrong result.
//
//===----------------------------------------------------------------------===//
#include "Interpreter.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"

#include <cmath>
#include <cstring>

using namespace mlir;
using namespace kvcc::emu;
using namespace kvcc::emu::sim;

namespace {

int dimIndex(gpu::Dimension d) {
  return d == gpu::Dimension::x ? 0 : d == gpu::Dimension::y ? 1 : 2;
}

uint16_t load16(const char *p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

/// exp2 with the flush-to-zero of ex2.approx.ftz.f32.
double ex2Ftz(double x) {
  float f = static_cast<float>(x);
  if (std::fpclassify(f) == FP_SUBNORMAL)
    f = 0;
  float r = std::exp2(f);
  if (std::fpclassify(r) == FP_SUBNORMAL)
    r = 0;
  return r;
}

/// D = A·B + C of one warp-wide mma.m16n8kK (K = 8 or 16, f32 sums) from
/// the fragments: A/B/C(lane, register, half) read lane's element `half` of
/// register `register`; D(lane, register, half, value) writes the result.
template <typename GetA, typename GetB, typename GetC, typename SetD>
void mmaM16N8(int k, GetA fragA, GetB fragB, GetC fragC, SetD fragD) {
  double A[16][16] = {}, B[16][8] = {}, C[16][8] = {};
  for (unsigned l = 0; l < sim::kWarpSize; ++l) {
    unsigned g = l / 4, t = l % 4;
    for (unsigned r = 0; r < static_cast<unsigned>(k / 4); ++r)
      for (unsigned h = 0; h < 2; ++h)
        A[g + 8 * (r % 2)][2 * t + h + 8 * (r / 2)] = fragA(l, r, h);
    for (unsigned r = 0; r < static_cast<unsigned>(k / 8); ++r)
      for (unsigned h = 0; h < 2; ++h)
        B[2 * t + h + 8 * r][g] = fragB(l, r, h);
    for (unsigned r = 0; r < 2; ++r)
      for (unsigned h = 0; h < 2; ++h)
        C[g + 8 * r][2 * t + h] = fragC(l, r, h);
  }
  for (unsigned l = 0; l < sim::kWarpSize; ++l) {
    unsigned g = l / 4, t = l % 4;
    for (unsigned r = 0; r < 2; ++r)
      for (unsigned h = 0; h < 2; ++h) {
        unsigned row = g + 8 * r, col = 2 * t + h;
        double sum = C[row][col];
        for (int kk = 0; kk < k; ++kk)
          sum += A[row][kk] * B[kk][col];
        fragD(l, r, h, sum);
      }
  }
}

} // namespace

bool Warp::requireFullWarp(Operation *op, uint32_t mask) {
  // .sync.aligned: all 32 threads of the warp, so a partial last warp fails too.
  if (mask != 0xffffffffu)
    return fail(op, "warp-collective operation reached with lanes inactive (mask " +
                        llvm::utohexstr(mask, /*LowerCase=*/true) + " of ffffffff)");
  return true;
}

bool Warp::execGPU(Operation &op, uint32_t mask, bool &handled) {
  handled = true;
  if (!cta) { // the host: only the ops Launch.cpp runs
    handled = false;
    return true;
  }
  // Thread ids: the CTA's linear thread index, x fastest.
  if (auto t = dyn_cast<gpu::ThreadIdOp>(op)) {
    Slot &r = def(t.getResult(), 1);
    int d = dimIndex(t.getDimension());
    forLanes(mask, [&](unsigned l) {
      int64_t tid = index * kWarpSize + l;
      int64_t v = d == 0 ? tid % cta->blockDim[0]
                : d == 1 ? tid / cta->blockDim[0] % cta->blockDim[1]
                         : tid / (cta->blockDim[0] * cta->blockDim[1]);
      r.at(l, 0) = static_cast<uint64_t>(v);
    });
    return true;
  }
  auto uniform = [&](Value result, int64_t v) {
    Slot &r = def(result, 1);
    forLanes(mask, [&](unsigned l) { r.at(l, 0) = static_cast<uint64_t>(v); });
    return true;
  };
  if (auto b = dyn_cast<gpu::BlockIdOp>(op))
    return uniform(b.getResult(), cta->blockId[dimIndex(b.getDimension())]);
  if (auto g = dyn_cast<gpu::GridDimOp>(op))
    return uniform(g.getResult(), cta->gridDim[dimIndex(g.getDimension())]);
  if (auto b = dyn_cast<gpu::BlockDimOp>(op))
    return uniform(b.getResult(), cta->blockDim[dimIndex(b.getDimension())]);
  if (auto lane = dyn_cast<gpu::LaneIdOp>(op)) {
    Slot &r = def(lane.getResult(), 1);
    forLanes(mask, [&](unsigned l) { r.at(l, 0) = l; });
    return true;
  }
  if (isa<gpu::BarrierOp>(op))
    return barrier(&op, 0, nullptr);
  if (auto b = dyn_cast<NVVM::BarrierOp>(op)) {
    if (b.getBarrierId() || b.getNumberOfThreads())
      return fail(&op, "named barriers are not modelled");
    std::optional<NVVM::BarrierReduction> kind = b.getReductionOp();
    if (!kind)
      return barrier(&op, 0, nullptr);
    const Slot &p = get(b.getReductionPredicate());
    int64_t trues = 0, falses = 0;
    // The predicate is an i32, true when nonzero.
    forLanes(mask, [&](unsigned l) { (p.at(l, 0) != 0 ? trues : falses)++; });
    bool isAnd = *kind == NVVM::BarrierReduction::AND;
    int64_t total = 0;
    if (!barrier(&op, isAnd ? falses : trues, &total))
      return false;
    int64_t result = *kind == NVVM::BarrierReduction::POPC ? total
                     : isAnd                                ? (total == 0)
                                                            : (total > 0);
    return uniform(b.getRes(), result);
  }
  if (auto s = dyn_cast<gpu::ShuffleOp>(op)) {
    // gpu.shuffle semantics: the first `width` lanes take part and must all be
    // active; a source outside [0, width) and every lane at or past `width`
    // get valid = false (the value is unspecified: the lane's own here).
    const Slot &v = get(s.getValue()), &off = get(s.getOffset()), &width = get(s.getWidth());
    uint32_t w = static_cast<uint32_t>(width.at(__builtin_ctz(mask), 0));
    if (w == 0 || w > kWarpSize)
      return fail(&op, "gpu.shuffle width " + std::to_string(w) + " is outside [1, 32]");
    uint32_t participants = w == kWarpSize ? 0xffffffffu : (1u << w) - 1;
    if ((mask & participants) != participants)
      return fail(&op, "gpu.shuffle reached with participating lanes inactive (mask " +
                           llvm::utohexstr(mask, /*LowerCase=*/true) + ", width " +
                           std::to_string(w) + ")");
    Slot out = v;
    Slot &valid = def(s.getValid(), 1);
    forLanes(mask, [&](unsigned l) {
      int64_t o = static_cast<uint32_t>(off.at(l, 0));
      int64_t src = l;
      switch (s.getMode()) {
      case gpu::ShuffleMode::XOR: src = l ^ o; break;
      case gpu::ShuffleMode::UP: src = int64_t(l) - o; break;
      case gpu::ShuffleMode::DOWN: src = int64_t(l) + o; break;
      case gpu::ShuffleMode::IDX: src = o; break;
      }
      bool isValid = l < w && src >= 0 && src < int64_t(w);
      if (!isValid)
        src = l;
      for (unsigned i = 0; i < v.width; ++i)
        out.at(l, i) = v.at(static_cast<unsigned>(src), i);
      valid.at(l, 0) = isValid;
    });
    assignLanes(s.getShuffleResult(), out, mask);
    return true;
  }
  if (auto v = dyn_cast<NVVM::VoteSyncOp>(op)) {
    // Every lane of the member mask must execute the vote (as for shfl.sync),
    // with the same mask, and every executing lane must be a member.
    const Slot &memberMask = get(v.getMask()), &pred = get(v.getPred());
    const uint32_t given = static_cast<uint32_t>(memberMask.at(__builtin_ctz(mask), 0));
    bool agree = true, inside = true;
    forLanes(mask, [&](unsigned l) {
      agree &= static_cast<uint32_t>(memberMask.at(l, 0)) == given;
      inside &= ((given >> l) & 1) != 0;
    });
    if (!agree)
      return fail(&op, "vote.sync lanes disagree on the member mask");
    if (!inside)
      return fail(&op, "vote.sync executed by a lane outside its member mask");
    uint32_t members = given & lanes;
    if ((members & mask) != members)
      return fail(&op, "vote.sync with member lanes inactive");
    uint32_t ballot = 0;
    forLanes(members, [&](unsigned l) {
      if (pred.at(l, 0) & 1)
        ballot |= 1u << l;
    });
    uint64_t result = 0;
    switch (v.getKind()) {
    case NVVM::VoteSyncKind::any: result = ballot != 0; break;
    case NVVM::VoteSyncKind::all: result = ballot == members; break;
    case NVVM::VoteSyncKind::uni: result = ballot == 0 || ballot == members; break;
    case NVVM::VoteSyncKind::ballot: result = ballot; break;
    }
    return uniform(v.getRes(), static_cast<int64_t>(result));
  }
  if (auto d = dyn_cast<gpu::DynamicSharedMemoryOp>(op)) {
    if (!cta->dynamicShared)
      return fail(&op, "the launch declares no dynamic shared memory");
    Slot &r = defMemRef(d.getResult());
    MemRefVal m;
    m.alloc = cta->dynamicShared;
    m.base = cta->dynamicShared->begin;
    m.sizes = {static_cast<int64_t>(cta->dynamicShared->size)};
    m.strides = {1};
    m.elemBytes = 1;
    forLanes(mask, [&](unsigned l) { r.mem[l] = m; });
    return true;
  }

  //===--------------------------------------------------------------------===//
  // Tensor cores
  //===--------------------------------------------------------------------===//
  if (auto ld = dyn_cast<nvgpu::LdMatrixOp>(op)) {
    if (!requireFullWarp(&op, mask))
      return false;
    const Slot &m = get(ld.getSrcMemref());
    unsigned tiles = ld.getNumTiles();
    bool transpose = ld.getTranspose();
    if (tiles != 1 && tiles != 2 && tiles != 4)
      return fail(&op, "ldmatrix numTiles must be 1, 2 or 4");
    const char *rows[kWarpSize] = {};
    SharedRequest request;
    for (unsigned l = 0; l < 8 * tiles; ++l) {
      const MemRefVal &mv = m.mem[l];
      if (mv.elemBytes != 2)
        return fail(&op, "ldmatrix of non-16-bit elements is not modelled", l);
      if (!mv.alloc || !mv.alloc->shared)
        return fail(&op, "ldmatrix source is not shared memory", l);
      char *p;
      if (!address(&op, l, mv, ld.getIndices(), p) || !checkRange(&op, l, mv, p, 16))
        return false;
      if ((p - mv.alloc->begin) % 16)
        return fail(&op, "ldmatrix row address is not 16-byte aligned", l);
      rows[l] = p;
      request.add(l, mv.alloc, p, 16);
    }
    countSharedAccess("ldmatrix", request);
    Slot &r = def(ld.getRes(), 2 * tiles);
    for (unsigned l = 0; l < kWarpSize; ++l)
      for (unsigned i = 0; i < tiles; ++i)
        for (unsigned h = 0; h < 2; ++h) {
          unsigned row = transpose ? 2 * (l % 4) + h : l / 4;
          unsigned col = transpose ? l / 4 : 2 * (l % 4) + h;
          r.at(l, 2 * i + h) = load16(rows[8 * i + row] + 2 * col);
        }
    return true;
  }
  if (auto mma = dyn_cast<nvgpu::MmaSyncOp>(op)) {
    if (!requireFullWarp(&op, mask))
      return false;
    std::array<int64_t, 3> shape = mma.getMmaShapeAsArray();
    Type ab = elementType(mma.getMatrixA().getType());
    Type acc = elementType(mma.getMatrixC().getType());
    if (shape[0] != 16 || shape[1] != 8 || (shape[2] != 16 && shape[2] != 8) ||
        !(ab.isF16() || ab.isBF16()))
      return fail(&op, "only f16/bf16 mma.sync m16n8k16 and m16n8k8 are modelled");
    const Slot &a = get(mma.getMatrixA()), &b = get(mma.getMatrixB()), &c = get(mma.getMatrixC());
    Slot &d = def(mma.getRes(), 4);
    mmaM16N8(
        static_cast<int>(shape[2]),
        [&](unsigned l, unsigned r, unsigned h) { return toDouble(ab, a.at(l, 2 * r + h)); },
        [&](unsigned l, unsigned r, unsigned h) { return toDouble(ab, b.at(l, 2 * r + h)); },
        [&](unsigned l, unsigned r, unsigned h) { return toDouble(acc, c.at(l, 2 * r + h)); },
        [&](unsigned l, unsigned r, unsigned h, double v) { d.at(l, 2 * r + h) = fromDouble(acc, v); });
    return true;
  }
  if (auto mma = dyn_cast<NVVM::MmaOp>(op)) {
    if (!requireFullWarp(&op, mask))
      return false;
    NVVM::MMAShapeAttr shape = mma.getShape();
    auto typeA = mma.getMultiplicandAPtxType(), typeB = mma.getMultiplicandBPtxType();
    if (shape.getM() != 16 || shape.getN() != 8 || shape.getK() != 16 ||
        mma.getLayoutA() != NVVM::MMALayout::row || mma.getLayoutB() != NVVM::MMALayout::col ||
        !typeA || typeA != typeB ||
        (*typeA != NVVM::MMATypes::bf16 && *typeA != NVVM::MMATypes::f16) ||
        mma.getOperandA().size() != 4 || mma.getOperandB().size() != 2 ||
        mma.getOperandC().size() != 4)
      return fail(&op, "only nvvm.mma.sync m16n8k16 row/col f16/bf16 with f32 "
                       "accumulators is modelled");
    bool bf16 = *typeA == NVVM::MMATypes::bf16;
    MLIRContext *ctx = op.getContext();
    Type half = bf16 ? Type(BFloat16Type::get(ctx)) : Type(Float16Type::get(ctx));
    Type f32 = Float32Type::get(ctx);
    // A 32-bit register (i32, or vector<2xf16/bf16>) holds two elements, the
    // first in the low half.
    auto element = [&](Value reg, unsigned l, unsigned h) {
      const Slot &s = get(reg);
      uint64_t bits = s.width == 2 ? s.at(l, h) : (s.at(l, 0) >> (16 * h)) & 0xffff;
      return toDouble(half, bits);
    };
    Slot &d = def(mma.getRes(), 4);
    mmaM16N8(
        16, [&](unsigned l, unsigned r, unsigned h) { return element(mma.getOperandA()[r], l, h); },
        [&](unsigned l, unsigned r, unsigned h) { return element(mma.getOperandB()[r], l, h); },
        [&](unsigned l, unsigned r, unsigned h) {
          return toDouble(f32, get(mma.getOperandC()[2 * r + h]).at(l, 0));
        },
        [&](unsigned l, unsigned r, unsigned h, double v) { d.at(l, 2 * r + h) = fromDouble(f32, v); });
    return true;
  }

  //===--------------------------------------------------------------------===//
  // cp.async
  //===--------------------------------------------------------------------===//
  if (auto cp = dyn_cast<nvgpu::DeviceAsyncCopyOp>(op)) {
    const Slot &dst = get(cp.getDst()), &src = get(cp.getSrc());
    const Slot *srcElements = cp.getSrcElements() ? &get(cp.getSrcElements()) : nullptr;
    int64_t dstElements = static_cast<int64_t>(cp.getDstElements().getZExtValue());
    bool ok = true;
    SharedRequest request;
    std::shared_ptr<AsyncAccess> access = newAsyncAccess(/*write=*/true);
    llvm::SmallVector<std::pair<const char *, size_t>, kWarpSize> ranges;
    forLanes(mask, [&](unsigned l) {
      if (!ok)
        return;
      const MemRefVal &d = dst.mem[l], &s = src.mem[l];
      size_t total = static_cast<size_t>(dstElements) * d.elemBytes;
      int64_t srcCount = srcElements ? toSigned(64, srcElements->at(l, 0)) : dstElements;
      if (total != 4 && total != 8 && total != 16) {
        ok = fail(&op, "cp.async copies 4, 8 or 16 bytes, not " + std::to_string(total), l);
        return;
      }
      if (srcCount < 0 || srcCount > dstElements) {
        ok = fail(&op, "cp.async source size " + std::to_string(srcCount) +
                           " is outside [0, " + std::to_string(dstElements) + "]", l);
        return;
      }
      if (!d.alloc || !d.alloc->shared) {
        ok = fail(&op, "cp.async destination is not shared memory", l);
        return;
      }
      char *dp, *sp;
      if (!address(&op, l, d, cp.getDstIndices(), dp) ||
          !checkRange(&op, l, d, dp, total) ||
          !address(&op, l, s, cp.getSrcIndices(), sp)) {
        ok = false;
        return;
      }
      if ((dp - d.alloc->begin) % total) {
        ok = fail(&op, "cp.async destination is not aligned to its size", l);
        return;
      }
      size_t copyBytes = static_cast<size_t>(srcCount) * s.elemBytes;
      if (copyBytes) {
        if (s.alloc && s.alloc->shared) {
          ok = fail(&op, "cp.async source is shared memory", l);
          return;
        }
        if (!checkRange(&op, l, s, sp, copyBytes)) {
          ok = false;
          return;
        }
        if (reinterpret_cast<uintptr_t>(sp) % total && (sp - s.alloc->begin) % total) {
          ok = fail(&op, "cp.async source is not aligned to the copy size", l);
          return;
        }
      }
      openGroup_.push_back({dp, sp, copyBytes, total, access});
      ranges.push_back({dp, total});
      request.add(l, d.alloc, dp, static_cast<unsigned>(total));
    });
    if (!ok || !noteAsync(&op, access, ranges))
      return false;
    countSharedAccess("cp.async", request);
    def(cp.getAsyncToken(), 1);
    return true;
  }
  if (auto g = dyn_cast<nvgpu::DeviceAsyncCreateGroupOp>(op)) {
    committedGroups_.push_back(std::move(openGroup_));
    openGroup_.clear();
    def(g.getAsyncToken(), 1);
    return true;
  }
  if (auto w = dyn_cast<nvgpu::DeviceAsyncWaitOp>(op)) {
    retireAsyncGroups(w.getNumGroups().value_or(0));
    return true;
  }

  //===--------------------------------------------------------------------===//
  // llvm
  //===--------------------------------------------------------------------===//
  if (auto call = dyn_cast<LLVM::CallIntrinsicOp>(op)) {
    StringRef name = call.getIntrin();
    using Fn = double (*)(double);
    Fn fn = llvm::StringSwitch<Fn>(name)
                .Case("llvm.nvvm.ex2.approx.ftz.f32", ex2Ftz)
                .Case("llvm.nvvm.ex2.approx.f32", [](double x) { return double(std::exp2(float(x))); })
                .Case("llvm.exp2.f32", [](double x) { return double(std::exp2(float(x))); })
                .Case("llvm.nvvm.rcp.approx.ftz.f32", [](double x) { return double(1.0f / float(x)); })
                .Case("llvm.nvvm.rsqrt.approx.f32", [](double x) { return double(1.0f / std::sqrt(float(x))); })
                .Case("llvm.nvvm.lg2.approx.f32", [](double x) { return double(std::log2(float(x))); })
                .Case("llvm.nvvm.tanh.approx.f32", [](double x) { return double(std::tanh(float(x))); })
                .Default(nullptr);
    if (!fn || call.getArgs().size() != 1 || call.getNumResults() != 1)
      return fail(&op, "intrinsic " + name + " is not modelled by the GPU emulator");
    Type t = call.getResult(0).getType();
    const Slot &a = get(call.getArgs()[0]);
    Slot &r = def(call.getResult(0), 1);
    forLanes(mask, [&](unsigned l) { r.at(l, 0) = fromDouble(t, fn(toDouble(t, a.at(l, 0)))); });
    return true;
  }
  if (isa<LLVM::UndefOp, LLVM::PoisonOp>(op)) {
    Slot &r = def(op.getResult(0), slotWidth(op.getResult(0).getType()));
    fillElements(r, mask, [](unsigned, unsigned) { return uint64_t(0x7fc0bad0); });
    return true;
  }
  if (auto e = dyn_cast<LLVM::ExtractValueOp>(op)) {
    if (e.getPosition().size() != 1)
      return fail(&op, "nested llvm.extractvalue is not modelled");
    const Slot &s = get(e.getContainer());
    unsigned i = static_cast<unsigned>(e.getPosition()[0]);
    Slot &r = def(e.getRes(), 1);
    forLanes(mask, [&](unsigned l) { r.at(l, 0) = s.at(l, i); });
    if (pendingWgmma(e.getContainer()))
      pendingElements_[e.getRes()] = {e.getContainer(), i};
    else
      pendingElements_.erase(e.getRes());
    return true;
  }
  handled = false;
  return true;
}

void Warp::handOverAsyncCopies() {
  std::lock_guard<std::mutex> lock(cta->unretiredMutex);
  for (auto &group : committedGroups_)
    cta->unretired.insert(cta->unretired.end(), group.begin(), group.end());
  cta->unretired.insert(cta->unretired.end(), openGroup_.begin(), openGroup_.end());
  committedGroups_.clear();
  openGroup_.clear();
}

void Warp::retireAsyncGroups(size_t keep) {
  while (committedGroups_.size() > keep) {
    for (const PendingCopy &c : committedGroups_.front()) {
      if (c.copyBytes)
        std::memcpy(c.dst, c.src, c.copyBytes);
      std::memset(c.dst + c.copyBytes, 0, c.totalBytes - c.copyBytes);
      if (c.access) {
        retireAsync(c.access.get());
        cta->asyncShadow->genericWrite(index, c.dst, c.totalBytes);
      }
    }
    committedGroups_.erase(committedGroups_.begin());
  }
}
