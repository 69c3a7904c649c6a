//===- CublasMatmulTest.cpp - The GEMM entry points of a CUDA model.so ----===//
//
// _mlir_ciface_kvcc_cuda_matmul_{nt,nn} against the mock driver and the mock
// cuBLAS (host memory): C += A·Bᵀ / A·B on strided row-major views (offsets,
// padded rows) over a grid of shapes, against a float64 reference; shape and
// layout errors; cuBLAS failures and a missing cuBLAS.
//
//===----------------------------------------------------------------------===//
#include "CudaTestSupport.h"
#include "../HalfBits.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

using namespace cudatest;

extern "C" {
struct Memref2D {
  float *allocated, *aligned; // 16-bit elements for the _f16/_bf16 entry points
  int64_t offset, sizes[2], strides[2];
};
void _mlir_ciface_kvcc_cuda_matmul_nt(Memref2D *a, Memref2D *b, Memref2D *c);
void _mlir_ciface_kvcc_cuda_matmul_nn(Memref2D *a, Memref2D *b, Memref2D *c);
void _mlir_ciface_kvcc_cuda_matmul_nt_beta0(Memref2D *a, Memref2D *b, Memref2D *c);
void _mlir_ciface_kvcc_cuda_matmul_nn_beta0(Memref2D *a, Memref2D *b, Memref2D *c);
void _mlir_ciface_kvcc_cuda_matmul_nt_f16(Memref2D *a, Memref2D *b, Memref2D *c);
void _mlir_ciface_kvcc_cuda_matmul_nn_beta0_f16(Memref2D *a, Memref2D *b, Memref2D *c);
void _mlir_ciface_kvcc_cuda_matmul_nt_beta0_bf16(Memref2D *a, Memref2D *b, Memref2D *c);
void _mlir_ciface_kvcc_cuda_matmul_nn_bf16(Memref2D *a, Memref2D *b, Memref2D *c);
void _mlir_ciface_kvcc_cuda_matmul_nt_beta0_f16_out_f32(Memref2D *a, Memref2D *b, Memref2D *c);
void _mlir_ciface_kvcc_cuda_matmul_nt_bf16_out_f32(Memref2D *a, Memref2D *b, Memref2D *c);
}

