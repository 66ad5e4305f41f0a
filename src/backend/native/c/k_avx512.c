// AVX-512 F/BW/VL/DQ + VNNI kernels. Every function carries a target attribute, so this file
// builds with portable flags and is only called after the run-time CPU check.
//
// Q8_0 / Q4_0 / Q4_K use the lane-per-block layout (common.h): int32 lane j of vpdpbusd sums
// block j of a 16-block group over the group's 8 vectors, starting from the zero-point bias, and
// the float step (convert, scale, FMA) is done once per group:
//   acc += cvt(isum) * w_scale * x_scale            (Q4_K: - dmin*min * x_scale*sum(x))
// Q6_K (read as stored) works on pairs of 32-value blocks, one 512-bit register of 64 codes:
//   acc += cvt(vpdpbusd(bias, wv, x)) * ws * dx
// with ws the 16-value group scale of each lane and dx the activation block scale. In both, x holds
// the activations quantized to int8 per 32-value block, and the accumulator lanes are summed once
// at the end of a row.
#include "common.h"

#include <math.h>

#ifdef LN_X86
#include <immintrin.h>

#define T512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")))
#define INL static inline __attribute__((always_inline))
#define PF_DIST ln_tune_pf  // software prefetch distance in bytes (see performance-facts.md)

// ---------- activation quantization ----------

T512 static void quant_avx512(ln_act *a, int64_t t0, int64_t t1, int wtype) {
  const int zero = ln_zero_point(wtype);
  const __m512 signmask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
  for (int64_t t = t0; t < t1; t++) {
    const float *x = a->xf + t * a->cols;
    int8_t *q = a->q + t * a->q_stride;
    float *dxe = a->dxe + t * a->e_stride;
    int32_t *bias = a->bias + t * a->e_stride;
    float *cs = a->csum + t * a->c_stride;
    for (int64_t b = 0; b < a->npairs * 2; b++) {
      if (b >= a->nb) {  // phantom block padding an odd count
        memset(q + b * 32, 0, 32);
        _mm256_storeu_ps(dxe + b * 8, _mm256_setzero_ps());
        _mm256_storeu_si256((__m256i *)(bias + b * 8), _mm256_setzero_si256());
        cs[b] = 0;
        continue;
      }
      __m512 v0 = _mm512_loadu_ps(x + b * 32), v1 = _mm512_loadu_ps(x + b * 32 + 16);
      __m512 m = _mm512_max_ps(_mm512_and_ps(v0, signmask), _mm512_and_ps(v1, signmask));
      float amax = _mm512_reduce_max_ps(m);
      float d = amax / 127.0f;
      float id = d != 0 ? 127.0f / amax : 0.0f;
      __m512 vid = _mm512_set1_ps(id);
      // cvtps_epi32 rounds to nearest even (the default MXCSR mode), as nearbyintf does
      __m512i i0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, vid));
      __m512i i1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, vid));
      _mm_storeu_si128((__m128i *)(q + b * 32), _mm512_cvtsepi32_epi8(i0));
      _mm_storeu_si128((__m128i *)(q + b * 32 + 16), _mm512_cvtsepi32_epi8(i1));
      int32_t s0 = _mm512_reduce_add_epi32(i0), s1 = _mm512_reduce_add_epi32(i1);
      _mm256_storeu_ps(dxe + b * 8, _mm256_set1_ps(d));
      _mm256_storeu_si256((__m256i *)(bias + b * 8), _mm256_setr_epi32(-zero * s0, 0, 0, 0, -zero * s1, 0, 0, 0));
      cs[b] = d * (float)(s0 + s1);
    }
  }
}

// ---------- float kernels ----------

T512 static float dot_f32_avx512(const float *a, const float *b, int64_t n) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
  }
  for (; i < n; i += 16) {
    __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
    s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s0);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

T512 static void axpy_f32_avx512(float *y, float a, const float *x, int64_t n) {
  __m512 va = _mm512_set1_ps(a);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
  if (i < n) {
    __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
  }
}

T512 static void f16_to_f32_avx512(float *dst, const uint16_t *src, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(src + i))));
  if (i < n) {
    __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(dst + i, m, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, src + i)));
  }
}

T512 static void f32_to_f16_avx512(uint16_t *dst, const float *src, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm256_storeu_si256((__m256i *)(dst + i), _mm512_cvtps_ph(_mm512_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  for (; i < n; i++) dst[i] = ln_f2h(src[i]);
}

// exp(x) to ~2 ulp (Cephes' expf polynomial after x = n ln2 + r, |r| <= ln2/2; 2^n by scalef,
// which gives inf and 0 past the float range as expf does)
T512 INL __m512 exp512(__m512 x) {
  x = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(89.0f)), _mm512_set1_ps(-104.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_scalef_ps(p, n);
}

// out = silu(g) * u = g / (1 + exp(-g)) * u
T512 static void swiglu_avx512(float *out, const float *g, const float *u, int64_t n) {
  const __m512 one = _mm512_set1_ps(1.0f);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
    const __m512 gv = _mm512_maskz_loadu_ps(m, g + i);
    const __m512 e = exp512(_mm512_sub_ps(_mm512_setzero_ps(), gv));
    _mm512_mask_storeu_ps(out + i, m, _mm512_mul_ps(_mm512_div_ps(gv, _mm512_add_ps(one, e)), _mm512_maskz_loadu_ps(m, u + i)));
  }
}

// x = exp(x - max(x)) in place; returns their sum, kept in double as the scalar path does
T512 static double exp_shifted_avx512(float *x, int64_t n, float *max) {
  __m512 mx = _mm512_set1_ps(-INFINITY);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
    mx = _mm512_mask_max_ps(mx, m, mx, _mm512_maskz_loadu_ps(m, x + i));
  }
  *max = _mm512_reduce_max_ps(mx);
  const __m512 mv = _mm512_set1_ps(*max);
  __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
    const __m512 e = _mm512_maskz_mov_ps(m, exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), mv)));
    _mm512_mask_storeu_ps(x + i, m, e);
    s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
    s1 = _mm512_add_pd(s1, _mm512_cvtps_pd(_mm512_extractf32x8_ps(e, 1)));
  }
  return _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
}

// x = softmax(x) in place
T512 static void softmax_avx512(float *x, int64_t n) {
  float max;
  const __m512 inv = _mm512_set1_ps((float)(1.0 / exp_shifted_avx512(x, n, &max)));
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(x + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), inv));
  }
}

// FMA throughput probe: 12 independent accumulator chains hide the FMA latency on both pipes.
T512 static double fma_loop_avx512(int64_t iters) {
  __m512 acc[12];
  const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(1e-6f);
  for (int k = 0; k < 12; k++) acc[k] = _mm512_set1_ps((float)k);
  for (int64_t i = 0; i < iters; i++) {
#pragma GCC unroll 12
    for (int k = 0; k < 12; k++) acc[k] = _mm512_fmadd_ps(acc[k], a, b);
  }
  __m512 s = acc[0];
  for (int k = 1; k < 12; k++) s = _mm512_add_ps(s, acc[k]);
  volatile float sink = _mm512_reduce_add_ps(s);
  (void)sink;
  return (double)iters * 12 * 16 * 2;
}

// Load 16 weights of a float-like row as f32 (mask for the tail).
#define WF32 0
#define WF16 1
#define WBF16 2
T512 INL __m512 load_w16(const uint8_t *row, int64_t c, int kind, __mmask16 m) {
  if (kind == WF32) return _mm512_maskz_loadu_ps(m, (const float *)row + c);
  __m256i h = _mm256_maskz_loadu_epi16(m, (const uint16_t *)row + c);
  if (kind == WF16) return _mm512_cvtph_ps(h);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

T512 INL __m512 load_w16_full(const uint8_t *row, int64_t c, int kind) {
  if (kind == WF32) return _mm512_loadu_ps((const float *)row + c);
  __m256i h = _mm256_loadu_si256((const __m256i *)((const uint16_t *)row + c));
  if (kind == WF16) return _mm512_cvtph_ps(h);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

// Decode (one row, one token) of float weights: four accumulators, so the FMA latency (4 cycles)
// does not bound the row (with one chain, F16/BF16 rows of 4096 columns streamed at 56-64% of the
// read bandwidth: 16 values per FMA latency).
T512 INL float row_float(const uint8_t *row, const float *x, int64_t cols, const int kind) {
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
  int64_t c = 0;
  for (; c + 64 <= cols; c += 64) {
    a0 = _mm512_fmadd_ps(load_w16_full(row, c, kind), _mm512_loadu_ps(x + c), a0);
    a1 = _mm512_fmadd_ps(load_w16_full(row, c + 16, kind), _mm512_loadu_ps(x + c + 16), a1);
    a2 = _mm512_fmadd_ps(load_w16_full(row, c + 32, kind), _mm512_loadu_ps(x + c + 32), a2);
    a3 = _mm512_fmadd_ps(load_w16_full(row, c + 48, kind), _mm512_loadu_ps(x + c + 48), a3);
  }
  for (; c < cols; c += 16) {
    const __mmask16 m = cols - c >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (cols - c)) - 1);
    a0 = _mm512_fmadd_ps(load_w16(row, c, kind, m), _mm512_maskz_loadu_ps(m, x + c), a0);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

T512 INL void tile_float(const ln_weight *w, const ln_act *a, float *out, int64_t ldo, int64_t r, int64_t t, const int NR, const int NT, const int kind) {
  const int64_t cols = w->cols;
  if (NR == 1 && NT == 1) {
    out[t * ldo + r] = row_float(w->qs + (size_t)r * w->row_bytes, a->xf + t * cols, cols, kind);
    return;
  }
  const int esz = kind == WF32 ? 4 : 2;
  __m512 acc[4][4];
  const uint8_t *wr[4];
  const float *xr[4];
#pragma GCC unroll 4
  for (int i = 0; i < NR; i++) wr[i] = w->qs + (size_t)(r + i) * w->row_bytes;
#pragma GCC unroll 4
  for (int j = 0; j < NT; j++) xr[j] = a->xf + (t + j) * cols;
#pragma GCC unroll 4
  for (int i = 0; i < NR; i++)
#pragma GCC unroll 4
    for (int j = 0; j < NT; j++) acc[i][j] = _mm512_setzero_ps();
  int64_t c = 0;
  for (; c + 16 <= cols; c += 16) {
    __m512 wv[4];
#pragma GCC unroll 4
    for (int i = 0; i < NR; i++) {
      if (NT == 1) { if (ln_tune_pf_float) _mm_prefetch((const char *)(wr[i] + c * esz + ln_tune_pf_float), _MM_HINT_T0); }
      wv[i] = load_w16_full(wr[i], c, kind);
    }
#pragma GCC unroll 4
    for (int j = 0; j < NT; j++) {
      __m512 xv = _mm512_loadu_ps(xr[j] + c);
#pragma GCC unroll 4
      for (int i = 0; i < NR; i++) acc[i][j] = _mm512_fmadd_ps(wv[i], xv, acc[i][j]);
    }
  }
  if (c < cols) {
    __mmask16 m = (__mmask16)((1u << (cols - c)) - 1);
    __m512 wv[4];
#pragma GCC unroll 4
    for (int i = 0; i < NR; i++) wv[i] = load_w16(wr[i], c, kind, m);
#pragma GCC unroll 4
    for (int j = 0; j < NT; j++) {
      __m512 xv = _mm512_maskz_loadu_ps(m, xr[j] + c);
#pragma GCC unroll 4
      for (int i = 0; i < NR; i++) acc[i][j] = _mm512_fmadd_ps(wv[i], xv, acc[i][j]);
    }
  }
#pragma GCC unroll 4
  for (int i = 0; i < NR; i++)
#pragma GCC unroll 4
    for (int j = 0; j < NT; j++) out[(t + j) * ldo + r + i] = _mm512_reduce_add_ps(acc[i][j]);
}

// ---------- decode attention (f32 KV) ----------
// Inlined dot products, four positions at a time (independent chains), instead of an indirect
// dot_f32 call per position; the weighted value sum keeps the output row in registers.
T512 static void attn_scores_f32_avx512(float *scores, const float *q, const float *k, int64_t stride, int64_t n, int64_t hd, float scale) {
  const int64_t full = hd / 16 * 16;
  const __mmask16 tail = (__mmask16)((1u << (hd - full)) - 1);
  int64_t p = 0;
  for (; p + 4 <= n; p += 4) {
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
    const float *k0 = k + p * stride;
    for (int64_t c = 0; c < full; c += 16) {
      const __m512 qv = _mm512_loadu_ps(q + c);
      a0 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(k0 + c), a0);
      a1 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(k0 + stride + c), a1);
      a2 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(k0 + 2 * stride + c), a2);
      a3 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(k0 + 3 * stride + c), a3);
    }
    if (tail) {
      const __m512 qv = _mm512_maskz_loadu_ps(tail, q + full);
      a0 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(tail, k0 + full), a0);
      a1 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(tail, k0 + stride + full), a1);
      a2 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(tail, k0 + 2 * stride + full), a2);
      a3 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(tail, k0 + 3 * stride + full), a3);
    }
    scores[p] = _mm512_reduce_add_ps(a0) * scale;
    scores[p + 1] = _mm512_reduce_add_ps(a1) * scale;
    scores[p + 2] = _mm512_reduce_add_ps(a2) * scale;
    scores[p + 3] = _mm512_reduce_add_ps(a3) * scale;
  }
  for (; p < n; p++) scores[p] = dot_f32_avx512(q, k + p * stride, hd) * scale;
}

