/*===- CPURuntimeShims.c - what model.so calls besides its own code -------===*
 *
 * Linked into every CPU model.so (with -lopenblas). MLIR-free C: the callees
 * of kvc-matmul-to-blas, taking MLIR strided memref descriptors: f32 GEMMs
 * (decode rows as prefetching dot products, more rows through CBLAS), and the
 * f16/bf16 GEMMs of a `kvcc compile --dtype=f16|bf16` model (16-bit A and B,
 * a C of their type or f32), accumulated in f32. All of them run on the
 * OpenMP threads model.so runs its attention on.
 *
 *===----------------------------------------------------------------------===*/
#include <cblas.h>
#include <omp.h>
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

/* Rows of A (M <= this) that take the streaming dot-product path: a decode
 * step of up to this many sequences reads each weight once, from memory. */
enum { kDotRows = 8 };

static float dot_f32(const float *a, const float *b, int64_t n);

/* Every GEMM of a step runs on the OpenMP threads that run the attention, one
 * OpenBLAS call per thread on its share of the columns. OpenBLAS's own
 * threads would double the threads on the cores: its idle workers spin in
 * sched_yield while OpenMP works (a fifth of a SmolLM2 f16 prefill's cycles),
 * and OpenMP's workers had to sleep at once (KMP_BLOCKTIME=0) to leave it the
 * cores, paying a wake-up per parallel loop. */
static void blas_on_caller_thread(void) {
  static int done;
  if (!done) {
    openblas_set_num_threads(1);
    done = 1;
  }
}

/* Columns [*n0, *n1) of N for OpenMP thread t of T: shares in multiples of
 * 16 columns (whole vectors for sgemm's kernels). */
static void thread_columns(int64_t N, int t, int T, int64_t *n0, int64_t *n1) {
  int64_t per = ((N + T - 1) / T + 15) / 16 * 16;
  *n0 = t * per < N ? t * per : N;
  *n1 = *n0 + per < N ? *n0 + per : N;
}

/* C = beta * C + A * op(B), unit inner strides, its columns over the threads. */
static void sgemm_parallel(int transB, int64_t M, int64_t N, int64_t K, const float *a, int64_t lda,
                           const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
  blas_on_caller_thread();
#pragma omp parallel if (M * N * K >= (1 << 20))
  {
    int64_t n0, n1;
    thread_columns(N, omp_get_thread_num(), omp_get_num_threads(), &n0, &n1);
    if (n0 < n1)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, transB ? CblasTrans : CblasNoTrans, (int)M, (int)(n1 - n0),
                  (int)K, 1.0f, a, (int)lda, transB ? b + n0 * ldb : b + n0, (int)ldb, beta, c + n0, (int)ldc);
  }
}

/*===----------------------------------------------------------------------===*
 * f16 and bf16 GEMMs
 *
 * CBLAS has no half-precision GEMM, so the 16-bit operands are widened to f32
 * where they are used:
 *  - one row of A (a decode step, M <= kDotRows): every output element is a
 *    dot product that widens the weights as it streams them, so each weight
 *    byte is read once, from memory, at half the bytes of an f32 model;
 *  - more rows (prefill): panels of B widened into a cache-sized f32 buffer
 *    of the thread's own, one single-threaded sgemm per panel (the widening
 *    is O(N·K), the GEMM O(M·N·K)).
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

/* dst[i] = src[i] rounded to f16 (nearest even), i < n. The shims are built
 * for a portable CPU, where a scalar (_Float16) cast is a libgcc call that
 * also raises the FP exception flags: 13 % of a SmolLM2 f16 prefill went to
 * it when every GEMM output took that path. */
