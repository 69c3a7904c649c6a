//===- WarpgroupOps.cpp - Hopper warpgroup MMA (wgmma) --------------------===//
//
// wgmma.mma_async of the PTX ISA (§9.7.15), f16/bf16 multiplicands with f32
// accumulators, m64nNk16, modelled from the ISA independently of the kernel
// generator:
//
//   * A warpgroup is warps 4i..4i+3; warp w computes rows 16·(w mod 4) ..
//     + 15 of the 64-row D, so each warp runs its own slice and no warp
//     waits for another. Register fragments are those of mma.m16n8k16 for
//     the warp's 16 rows: A a[r][h] = A[g + 8(r%2)][2t + h + 8(r/2)];
//     D d[4j + 2i + h] = D[g + 8i][8j + 2t + h] (lane = 4g + t).
//   * Shared-memory operands come by descriptor (start, LBO, SBO >> 4, the
//     swizzle mode) in the canonical layouts of §9.7.15.5.1.2.1.3, in units
//     of T = 8 16-bit elements (16 bytes), then the swizzle of the mode on
//     the address bits: Swizzle<B, 4, 3>, B = 3/2/1 for 128/64/32 bytes.
//       K-major,  none:  ((8,m),(T,2k)) : ((1T,SBO),(1,LBO))
//       K-major,  W:     ((8,m),(T,2k)) : ((W/16·T,SBO),(1,T))
//       MN-major, none:  ((T,1,m),(8,k)) : ((1,T,SBO),(1T,LBO))
//       MN-major, W:     ((T,W/16,m),(8,k)) : ((1,T,LBO),(W/16·T,SBO))
//     Addresses are the CTA's shared window (Allocation::window), which the
//     emulator deliberately starts off a 1024-byte boundary: a kernel that
//     assumes an aligned dynamic buffer reads the wrong elements.
//   * Asynchrony: an mma_async computes when it issues (its operands as they
//     are then), binds its result to NaN until a wgmma.wait_group retires
//     its group, and at the retirement checks that no byte of shared memory
//     it read has changed since (a write racing with the MMA). Chained MMAs
//     on one accumulator take their predecessor's pending value. An
//     mma_async needs a wgmma.fence since the warp's last wait_group (the
//     fence orders the warp's register writes before the MMA reads them).
//
//   * Across warps and against cp.async, the CTA's AsyncShadow
//     (AsyncShared.cpp): an MMA's operand reads race with a cp.async into
//     them unless one retired before the other issued, and the generic
//     writes an MMA reads need their writer's fence.proxy.async.
//
// Also the accumulator and operand fences of WarpgroupAsm.h.
//
//===----------------------------------------------------------------------===//
#include "Interpreter.h"

#include "kvcc/Support/WarpgroupAsm.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"

#include <cstring>

using namespace mlir;
using namespace kvcc::emu;
using namespace kvcc::emu::sim;

namespace {

/// A shared-memory matrix descriptor, decoded.
struct Descriptor {
  uint64_t start, lbo, sbo;
  unsigned baseOffset, swizzleBytes; ///< 0: no swizzle
};

Descriptor decode(uint64_t d) {
  Descriptor r;
  r.start = (d & 0x3fff) << 4;
  r.lbo = ((d >> 16) & 0x3fff) << 4;
  r.sbo = ((d >> 32) & 0x3fff) << 4;
  r.baseOffset = static_cast<unsigned>((d >> 49) & 7);
  static const unsigned kSwizzle[4] = {0, 128, 64, 32};
  r.swizzleBytes = kSwizzle[(d >> 62) & 3];
  return r;
}

/// The shared-window byte address of element (mn, k) of a 16-bit operand.
uint64_t operandAddress(const Descriptor &d, bool kMajor, uint64_t mn, uint64_t k) {
  const unsigned w = d.swizzleBytes;
  uint64_t a;
  if (kMajor)
    a = w == 0 ? d.start + (mn % 8) * 16 + (mn / 8) * d.sbo + (k % 8) * 2 + (k / 8) * d.lbo
               : d.start + (mn % 8) * w + (mn / 8) * d.sbo + k * 2;
  else
    a = w == 0 ? d.start + (mn % 8) * 2 + (mn / 8) * d.sbo + (k % 8) * 16 + (k / 8) * d.lbo
               : d.start + (mn % (w / 2)) * 2 + (mn / (w / 2)) * d.lbo + (k % 8) * w +
                     (k / 8) * d.sbo;
  if (w) {
    uint64_t bits = w == 128 ? 7 : w == 64 ? 3 : 1;
    a ^= ((a >> 7) & bits) << 4;
  }
  return a;
}

constexpr uint64_t kPendingBits = 0x7fc0dead; ///< a NaN: the value before its wait

} // namespace

