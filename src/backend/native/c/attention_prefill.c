// Prefill attention (T >= 2 queries) over an f32 or f16 KV cache, AVX-512, head dims 16, 32, 48,
// 64 (4 x hd/16 accumulators must stay in registers; longer heads keep attention.c's kernels),
// blocked so that short heads run on full vectors.
//
// Why: the general path (attention.c attn_task) takes one (token, head) at a time: a dot product
// per cache position, reduced horizontally, then one axpy call per position. With the head dims of
// small models (32: two vectors) the reductions and calls cost more than the arithmetic (~11
// GFLOP/s on the default model in batched scoring). Here a unit is one KV head and a block of up
// to 16 query tokens with all the query heads that read that KV head:
//   1. scores: 16 cache positions at a time, their K rows transposed in registers (16 x 16 at a
//      time) into KT[c][16], then for 4 query rows at once s[0..15] += q[c] (broadcast) * KT[c]:
//      16 scores per chain of hd FMAs, no reduction; scaled by 1/sqrt(hd) as attention.c does;
//   2. softmax of each query row over its causal span (ln_softmax_row, as attention.c), the rest of
//      the row zeroed;
//   3. values: for 4 query rows at once, out += s[p] (broadcast) * V[p], positions in order.
// Results differ from attention.c only in the order of the q·k sums (conformance bound 2e-5). An
// f16 cache's values are widened as they are loaded (exact), as attention.c's path converts its rows.
// Separate file: attention.c and k_avx512.c are shared with other work; attention.c calls
// ln_attention_prefill first and falls back when it declines.
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "addon_internal.h"

int ln_tune_attn_prefill = 1;  // A/B knob `attnp` (0: the general path)

#ifdef LN_X86
#include <immintrin.h>

#include "transpose16.h"

#define AT512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")))
#define AINL static inline __attribute__((always_inline))
#define QB 16  // query tokens per unit


typedef struct {
  float *out;
  const float *q;
  const void *kc, *vc;  // (positions, nkv * hd) f32, or f16 (F16)
  int f16;
  int64_t pos0, T, nh, nkv, hd, nqb, nunits;
  float *buf;  // per thread: S (QB * group rows x sstride) + KT (hd x 16)
  size_t per_thread, sstride;
  _Atomic int64_t next;
} ap_ctx;

// query row i of a unit: token t0 + i / group, head g * group + i % group
#define QROW_T(i) (t0 + (i) / group)
#define QROW_H(i) (g * group + (i) % group)

// 16 cache values from element `at` as f32
AT512 AINL __m512 kv16(const void *cache, int64_t at, const int F16) {
  if (F16) return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)cache + at)));
  return _mm512_loadu_ps((const float *)cache + at);
}

AT512 AINL void unit_hd(ap_ctx *c, int64_t g, int64_t t0, int64_t t1, float *S, float *KT, const int NV, const int F16) {
  const int64_t hd = 16 * NV, nh = c->nh, group = nh / c->nkv, kvRow = c->nkv * hd, kvo = g * hd;
  const int64_t nq = (t1 - t0) * group, nmax = c->pos0 + t1;  // positions the last token sees
  const size_t ss = c->sstride;
  const __m512 scale = _mm512_set1_ps((float)(1.0 / sqrt((double)hd)));
  // 1. scores
  for (int64_t p0 = 0; p0 < nmax; p0 += 16) {
    const int64_t np = nmax - p0 < 16 ? nmax - p0 : 16;
    for (int v = 0; v < NV; v++) {
      __m512 r[16];
      for (int i = 0; i < 16; i++) r[i] = i < np ? kv16(c->kc, (p0 + i) * kvRow + kvo + 16 * v, F16) : _mm512_setzero_ps();
      ln_transpose16x16(r);
      for (int j = 0; j < 16; j++) _mm512_store_ps(KT + (16 * v + j) * 16, r[j]);
    }
    // the first query row that sees position p0 (rows are in token order)
    int64_t i0 = p0 - c->pos0 - t0;
    i0 = i0 > 0 ? i0 * group : 0;
    for (int64_t i = i0; i < nq; i += 4) {
      const int64_t m = nq - i < 4 ? nq - i : 4;
      const float *qr[4];
      for (int j = 0; j < 4; j++) {
        const int64_t ii = i + (j < m ? j : 0);
        qr[j] = c->q + (QROW_T(ii) * nh + QROW_H(ii)) * hd;
      }
      __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
      for (int64_t d = 0; d < hd; d++) {
        const __m512 kt = _mm512_load_ps(KT + d * 16);
        a0 = _mm512_fmadd_ps(_mm512_set1_ps(qr[0][d]), kt, a0);
        a1 = _mm512_fmadd_ps(_mm512_set1_ps(qr[1][d]), kt, a1);
        a2 = _mm512_fmadd_ps(_mm512_set1_ps(qr[2][d]), kt, a2);
        a3 = _mm512_fmadd_ps(_mm512_set1_ps(qr[3][d]), kt, a3);
      }
      _mm512_store_ps(S + i * ss + p0, _mm512_mul_ps(a0, scale));
      if (m > 1) _mm512_store_ps(S + (i + 1) * ss + p0, _mm512_mul_ps(a1, scale));
      if (m > 2) _mm512_store_ps(S + (i + 2) * ss + p0, _mm512_mul_ps(a2, scale));
      if (m > 3) _mm512_store_ps(S + (i + 3) * ss + p0, _mm512_mul_ps(a3, scale));
    }
  }
  // 2. softmax over each row's causal span; zero past it
  for (int64_t i = 0; i < nq; i++) {
    const int64_t n = c->pos0 + QROW_T(i) + 1;
    ln_softmax_row(S + i * ss, n);
    memset(S + i * ss + n, 0, (size_t)(nmax - n) * sizeof(float));
  }
  // 3. values, 4 query rows at a time over the positions the last of them sees
  for (int64_t i = 0; i < nq; i += 4) {
    const int64_t m = nq - i < 4 ? nq - i : 4;
    const int64_t n = c->pos0 + QROW_T(i + m - 1) + 1;
    __m512 acc[4][4];
    for (int j = 0; j < 4; j++)
      for (int v = 0; v < NV; v++) acc[j][v] = _mm512_setzero_ps();
    const float *s0 = S + i * ss, *s1 = S + (i + (m > 1)) * ss, *s2 = S + (i + 2 * (m > 2)) * ss, *s3 = S + (i + 3 * (m > 3)) * ss;
    for (int64_t p = 0; p < n; p++) {
      const int64_t vr = p * kvRow + kvo;
      const __m512 b0 = _mm512_set1_ps(s0[p]), b1 = _mm512_set1_ps(s1[p]), b2 = _mm512_set1_ps(s2[p]), b3 = _mm512_set1_ps(s3[p]);
      for (int v = 0; v < NV; v++) {
        const __m512 vv = kv16(c->vc, vr + 16 * v, F16);
        acc[0][v] = _mm512_fmadd_ps(b0, vv, acc[0][v]);
        acc[1][v] = _mm512_fmadd_ps(b1, vv, acc[1][v]);
        acc[2][v] = _mm512_fmadd_ps(b2, vv, acc[2][v]);
        acc[3][v] = _mm512_fmadd_ps(b3, vv, acc[3][v]);
      }
    }
    for (int j = 0; j < m; j++) {
      float *o = c->out + (QROW_T(i + j) * nh + QROW_H(i + j)) * hd;
      for (int v = 0; v < NV; v++) _mm512_storeu_ps(o + 16 * v, acc[j][v]);
    }
  }
}