__attribute__((target("avx2,f16c"))) static void narrow_f16_f16c(const float *src, uint16_t *dst,
                                                                 int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128((__m128i *)(dst + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  for (; i < n; ++i)
    dst[i] = f32_to_f16(src[i]);
}

__attribute__((target("avx2"))) static float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_hadd_ps(s, s);
  s = _mm_hadd_ps(s, s);
  return _mm_cvtss_f32(s);
}

/* How far ahead of its loads a dot product prefetches B.
 * A decode GEMV streams each weight row once, and the hardware prefetchers,
 * which do not cross 4 KiB pages, leave the two cores waiting on memory: on
 * the 2-core VM the f16 GEMVs of SmolLM2 ran at 15 GB/s without this and at
 * 22 GB/s (the read ceiling) with it. Past a row's end the prefetch reads the
 * next row, which the same thread streams next; prefetches never fault. */
enum { kDotPrefetchBytes = 4096 };

/* Eight elements of B as f32: f16 by F16C, bf16 by a shift (its 16 bits are
 * the top of an f32), f32 as they are. */
__attribute__((target("avx2,f16c"))) static inline __m256 load8_f16(const uint16_t *b) {
  return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b));
}
__attribute__((target("avx2"))) static inline __m256 load8_bf16(const uint16_t *b) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)b)), 16));
}
__attribute__((target("avx2"))) static inline __m256 load8_f32(const float *b) { return _mm256_loadu_ps(b); }
static inline float widen1_f32(float x) { return x; }

/* float name(a, b, n) = sum_k a[k] * b[k], a f32, b of `elem`: 32 lanes of f32
 * accumulators in flight, one prefetch per 64-byte line of B. */
#define KVCC_DOT_PRODUCT(name, target_features, elem, load8, widen1)                                      \
  __attribute__((target(target_features))) static float name(const float *a, const elem *b, int64_t n) {  \
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps(), acc2 = _mm256_setzero_ps(),            \
           acc3 = _mm256_setzero_ps();                                                                    \
    int64_t k = 0;                                                                                        \
    for (; k + 32 <= n; k += 32) {                                                                        \
      for (size_t line = 0; line < 32 * sizeof(elem); line += 64)                                         \
        _mm_prefetch((const char *)(b + k) + line + kDotPrefetchBytes, _MM_HINT_T0);                      \
      acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), load8(b + k), acc0);                                 \
      acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k + 8), load8(b + k + 8), acc1);                         \
      acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k + 16), load8(b + k + 16), acc2);                       \
      acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k + 24), load8(b + k + 24), acc3);                       \
    }                                                                                                     \
    for (; k + 8 <= n; k += 8)                                                                            \
      acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), load8(b + k), acc0);                                 \
    float total = hsum256(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));           \
    for (; k < n; ++k)                                                                                    \
      total += a[k] * widen1(b[k]);                                                                       \
    return total;                                                                                         \
  }

KVCC_DOT_PRODUCT(dot_f16_f16c, "avx2,fma,f16c", uint16_t, load8_f16, f16_to_f32)
KVCC_DOT_PRODUCT(dot_bf16_avx2, "avx2,fma", uint16_t, load8_bf16, bf16_to_f32)
KVCC_DOT_PRODUCT(dot_f32_avx2, "avx2,fma", float, load8_f32, widen1_f32)

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

#if defined(__x86_64__)
/* name(a, lda, M, b0, b1, K, out0, out1): out0[i] = A[i]·b0, out1[i] = A[i]·b1
 * for the M <= kDotRows rows of A (f32), b0 and b1 two weight rows of `elem`.
 * Per-pair dot products load an A chunk and a B chunk for every FMA, so an
 * 8-row decode step was bound by loads. Here each 8-element chunk of the two
 * weight rows is loaded (and widened) once per four rows of A, and each A
 * chunk serves both weight rows: 0.75 loads a FMA, 8 accumulators in flight.
 * Rows 5-8 of A take a second pass over the two weight rows, in L1 by then.
 * A short group repeats its last row: four accumulators a weight row always. */
