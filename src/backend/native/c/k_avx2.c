// AVX2 + FMA + F16C kernels (x86-64 CPUs without AVX-512). Same data layouts as k_avx512.c but one
// 32-value block per 256-bit register; without VNNI the u8 x s8 products go through vpmaddubsw
// (16-bit pair sums, which cannot saturate for codes <= 63; Q8_0 uses the sign trick instead).
#include "common.h"

#ifdef LN_X86
#include <immintrin.h>

#define T256 __attribute__((target("avx2,fma,f16c")))
#define INL static inline __attribute__((always_inline))
#define PF_DIST ln_tune_pf

T256 INL float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

T256 INL int32_t hsum256i(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

T256 static void quant_avx2(ln_act *a, int64_t t0, int64_t t1, int wtype) {
  const int zero = ln_zero_point(wtype);
  const __m256 signmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  for (int64_t t = t0; t < t1; t++) {
    const float *x = a->xf + t * a->cols;
    int8_t *q = a->q + t * a->q_stride;
    float *dxe = a->dxe + t * a->e_stride;
    int32_t *bias = a->bias + t * a->e_stride;
    float *cs = a->csum + t * a->c_stride;
    for (int64_t b = 0; b < a->npairs * 2; b++) {
      if (b >= a->nb) {
        memset(q + b * 32, 0, 32);
        _mm256_storeu_ps(dxe + b * 8, _mm256_setzero_ps());
        _mm256_storeu_si256((__m256i *)(bias + b * 8), _mm256_setzero_si256());
        cs[b] = 0;
        continue;
      }
      __m256 v[4];
      __m256 m = _mm256_setzero_ps();
      for (int k = 0; k < 4; k++) {
        v[k] = _mm256_loadu_ps(x + b * 32 + 8 * k);
        m = _mm256_max_ps(m, _mm256_and_ps(v[k], signmask));
      }
      __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
      m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
      m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
      float amax = _mm_cvtss_f32(m4);
      float d = amax / 127.0f;
      float id = d != 0 ? 127.0f / amax : 0.0f;
      __m256 vid = _mm256_set1_ps(id);
      __m256i i[4];
      for (int k = 0; k < 4; k++) i[k] = _mm256_cvtps_epi32(_mm256_mul_ps(v[k], vid));
      int32_t s0 = hsum256i(_mm256_add_epi32(i[0], i[1])), s1 = hsum256i(_mm256_add_epi32(i[2], i[3]));
      // pack 32 int32 -> 32 int8 (packs interleave 128-bit lanes; the permute restores order)
      __m256i p01 = _mm256_packs_epi32(i[0], i[1]), p23 = _mm256_packs_epi32(i[2], i[3]);
      __m256i p = _mm256_packs_epi16(p01, p23);
      p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
      _mm256_storeu_si256((__m256i *)(q + b * 32), p);
      _mm256_storeu_ps(dxe + b * 8, _mm256_set1_ps(d));
      _mm256_storeu_si256((__m256i *)(bias + b * 8), _mm256_setr_epi32(-zero * s0, 0, 0, 0, -zero * s1, 0, 0, 0));
      cs[b] = d * (float)(s0 + s1);
    }
  }
}

T256 static float dot_f32_avx2(const float *a, const float *b, int64_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
  }
  float r = hsum256(_mm256_add_ps(s0, s1));
  for (; i < n; i++) r += a[i] * b[i];
  return r;
}

T256 static void axpy_f32_avx2(float *y, float a, const float *x, int64_t n) {
  __m256 va = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; i++) y[i] += a * x[i];
}

T256 static void f16_to_f32_avx2(float *dst, const uint16_t *src, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
  for (; i < n; i++) dst[i] = ln_h2f(src[i]);
}

T256 static void f32_to_f16_avx2(uint16_t *dst, const float *src, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  for (; i < n; i++) dst[i] = ln_f2h(src[i]);
}

