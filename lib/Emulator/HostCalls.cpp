//===- HostCalls.cpp - The CUDA runtime functions a model's host code calls -===//
//
// The host code of a compiled model calls a few functions of the CUDA runtime
// (lib/Runtime/CUDA) besides the mgpu* launch ABI, which the GPU-dialect ops
// already stand for:
//
//   kvcc_cuda_multiprocessor_count() -> i32   the split planner's SM count:
//                                             EmulatorOptions::multiprocessorCount
//   kvcc_cuda_matmul_{nt,nn}[_beta0][_f16|_bf16][_out_f32](A, B, C)
//                                             the GEMMs kvc-matmul-to-blas
//                                             emits (CublasMatmul.cpp): C[M,N]
//                                             (+)= A[M,K] · B (B[N,K]ᵀ for nt)
//
// The GEMM is a reference, not a model of cuBLAS's summation order: products
// summed in double and rounded once to C's type. cuBLAS (f32 compute, one
// rounding of C) differs from it by f32 accumulation error only, far below
// the tolerances the model checks use. The operand checks are the runtime's:
// matching shapes, row-major views with a unit inner stride, and the element
// types the callee's name promises; every element touched is inside its
// allocation.
//
//===----------------------------------------------------------------------===//
#include "Interpreter.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <climits>
#include <cstring>
#include <optional>

using namespace mlir;
using namespace kvcc::emu::sim;

namespace {

/// What the name of a kvcc_cuda_matmul_* callee says.
struct GemmCallee {
  bool transposedB = false;
  bool overwrite = false; ///< _beta0: C = A·B, C never read
  std::string abType;     ///< "f32", "f16" or "bf16"
  std::string cType;
};

std::optional<GemmCallee> parseGemmCallee(StringRef name) {
  if (!name.consume_front("kvcc_cuda_matmul_"))
    return std::nullopt;
  GemmCallee g;
  if (name.consume_front("nt"))
    g.transposedB = true;
  else if (!name.consume_front("nn"))
    return std::nullopt;
  g.overwrite = name.consume_front("_beta0");
  g.abType = name.consume_front("_f16") ? "f16" : name.consume_front("_bf16") ? "bf16" : "f32";
  g.cType = g.abType;
  if (g.abType != "f32" && name.consume_front("_out_f32"))
    g.cType = "f32";
  if (!name.empty())
    return std::nullopt;
  return g;
}

std::string typeName(Type t) {
  return t.isF32() ? "f32" : t.isF16() ? "f16" : t.isBF16() ? "bf16" : "another type";
}

} // namespace

