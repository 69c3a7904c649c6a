//===- AffineOps.cpp - affine.apply / min / max, per lane ------------------===//
//
// The index arithmetic scf-parallel-loop-tiling and the GPU mapping leave in
// a model's kernels (a CTA's row and column from its block id, the tile's
// bounds). The maps are evaluated on 64-bit signed indices with the affine
// dialect's rounding: floordiv and ceildiv round toward -inf and +inf, mod is
// never negative; a zero divisor or a non-positive mod base is an error (the
// dialect leaves it undefined).
//
//===----------------------------------------------------------------------===//
#include "Interpreter.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/IR/AffineExpr.h"

#include <limits>
#include <optional>

using namespace mlir;
using namespace kvcc::emu::sim;

namespace {

/// EXPR on the dims and symbols of one lane; nullopt with PROBLEM set when it
/// divides by zero. Products and sums wrap as the 64-bit index does.
std::optional<int64_t> evaluate(AffineExpr expr, ArrayRef<int64_t> dims, ArrayRef<int64_t> symbols,
                                std::string &problem) {
  if (auto c = dyn_cast<AffineConstantExpr>(expr))
    return c.getValue();
  if (auto d = dyn_cast<AffineDimExpr>(expr))
    return dims[d.getPosition()];
  if (auto s = dyn_cast<AffineSymbolExpr>(expr))
    return symbols[s.getPosition()];
  auto bin = cast<AffineBinaryOpExpr>(expr);
  std::optional<int64_t> l = evaluate(bin.getLHS(), dims, symbols, problem);
  std::optional<int64_t> r = l ? evaluate(bin.getRHS(), dims, symbols, problem) : std::nullopt;
  if (!r)
    return std::nullopt;
  auto wrap = [](uint64_t v) { return static_cast<int64_t>(v); };
  switch (expr.getKind()) {
  case AffineExprKind::Add:
    return wrap(uint64_t(*l) + uint64_t(*r));
  case AffineExprKind::Mul:
    return wrap(uint64_t(*l) * uint64_t(*r));
  default:
    break;
  }
  if (*r == 0 || (*r == -1 && *l == std::numeric_limits<int64_t>::min())) {
    problem = "division by " + std::to_string(*r) + " in an affine map";
    return std::nullopt;
  }
  int64_t q = *l / *r, m = *l % *r;
  switch (expr.getKind()) {
  case AffineExprKind::FloorDiv:
    return (m != 0 && ((m < 0) != (*r < 0))) ? q - 1 : q;
  case AffineExprKind::CeilDiv:
    return (m != 0 && ((m < 0) == (*r < 0))) ? q + 1 : q;
  case AffineExprKind::Mod:
    if (*r < 0) {
      problem = "mod by a negative value in an affine map";
      return std::nullopt;
    }
    return m < 0 ? m + *r : m;
  default:
    problem = "affine expression kind not modelled";
    return std::nullopt;
  }
}

} // namespace

bool Warp::execAffine(Operation &op, uint32_t mask, bool &handled) {
  handled = true;
  AffineMap map;
  ValueRange operands;
  int pick = 0; // 0: apply (one result), -1: min, +1: max
  if (auto a = dyn_cast<affine::AffineApplyOp>(op)) {
    map = a.getAffineMap();
    operands = a.getMapOperands();
  } else if (auto m = dyn_cast<affine::AffineMinOp>(op)) {
    map = m.getAffineMap();
    operands = m.getMapOperands();
    pick = -1;
  } else if (auto m = dyn_cast<affine::AffineMaxOp>(op)) {
    map = m.getAffineMap();
    operands = m.getMapOperands();
    pick = 1;
  } else {
    handled = false;
    return true;
  }
  if (map.getNumResults() == 0 || (pick == 0 && map.getNumResults() != 1))
    return fail(&op, "affine map with an unexpected number of results");
  const unsigned numDims = map.getNumDims();
  SmallVector<int64_t> dims(numDims), symbols(map.getNumSymbols());
  Slot &r = def(op.getResult(0), 1);
  bool ok = true;
  forLanes(mask, [&](unsigned l) {
    if (!ok)
      return;
    for (auto [i, v] : llvm::enumerate(operands)) {
      int64_t x = toSigned(64, get(v).at(l, 0));
      (i < numDims ? dims[i] : symbols[i - numDims]) = x;
    }
    std::optional<int64_t> best;
    for (AffineExpr e : map.getResults()) {
      std::string problem;
      std::optional<int64_t> v = evaluate(e, dims, symbols, problem);
      if (!v) {
        ok = fail(&op, problem, int(l));
        return;
      }
      if (!best || (pick < 0 ? *v < *best : *v > *best))
        best = v;
    }
    r.at(l, 0) = static_cast<uint64_t>(*best);
  });
  return ok;
}
