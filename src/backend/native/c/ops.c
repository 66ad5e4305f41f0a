// Elementwise ops of the forward pass (the glue in addon.c has checked every length).
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "addon_internal.h"

// Prefill-sized work (T > 1) is split over the pool: at 2 threads a 128-token 110M prefill spent
// ~8 ms of ~89 in these ops on the calling thread alone, more than at 1 thread (half of their
// input had just been written by the other core). Every element and row is computed as it would be
// on one thread, so the split never changes a bit.
#define LN_OPS_PAR_MIN (64 * 1024)  // elements of work below which a pool job costs more than it saves
typedef void (*range_fn)(const void *args, int64_t i0, int64_t i1);
typedef struct {
  range_fn fn;
  const void *args;
  int64_t n, chunk;
  _Atomic int64_t next;
} par_ctx;

static void par_task(void *p, int ith, int nth) {
  (void)ith, (void)nth;
  par_ctx *c = (par_ctx *)p;
  for (;;) {
    const int64_t i0 = atomic_fetch_add_explicit(&c->next, c->chunk, memory_order_relaxed);
    if (i0 >= c->n) return;
    c->fn(c->args, i0, i0 + c->chunk < c->n ? i0 + c->chunk : c->n);
  }
}

// fn over items [0, n), each `work` elements: on the pool in chunks (a multiple of `align` items,
// ~4 per thread) when there is enough work, else here
static void par_for(int64_t n, int64_t work, int64_t align, range_fn fn, const void *args) {
  const int nth = ln_pool_threads();
  if (!ln_tune_ops_par || nth < 2 || n * work < LN_OPS_PAR_MIN || n < 2) {
    fn(args, 0, n);
    return;
  }
  int64_t chunk = (n + 4 * nth - 1) / (4 * nth);
  chunk = (chunk + align - 1) / align * align;
  par_ctx c = {.fn = fn, .args = args, .n = n, .chunk = chunk};
  atomic_init(&c.next, 0);
  ln_pool_run(par_task, &c);
}

// embed: rows `ids` of w as f32
int64_t ln_embed(float *out, const ln_weight *w, const int32_t *ids, size_t n) {
  for (size_t t = 0; t < n; t++) {
    if (ids[t] < 0 || ids[t] >= w->rows) return (int64_t)t;
    float *o = out + t * w->cols;
    if (w->type == LN_F16) K.f16_to_f32(o, (const uint16_t *)(w->qs + (size_t)ids[t] * w->row_bytes), w->cols);
    else ln_dequant_row(w, ids[t], o);
  }
  return -1;
}

typedef struct {
  float *out;
  const float *x, *g;
  int64_t dim;
  float eps;
} rmsnorm_args;

static void rmsnorm_rows(const void *p, int64_t t0, int64_t t1) {
  const rmsnorm_args *a = (const rmsnorm_args *)p;
  const int64_t dim = a->dim;
  for (int64_t t = t0; t < t1; t++) {
    const float *xr = a->x + t * dim;
    float *o = a->out + t * dim;
    float ss = K.dot_f32(xr, xr, dim);
    float scale = (float)(1.0 / sqrt((double)(ss / (float)dim) + (double)a->eps));
    for (int64_t i = 0; i < dim; i++) o[i] = (xr[i] * scale) * a->g[i];
  }
}

void ln_rmsnorm(float *out, const float *x, const float *g, int64_t T, int64_t dim, float eps) {
  const rmsnorm_args a = {.out = out, .x = x, .g = g, .dim = dim, .eps = eps};
  par_for(T, dim, 1, rmsnorm_rows, &a);
}

// rotate pairs (2i, 2i+1) of every head by pos[t] * inv[i]
// The cos/sin table of the last call's positions: a forward pass ropes q and k of every layer at
// the same positions (24 calls for a 12-layer model), and each call's double-precision cos + sin
// of every (position, pair) was most of its time (decode: ~1.3 us for 32 pairs; a 128-token
// prefill of 64-wide heads: ~65 us a call). The table is keyed by the positions and the inverse
// frequencies' values (not their address), so a hit gives the very same floats. Calls with more
// than LN_ROPE_TABLE (position, pair) entries compute as they go.
#define LN_ROPE_CACHE 256
#define LN_ROPE_TABLE 16384
static _Thread_local struct {
  int64_t T, half;  // T = 0: empty
  int32_t pos[LN_ROPE_TABLE];
  float inv[LN_ROPE_CACHE], c[LN_ROPE_TABLE], s[LN_ROPE_TABLE];
} rope_cache;

