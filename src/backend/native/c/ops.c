// Elementwise ops of the forward pass (the glue in addon.c has checked every length).
#include <math.h>
#include <string.h>

#include "addon_internal.h"

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

void ln_rmsnorm(float *out, const float *x, const float *g, int64_t T, int64_t dim, float eps) {
  for (int64_t t = 0; t < T; t++) {
    const float *xr = x + t * dim;
    float *o = out + t * dim;
    float ss = K.dot_f32(xr, xr, dim);
    float scale = (float)(1.0 / sqrt((double)(ss / (float)dim) + (double)eps));
    for (int64_t i = 0; i < dim; i++) o[i] = (xr[i] * scale) * g[i];
  }
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

void ln_rope(float *x, int64_t T, int64_t nh, int64_t hd, const int32_t *pos, const float *inv) {
  const int64_t half = hd / 2;
  const float *st = NULL, *ct = rope_table(T, pos, inv, half, &st);
  for (int64_t t = 0; t < T; t++) {
    for (int64_t i = 0; i < half; i++) {
      float c, s;
      if (ct) {
        c = ct[t * half + i];
        s = st[t * half + i];
      } else {
        const double ang = (double)pos[t] * (double)inv[i];
        c = (float)cos(ang);
        s = (float)sin(ang);
      }
      for (int64_t h = 0; h < nh; h++) {
        float *v = x + (t * nh + h) * hd + 2 * i;
        float a = v[0], b = v[1];
        v[0] = a * c - b * s;
        v[1] = a * s + b * c;
      }
    }
  }
}

void ln_swiglu(float *out, const float *g, const float *u, int64_t n) {
  if (K.swiglu) K.swiglu(out, g, u, n);
  else
    for (int64_t i = 0; i < n; i++) out[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

void ln_add(float *out, const float *a, const float *b, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = a[i] + b[i];
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