AT512 static void ap_task(void *p, int ith, int nth) {
  (void)nth;
  ap_ctx *c = (ap_ctx *)p;
  float *S = c->buf + (size_t)ith * c->per_thread;
  float *KT = S + (size_t)QB * (c->nh / c->nkv) * c->sstride;
  for (;;) {
    const int64_t u = atomic_fetch_add_explicit(&c->next, 1, memory_order_relaxed);
    if (u >= c->nunits) return;
    const int64_t g = u % c->nkv, t0 = (u / c->nkv) * QB, t1 = t0 + QB < c->T ? t0 + QB : c->T;
    if (c->f16) {
      switch (c->hd) {
        case 16: unit_hd(c, g, t0, t1, S, KT, 1, 1); break;
        case 32: unit_hd(c, g, t0, t1, S, KT, 2, 1); break;
        case 48: unit_hd(c, g, t0, t1, S, KT, 3, 1); break;
        case 64: unit_hd(c, g, t0, t1, S, KT, 4, 1); break;
      }
    } else {
      switch (c->hd) {
        case 16: unit_hd(c, g, t0, t1, S, KT, 1, 0); break;
        case 32: unit_hd(c, g, t0, t1, S, KT, 2, 0); break;
        case 48: unit_hd(c, g, t0, t1, S, KT, 3, 0); break;
        case 64: unit_hd(c, g, t0, t1, S, KT, 4, 0); break;
      }
    }
  }
}

static float *ap_buf;
static size_t ap_buf_floats;

int ln_attention_prefill(float *out, const float *q, const void *kc, const void *vc, int f16, int64_t pos0, int64_t T, int64_t nh, int64_t nkv, int64_t hd) {
  if (!ln_tune_attn_prefill || T < 2 || hd % 16 != 0 || hd > 64 || strcmp(K.name, "avx512") != 0) return 0;
  const int64_t group = nh / nkv;
  const size_t sstride = (size_t)(pos0 + T + 15) / 16 * 16;
  const size_t per = ((size_t)QB * group * sstride + (size_t)hd * 16 + 15) / 16 * 16;
  const int nth = ln_pool_threads();
  if (per * nth > ap_buf_floats) {
    ln_aligned_free(ap_buf);
    ap_buf = (float *)ln_aligned_alloc(per * nth * sizeof(float));
    ap_buf_floats = ap_buf ? per * nth : 0;
    if (!ap_buf) return 0;
  }
  ap_ctx c = {.out = out, .q = q, .kc = kc, .vc = vc, .f16 = f16, .pos0 = pos0, .T = T, .nh = nh, .nkv = nkv, .hd = hd};
  c.nqb = (T + QB - 1) / QB;
  c.nunits = c.nqb * nkv;
  c.buf = ap_buf;
  c.per_thread = per;
  c.sstride = sstride;
  atomic_init(&c.next, 0);
  if (nth <= 1 || c.nunits == 1) ap_task(&c, 0, 1);
  else ln_pool_run(ap_task, &c);
  return 1;
}
#else
int ln_attention_prefill(float *out, const float *q, const void *kc, const void *vc, int f16, int64_t pos0, int64_t T, int64_t nh, int64_t nkv, int64_t hd) {
  (void)out, (void)q, (void)kc, (void)vc, (void)f16, (void)pos0, (void)T, (void)nh, (void)nkv, (void)hd;
  return 0;
}
#endif
