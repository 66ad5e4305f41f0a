// Machine limits the benchmarks compare against: the read bandwidth of streaming a buffer much
// larger than the caches (as decode streams the weights) and the FMA peak (the pp ceiling).
#include <time.h>

#include "addon_internal.h"

typedef struct {
  const float *buf;
  int64_t n;
  double sums[256];
} bw_ctx;

static void bw_task(void *p, int ith, int nth) {
  bw_ctx *c = (bw_ctx *)p;
  int64_t per = (c->n / nth) / 16 * 16;
  int64_t i0 = per * ith, n = ith == nth - 1 ? c->n - i0 : per;
  c->sums[ith] = K.dot_f32(c->buf + i0, c->buf + i0, n);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}


// GB/s per repetition into res: all pool threads stream a share of one buffer of `bytes`
int ln_read_bandwidth(int64_t bytes, int64_t reps, double *res) {
  int64_t n = bytes / 4;
  float *buf = (float *)ln_aligned_alloc((size_t)n * 4);
  if (!buf) return 0;
  for (int64_t i = 0; i < n; i++) buf[i] = (float)(i & 7);
  bw_ctx c = {.buf = buf, .n = n};
  ln_pool_run_all(bw_task, &c);  // warm-up (page faults, pool wake-up)
  for (int64_t r = 0; r < reps; r++) {
    double t0 = now_s();
    ln_pool_run_all(bw_task, &c);
    double dt = now_s() - t0;
    res[r] = (double)n * 4 / dt / 1e9;
  }
  ln_aligned_free(buf);
  return 1;
}

typedef struct {
  int64_t iters;
  double flops[256];
} fma_ctx;

static void fma_task(void *p, int ith, int nth) {
  (void)nth;
  fma_ctx *c = (fma_ctx *)p;
  c->flops[ith] = K.fma_loop(c->iters);
}


// GFLOP/s of all pool threads running independent FMAs
double ln_fma_peak(int64_t iters) {
  fma_ctx c = {.iters = iters};
  double t0 = now_s();
  ln_pool_run_all(fma_task, &c);
  double dt = now_s() - t0, total = 0;
  for (int i = 0; i < ln_pool_threads(); i++) total += c.flops[i];
  return total / dt / 1e9;
}
