// KV cache writes and attention over the cache (the glue in addon.c has checked the shapes).
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "addon_internal.h"

// store T rows of k and v at positions pos0.. of the layer's caches (F16 or F32)
void ln_kv_store(void *kc, void *vc, int f16, int64_t rowLen, int64_t pos0, int64_t T, const float *k, const float *v) {
  size_t n = (size_t)(T * rowLen), base = (size_t)(pos0 * rowLen);
  if (f16) {
    K.f32_to_f16((uint16_t *)kc + base, k, (int64_t)n);
    K.f32_to_f16((uint16_t *)vc + base, v, (int64_t)n);
  } else {
    memcpy((float *)kc + base, k, n * 4);
    memcpy((float *)vc + base, v, n * 4);
  }
}

typedef struct {
  float *out;
  const float *q;
  const void *kc, *vc;
  int f16;
  int64_t pos0, T, nh, nkv, hd;
  float *scratch;  // per thread: (pos0+T) scores + 2*hd
  int64_t per_thread;
  int64_t parts;  // decode: KV head ranges handed out
  _Atomic int64_t next;
} attn_ctx;

// `span` cache values from element `at` as f32 (an F16 cache's are converted into `row`)
static const float *kv_slice(const attn_ctx *c, const void *cache, int64_t at, int64_t span, float *row) {
  if (!c->f16) return (const float *)cache + at;
  K.f16_to_f32(row, (const uint16_t *)cache + at, span);
  return row;
}

// Decode (T = 1): the KV heads are cut into `parts` contiguous ranges; a thread takes a range and
// walks the cache position by position, so it reads one contiguous slice of every K and V row (a
// sequential stream) instead of one head's strided column at a time. Scores for all its query
// heads are kept per head (in thread ith's scratch).
static void attn_decode_part(attn_ctx *c, int ith, int64_t part, int64_t parts) {
  const int64_t hd = c->hd, kvRow = c->nkv * hd, group = c->nh / c->nkv, n = c->pos0 + 1;
  const int64_t kv0 = c->nkv * part / parts, kv1 = c->nkv * (part + 1) / parts;
  if (kv1 <= kv0) return;
  const int64_t h0 = kv0 * group, nhl = (kv1 - kv0) * group;  // query heads of this thread
  float *scores = c->scratch + ith * c->per_thread;  // (nhl, n)
  float *row = scores + nhl * n;                      // one converted F16 row slice
  const float scale = (float)(1.0 / sqrt((double)hd));
  const int64_t span = (kv1 - kv0) * hd;
  const size_t esz = c->f16 ? 2 : 4;
  if (K.attn_decode && K.attn_decode(c->out + h0 * hd, c->q + h0 * hd, (const char *)c->kc + kv0 * hd * esz, (const char *)c->vc + kv0 * hd * esz, c->f16, kvRow, n, kv1 - kv0, group, hd, scale, scores))
    return;
  for (int64_t pp = 0; pp < n; pp++) {
    const float *kr = kv_slice(c, c->kc, pp * kvRow + kv0 * hd, span, row);
    for (int64_t h = 0; h < nhl; h++) scores[h * n + pp] = K.dot_f32(c->q + (h0 + h) * hd, kr + (h / group) * hd, hd) * scale;
  }
  for (int64_t h = 0; h < nhl; h++) ln_softmax_row(scores + h * n, n);
  float *out = c->out + h0 * hd;
  memset(out, 0, (size_t)(nhl * hd) * 4);
  for (int64_t pp = 0; pp < n; pp++) {
    const float *vr = kv_slice(c, c->vc, pp * kvRow + kv0 * hd, span, row);
    for (int64_t h = 0; h < nhl; h++) K.axpy_f32(out + h * hd, scores[h * n + pp], vr + (h / group) * hd, hd);
  }
}

// The ranges are claimed through an atomic counter (a dynamic pool job), not one per thread: on a
// shared machine a descheduled worker then leaves its range to the caller instead of stalling the
// layer (with a static split, 2-thread decode attention was seen at 1.5 ms a token instead of 0.2
// while another process used the second core).
static void attn_decode_task(void *p, int ith, int nth) {
  attn_ctx *c = (attn_ctx *)p;
  (void)nth;
  for (;;) {
    const int64_t part = atomic_fetch_add_explicit(&c->next, 1, memory_order_relaxed);
    if (part >= c->parts) break;
    attn_decode_part(c, ith, part, c->parts);
  }
}

