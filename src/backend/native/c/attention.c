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
  int64_t parts;  // decode: KV head ranges or position chunks handed out
  float *part_o, *part_ml;  // decode over long spans: each chunk's softmax partials (nh x hd; nh x (m, l))
  int64_t chunk;            // and the positions of a chunk (the last may have fewer)
  _Atomic int64_t next;
} attn_ctx;

// `span` cache values from element `at` as f32 (an F16 cache's are converted into `row`)
static const float *kv_slice(const attn_ctx *c, const void *cache, int64_t at, int64_t span, float *row) {
  if (!c->f16) return (const float *)cache + at;
  K.f16_to_f32(row, (const uint16_t *)cache + at, span);
  return row;
}

// Decode (T = 1) of query heads [h0, h0 + nhl) (KV heads [kv0, kv1)) over positions [p0, p0 + len):
// walks the cache position by position, so it reads one contiguous slice of every K and V row (a
// sequential stream) instead of one head's strided column at a time. Scores for all its query
// heads are kept per head. out gets softmax·v (ml NULL), or for a chunk of a long span the
// unnormalized sums exp(s - m)·v with each head's max m and sum of exp(s - m) in ml.
static void attn_decode_span(const attn_ctx *c, float *scores, float *row, int64_t kv0, int64_t kv1, int64_t p0, int64_t len, float *out, float *ml) {
  const int64_t hd = c->hd, kvRow = c->nkv * hd, group = c->nh / c->nkv;
  const int64_t h0 = kv0 * group, nhl = (kv1 - kv0) * group;
  const float scale = (float)(1.0 / sqrt((double)hd));
  const int64_t span = (kv1 - kv0) * hd;
  const size_t esz = c->f16 ? 2 : 4;
  const size_t first = (size_t)(p0 * kvRow + kv0 * hd) * esz;
  if (K.attn_decode && K.attn_decode(out, c->q + h0 * hd, (const char *)c->kc + first, (const char *)c->vc + first, c->f16, kvRow, len, kv1 - kv0, group, hd, scale, scores, ml))
    return;
  for (int64_t pp = 0; pp < len; pp++) {
    const float *kr = kv_slice(c, c->kc, (p0 + pp) * kvRow + kv0 * hd, span, row);
    for (int64_t h = 0; h < nhl; h++) scores[h * len + pp] = K.dot_f32(c->q + (h0 + h) * hd, kr + (h / group) * hd, hd) * scale;
  }
  for (int64_t h = 0; h < nhl; h++) {
    if (!ml) ln_softmax_row(scores + h * len, len);
    else ml[2 * h + 1] = (float)ln_exp_shifted(scores + h * len, len, &ml[2 * h]);
  }
  memset(out, 0, (size_t)(nhl * hd) * 4);
  for (int64_t pp = 0; pp < len; pp++) {
    const float *vr = kv_slice(c, c->vc, (p0 + pp) * kvRow + kv0 * hd, span, row);
    for (int64_t h = 0; h < nhl; h++) K.axpy_f32(out + h * hd, scores[h * len + pp], vr + (h / group) * hd, hd);
  }
}

// Short spans: the KV heads are cut into `parts` contiguous ranges, one claimed at a time.
static void attn_decode_part(attn_ctx *c, int ith, int64_t part, int64_t parts) {
  const int64_t kv0 = c->nkv * part / parts, kv1 = c->nkv * (part + 1) / parts;
  if (kv1 <= kv0) return;
  float *scores = c->scratch + ith * c->per_thread;  // (query heads of the range, n)
  float *row = scores + (kv1 - kv0) * (c->nh / c->nkv) * (c->pos0 + 1);  // one converted F16 row slice
  attn_decode_span(c, scores, row, kv0, kv1, 0, c->pos0 + 1, c->out + kv0 * (c->nh / c->nkv) * c->hd, NULL);
}

// Long spans (more than LN_ATTN_CHUNK positions) are cut into chunks of at most LN_ATTN_CHUNK
// positions, as equal as can be, instead: every thread then streams whole K and V rows of its own
// positions (with KV head ranges two threads each read half of every row: at 512 positions of a
// 110M layer 2 threads took ~250 us against ~205 for one), and a chunk's scores stay in L1. Each
// chunk keeps its own softmax partials (o, m, l); attn_combine merges them in chunk order. The
// chunk size depends on the span alone, not on the thread count, and so do the results.
#define LN_ATTN_CHUNK 128

static void attn_chunk_task(void *p, int ith, int nth) {
  attn_ctx *c = (attn_ctx *)p;
  (void)nth;
  float *scores = c->scratch + ith * c->per_thread;  // (nh, LN_ATTN_CHUNK)
  float *row = scores + c->nh * LN_ATTN_CHUNK;
  const int64_t n = c->pos0 + 1;
  for (;;) {
    const int64_t j = atomic_fetch_add_explicit(&c->next, 1, memory_order_relaxed);
    if (j >= c->parts) break;
    const int64_t p0 = j * c->chunk, len = n - p0 < c->chunk ? n - p0 : c->chunk;
    attn_decode_span(c, scores, row, 0, c->nkv, p0, len, c->part_o + j * c->nh * c->hd, c->part_ml + j * 2 * c->nh);
  }
}

// out[h] = sum_j exp(m_j - M) o_j / sum_j exp(m_j - M) l_j, M = max_j m_j (chunk order: fixed)
static void attn_combine(const attn_ctx *c) {
  const int64_t nh = c->nh, hd = c->hd, chunks = c->parts;
  for (int64_t h = 0; h < nh; h++) {
    float M = -INFINITY;
    for (int64_t j = 0; j < chunks; j++) M = fmaxf(M, c->part_ml[j * 2 * nh + 2 * h]);
    double L = 0;
    for (int64_t j = 0; j < chunks; j++) L += (double)expf(c->part_ml[j * 2 * nh + 2 * h] - M) * c->part_ml[j * 2 * nh + 2 * h + 1];
    float *o = c->out + h * hd;
    memset(o, 0, (size_t)hd * 4);
    for (int64_t j = 0; j < chunks; j++) K.axpy_f32(o, (float)(expf(c->part_ml[j * 2 * nh + 2 * h] - M) / L), c->part_o + (j * nh + h) * hd, hd);
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
  if (c.T == 1 && ln_tune_attn && c.pos0 + 1 > LN_ATTN_CHUNK) {
    const int64_t chunks = (c.pos0 + LN_ATTN_CHUNK) / LN_ATTN_CHUNK;  // ceil(n / LN_ATTN_CHUNK), of equal size
    c.chunk = (c.pos0 + chunks) / chunks;
    c.per_thread = (c.nh * LN_ATTN_CHUNK + c.nkv * c.hd + 15) / 16 * 16;
    float *s = (float *)ln_scratch(((size_t)c.per_thread * nth + (size_t)chunks * (c.nh * c.hd + 2 * c.nh)) * 4);
    if (!s) return 0;
    c.scratch = s;
    c.part_o = s + c.per_thread * nth;
    c.part_ml = c.part_o + chunks * c.nh * c.hd;
    c.parts = chunks;
    if (nth == 1) attn_chunk_task(&c, 0, 1);
    else ln_pool_run(attn_chunk_task, &c);
    attn_combine(&c);
    return 1;
  }
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