#define KVCC_DOT_2_ROWS(name, target_features, elem, load8, widen1)                                        \
  __attribute__((target(target_features))) static void name(const float *a, int64_t lda, int64_t M,        \
                                                            const elem *b0, const elem *b1, int64_t K,     \
                                                            float *out0, float *out1) {                    \
    for (int64_t i0 = 0; i0 < M; i0 += 4) {                                                                \
      const int64_t rows = M - i0 < 4 ? M - i0 : 4;                                                        \
      const float *xs[4];                                                                                  \
      for (int64_t r = 0; r < 4; ++r)                                                                      \
        xs[r] = a + (i0 + (r < rows ? r : rows - 1)) * lda;                                                \
      __m256 s00 = _mm256_setzero_ps(), s01 = s00, s02 = s00, s03 = s00;                                   \
      __m256 s10 = s00, s11 = s00, s12 = s00, s13 = s00;                                                   \
      int64_t k = 0;                                                                                       \
      for (; k + 8 <= K; k += 8) {                                                                         \
        if (i0 == 0 && (k * (int64_t)sizeof(elem)) % 64 == 0) { /* one prefetch per 64-byte line */      \
          _mm_prefetch((const char *)(b0 + k) + kDotPrefetchBytes, _MM_HINT_T0);                           \
          _mm_prefetch((const char *)(b1 + k) + kDotPrefetchBytes, _MM_HINT_T0);                           \
        }                                                                                                  \
        const __m256 w0 = load8(b0 + k), w1 = load8(b1 + k);                                               \
        __m256 x = _mm256_loadu_ps(xs[0] + k);                                                             \
        s00 = _mm256_fmadd_ps(x, w0, s00);                                                                 \
        s10 = _mm256_fmadd_ps(x, w1, s10);                                                                 \
        x = _mm256_loadu_ps(xs[1] + k);                                                                    \
        s01 = _mm256_fmadd_ps(x, w0, s01);                                                                 \
        s11 = _mm256_fmadd_ps(x, w1, s11);                                                                 \
        x = _mm256_loadu_ps(xs[2] + k);                                                                    \
        s02 = _mm256_fmadd_ps(x, w0, s02);                                                                 \
        s12 = _mm256_fmadd_ps(x, w1, s12);                                                                 \
        x = _mm256_loadu_ps(xs[3] + k);                                                                    \
        s03 = _mm256_fmadd_ps(x, w0, s03);                                                                 \
        s13 = _mm256_fmadd_ps(x, w1, s13);                                                                 \
      }                                                                                                    \
      float r0[4] = {hsum256(s00), hsum256(s01), hsum256(s02), hsum256(s03)};                              \
      float r1[4] = {hsum256(s10), hsum256(s11), hsum256(s12), hsum256(s13)};                              \
      for (int64_t r = 0; r < rows; ++r) {                                                                 \
        for (int64_t t = k; t < K; ++t) {                                                                  \
          r0[r] += xs[r][t] * widen1(b0[t]);                                                               \
          r1[r] += xs[r][t] * widen1(b1[t]);                                                               \
        }                                                                                                  \
        out0[i0 + r] = r0[r];                                                                              \
        out1[i0 + r] = r1[r];                                                                              \
      }                                                                                                    \
    }                                                                                                      \
  }

KVCC_DOT_2_ROWS(dot_2_rows_f32, "avx2,fma", float, load8_f32, widen1_f32)
KVCC_DOT_2_ROWS(dot_2_rows_f16, "avx2,fma,f16c", uint16_t, load8_f16, f16_to_f32)
KVCC_DOT_2_ROWS(dot_2_rows_bf16, "avx2,fma", uint16_t, load8_bf16, bf16_to_f32)
#endif

