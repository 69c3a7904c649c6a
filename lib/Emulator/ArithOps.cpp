//===- ArithOps.cpp - arith and math ops, per lane -------------------------===//
//
// Integer ops on the bits of their width (signed where the op says so;
// division by zero and signed overflow of a division are errors, as they are
// poison / undefined in arith), float ops computed in double and rounded once
// to the result type (exact for +, -, *, / and sqrt of f32 and narrower),
// comparisons, selects and casts.
//
//===----------------------------------------------------------------------===//
#include "Interpreter.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace kvcc::emu;
using namespace kvcc::emu::sim;

namespace {

/// fptosi / fptoui: V truncated toward zero and saturated to the WIDTH-bit
/// range (NaN: 0), as the result's bits. The bounds are compared as doubles
/// (powers of two, exact) so no out-of-range double is ever cast.
uint64_t saturatingToInt(double v, bool isSigned, unsigned width) {
  if (std::isnan(v))
    return 0;
  v = std::trunc(v);
  if (isSigned) {
    double limit = std::ldexp(1.0, width - 1);
    if (v < -limit)
      return truncBits(width, uint64_t(1) << (width - 1));          // INT_MIN
    if (v >= limit)
      return truncBits(width, (uint64_t(1) << (width - 1)) - 1);    // INT_MAX
    return truncBits(width, static_cast<uint64_t>(static_cast<int64_t>(v)));
  }
  if (v <= 0)
    return 0;
  if (v >= std::ldexp(1.0, width))
    return truncBits(width, ~uint64_t(0));
  return static_cast<uint64_t>(v);
}

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
  if (isa<arith::SIToFPOp, arith::UIToFPOp>(op)) {
    // One rounding of the integer to the result type (a 64-bit integer
    // through double would round twice).
    bool isSigned = isa<arith::SIToFPOp>(op);
    return cast([isSigned](Type from, Type to, uint64_t v) {
      unsigned w = bitWidth(from);
      APFloat f(llvm::cast<FloatType>(to).getFloatSemantics());
      f.convertFromAPInt(APInt(w, truncBits(w, v)), isSigned, APFloat::rmNearestTiesToEven);
      return f.bitcastToAPInt().getZExtValue();
    });
  }
  if (isa<arith::FPToSIOp, arith::FPToUIOp>(op)) {
    bool isSigned = isa<arith::FPToSIOp>(op);
    return cast([isSigned](Type from, Type to, uint64_t v) {
      return saturatingToInt(toDouble(from, v), isSigned, bitWidth(to));
    });
  }
  if (isa<arith::ExtFOp, arith::TruncFOp>(op))
    return cast([](Type from, Type to, uint64_t v) { return fromDouble(to, toDouble(from, v)); });
  if (isa<arith::BitcastOp>(op))
    return cast([](Type, Type to, uint64_t v) { return truncBits(bitWidth(to), v); });

  handled = false;
  return true;
}
