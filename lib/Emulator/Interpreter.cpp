//===- Interpreter.cpp - Values, memory, dispatch, scf and func -----------===//
//
// The core of the warp interpreter: element bits, values, address checks,
// the op dispatch, structured control flow with per-lane masks, and
// func.call. ArithOps.cpp runs arith/math, VectorMemRefOps.cpp vectors and
// memrefs, GPUOps.cpp the GPU, NVGPU, NVVM and LLVM operations, Launch.cpp
// the host side and the grid.
//
//===----------------------------------------------------------------------===//
#include "Interpreter.h"

#include "kvcc/Frontend/GGUF.h" // halfToFloat, floatToHalf, bfloat16 conversions

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/bit.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

using namespace mlir;
using namespace kvcc::emu;
using namespace kvcc::emu::sim;

//===----------------------------------------------------------------------===//
// Element bits
//===----------------------------------------------------------------------===//

unsigned kvcc::emu::sim::bitWidth(Type t) {
  if (isa<IndexType>(t))
    return 64;
  if (t.isIntOrFloat())
    return t.getIntOrFloatBitWidth();
  return 64; // tokens and other opaque values: unused bits
}

Type kvcc::emu::sim::elementType(Type t) {
  if (auto v = dyn_cast<VectorType>(t))
    return v.getElementType();
  if (auto s = dyn_cast<LLVM::LLVMStructType>(t))
    return s.getBody().empty() ? t : s.getBody().front();
  if (auto m = dyn_cast<MemRefType>(t))
    return m.getElementType();
  return t;
}

unsigned kvcc::emu::sim::slotWidth(Type t) {
  if (auto v = dyn_cast<VectorType>(t))
    return static_cast<unsigned>(v.getNumElements());
  if (auto s = dyn_cast<LLVM::LLVMStructType>(t))
    return std::max<unsigned>(1, s.getBody().size());
  return 1;
}

double kvcc::emu::sim::toDouble(Type t, uint64_t bits) {
  if (t.isF16())
    return kvcc::halfToFloat(static_cast<uint16_t>(bits));
  if (t.isBF16())
    return kvcc::bfloat16ToFloat(static_cast<uint16_t>(bits));
  if (t.isF32())
    return llvm::bit_cast<float>(static_cast<uint32_t>(bits));
  return llvm::bit_cast<double>(bits);
}

uint64_t kvcc::emu::sim::fromDouble(Type t, double v) {
  if (t.isF64())
    return llvm::bit_cast<uint64_t>(v);
  // Through float only when that is exact (and defined: a finite double past
  // float's range is not): a double rounded to float and then to 16 bits can
  // land an ulp off the nearest 16-bit value.
  if (std::isnan(v) || std::isinf(v) || std::fabs(v) <= std::numeric_limits<float>::max()) {
    float f = static_cast<float>(v);
    if (t.isF32())
      return llvm::bit_cast<uint32_t>(f);
    if (static_cast<double>(f) == v || std::isnan(v))
      return t.isF16() ? kvcc::floatToHalf(f) : kvcc::floatToBFloat16(f);
  }
  APFloat a(v);
  bool lost;
  a.convert(cast<FloatType>(t).getFloatSemantics(), APFloat::rmNearestTiesToEven, &lost);
  return a.bitcastToAPInt().getZExtValue();
}

int64_t kvcc::emu::sim::toSigned(unsigned width, uint64_t bits) {
  if (width >= 64)
    return static_cast<int64_t>(bits);
  uint64_t sign = uint64_t(1) << (width - 1);
  bits &= (sign << 1) - 1;
  return static_cast<int64_t>((bits ^ sign) - sign);
}

uint64_t kvcc::emu::sim::truncBits(unsigned width, uint64_t bits) {
  return width >= 64 ? bits : bits & ((uint64_t(1) << width) - 1);
}

unsigned kvcc::emu::elementBytes(Type type) {
  if (isa<IndexType>(type))
    return 8;
  if (!type.isIntOrFloat())
    return 0;
  unsigned bits = type.getIntOrFloatBitWidth();
  if (bits == 1)
    return 1;
  if (bits % 8 || bits > 64)
    return 0;
  return bits / 8;
}

//===----------------------------------------------------------------------===//
// Warp: values
//===----------------------------------------------------------------------===//

Warp::Warp(Runner &runner, CTA *cta, unsigned index, uint32_t lanes, std::string where)
    : runner(runner), cta(cta), index(index), lanes(lanes), where(std::move(where)) {}

Slot &Warp::def(Value v, unsigned width) {
  Slot &s = values_[v];
  s.defined = ++defineClock_;
  if (s.width != width || s.bits.size() != kWarpSize * width) {
    s.width = width;
    s.bits.assign(kWarpSize * width, 0);
  }
  return s;
}