T256 static double fma_loop_avx2(int64_t iters) {
  __m256 acc[12];
  const __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(1e-6f);
  for (int k = 0; k < 12; k++) acc[k] = _mm256_set1_ps((float)k);
  for (int64_t i = 0; i < iters; i++) {
#pragma GCC unroll 12
    for (int k = 0; k < 12; k++) acc[k] = _mm256_fmadd_ps(acc[k], a, b);
  }
  __m256 s = acc[0];
  for (int k = 1; k < 12; k++) s = _mm256_add_ps(s, acc[k]);
  volatile float sink = hsum256(s);
  (void)sink;
  return (double)iters * 12 * 8 * 2;
}

#define WF32 0
#define WF16 1
#define WBF16 2
T256 INL __m256 load_w8(const uint8_t *row, int64_t c, int kind) {
  if (kind == WF32) return _mm256_loadu_ps((const float *)row + c);
  __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)row + c));
  if (kind == WF16) return _mm256_cvtph_ps(h);
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

T256 INL float load_w1(const uint8_t *row, int64_t c, int kind) {
  if (kind == WF32) return ((const float *)row)[c];
  uint16_t h = ((const uint16_t *)row)[c];
  return kind == WF16 ? ln_h2f(h) : ln_bf2f(h);
}

// Decode (one row, one token): four FMA chains, as on AVX-512 (one chain is latency-bound)
T256 INL float row_float(const uint8_t *row, const float *x, int64_t cols, const int kind) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
  int64_t c = 0;
  for (; c + 32 <= cols; c += 32) {
    a0 = _mm256_fmadd_ps(load_w8(row, c, kind), _mm256_loadu_ps(x + c), a0);
    a1 = _mm256_fmadd_ps(load_w8(row, c + 8, kind), _mm256_loadu_ps(x + c + 8), a1);
    a2 = _mm256_fmadd_ps(load_w8(row, c + 16, kind), _mm256_loadu_ps(x + c + 16), a2);
    a3 = _mm256_fmadd_ps(load_w8(row, c + 24, kind), _mm256_loadu_ps(x + c + 24), a3);
  }
  for (; c + 8 <= cols; c += 8) a0 = _mm256_fmadd_ps(load_w8(row, c, kind), _mm256_loadu_ps(x + c), a0);
  float s = hsum256(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  for (; c < cols; c++) s += load_w1(row, c, kind) * x[c];
  return s;
}

T256 INL void tile_float(const ln_weight *w, const ln_act *a, float *out, int64_t ldo, int64_t r, int64_t t, const int NR, const int NT, const int kind) {
  const int64_t cols = w->cols;
  const int esz = kind == WF32 ? 4 : 2;
  if (NR == 1 && NT == 1 && !ln_tune_pf_float) {
    out[t * ldo + r] = row_float(w->qs + (size_t)r * w->row_bytes, a->xf + t * cols, cols, kind);
    return;
  }
  __m256 acc[4][4];
  const uint8_t *wr[4];
  const float *xr[4];
#pragma GCC unroll 4
  for (int i = 0; i < NR; i++) wr[i] = w->qs + (size_t)(r + i) * w->row_bytes;
#pragma GCC unroll 4
  for (int j = 0; j < NT; j++) xr[j] = a->xf + (t + j) * cols;
#pragma GCC unroll 4
  for (int i = 0; i < NR; i++)
#pragma GCC unroll 4
    for (int j = 0; j < NT; j++) acc[i][j] = _mm256_setzero_ps();
  int64_t c = 0;
  for (; c + 8 <= cols; c += 8) {
    __m256 wv[4];
#pragma GCC unroll 4
    for (int i = 0; i < NR; i++) {
      if (NT == 1) { if (ln_tune_pf_float) _mm_prefetch((const char *)(wr[i] + c * esz + ln_tune_pf_float), _MM_HINT_T0); }
      wv[i] = load_w8(wr[i], c, kind);
    }
#pragma GCC unroll 4
    for (int j = 0; j < NT; j++) {
      __m256 xv = _mm256_loadu_ps(xr[j] + c);
#pragma GCC unroll 4
      for (int i = 0; i < NR; i++) acc[i][j] = _mm256_fmadd_ps(wv[i], xv, acc[i][j]);
    }
  }
#pragma GCC unroll 4
  for (int i = 0; i < NR; i++)
#pragma GCC unroll 4
    for (int j = 0; j < NT; j++) {
      float s = hsum256(acc[i][j]);
      for (int64_t cc = c; cc < cols; cc++) s += load_w1(wr[i], cc, kind) * xr[j][cc];
      out[(t + j) * ldo + r + i] = s;
    }
}

