/* membw: the machine's memory bandwidth, measured the way a decode step reads
 * weights (a large read-mostly sweep). Prints one JSON line with the best of
 * several runs for read (sum of a 512 MiB float array), copy and triad, in
 * GB/s, using all cores (pthreads), so kvcc's decode numbers have a ceiling
 * measured in the same run.
 *   cc -O3 -ffast-math -march=native -pthread membw.c -o membw && ./membw [MiB] */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static size_t n;
static float *a, *b, *c;
static int nthreads;
static volatile float sink;

typedef struct { int id, kind; double partial; } job;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static void *work(void *p) {
  job *j = p;
  size_t lo = n * j->id / nthreads, hi = n * (j->id + 1) / nthreads;
  if (j->kind == 0) { /* read */
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t i = lo; i + 3 < hi; i += 4) {
      s0 += a[i]; s1 += a[i + 1]; s2 += a[i + 2]; s3 += a[i + 3];
    }
    j->partial = s0 + s1 + s2 + s3;
  } else if (j->kind == 1) { /* copy */
    for (size_t i = lo; i < hi; ++i) b[i] = a[i];
  } else { /* triad */
    for (size_t i = lo; i < hi; ++i) c[i] = a[i] + 3.0f * b[i];
  }
  return NULL;
}

static double run(int kind) {
  pthread_t t[64];
  job j[64];
  double best = 1e30;
  for (int rep = 0; rep < 5; ++rep) {
    double t0 = now();
    for (int i = 0; i < nthreads; ++i) {
      j[i].id = i; j[i].kind = kind;
      pthread_create(&t[i], NULL, work, &j[i]);
    }
    for (int i = 0; i < nthreads; ++i) {
      pthread_join(t[i], NULL);
      sink += (float)j[i].partial;
    }
    double dt = now() - t0;
    if (dt < best) best = dt;
  }
  double bytes = (double)n * sizeof(float) * (kind == 0 ? 1 : kind == 1 ? 2 : 3);
  return bytes / best / 1e9;
}

int main(int argc, char **argv) {
  size_t mib = argc > 1 ? (size_t)atol(argv[1]) : 512;
  n = mib * 1024 * 1024 / sizeof(float);
  nthreads = (int)sysconf(_SC_NPROCESSORS_ONLN);
  if (nthreads < 1) nthreads = 1;
  if (nthreads > 64) nthreads = 64;
  a = malloc(n * sizeof(float)); b = malloc(n * sizeof(float)); c = malloc(n * sizeof(float));
  if (!a || !b || !c) { fprintf(stderr, "membw: out of memory\n"); return 1; }
  for (size_t i = 0; i < n; ++i) { a[i] = (float)(i & 1023); b[i] = 1.0f; c[i] = 0.0f; }
  printf("{\"threads\": %d, \"mib\": %zu, \"read_gbs\": %.2f, \"copy_gbs\": %.2f, \"triad_gbs\": %.2f}\n",
         nthreads, mib, run(0), run(1), run(2));
  return 0;
}
