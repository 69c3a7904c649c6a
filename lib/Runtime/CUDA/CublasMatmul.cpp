//===- CublasMatmul.cpp - The GEMMs of a CUDA model.so over cuBLAS ---------===//
//
// kvc-matmul-to-blas{callee-prefix=kvcc_cuda_matmul} turns the projections of
// a model (QKV, O, MLP, LM head) into calls of
//
//   _mlir_ciface_kvcc_cuda_matmul_nt(A, B, C)    C[M,N] += A[M,K] · B[N,K]ᵀ
//   _mlir_ciface_kvcc_cuda_matmul_nn(A, B, C)    C[M,N] += A[M,K] · B[K,N]
//   ..._nt_beta0 / ..._nn_beta0                   C[M,N]  = the same product
//                                                 (C is never read)
//   ..._f16 / _bf16                               16-bit A, B and C
//   ..._f16_out_f32 / _bf16_out_f32               16-bit A and B, f32 C
//
// on device buffers (strided 2-D memref descriptors, unit inner stride).
// f32 GEMMs are cublasSgemm; the 16-bit ones cublasGemmEx with f32
// accumulation (CUBLAS_COMPUTE_32F: tensor cores, one rounding of C).
// Inside a captured step (kvcc_cuda_begin_capture) a GEMM becomes graph nodes
// like any launch; its workspace is the handle's own fixed buffer.
// cuBLAS is column-major: the row-major C is the column-major Cᵀ with the
// same leading dimension, so Cᵀ += op(B)·Aᵀ is one Sgemm with B first.
//
// libcublas is opened with dlopen like the driver ($KVCC_LIBCUBLAS, else
// libcublas.so.13/.12 on the loader's path, then $CUDA_HOME/lib64,
// /usr/local/cuda/lib64 and the PyPI copy scripts/fetch-cuda-tools.sh --cublas
// makes), so the runtime still builds and loads without the toolkit.
// Failures are recorded in the mgpu error state (MgpuABI.h): the executor
// sees them in kvcc_cuda_last_error() after the step.
//
// Ordering: inside a step (kvcc_cuda_begin_step) a GEMM is queued on the
// step's stream, behind the launches before it and before those after it.
// Outside one, the host code gpu-to-llvm emits synchronizes after every
// launch and copy, so the device is idle when a GEMM is called; the GEMM runs
// on the runtime's own stream and is waited for before returning.
//
//===----------------------------------------------------------------------===//
#include "kvcc/Runtime/CUDA/MgpuABI.h"
#include "kvcc/Support/CacheDir.h"

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <dlfcn.h>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

using namespace kvcc;
using namespace kvcc::cuda;