static float dot_f32(const float *a, const float *b, int64_t n) {
#if defined(__x86_64__)
  if (has_f16c_avx2())
    return dot_f32_avx2(a, b, n);
#endif
  float acc = 0.0f;
  for (int64_t k = 0; k < n; ++k)
    acc += a[k] * b[k];
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

/* C[i, j0 .. j0 + n) = src[0 .. n). */
static void c_store_row(const c_target *c, int64_t i, int64_t j0, const float *src, int64_t n) {
#if defined(__x86_64__)
  if (!c->f32 && c->kind == KVCC_F16 && c->colStride == 1 && has_f16c_avx2()) {
    narrow_f16_f16c(src, (uint16_t *)c->base + i * c->rowStride + j0, n);
    return;
  }
#endif
  for (int64_t j = 0; j < n; ++j)
    c_store(c, i, j0 + j, src[j]);
}

/* C[i, j] = beta * C + A[i]·B[j] for 1 < M <= kDotRows, A f32 and the weight
 * rows B[j] f32 (bF32) or 16-bit of `kind`: the weight rows in pairs through
 * dot_2_rows_*, the pairs over the OpenMP threads. 0 when the CPU lacks
 * AVX2/FMA (the caller then runs one dot product an element). */
static int dot_row_pairs(const float *a, int64_t lda, int64_t M, const void *b, int bF32, enum half_kind kind,
                         int64_t ldb, int64_t N, int64_t K, const c_target *c, float beta) {
#if defined(__x86_64__)
  if (!has_f16c_avx2())
    return 0;
  const int64_t pairs = (N + 1) / 2;
#pragma omp parallel for schedule(static) if (N * K >= (1 << 16))
  for (int64_t p = 0; p < pairs; ++p) {
    const int64_t j = 2 * p, j1 = j + 1 < N ? j + 1 : j; /* an odd N's last row pairs with itself */
    float out0[kDotRows], out1[kDotRows];
    if (bF32)
      dot_2_rows_f32(a, lda, M, (const float *)b + j * ldb, (const float *)b + j1 * ldb, K, out0, out1);
    else if (kind == KVCC_F16)
      dot_2_rows_f16(a, lda, M, (const uint16_t *)b + j * ldb, (const uint16_t *)b + j1 * ldb, K, out0, out1);
    else
      dot_2_rows_bf16(a, lda, M, (const uint16_t *)b + j * ldb, (const uint16_t *)b + j1 * ldb, K, out0, out1);
    for (int64_t i = 0; i < M; ++i) {
      c_store(c, i, j, beta == 0.0f ? out0[i] : c_load(c, i, j) + out0[i]);
      if (j1 != j)
        c_store(c, i, j1, beta == 0.0f ? out1[i] : c_load(c, i, j1) + out1[i]);
    }
  }
  return 1;
#else
  (void)a, (void)lda, (void)M, (void)b, (void)bF32, (void)kind, (void)ldb, (void)N, (void)K, (void)c, (void)beta;
  return 0;
#endif
}

/* C[M,N] = beta * C + A[M,K] * op(B) for 16-bit A and B (kind), C as `c`;
 * every product accumulates in f32 and C is rounded once. */
static void matmul_half(const kvcc_memref2d_h *a, const kvcc_memref2d_h *b, const c_target *c, int64_t N,
                        int transB, float beta, enum half_kind kind) {
  const int64_t M = a->sizes[0], K = a->sizes[1];
  if (M == 0 || N == 0)
    return;
  const int64_t bRow = b->strides[0], bCol = b->strides[1];
  float *aw = malloc((size_t)(M * K > 0 ? M * K : 1) * sizeof(float));
  /* Panels of B: at most about 512 KiB of f32 (a core's L2), a multiple of
   * 16 columns, as many panels as a multiple of the threads (so that no
   * thread waits on another's extra panel); each thread widens its own. */
  const int parallel = M * N * K >= (1 << 20);
  const int threads = parallel ? omp_get_max_threads() : 1;
  int64_t nb = K > 0 ? (131072 / K) / 16 * 16 : N;
  if (nb < 16)
    nb = 16;
  int64_t panels = (N + nb - 1) / nb;
  panels = (panels + threads - 1) / threads * threads;
  nb = ((N + panels - 1) / panels + 15) / 16 * 16;
  if (nb > N)
    nb = N;
  panels = (N + nb - 1) / nb;
  const int dotPath = M <= kDotRows && transB && bCol == 1;
  float *bw = dotPath ? NULL : malloc((size_t)(threads * nb * (K > 0 ? K : 1)) * sizeof(float));
  float *cw = dotPath ? NULL : malloc((size_t)(threads * M * nb) * sizeof(float));
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
     * disjoint rows. Small GEMVs stay on one thread. Several rows of A (a
     * batched decode step) take the weight rows in pairs (dot_2_rows_*). */
    if (M > 1 && dot_row_pairs(aw, K, M, hbase(b), 0, kind, bRow, N, K, c, beta)) {
      free(aw);
      return;
    }
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
  blas_on_caller_thread();
#pragma omp parallel for schedule(static) num_threads(threads) if (parallel)
  for (int64_t panel = 0; panel < panels; ++panel) {
    const int64_t j0 = panel * nb, w = N - j0 < nb ? N - j0 : nb;
    const int t = omp_get_thread_num();
    float *pb = bw + t * nb * K, *pc = cw + t * M * nb;
    /* pb: the panel as [w, K] (row j of op(B)ᵀ is column j of op(B)). */
    for (int64_t j = 0; j < w; ++j) {
      if (transB)
        widen(hbase(b) + (j0 + j) * bRow, bCol, pb + j * K, K, kind);
      else
        widen(hbase(b) + (j0 + j) * bCol, bRow, pb + j * K, K, kind);
    }
    if (beta != 0.0f)
      for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < w; ++j)
          pc[i * w + j] = c_load(c, i, j0 + j);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)w, (int)K, 1.0f, aw, (int)(K > 0 ? K : 1),
                pb, (int)(K > 0 ? K : 1), beta, pc, (int)w);
    for (int64_t i = 0; i < M; ++i)
      c_store_row(c, i, j0, pc + i * w, w);
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