T512 INL void attn_values_hd(float *out, const float *s, const float *v, int64_t stride, int64_t n, const int HD) {
  __m512 acc[16];
#pragma GCC unroll 16
  for (int c = 0; c < HD / 16; c++) acc[c] = _mm512_setzero_ps();
  for (int64_t p = 0; p < n; p++) {
    const __m512 sv = _mm512_set1_ps(s[p]);
    const float *vr = v + p * stride;
#pragma GCC unroll 16
    for (int c = 0; c < HD / 16; c++) acc[c] = _mm512_fmadd_ps(sv, _mm512_loadu_ps(vr + 16 * c), acc[c]);
  }
#pragma GCC unroll 16
  for (int c = 0; c < HD / 16; c++) _mm512_storeu_ps(out + 16 * c, acc[c]);
}

// returns 0 for head sizes without a register-resident version
T512 static int attn_values_f32_avx512(float *out, const float *s, const float *v, int64_t stride, int64_t n, int64_t hd) {
  switch (hd) {
    case 64: attn_values_hd(out, s, v, stride, n, 64); return 1;
    case 128: attn_values_hd(out, s, v, stride, n, 128); return 1;
    case 256: attn_values_hd(out, s, v, stride, n, 256); return 1;
  }
  return 0;
}

// Decode attention (T = 1) of `nkvl` KV heads and their `group` query heads each, position-major:
// one pass over the K rows (a contiguous slice of each), softmax per query head, one pass over
// the V rows. k, v point at the first KV head's slice of position 0 (f32, or binary16 with f16);
// q, out at the first query head. scores holds (nkvl * group) x n floats. Returns 0 (nothing
// done) unless hd is 64 or 128.
T512 INL __m512 load_kv16(const void *base, int64_t i, const int f16) {
  if (f16) return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)base + i)));
  return _mm512_loadu_ps((const float *)base + i);
}

T512 INL void attn_decode_hd(float *out, const float *q, const void *k, const void *v, int64_t kvRow, int64_t n, int64_t nkvl, int64_t group, float scale, float *scores, float *ml, const int nv, const int f16) {
  const int64_t hd = 16 * nv, nhl = nkvl * group, span = nkvl * hd;
  const int esz = f16 ? 2 : 4;
  const char *kb = (const char *)k, *vb = (const char *)v;
  // The cache rows of one layer were last touched a whole token ago (evicted since): the first
  // `ahead` rows of K and of V are prefetched when the pass starts, so that both streams are under
  // way before the hardware prefetcher has noticed them (V's during the K pass); it then follows
  // each. Prefetching every row `ahead` rows in front instead (into L1: 48 lines a 110M row, in a
  // burst) held these passes to 15-17 GB/s: 110M F32 cache at 1 thread, same-process A/B,
  // attention a token at position 32 / 80 / 256 / 1024 (F16) 0.188 / 0.381 / 1.178 / 2.23 ms,
  // with only the first 4 rows 0.129 / 0.252 / 0.758 / 1.43 (~30 GB/s at 1024: the read limit).
  const int64_t ahead = ln_tune_attn_ahead;
  for (int64_t p = 0; p < ahead && p < n; p++)
    for (int64_t o = 0; o < span * esz; o += 64) {
      _mm_prefetch(kb + p * kvRow * esz + o, _MM_HINT_T0);
      _mm_prefetch(vb + p * kvRow * esz + o, _MM_HINT_T0);
    }
  for (int64_t p = 0; p < n; p++) {
    const char *kr = kb + p * kvRow * esz;
    for (int64_t kh = 0; kh < nkvl; kh++) {
      __m512 kv[8];
#pragma GCC unroll 8
      for (int c = 0; c < nv; c++) kv[c] = load_kv16(kr, kh * hd + 16 * c, f16);
      for (int64_t gi = 0; gi < group; gi++) {
        const int64_t h = kh * group + gi;
        const float *qh = q + h * hd;
        __m512 a0 = _mm512_mul_ps(kv[0], _mm512_loadu_ps(qh)), a1 = _mm512_setzero_ps();
#pragma GCC unroll 8
        for (int c = 1; c < nv; c++) {
          if (c & 1) a1 = _mm512_fmadd_ps(kv[c], _mm512_loadu_ps(qh + 16 * c), a1);
          else a0 = _mm512_fmadd_ps(kv[c], _mm512_loadu_ps(qh + 16 * c), a0);
        }
        scores[h * n + p] = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1)) * scale;
      }
    }
  }
  for (int64_t h = 0; h < nhl; h++) {
    if (!ml) softmax_avx512(scores + h * n, n);
    else ml[2 * h + 1] = (float)exp_shifted_avx512(scores + h * n, n, &ml[2 * h]);
  }
  memset(out, 0, (size_t)(nhl * hd) * 4);
  for (int64_t p = 0; p < n; p++) {
    const char *vr = vb + p * kvRow * esz;
    for (int64_t kh = 0; kh < nkvl; kh++) {
      __m512 vv[8];
#pragma GCC unroll 8
      for (int c = 0; c < nv; c++) vv[c] = load_kv16(vr, kh * hd + 16 * c, f16);
      for (int64_t gi = 0; gi < group; gi++) {
        const int64_t h = kh * group + gi;
        const __m512 s = _mm512_set1_ps(scores[h * n + p]);
        float *oh = out + h * hd;
#pragma GCC unroll 8
        for (int c = 0; c < nv; c++) _mm512_storeu_ps(oh + 16 * c, _mm512_fmadd_ps(s, vv[c], _mm512_loadu_ps(oh + 16 * c)));
      }
    }
  }
}

T512 static int attn_decode_avx512(float *out, const float *q, const void *k, const void *v, int f16, int64_t kvRow, int64_t n, int64_t nkvl, int64_t group, int64_t hd, float scale, float *scores, float *ml) {
  // register-resident K/V slices for the common head sizes
  if (hd == 64 && !f16) attn_decode_hd(out, q, k, v, kvRow, n, nkvl, group, scale, scores, ml, 4, 0);
  else if (hd == 128 && !f16) attn_decode_hd(out, q, k, v, kvRow, n, nkvl, group, scale, scores, ml, 8, 0);
  else if (hd == 64) attn_decode_hd(out, q, k, v, kvRow, n, nkvl, group, scale, scores, ml, 4, 1);
  else if (hd == 128) attn_decode_hd(out, q, k, v, kvRow, n, nkvl, group, scale, scores, ml, 8, 1);
  else return 0;
  return 1;
}

// ---------- quantized kernels ----------

// Start the streams of a row block (decode): the hardware prefetcher needs a few misses to detect
// a stream, and a small matrix (a 768x768 Q8_0 matvec takes ~25 us) loses a visible share of its
// time to that. The first ln_tune_pf_head bytes of the block's rows (metadata and codes; with the
// scales apart, the codes and the matching share of the scale rows, a second stream) are prefetched.
T512 INL void prefetch_head(const ln_weight *w, int64_t r0, int64_t r1) {
  if (ln_tune_pf_head <= 0) return;
  const size_t all = (size_t)(r1 - r0) * w->row_bytes, n = all < (size_t)ln_tune_pf_head ? all : (size_t)ln_tune_pf_head;
  const uint8_t *p0 = (w->meta_in_row ? (const uint8_t *)w->sc : w->qs) + (size_t)r0 * w->row_bytes;
  for (size_t o = 0; o < n; o += 64) _mm_prefetch((const char *)(p0 + o), _MM_HINT_T0);
  if (!w->sc || w->meta_in_row) return;
  const size_t srow = w->sc_stride * 2, rows = n / (w->row_bytes ? w->row_bytes : 1) + 1;
  const uint8_t *s0 = (const uint8_t *)w->sc + (size_t)r0 * srow;
  for (size_t o = 0; o < rows * srow && o < (size_t)(r1 - r0) * srow; o += 64) _mm_prefetch((const char *)(s0 + o), _MM_HINT_T0);
}

// m (1..16) 32-bit lanes from p, the rest zero
T512 INL __m512i load_lanes(const void *p, int m) {
  if (m >= 16) return _mm512_loadu_si512(p);
  return _mm512_maskz_loadu_epi32((__mmask16)((1u << m) - 1), p);
}

// Codes of vector k (values 4k..4k+3 of each block) of group g of a lane-per-block Q8_0 / Q4_0 row.
T512 INL __m512i q0_vector(const uint8_t *row, int64_t g, int m, int k, const int q4) {
  if (!q4) return load_lanes(row + g * 512 + k * 4 * m, m);
  const __m512i v = load_lanes(row + g * 256 + (k >> 1) * 4 * m, m);
  return _mm512_and_si512((k & 1) ? _mm512_srli_epi16(v, 4) : v, _mm512_set1_epi8(0x0f));
}

// Q4_K (repacked): Q4_0's codes and lane-per-block dot products (no zero point); the float step
// applies each sub-block's d*scale and subtracts dmin*min x dx*sum(q). scale16 returns the 16
// blocks' d*scale of a group and their dmin*min in *mins.
T512 INL __m512 q4k_scale16(const uint8_t *meta, __m512 *mins) {
  const __m512 sc = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)meta)));
  const __m512 mn = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(meta + 16))));
  long long dd;
  memcpy(&dd, meta + 32, 8);
  const __m512 d4 = _mm512_cvtph_ps(_mm256_set1_epi64x(dd));  // d0 d1 dmin0 dmin1, repeated
  const __m512 dv = _mm512_permutexvar_ps(_mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0), d4);
  const __m512 mv = _mm512_permutexvar_ps(_mm512_set_epi32(3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2), d4);
  *mins = _mm512_mul_ps(mn, mv);
  return _mm512_mul_ps(sc, dv);
}
// q4k_scale16 of a short last group (common.h: <= 8 sub-blocks, one super-block); lanes 8-15 zero
T512 INL __m512 q4k_scale16_short(const uint8_t *meta, __m512 *mins) {
  const ln_q4k_off o = ln_q4k_offsets(1, 0);
  const __m512 sc = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(meta + o.sc))));
  const __m512 mn = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(meta + o.mn))));
  uint16_t d, dmin;
  memcpy(&d, meta + o.d, 2);
  memcpy(&dmin, meta + o.dmin, 2);
  *mins = _mm512_mul_ps(mn, _mm512_set1_ps(_cvtsh_ss(dmin)));
  return _mm512_mul_ps(sc, _mm512_set1_ps(_cvtsh_ss(d)));
}