namespace {

// cublas_api.h values.
using CublasStatus = int;
using CublasHandle = struct CublasContext *;
enum : int { kOpN = 0, kOpT = 1 };
// library_types.h / cublas_api.h values.
enum : int { kCudaR32F = 0, kCudaR16F = 2, kCudaR16BF = 14 };
constexpr int kComputeF32 = 68;  // CUBLAS_COMPUTE_32F
constexpr int kGemmDefault = -1; // CUBLAS_GEMM_DEFAULT
constexpr size_t kCublasWorkspaceBytes = size_t(32) << 20;

const char *statusName(CublasStatus s) {
  switch (s) {
  case 0: return "CUBLAS_STATUS_SUCCESS";
  case 1: return "CUBLAS_STATUS_NOT_INITIALIZED";
  case 3: return "CUBLAS_STATUS_ALLOC_FAILED";
  case 7: return "CUBLAS_STATUS_INVALID_VALUE";
  case 8: return "CUBLAS_STATUS_ARCH_MISMATCH";
  case 11: return "CUBLAS_STATUS_MAPPING_ERROR";
  case 13: return "CUBLAS_STATUS_EXECUTION_FAILED";
  case 14: return "CUBLAS_STATUS_INTERNAL_ERROR";
  case 15: return "CUBLAS_STATUS_NOT_SUPPORTED";
  case 16: return "CUBLAS_STATUS_LICENSE_ERROR";
  default: return "CUBLAS_STATUS_UNKNOWN";
  }
}

struct Cublas {
  CublasStatus (*create)(CublasHandle *) = nullptr;  // cublasCreate_v2
  CublasStatus (*setStream)(CublasHandle, CUstream) = nullptr; // cublasSetStream_v2
  // Optional (cuBLAS >= 11): a workspace of our own, so a captured GEMM
  // (kvcc_cuda_begin_capture) uses one fixed buffer rather than one cuBLAS
  // allocates per graph.
  CublasStatus (*setWorkspace)(CublasHandle, void *, size_t) = nullptr; // cublasSetWorkspace_v2
  CublasStatus (*sgemm)(CublasHandle, int transa, int transb, int m, int n, int k, const float *alpha,
                        const float *a, int lda, const float *b, int ldb, const float *beta, float *c,
                        int ldc) = nullptr; // cublasSgemm_v2
  // Optional: only f16/bf16 models need it (every cuBLAS since 8.0 has it).
  CublasStatus (*gemmEx)(CublasHandle, int transa, int transb, int m, int n, int k, const void *alpha,
                         const void *a, int aType, int lda, const void *b, int bType, int ldb,
                         const void *beta, void *c, int cType, int ldc, int computeType,
                         int algo) = nullptr; // cublasGemmEx
  // Made on the device `owner` (the mgpu device).
  CudaDevice *owner = nullptr;
  CublasHandle handle = nullptr;
  CUstream stream = nullptr; // its own, for calls outside a step
  CUstream bound = nullptr;  // the stream the handle is set to
  CUdeviceptr workspace = 0; // ours, when setWorkspace exists
};

/// Points the handle at `stream`, and at our workspace again: cublasSetStream
/// resets the workspace to cuBLAS's own pool. False with the failure recorded.
bool bindStream(const char *who, Cublas &c, CUstream stream) {
  if (CublasStatus s = c.setStream(c.handle, stream); s != 0) {
    mgpuRecordFailure(std::string(who) + ": cublasSetStream failed: " + statusName(s));
    return false;
  }
  if (c.workspace) {
    if (CublasStatus s = c.setWorkspace(c.handle, reinterpret_cast<void *>(static_cast<uintptr_t>(c.workspace)),
                                        kCublasWorkspaceBytes);
        s != 0) {
      mgpuRecordFailure(std::string(who) + ": cublasSetWorkspace failed: " + statusName(s));
      return false;
    }
  }
  c.bound = stream;
  return true;
}

std::vector<std::string> candidatePaths() {
  if (const char *env = std::getenv("KVCC_LIBCUBLAS"); env && *env)
    return {env};
  std::vector<std::string> paths = {"libcublas.so.13", "libcublas.so.12", "libcublas.so"};
  for (const char *var : {"CUDA_HOME", "CUDA_PATH"})
    if (const char *root = std::getenv(var); root && *root)
      for (const char *v : {"13", "12"})
        paths.push_back(std::string(root) + "/lib64/libcublas.so." + v);
  for (const char *v : {"13", "12"})
    paths.push_back(std::string("/usr/local/cuda/lib64/libcublas.so.") + v);
  // Last, what scripts/fetch-cuda-tools.sh --cublas unpacks from PyPI on a
  // machine with a driver but no toolkit.
  if (std::string fetched = kvcc::fetchedCudaToolkit(); !fetched.empty())
    paths.push_back(fetched + "/lib64/libcublas.so.13");
  return paths;
}

/// The library: dlopen'ed once per $KVCC_LIBCUBLAS value and never closed
/// (handles from it live as long as the process); null with the failure
/// recorded.
Cublas *loadCublas(const char *who) {
  static std::map<std::string, Cublas *> loaded;
  const char *env = std::getenv("KVCC_LIBCUBLAS");
  std::string key = env ? env : "";
  if (auto it = loaded.find(key); it != loaded.end())
    return it->second;
  void *lib = nullptr;
  std::string tried, why;
  for (const std::string &path : candidatePaths()) {
    lib = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib)
      break;
    tried += (tried.empty() ? "" : ", ") + path;
    const char *e = ::dlerror();
    why = e ? e : "unknown dlopen error";
  }
  if (!lib) {
    mgpuRecordFailure(std::string(who) + ": no cuBLAS (tried " + tried + "; last: " + why +
                      "); set KVCC_LIBCUBLAS to the path of libcublas.so, or run "
                      "scripts/fetch-cuda-tools.sh --cublas");
    return nullptr;
  }
  auto c = std::make_unique<Cublas>();
  auto resolve = [&](auto &fn, const char *name) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(::dlsym(lib, name));
    if (!fn)
      mgpuRecordFailure(std::string(who) + ": cuBLAS lacks " + name);
    return fn != nullptr;
  };
  if (!resolve(c->create, "cublasCreate_v2") || !resolve(c->setStream, "cublasSetStream_v2") ||
      !resolve(c->sgemm, "cublasSgemm_v2"))
    return nullptr;
  c->setWorkspace = reinterpret_cast<decltype(c->setWorkspace)>(::dlsym(lib, "cublasSetWorkspace_v2"));
  c->gemmEx = reinterpret_cast<decltype(c->gemmEx)>(::dlsym(lib, "cublasGemmEx"));
  return loaded[key] = c.release();
}