const PendingWgmma *Warp::pendingWgmma(Value v) const {
  for (const PendingWgmma &p : openWgmma_)
    if (p.result == v)
      return &p;
  for (const auto &group : committedWgmma_)
    for (const PendingWgmma &p : group)
      if (p.result == v)
        return &p;
  return nullptr;
}

bool Warp::sharedAt(Operation *op, uint64_t window, unsigned bytes, const char *&p) {
  for (const auto &a : cta->sharedMemory)
    if (window >= a->window && window + bytes <= a->window + a->size) {
      p = a->begin + (window - a->window);
      return true;
    }
  return fail(op, "wgmma operand at shared address " + std::to_string(window) +
                      " is outside the CTA's shared memory");
}

bool Warp::execWarpgroup(Operation &op, uint32_t mask, bool &handled) {
  handled = true;
  if (isa<NVVM::WgmmaFenceAlignedOp>(op)) {
    if (!requireFullWarp(&op, mask))
      return false;
    wgmmaFenced_ = true;
    fenceStamp_ = defineClock_;
    return true;
  }
  if (isa<NVVM::WgmmaGroupSyncAlignedOp>(op)) {
    if (!requireFullWarp(&op, mask))
      return false;
    committedWgmma_.push_back(std::move(openWgmma_));
    openWgmma_.clear();
    return true;
  }
  if (auto w = dyn_cast<NVVM::WgmmaWaitGroupSyncOp>(op)) {
    if (!requireFullWarp(&op, mask))
      return false;
    wgmmaFenced_ = false;
    return retireWgmmaGroups(&op, static_cast<size_t>(w.getGroup()));
  }
  if (auto f = dyn_cast<NVVM::FenceProxyOp>(op)) {
    if (f.getKind() != NVVM::ProxyKind::async_shared)
      return fail(&op, "only fence.proxy.async.shared is modelled");
    if (cta && cta->asyncShadow)
      cta->asyncShadow->fenceProxy(index, epoch_);
    return true;
  }
  if (auto mma = dyn_cast<NVVM::WgmmaMmaAsyncOp>(op)) {
    NVVM::MMAShapeAttr shape = mma.getShape();
    auto isHalf = [](NVVM::WGMMATypes t) {
      return t == NVVM::WGMMATypes::f16 || t == NVVM::WGMMATypes::bf16;
    };
    if (shape.getM() != 64 || shape.getK() != 16 || !isHalf(mma.getTypeA()) ||
        mma.getTypeA() != mma.getTypeB() || mma.getTypeD() != NVVM::WGMMATypes::f32 ||
        mma.getScaleA() != NVVM::WGMMAScaleIn::one || mma.getScaleB() != NVVM::WGMMAScaleIn::one)
      return fail(&op, "only wgmma m64nNk16 f16/bf16 -> f32 with unit input scales is modelled");
    WgmmaIssue issue;
    issue.n = shape.getN();
    issue.bf16 = mma.getTypeA() == NVVM::WGMMATypes::bf16;
    issue.descA = mma.getDescriptorA();
    issue.kMajorA = mma.getLayoutA() == NVVM::MMALayout::row;
    issue.descB = mma.getDescriptorB();
    issue.kMajorB = mma.getLayoutB() == NVVM::MMALayout::col;
    issue.accumulate = mma.getScaleD() == NVVM::WGMMAScaleOut::one;
    issue.c = mma.getInouts();
    issue.result = mma.getResults();
    return issueWgmma(&op, mask, issue);
  }
  if (auto asmOp = dyn_cast<LLVM::InlineAsmOp>(op)) {
    std::string text = asmOp.getAsmString().str();
    if (text == kvcc::wgmma::operandFenceAsm()) {
      // Registers in, nothing out: only the compiler sees it.
      if (asmOp.getRes() || asmOp.getConstraints() !=
                                kvcc::wgmma::operandFenceConstraints(asmOp.getOperands().size()))
        return fail(&op, "operand fence with results or constraints other than WarpgroupAsm.h's");
      return true;
    }
    if (text == kvcc::wgmma::accumulatorFenceAsm()) {
      // Registers in, the same registers out.
      if (!asmOp.getRes() || asmOp.getOperands().size() != slotWidth(asmOp.getRes().getType()))
        return fail(&op, "accumulator fence with a result that does not match its operands");
      Slot &r = def(asmOp.getRes(), static_cast<unsigned>(asmOp.getOperands().size()));
      for (auto [i, v] : llvm::enumerate(asmOp.getOperands())) {
        const Slot &s = get(v);
        forLanes(mask, [&](unsigned l) { r.at(l, static_cast<unsigned>(i)) = s.at(l, 0); });
      }
      return true;
    }
    std::optional<kvcc::wgmma::RegisterAMma> form = kvcc::wgmma::parseRegisterAMma(text);
    if (!form)
      return fail(&op, "inline asm is not modelled by the GPU emulator (only the forms of "
                       "kvcc/Support/WarpgroupAsm.h)");
    const int64_t acc = form->n / 2;
    if (asmOp.getConstraints() != kvcc::wgmma::registerAMmaConstraints(form->n) ||
        static_cast<int64_t>(asmOp.getOperands().size()) != 5 + acc || !asmOp.getRes())
      return fail(&op, "wgmma inline asm with operands other than WarpgroupAsm.h's");
    WgmmaIssue issue;
    issue.n = form->n;
    issue.bf16 = form->bf16;
    issue.aRegisters.assign(asmOp.getOperands().begin(), asmOp.getOperands().begin() + 4);
    issue.descB = asmOp.getOperands()[4];
    issue.kMajorB = !form->transposeB;
    issue.accumulate = true;
    issue.cElements.assign(asmOp.getOperands().begin() + 5, asmOp.getOperands().end());
    issue.result = asmOp.getRes();
    return issueWgmma(&op, mask, issue);
  }
  handled = false;
  return true;
}