// The 16 blocks' weight scales of group g of row r (Q8_0/Q4_0: binary16; Q4_K: d*scale, and
// dmin*min in *mins). kind: 0 Q8_0, 1 Q4_0, 2 Q4_K.
T512 INL __m512 q0_scale16(const ln_weight *w, int64_t r, int64_t g, const int kind, __m512 *mins) {
  if (kind == 2) return ln_q4k_short_group(w->nb, g) ? q4k_scale16_short(ln_q4k_meta(w, r, g), mins) : q4k_scale16(ln_q4k_meta(w, r, g), mins);
  return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(w->sc + (size_t)r * w->sc_stride + 16 * g)));
}

// Q8_0 / Q4_0 / Q4_K in the lane-per-block layout (common.h): int32 lane j of vpdpbusd sums block j
// of a 16-block group over the group's 8 vectors (starting from the zero-point bias), so a group
// costs 8 dpbusd and then one convert + one scale product + one fma for all 16 blocks (Q4_K: and
// one fnmadd for its mins). kind: 0 Q8_0, 1 Q4_0, 2 Q4_K (Q4_0's codes, no zero point).
T512 INL void tile_q0(const ln_weight *w, const ln_act *a, float *out, int64_t ldo, int64_t r, int64_t t, const int NR, const int NT, const int kind) {
  const int q4 = kind != 0;
  const int64_t nb = w->nb;
  __m512 acc[4][4];
  const uint8_t *wr[4];
  const int8_t *xq[4];
#pragma GCC unroll 4
  for (int i = 0; i < NR; i++) wr[i] = w->qs + (size_t)(r + i) * w->row_bytes;
#pragma GCC unroll 4
  for (int j = 0; j < NT; j++) xq[j] = a->qi + (t + j) * a->qi_stride;
#pragma GCC unroll 4
  for (int i = 0; i < NR; i++)
#pragma GCC unroll 4
    for (int j = 0; j < NT; j++) acc[i][j] = _mm512_setzero_ps();
  for (int64_t g = 0; g * 16 < nb; g++) {
    const int m = nb - 16 * g < 16 ? (int)(nb - 16 * g) : 16;
    const __mmask16 mk = m >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << m) - 1);
    __m512 dx[4], cs[4];
    __m512i bias[4];
#pragma GCC unroll 4
    for (int j = 0; j < NT; j++) {
      dx[j] = _mm512_loadu_ps(a->d16 + (t + j) * a->g_stride + 16 * g);
      bias[j] = _mm512_loadu_si512(a->b16 + (t + j) * a->g_stride + 16 * g);
      if (kind == 2) cs[j] = _mm512_maskz_loadu_ps(mk, a->csum + (t + j) * a->c_stride + 16 * g);
    }
#pragma GCC unroll 4
    for (int i = 0; i < NR; i++) {
      __m512 mins;
      const __m512 ws = q0_scale16(w, r + i, g, kind, &mins);
      __m512i s[4];
#pragma GCC unroll 4
      for (int j = 0; j < NT; j++) s[j] = bias[j];
#pragma GCC unroll 8
      for (int k = 0; k < 8; k++) {
        const __m512i wv = q0_vector(wr[i], g, m, k, q4);
#pragma GCC unroll 4
        for (int j = 0; j < NT; j++) s[j] = _mm512_dpbusd_epi32(s[j], wv, load_lanes(xq[j] + g * 512 + k * 4 * m, m));
      }
#pragma GCC unroll 4
      for (int j = 0; j < NT; j++) {
        acc[i][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[j]), _mm512_mul_ps(ws, dx[j]), acc[i][j]);
        if (kind == 2) acc[i][j] = _mm512_fnmadd_ps(mins, cs[j], acc[i][j]);
      }
    }
  }
#pragma GCC unroll 4
  for (int i = 0; i < NR; i++)
#pragma GCC unroll 4
    for (int j = 0; j < NT; j++) out[(t + j) * ldo + r + i] = _mm512_reduce_add_ps(acc[i][j]);
}

// Decode (T = 1): one row at a time, one sequential stream (no software prefetch: the hardware
// prefetcher alone streamed these rows at 80-100% of the read bandwidth, a 1 KiB prefetch
// distance cost up to 20 points). Two dependency chains over a group's 8 vectors; full groups
// load without masks, the partial last group (m blocks) with one lane mask hoisted out of the row
// loop (written inline, the per-row setup of a generic tail cost ~15 points on 11008 columns).
// kind: 0 Q8_0, 1 Q4_0 (Q4_K has its own, mv_q4k)
T512 INL void mv_q0(const ln_weight *w, const ln_act *a, float *out, int64_t r0, int64_t r1, const int kind) {
  const int q4 = kind != 0;
  const int64_t nb = w->nb, full = nb / 16;
  const int m = (int)(nb - 16 * full);
  const __mmask16 mk = (__mmask16)((1u << m) - 1);
  const int64_t gb = q4 ? 256 : 512;  // weight bytes per full group
  const __m512i m0f = _mm512_set1_epi8(0x0f);
  const int8_t *xq = a->qi;
  const int8_t *xt = xq + full * 512;  // the partial group's activations
  const int32_t *bt = a->b16 + 16 * full;
  const float *dt = a->d16 + 16 * full;
  prefetch_head(w, r0, r1);
  for (int64_t r = r0; r < r1; r++) {
    if (w->meta_in_row) ln_prefetch_row_meta(w, r);
    const uint8_t *wr = w->qs + (size_t)r * w->row_bytes;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps(), mins;  // mins: Q4_K only, unused here
    for (int64_t g = 0; g < full; g++) {
      const uint8_t *src = wr + g * gb;
      const int8_t *xs = xq + g * 512;
      __m512i s0 = _mm512_loadu_si512(a->b16 + 16 * g), s1 = _mm512_setzero_si512();
#pragma GCC unroll 4
      for (int k = 0; k < 8; k += 2) {
        __m512i w0, w1;
        if (q4) {
          const __m512i v = _mm512_loadu_si512(src + k * 32);
          w0 = _mm512_and_si512(v, m0f);
          w1 = _mm512_andnot_si512(m0f, v);  // 16 x the high code: s1 is shifted back below
        } else {
          w0 = _mm512_loadu_si512(src + k * 64);
          w1 = _mm512_loadu_si512(src + k * 64 + 64);
        }
        s0 = _mm512_dpbusd_epi32(s0, w0, _mm512_loadu_si512(xs + k * 64));
        s1 = _mm512_dpbusd_epi32(s1, w1, _mm512_loadu_si512(xs + k * 64 + 64));
      }
      if (q4) s1 = _mm512_srai_epi32(s1, 4);  // exact: every term is a multiple of 16
      const __m512 sc = _mm512_mul_ps(q0_scale16(w, r, g, kind, &mins), _mm512_loadu_ps(a->d16 + 16 * g));
      if (g & 1) acc1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1)), sc, acc1);
      else acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1)), sc, acc0);
    }
    if (m && m <= 8 && ln_tune_ymm_tail) {
      // a partial group of at most 8 blocks in 256-bit registers: half the work of a masked
      // 512-bit pass on a double-pumped core (768 columns = 1 full group + 8 blocks)
      const uint8_t *src = wr + full * gb;
      const __mmask8 mk8 = (__mmask8)mk;
      __m256i s0 = _mm256_maskz_loadu_epi32(mk8, bt), s1 = _mm256_setzero_si256();
      for (int k = 0; k < 8; k += 2) {
        __m256i w0, w1;
        if (q4) {
          const __m256i v = _mm256_maskz_loadu_epi32(mk8, src + k * 2 * m);
          w0 = _mm256_and_si256(v, _mm256_set1_epi8(0x0f));
          w1 = _mm256_and_si256(_mm256_srli_epi16(v, 4), _mm256_set1_epi8(0x0f));
        } else {
          w0 = _mm256_maskz_loadu_epi32(mk8, src + k * 4 * m);
          w1 = _mm256_maskz_loadu_epi32(mk8, src + (k + 1) * 4 * m);
        }
        s0 = _mm256_dpbusd_epi32(s0, w0, _mm256_maskz_loadu_epi32(mk8, xt + k * 4 * m));
        s1 = _mm256_dpbusd_epi32(s1, w1, _mm256_maskz_loadu_epi32(mk8, xt + (k + 1) * 4 * m));
      }
      const __m256 sc = _mm256_mul_ps(_mm512_castps512_ps256(q0_scale16(w, r, full, kind, &mins)), _mm256_loadu_ps(dt));
      const __m256 t = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(s0, s1)), sc);
      acc1 = _mm512_add_ps(acc1, _mm512_castps256_ps512(t));
    } else if (m) {
      const uint8_t *src = wr + full * gb;
      __m512i s0 = _mm512_maskz_loadu_epi32(mk, bt), s1 = _mm512_setzero_si512();
      for (int k = 0; k < 8; k += 2) {
        __m512i w0, w1;
        if (q4) {
          const __m512i v = _mm512_maskz_loadu_epi32(mk, src + k * 2 * m);
          w0 = _mm512_and_si512(v, m0f);
          w1 = _mm512_and_si512(_mm512_srli_epi16(v, 4), m0f);
        } else {
          w0 = _mm512_maskz_loadu_epi32(mk, src + k * 4 * m);
          w1 = _mm512_maskz_loadu_epi32(mk, src + (k + 1) * 4 * m);
        }
        s0 = _mm512_dpbusd_epi32(s0, w0, _mm512_maskz_loadu_epi32(mk, xt + k * 4 * m));
        s1 = _mm512_dpbusd_epi32(s1, w1, _mm512_maskz_loadu_epi32(mk, xt + (k + 1) * 4 * m));
      }
      const __m512 sc = _mm512_mul_ps(q0_scale16(w, r, full, kind, &mins), _mm512_loadu_ps(dt));
      acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1)), sc, acc0);
    }
    out[r] = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
  }
}

// The activations of a short row (G <= 2 groups of up to 16 blocks) loaded into registers once
// per call: per group its block count mg, the mask of those blocks and the 8 vectors of codes.
T512 INL void short_acts(const ln_act *a, const int64_t nb, const int G, __m512i xv[2][8], __mmask16 mask[2], int mg[2]) {
  const int m_last = (int)(nb - 16 * (G - 1));
#pragma GCC unroll 2
  for (int g = 0; g < G; g++) {
    mg[g] = g < G - 1 ? 16 : m_last;
    mask[g] = mg[g] >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << mg[g]) - 1);
#pragma GCC unroll 8
    for (int k = 0; k < 8; k++) xv[g][k] = _mm512_maskz_loadu_epi32(mask[g], a->qi + g * 512 + k * 4 * mg[g]);
  }
}