namespace {

/// A rows x cols view at `offset` with `pad` unused floats after each row,
/// in "device" memory (host memory under the mock) filled with randoms.
struct View {
  Memref2D d;
  float at(int64_t r, int64_t c) const { return d.aligned[d.offset + r * d.strides[0] + c]; }
};

View makeView(int64_t rows, int64_t cols, int64_t offset, int64_t pad, std::mt19937 &rng) {
  int64_t bytes = (offset + rows * (cols + pad) + 1) * 4;
  auto *p = static_cast<float *>(mgpuMemAlloc(bytes, nullptr, false));
  std::uniform_real_distribution<float> u(-1, 1);
  for (int64_t i = 0; i < bytes / 4; ++i)
    p[i] = u(rng);
  return {{p, p, offset, {rows, cols}, {cols + pad, 1}}};
}

class CublasMockTest : public MockTest {
protected:
  void SetUp() override {
    MockTest::SetUp();
    setEnv("KVCC_LIBCUBLAS", KVCC_MOCK_CUBLAS);
    setEnv("KVCC_MOCK_CUBLAS_FAIL", "");
    ASSERT_EQ(kvcc_cuda_init(0), 0) << lastError();
  }
  void TearDown() override {
    setEnv("KVCC_LIBCUBLAS", "");
    setEnv("KVCC_MOCK_CUBLAS_FAIL", "");
    MockTest::TearDown();
  }
};

TEST_F(CublasMockTest, MatchesFloat64OnStridedViews) {
  std::mt19937 rng(7);
  struct Shape {
    int64_t m, n, k;
  };
  for (bool overwrite : {false, true})
  for (bool transposed : {true, false})
    for (Shape s : {Shape{1, 7, 5}, Shape{3, 4, 1}, Shape{17, 33, 9}, Shape{64, 5, 130}}) {
      SCOPED_TRACE((transposed ? "nt " : "nn ") + std::string(overwrite ? "beta0 " : "") + std::to_string(s.m) +
                   "x" + std::to_string(s.n) + "x" + std::to_string(s.k));
      View a = makeView(s.m, s.k, 5, 3, rng);
      View b = transposed ? makeView(s.n, s.k, 2, 0, rng) : makeView(s.k, s.n, 0, 4, rng);
      View c = makeView(s.m, s.n, 11, 2, rng);
      if (overwrite) // C must not be read
        for (int64_t i = 0; i < s.m; ++i)
          for (int64_t j = 0; j < s.n; ++j)
            c.d.aligned[c.d.offset + i * c.d.strides[0] + j] = std::nanf("");
      std::vector<double> expect(s.m * s.n);
      for (int64_t i = 0; i < s.m; ++i)
        for (int64_t j = 0; j < s.n; ++j) {
          double acc = overwrite ? 0.0 : c.at(i, j);
          for (int64_t p = 0; p < s.k; ++p)
            acc += double(a.at(i, p)) * (transposed ? b.at(j, p) : b.at(p, j));
          expect[i * s.n + j] = acc;
        }
      auto *fn = overwrite ? (transposed ? _mlir_ciface_kvcc_cuda_matmul_nt_beta0 : _mlir_ciface_kvcc_cuda_matmul_nn_beta0)
                           : (transposed ? _mlir_ciface_kvcc_cuda_matmul_nt : _mlir_ciface_kvcc_cuda_matmul_nn);
      fn(&a.d, &b.d, &c.d);
      ASSERT_EQ(lastError(), "");
      for (int64_t i = 0; i < s.m; ++i)
        for (int64_t j = 0; j < s.n; ++j)
          ASSERT_NEAR(c.at(i, j), expect[i * s.n + j], 1e-5 * (1 + std::abs(expect[i * s.n + j])))
              << "at " << i << "," << j;
      for (View *v : {&a, &b, &c})
        mgpuMemFree(v->d.allocated, nullptr);
    }
}

/// 16-bit views: the same layout, 2-byte elements of f16 or bf16.
struct HalfView {
  Memref2D d;
  bool bf16;
  uint16_t *bits() const { return reinterpret_cast<uint16_t *>(d.aligned); }
  double at(int64_t r, int64_t c) const { return halfbits::decode(bits()[d.offset + r * d.strides[0] + c], bf16); }
};

HalfView makeHalfView(int64_t rows, int64_t cols, int64_t offset, int64_t pad, bool bf16, std::mt19937 &rng) {
  int64_t count = offset + rows * (cols + pad) + 1;
  auto *p = static_cast<uint16_t *>(mgpuMemAlloc(count * 2, nullptr, false));
  std::uniform_real_distribution<float> u(-1, 1);
  for (int64_t i = 0; i < count; ++i)
    p[i] = halfbits::encode(u(rng), bf16);
  auto *f = reinterpret_cast<float *>(p);
  return {{f, f, offset, {rows, cols}, {cols + pad, 1}}, bf16};
}

// The f16/bf16 entry points of a --dtype=f16|bf16 model: the element type
// codes reach cublasGemmEx (the mock converts as cuBLAS does), C is 16-bit or
// f32, B transposed or not, beta 0 or 1, on padded views at offsets.
TEST_F(CublasMockTest, HalfPrecisionGemmsGoThroughGemmEx) {
  std::mt19937 rng(11);
  struct Case {
    const char *name;
    void (*fn)(Memref2D *, Memref2D *, Memref2D *);
    bool transposed, overwrite, bf16, f32Out;
  } cases[] = {
      {"nt_f16", _mlir_ciface_kvcc_cuda_matmul_nt_f16, true, false, false, false},
      {"nn_beta0_f16", _mlir_ciface_kvcc_cuda_matmul_nn_beta0_f16, false, true, false, false},
      {"nt_beta0_bf16", _mlir_ciface_kvcc_cuda_matmul_nt_beta0_bf16, true, true, true, false},
      {"nn_bf16", _mlir_ciface_kvcc_cuda_matmul_nn_bf16, false, false, true, false},
      {"nt_beta0_f16_out_f32", _mlir_ciface_kvcc_cuda_matmul_nt_beta0_f16_out_f32, true, true, false, true},
      {"nt_bf16_out_f32", _mlir_ciface_kvcc_cuda_matmul_nt_bf16_out_f32, true, false, true, true},
  };
  for (const Case &t : cases) {
    const int64_t m = 5, n = 9, k = 37;
    SCOPED_TRACE(t.name);
    HalfView a = makeHalfView(m, k, 3, 2, t.bf16, rng);
    HalfView b = t.transposed ? makeHalfView(n, k, 1, 0, t.bf16, rng) : makeHalfView(k, n, 0, 5, t.bf16, rng);
    HalfView c16 = makeHalfView(m, n, 7, 1, t.bf16, rng);
    View c32 = makeView(m, n, 7, 1, rng);
    auto cAt = [&](int64_t i, int64_t j) { return t.f32Out ? double(c32.at(i, j)) : c16.at(i, j); };
    std::vector<double> expect(m * n);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double acc = t.overwrite ? 0.0 : cAt(i, j);
        for (int64_t p = 0; p < k; ++p)
          acc += a.at(i, p) * (t.transposed ? b.at(j, p) : b.at(p, j));
        expect[i * n + j] = acc;
      }
    int before = hooks().callCount("cuStreamSynchronize");
    t.fn(&a.d, &b.d, t.f32Out ? &c32.d : &c16.d);
    ASSERT_EQ(lastError(), "");
    EXPECT_EQ(hooks().callCount("cuStreamSynchronize"), before + 1);
    // One rounding of the f64 sum: half an ulp of C's type (plus f32 noise).
    const double ulp = t.f32Out ? 1.2e-7 : t.bf16 ? 7.9e-3 : 9.8e-4;
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j)
        ASSERT_NEAR(cAt(i, j), expect[i * n + j], ulp * (1e-3 + std::abs(expect[i * n + j])))
            << "at " << i << "," << j;
    for (Memref2D *v : {&a.d, &b.d, &c16.d, &c32.d})
      mgpuMemFree(v->allocated, nullptr);
  }
  setEnv("KVCC_MOCK_CUBLAS_FAIL", "gemmex");
  HalfView a = makeHalfView(2, 3, 0, 0, false, rng), b = makeHalfView(4, 3, 0, 0, false, rng),
           c = makeHalfView(2, 4, 0, 0, false, rng);
  _mlir_ciface_kvcc_cuda_matmul_nt_f16(&a.d, &b.d, &c.d);
  EXPECT_EQ(lastError(), "kvcc_cuda_matmul_nt_f16: cublasGemmEx failed: CUBLAS_STATUS_EXECUTION_FAILED (M=2 N=4 K=3)");
  for (Memref2D *v : {&a.d, &b.d, &c.d})
    mgpuMemFree(v->allocated, nullptr);
}