// int32 lanes (lane k = values 4k..4k+3) of u8 codes x s8 activations; codes must be <= 127
T256 INL __m256i udot(__m256i u, __m256i x) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, x), _mm256_set1_epi16(1));
}

// n (1..8) 32-bit lanes from p, the rest zero
T256 INL __m256i load_lanes(const void *p, int n) {
  if (n >= 8) return _mm256_loadu_si256((const __m256i *)p);
  return _mm256_maskload_epi32((const int *)p, _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)));
}

// Decode of rows with their metadata inside (meta_in_row) of 4096 columns or more: the metadata
// prefetched when the rows start (ln_prefetch_row_meta). The tiles here had the same cliff on long rows, from memory at 1
// thread: Q4_K 9216x11008 5.9 -> 12.1 GB/s, 24576x4096 10.5 -> 18.0; Q6_K 9216x11008 8.2 -> 16.7,
// 32000x4096 19.6 -> 20.9. On 2048 columns it measured 12.7-15.3 against 16.4, hence the bound.
T256 INL void prefetch_rows_meta(const ln_weight *w, int64_t r, const int NR) {
  if (w->cols < 4096) return;
  for (int i = 0; i < NR; i++) ln_prefetch_row_meta(w, r + i);
}

// Q8_0 (codes = value + 128) and Q4_0 (nibble codes) in the lane-per-block layout (common.h): each
// int32 lane sums one block over the group's 8 vectors; a 256-bit register covers half a group.
// kind: 0 Q8_0, 1 Q4_0, 2 Q4_K (Q4_0's codes; a 256-bit half of its group is one super-block, so
// the half's 8 blocks share d and dmin: acc += code.x * d*scale*dx - dmin*min * dx*sum(x)).
T256 INL void tile_q0(const ln_weight *w, const ln_act *a, float *out, int64_t ldo, int64_t r, int64_t t, const int NR, const int NT, const int kind) {
  const int q4 = kind != 0;
  const int64_t nb = w->nb;
  __m256 acc[4][4];
  const uint8_t *wr[4];
#pragma GCC unroll 4
  for (int i = 0; i < NR; i++) wr[i] = w->qs + (size_t)(r + i) * w->row_bytes;
#pragma GCC unroll 4
  for (int i = 0; i < NR; i++)
#pragma GCC unroll 4
    for (int j = 0; j < NT; j++) acc[i][j] = _mm256_setzero_ps();
  if (w->meta_in_row && NT == 1) prefetch_rows_meta(w, r, NR);
  const __m256i m0f = _mm256_set1_epi8(0x0f), flip = _mm256_set1_epi8((char)0x80);
  for (int64_t g = 0; g * 16 < nb; g++) {
    const int m = nb - 16 * g < 16 ? (int)(nb - 16 * g) : 16;
    for (int h = 0; h < 2 && 8 * h < m; h++) {
      const int n = m - 8 * h;
      const int64_t e = 16 * g + 8 * h;  // first block of this half
      __m256 dx[4], cs[4];
      __m256i bias[4];
#pragma GCC unroll 4
      for (int j = 0; j < NT; j++) {
        dx[j] = _mm256_loadu_ps(a->d16 + (t + j) * a->g_stride + e);
        bias[j] = q4 ? _mm256_loadu_si256((const __m256i *)(a->b16 + (t + j) * a->g_stride + e)) : _mm256_setzero_si256();
        if (kind == 2) cs[j] = _mm256_loadu_ps(a->csum + (t + j) * a->c_stride + e);  // halves are full
      }
#pragma GCC unroll 4
      for (int i = 0; i < NR; i++) {
        __m256 ws, mins = _mm256_setzero_ps();
        if (kind == 2) {
          const uint8_t *meta = ln_q4k_meta(w, r + i, g);
          const ln_q4k_off o = ln_q4k_offsets(ln_q4k_short_group(nb, g), h);
          uint16_t hd[2];
          memcpy(&hd[0], meta + o.d, 2);
          memcpy(&hd[1], meta + o.dmin, 2);
          ws = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(meta + o.sc)))), _mm256_set1_ps(_cvtsh_ss(hd[0])));
          mins = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(meta + o.mn)))), _mm256_set1_ps(_cvtsh_ss(hd[1])));
        } else {
          ws = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w->sc + (size_t)(r + i) * w->sc_stride + e)));
        }
        __m256i s[4];