// Decode of short rows (at most 2 groups, cols <= 1024: every matrix of a 110M model but the
// down projection): the interleaved activations, their biases and scales stay in registers for
// the whole call, so a group costs 4 weight loads instead of 4 weight + 8 activation loads.
T512 INL void mv_q0_short(const ln_weight *w, const ln_act *a, float *out, int64_t r0, int64_t r1, const int q4, const int G) {
  prefetch_head(w, r0, r1);
  const int64_t nb = w->nb;
  const int64_t gb = q4 ? 256 : 512;
  const __m512i m0f = _mm512_set1_epi8(0x0f);
  __mmask16 mask[2];
  int mg[2];
  __m512i xv[2][8], bias[2];
  __m512 dx[2];
  short_acts(a, nb, G, xv, mask, mg);
#pragma GCC unroll 2
  for (int g = 0; g < G; g++) {
    bias[g] = _mm512_loadu_si512(a->b16 + 16 * g);
    dx[g] = _mm512_loadu_ps(a->d16 + 16 * g);
  }
  for (int64_t r = r0; r < r1; r++) {
    const uint8_t *wr = w->qs + (size_t)r * w->row_bytes;
    const uint16_t *sr = w->sc + (size_t)r * w->sc_stride;
    __m512 acc = _mm512_setzero_ps();
#pragma GCC unroll 2
    for (int g = 0; g < G; g++) {
      const uint8_t *src = wr + g * gb;
      const int m = mg[g];
      __m512i s0 = bias[g], s1 = _mm512_setzero_si512();
#pragma GCC unroll 4
      for (int k = 0; k < 8; k += 2) {
        __m512i w0, w1;
        if (q4) {
          const __m512i v = _mm512_maskz_loadu_epi32(mask[g], src + k * 2 * m);
          w0 = _mm512_and_si512(v, m0f);
          w1 = _mm512_andnot_si512(m0f, v);  // 16 x the high code
        } else {
          w0 = _mm512_maskz_loadu_epi32(mask[g], src + k * 4 * m);
          w1 = _mm512_maskz_loadu_epi32(mask[g], src + (k + 1) * 4 * m);
        }
        s0 = _mm512_dpbusd_epi32(s0, w0, xv[g][k]);
        s1 = _mm512_dpbusd_epi32(s1, w1, xv[g][k + 1]);
      }
      if (q4) s1 = _mm512_srai_epi32(s1, 4);
      const __m512 sc = _mm512_mul_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(sr + 16 * g))), dx[g]);
      acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1)), sc, acc);
    }
    out[r] = _mm512_reduce_add_ps(acc);
  }
}

// Short rows in registers helped Q4_0 (768 columns at 1 thread: 57% -> 66% of the read bandwidth,
// 32000x768 67% -> 77%) but not Q8_0 (no gain on 768 columns, 84% -> 74% on 1024), hence Q4_0 only.
// One group of m (1..16) sub-blocks of a Q4_K row: acc0 += isum * d*scale * dx, acc1 -= dmin*min *
// dx*Σq. MASKED = 0 (full groups): plain loads. Since the metadata moved into the rows (common.h)
// the code vectors are not 64-byte aligned, and masked loads that cross a cache line cost far more
// than plain ones on Zen 4 (a masked full-group loop fell from 71% to 50% of the read limit).
T512 INL void q4k_group(const uint8_t *src, const int8_t *xs, const uint8_t *meta, const float *d16, const float *cs16, const int m, const __mmask16 mk,
                        const int MASKED, __m512 *acc0, __m512 *acc1) {
  const __m512i m0f = _mm512_set1_epi8(0x0f);
  __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
#pragma GCC unroll 4
  for (int k = 0; k < 8; k += 2) {
    const __m512i v = MASKED ? _mm512_maskz_loadu_epi32(mk, src + k * 2 * m) : _mm512_loadu_si512(src + k * 32);
    const __m512i x0 = MASKED ? _mm512_maskz_loadu_epi32(mk, xs + k * 4 * m) : _mm512_loadu_si512(xs + k * 64);
    const __m512i x1 = MASKED ? _mm512_maskz_loadu_epi32(mk, xs + (k + 1) * 4 * m) : _mm512_loadu_si512(xs + k * 64 + 64);
    s0 = _mm512_dpbusd_epi32(s0, _mm512_and_si512(v, m0f), x0);
    s1 = _mm512_dpbusd_epi32(s1, _mm512_andnot_si512(m0f, v), x1);
  }
  s0 = _mm512_add_epi32(s0, _mm512_srai_epi32(s1, 4));  // s1 summed 16 x the high codes
  __m512 mins;
  const __m512 ws = MASKED && m <= 8 ? q4k_scale16_short(meta, &mins) : q4k_scale16(meta, &mins);
  const __m512 dx = _mm512_loadu_ps(d16);
  const __m512 cs = MASKED ? _mm512_maskz_loadu_ps(mk, cs16) : _mm512_loadu_ps(cs16);
  *acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s0), _mm512_mul_ps(ws, dx), *acc0);
  *acc1 = _mm512_fnmadd_ps(mins, cs, *acc1);
}

// Decode (T = 1) of Q4_K rows, as mv_q0: one row at a time, the partial group's mask hoisted. Kept
// apart from mv_q0 although it could be a `kind` of it: that merge measured 3-3.5 points slower on
// 11008x4096 at 1 thread (same-process A/B, 77.6 / 80.0% against 81.0 / 83.2% of the read limit).
T512 INL void mv_q4k(const ln_weight *w, const ln_act *a, float *out, int64_t r0, int64_t r1) {
  prefetch_head(w, r0, r1);
  const int64_t nb = w->nb, full = nb / 16;
  const int m_last = (int)(nb - 16 * full);
  const __mmask16 mk_last = (__mmask16)((1u << m_last) - 1);
  const int8_t *xq = a->qi;
  for (int64_t r = r0; r < r1; r++) {
    ln_prefetch_row_meta(w, r);
    const uint8_t *wr = w->qs + (size_t)r * w->row_bytes;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    for (int64_t g = 0; g < full; g++)
      q4k_group(wr + g * 256, xq + g * 512, ln_q4k_meta(w, r, g), a->d16 + 16 * g, a->csum + 16 * g, 16, (__mmask16)0xffff, 0, &acc0, &acc1);
    if (m_last)
      q4k_group(wr + full * 256, xq + full * 512, ln_q4k_meta(w, r, full), a->d16 + 16 * full, a->csum + 16 * full, m_last, mk_last, 1, &acc0, &acc1);
    out[r] = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
  }
}

// Decode of short Q4_K rows (at most 2 groups, cols <= 1024: every Q4_K matrix of a 110M model
// but the down projection). The activations, their scales and Σq stay in registers for the whole
// call, and a last group of at most 8 sub-blocks (768 columns = 16 + 8) runs in 256-bit registers:
// its lanes 0-7 are one super-block, so its scales need only d and dmin of that one. mv_q4k
// streamed 768-column rows at ~53% of the read bandwidth, its loop being mostly activation loads
// and masked work on the partial group.
// Decode of short Q8_0 rows (cols <= 1024, G <= 2 groups): mv_q0_short's activations in
// registers, with a last group of at most 8 blocks in 256-bit registers as mv_q0's tail
// (mv_q0_short ran that group masked at full width: no gain for Q8_0 on 768 columns).
T512 INL void mv_q8_short(const ln_weight *w, const ln_act *a, float *out, int64_t r0, int64_t r1, const int G, const int ytail) {
  prefetch_head(w, r0, r1);
  const int64_t nb = w->nb;
  __mmask16 mask[2];
  int mg[2];
  __m512i xv[2][8], bias[2];
  __m512 dx[2];
  short_acts(a, nb, G, xv, mask, mg);
#pragma GCC unroll 2
  for (int g = 0; g < G; g++) {
    bias[g] = _mm512_maskz_loadu_epi32(mask[g], a->b16 + 16 * g);
    dx[g] = _mm512_maskz_loadu_ps(mask[g], a->d16 + 16 * g);
  }
  const __mmask8 mk8 = (__mmask8)mask[G - 1];
  for (int64_t r = r0; r < r1; r++) {
    const uint8_t *wr = w->qs + (size_t)r * w->row_bytes;
    const uint16_t *sr = w->sc + (size_t)r * w->sc_stride;
    __m512 acc = _mm512_setzero_ps();
#pragma GCC unroll 2
    for (int g = 0; g < G; g++) {
      const uint8_t *src = wr + g * 512;
      const int m = mg[g];
      if (ytail && g == G - 1) {
        __m256i s0 = _mm512_castsi512_si256(bias[g]), s1 = _mm256_setzero_si256();
#pragma GCC unroll 4
        for (int k = 0; k < 8; k += 2) {
          const __m256i w0 = m == 8 ? _mm256_loadu_si256((const __m256i *)(src + k * 4 * m)) : _mm256_maskz_loadu_epi32(mk8, src + k * 4 * m);
          const __m256i w1 = m == 8 ? _mm256_loadu_si256((const __m256i *)(src + (k + 1) * 4 * m)) : _mm256_maskz_loadu_epi32(mk8, src + (k + 1) * 4 * m);
          s0 = _mm256_dpbusd_epi32(s0, w0, _mm512_castsi512_si256(xv[g][k]));
          s1 = _mm256_dpbusd_epi32(s1, w1, _mm512_castsi512_si256(xv[g][k + 1]));
        }
        const __m256 sc = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(sr + 16 * g))), _mm512_castps512_ps256(dx[g]));
        acc = _mm512_add_ps(acc, _mm512_zextps256_ps512(_mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(s0, s1)), sc)));
      } else {
        __m512i s0 = bias[g], s1 = _mm512_setzero_si512();
#pragma GCC unroll 4
        for (int k = 0; k < 8; k += 2) {
          const __m512i w0 = m >= 16 ? _mm512_loadu_si512(src + k * 4 * m) : _mm512_maskz_loadu_epi32(mask[g], src + k * 4 * m);
          const __m512i w1 = m >= 16 ? _mm512_loadu_si512(src + (k + 1) * 4 * m) : _mm512_maskz_loadu_epi32(mask[g], src + (k + 1) * 4 * m);
          s0 = _mm512_dpbusd_epi32(s0, w0, xv[g][k]);
          s1 = _mm512_dpbusd_epi32(s1, w1, xv[g][k + 1]);
        }
        const __m512 sc = _mm512_mul_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(sr + 16 * g))), dx[g]);
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1)), sc, acc);
      }
    }
    out[r] = _mm512_reduce_add_ps(acc);
  }
}