bool Warp::execExternalCall(func::CallOp call, uint32_t mask) {
  Operation *op = call.getOperation();
  StringRef callee = call.getCallee();
  if (callee == "kvcc_cuda_multiprocessor_count" && call.getNumOperands() == 0 &&
      call.getNumResults() == 1) {
    Slot &r = def(call.getResult(0), 1);
    forLanes(mask, [&](unsigned l) {
      r.at(l, 0) = static_cast<uint32_t>(runner.options.multiprocessorCount);
    });
    return true;
  }
  std::optional<GemmCallee> gemm = parseGemmCallee(callee);
  if (!gemm)
    return fail(op, "external function @" + callee + " is not modelled by the GPU emulator");
  if (cta)
    return fail(op, "@" + callee + " is a host function, called here from a kernel");
  if (call.getNumOperands() != 3 || call.getNumResults() != 0)
    return fail(op, "@" + callee + " takes three memrefs (A, B, C) and returns nothing");

  // The operands: rank-2 views of the expected element types.
  MemRefVal views[3];
  Type types[3];
  const char *names[3] = {"A", "B", "C"};
  for (unsigned i = 0; i < 3; ++i) {
    auto mt = dyn_cast<MemRefType>(call.getOperand(i).getType());
    if (!mt || mt.getRank() != 2)
      return fail(op, "@" + callee + ": operand " + names[i] + " is not a rank-2 memref");
    types[i] = mt.getElementType();
    const std::string &want = i < 2 ? gemm->abType : gemm->cType;
    if (typeName(types[i]) != want)
      return fail(op, "@" + callee + ": operand " + names[i] + " is " + typeName(types[i]) +
                          ", the callee's name says " + want);
    views[i] = get(call.getOperand(i)).mem[0];
    if (!views[i].alloc)
      return fail(op, "@" + callee + ": operand " + names[i] + " is not bound to an allocation");
  }
  for (unsigned i = 0; i < 3; ++i)
    for (int64_t d : views[i].sizes)
      if (d < 0 || d > INT_MAX)
        return fail(op, "@" + callee + ": operand " + names[i] + " has a dimension of " +
                            std::to_string(d) + " (cuBLAS takes 0 .. 2^31 - 1)");
  const MemRefVal &a = views[0], &b = views[1], &c = views[2];
  const int64_t m = a.sizes[0], k = a.sizes[1], n = c.sizes[1];
  const int64_t bRows = gemm->transposedB ? n : k, bCols = gemm->transposedB ? k : n;
  if (c.sizes[0] != m || b.sizes[0] != bRows || b.sizes[1] != bCols)
    return fail(op, "@" + callee + ": shapes do not match: A " + std::to_string(m) + "x" +
                        std::to_string(k) + ", B " + std::to_string(b.sizes[0]) + "x" +
                        std::to_string(b.sizes[1]) + ", C " + std::to_string(c.sizes[0]) + "x" +
                        std::to_string(n));
  // cuBLAS addresses row-major views with a unit inner stride and rows that do
  // not overlap (CublasMatmul.cpp's leadingDim); so does the reference, and it
  // checks the whole footprint of each view against its allocation.
  for (unsigned i = 0; i < 3; ++i) {
    const MemRefVal &v = views[i];
    const int64_t rows = v.sizes[0], cols = v.sizes[1];
    if (rows == 0 || cols == 0)
      continue;
    // Sizes are at most 2^31 - 1 and the leading dimension too (as cuBLAS's
    // int), so the footprint below cannot overflow; the offset is bounded by
    // the allocation before it scales anything.
    const int64_t allocElems = static_cast<int64_t>(v.alloc->size / v.elemBytes);
    if ((cols > 1 && v.strides[1] != 1) || (rows > 1 && (v.strides[0] < cols || v.strides[0] > INT_MAX)) ||
        v.offset < 0 || v.offset > allocElems)
      return fail(op, "@" + callee + ": operand " + names[i] +
                          " is not a row-major view cuBLAS can address (offset " +
                          std::to_string(v.offset) + ", strides " + std::to_string(v.strides[0]) +
                          ", " + std::to_string(v.strides[1]) + ")");
    const char *first = v.base + v.offset * int64_t(v.elemBytes);
    const int64_t span = (rows - 1) * (rows > 1 ? v.strides[0] : 0) + cols;
    if (!checkRange(op, 0, v, first, size_t(span) * v.elemBytes))
      return false;
  }
  if (m == 0 || n == 0 || (k == 0 && !gemm->overwrite))
    return true; // C += nothing: C untouched, as the runtime leaves it

  auto element = [](const MemRefVal &v, int64_t r, int64_t col) -> char * {
    return v.base + (v.offset + r * v.strides[0] + col * v.strides[1]) * int64_t(v.elemBytes);
  };
  auto load = [&](Type t, const MemRefVal &v, int64_t r, int64_t col) {
    uint64_t bits = 0;
    std::memcpy(&bits, element(v, r, col), v.elemBytes);
    return toDouble(t, bits);
  };
  // B as doubles, [N][K] whatever its layout, so the inner loop is contiguous.
  std::vector<double> bt(size_t(n) * size_t(k));
  std::vector<double> arow(static_cast<size_t>(k));
  for (int64_t j = 0; j < n; ++j)
    for (int64_t p = 0; p < k; ++p)
      bt[size_t(j) * k + p] =
          gemm->transposedB ? load(types[1], b, j, p) : load(types[1], b, p, j);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t p = 0; p < k; ++p)
      arow[p] = load(types[0], a, i, p);
    for (int64_t j = 0; j < n; ++j) {
      const double *bj = &bt[size_t(j) * k];
      double sum = 0;
      for (int64_t p = 0; p < k; ++p)
        sum += arow[p] * bj[p];
      if (!gemm->overwrite)
        sum += load(types[2], c, i, j);
      uint64_t bits = fromDouble(types[2], sum);
      std::memcpy(element(c, i, j), &bits, c.elemBytes);
    }
  }
  return true;
}
