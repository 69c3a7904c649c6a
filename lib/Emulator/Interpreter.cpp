//===- Interpreter.cpp - Values, arith/math/vector/memref/scf ops ---------===//
//
// The target-independent half of the warp interpreter: element bits, the
// per-lane arithmetic, vectors, memref views and loads/stores, structured
// control flow with per-lane masks, and func.call. GPUOps.cpp runs the GPU,
// NVGPU, NVVM and LLVM operations; Launch.cpp the host side and the grid.
//
//===----------------------------------------------------------------------===//
#include "Interpreter.h"

#include "kvcc/Frontend/GGUF.h" // halfToFloat, floatToHalf, bfloat16 conversions

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/SmallBitVector.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/ADT/bit.h"

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
  if (t.isF16())
    return kvcc::floatToHalf(static_cast<float>(v));
  if (t.isBF16())
    return kvcc::floatToBFloat16(static_cast<float>(v));
  if (t.isF32())
    return llvm::bit_cast<uint32_t>(static_cast<float>(v));
  return llvm::bit_cast<uint64_t>(v);
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

double saturatingToInt(double v, bool isSigned, unsigned width, int64_t &out) {
  if (std::isnan(v)) {
    out = 0;
    return 0;
  }
  double lo = isSigned ? -std::ldexp(1.0, width - 1) : 0.0;
  double hi = isSigned ? std::ldexp(1.0, width - 1) - 1 : std::ldexp(1.0, width) - 1;
  v = std::trunc(std::min(std::max(v, lo), hi));
  out = isSigned ? static_cast<int64_t>(v) : static_cast<int64_t>(static_cast<uint64_t>(v));
  return v;
}

} // namespace

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

//===----------------------------------------------------------------------===//
// Warp: memory
//===----------------------------------------------------------------------===//

bool Warp::address(Operation *op, unsigned lane, const MemRefVal &m, ValueRange indices,
                   int64_t elements, char *&out) {
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
  (void)elements;
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
    ok = execVectorMemRef(op, mask, handled);
  if (!handled)
    ok = execControl(op, mask, handled);
  if (!handled)
    ok = execGPU(op, mask, handled);
  if (!handled)
    ok = execHost(op, mask, handled);
  if (!handled)
    return fail(&op, "operation not modelled by the GPU emulator");
  return ok;
}

//===----------------------------------------------------------------------===//
// arith and math
//===----------------------------------------------------------------------===//

