//===- MockCublas.cpp - A cuBLAS double over host memory --------------------===//
//
// libmock_cublas.so exports the cuBLAS entry points CublasMatmul.cpp
// resolves. With the mock driver a device pointer is a host pointer, so
// cublasSgemm_v2 and cublasGemmEx compute the column-major product
// themselves (GemmEx: f16/bf16/f32 operands, in double, C rounded once): the
// test checks the runtime's row-major -> column-major mapping and its type
// codes numerically.
//
//   KVCC_MOCK_CUBLAS_FAIL=create|sgemm|gemmex   that call returns an error status
//
//===----------------------------------------------------------------------===//
#include "../HalfBits.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace {
bool failing(const char *call) {
  const char *env = std::getenv("KVCC_MOCK_CUBLAS_FAIL");
  return env && std::strcmp(env, call) == 0;
}
int gSgemmCalls = 0;
void *gStream = nullptr; // the handle's stream (cublasSetStream_v2)
void *gSgemmStream = nullptr; // the stream of the last sgemm
} // namespace

extern "C" {

__attribute__((visibility("default"))) int cublasCreate_v2(void **handle) {
  if (failing("create"))
    return 1; // CUBLAS_STATUS_NOT_INITIALIZED
  static int h;
  *handle = &h;
  return 0;
}

size_t gWorkspaceBytes = 0;

__attribute__((visibility("default"))) int cublasSetStream_v2(void *, void *stream) {
  gStream = stream;
  gWorkspaceBytes = 0; // as cuBLAS: back to its own workspace pool
  return 0;
}

__attribute__((visibility("default"))) int cublasSetWorkspace_v2(void *, void *workspace, size_t bytes) {
  if (!workspace || bytes == 0)
    return 7; // CUBLAS_STATUS_INVALID_VALUE
  gWorkspaceBytes = bytes;
  return 0;
}

/// Test hook: the bytes of the workspace the runtime gave the handle.
__attribute__((visibility("default"))) size_t kvcc_mock_cublas_workspace_bytes(void) { return gWorkspaceBytes; }

/// Test hook: the stream the last cublasSgemm_v2 was issued on.
__attribute__((visibility("default"))) void *kvcc_mock_cublas_last_stream(void) { return gSgemmStream; }

__attribute__((visibility("default"))) int cublasSgemm_v2(void *, int transa, int transb, int m, int n, int k,
                                                          const float *alpha, const float *a, int lda,
                                                          const float *b, int ldb, const float *beta, float *c,
                                                          int ldc) {
  ++gSgemmCalls;
  gSgemmStream = gStream;
  if (failing("sgemm"))
    return 13; // CUBLAS_STATUS_EXECUTION_FAILED
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i) {
      double acc = 0;
      for (int p = 0; p < k; ++p) {
        double x = transa ? a[p + i * lda] : a[i + p * lda];
        double y = transb ? b[j + p * ldb] : b[p + j * ldb];
        acc += x * y;
      }
      // beta = 0: C is not read (BLAS semantics; it may hold NaN).
      double old = *beta == 0.0f ? 0.0 : *beta * c[i + j * ldc];
      c[i + j * ldc] = float(*alpha * acc + old);
    }
  return 0;
}

__attribute__((visibility("default"))) int kvcc_mock_cublas_sgemm_calls(void) { return gSgemmCalls; }
}

namespace {
// cudaDataType codes (library_types.h): 0 f32, 2 f16, 14 bf16.
double loadElement(const void *p, int type, int64_t i) {
  if (type == 0)
    return static_cast<const float *>(p)[i];
  return halfbits::decode(static_cast<const uint16_t *>(p)[i], type == 14);
}

void storeElement(void *p, int type, int64_t i, double v) {
  if (type == 0)
    static_cast<float *>(p)[i] = float(v);
  else
    static_cast<uint16_t *>(p)[i] = halfbits::encode(v, type == 14);
}
int gGemmExCalls = 0;
} // namespace

extern "C" {
#ifndef KVCC_MOCK_CUBLAS_NO_GEMMEX
/// cublasGemmEx with f32 compute (68) and the default algorithm (-1); A and B
/// of one type, C of it or f32, as the runtime calls it. Left out of
/// libmock_cublas_sgemm_only.so, a cuBLAS the 16-bit GEMMs must refuse.
__attribute__((visibility("default"))) int cublasGemmEx(void *, int transa, int transb, int m, int n, int k,
                                                        const void *alpha, const void *a, int aType, int lda,
                                                        const void *b, int bType, int ldb, const void *beta, void *c,
                                                        int cType, int ldc, int computeType, int algo) {
  ++gGemmExCalls;
  gSgemmStream = gStream;
  if (failing("gemmex"))
    return 13;
  auto known = [](int t) { return t == 0 || t == 2 || t == 14; };
  if (!known(aType) || aType != bType || !(cType == aType || cType == 0) || computeType != 68 || algo != -1)
    return 15; // CUBLAS_STATUS_NOT_SUPPORTED
  const float al = *static_cast<const float *>(alpha), be = *static_cast<const float *>(beta);
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i) {
      double acc = 0;
      for (int p = 0; p < k; ++p)
        acc += loadElement(a, aType, transa ? p + int64_t(i) * lda : i + int64_t(p) * lda) *
               loadElement(b, bType, transb ? j + int64_t(p) * ldb : p + int64_t(j) * ldb);
      int64_t at = i + int64_t(j) * ldc;
      double old = be == 0.0f ? 0.0 : be * loadElement(c, cType, at);
      storeElement(c, cType, at, al * acc + old);
    }
  return 0;
}
#endif

__attribute__((visibility("default"))) int kvcc_mock_cublas_gemmex_calls(void) { return gGemmExCalls; }
}