TEST_F(CublasMockTest, RefusesMismatchedShapesAndLayouts) {
  std::mt19937 rng(1);
  View a = makeView(4, 8, 0, 0, rng), b = makeView(6, 7, 0, 0, rng), c = makeView(4, 6, 0, 0, rng);
  _mlir_ciface_kvcc_cuda_matmul_nt(&a.d, &b.d, &c.d);
  EXPECT_EQ(lastError(), "kvcc_cuda_matmul_nt: shapes do not match: A 4x8, B 6x7, C 4x6");

  mgpuResetForTesting();
  ASSERT_EQ(kvcc_cuda_init(0), 0);
  View b2 = makeView(6, 8, 0, 0, rng);
  b2.d.strides[1] = 2; // a column view: cuBLAS needs unit inner stride
  _mlir_ciface_kvcc_cuda_matmul_nt(&a.d, &b2.d, &c.d);
  EXPECT_EQ(lastError(), "kvcc_cuda_matmul_nt: an operand is not a row-major view cuBLAS can address");
}

TEST_F(CublasMockTest, RecordsCublasFailures) {
  std::mt19937 rng(2);
  View a = makeView(2, 3, 0, 0, rng), b = makeView(3, 4, 0, 0, rng), c = makeView(2, 4, 0, 0, rng);
  setEnv("KVCC_MOCK_CUBLAS_FAIL", "sgemm");
  _mlir_ciface_kvcc_cuda_matmul_nn(&a.d, &b.d, &c.d);
  EXPECT_EQ(lastError(), "kvcc_cuda_matmul_nn: cublasSgemm failed: CUBLAS_STATUS_EXECUTION_FAILED (M=2 N=4 K=3)");
}