#pragma GCC unroll 4
        for (int j = 0; j < NT; j++) s[j] = bias[j];
#pragma GCC unroll 8
        for (int k = 0; k < 8; k++) {
          __m256i wv;
          if (q4) {
            const __m256i v = load_lanes(wr[i] + g * 256 + (k >> 1) * 4 * m + 32 * h, n);
            wv = (k & 1) ? _mm256_and_si256(_mm256_srli_epi16(v, 4), m0f) : _mm256_and_si256(v, m0f);
          } else {
            wv = _mm256_xor_si256(load_lanes(wr[i] + g * 512 + k * 4 * m + 32 * h, n), flip);  // signed values
          }
#pragma GCC unroll 4
          for (int j = 0; j < NT; j++) {
            const __m256i xv = load_lanes(a->qi + (t + j) * a->qi_stride + g * 512 + k * 4 * m + 32 * h, n);
            if (q4) s[j] = _mm256_add_epi32(s[j], udot(wv, xv));
            else s[j] = _mm256_add_epi32(s[j], udot(_mm256_sign_epi8(wv, wv), _mm256_sign_epi8(xv, wv)));  // |w| * (x * sign w)
          }
        }
#pragma GCC unroll 4
        for (int j = 0; j < NT; j++) {
          acc[i][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[j]), _mm256_mul_ps(ws, dx[j]), acc[i][j]);
          if (kind == 2) acc[i][j] = _mm256_fnmadd_ps(mins, cs[j], acc[i][j]);
        }
      }
    }
  }
#pragma GCC unroll 4
  for (int i = 0; i < NR; i++)
#pragma GCC unroll 4
    for (int j = 0; j < NT; j++) out[(t + j) * ldo + r + i] = hsum256(acc[i][j]);
}


// Q6_K (repacked, common.h): a 256-bit half of a group holds 8 sub-blocks' lanes.
T256 INL void tile_q6k(const ln_weight *w, const ln_act *a, float *out, int64_t ldo, int64_t r, int64_t t, const int NR, const int NT) {
  const int64_t nsb = w->cols / 256;
  __m256 acc[4][4];
  const uint8_t *wr[4];
#pragma GCC unroll 4
  for (int i = 0; i < NR; i++) wr[i] = w->qs + (size_t)(r + i) * w->row_bytes;
#pragma GCC unroll 4
  for (int i = 0; i < NR; i++)
#pragma GCC unroll 4
    for (int j = 0; j < NT; j++) acc[i][j] = _mm256_setzero_ps();
  if (NT == 1) prefetch_rows_meta(w, r, NR);
  const __m256i m3f = _mm256_set1_epi8(0x3f), m03 = _mm256_set1_epi8(0x03), m0c = _mm256_set1_epi8(0x0c), m30 = _mm256_set1_epi8(0x30);
  for (int64_t g = 0; g < nsb; g++) {
    for (int h = 0; h < 2; h++) {
      const int64_t e = 16 * g + 8 * h;  // first sub-block of this half
#pragma GCC unroll 4
      for (int i = 0; i < NR; i++) {
        const uint8_t *grp = wr[i] + g * 192 + 32 * h;
        // vectors 0-2: bits 0-5 of bytes 0..191; vector 3: their bits 6-7 (common.h)
        const __m256i ga = _mm256_loadu_si256((const __m256i *)grp), gb = _mm256_loadu_si256((const __m256i *)(grp + 64));
        const __m256i gc = _mm256_loadu_si256((const __m256i *)(grp + 128));
        __m256i v[4];
        v[0] = _mm256_and_si256(ga, m3f);
        v[1] = _mm256_and_si256(gb, m3f);
        v[2] = _mm256_and_si256(gc, m3f);
        v[3] = _mm256_or_si256(_mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ga, 6), m03), _mm256_and_si256(_mm256_srli_epi16(gb, 4), m0c)),
                               _mm256_and_si256(_mm256_srli_epi16(gc, 2), m30));
        const uint8_t *meta = ln_q6k_meta(w, r + i, g);
        const __m256 ws = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(meta + 8 * h)))), _mm256_set1_ps(ln_q6k_d(meta)));