// One row of mv_q4k_short: its two accumulators' sum.
T512 INL __m512 q4k_short_row(const ln_weight *w, int64_t r, const __m512i xv[2][8], const __m512 dx[2], const __m512 cs[2], const __mmask16 mask[2], const int mg[2],
                              const int G, const int ytail) {
  const __m512i m0f = _mm512_set1_epi8(0x0f);
  const __m256i m0f8 = _mm256_set1_epi8(0x0f);
  const uint8_t *wr = w->qs + (size_t)r * w->row_bytes;
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
#pragma GCC unroll 2
  for (int g = 0; g < G; g++) {
    const uint8_t *src = wr + g * 256;
    const int m = mg[g];
    const uint8_t *meta = ln_q4k_meta(w, r, g);
    if (ytail && g == G - 1) {
      const __mmask8 mk8 = (__mmask8)mask[g];
      __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
#pragma GCC unroll 4
      for (int k = 0; k < 8; k += 2) {
        const __m256i v = _mm256_maskz_loadu_epi32(mk8, src + k * 2 * m);
        s0 = _mm256_dpbusd_epi32(s0, _mm256_and_si256(v, m0f8), _mm512_castsi512_si256(xv[g][k]));
        s1 = _mm256_dpbusd_epi32(s1, _mm256_andnot_si256(m0f8, v), _mm512_castsi512_si256(xv[g][k + 1]));
      }
      s0 = _mm256_add_epi32(s0, _mm256_srai_epi32(s1, 4));
      // lanes 0-7: one super-block in the short metadata layout (common.h), its 8 scales and 8
      // mins in one vector (16 bytes -> 16 floats) times [d x 8, dmin x 8]: 1.2-2.5 points of the
      // read limit at 1 thread over two 256-bit unpacks with scalar binary16 conversions
      int32_t dpair;
      memcpy(&dpair, meta + 16, 4);
      const __m512 sm = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)meta)));
      const __m512 dd = _mm512_permutexvar_ps(_mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0), _mm512_castps128_ps512(_mm_cvtph_ps(_mm_cvtsi32_si128(dpair))));
      const __m512 wsmn = _mm512_mul_ps(sm, dd);
      const __m256 ws = _mm512_castps512_ps256(wsmn), mn = _mm512_extractf32x8_ps(wsmn, 1);
      __m256 t = _mm256_mul_ps(_mm256_cvtepi32_ps(s0), _mm256_mul_ps(ws, _mm512_castps512_ps256(dx[g])));
      t = _mm256_fnmadd_ps(mn, _mm512_castps512_ps256(cs[g]), t);
      acc1 = _mm512_add_ps(acc1, _mm512_zextps256_ps512(t));
    } else {
      const __mmask16 mk = mask[g];
      __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
#pragma GCC unroll 4
      for (int k = 0; k < 8; k += 2) {
        const __m512i v = m >= 16 ? _mm512_loadu_si512(src + k * 2 * m) : _mm512_maskz_loadu_epi32(mk, src + k * 2 * m);
        s0 = _mm512_dpbusd_epi32(s0, _mm512_and_si512(v, m0f), xv[g][k]);
        s1 = _mm512_dpbusd_epi32(s1, _mm512_andnot_si512(m0f, v), xv[g][k + 1]);
      }
      s0 = _mm512_add_epi32(s0, _mm512_srai_epi32(s1, 4));
      __m512 mins;
      const __m512 ws = q4k_scale16(meta, &mins);
      acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s0), _mm512_mul_ps(ws, dx[g]), acc0);
      acc1 = _mm512_fnmadd_ps(mins, cs[g], acc1);
    }
  }
  return _mm512_add_ps(acc0, acc1);
}

// Decode of short Q4_K rows (at most 2 groups, cols <= 1024: every Q4_K matrix of a 110M model
// but the down projection). The activations, their scales and Σq stay in registers for the whole
// call, and a last group of at most 8 sub-blocks (768 columns = 16 + 8) runs in 256-bit registers:
// its lanes 0-7 are one super-block, so its scales need only d and dmin of that one. mv_q4k
// streamed 768-column rows at ~48% of the read bandwidth at 1 thread (its loop mostly activation
// loads and masked work on the partial group), this at 57-68%.
T512 INL void mv_q4k_short(const ln_weight *w, const ln_act *a, float *out, int64_t r0, int64_t r1, const int G, const int ytail) {
  prefetch_head(w, r0, r1);
  const int64_t nb = w->nb;
  __m512i xv[2][8];
  __m512 dx[2], cs[2];
  __mmask16 mask[2];
  int mg[2];
  short_acts(a, nb, G, xv, mask, mg);
#pragma GCC unroll 2
  for (int g = 0; g < G; g++) {
    dx[g] = _mm512_maskz_loadu_ps(mask[g], a->d16 + 16 * g);
    cs[g] = _mm512_maskz_loadu_ps(mask[g], a->csum + 16 * g);
  }
  // (reducing four rows' accumulators together, ~3.5 shuffles and adds a row instead of ~9,
  // measured no gain)
  for (int64_t r = r0; r < r1; r++) out[r] = _mm512_reduce_add_ps(q4k_short_row(w, r, xv, dx, cs, mask, mg, G, ytail));
}

T512 INL void mv_q0_any(const ln_weight *w, const ln_act *a, float *out, int64_t r0, int64_t r1, const int kind) {
  if (kind == 2) {
    const int64_t nb = w->nb;
    if (ln_tune_q4k_short && nb <= 16) mv_q4k_short(w, a, out, r0, r1, 1, nb <= 8);
    else if (ln_tune_q4k_short && nb <= 32) mv_q4k_short(w, a, out, r0, r1, 2, nb <= 24);
    else mv_q4k(w, a, out, r0, r1);
  } else if (kind == 0) {
    const int64_t nb = w->nb;
    if (ln_tune_q8_short && nb <= 16) mv_q8_short(w, a, out, r0, r1, 1, nb <= 8);
    else if (ln_tune_q8_short && nb <= 32) mv_q8_short(w, a, out, r0, r1, 2, nb <= 24);
    else mv_q0(w, a, out, r0, r1, 0);
  }
  else if (ln_tune_mv_short && w->nb <= 16) mv_q0_short(w, a, out, r0, r1, 1, 1);
  else if (ln_tune_mv_short && w->nb <= 32) mv_q0_short(w, a, out, r0, r1, 1, 2);
  else mv_q0(w, a, out, r0, r1, 1);
}


// Q6_K (repacked, common.h): the 4 code vectors of a group (super-block) from its 192 bytes:
// vectors 0-2 are the low 6 bits of bytes 0..191, vector 3 gathers their bits 6-7 (16-bit shifts
// move each byte's top 2 bits into place; bits from the neighbour byte are masked off).
T512 INL void q6k_vectors(const uint8_t *grp, __m512i v[4], const __mmask16 mk) {
  const __m512i m3f = _mm512_set1_epi8(0x3f), m03 = _mm512_set1_epi8(0x03), m0f = _mm512_set1_epi8(0x0f);
  const __m512i a = _mm512_maskz_loadu_epi32(mk, grp), b = _mm512_maskz_loadu_epi32(mk, grp + 64), c = _mm512_maskz_loadu_epi32(mk, grp + 128);
  v[0] = _mm512_and_si512(a, m3f);
  v[1] = _mm512_and_si512(b, m3f);
  v[2] = _mm512_and_si512(c, m3f);
  // 0xE4: bitwise select, third operand ? first : second
  const __m512i ab = _mm512_ternarylogic_epi32(_mm512_srli_epi16(a, 6), _mm512_srli_epi16(b, 4), m03, 0xE4);
  v[3] = _mm512_and_si512(_mm512_ternarylogic_epi32(ab, _mm512_srli_epi16(c, 2), m0f, 0xE4), m3f);
}

// d * scale of a group's 16 sub-blocks
T512 INL __m512 q6k_scale16(const uint8_t *meta) {
  return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)meta))), _mm512_set1_ps(ln_q6k_d(meta)));
}

T512 INL void tile_q6k(const ln_weight *w, const ln_act *a, float *out, int64_t ldo, int64_t r, int64_t t, const int NR, const int NT) {
  const int64_t nsb = w->cols / 256;
  __m512 acc[4][4];
  const uint8_t *wr[4];
#pragma GCC unroll 4
  for (int i = 0; i < NR; i++) wr[i] = w->qs + (size_t)(r + i) * w->row_bytes;
#pragma GCC unroll 4
  for (int i = 0; i < NR; i++)
#pragma GCC unroll 4
    for (int j = 0; j < NT; j++) acc[i][j] = _mm512_setzero_ps();
  for (int64_t g = 0; g < nsb; g++) {
    __m512i xv[4][4], bias[4];
    __m512 dx[4];
#pragma GCC unroll 4
    for (int j = 0; j < NT; j++) {
      const int8_t *xq = a->qi + (t + j) * a->qi_stride + g * 256;
#pragma GCC unroll 4
      for (int k = 0; k < 4; k++) xv[j][k] = _mm512_loadu_si512(xq + 64 * k);
      bias[j] = _mm512_loadu_si512(a->b16 + (t + j) * a->g_stride + 16 * g);
      dx[j] = _mm512_loadu_ps(a->d16 + (t + j) * a->g_stride + 16 * g);
    }
#pragma GCC unroll 4
    for (int i = 0; i < NR; i++) {
      __m512i v[4];
      q6k_vectors(wr[i] + g * 192, v, (__mmask16)0xffff);
      const __m512 ws = q6k_scale16(ln_q6k_meta(w, r + i, g));
#pragma GCC unroll 4
      for (int j = 0; j < NT; j++) {
        __m512i s = bias[j];
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) s = _mm512_dpbusd_epi32(s, v[k], xv[j][k]);
        acc[i][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(ws, dx[j]), acc[i][j]);
      }
    }
  }
#pragma GCC unroll 4
  for (int i = 0; i < NR; i++)
#pragma GCC unroll 4
    for (int j = 0; j < NT; j++) out[(t + j) * ldo + r + i] = _mm512_reduce_add_ps(acc[i][j]);
}

// One 256-value group of a Q6_K row against the int8 activations: the 16 sub-block integer sums
// (the activations' bias term b16 folded in), shared by both decode kernels below.
T512 INL __m512i q6k_group_sums(const uint8_t *wr, const ln_act *a, int64_t g) {
  __m512i v[4];
  q6k_vectors(wr + g * 192, v, (__mmask16)0xffff);
  const int8_t *xq = a->qi + g * 256;
  // one chain: the groups (and rows) are independent, so the dpbusd latency hides behind them,
  // and the sums are the same integers as with two chains and an add (one operation fewer)
  __m512i s = _mm512_loadu_si512(a->b16 + 16 * g);
  s = _mm512_dpbusd_epi32(s, v[0], _mm512_loadu_si512(xq));
  s = _mm512_dpbusd_epi32(s, v[1], _mm512_loadu_si512(xq + 64));
  s = _mm512_dpbusd_epi32(s, v[2], _mm512_loadu_si512(xq + 128));
  return _mm512_dpbusd_epi32(s, v[3], _mm512_loadu_si512(xq + 192));
}

// Decode (T = 1) of Q6_K rows: one row at a time, two accumulator chains.
T512 INL void mv_q6k_1(const ln_weight *w, const ln_act *a, float *out, int64_t r0, int64_t r1) {
  const int64_t nsb = w->cols / 256;
  for (int64_t r = r0; r < r1; r++) {
    const uint8_t *wr = w->qs + (size_t)r * w->row_bytes;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    for (int64_t g = 0; g < nsb; g++) {
      const __m512i sums = q6k_group_sums(wr, a, g);
      const __m512 sc = _mm512_mul_ps(q6k_scale16(ln_q6k_meta(w, r, g)), _mm512_loadu_ps(a->d16 + 16 * g));
      if (g & 1) acc1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sums), sc, acc1);
      else acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sums), sc, acc0);
    }
    out[r] = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
  }
}