Slot &Warp::defMemRef(Value v) {
  Slot &s = values_[v];
  s.mem.resize(kWarpSize);
  return s;
}

const Slot &Warp::get(Value v) {
  auto it = values_.find(v);
  if (it != values_.end())
    return it->second;
  // Not defined on these lanes (a value of a branch no lane took): zeros.
  if (isa<MemRefType>(v.getType()))
    return defMemRef(v);
  return def(v, slotWidth(v.getType()));
}

void Warp::bind(Value v, const LaneValue &value) {
  if (value.mem) {
    Slot &s = defMemRef(v);
    for (auto &m : s.mem)
      m = *value.mem;
    return;
  }
  Slot &s = def(v, std::max<unsigned>(1, value.bits.size()));
  for (unsigned l = 0; l < kWarpSize; ++l)
    for (unsigned i = 0; i < value.bits.size(); ++i)
      s.at(l, i) = value.bits[i];
}

LaneValue Warp::laneValue(Value v, unsigned lane) {
  const Slot &s = get(v);
  LaneValue out;
  if (!s.mem.empty()) {
    out.mem = s.mem[lane];
    return out;
  }
  for (unsigned i = 0; i < s.width; ++i)
    out.bits.push_back(s.at(lane, i));
  return out;
}

void Warp::assignLanes(Value dst, const Slot &src, uint32_t mask) {
  if (!src.mem.empty()) {
    Slot &d = defMemRef(dst);
    forLanes(mask, [&](unsigned l) { d.mem[l] = src.mem[l]; });
    return;
  }
  Slot &d = def(dst, src.width);
  forLanes(mask, [&](unsigned l) {
    std::memcpy(&d.bits[l * src.width], &src.bits[l * src.width], src.width * 8);
  });
}

int64_t Warp::laneInt(OpFoldResult v, unsigned lane) {
  if (auto a = dyn_cast<Attribute>(v))
    return cast<IntegerAttr>(a).getInt();
  return toSigned(64, get(cast<Value>(v)).at(lane, 0));
}

//===----------------------------------------------------------------------===//
// Warp: memory
//===----------------------------------------------------------------------===//

bool Warp::address(Operation *op, unsigned lane, const MemRefVal &m, ValueRange indices,
                   char *&out) {
  if (!m.alloc)
    return fail(op, "memref is not bound to an allocation", lane);
  if (m.elemBytes == 0)
    return fail(op, "memref element type not modelled (only scalars of whole bytes)", lane);
  if (indices.size() != m.sizes.size())
    return fail(op, "index count does not match the memref's rank", lane);
  int64_t linear = m.offset;
  for (auto [k, index] : llvm::enumerate(indices)) {
    int64_t i = static_cast<int64_t>(get(index).at(lane, 0));
    linear += i * m.strides[k];
  }
  out = m.base + linear * static_cast<int64_t>(m.elemBytes);
  return true;
}

bool Warp::checkRange(Operation *op, unsigned lane, const MemRefVal &m, const char *p,
                      size_t bytes) {
  const Allocation *a = m.alloc;
  if (!a->live.load())
    return fail(op, "access to " + a->what + " after it was freed", lane);
  if (p < a->begin || p + bytes > a->begin + a->size || p + bytes < p) {
    long long at = static_cast<long long>(p - a->begin);
    return fail(op,
                "out-of-bounds access: bytes [" + std::to_string(at) + ", " +
                    std::to_string(at + static_cast<long long>(bytes)) + ") of " + a->what +
                    " (" + std::to_string(a->size) + " bytes)",
                lane);
  }
  return true;
}