namespace {

bool cmpI(arith::CmpIPredicate p, uint64_t a, uint64_t b, unsigned w) {
  int64_t sa = toSigned(w, a), sb = toSigned(w, b);
  a = truncBits(w, a);
  b = truncBits(w, b);
  switch (p) {
  case arith::CmpIPredicate::eq: return a == b;
  case arith::CmpIPredicate::ne: return a != b;
  case arith::CmpIPredicate::slt: return sa < sb;
  case arith::CmpIPredicate::sle: return sa <= sb;
  case arith::CmpIPredicate::sgt: return sa > sb;
  case arith::CmpIPredicate::sge: return sa >= sb;
  case arith::CmpIPredicate::ult: return a < b;
  case arith::CmpIPredicate::ule: return a <= b;
  case arith::CmpIPredicate::ugt: return a > b;
  case arith::CmpIPredicate::uge: return a >= b;
  }
  return false;
}

bool cmpF(arith::CmpFPredicate p, double a, double b) {
  bool unordered = std::isnan(a) || std::isnan(b);
  switch (p) {
  case arith::CmpFPredicate::AlwaysFalse: return false;
  case arith::CmpFPredicate::OEQ: return !unordered && a == b;
  case arith::CmpFPredicate::OGT: return !unordered && a > b;
  case arith::CmpFPredicate::OGE: return !unordered && a >= b;
  case arith::CmpFPredicate::OLT: return !unordered && a < b;
  case arith::CmpFPredicate::OLE: return !unordered && a <= b;
  case arith::CmpFPredicate::ONE: return !unordered && a != b;
  case arith::CmpFPredicate::ORD: return !unordered;
  case arith::CmpFPredicate::UEQ: return unordered || a == b;
  case arith::CmpFPredicate::UGT: return unordered || a > b;
  case arith::CmpFPredicate::UGE: return unordered || a >= b;
  case arith::CmpFPredicate::ULT: return unordered || a < b;
  case arith::CmpFPredicate::ULE: return unordered || a <= b;
  case arith::CmpFPredicate::UNE: return unordered || a != b;
  case arith::CmpFPredicate::UNO: return unordered;
  case arith::CmpFPredicate::AlwaysTrue: return true;
  }
  return false;
}

enum class IntBin { Add, Sub, Mul, DivU, DivS, RemU, RemS, CeilDivU, CeilDivS, FloorDivS,
                    MinS, MaxS, MinU, MaxU, And, Or, Xor, Shl, ShrU, ShrS };
enum class FloatBin { Add, Sub, Mul, Div, Rem, Maximum, Minimum, MaxNum, MinNum, Pow, CopySign };

/// An integer binary op on W-bit values; false for division by zero or
/// signed overflow of a division (poison / UB in arith).
bool intBinary(IntBin k, uint64_t a, uint64_t b, unsigned w, uint64_t &r) {
  int64_t sa = toSigned(w, a), sb = toSigned(w, b);
  uint64_t ua = truncBits(w, a), ub = truncBits(w, b);
  int64_t smin = w >= 64 ? std::numeric_limits<int64_t>::min() : -(int64_t(1) << (w - 1));
  switch (k) {
  case IntBin::Add: r = ua + ub; break;
  case IntBin::Sub: r = ua - ub; break;
  case IntBin::Mul: r = ua * ub; break;
  case IntBin::DivU: if (!ub) return false; r = ua / ub; break;
  case IntBin::RemU: if (!ub) return false; r = ua % ub; break;
  case IntBin::CeilDivU: if (!ub) return false; r = ua / ub + (ua % ub != 0); break;
  case IntBin::DivS:
  case IntBin::RemS:
  case IntBin::CeilDivS:
  case IntBin::FloorDivS: {
    if (!sb || (sa == smin && sb == -1))
      return false;
    int64_t q = sa / sb, rem = sa % sb;
    if (k == IntBin::RemS)
      r = static_cast<uint64_t>(rem);
    else if (k == IntBin::DivS)
      r = static_cast<uint64_t>(q);
    else if (k == IntBin::CeilDivS)
      r = static_cast<uint64_t>(q + ((rem != 0) && ((rem > 0) == (sb > 0))));
    else
      r = static_cast<uint64_t>(q - ((rem != 0) && ((rem < 0) != (sb < 0))));
    break;
  }
  case IntBin::MinS: r = static_cast<uint64_t>(std::min(sa, sb)); break;
  case IntBin::MaxS: r = static_cast<uint64_t>(std::max(sa, sb)); break;
  case IntBin::MinU: r = std::min(ua, ub); break;
  case IntBin::MaxU: r = std::max(ua, ub); break;
  case IntBin::And: r = ua & ub; break;
  case IntBin::Or: r = ua | ub; break;
  case IntBin::Xor: r = ua ^ ub; break;
  case IntBin::Shl: r = ub >= w ? 0 : ua << ub; break;
  case IntBin::ShrU: r = ub >= w ? 0 : ua >> ub; break;
  case IntBin::ShrS: r = static_cast<uint64_t>(ub >= w ? (sa < 0 ? -1 : 0) : sa >> ub); break;
  }
  r = truncBits(w, r);
  return true;
}

double floatBinary(FloatBin k, double a, double b) {
  switch (k) {
  case FloatBin::Add: return a + b;
  case FloatBin::Sub: return a - b;
  case FloatBin::Mul: return a * b;
  case FloatBin::Div: return a / b;
  case FloatBin::Rem: return std::fmod(a, b);
  case FloatBin::Maximum:
    if (std::isnan(a) || std::isnan(b))
      return std::numeric_limits<double>::quiet_NaN();
    if (a == b)
      return std::signbit(a) ? b : a; // +0 > -0
    return std::max(a, b);
  case FloatBin::Minimum:
    if (std::isnan(a) || std::isnan(b))
      return std::numeric_limits<double>::quiet_NaN();
    if (a == b)
      return std::signbit(a) ? a : b;
    return std::min(a, b);
  case FloatBin::MaxNum: return std::fmax(a, b);
  case FloatBin::MinNum: return std::fmin(a, b);
  case FloatBin::Pow: return std::pow(a, b);
  case FloatBin::CopySign: return std::copysign(a, b);
  }
  return 0;
}

std::optional<IntBin> intBinaryKind(Operation &op) {
  return llvm::TypeSwitch<Operation *, std::optional<IntBin>>(&op)
      .Case([](arith::AddIOp) { return IntBin::Add; })
      .Case([](arith::SubIOp) { return IntBin::Sub; })
      .Case([](arith::MulIOp) { return IntBin::Mul; })
      .Case([](arith::DivUIOp) { return IntBin::DivU; })
      .Case([](arith::DivSIOp) { return IntBin::DivS; })
      .Case([](arith::RemUIOp) { return IntBin::RemU; })
      .Case([](arith::RemSIOp) { return IntBin::RemS; })
      .Case([](arith::CeilDivUIOp) { return IntBin::CeilDivU; })
      .Case([](arith::CeilDivSIOp) { return IntBin::CeilDivS; })
      .Case([](arith::FloorDivSIOp) { return IntBin::FloorDivS; })
      .Case([](arith::MinSIOp) { return IntBin::MinS; })
      .Case([](arith::MaxSIOp) { return IntBin::MaxS; })
      .Case([](arith::MinUIOp) { return IntBin::MinU; })
      .Case([](arith::MaxUIOp) { return IntBin::MaxU; })
      .Case([](arith::AndIOp) { return IntBin::And; })
      .Case([](arith::OrIOp) { return IntBin::Or; })
      .Case([](arith::XOrIOp) { return IntBin::Xor; })
      .Case([](arith::ShLIOp) { return IntBin::Shl; })
      .Case([](arith::ShRUIOp) { return IntBin::ShrU; })
      .Case([](arith::ShRSIOp) { return IntBin::ShrS; })
      .Default([](Operation *) { return std::nullopt; });
}

std::optional<FloatBin> floatBinaryKind(Operation &op) {
  return llvm::TypeSwitch<Operation *, std::optional<FloatBin>>(&op)
      .Case([](arith::AddFOp) { return FloatBin::Add; })
      .Case([](arith::SubFOp) { return FloatBin::Sub; })
      .Case([](arith::MulFOp) { return FloatBin::Mul; })
      .Case([](arith::DivFOp) { return FloatBin::Div; })
      .Case([](arith::RemFOp) { return FloatBin::Rem; })
      .Case([](arith::MaximumFOp) { return FloatBin::Maximum; })
      .Case([](arith::MinimumFOp) { return FloatBin::Minimum; })
      .Case([](arith::MaxNumFOp) { return FloatBin::MaxNum; })
      .Case([](arith::MinNumFOp) { return FloatBin::MinNum; })
      .Case([](math::PowFOp) { return FloatBin::Pow; })
      .Case([](math::CopySignOp) { return FloatBin::CopySign; })
      .Default([](Operation *) { return std::nullopt; });
}

using UnaryFn = double (*)(double);

UnaryFn floatUnaryFn(Operation &op) {
  return llvm::TypeSwitch<Operation *, UnaryFn>(&op)
      .Case([](arith::NegFOp) -> UnaryFn { return [](double x) { return -x; }; })
      .Case([](math::AbsFOp) -> UnaryFn { return [](double x) { return std::fabs(x); }; })
      .Case([](math::ExpOp) -> UnaryFn { return [](double x) { return std::exp(x); }; })
      .Case([](math::Exp2Op) -> UnaryFn { return [](double x) { return std::exp2(x); }; })
      .Case([](math::ExpM1Op) -> UnaryFn { return [](double x) { return std::expm1(x); }; })
      .Case([](math::LogOp) -> UnaryFn { return [](double x) { return std::log(x); }; })
      .Case([](math::Log2Op) -> UnaryFn { return [](double x) { return std::log2(x); }; })
      .Case([](math::Log1pOp) -> UnaryFn { return [](double x) { return std::log1p(x); }; })
      .Case([](math::SinOp) -> UnaryFn { return [](double x) { return std::sin(x); }; })
      .Case([](math::CosOp) -> UnaryFn { return [](double x) { return std::cos(x); }; })
      .Case([](math::TanhOp) -> UnaryFn { return [](double x) { return std::tanh(x); }; })
      .Case([](math::SqrtOp) -> UnaryFn { return [](double x) { return std::sqrt(x); }; })
      .Case([](math::RsqrtOp) -> UnaryFn { return [](double x) { return 1.0 / std::sqrt(x); }; })
      .Case([](math::ErfOp) -> UnaryFn { return [](double x) { return std::erf(x); }; })
      .Case([](math::FloorOp) -> UnaryFn { return [](double x) { return std::floor(x); }; })
      .Case([](math::CeilOp) -> UnaryFn { return [](double x) { return std::ceil(x); }; })
      .Default([](Operation *) -> UnaryFn { return nullptr; });
}

} // namespace