// Decode of Q6_K rows of more than 4 groups (mv_q6k_3 / mv_q6k_long), as mv_q6k_1 but the sub-blocks' int8
// scales multiply the integer sums (one vpmulld; |sum((code - 32) * x) * scale| <= 16 * 32 * 127 *
// 128 fits in int32) and d converts with F16C: per group one convert and one product fewer than the
// float route (same-process A/B on 11008x4096 at 1 thread, knob q6k, busy machine: 1.05-1.08x).
// Two rows at a time sharing the activations' loads measured 0.4-0.6x (a second stream).
// COMPACT: the zero-point biases and the block scales come from the smaller record of mv_q6k_long
// (negsum, d8) instead of the full one (a->b16, a->d16); the integers and floats are the same.
T512 INL void mv_q6k_rows(const ln_weight *w, const ln_act *a, float *out, int64_t r0, int64_t r1, const int16_t *negsum, const float *d8, const int COMPACT) {
  prefetch_head(w, r0, r1);
  const int64_t nsb = w->cols / 256;
  const __m512i pairs = _mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
  for (int64_t r = r0; r < r1; r++) {
    ln_prefetch_row_meta(w, r);
    const uint8_t *wr = w->qs + (size_t)r * w->row_bytes;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    for (int64_t g = 0; g < nsb; g++) {
      __m512i v[4];
      q6k_vectors(wr + g * 192, v, (__mmask16)0xffff);
      const int8_t *xq = a->qi + g * 256;
      // one chain: the groups (and rows) are independent, so the dpbusd latency hides behind them
      __m512i sum = COMPACT ? _mm512_slli_epi32(_mm512_cvtepi16_epi32(_mm256_load_si256((const __m256i *)(negsum + 16 * g))), 5) : _mm512_loadu_si512(a->b16 + 16 * g);
      sum = _mm512_dpbusd_epi32(sum, v[0], _mm512_loadu_si512(xq));
      sum = _mm512_dpbusd_epi32(sum, v[1], _mm512_loadu_si512(xq + 64));
      sum = _mm512_dpbusd_epi32(sum, v[2], _mm512_loadu_si512(xq + 128));
      sum = _mm512_dpbusd_epi32(sum, v[3], _mm512_loadu_si512(xq + 192));
      const uint8_t *m = ln_q6k_meta(w, r, g);
      const __m512 p = _mm512_cvtepi32_ps(_mm512_mullo_epi32(sum, _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)m))));
      const __m512 dx = COMPACT ? _mm512_permutexvar_ps(pairs, _mm512_castps256_ps512(_mm256_load_ps(d8 + 8 * g))) : _mm512_loadu_ps(a->d16 + 16 * g);
      const __m512 sc = _mm512_mul_ps(dx, _mm512_set1_ps(ln_q6k_d(m)));
      if (g & 1) acc1 = _mm512_fmadd_ps(p, sc, acc1);
      else acc0 = _mm512_fmadd_ps(p, sc, acc0);
    }
    out[r] = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
  }
}

T512 INL void mv_q6k_3(const ln_weight *w, const ln_act *a, float *out, int64_t r0, int64_t r1) { mv_q6k_rows(w, a, out, r0, r1, NULL, NULL, 0); }

// mv_q6k_3 with a smaller activation record. Per group the full record holds 256 bytes of int8
// activations, 16 int32 zero-point biases (-32 x the sub-block sums) and 16 float scales, pairs of
// them equal (a 32-value block spans two sub-blocks): 384 bytes for 192 bytes of codes, 16.5 KB a
// row at 11008 columns, which with the weight stream no longer stays in L1. Here the biases are
// int16 (-sum, exact: |sum| <= 16 x 127) and the scales are kept once per block, built by each call
// on its stack (~6 operations a group): 320 bytes. Same integers, same floats, same bits.
#define LN_Q6K_LONG_MAX 256  // groups (65536 columns) the stack record holds
T512 INL void mv_q6k_long(const ln_weight *w, const ln_act *a, float *out, int64_t r0, int64_t r1) {
  const int64_t nsb = w->cols / 256;
  int16_t negsum[LN_Q6K_LONG_MAX * 16] __attribute__((aligned(64)));
  float d8[LN_Q6K_LONG_MAX * 8 + 8] __attribute__((aligned(64)));
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  for (int64_t g = 0; g < nsb; g++) {
    _mm256_store_si256((__m256i *)(negsum + 16 * g), _mm512_cvtepi32_epi16(_mm512_srai_epi32(_mm512_loadu_si512(a->b16 + 16 * g), 5)));
    if (g & 1) continue;  // two groups' 8 block scales per store
    const __m512 lo = _mm512_loadu_ps(a->d16 + 16 * g);
    const __m512 hi = g + 1 < nsb ? _mm512_loadu_ps(a->d16 + 16 * (g + 1)) : _mm512_setzero_ps();
    _mm512_store_ps(d8 + 8 * g, _mm512_permutex2var_ps(lo, even, hi));
  }
  mv_q6k_rows(w, a, out, r0, r1, negsum, d8, 1);
}

// mv_q6k_3 for rows of at most 4 groups (cols <= 1024: the output matrix and attn_v of a 110M
// Q4_K_M model): the activations and their biases and scales stay in registers for the whole call
// (NG x 4 + 2 NG vectors), so a group costs its 3 weight loads and the meta loads only.
T512 INL void mv_q6k_short(const ln_weight *w, const ln_act *a, float *out, int64_t r0, int64_t r1, const int NG) {
  prefetch_head(w, r0, r1);
  __m512i xv[4][4], bias[4];
  __m512 dx[4];
#pragma GCC unroll 4
  for (int g = 0; g < NG; g++) {
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) xv[g][k] = _mm512_loadu_si512(a->qi + g * 256 + 64 * k);
    bias[g] = _mm512_loadu_si512(a->b16 + 16 * g);
    dx[g] = _mm512_loadu_ps(a->d16 + 16 * g);
  }
  for (int64_t r = r0; r < r1; r++) {
    const uint8_t *wr = w->qs + (size_t)r * w->row_bytes;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
#pragma GCC unroll 4
    for (int g = 0; g < NG; g++) {
      __m512i v[4];
      q6k_vectors(wr + g * 192, v, (__mmask16)0xffff);
      __m512i s = _mm512_dpbusd_epi32(bias[g], v[0], xv[g][0]);  // one chain, as q6k_group_sums
      s = _mm512_dpbusd_epi32(s, v[1], xv[g][1]);
      s = _mm512_dpbusd_epi32(s, v[2], xv[g][2]);
      s = _mm512_dpbusd_epi32(s, v[3], xv[g][3]);
      const uint8_t *m = ln_q6k_meta(w, r, g);
      const __m512 p = _mm512_cvtepi32_ps(_mm512_mullo_epi32(s, _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)m))));
      const __m512 sc = _mm512_mul_ps(dx[g], _mm512_set1_ps(ln_q6k_d(m)));  // d: a broadcast memory operand
      if (g & 1) acc1 = _mm512_fmadd_ps(p, sc, acc1);
      else acc0 = _mm512_fmadd_ps(p, sc, acc0);
    }
    out[r] = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
  }
}

T512 INL void mv_q6k(const ln_weight *w, const ln_act *a, float *out, int64_t r0, int64_t r1) {
  const int64_t nsb = w->cols / 256;
  if (ln_tune_q6k == 0) mv_q6k_1(w, a, out, r0, r1);
  else if (ln_tune_q6k_short && nsb == 1) mv_q6k_short(w, a, out, r0, r1, 1);
  else if (ln_tune_q6k_short && nsb == 2) mv_q6k_short(w, a, out, r0, r1, 2);
  else if (ln_tune_q6k_short && nsb == 3) mv_q6k_short(w, a, out, r0, r1, 3);
  else if (ln_tune_q6k_short && nsb == 4) mv_q6k_short(w, a, out, r0, r1, 4);
  else if (ln_tune_q6k == 1 && nsb <= LN_Q6K_LONG_MAX) mv_q6k_long(w, a, out, r0, r1);
  else mv_q6k_3(w, a, out, r0, r1);
}

// The int8 core of the outer-product prefill kernels: 16-byte slices k0..k1-1 of block b, for a
// tile of 4 row quads (A, repacked rows) x 2 token quads (bq), into iacc (one (row, token) pair per
// int32 lane). Inlined with constant bounds, it unrolls as the loops it replaces.
T512 INL void outer_dots(__m512i iacc[4][2], const uint8_t *A, const uint8_t *bq[2], int64_t nb, int64_t b,
                         int k0, int k1, __m512i tok_idx) {
#pragma GCC unroll 8
  for (int k = k0; k < k1; k++) {
    __m512i bv[2], av[4];
#pragma GCC unroll 2
    for (int j = 0; j < 2; j++) bv[j] = _mm512_permutexvar_epi32(tok_idx, _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(bq[j] + k * 16))));
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) av[i] = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(A + ((size_t)i * nb + b) * 128 + k * 16)));
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++)
#pragma GCC unroll 2
      for (int j = 0; j < 2; j++) iacc[i][j] = _mm512_dpbusd_epi32(iacc[i][j], av[i], bv[j]);
  }
}

// ---------- outer-product int8 kernel for prefill (Q8_0 / Q4_0, T >= 8) ----------

// Each int32 lane of vpdpbusd holds a different (row, token) pair (lane l: row l%4 of a row quad,
// token l/4 of a token quad), so a block's 32 values take 8 dpbusd per (row quad, token quad)
// and the float work (convert, scale, accumulate) is done once per block for 16 pairs instead of
// once per pair. Register tile: 4 row quads x 2 token quads.

// Slot k (values 4k..4k+3) of 4 rows' block b -> A: [r0, r1, r2, r3] x 4 bytes per slot. In the
// lane-per-block layout each slot of a row is one aligned dword (common.h), so this is 32 dword
// copies per block and row quad (Q4_0: the dword's nibbles of vector k).
// Store an outer-product tile: facc[i][j] lane l is the output of row r + 4i + l%4 and token
// 4(tq + j) + l/4 (the layout outer_dots accumulates in). Token 4(tq + j) + q's 16 rows are
// 128-bit lane q of facc[0..3][j]: a 4x4 transpose of 128-bit lanes (8 shuffles) gives them as one
// vector each (they were 16 scalar stores a token through a stack copy).
T512 INL void outer_store(float *out, int64_t ldo, int64_t r, int64_t tq, __m512 facc[4][2]) {
#pragma GCC unroll 2
  for (int j = 0; j < 2; j++) {
    const __m512 t0 = _mm512_shuffle_f32x4(facc[0][j], facc[1][j], _MM_SHUFFLE(1, 0, 1, 0));  // q0 q1 of rows 0-3, 4-7
    const __m512 t1 = _mm512_shuffle_f32x4(facc[2][j], facc[3][j], _MM_SHUFFLE(1, 0, 1, 0));  // q0 q1 of rows 8-11, 12-15
    const __m512 t2 = _mm512_shuffle_f32x4(facc[0][j], facc[1][j], _MM_SHUFFLE(3, 2, 3, 2));
    const __m512 t3 = _mm512_shuffle_f32x4(facc[2][j], facc[3][j], _MM_SHUFFLE(3, 2, 3, 2));
    float *o = out + 4 * (tq + j) * ldo + r;
    _mm512_storeu_ps(o, _mm512_shuffle_f32x4(t0, t1, _MM_SHUFFLE(2, 0, 2, 0)));
    _mm512_storeu_ps(o + ldo, _mm512_shuffle_f32x4(t0, t1, _MM_SHUFFLE(3, 1, 3, 1)));
    _mm512_storeu_ps(o + 2 * ldo, _mm512_shuffle_f32x4(t2, t3, _MM_SHUFFLE(2, 0, 2, 0)));
    _mm512_storeu_ps(o + 3 * ldo, _mm512_shuffle_f32x4(t2, t3, _MM_SHUFFLE(3, 1, 3, 1)));
  }
}

T512 INL void outer_pack_a(uint8_t *dst, const uint8_t *const row[4], int64_t nb, int64_t b, const int q4) {
  const int64_t g = b >> 4, j = b & 15, m = nb - 16 * g < 16 ? nb - 16 * g : 16;
  for (int k = 0; k < 8; k++)
    for (int r = 0; r < 4; r++) {
      uint32_t v;
      if (!q4) {
        memcpy(&v, row[r] + g * 512 + k * 4 * m + 4 * j, 4);
      } else {
        memcpy(&v, row[r] + g * 256 + (k >> 1) * 4 * m + 4 * j, 4);
        v = (k & 1 ? v >> 4 : v) & 0x0f0f0f0fu;
      }
      memcpy(dst + k * 16 + r * 4, &v, 4);
    }
}