void Warp::countSharedAccess(const char *kind, const SharedRequest &request) {
  const unsigned bytes = request.bytes;
  if (!runner.options.countSharedAccesses || !request.alloc || bytes == 0)
    return;
  constexpr unsigned kBanks = 32, kWordBytes = 4, kMaxAccess = 16;
  // No lane accesses more than 16 bytes at once: a wider access is that many
  // 16-byte instructions (a vector<8xf32> store is two st.shared.v4).
  if (bytes > kMaxAccess) {
    for (unsigned piece = 0; piece * kMaxAccess < bytes; ++piece) {
      SharedRequest part;
      part.alloc = request.alloc;
      part.bytes = std::min(kMaxAccess, bytes - piece * kMaxAccess);
      for (unsigned l = 0; l < kWarpSize; ++l)
        if (request.addresses[l])
          part.addresses[l] = request.addresses[l] + piece * kMaxAccess;
      countSharedAccess(kind, part);
    }
    return;
  }
  // Lanes a phase serves: 128 bytes of accesses (the access size rounded up
  // to a power of two; a whole warp of 4 bytes or less).
  const unsigned perPhase = std::min(128u / llvm::bit_ceil(bytes), kWarpSize);
  SharedAccessStats &stats = sharedAccesses[kind];
  bool any = false;
  for (unsigned first = 0; first < kWarpSize; first += perPhase) {
    // The distinct words of the phase, then the most that share a bank.
    llvm::SmallVector<uint64_t, 64> words;
    for (unsigned l = first; l < std::min(first + perPhase, kWarpSize); ++l) {
      if (!request.addresses[l])
        continue;
      uint64_t offset = static_cast<uint64_t>(request.addresses[l] - request.alloc->begin);
      for (uint64_t w = offset / kWordBytes; w <= (offset + bytes - 1) / kWordBytes; ++w)
        words.push_back(w);
    }
    if (words.empty())
      continue;
    any = true;
    llvm::sort(words);
    words.erase(std::unique(words.begin(), words.end()), words.end());
    unsigned perBank[kBanks] = {};
    unsigned worst = 0;
    for (uint64_t w : words)
      worst = std::max(worst, ++perBank[w % kBanks]);
    ++stats.phases;
    stats.wavefronts += worst;
  }
  stats.requests += any;
}

//===----------------------------------------------------------------------===//
// Warp: dispatch
//===----------------------------------------------------------------------===//

bool Warp::runBlock(Block &block, uint32_t mask) {
  for (Operation &op : block.without_terminator())
    if (!exec(op, mask))
      return false;
  return true;
}

bool Warp::exec(Operation &op, uint32_t mask) {
  if (runner.failed())
    return false;
  bool handled = false;
  bool ok = execArith(op, mask, handled);
  if (!handled)
    ok = execAffine(op, mask, handled);
  if (!handled)
    ok = execVectorMemRef(op, mask, handled);
  if (!handled)
    ok = execControl(op, mask, handled);
  if (!handled)
    ok = execGPU(op, mask, handled);
  if (!handled)
    ok = execHost(op, mask, handled);
  if (!handled && cta)
    ok = execWarpgroup(op, mask, handled);
  if (!handled)
    return fail(&op, "operation not modelled by the GPU emulator");
  return ok;
}

//===----------------------------------------------------------------------===//
// scf and func
//===----------------------------------------------------------------------===//