bool Warp::issueWgmma(Operation *op, uint32_t mask, const WgmmaIssue &issue) {
  if (!requireFullWarp(op, mask))
    return false;
  if (!wgmmaFenced_)
    return fail(op, "wgmma.mma_async without a wgmma.fence since the warp's last wait_group");
  // The fence orders the warp's register writes before the MMA: its A
  // registers and the accumulators it reads (other than a pending MMA's,
  // chained on the same registers) must be older than the last fence.
  auto fencedRegister = [&](Value v, const char *what) {
    if (pendingElements_.count(v) || pendingWgmma(v) || get(v).defined <= fenceStamp_)
      return true;
    return fail(op, llvm::Twine("wgmma.mma_async reads ") + what +
                        " written after the last wgmma.fence");
  };
  for (Value v : issue.aRegisters)
    if (!fencedRegister(v, "an A-fragment register"))
      return false;
  if (issue.accumulate)
    for (Value v : issue.cElements.empty() ? llvm::SmallVector<Value>{issue.c} : issue.cElements)
      if (!fencedRegister(v, "an accumulator register"))
        return false;
  const unsigned n = static_cast<unsigned>(issue.n);
  if (n < 8 || n > 256 || n % 8)
    return fail(op, "wgmma n must be a multiple of 8 in [8, 256]");
  if (slotWidth(issue.result.getType()) != n / 2)
    return fail(op, "wgmma accumulator struct does not hold n/2 registers");
  MLIRContext *ctx = op->getContext();
  Type half = issue.bf16 ? Type(BFloat16Type::get(ctx)) : Type(Float16Type::get(ctx));
  Type f32 = Float32Type::get(ctx);
  PendingWgmma pending;
  pending.result = issue.result;
  pending.width = n / 2;
  // Reads one 16-bit shared element by descriptor, noting it for the race check.
  auto readShared = [&](const Descriptor &d, bool kMajor, uint64_t mn, uint64_t k, double &v) {
    const char *p;
    if (!sharedAt(op, operandAddress(d, kMajor, mn, k), 2, p))
      return false;
    uint16_t bits;
    std::memcpy(&bits, p, 2);
    pending.reads.push_back(p);
    pending.readBits.push_back(bits);
    v = toDouble(half, bits);
    return true;
  };
  // The descriptors must be warp-uniform (one instruction of the warpgroup).
  auto uniform = [&](Value v, uint64_t &out) {
    const Slot &s = get(v);
    out = s.at(0, 0);
    for (unsigned l = 1; l < kWarpSize; ++l)
      if (s.at(l, 0) != out)
        return fail(op, "wgmma descriptor differs across the warp's lanes", static_cast<int>(l));
    return true;
  };
  uint64_t descA = 0, descB;
  if ((issue.aRegisters.empty() && !uniform(issue.descA, descA)) ||
      !uniform(issue.descB, descB) || !agreeAcrossWarpgroup(op, issue, descA, descB))
    return false;
  const Descriptor sharedA = decode(descA), sharedB = decode(descB);
  if ((issue.aRegisters.empty() && sharedA.baseOffset) || sharedB.baseOffset)
    return fail(op, "wgmma descriptor with a non-zero base offset is not modelled");
  const unsigned rowBase = 16 * (index % 4);
  double A[16][16], B[16][256];
  if (issue.aRegisters.empty()) {
    for (unsigned r = 0; r < 16; ++r)
      for (unsigned k = 0; k < 16; ++k)
        if (!readShared(sharedA, issue.kMajorA, rowBase + r, k, A[r][k]))
          return false;
  } else {
    for (unsigned l = 0; l < kWarpSize; ++l) {
      unsigned g = l / 4, t = l % 4;
      for (unsigned r = 0; r < 4; ++r) {
        uint64_t reg = get(issue.aRegisters[r]).at(l, 0);
        for (unsigned h = 0; h < 2; ++h)
          A[g + 8 * (r % 2)][2 * t + h + 8 * (r / 2)] = toDouble(half, (reg >> (16 * h)) & 0xffff);
      }
    }
  }
  for (unsigned k = 0; k < 16; ++k)
    for (unsigned c = 0; c < n; ++c)
      if (!readShared(sharedB, issue.kMajorB, c, k, B[k][c]))
        return false;
  // The accumulator input: a pending predecessor's value (the struct, or one
  // register extracted from it), or the registers.
  auto input = [&](Value v, unsigned lane, unsigned i) -> uint64_t {
    auto alias = pendingElements_.find(v);
    if (alias != pendingElements_.end()) {
      v = alias->second.first;
      i = alias->second.second;
    }
    if (const PendingWgmma *p = pendingWgmma(v))
      return p->bits[lane * p->width + i];
    return get(v).at(lane, i);
  };
  pending.bits.assign(kWarpSize * pending.width, 0);
  for (unsigned l = 0; l < kWarpSize; ++l) {
    unsigned g = l / 4, t = l % 4;
    for (unsigned j = 0; j < n / 8; ++j)
      for (unsigned i = 0; i < 2; ++i)
        for (unsigned h = 0; h < 2; ++h) {
          unsigned reg = 4 * j + 2 * i + h, row = g + 8 * i, col = 8 * j + 2 * t + h;
          double sum = 0;
          if (issue.accumulate)
            sum = toDouble(f32, issue.cElements.empty() ? input(issue.c, l, reg)
                                                        : input(issue.cElements[reg], l, 0));
          for (unsigned k = 0; k < 16; ++k)
            sum += A[row][k] * B[k][col];
          pending.bits[l * pending.width + reg] = fromDouble(f32, sum);
        }
  }
  pending.access = newAsyncAccess(/*write=*/false);
  // The operand elements as runs of contiguous bytes (a swizzled row is a
  // few 16-byte chunks): the shadow's work is per granule, not per element.
  // (A sorted copy: readBits pairs with reads by index.)
  std::vector<const char *> reads = pending.reads;
  llvm::sort(reads);
  llvm::SmallVector<std::pair<const char *, size_t>> ranges;
  for (const char *p : reads) {
    if (!ranges.empty() && p <= ranges.back().first + ranges.back().second) {
      ranges.back().second = std::max<size_t>(ranges.back().second, p + 2 - ranges.back().first);
      continue;
    }
    ranges.push_back({p, 2});
  }
  if (!noteAsync(op, pending.access, ranges))
    return false;
  Slot &r = def(issue.result, pending.width);
  fillElements(r, 0xffffffffu, [](unsigned, unsigned) { return kPendingBits; });
  openWgmma_.push_back(std::move(pending));
  return true;
}