#pragma GCC unroll 4
        for (int j = 0; j < NT; j++) {
          const int8_t *xq = a->qi + (t + j) * a->qi_stride + g * 256 + 32 * h;
          __m256i s = _mm256_loadu_si256((const __m256i *)(a->b16 + (t + j) * a->g_stride + e));
#pragma GCC unroll 4
          for (int k = 0; k < 4; k++) s = _mm256_add_epi32(s, udot(v[k], _mm256_loadu_si256((const __m256i *)(xq + 64 * k))));
          const __m256 dx = _mm256_loadu_ps(a->d16 + (t + j) * a->g_stride + e);
          acc[i][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(ws, dx), acc[i][j]);
        }
      }
    }
  }
#pragma GCC unroll 4
  for (int i = 0; i < NR; i++)
#pragma GCC unroll 4
    for (int j = 0; j < NT; j++) out[(t + j) * ldo + r + i] = hsum256(acc[i][j]);
}

#define DEFINE_MM(fname, TILE, ...) DEFINE_MM_NR(fname, ln_tune_nr1, TILE, ##__VA_ARGS__)
#define DEFINE_MM_F(fname, TILE, ...) DEFINE_MM_NR(fname, ln_nr1_float(w), TILE, ##__VA_ARGS__)
#define DEFINE_MM_NR(fname, NR1, TILE, ...)                                                                                       \
  T256 static void fname(const ln_weight *w, const ln_act *a, float *out, int64_t ldo, int64_t r0, int64_t r1, int64_t t0, \
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

DEFINE_MM_F(mm_f32_avx2, tile_float, WF32)
DEFINE_MM_F(mm_f16_avx2, tile_float, WF16)
DEFINE_MM_F(mm_bf16_avx2, tile_float, WBF16)
DEFINE_MM(mm_q8_0_avx2, tile_q0, 0)
DEFINE_MM(mm_q4_0_avx2, tile_q0, 1)
DEFINE_MM(mm_q4_k_avx2, tile_q0, 2)
DEFINE_MM(mm_q6_k_avx2, tile_q6k)

int ln_kernels_avx2(ln_kernels *k) {
  __builtin_cpu_init();
  if (!(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"))) return 0;
  k->name = "avx2";
  k->mm_f32 = mm_f32_avx2;
  k->mm_f16 = mm_f16_avx2;
  k->mm_bf16 = mm_bf16_avx2;
  k->mm_q8_0 = mm_q8_0_avx2;
  k->mm_q4_0 = mm_q4_0_avx2;
  k->mm_q4_k = mm_q4_k_avx2;
  k->mm_q6_k = mm_q6_k_avx2;
  k->quant = quant_avx2;
  k->dot_f32 = dot_f32_avx2;
  k->axpy_f32 = axpy_f32_avx2;
  k->f16_to_f32 = f16_to_f32_avx2;
  k->f32_to_f16 = f32_to_f16_avx2;
  k->fma_loop = fma_loop_avx2;
  return 1;
}
#endif