bool Warp::execControl(Operation &op, uint32_t mask, bool &handled) {
  handled = true;
  // Copies the terminator's operands (snapshots first: a yield may swap two
  // loop-carried values) into DSTS for the lanes of MASK.
  auto forward = [&](ValueRange from, auto dsts, uint32_t lanesMask) {
    std::vector<Slot> snapshot;
    snapshot.reserve(from.size());
    for (Value v : from)
      snapshot.push_back(get(v));
    for (auto [dst, s] : llvm::zip(dsts, snapshot))
      assignLanes(dst, s, lanesMask);
  };

  if (auto f = dyn_cast<scf::ForOp>(op)) {
    unsigned w = bitWidth(f.getLowerBound().getType());
    bool isUnsigned = f.getUnsignedCmp();
    const Slot &lb = get(f.getLowerBound()), &ub = get(f.getUpperBound()),
               &step = get(f.getStep());
    Block *body = f.getBody();
    bool badStep = false;
    forLanes(mask, [&](unsigned l) {
      badStep |= isUnsigned ? truncBits(w, step.at(l, 0)) == 0 : toSigned(w, step.at(l, 0)) <= 0;
    });
    if (badStep)
      return fail(&op, isUnsigned ? "scf.for with a step of 0" : "scf.for with a step <= 0");
    forward(f.getInitArgs(), f.getRegionIterArgs(), mask);
    // The induction variable as a W-bit integer of the loop's signedness (held
    // in 64 bits: sign- or zero-extended).
    auto extend = [&](uint64_t bits) {
      return isUnsigned ? truncBits(w, bits) : static_cast<uint64_t>(toSigned(w, bits));
    };
    uint64_t iv[kWarpSize] = {};
    forLanes(mask, [&](unsigned l) { iv[l] = extend(lb.at(l, 0)); });
    uint32_t active = mask;
    while (true) {
      uint32_t run = 0;
      forLanes(active, [&](unsigned l) {
        uint64_t bound = extend(ub.at(l, 0));
        bool more = isUnsigned ? iv[l] < bound
                               : static_cast<int64_t>(iv[l]) < static_cast<int64_t>(bound);
        if (more)
          run |= 1u << l;
      });
      if (!run)
        break;
      Slot &ivSlot = def(f.getInductionVar(), 1);
      forLanes(run, [&](unsigned l) { ivSlot.at(l, 0) = truncBits(w, iv[l]); });
      if (!runBlock(*body, run))
        return false;
      forward(body->getTerminator()->getOperands(), f.getRegionIterArgs(), run);
      // A step past the variable's range is an overflow the loop's arithmetic
      // would wrap; it is reported instead.
      bool overflow = false;
      forLanes(run, [&](unsigned l) {
        uint64_t step1 = extend(step.at(l, 0));
        if (isUnsigned) {
          uint64_t next;
          overflow |= __builtin_add_overflow(iv[l], step1, &next) || truncBits(w, next) != next;
          iv[l] = next;
        } else {
          int64_t next;
          overflow |= __builtin_add_overflow(static_cast<int64_t>(iv[l]),
                                             static_cast<int64_t>(step1), &next) ||
                       toSigned(w, static_cast<uint64_t>(next)) != next;
          iv[l] = static_cast<uint64_t>(next);
        }
      });
      if (overflow)
        return fail(&op, "scf.for induction variable overflows its " + std::to_string(w) +
                             "-bit type");
      active = run;
    }
    forward(ValueRange(f.getRegionIterArgs()), f.getResults(), mask);
    return true;
  }
  if (auto i = dyn_cast<scf::IfOp>(op)) {
    const Slot &c = get(i.getCondition());
    uint32_t thenMask = 0;
    forLanes(mask, [&](unsigned l) {
      if (c.at(l, 0) & 1)
        thenMask |= 1u << l;
    });
    uint32_t elseMask = mask & ~thenMask;
    for (Value r : i.getResults()) // defined even where no lane takes a branch
      (void)get(r);
    if (thenMask) {
      Block &b = i.getThenRegion().front();
      if (!runBlock(b, thenMask))
        return false;
      forward(b.getTerminator()->getOperands(), i.getResults(), thenMask);
    }
    if (elseMask && !i.getElseRegion().empty()) {
      Block &b = i.getElseRegion().front();
      if (!runBlock(b, elseMask))
        return false;
      forward(b.getTerminator()->getOperands(), i.getResults(), elseMask);
    }
    return true;
  }
  if (auto w = dyn_cast<scf::WhileOp>(op)) {
    Block &before = w.getBefore().front(), &after = w.getAfter().front();
    forward(w.getInits(), before.getArguments(), mask);
    for (Value r : w.getResults())
      (void)get(r);
    uint32_t active = mask;
    while (active) {
      if (!runBlock(before, active))
        return false;
      auto cond = cast<scf::ConditionOp>(before.getTerminator());
      const Slot &c = get(cond.getCondition());
      uint32_t more = 0;
      forLanes(active, [&](unsigned l) {
        if (c.at(l, 0) & 1)
          more |= 1u << l;
      });
      forward(cond.getArgs(), w.getResults(), active & ~more);
      if (!more)
        break;
      forward(cond.getArgs(), after.getArguments(), more);
      if (!runBlock(after, more))
        return false;
      forward(after.getTerminator()->getOperands(), before.getArguments(), more);
      active = more;
    }
    return true;
  }
  if (auto call = dyn_cast<func::CallOp>(op)) {
    auto callee = SymbolTable::lookupNearestSymbolFrom<func::FuncOp>(&op, call.getCalleeAttr());
    if (!callee)
      return fail(&op, "callee @" + call.getCallee() + " not found");
    if (callee.isExternal())
      return execExternalCall(call, mask);
    if (mask != 1u)
      return fail(&op, "func.call is modelled on the host only");
    SmallVector<LaneValue> args, results;
    for (Value a : call.getOperands())
      args.push_back(laneValue(a, 0));
    if (!runFunction(callee, args, results))
      return false;
    for (auto [v, lv] : llvm::zip(call.getResults(), results))
      bind(v, lv);
    return true;
  }
  handled = false;
  return true;
}

bool Warp::runFunction(Operation *function, ArrayRef<LaneValue> arguments,
                       SmallVectorImpl<LaneValue> &results) {
  auto f = cast<func::FuncOp>(function);
  Block &entry = f.getBody().front();
  if (entry.getNumArguments() != arguments.size())
    return fail(function, "called with the wrong number of arguments");
  for (auto [arg, value] : llvm::zip(entry.getArguments(), arguments))
    bind(arg, value);
  if (!f.getBody().hasOneBlock())
    return fail(function, "functions of several blocks are not modelled");
  // Values live in one map per warp, so a function may not be active twice.
  if (!activeFunctions_.insert(function).second)
    return fail(function, "recursive calls are not modelled");
  bool ok = runBlock(entry, lanes);
  activeFunctions_.erase(function);
  if (!ok)
    return false;
  for (Value v : entry.getTerminator()->getOperands())
    results.push_back(laneValue(v, 0));
  return true;
}
