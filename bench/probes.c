/* Machine probes for bench/run.sh: single-pass read bandwidth over 1 GiB
 * (every core reading its share) and the fp32 FMA peak (independent FMA
 * chains in vector registers, every core). Prints one JSON object.
 * Built by run.sh with: cc -O3 -march=native -fopenmp probes.c */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

typedef float v16 __attribute__((vector_size(64)));
#define CHAINS 12 /* independent FMA chains: latency x FMA ports */

int main(void) {
  size_t n = (size_t)1 << 28; /* 1 GiB of floats */
  float *a = aligned_alloc(64, n * sizeof(float));
#pragma omp parallel for
  for (size_t i = 0; i < n; ++i)
    a[i] = (float)(i & 255);
  double best = 1e30, sink = 0;
  for (int r = 0; r < 5; ++r) {
    double t0 = now(), total = 0;
    /* Four vector accumulators per thread, reduced once at the end, so the
     * loop is bound by loads rather than by an add chain. */
#pragma omp parallel reduction(+ : total)
    {
      v16 acc[4] = {0};
#pragma omp for schedule(static)
      for (size_t i = 0; i < n; i += 64)
        for (int j = 0; j < 4; ++j)
          acc[j] += *(v16 *)&a[i + 16 * j];
      for (int j = 0; j < 16; ++j)
        total += acc[0][j] + acc[1][j] + acc[2][j] + acc[3][j];
    }
    double dt = now() - t0;
    sink += total;
    if (dt < best)
      best = dt;
  }
  double bandwidth = n * 4.0 / best / 1e9;

  long iters = 20000000;
  double flopsBest = 0;
  for (int r = 0; r < 3; ++r) {
    double t0 = now(), total = 0;
#pragma omp parallel reduction(+ : total)
    {
      v16 x[CHAINS], m, c;
      for (int k = 0; k < CHAINS; ++k)
        for (int j = 0; j < 16; ++j)
          x[k][j] = 1.0f + k * 1e-3f;
      for (int j = 0; j < 16; ++j) {
        m[j] = 0.9999999f;
        c[j] = 1e-7f;
      }
      for (long i = 0; i < iters; i += 8) {
        for (int u = 0; u < 8; ++u)
          for (int k = 0; k < CHAINS; ++k)
            x[k] = x[k] * m + c;
        /* Keep every FMA: the accumulators escape to the optimizer. */
        for (int k = 0; k < CHAINS; ++k)
          __asm__ volatile("" : "+v"(x[k]));
      }
      for (int k = 0; k < CHAINS; ++k)
        total += x[k][0];
    }
    double dt = now() - t0;
    sink += total;
    double flops = 2.0 * 16 * CHAINS * iters * omp_get_max_threads() / dt;
    if (flops > flopsBest)
      flopsBest = flops;
  }
  printf("{\"read_bandwidth_gbs\": %.2f, \"fp32_fma_peak_gflops\": %.1f, "
         "\"threads\": %d, \"checksum\": %g}\n",
         bandwidth, flopsBest / 1e9, omp_get_max_threads(), sink);
  free(a);
  return 0;
}