static const float *rope_table(int64_t T, const int32_t *pos, const float *inv, int64_t half, const float **sin_out) {
  if (half > LN_ROPE_CACHE || T * half > LN_ROPE_TABLE) return NULL;
  if (!(rope_cache.T == T && rope_cache.half == half && memcmp(rope_cache.pos, pos, (size_t)T * 4) == 0 && memcmp(rope_cache.inv, inv, (size_t)half * 4) == 0)) {
    for (int64_t t = 0; t < T; t++)
      for (int64_t i = 0; i < half; i++) {
        const double ang = (double)pos[t] * (double)inv[i];
        rope_cache.c[t * half + i] = (float)cos(ang);
        rope_cache.s[t * half + i] = (float)sin(ang);
      }
    memcpy(rope_cache.pos, pos, (size_t)T * 4);
    memcpy(rope_cache.inv, inv, (size_t)half * 4);
    rope_cache.T = T;
    rope_cache.half = half;
  }
  *sin_out = rope_cache.s;
  return rope_cache.c;
}

typedef struct {
  float *x;
  int64_t nh, hd;
  const int32_t *pos;
  const float *inv, *ct, *st;  // the calling thread's table (read-only while the job runs) or NULL
} rope_args;

static void rope_tokens(const void *p, int64_t t0, int64_t t1) {
  const rope_args *a = (const rope_args *)p;
  const int64_t nh = a->nh, hd = a->hd, half = hd / 2;
  for (int64_t t = t0; t < t1; t++) {
    for (int64_t i = 0; i < half; i++) {
      float c, s;
      if (a->ct) {
        c = a->ct[t * half + i];
        s = a->st[t * half + i];
      } else {
        const double ang = (double)a->pos[t] * (double)a->inv[i];
        c = (float)cos(ang);
        s = (float)sin(ang);
      }
      for (int64_t h = 0; h < nh; h++) {
        float *v = a->x + (t * nh + h) * hd + 2 * i;
        float x0 = v[0], x1 = v[1];
        v[0] = x0 * c - x1 * s;
        v[1] = x0 * s + x1 * c;
      }
    }
  }
}

void ln_rope(float *x, int64_t T, int64_t nh, int64_t hd, const int32_t *pos, const float *inv) {
  rope_args a = {.x = x, .nh = nh, .hd = hd, .pos = pos, .inv = inv};
  a.ct = rope_table(T, pos, inv, hd / 2, &a.st);
  par_for(T, nh * hd, 1, rope_tokens, &a);
}

typedef struct {
  float *out;
  const float *a, *b;
} binary_args;

static void swiglu_range(const void *p, int64_t i0, int64_t i1) {
  const binary_args *a = (const binary_args *)p;
  if (K.swiglu) K.swiglu(a->out + i0, a->a + i0, a->b + i0, i1 - i0);
  else
    for (int64_t i = i0; i < i1; i++) a->out[i] = a->a[i] / (1.0f + expf(-a->a[i])) * a->b[i];
}

static void add_range(const void *p, int64_t i0, int64_t i1) {
  const binary_args *a = (const binary_args *)p;
  for (int64_t i = i0; i < i1; i++) a->out[i] = a->a[i] + a->b[i];
}

// (chunks of 16 values: whole 64-byte lines when the buffers are 64-byte aligned)
void ln_swiglu(float *out, const float *g, const float *u, int64_t n) {
  const binary_args a = {.out = out, .a = g, .b = u};
  par_for(n, 1, 16, swiglu_range, &a);
}

void ln_add(float *out, const float *a, const float *b, int64_t n) {
  const binary_args args = {.out = out, .a = a, .b = b};
  par_for(n, 1, 16, add_range, &args);
}

double ln_exp_shifted(float *x, int64_t n, float *max) {
  if (K.exp_shifted) return K.exp_shifted(x, n, max);
  float m = -INFINITY;
  for (int64_t i = 0; i < n; i++)
    if (x[i] > m) m = x[i];
  double sum = 0;
  for (int64_t i = 0; i < n; i++) {
    x[i] = expf(x[i] - m);
    sum += x[i];
  }
  *max = m;
  return sum;
}

void ln_softmax_row(float *x, int64_t n) {
  if (K.softmax) {
    K.softmax(x, n);
    return;
  }
  float m;
  float inv = (float)(1.0 / ln_exp_shifted(x, n, &m));
  for (int64_t i = 0; i < n; i++) x[i] *= inv;
}


void ln_softmax(float *x, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; r++) ln_softmax_row(x + r * cols, cols);
}

int64_t ln_argmax(const float *x, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; i++)
    if (x[i] > x[best]) best = i;
  return best;
}