static void attn_task(void *p, int ith, int nth) {
  (void)nth;
  attn_ctx *c = (attn_ctx *)p;
  const int64_t hd = c->hd, kvRow = c->nkv * hd, group = c->nh / c->nkv;
  float *scores = c->scratch + ith * c->per_thread;
  float *kbuf = scores + c->pos0 + c->T;
  const float scale = (float)(1.0 / sqrt((double)hd));
  for (;;) {
    int64_t u = atomic_fetch_add_explicit(&c->next, 1, memory_order_relaxed);
    if (u >= c->T * c->nh) break;
    int64_t t = u / c->nh, h = u % c->nh;
    const int64_t n = c->pos0 + t + 1;
    const float *q = c->q + (t * c->nh + h) * hd;
    const int64_t kvo = (h / group) * hd;
    const int fast = !c->f16 && ln_tune_attn && K.attn_scores_f32;
    if (fast) K.attn_scores_f32(scores, q, (const float *)c->kc + kvo, kvRow, n, hd, scale);
    for (int64_t pp = 0; pp < (fast ? 0 : n); pp++) {
      const float *kr;
      if (c->f16) {
        K.f16_to_f32(kbuf, (const uint16_t *)c->kc + pp * kvRow + kvo, hd);
        kr = kbuf;
      } else {
        kr = (const float *)c->kc + pp * kvRow + kvo;
      }
      scores[pp] = K.dot_f32(q, kr, hd) * scale;
    }
    ln_softmax_row(scores, n);
    float *o = c->out + (t * c->nh + h) * hd;
    if (fast && K.attn_values_f32 && K.attn_values_f32(o, scores, (const float *)c->vc + kvo, kvRow, n, hd)) continue;
    memset(o, 0, hd * 4);
    for (int64_t pp = 0; pp < n; pp++) {
      const float *vr;
      if (c->f16) {
        K.f16_to_f32(kbuf, (const uint16_t *)c->vc + pp * kvRow + kvo, hd);
        vr = kbuf;
      } else {
        vr = (const float *)c->vc + pp * kvRow + kvo;
      }
      K.axpy_f32(o, scores[pp], vr, hd);
    }
  }
}


int ln_attention(float *out, const float *q, const void *kc, const void *vc, int f16, int64_t pos0, int64_t T, int64_t nh, int64_t nkv, int64_t hd) {
  attn_ctx c = {.out = out, .q = q, .kc = kc, .vc = vc, .f16 = f16};
  c.pos0 = pos0;
  c.T = T;
  c.nh = nh;
  c.nkv = nkv;
  c.hd = hd;
  const int nth = ln_pool_threads();
  atomic_init(&c.next, 0);
  if (c.T == 1 && ln_tune_attn) {
    // scores of every query head of a thread's KV heads (at most all of them) + one row slice
    c.per_thread = (c.nh * (c.pos0 + 1) + c.nkv * c.hd + 15) / 16 * 16;
    c.scratch = (float *)ln_scratch((size_t)c.per_thread * nth * 4);
    if (!c.scratch) return 0;
    c.parts = nth < c.nkv ? nth : c.nkv;
    if (c.parts == 1) attn_decode_part(&c, 0, 0, 1);
    else ln_pool_run(attn_decode_task, &c);
    return 1;
  }
  if (ln_attention_prefill(out, q, kc, vc, f16, pos0, T, nh, nkv, hd)) return 1;  // short f32 heads, AVX-512 (attention_prefill.c)
  c.per_thread = (c.pos0 + c.T + 2 * c.hd + 15) / 16 * 16;
  c.scratch = (float *)ln_scratch((size_t)c.per_thread * nth * 4);
  if (!c.scratch) return 0;
  if (c.T * c.nh == 1) attn_task(&c, 0, 1);
  else ln_pool_run(attn_task, &c);
  return 1;
}
