//===- CPUShimsTest.cpp - The GEMM callees of a CPU model.so --------------===//
//
// _mlir_ciface_kvcc_matmul_* for f32, f16 and bf16 models (kvc-matmul-to-
// blas's type tags) against a float64 reference of the same inputs: B
// transposed or not, beta 0 or 1, a 16-bit or an f32 C, on padded views at
// offsets, with row counts that take the streaming dot-product path (M <= 8,
// B transposed) and the sgemm paths, K with vector tails. GEMVs and GEMMs
// large enough to split over the OpenMP threads run on 1, 2 and 3 of them,
// N not a multiple of the 16-column shares.
//
//===----------------------------------------------------------------------===//
#include "../HalfBits.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

extern "C" {
struct Memref2D {
  void *allocated, *aligned;
  int64_t offset, sizes[2], strides[2];
};
#define KVCC_DECLARE(name) void _mlir_ciface_kvcc_matmul_##name(Memref2D *, Memref2D *, Memref2D *);
#define KVCC_DECLARE_TYPE(tag)                                                                                        \
  KVCC_DECLARE(nt_##tag) KVCC_DECLARE(nn_##tag) KVCC_DECLARE(nt_beta0_##tag) KVCC_DECLARE(nn_beta0_##tag)
KVCC_DECLARE_TYPE(f16)
KVCC_DECLARE_TYPE(bf16)
KVCC_DECLARE_TYPE(f16_out_f32)
KVCC_DECLARE_TYPE(bf16_out_f32)
KVCC_DECLARE(nt) KVCC_DECLARE(nn) KVCC_DECLARE(nt_beta0) KVCC_DECLARE(nn_beta0)
void omp_set_num_threads(int);
int omp_get_max_threads(void);
}

namespace {

using Fn = void (*)(Memref2D *, Memref2D *, Memref2D *);

using halfbits::decode;
using halfbits::encode;

/// A rows x cols row-major view at `offset` with `pad` unused elements after
/// each row, over storage of 16-bit (or f32) elements filled with randoms.
struct View {
  std::vector<uint16_t> half;
  std::vector<float> f32;
  Memref2D d;
  bool bf16, isF32;
  double at(int64_t r, int64_t c) const {
    int64_t i = d.offset + r * d.strides[0] + c;
    return isF32 ? double(f32[i]) : decode(half[i], bf16);
  }
};

View makeView(int64_t rows, int64_t cols, int64_t offset, int64_t pad, bool bf16, bool isF32, std::mt19937 &rng) {
  View v;
  v.bf16 = bf16, v.isF32 = isF32;
  int64_t count = offset + rows * (cols + pad) + 1;
  std::uniform_real_distribution<float> u(-1, 1);
  if (isF32) {
    v.f32.resize(count);
    for (float &x : v.f32)
      x = u(rng);
  } else {
    v.half.resize(count);
    for (uint16_t &x : v.half)
      x = encode(u(rng), bf16);
  }
  void *p = isF32 ? static_cast<void *>(v.f32.data()) : static_cast<void *>(v.half.data());
  v.d = {p, p, offset, {rows, cols}, {cols + pad, 1}};
  return v;
}

struct Shape {
  int64_t m, n, k;
};

struct Callee {
  const char *name;
  Fn fn;
  bool transposed, overwrite, bf16, f32Out, f32In;
};

#define KVCC_CALLEES(tag, bf16, f32Out)                                                                                \
  {"nt_" #tag, _mlir_ciface_kvcc_matmul_nt_##tag, true, false, bf16, f32Out, false},                                  \
      {"nn_" #tag, _mlir_ciface_kvcc_matmul_nn_##tag, false, false, bf16, f32Out, false},                             \
      {"nt_beta0_" #tag, _mlir_ciface_kvcc_matmul_nt_beta0_##tag, true, true, bf16, f32Out, false},                   \
      {"nn_beta0_" #tag, _mlir_ciface_kvcc_matmul_nn_beta0_##tag, false, true, bf16, f32Out, false}

const Callee kCallees[] = {KVCC_CALLEES(f16, false, false),
                           KVCC_CALLEES(bf16, true, false),
                           KVCC_CALLEES(f16_out_f32, false, true),
                           KVCC_CALLEES(bf16_out_f32, true, true),
                           {"nt", _mlir_ciface_kvcc_matmul_nt, true, false, false, true, true},
                           {"nn", _mlir_ciface_kvcc_matmul_nn, false, false, false, true, true},
                           {"nt_beta0", _mlir_ciface_kvcc_matmul_nt_beta0, true, true, false, true, true},
                           {"nn_beta0", _mlir_ciface_kvcc_matmul_nn_beta0, false, true, false, true, true}};

/// Callee t on shape s (on the OpenMP threads the caller set) against float64.
void checkGemm(const Callee &t, Shape s, std::mt19937 &rng) {
  View a = makeView(s.m, s.k, 3, 2, t.bf16, t.f32In, rng);
  View b = t.transposed ? makeView(s.n, s.k, 1, 0, t.bf16, t.f32In, rng)
                        : makeView(s.k, s.n, 0, 5, t.bf16, t.f32In, rng);
  View c = makeView(s.m, s.n, 7, 1, t.bf16, t.f32Out, rng);
  if (t.overwrite) { // C must not be read: NaN everywhere it could be
    for (int64_t i = 0; i < s.m; ++i)
      for (int64_t j = 0; j < s.n; ++j) {
        int64_t at = c.d.offset + i * c.d.strides[0] + j;
        if (t.f32Out)
          c.f32[at] = std::nanf("");
        else
          c.half[at] = t.bf16 ? 0x7FC0 : 0x7E00;
      }
  }
  std::vector<double> expect(s.m * s.n), magnitude(s.m * s.n);
  for (int64_t i = 0; i < s.m; ++i)
    for (int64_t j = 0; j < s.n; ++j) {
      double acc = t.overwrite ? 0.0 : c.at(i, j), mag = std::abs(acc);
      for (int64_t p = 0; p < s.k; ++p) {
        double prod = a.at(i, p) * (t.transposed ? b.at(j, p) : b.at(p, j));
        acc += prod, mag += std::abs(prod);
      }
      expect[i * s.n + j] = acc, magnitude[i * s.n + j] = mag;
    }
  const View before = c;
  t.fn(&a.d, &b.d, &c.d);
  // Nothing outside the view is written (offset, row padding, tail).
  for (size_t i = 0; i < (t.f32Out ? c.f32.size() : c.half.size()); ++i) {
    int64_t rel = int64_t(i) - c.d.offset, row = rel / c.d.strides[0], col = rel % c.d.strides[0];
    if (rel >= 0 && row < s.m && col < s.n)
      continue;
    bool same = t.f32Out ? std::memcmp(&c.f32[i], &before.f32[i], 4) == 0 : c.half[i] == before.half[i];
    ASSERT_TRUE(same) << "element " << i << " outside the view was written";
  }
  // f32 accumulation (its rounding grows with the sum of |products|),
  // then one rounding to C's type: half an ulp of f16 (2^-11) or bf16
  // (2^-8), with f16's fixed subnormal ulp below 2^-14.
  const double halfUlp = t.f32Out ? 0.0 : t.bf16 ? std::ldexp(1.0, -8) : std::ldexp(1.0, -11);
  for (int64_t i = 0; i < s.m; ++i)
    for (int64_t j = 0; j < s.n; ++j) {
      double want = expect[i * s.n + j];
      double bound = 1e-6 * magnitude[i * s.n + j] +
                     std::max(halfUlp * std::abs(want), t.f32Out || t.bf16 ? 0.0 : std::ldexp(1.0, -25));
      ASSERT_NEAR(c.at(i, j), want, bound * 1.0001 + 1e-30) << "at " << i << "," << j;
    }
}

TEST(CPUShimsTest, GemmsMatchFloat64) {
  std::mt19937 rng(3);
  // M <= 8 takes the dot-product paths (M = 2..8: weight rows in pairs, rows
  // of A in groups of four), odd N and K off the 8-lane chunks included.
  const Shape shapes[] = {{1, 7, 5},     {3, 19, 37},   {4, 33, 70},   {5, 33, 70},    {8, 41, 29},
                          {9, 40, 37},   {17, 5, 130},  {1, 300, 256}, {2, 1000, 96},  {7, 1001, 96},
                          {6, 300, 256}, {33, 200, 300}, {70, 600, 64}};
  const int defaultThreads = omp_get_max_threads();
  for (int threads : {1, 2, 3})
    for (const Callee &t : kCallees)
      for (Shape s : shapes) {
        // Only GEMMs of M·N·K >= 2^20 and GEMVs of N·K >= 2^16 split.
        bool splits = s.m * s.n * s.k >= (1 << 20) || (s.m <= 8 && s.n * s.k >= (1 << 16));
        if (threads > 1 && !splits)
          continue;
        omp_set_num_threads(threads);
        SCOPED_TRACE(std::string(t.name) + " " + std::to_string(s.m) + "x" + std::to_string(s.n) + "x" +
                     std::to_string(s.k) + " on " + std::to_string(threads) + " threads");
        checkGemm(t, s, rng);
        if (testing::Test::HasFatalFailure())
          break;
      }
  omp_set_num_threads(defaultThreads);
}

} // namespace