bool Warp::execArith(Operation &op, uint32_t mask, bool &handled) {
  handled = true;
  if (auto c = dyn_cast<arith::ConstantOp>(op)) {
    Type t = c.getType();
    Type et = elementType(t);
    Slot &r = def(c.getResult(), slotWidth(t));
    SmallVector<uint64_t> elems;
    Attribute value = c.getValue();
    auto one = [&](Attribute a) -> uint64_t {
      if (auto i = dyn_cast<IntegerAttr>(a))
        return truncBits(bitWidth(et), i.getValue().getZExtValue());
      if (auto f = dyn_cast<FloatAttr>(a))
        return fromDouble(et, f.getValueAsDouble());
      if (auto b = dyn_cast<BoolAttr>(a))
        return b.getValue();
      return 0;
    };
    if (auto dense = dyn_cast<DenseElementsAttr>(value)) {
      if (dense.isSplat())
        elems.assign(r.width, one(dense.getSplatValue<Attribute>()));
      else
        for (Attribute a : dense.getValues<Attribute>())
          elems.push_back(one(a));
    } else if (isa<IntegerAttr, FloatAttr, BoolAttr>(value)) {
      elems.push_back(one(value));
    } else {
      return fail(&op, "constant attribute not modelled");
    }
    if (elems.size() != r.width)
      return fail(&op, "constant has the wrong number of elements");
    forLanes(mask, [&](unsigned l) {
      for (unsigned i = 0; i < r.width; ++i)
        r.at(l, i) = elems[i];
    });
    return true;
  }

  if (std::optional<IntBin> k = intBinaryKind(op)) {
    unsigned w = bitWidth(elementType(op.getResult(0).getType()));
    const Slot &a = get(op.getOperand(0)), &b = get(op.getOperand(1));
    Slot &r = def(op.getResult(0), a.width);
    bool ok = true;
    int badLane = -1;
    forLanes(mask, [&](unsigned l) {
      for (unsigned i = 0; i < a.width; ++i)
        if (!intBinary(*k, a.at(l, i), b.at(l, i), w, r.at(l, i)) && ok) {
          ok = false;
          badLane = static_cast<int>(l);
        }
    });
    if (!ok)
      return fail(&op, "division by zero or signed division overflow", badLane);
    return true;
  }

  if (std::optional<FloatBin> k = floatBinaryKind(op)) {
    Type et = elementType(op.getResult(0).getType());
    const Slot &a = get(op.getOperand(0)), &b = get(op.getOperand(1));
    fillElements(def(op.getResult(0), a.width), mask, [&](unsigned l, unsigned i) {
      return fromDouble(et, floatBinary(*k, toDouble(et, a.at(l, i)), toDouble(et, b.at(l, i))));
    });
    return true;
  }

  if (UnaryFn fn = floatUnaryFn(op)) {
    Type et = elementType(op.getResult(0).getType());
    const Slot &a = get(op.getOperand(0));
    fillElements(def(op.getResult(0), a.width), mask, [&](unsigned l, unsigned i) {
      return fromDouble(et, fn(toDouble(et, a.at(l, i))));
    });
    return true;
  }

  if (isa<math::FmaOp, vector::FMAOp>(op)) {
    Type et = elementType(op.getResult(0).getType());
    const Slot &a = get(op.getOperand(0)), &b = get(op.getOperand(1)),
               &c = get(op.getOperand(2));
    fillElements(def(op.getResult(0), a.width), mask, [&](unsigned l, unsigned i) {
      return fromDouble(et, std::fma(toDouble(et, a.at(l, i)), toDouble(et, b.at(l, i)),
                                     toDouble(et, c.at(l, i))));
    });
    return true;
  }

  if (auto cmp = dyn_cast<arith::CmpIOp>(op)) {
    unsigned w = bitWidth(elementType(cmp.getLhs().getType()));
    const Slot &a = get(cmp.getLhs()), &b = get(cmp.getRhs());
    fillElements(def(cmp.getResult(), a.width), mask, [&](unsigned l, unsigned i) -> uint64_t {
      return cmpI(cmp.getPredicate(), a.at(l, i), b.at(l, i), w);
    });
    return true;
  }
  if (auto cmp = dyn_cast<arith::CmpFOp>(op)) {
    Type et = elementType(cmp.getLhs().getType());
    const Slot &a = get(cmp.getLhs()), &b = get(cmp.getRhs());
    fillElements(def(cmp.getResult(), a.width), mask, [&](unsigned l, unsigned i) -> uint64_t {
      return cmpF(cmp.getPredicate(), toDouble(et, a.at(l, i)), toDouble(et, b.at(l, i)));
    });
    return true;
  }
  if (auto sel = dyn_cast<arith::SelectOp>(op)) {
    const Slot &c = get(sel.getCondition()), &t = get(sel.getTrueValue()),
               &f = get(sel.getFalseValue());
    if (!t.mem.empty()) {
      Slot &r = defMemRef(sel.getResult());
      forLanes(mask, [&](unsigned l) { r.mem[l] = (c.at(l, 0) & 1) ? t.mem[l] : f.mem[l]; });
      return true;
    }
    Slot &r = def(sel.getResult(), t.width);
    forLanes(mask, [&](unsigned l) {
      for (unsigned i = 0; i < t.width; ++i) {
        bool pick = c.at(l, c.width == 1 ? 0 : i) & 1;
        r.at(l, i) = pick ? t.at(l, i) : f.at(l, i);
      }
    });
    return true;
  }

  // Casts: one element in, one out.
  auto cast = [&](auto convert) {
    Type from = elementType(op.getOperand(0).getType());
    Type to = elementType(op.getResult(0).getType());
    const Slot &a = get(op.getOperand(0));
    fillElements(def(op.getResult(0), a.width), mask,
                 [&](unsigned l, unsigned i) { return convert(from, to, a.at(l, i)); });
    return true;
  };
  if (isa<arith::IndexCastOp, arith::ExtSIOp>(op))
    return cast([](Type from, Type to, uint64_t v) {
      return truncBits(bitWidth(to), static_cast<uint64_t>(toSigned(bitWidth(from), v)));
    });
  if (isa<arith::IndexCastUIOp, arith::ExtUIOp, arith::TruncIOp>(op))
    return cast([](Type from, Type to, uint64_t v) {
      return truncBits(bitWidth(to), truncBits(bitWidth(from), v));
    });
  if (isa<arith::SIToFPOp>(op))
    return cast([](Type from, Type to, uint64_t v) {
      return fromDouble(to, static_cast<double>(toSigned(bitWidth(from), v)));
    });
  if (isa<arith::UIToFPOp>(op))
    return cast([](Type from, Type to, uint64_t v) {
      return fromDouble(to, static_cast<double>(truncBits(bitWidth(from), v)));
    });
  if (isa<arith::FPToSIOp, arith::FPToUIOp>(op)) {
    bool isSigned = isa<arith::FPToSIOp>(op);
    return cast([isSigned](Type from, Type to, uint64_t v) {
      int64_t out;
      saturatingToInt(toDouble(from, v), isSigned, bitWidth(to), out);
      return truncBits(bitWidth(to), static_cast<uint64_t>(out));
    });
  }
  if (isa<arith::ExtFOp, arith::TruncFOp>(op))
    return cast([](Type from, Type to, uint64_t v) { return fromDouble(to, toDouble(from, v)); });
  if (isa<arith::BitcastOp>(op))
    return cast([](Type, Type to, uint64_t v) { return truncBits(bitWidth(to), v); });

  handled = false;
  return true;
}