bool Warp::agreeAcrossWarpgroup(Operation *op, const WgmmaIssue &issue, uint64_t descA,
                                uint64_t descB) {
  const int64_t threads = cta->blockDim[0] * cta->blockDim[1] * cta->blockDim[2];
  const unsigned group = index / 4;
  if (int64_t(group + 1) * 4 * kWarpSize > threads)
    return fail(op, "wgmma.mma_async by warp " + std::to_string(index) +
                        " of an incomplete warpgroup (the CTA has " + std::to_string(threads) +
                        " threads)");
  // The warpgroup's k-th MMA, as each of its warps issues it: one
  // instruction, whose descriptors and shape the 4 warps must agree on.
  WarpgroupLedger::Issue mine{op, issue.n, descA, descB, index, 1};
  WarpgroupLedger &ledger = cta->warpgroupLedger;
  std::lock_guard<std::mutex> lock(ledger.mutex);
  auto [it, first] = ledger.issues.try_emplace({group, wgmmaIssued_++}, mine);
  if (first)
    return true;
  WarpgroupLedger::Issue &theirs = it->second;
  if (theirs.op != op || theirs.n != issue.n || theirs.descA != descA || theirs.descB != descB)
    return fail(op, "wgmma.mma_async " + std::to_string(wgmmaIssued_) + " of warpgroup " +
                        std::to_string(group) + " differs between warp " +
                        std::to_string(theirs.warp) + " and warp " + std::to_string(index) +
                        " (another instruction, shape or descriptor; the warpgroup issues one)");
  if (++theirs.seen == 4)
    ledger.issues.erase(it);
  return true;
}

bool Warp::retireWgmmaGroups(Operation *op, size_t keep) {
  while (committedWgmma_.size() > keep) {
    for (const PendingWgmma &p : committedWgmma_.front()) {
      for (size_t i = 0; i < p.reads.size(); ++i) {
        uint16_t now;
        std::memcpy(&now, p.reads[i], 2);
        if (now != p.readBits[i])
          return fail(op, "shared memory an in-flight wgmma.mma_async reads was written "
                          "before the wgmma.wait_group that retires it");
      }
      retireAsync(p.access.get());
      Slot &r = def(p.result, p.width);
      r.bits = p.bits;
    }
    committedWgmma_.erase(committedWgmma_.begin());
  }
  return true;
}
