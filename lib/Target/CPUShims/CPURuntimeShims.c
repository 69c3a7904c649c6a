/*===- CPURuntimeShims.c - what model.so calls besides its own code -------===*
 *
 * Linked into every CPU model.so (with -lopenblas). MLIR-free C: the callees
 * of kvc-matmul-to-blas, taking MLIR strided memref descriptors: f32 GEMMs
 * straight to CBLAS, and the f16/bf16 GEMMs of a `kvcc compile --dtype=f16|bf16`
 * model (16-bit A and B, a C of their type or f32), accumulated in f32.
 *
 *===----------------------------------------------------------------------===*/
#include <cblas.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

typedef struct {
  float *allocated;
  float *aligned;
  int64_t offset;
  int64_t sizes[2];
  int64_t strides[2];
} kvcc_memref2d;

static float *base(const kvcc_memref2d *m) { return m->aligned + m->offset; }

/* C[M,N] = beta * C + A[M,K] * op(B), beta 0 or 1 (0: C is never read, it may
 * hold NaN): transB = 0: B is [K,N]; transB = 1: B is [N,K]. */
static void matmul(const kvcc_memref2d *a, const kvcc_memref2d *b,
                   const kvcc_memref2d *c, int transB, float beta) {
  int64_t M = a->sizes[0], K = a->sizes[1], N = c->sizes[1];
  if (M == 0 || N == 0)
    return;
  int unitInner = a->strides[1] == 1 && b->strides[1] == 1 && c->strides[1] == 1;
  if (unitInner && M == 1) {
    /* A decode step: a GEMV. sgemm would pack (copy) the whole weight matrix
     * on every call and double the memory traffic of a bandwidth-bound step. */
    if (transB)
      cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)N, (int)K, 1.0f, base(b),
                  (int)b->strides[0], base(a), 1, beta, base(c), 1);
    else
      cblas_sgemv(CblasRowMajor, CblasTrans, (int)K, (int)N, 1.0f, base(b),
                  (int)b->strides[0], base(a), 1, beta, base(c), 1);
    return;
  }
  if (unitInner) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                (int)M, (int)N, (int)K, 1.0f, base(a), (int)a->strides[0],
                base(b), (int)b->strides[0], beta, base(c), (int)c->strides[0]);
    return;
  }
  /* Non-unit inner strides do not occur in kvcc's models; stay correct anyway. */
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      float acc = 0.0f;
      for (int64_t k = 0; k < K; ++k) {
        float bv = transB ? base(b)[j * b->strides[0] + k * b->strides[1]]
                          : base(b)[k * b->strides[0] + j * b->strides[1]];
        acc += base(a)[i * a->strides[0] + k * a->strides[1]] * bv;
      }
      float *out = &base(c)[i * c->strides[0] + j * c->strides[1]];
      *out = beta == 0.0f ? acc : *out + acc;
    }
}

void _mlir_ciface_kvcc_matmul_nn(kvcc_memref2d *a, kvcc_memref2d *b,
                                 kvcc_memref2d *c) {
  matmul(a, b, c, 0, 1.0f);
}

void _mlir_ciface_kvcc_matmul_nt(kvcc_memref2d *a, kvcc_memref2d *b,
                                 kvcc_memref2d *c) {
  matmul(a, b, c, 1, 1.0f);
}

void _mlir_ciface_kvcc_matmul_nn_beta0(kvcc_memref2d *a, kvcc_memref2d *b,
                                       kvcc_memref2d *c) {
  matmul(a, b, c, 0, 0.0f);
}

void _mlir_ciface_kvcc_matmul_nt_beta0(kvcc_memref2d *a, kvcc_memref2d *b,
                                       kvcc_memref2d *c) {
  matmul(a, b, c, 1, 0.0f);
}

/*===----------------------------------------------------------------------===*
 * f16 and bf16 GEMMs
 *
 * CBLAS has no half-precision GEMM, so the 16-bit operands are widened to f32
 * where they are used:
 *  - one row of A (a decode step, M <= kDotRows): every output element is a
 *    dot product that widens the weights as it streams them, so each weight
 *    byte is read once, from memory, at half the bytes of an f32 model;
 *  - more rows (prefill): panels of B widened into a cache-sized f32 buffer,
 *    one sgemm per panel (the widening is O(N·K), the GEMM O(M·N·K)).
 * f16 widening uses F16C vectors when the CPU has it (checked at run time:
 * model.so is built for a portable CPU), scalar _Float16 conversions otherwise.
 *===----------------------------------------------------------------------===*/