// Q4_K: 4 rows' block b -> A's slots (the codes are laid out as Q4_0's), and per row d*scale and
// dmin*min in the lane order of AS / AM.
// The scales come from a per-group table (gs / gm: 4 rows x 16 blocks of group b/16, filled by
// q4k_pack_scales at the group's first block): the same products as ln_q4k_block_scale (binary16
// d times the 6-bit scale, one rounding), without its scalar conversions per block and row.
T512 INL void q4k_pack_scales(const ln_weight *w, int64_t r, int64_t g, float gs[4][16], float gm[4][16]) {
  for (int k = 0; k < 4; k++) {
    __m512 mins;
    const uint8_t *meta = ln_q4k_meta(w, r + k, g);
    _mm512_storeu_ps(gs[k], ln_q4k_short_group(w->nb, g) ? q4k_scale16_short(meta, &mins) : q4k_scale16(meta, &mins));
    _mm512_storeu_ps(gm[k], mins);
  }
}
T512 INL void outer_pack_q4k(const ln_weight *w, uint8_t *dst, float *as, float *am, const uint8_t *const row[4], int64_t b, float gs[4][16], float gm[4][16]) {
  outer_pack_a(dst, row, w->nb, b, 1);
  float d[4], m[4];
  for (int k = 0; k < 4; k++) d[k] = gs[k][b & 15], m[k] = gm[k][b & 15];
  _mm512_storeu_ps(as, _mm512_setr_ps(d[0], d[1], d[2], d[3], d[0], d[1], d[2], d[3], d[0], d[1], d[2], d[3], d[0], d[1], d[2], d[3]));
  _mm512_storeu_ps(am, _mm512_setr_ps(m[0], m[1], m[2], m[3], m[0], m[1], m[2], m[3], m[0], m[1], m[2], m[3], m[0], m[1], m[2], m[3]));
}

// kind: 0 Q8_0, 1 Q4_0, 2 Q4_K (unsigned codes with a per-sub-block min: acc -= dmin*min x dx*sum(q))
T512 INL void outer_q0(const ln_weight *w, const ln_outer *o, float *out, int64_t ldo, int64_t r0, int64_t r1, int64_t tq0, int64_t tq1, uint8_t *scratch, const int kind) {
  const int q4 = kind == 1, qk = kind == 2;
  const int64_t nb = w->nb;
  uint8_t *A = (uint8_t *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);  // (4 quads, nb, 128)
  float *AS = (float *)(A + (size_t)nb * 4 * 128);                          // (4 quads, nb, 16)
  float *AM = AS + (size_t)nb * 4 * 16;                                     // (4 quads, nb, 16), Q4_K
  const __m512i tok_idx = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
  float gs[4][16], gm[4][16];  // Q4_K: the current group's scales (outer_pack_q4k)
  for (int64_t r = r0; r + 16 <= r1; r += 16) {
    for (int i = 0; i < 4; i++) {
      const uint8_t *row[4];
      const uint16_t *sc[4];
      for (int k = 0; k < 4; k++) {
        row[k] = w->qs + (size_t)(r + 4 * i + k) * w->row_bytes;
        sc[k] = w->sc + (size_t)(r + 4 * i + k) * w->sc_stride;
      }
      for (int64_t b = 0; b < nb; b++) {
        if (qk) {
          if ((b & 15) == 0) q4k_pack_scales(w, r + 4 * i, b >> 4, gs, gm);
          outer_pack_q4k(w, A + ((size_t)i * nb + b) * 128, AS + ((size_t)i * nb + b) * 16, AM + ((size_t)i * nb + b) * 16, row, b, gs, gm);
          continue;
        }
        outer_pack_a(A + ((size_t)i * nb + b) * 128, row, nb, b, q4);
        float d[4];
        for (int k = 0; k < 4; k++) d[k] = ln_h2f(sc[k][b]);
        _mm512_storeu_ps(AS + ((size_t)i * nb + b) * 16, _mm512_setr_ps(d[0], d[1], d[2], d[3], d[0], d[1], d[2], d[3], d[0], d[1], d[2], d[3], d[0], d[1], d[2], d[3]));
      }
    }
    const int64_t nr_next = r1 - (r + 16) < 16 ? r1 - (r + 16) : 16, steps = (tq1 - tq0) / 2;
    for (int64_t tq = tq0; tq + 2 <= tq1; tq += 2) {
      ln_prefetch_rows_share(w, r + 16, r + 16 + nr_next, (tq - tq0) / 2, steps);
      __m512 facc[4][2];
#pragma GCC unroll 4
      for (int i = 0; i < 4; i++)
#pragma GCC unroll 2
        for (int j = 0; j < 2; j++) facc[i][j] = _mm512_setzero_ps();
      for (int64_t b = 0; b < nb; b++) {
        __m512i iacc[4][2];
        const uint8_t *bq[2];
#pragma GCC unroll 2
        for (int j = 0; j < 2; j++) {
          const __m512i bias = _mm512_loadu_si512(o->bbias + ((tq + j) * nb + b) * 16);
#pragma GCC unroll 4
          for (int i = 0; i < 4; i++) iacc[i][j] = bias;
          bq[j] = o->bq + ((size_t)(tq + j) * nb + b) * 128;
        }
        outer_dots(iacc, A, bq, nb, b, 0, 8, tok_idx);
#pragma GCC unroll 2
        for (int j = 0; j < 2; j++) {
          const __m512 bs = _mm512_loadu_ps(o->bscale + ((tq + j) * nb + b) * 16);
#pragma GCC unroll 4
          for (int i = 0; i < 4; i++) {
            const __m512 s = _mm512_mul_ps(_mm512_loadu_ps(AS + ((size_t)i * nb + b) * 16), bs);
            facc[i][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(iacc[i][j]), s, facc[i][j]);
          }
          if (qk) {
            const __m512 bc = _mm512_loadu_ps(o->bcsum + ((tq + j) * nb + b) * 16);
#pragma GCC unroll 4
            for (int i = 0; i < 4; i++) facc[i][j] = _mm512_fnmadd_ps(_mm512_loadu_ps(AM + ((size_t)i * nb + b) * 16), bc, facc[i][j]);
          }
        }
      }
      outer_store(out, ldo, r, tq, facc);
    }
  }
}

// The outer kernels' token-interleaved activations (ln_outer, common.h) of token quad tq from its
// quantized rows: per block, the 4 tokens' 8 dwords interleaved by two vpermt2d (the C loop of
// 4-byte copies it replaces cost 6 us of a 256-column matmul at T = 128, ~30% of its fixed cost),
// and each token's zero-point bias, scale and dx*sum(q) repeated over its 4 lanes.
T512 static void outer_quad_avx512(const ln_act *a, const ln_outer *o, int64_t tq, int64_t nb, int q6k) {
  const __m512i lo = _mm512_setr_epi32(0, 8, 16, 24, 1, 9, 17, 25, 2, 10, 18, 26, 3, 11, 19, 27);
  const __m512i hi = _mm512_setr_epi32(4, 12, 20, 28, 5, 13, 21, 29, 6, 14, 22, 30, 7, 15, 23, 31);
  const __m512i rep = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
  uint8_t *bq = (uint8_t *)o->bq;
  int32_t *bbias = (int32_t *)o->bbias, *bbias2 = (int32_t *)o->bbias2;
  float *bscale = (float *)o->bscale, *bcsum = (float *)o->bcsum;
  const int64_t t0 = 4 * tq;
  const size_t qs = a->q_stride;
  for (int64_t b = 0; b < nb; b++) {
    const int8_t *src = a->q + t0 * qs + b * 32;
    const __m512i A = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)src)), _mm256_loadu_si256((const __m256i *)(src + qs)), 1);
    const __m512i B = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(src + 2 * qs))), _mm256_loadu_si256((const __m256i *)(src + 3 * qs)), 1);
    uint8_t *dst = bq + ((size_t)tq * nb + b) * 128;
    _mm512_storeu_si512(dst, _mm512_permutex2var_epi32(A, lo, B));  // slots 0-3: [token 0..3] x 4 bytes each
    _mm512_storeu_si512(dst + 64, _mm512_permutex2var_epi32(A, hi, B));
    int32_t bi[4], b2[4];
    float dx[4], cs[4];
    for (int j = 0; j < 4; j++) {
      const int32_t *bl = a->bias + (t0 + j) * a->e_stride + b * 8;
      bi[j] = q6k ? bl[0] : bl[0] + bl[4];
      b2[j] = bl[4];
      dx[j] = a->dxe[(t0 + j) * a->e_stride + b * 8];
      cs[j] = a->csum[(t0 + j) * a->c_stride + b];
    }
    const size_t lane = ((size_t)tq * nb + b) * 16;
    _mm512_storeu_si512(bbias + lane, _mm512_permutexvar_epi32(rep, _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)bi))));
    if (q6k) _mm512_storeu_si512(bbias2 + lane, _mm512_permutexvar_epi32(rep, _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)b2))));
    _mm512_storeu_ps(bscale + lane, _mm512_permutexvar_ps(rep, _mm512_castps128_ps512(_mm_loadu_ps(dx))));
    _mm512_storeu_ps(bcsum + lane, _mm512_permutexvar_ps(rep, _mm512_castps128_ps512(_mm_loadu_ps(cs))));
  }
}

T512 static void outer_q8_0_avx512(const ln_weight *w, const ln_outer *o, float *out, int64_t ldo, int64_t r0, int64_t r1, int64_t tq0, int64_t tq1, uint8_t *scratch) {
  outer_q0(w, o, out, ldo, r0, r1, tq0, tq1, scratch, 0);
}
T512 static void outer_q4_0_avx512(const ln_weight *w, const ln_outer *o, float *out, int64_t ldo, int64_t r0, int64_t r1, int64_t tq0, int64_t tq1, uint8_t *scratch) {
  outer_q0(w, o, out, ldo, r0, r1, tq0, tq1, scratch, 1);
}
T512 static void outer_q4_k_avx512(const ln_weight *w, const ln_outer *o, float *out, int64_t ldo, int64_t r0, int64_t r1, int64_t tq0, int64_t tq1, uint8_t *scratch) {
  outer_q0(w, o, out, ldo, r0, r1, tq0, tq1, scratch, 2);
}