TEST_F(CublasMockTest, SaysWhenThereIsNoCublas) {
  setEnv("KVCC_LIBCUBLAS", "/nonexistent/libcublas.so.13");
  std::mt19937 rng(3);
  View a = makeView(2, 3, 0, 0, rng), b = makeView(4, 3, 0, 0, rng), c = makeView(2, 4, 0, 0, rng);
  _mlir_ciface_kvcc_cuda_matmul_nt(&a.d, &b.d, &c.d);
  EXPECT_TRUE(contains(lastError(), "kvcc_cuda_matmul_nt: no cuBLAS (tried /nonexistent/libcublas.so.13; last: "))
      << lastError();
  EXPECT_TRUE(contains(lastError(), "set KVCC_LIBCUBLAS")) << lastError();
}

TEST_F(CublasMockTest, HalfPrecisionNeedsGemmEx) {
  // A cuBLAS without cublasGemmEx still serves f32 GEMMs; a 16-bit one is
  // refused with what is missing and nothing is written.
  setEnv("KVCC_LIBCUBLAS", KVCC_MOCK_CUBLAS_SGEMM_ONLY);
  std::mt19937 rng(5);
  View a = makeView(2, 3, 0, 0, rng), b = makeView(4, 3, 0, 0, rng), c = makeView(2, 4, 0, 0, rng);
  _mlir_ciface_kvcc_cuda_matmul_nt(&a.d, &b.d, &c.d);
  EXPECT_EQ(lastError(), "") << lastError();
  std::vector<float> before(c.d.aligned, c.d.aligned + 8);
  _mlir_ciface_kvcc_cuda_matmul_nt_f16(&a.d, &b.d, &c.d);
  EXPECT_EQ(lastError(), "kvcc_cuda_matmul_nt_f16: this cuBLAS lacks cublasGemmEx, which f16/bf16 models need");
  EXPECT_EQ(std::vector<float>(c.d.aligned, c.d.aligned + 8), before);
}

TEST_F(CublasMockTest, InAStepJoinsTheStepStreamWithoutWaiting) {
  std::mt19937 rng(4);
  View a = makeView(2, 3, 0, 0, rng), b = makeView(4, 3, 0, 0, rng), c = makeView(2, 4, 0, 0, rng);
  void *lib = dlopen(KVCC_MOCK_CUBLAS, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(lib, nullptr);
  auto lastStream = reinterpret_cast<void *(*)()>(dlsym(lib, "kvcc_mock_cublas_last_stream"));
  ASSERT_NE(lastStream, nullptr);
  _mlir_ciface_kvcc_cuda_matmul_nt(&a.d, &b.d, &c.d); // outside a step: its own stream, waited for
  void *own = lastStream();
  EXPECT_EQ(hooks().callCount("cuStreamSynchronize"), 1);
  void *step = kvcc_cuda_begin_step();
  ASSERT_NE(step, nullptr) << lastError();
  EXPECT_NE(own, step);
  auto workspace = reinterpret_cast<size_t (*)()>(dlsym(lib, "kvcc_mock_cublas_workspace_bytes"));
  ASSERT_NE(workspace, nullptr);
  _mlir_ciface_kvcc_cuda_matmul_nt(&a.d, &b.d, &c.d);
  EXPECT_EQ(lastStream(), step);
  // Moving the handle to the step's stream kept it in our workspace (which
  // cublasSetStream resets): a captured GEMM uses that fixed buffer.
  EXPECT_EQ(workspace(), size_t(32) << 20);
  EXPECT_EQ(hooks().callCount("cuStreamSynchronize"), 1);
  EXPECT_EQ(kvcc_cuda_end_step(), 0);
  _mlir_ciface_kvcc_cuda_matmul_nt(&a.d, &b.d, &c.d);
  EXPECT_EQ(lastStream(), own);
  EXPECT_EQ(hooks().callCount("cuStreamSynchronize"), 3);
  EXPECT_EQ(lastError(), "");
  EXPECT_EQ(workspace(), size_t(32) << 20);
  dlclose(lib);
  for (View *v : {&a, &b, &c})
    mgpuMemFree(v->d.allocated, nullptr);
}

} // namespace