typedef struct {
  uint16_t *allocated;
  uint16_t *aligned;
  int64_t offset;
  int64_t sizes[2];
  int64_t strides[2];
} kvcc_memref2d_h;

enum half_kind { KVCC_F16, KVCC_BF16 };

static const uint16_t *hbase(const kvcc_memref2d_h *m) { return m->aligned + m->offset; }

/* f16 through the compiler's _Float16 (F16C instructions or libgcc's
 * conversions; nearest even, as kvcc's WeightArena and the GPU's cvt.rn). */
static float f16_to_f32(uint16_t h) {
  _Float16 x;
  memcpy(&x, &h, sizeof x);
  return (float)x;
}

static uint16_t f32_to_f16(float f) {
  _Float16 x = (_Float16)f;
  uint16_t h;
  memcpy(&h, &x, sizeof h);
  return h;
}

static float bf16_to_f32(uint16_t h) {
  uint32_t bits = (uint32_t)h << 16;
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

/* bf16: nearest even, a nan kept quiet. */
static uint16_t f32_to_bf16(float f) {
  uint32_t x;
  memcpy(&x, &f, sizeof x);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u)
    return (uint16_t)((x >> 16) | 0x40u);
  return (uint16_t)((x + 0x7FFFu + ((x >> 16) & 1u)) >> 16);
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma,f16c"))) static void widen_f16_f16c(const uint16_t *src, float *dst,
                                                                     int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
  for (; i < n; ++i)
    dst[i] = f16_to_f32(src[i]);
}

__attribute__((target("avx2"))) static float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_hadd_ps(s, s);
  s = _mm_hadd_ps(s, s);
  return _mm_cvtss_f32(s);
}

/* How far ahead of its loads a dot product prefetches B, in elements (4 KiB).
 * A decode GEMV streams each weight row once, and the hardware prefetchers,
 * which do not cross 4 KiB pages, leave the two cores waiting on memory: on
 * the 2-core VM the f16 GEMVs of SmolLM2 ran at 15 GB/s without this and at
 * 22 GB/s (the read ceiling) with it. Past a row's end the prefetch reads the
 * next row, which the same thread streams next; prefetches never fault. */
enum { kDotPrefetchAhead = 2048 };

/* sum_k a[k] * b[k], b f16, 32 lanes of f32 accumulators in flight. */
__attribute__((target("avx2,fma,f16c"))) static float dot_f16_f16c(const float *a, const uint16_t *b,
                                                                   int64_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps(), acc2 = _mm256_setzero_ps(),
         acc3 = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + 32 <= n; k += 32) {
    _mm_prefetch((const char *)(b + k + kDotPrefetchAhead), _MM_HINT_T0);
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k),
                           _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(b + k))), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k + 8),
                           _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(b + k + 8))), acc1);
    acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k + 16),
                           _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(b + k + 16))), acc2);
    acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k + 24),
                           _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(b + k + 24))), acc3);
  }
  for (; k + 8 <= n; k += 8)
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k),
                           _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(b + k))), acc0);
  float total = hsum256(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
  for (; k < n; ++k)
    total += a[k] * f16_to_f32(b[k]);
  return total;
}

/* bf16 widens by a shift: the 16 bits become the top of an f32. */
__attribute__((target("avx2"))) static __m256 load_bf16x8(const uint16_t *b) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)b)), 16));
}

__attribute__((target("avx2,fma"))) static float dot_bf16_avx2(const float *a, const uint16_t *b,
                                                               int64_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps(), acc2 = _mm256_setzero_ps(),
         acc3 = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + 32 <= n; k += 32) {
    _mm_prefetch((const char *)(b + k + kDotPrefetchAhead), _MM_HINT_T0);
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), load_bf16x8(b + k), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k + 8), load_bf16x8(b + k + 8), acc1);
    acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k + 16), load_bf16x8(b + k + 16), acc2);
    acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k + 24), load_bf16x8(b + k + 24), acc3);
  }
  for (; k + 8 <= n; k += 8)
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), load_bf16x8(b + k), acc0);
  float total = hsum256(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
  for (; k < n; ++k)
    total += a[k] * bf16_to_f32(b[k]);
  return total;
}

