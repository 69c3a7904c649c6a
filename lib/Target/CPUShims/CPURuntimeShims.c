/*===- CPURuntimeShims.c - what model.so calls besides its own code -------===*
 *
 * Linked into every CPU model.so (with -lopenblas). MLIR-free C: the callees
 * of kvc-matmul-to-blas, taking MLIR strided memref descriptors.
 *
 *===----------------------------------------------------------------------===*/
#include <cblas.h>
#include <stdint.h>

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