//===----------------------------------------------------------------------===//
// vector and memref
//===----------------------------------------------------------------------===//

bool Warp::execVectorMemRef(Operation &op, uint32_t mask, bool &handled) {
  handled = true;
  // vector.extract / vector.insert: a static or per-lane position into the
  // leading dimensions, the rest of the vector contiguous after it.
  auto linearPosition = [&](ArrayRef<int64_t> shape, ArrayRef<OpFoldResult> position,
                            unsigned lane, int64_t &linear, int64_t &width) {
    linear = 0;
    for (auto [k, p] : llvm::enumerate(position)) {
      int64_t i;
      if (auto a = dyn_cast<Attribute>(p))
        i = cast<IntegerAttr>(a).getInt();
      else
        i = toSigned(64, get(cast<Value>(p)).at(lane, 0));
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
    forLanes(mask, [&](unsigned l) {
      if (!ok)
        return;
      const MemRefVal &mv = m.mem[l];
      char *p;
      if (!address(&op, l, mv, indices, n, p)) {
        ok = false;
        return;
      }
      int64_t step = (mv.strides.empty() ? 1 : mv.strides.back()) * mv.elemBytes;
      if (!checkRange(&op, l, mv, p, 0) ||
          !checkRange(&op, l, mv, std::min(p, p + (n - 1) * step),
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
    });
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
    forLanes(mask, [&](unsigned l) {
      if (!ok)
        return;
      const MemRefVal &mv = m.mem[l];
      char *p;
      if (!address(&op, l, mv, indices, 1, p) || !checkRange(&op, l, mv, p, mv.elemBytes)) {
        ok = false;
        return;
      }
      if (isLoad)
        r->at(l, 0) = truncBits(w, loadBits(p, mv.elemBytes));
      else
        storeBits(p, mv.elemBytes, value->at(l, 0));
    });
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
      for (auto [k, ofr] : llvm::enumerate(outShape)) {
        if (auto a = dyn_cast<Attribute>(ofr))
          m.sizes[k] = cast<IntegerAttr>(a).getInt();
        else
          m.sizes[k] = static_cast<int64_t>(get(cast<Value>(ofr)).at(l, 0));
      }
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
    auto value = [&](OpFoldResult ofr, unsigned l) -> int64_t {
      if (auto a = dyn_cast<Attribute>(ofr))
        return cast<IntegerAttr>(a).getInt();
      return static_cast<int64_t>(get(cast<Value>(ofr)).at(l, 0));
    };
    forLanes(mask, [&](unsigned l) {
      const MemRefVal &s = src.mem[l];
      MemRefVal m = s;
      m.sizes.clear();
      m.strides.clear();
      for (size_t k = 0; k < offsets.size(); ++k) {
        m.offset += value(offsets[k], l) * s.strides[k];
        if (dropped.test(k))
          continue;
        m.sizes.push_back(value(sizes[k], l));
        m.strides.push_back(s.strides[k] * value(strides[k], l));
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
    auto value = [&](OpFoldResult ofr, unsigned l) -> int64_t {
      if (auto a = dyn_cast<Attribute>(ofr))
        return cast<IntegerAttr>(a).getInt();
      return static_cast<int64_t>(get(cast<Value>(ofr)).at(l, 0));
    };
    forLanes(mask, [&](unsigned l) {
      MemRefVal m = src.mem[l];
      m.offset = value(offsets[0], l);
      m.sizes.clear();
      m.strides.clear();
      for (size_t k = 0; k < sizes.size(); ++k) {
        m.sizes.push_back(value(sizes[k], l));
        m.strides.push_back(value(strides[k], l));
      }
      r.mem[l] = m;
    });
    return true;
  }
  handled = false;
  return true;
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
    forLanes(mask, [&](unsigned l) { badStep |= toSigned(w, step.at(l, 0)) <= 0; });
    if (badStep)
      return fail(&op, "scf.for with a step <= 0");
    forward(f.getInitArgs(), f.getRegionIterArgs(), mask);
    int64_t iv[kWarpSize] = {};
    forLanes(mask, [&](unsigned l) { iv[l] = toSigned(w, lb.at(l, 0)); });
    uint32_t active = mask;
    while (true) {
      uint32_t run = 0;
      forLanes(active, [&](unsigned l) {
        bool more = isUnsigned ? truncBits(w, static_cast<uint64_t>(iv[l])) < truncBits(w, ub.at(l, 0))
                               : iv[l] < toSigned(w, ub.at(l, 0));
        if (more)
          run |= 1u << l;
      });
      if (!run)
        break;
      Slot &ivSlot = def(f.getInductionVar(), 1);
      forLanes(run, [&](unsigned l) { ivSlot.at(l, 0) = truncBits(w, static_cast<uint64_t>(iv[l])); });
      if (!runBlock(*body, run))
        return false;
      forward(body->getTerminator()->getOperands(), f.getRegionIterArgs(), run);
      forLanes(run, [&](unsigned l) { iv[l] += toSigned(w, step.at(l, 0)); });
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
    if (callee.isExternal()) {
      if (call.getCallee() == "kvcc_cuda_multiprocessor_count" && call.getNumResults() == 1) {
        Slot &r = def(call.getResult(0), 1);
        forLanes(mask, [&](unsigned l) {
          r.at(l, 0) = static_cast<uint32_t>(runner.options.multiprocessorCount);
        });
        return true;
      }
      return fail(&op, "external function @" + call.getCallee() +
                           " is not modelled by the GPU emulator");
    }
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
  if (!runBlock(entry, lanes))
    return false;
  for (Value v : entry.getTerminator()->getOperands())
    results.push_back(laneValue(v, 0));
  return true;
}