static int has_f16c_avx2(void) {
#ifdef KVCC_SHIMS_PORTABLE
  /* The build of the shims that tests the portable loops on any host. */
  return 0;
#else
  static int cached = -1;
  if (cached < 0)
    cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
             __builtin_cpu_supports("f16c");
  return cached;
#endif
}
#else
static int has_f16c_avx2(void) { return 0; }
#endif

/* dst[i] = src[i * stride] widened, i < n. */
static void widen(const uint16_t *src, int64_t stride, float *dst, int64_t n, enum half_kind kind) {
#if defined(__x86_64__)
  if (stride == 1 && kind == KVCC_F16 && has_f16c_avx2()) {
    widen_f16_f16c(src, dst, n);
    return;
  }
#endif
  if (kind == KVCC_BF16)
    for (int64_t i = 0; i < n; ++i)
      dst[i] = bf16_to_f32(src[i * stride]);
  else
    for (int64_t i = 0; i < n; ++i)
      dst[i] = f16_to_f32(src[i * stride]);
}

static float dot_half(const float *a, const uint16_t *b, int64_t n, enum half_kind kind) {
#if defined(__x86_64__)
  if (has_f16c_avx2())
    return kind == KVCC_F16 ? dot_f16_f16c(a, b, n) : dot_bf16_avx2(a, b, n);
#endif
  float acc = 0.0f;
  for (int64_t k = 0; k < n; ++k)
    acc += a[k] * (kind == KVCC_F16 ? f16_to_f32(b[k]) : bf16_to_f32(b[k]));
  return acc;
}

/* Where C's elements go: a 16-bit C of `kind`, or an f32 C. */
typedef struct {
  void *base; /* first element */
  int64_t rowStride, colStride;
  int f32; /* 1: float elements */
  enum half_kind kind;
} c_target;

static float c_load(const c_target *c, int64_t i, int64_t j) {
  int64_t at = i * c->rowStride + j * c->colStride;
  if (c->f32)
    return ((const float *)c->base)[at];
  uint16_t h = ((const uint16_t *)c->base)[at];
  return c->kind == KVCC_F16 ? f16_to_f32(h) : bf16_to_f32(h);
}

static void c_store(const c_target *c, int64_t i, int64_t j, float v) {
  int64_t at = i * c->rowStride + j * c->colStride;
  if (c->f32)
    ((float *)c->base)[at] = v;
  else
    ((uint16_t *)c->base)[at] = c->kind == KVCC_F16 ? f32_to_f16(v) : f32_to_bf16(v);
}

/* Rows of A (M <= this) that take the streaming dot-product path. */
enum { kDotRows = 4 };

/* C[M,N] = beta * C + A[M,K] * op(B) for 16-bit A and B (kind), C as `c`;
 * every product accumulates in f32 and C is rounded once. */