/// cuBLAS with a handle and a stream on `dev` (made on first use, and again
/// when the mgpu device changed); null with the failure recorded.
Cublas *cublas(const char *who, CudaDevice &dev) {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  Cublas *c = loadCublas(who);
  if (!c || c->owner == &dev)
    return c;
  CudaDriver &drv = dev.driver();
  if (Status s = drv.check(drv.cuStreamCreate(&c->stream, CU_STREAM_NON_BLOCKING), "cuStreamCreate"); !s) {
    mgpuRecordFailure(std::string(who) + ": " + s.message());
    return nullptr;
  }
  if (CublasStatus s = c->create(&c->handle); s != 0) {
    mgpuRecordFailure(std::string(who) + ": cublasCreate failed: " + statusName(s));
    return nullptr;
  }
  if (c->setWorkspace) {
    // 32 MiB: what NVIDIA recommends for Hopper (4 MiB before it). Kept for
    // the life of the handle, which is the process's.
    if (Status s = drv.check(drv.cuMemAlloc(&c->workspace, kCublasWorkspaceBytes), "cuMemAlloc"); !s) {
      mgpuRecordFailure(std::string(who) + ": the cuBLAS workspace: " + s.message());
      return nullptr;
    }
  }
  c->owner = &dev;
  if (!bindStream(who, *c, c->stream))
    return nullptr;
  return c;
}

struct Memref2D {
  void *allocated, *aligned;
  int64_t offset, sizes[2], strides[2];
};

/// The operands' element types: A and B share one, C has it or f32.
struct GemmTypes {
  int ab = kCudaR32F, c = kCudaR32F;
  static int64_t bytes(int type) { return type == kCudaR32F ? 4 : 2; }
};

/// The first element of a view of `type` elements.
void *firstElement(const Memref2D &m, int type) {
  return static_cast<char *>(m.aligned) + m.offset * GemmTypes::bytes(type);
}

/// The leading dimension of a row-major [rows, cols] view, or -1 when cuBLAS
/// cannot address it (non-unit inner stride, overlapping rows, > INT_MAX).
int64_t leadingDim(const Memref2D &m) {
  if (m.sizes[1] > 1 && m.strides[1] != 1)
    return -1;
  int64_t ld = m.sizes[0] <= 1 ? std::max<int64_t>(m.sizes[1], 1) : m.strides[0];
  if (ld < std::max<int64_t>(m.sizes[1], 1) || ld > INT_MAX)
    return -1;
  return ld;
}