// Q6_K outer product (T >= 8), as outer_q0 on 32-value blocks, but Q6_K's scales are per 16
// values: a block's first 4 slots (values 0..15, sub-block 2b) and last 4 (sub-block 2b+1) go
// into the integer accumulators separately, each starting from its half's zero-point bias
// (o->bbias, o->bbias2) and folded into the float sums with its own d*scale (AS, AM).
// Packing: each row's super-block is unpacked once with q6k_vectors (lane j = sub-block j) and
// transposed into A's slots (block b = 8g + jj/2, slot 4*(jj&1) + k) with 128-bit shuffles.
T512 INL void outer_q6k(const ln_weight *w, const ln_outer *o, float *out, int64_t ldo, int64_t r0, int64_t r1, int64_t tq0, int64_t tq1, uint8_t *scratch) {
  const int64_t nb = w->nb, nsb = w->cols / 256;
  uint8_t *A = (uint8_t *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);  // (4 quads, nb, 128)
  float *AS = (float *)(A + (size_t)nb * 4 * 128);                          // (4 quads, nb, 16): d*scale of values 0..15
  float *AM = AS + (size_t)nb * 4 * 16;                                     // (4 quads, nb, 16): d*scale of values 16..31
  const __m512i tok_idx = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
  for (int64_t r = r0; r + 16 <= r1; r += 16) {
    for (int i = 0; i < 4; i++)
      for (int64_t g = 0; g < nsb; g++) {
        // Row k's vector q (lane jj = sub-block jj) belongs at dword jj*16 + q*4 + k of the
        // group's 8 blocks of A: a 4x4 transpose of the 4 rows within each 128-bit lane puts the
        // 4 rows' dwords of (jj, q) side by side, one 16-byte store each.
        __m512i v[4][4];
        __m512 ds[4];
        for (int k = 0; k < 4; k++) {
          const int64_t row = r + 4 * i + k;
          q6k_vectors(w->qs + (size_t)row * w->row_bytes + g * 192, v[k], (__mmask16)0xffff);
          ds[k] = q6k_scale16(ln_q6k_meta(w, row, g));
        }
        uint8_t *dst = A + ((size_t)i * nb + 8 * g) * 128;
        for (int q = 0; q < 4; q++) {
          const __m512i t0 = _mm512_unpacklo_epi32(v[0][q], v[1][q]), t1 = _mm512_unpackhi_epi32(v[0][q], v[1][q]);
          const __m512i t2 = _mm512_unpacklo_epi32(v[2][q], v[3][q]), t3 = _mm512_unpackhi_epi32(v[2][q], v[3][q]);
          __m512i c[4];  // c[m], 128-bit lane L: the 4 rows' dwords of sub-block 4L + m
          c[0] = _mm512_unpacklo_epi64(t0, t2), c[1] = _mm512_unpackhi_epi64(t0, t2);
          c[2] = _mm512_unpacklo_epi64(t1, t3), c[3] = _mm512_unpackhi_epi64(t1, t3);
          for (int m = 0; m < 4; m++) {
            _mm_storeu_si128((__m128i *)(dst + (0 + m) * 64 + q * 16), _mm512_castsi512_si128(c[m]));
            _mm_storeu_si128((__m128i *)(dst + (4 + m) * 64 + q * 16), _mm512_extracti32x4_epi32(c[m], 1));
            _mm_storeu_si128((__m128i *)(dst + (8 + m) * 64 + q * 16), _mm512_extracti32x4_epi32(c[m], 2));
            _mm_storeu_si128((__m128i *)(dst + (12 + m) * 64 + q * 16), _mm512_extracti32x4_epi32(c[m], 3));
          }
        }
        // AS / AM lanes l: d*scale of row l%4's sub-block 2*b8 / 2*b8+1, from the same transpose
        const __m512 u0 = _mm512_unpacklo_ps(ds[0], ds[1]), u1 = _mm512_unpackhi_ps(ds[0], ds[1]);
        const __m512 u2 = _mm512_unpacklo_ps(ds[2], ds[3]), u3 = _mm512_unpackhi_ps(ds[2], ds[3]);
        float tr[16][4];  // tr[jj]: the 4 rows' d*scale of sub-block jj
        const __m512 e[4] = {_mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(u0), _mm512_castps_pd(u2))), _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(u0), _mm512_castps_pd(u2))),
                             _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(u1), _mm512_castps_pd(u3))), _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(u1), _mm512_castps_pd(u3)))};
        for (int m = 0; m < 4; m++)
          for (int L = 0; L < 4; L++) _mm_storeu_ps(tr[4 * L + m], _mm512_extractf32x4_ps(e[m], L));
        for (int b8 = 0; b8 < 8; b8++) {
          const size_t at = ((size_t)i * nb + 8 * g + b8) * 16;
          _mm512_storeu_ps(AS + at, _mm512_broadcast_f32x4(_mm_loadu_ps(tr[2 * b8])));
          _mm512_storeu_ps(AM + at, _mm512_broadcast_f32x4(_mm_loadu_ps(tr[2 * b8 + 1])));
        }
      }
    const int64_t nr_next = r1 - (r + 16) < 16 ? r1 - (r + 16) : 16, steps = (tq1 - tq0) / 2;
    for (int64_t tq = tq0; tq + 2 <= tq1; tq += 2) {
      ln_prefetch_rows_share(w, r + 16, r + 16 + nr_next, (tq - tq0) / 2, steps);
      __m512 facc[4][2];
#pragma GCC unroll 4
      for (int i = 0; i < 4; i++)
#pragma GCC unroll 2
        for (int j = 0; j < 2; j++) facc[i][j] = _mm512_setzero_ps();
      for (int64_t b = 0; b < nb; b++) {
        const uint8_t *bq[2];
        __m512 bs[2], half0[4][2];
#pragma GCC unroll 2
        for (int j = 0; j < 2; j++) {
          bq[j] = o->bq + ((size_t)(tq + j) * nb + b) * 128;
          bs[j] = _mm512_loadu_ps(o->bscale + ((tq + j) * nb + b) * 16);
        }
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
          __m512i iacc[4][2];
#pragma GCC unroll 2
          for (int j = 0; j < 2; j++) {
            const __m512i bias = _mm512_loadu_si512((h ? o->bbias2 : o->bbias) + ((tq + j) * nb + b) * 16);
#pragma GCC unroll 4
            for (int i = 0; i < 4; i++) iacc[i][j] = bias;
          }
          outer_dots(iacc, A, bq, nb, b, 4 * h, 4 * h + 4, tok_idx);
          // (s0 * sc0 + s1 * sc1) * dx: the activation scale multiplies once for both halves
#pragma GCC unroll 4
          for (int i = 0; i < 4; i++) {
            const __m512 sc = _mm512_loadu_ps((h ? AM : AS) + ((size_t)i * nb + b) * 16);
#pragma GCC unroll 2
            for (int j = 0; j < 2; j++) {
              if (!h) half0[i][j] = _mm512_mul_ps(_mm512_cvtepi32_ps(iacc[i][j]), sc);
              else facc[i][j] = _mm512_fmadd_ps(_mm512_fmadd_ps(_mm512_cvtepi32_ps(iacc[i][j]), sc, half0[i][j]), bs[j], facc[i][j]);
            }
          }
        }
      }
      outer_store(out, ldo, r, tq, facc);
    }
  }
}
T512 static void outer_q6_k_avx512(const ln_weight *w, const ln_outer *o, float *out, int64_t ldo, int64_t r0, int64_t r1, int64_t tq0, int64_t tq1, uint8_t *scratch) {
  outer_q6k(w, o, out, ldo, r0, r1, tq0, tq1, scratch);
}

// Row x token tiling: 4x4 tiles, then the leftovers one row or one token at a time.
#define DEFINE_MM(fname, TILE, ...) DEFINE_MM_NR(fname, ln_tune_nr1, TILE, ##__VA_ARGS__)
#define DEFINE_MM_F(fname, TILE, ...) DEFINE_MM_NR(fname, ln_nr1_float(w), TILE, ##__VA_ARGS__)
#define DEFINE_MM_NR(fname, NR1, TILE, ...)                                                                                       \
  T512 static void fname(const ln_weight *w, const ln_act *a, float *out, int64_t ldo, int64_t r0, int64_t r1, int64_t t0, \
                         int64_t t1) {                                                                                    \
    int64_t r = r0;                                                                                                       \
    if (t1 - t0 == 1 && (NR1)) { for (; r < r1; r++) TILE(w, a, out, ldo, r, t0, 1, 1, ##__VA_ARGS__); return; } \
    for (; r + 4 <= r1; r += 4) {                                                                                         \
      int64_t t = t0;                                                                                                     \
      for (; t + 4 <= t1; t += 4) TILE(w, a, out, ldo, r, t, 4, 4, ##__VA_ARGS__);                                        \
      for (; t < t1; t++) TILE(w, a, out, ldo, r, t, 4, 1, ##__VA_ARGS__);                                                \
    }                                                                                                                     \
    for (; r < r1; r++) {                                                                                                 \
      int64_t t = t0;                                                                                                     \
      for (; t + 4 <= t1; t += 4) TILE(w, a, out, ldo, r, t, 1, 4, ##__VA_ARGS__);                                        \
      for (; t < t1; t++) TILE(w, a, out, ldo, r, t, 1, 1, ##__VA_ARGS__);                                                \
    }                                                                                                                     \
  }

DEFINE_MM_F(mm_f32_avx512, tile_float, WF32)
DEFINE_MM_F(mm_f16_avx512, tile_float, WF16)
DEFINE_MM_F(mm_bf16_avx512, tile_float, WBF16)
DEFINE_MM(mm_q8_0_tiles_avx512, tile_q0, 0)
DEFINE_MM(mm_q4_0_tiles_avx512, tile_q0, 1)
DEFINE_MM(mm_q4_k_tiles_avx512, tile_q0, 2)
// T = 1 goes to the matvec kernels, with the one token's activations
T512 INL void mv_token(const ln_weight *w, const ln_act *a, float *out, int64_t ldo, int64_t r0, int64_t r1, int64_t t0, const int kind) {
  ln_act a1 = *a;
  a1.qi += t0 * a->qi_stride, a1.b16 += t0 * a->g_stride, a1.d16 += t0 * a->g_stride, a1.csum += t0 * a->c_stride;
  mv_q0_any(w, &a1, out + t0 * ldo, r0, r1, kind);
}
T512 static void mm_q8_0_avx512(const ln_weight *w, const ln_act *a, float *out, int64_t ldo, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  if (t1 - t0 != 1) mm_q8_0_tiles_avx512(w, a, out, ldo, r0, r1, t0, t1);
  else mv_token(w, a, out, ldo, r0, r1, t0, 0);
}
T512 static void mm_q4_0_avx512(const ln_weight *w, const ln_act *a, float *out, int64_t ldo, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  if (t1 - t0 != 1) mm_q4_0_tiles_avx512(w, a, out, ldo, r0, r1, t0, t1);
  else mv_token(w, a, out, ldo, r0, r1, t0, 1);
}
T512 static void mm_q4_k_avx512(const ln_weight *w, const ln_act *a, float *out, int64_t ldo, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  if (t1 - t0 != 1) mm_q4_k_tiles_avx512(w, a, out, ldo, r0, r1, t0, t1);
  else mv_token(w, a, out, ldo, r0, r1, t0, 2);
}
DEFINE_MM(mm_q6_k_tiles_avx512, tile_q6k)
T512 static void mm_q6_k_avx512(const ln_weight *w, const ln_act *a, float *out, int64_t ldo, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  if (t1 - t0 != 1) return mm_q6_k_tiles_avx512(w, a, out, ldo, r0, r1, t0, t1);
  ln_act a1 = *a;  // the one token's activations
  a1.qi += t0 * a->qi_stride, a1.b16 += t0 * a->g_stride, a1.d16 += t0 * a->g_stride;
  mv_q6k(w, &a1, out + t0 * ldo, r0, r1);
}

int ln_kernels_avx512(ln_kernels *k) {
  __builtin_cpu_init();
  if (!(__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("fma") &&
        __builtin_cpu_supports("f16c")))
    return 0;
  k->name = "avx512";
  k->mm_f32 = mm_f32_avx512;
  k->mm_f16 = mm_f16_avx512;
  k->mm_bf16 = mm_bf16_avx512;
  k->mm_q8_0 = mm_q8_0_avx512;
  k->mm_q4_0 = mm_q4_0_avx512;
  k->mm_q4_k = mm_q4_k_avx512;
  k->mm_q6_k = mm_q6_k_avx512;
  k->quant = quant_avx512;
  k->dot_f32 = dot_f32_avx512;
  k->axpy_f32 = axpy_f32_avx512;
  k->f16_to_f32 = f16_to_f32_avx512;
  k->f32_to_f16 = f32_to_f16_avx512;
  k->fma_loop = fma_loop_avx512;
  k->outer_q8_0 = outer_q8_0_avx512;
  k->outer_q4_0 = outer_q4_0_avx512;
  k->outer_q4_k = outer_q4_k_avx512;
  k->outer_q6_k = outer_q6_k_avx512;
  k->outer_quad = outer_quad_avx512;
  k->attn_scores_f32 = attn_scores_f32_avx512;
  k->attn_values_f32 = attn_values_f32_avx512;
  k->swiglu = swiglu_avx512;
  k->attn_decode = attn_decode_avx512;
  k->exp_shifted = exp_shifted_avx512;
  k->softmax = softmax_avx512;
  return 1;
}
#endif