static void matmul_half(const kvcc_memref2d_h *a, const kvcc_memref2d_h *b, const c_target *c, int64_t N,
                        int transB, float beta, enum half_kind kind) {
  const int64_t M = a->sizes[0], K = a->sizes[1];
  if (M == 0 || N == 0)
    return;
  const int64_t bRow = b->strides[0], bCol = b->strides[1];
  float *aw = malloc((size_t)(M * K > 0 ? M * K : 1) * sizeof(float));
  /* Panels of B: about 512 KiB of f32 (L2), a multiple of 16 columns. */
  int64_t nb = K > 0 ? (131072 / K) / 16 * 16 : N;
  if (nb < 16)
    nb = 16;
  if (nb > N)
    nb = N;
  const int dotPath = M <= kDotRows && transB && bCol == 1;
  float *bw = dotPath ? NULL : malloc((size_t)(nb * (K > 0 ? K : 1)) * sizeof(float));
  float *cw = dotPath ? NULL : malloc((size_t)(M * nb) * sizeof(float));
  if (!aw || (!dotPath && (!bw || !cw))) {
    /* No scratch: plain loops, same arithmetic. */
    free(aw), free(bw), free(cw);
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        float acc = 0.0f;
        for (int64_t k = 0; k < K; ++k) {
          uint16_t av = hbase(a)[i * a->strides[0] + k * a->strides[1]];
          uint16_t bv = transB ? hbase(b)[j * bRow + k * bCol] : hbase(b)[k * bRow + j * bCol];
          acc += (kind == KVCC_F16 ? f16_to_f32(av) * f16_to_f32(bv) : bf16_to_f32(av) * bf16_to_f32(bv));
        }
        c_store(c, i, j, beta == 0.0f ? acc : c_load(c, i, j) + acc);
      }
    return;
  }
  for (int64_t i = 0; i < M; ++i)
    widen(hbase(a) + i * a->strides[0], a->strides[1], aw + i * K, K, kind);

  if (dotPath) {
    /* Output columns split over the OpenMP threads model.so already runs its
     * attention on (libomp; GCC's GOMP_* calls resolve to its compatible
     * entry points): one weight row per column, so the threads stream
     * disjoint rows. Small GEMVs stay on one thread. */
#pragma omp parallel for schedule(static) if (N * K >= (1 << 16))
    for (int64_t j = 0; j < N; ++j) {
      const uint16_t *row = hbase(b) + j * bRow;
      for (int64_t i = 0; i < M; ++i) {
        float acc = dot_half(aw + i * K, row, K, kind);
        c_store(c, i, j, beta == 0.0f ? acc : c_load(c, i, j) + acc);
      }
    }
    free(aw);
    return;
  }
  for (int64_t j0 = 0; j0 < N; j0 += nb) {
    const int64_t w = N - j0 < nb ? N - j0 : nb;
    /* bw: the panel as [w, K] (row j of op(B)ᵀ is column j of op(B)). */
#pragma omp parallel for schedule(static) if (w * K >= (1 << 16))
    for (int64_t j = 0; j < w; ++j) {
      if (transB)
        widen(hbase(b) + (j0 + j) * bRow, bCol, bw + j * K, K, kind);
      else
        widen(hbase(b) + (j0 + j) * bCol, bRow, bw + j * K, K, kind);
    }
    if (beta != 0.0f)
      for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < w; ++j)
          cw[i * w + j] = c_load(c, i, j0 + j);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)w, (int)K, 1.0f, aw, (int)(K > 0 ? K : 1),
                bw, (int)(K > 0 ? K : 1), beta, cw, (int)w);
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < w; ++j)
        c_store(c, i, j0 + j, cw[i * w + j]);
  }
  free(aw), free(bw), free(cw);
}

static c_target half_c(const kvcc_memref2d_h *m, enum half_kind kind) {
  c_target t = {m->aligned + m->offset, m->strides[0], m->strides[1], 0, kind};
  return t;
}

static c_target f32_c(const kvcc_memref2d *m) {
  c_target t = {base(m), m->strides[0], m->strides[1], 1, KVCC_F16};
  return t;
}

/* The 16 callees: _nn/_nt, [_beta0], _f16/_bf16, [_out_f32]. */
#define KVCC_HALF_MATMUL(layout, transB, beta0, beta, tag, kind)                                          \
  void _mlir_ciface_kvcc_matmul_##layout##beta0##_##tag(kvcc_memref2d_h *a, kvcc_memref2d_h *b,          \
                                                        kvcc_memref2d_h *c) {                            \
    c_target t = half_c(c, kind);                                                                         \
    matmul_half(a, b, &t, c->sizes[1], transB, beta, kind);                                               \
  }                                                                                                       \
  void _mlir_ciface_kvcc_matmul_##layout##beta0##_##tag##_out_f32(kvcc_memref2d_h *a, kvcc_memref2d_h *b, \
                                                                  kvcc_memref2d *c) {                     \
    c_target t = f32_c(c);                                                                                \
    matmul_half(a, b, &t, c->sizes[1], transB, beta, kind);                                               \
  }

KVCC_HALF_MATMUL(nn, 0, , 1.0f, f16, KVCC_F16)
KVCC_HALF_MATMUL(nt, 1, , 1.0f, f16, KVCC_F16)
KVCC_HALF_MATMUL(nn, 0, _beta0, 0.0f, f16, KVCC_F16)
KVCC_HALF_MATMUL(nt, 1, _beta0, 0.0f, f16, KVCC_F16)
KVCC_HALF_MATMUL(nn, 0, , 1.0f, bf16, KVCC_BF16)
KVCC_HALF_MATMUL(nt, 1, , 1.0f, bf16, KVCC_BF16)
KVCC_HALF_MATMUL(nn, 0, _beta0, 0.0f, bf16, KVCC_BF16)
KVCC_HALF_MATMUL(nt, 1, _beta0, 0.0f, bf16, KVCC_BF16)