void matmul(const char *who, bool transposedB, bool overwrite, GemmTypes types, const Memref2D *a,
            const Memref2D *b, Memref2D *c) {
  CudaDevice *dev = mgpuDeviceForCall(who);
  if (!dev)
    return;
  const int64_t m = a->sizes[0], k = a->sizes[1], n = c->sizes[1];
  const int64_t bRows = transposedB ? n : k, bCols = transposedB ? k : n;
  if (c->sizes[0] != m || b->sizes[0] != bRows || b->sizes[1] != bCols) {
    mgpuRecordFailure(std::string(who) + ": shapes do not match: A " + std::to_string(m) + "x" +
                      std::to_string(k) + ", B " + std::to_string(b->sizes[0]) + "x" +
                      std::to_string(b->sizes[1]) + ", C " + std::to_string(c->sizes[0]) + "x" +
                      std::to_string(n));
    return;
  }
  const int64_t lda = leadingDim(*a), ldb = leadingDim(*b), ldc = leadingDim(*c);
  if (lda < 0 || ldb < 0 || ldc < 0 || m > INT_MAX || n > INT_MAX || k > INT_MAX) {
    mgpuRecordFailure(std::string(who) + ": an operand is not a row-major view cuBLAS can address");
    return;
  }
  if (m == 0 || n == 0 || (k == 0 && !overwrite))
    return; // C += nothing (with k == 0 and beta = 0, Sgemm zeroes C)
  Cublas *cb = cublas(who, *dev);
  if (!cb)
    return;
  // In an open step the GEMM joins the step's stream and nobody waits for it
  // here; outside one it runs on cuBLAS's own stream and is waited for.
  CUstream step = static_cast<CUstream>(mgpuOpenStepStream());
  CUstream target = step ? step : cb->stream;
  if (cb->bound != target && !bindStream(who, *cb, target))
    return;
  const bool sgemm = types.ab == kCudaR32F;
  if (!sgemm && !cb->gemmEx) {
    mgpuRecordFailure(std::string(who) + ": this cuBLAS lacks cublasGemmEx, which f16/bf16 models need");
    return;
  }
  // alpha and beta are floats for both: f32 is the compute type of GemmEx.
  const float one = 1.0f, beta = overwrite ? 0.0f : 1.0f;
  const int opB = transposedB ? kOpT : kOpN;
  void *bData = firstElement(*b, types.ab), *aData = firstElement(*a, types.ab), *cData = firstElement(*c, types.c);
  CublasStatus s =
      sgemm ? cb->sgemm(cb->handle, opB, kOpN, int(n), int(m), int(k), &one, static_cast<const float *>(bData),
                        int(ldb), static_cast<const float *>(aData), int(lda), &beta, static_cast<float *>(cData),
                        int(ldc))
            : cb->gemmEx(cb->handle, opB, kOpN, int(n), int(m), int(k), &one, bData, types.ab, int(ldb), aData,
                         types.ab, int(lda), &beta, cData, types.c, int(ldc), kComputeF32, kGemmDefault);
  if (s != 0) {
    mgpuRecordFailure(std::string(who) + (sgemm ? ": cublasSgemm failed: " : ": cublasGemmEx failed: ") +
                      statusName(s) + " (M=" + std::to_string(m) + " N=" + std::to_string(n) +
                      " K=" + std::to_string(k) + ")");
    return;
  }
  if (step)
    return;
  CudaDriver &drv = dev->driver();
  if (Status st = drv.check(drv.cuStreamSynchronize(cb->stream), "cuStreamSynchronize"); !st)
    mgpuRecordFailure(std::string(who) + ": " + st.message());
}

} // namespace

// The 20 entry points: _nn/_nt, [_beta0], and the type tag of
// kvc-matmul-to-blas (none, _f16, _bf16, _f16_out_f32, _bf16_out_f32).
#define KVCC_CUDA_MATMUL(name, transposedB, overwrite, ab, c)                                                     \
  extern "C" KVCC_CUDA_EXPORT void _mlir_ciface_kvcc_cuda_matmul_##name(Memref2D *a, Memref2D *b, Memref2D *out) { \
    matmul("kvcc_cuda_matmul_" #name, transposedB, overwrite, GemmTypes{ab, c}, a, b, out);                       \
  }
#define KVCC_CUDA_MATMUL_TYPES(layout, transposedB)                                                               \
  KVCC_CUDA_MATMUL(layout, transposedB, false, kCudaR32F, kCudaR32F)                                              \
  KVCC_CUDA_MATMUL(layout##_beta0, transposedB, true, kCudaR32F, kCudaR32F)                                       \
  KVCC_CUDA_MATMUL(layout##_f16, transposedB, false, kCudaR16F, kCudaR16F)                                        \
  KVCC_CUDA_MATMUL(layout##_beta0_f16, transposedB, true, kCudaR16F, kCudaR16F)                                   \
  KVCC_CUDA_MATMUL(layout##_bf16, transposedB, false, kCudaR16BF, kCudaR16BF)                                     \
  KVCC_CUDA_MATMUL(layout##_beta0_bf16, transposedB, true, kCudaR16BF, kCudaR16BF)                                \
  KVCC_CUDA_MATMUL(layout##_f16_out_f32, transposedB, false, kCudaR16F, kCudaR32F)                                \
  KVCC_CUDA_MATMUL(layout##_beta0_f16_out_f32, transposedB, true, kCudaR16F, kCudaR32F)                           \
  KVCC_CUDA_MATMUL(layout##_bf16_out_f32, transposedB, false, kCudaR16BF, kCudaR32F)                              \
  KVCC_CUDA_MATMUL(layout##_beta0_bf16_out_f32, transposedB, true, kCudaR16BF, kCudaR32F)

KVCC_CUDA_MATMUL_TYPES(nt, true)
KVCC_CUDA_MATMUL_TYPES(nn, false)