/* The f32 GEMMs come last: their decode path stores through the c_target the
 * 16-bit GEMMs use (dot_row_pairs). */

/* C[M,N] = beta * C + A[M,K] * op(B), beta 0 or 1 (0: C is never read, it may
 * hold NaN): transB = 0: B is [K,N]; transB = 1: B is [N,K]. */
static void matmul(const kvcc_memref2d *a, const kvcc_memref2d *b,
                   const kvcc_memref2d *c, int transB, float beta) {
  int64_t M = a->sizes[0], K = a->sizes[1], N = c->sizes[1];
  if (M == 0 || N == 0)
    return;
  int unitInner = a->strides[1] == 1 && b->strides[1] == 1 && c->strides[1] == 1;
  if (unitInner && transB && M <= kDotRows) {
    /* A decode step: one dot product per weight row, the rows split over the
     * OpenMP threads the rest of the step runs on (matmul_half says why). */
    const int64_t lda = a->strides[0], ldb = b->strides[0], ldc = c->strides[0];
    const c_target ct = f32_c(c);
    if (M > 1 && dot_row_pairs(base(a), lda, M, base(b), 1, KVCC_F16, ldb, N, K, &ct, beta))
      return;
#pragma omp parallel for schedule(static) if (N * K >= (1 << 16))
    for (int64_t j = 0; j < N; ++j)
      for (int64_t i = 0; i < M; ++i) {
        float acc = dot_f32(base(a) + i * lda, base(b) + j * ldb, K);
        float *out = &base(c)[i * ldc + j];
        *out = beta == 0.0f ? acc : *out + acc;
      }
    return;
  }
  if (unitInner && M == 1 && !transB) {
    /* A GEMV with B as [K,N] (kvcc's models keep weights as [N,K]): sgemm
     * would pack (copy) all of B on every call, doubling the traffic. */
    blas_on_caller_thread();
    cblas_sgemv(CblasRowMajor, CblasTrans, (int)K, (int)N, 1.0f, base(b), (int)b->strides[0], base(a), 1,
                beta, base(c), 1);
    return;
  }
  if (unitInner) {
    sgemm_parallel(transB, M, N, K, base(a), a->strides[0], base(b), b->strides[0], beta, base(c),
                   c->strides[0]);
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
