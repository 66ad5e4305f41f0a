// Log-softmax statistics of rows of logits (the Backend op `logitStats`, src/backend/backend.ts):
// per row of float32 values its max, its first argmax and log Σ exp(x − max) summed in float64 —
// what a log-likelihood needs of every scored row (src/eval/logprob.ts `rowStats`, the JS oracle).
// A vocabulary-wide float64 exp per scored token is most of the JS time of an evaluation on a small
// model, so this is vectorized: the same exp as the oracle's `expNonPositive` (x = k·ln2/32 + r,
// 2^(k/32) from a 32-entry table and a power of two, e^r by a degree-6 polynomial, within ~1e-15
// relative of exp), 8 (AVX-512) or 4 (AVX2) doubles at a time, and rows spread over the pool.
//
// Semantics (the oracle's, including the odd cases):
//  - max = x[argmax], argmax the first index of the largest value (+0 and −0 tie; NaN entries
//    never win unless x[0] is NaN, then max = NaN and argmax = 0);
//  - logSum = log Σ exp(x[i] − max); NaN when any difference is NaN (a NaN entry, or max = ±Infinity
//    with an entry of the same infinity), so an all −Infinity row gives NaN as in the oracle;
//  - the sum's order differs from the oracle's sequential one (several accumulators), so logSum
//    agrees to ~1e-15 relative, not bit for bit; terms below e^−708 are dropped by the AVX2 path
//    (the sum is ≥ 1: the max's own term is exactly 1, so they cannot move it).
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "addon_internal.h"

#ifdef LN_X86
#include <immintrin.h>
#endif

// the oracle's constants (src/eval/logprob.ts): ln2/32 split as fdlibm splits ln2
#define LS_LN2_32_HI (6.93147180369123816490e-1 / 32)
#define LS_LN2_32_LO (1.90821492927058770002e-10 / 32)
#define LS_INV_LN2_32 (32 / 0.69314718055994530942)
#define LS_ROUND 6755399441055744.0  // 1.5 · 2^52

static double pow2_frac[32];  // 2^(j/32)
static double pow2_neg[1080]; // 2^-m, subnormal then 0 past 2^-1074
static atomic_int tables_ready;

static void init_tables(void) {
  if (atomic_load_explicit(&tables_ready, memory_order_acquire)) return;
  for (int j = 0; j < 32; j++) pow2_frac[j] = exp2((double)j / 32);
  for (int m = 0; m < 1080; m++) pow2_neg[m] = ldexp(1.0, -m);
  atomic_store_explicit(&tables_ready, 1, memory_order_release);
}

// exp(x) for x <= 0 exactly as the oracle's expNonPositive computes it (no FMA contraction here:
// this file is built for the baseline ISA, only the functions below carry target attributes)
static double exp_nonpositive(double x) {
  if (!(x > -745)) return x == x ? 0 : NAN;
  const double k = (x * LS_INV_LN2_32 + LS_ROUND) - LS_ROUND;
  const double r = (x - k * LS_LN2_32_HI) - k * LS_LN2_32_LO;
  const int ki = (int)k;
  const double p = 1 + r * (1 + r * (0.5 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120 + r * (1.0 / 720))))));
  return pow2_neg[-(ki >> 5)] * pow2_frac[ki & 31] * p;
}

// first index of the largest value as the oracle finds it (strict >, so NaN never wins)
static int64_t first_argmax_scalar(const float *x, int64_t n) {
  float max = x[0];
  int64_t best = 0;
  for (int64_t i = 1; i < n; i++)
    if (x[i] > max) {
      max = x[i];
      best = i;
    }
  return best;
}

static void row_scalar(const float *x, int64_t n, float *mx, int32_t *am, double *ls) {
  const int64_t best = first_argmax_scalar(x, n);
  const double max = x[best];
  double sum = 0;
  for (int64_t i = 0; i < n; i++) sum += exp_nonpositive((double)x[i] - max);
  *mx = x[best];
  *am = (int32_t)best;
  *ls = log(sum);
}

#ifdef LN_X86
#define LS_T512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")))
#define LS_T256 __attribute__((target("avx2,fma")))

// The largest value of x[0..n) ignoring NaN entries (x[0] is not NaN), then the first index holding
// it: a vector max pass, then a scan for equality that usually stops half way.
LS_T512 static int64_t first_argmax_avx512(const float *x, int64_t n) {
  __m512 m0 = _mm512_set1_ps(x[0]), m1 = m0;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512 a = _mm512_loadu_ps(x + i), b = _mm512_loadu_ps(x + i + 16);
    m0 = _mm512_mask_mov_ps(m0, _mm512_cmp_ps_mask(a, m0, _CMP_GT_OQ), a);
    m1 = _mm512_mask_mov_ps(m1, _mm512_cmp_ps_mask(b, m1, _CMP_GT_OQ), b);
  }
  for (; i < n; i += 16) {
    const __mmask16 t = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
    const __m512 a = _mm512_maskz_loadu_ps(t, x + i);
    m0 = _mm512_mask_mov_ps(m0, _mm512_mask_cmp_ps_mask(t, a, m0, _CMP_GT_OQ), a);
  }
  m0 = _mm512_mask_mov_ps(m0, _mm512_cmp_ps_mask(m1, m0, _CMP_GT_OQ), m1);
  const float max = _mm512_reduce_max_ps(m0);  // no NaN lanes: every lane started at x[0]
  const __m512 mv = _mm512_set1_ps(max);
  for (i = 0; i < n; i += 16) {
    const __mmask16 t = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
    const __mmask16 eq = _mm512_mask_cmp_ps_mask(t, _mm512_maskz_loadu_ps(t, x + i), mv, _CMP_EQ_OQ);
    if (eq) return i + __builtin_ctz((unsigned)eq);
  }
  return 0;  // not reached: max is one of the values
}

// Σ exp(d) over 8 differences d = x − max (d <= 0 or NaN); lanes outside `keep` count 0.
// Returns the 8 terms; *nan collects lanes where d is NaN.
LS_T512 static inline __attribute__((always_inline)) __m512d exp8(__m512d d, __mmask8 keep, __mmask8 *nan, __m512d f0, __m512d f1, __m512d f2, __m512d f3) {
  *nan |= _mm512_mask_cmp_pd_mask(keep, d, d, _CMP_UNORD_Q);
  const __mmask8 ok = _mm512_mask_cmp_pd_mask(keep, d, _mm512_set1_pd(-745.0), _CMP_GT_OQ);
  d = _mm512_maskz_mov_pd(ok, d);  // out-of-range lanes compute exp(0) and are dropped below
  const __m512d k = _mm512_roundscale_pd(_mm512_mul_pd(d, _mm512_set1_pd(LS_INV_LN2_32)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512d r = _mm512_fnmadd_pd(k, _mm512_set1_pd(LS_LN2_32_HI), d);
  r = _mm512_fnmadd_pd(k, _mm512_set1_pd(LS_LN2_32_LO), r);
  __m512d p = _mm512_set1_pd(1.0 / 720);
  p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 120));
  p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 24));
  p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 6));
  p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(0.5));
  p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0));
  p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0));
  const __m256i ki = _mm512_cvtpd_epi32(k);  // −33 000 < k <= 0
  const __m512i j = _mm512_cvtepi32_epi64(_mm256_and_si256(ki, _mm256_set1_epi32(31)));
  const __m512d e = _mm512_cvtepi32_pd(_mm256_srai_epi32(ki, 5));  // floor(k / 32)
  // 2^(j/32) from the 32-entry table in four registers: two 16-entry permutes, bit 4 picks one
  const __m512d lo = _mm512_permutex2var_pd(f0, j, f1), hi = _mm512_permutex2var_pd(f2, j, f3);
  const __m512d frac = _mm512_mask_mov_pd(lo, _mm512_test_epi64_mask(j, _mm512_set1_epi64(16)), hi);
  return _mm512_maskz_mov_pd(ok, _mm512_scalef_pd(_mm512_mul_pd(frac, p), e));
}

LS_T512 static void row_avx512(const float *x, int64_t n, float *mx, int32_t *am, double *ls) {
  if (x[0] != x[0]) {  // the oracle's max stays NaN: every difference is NaN
    *mx = x[0];
    *am = 0;
    *ls = NAN;
    return;
  }
  const int64_t best = first_argmax_avx512(x, n);
  const __m512d mv = _mm512_set1_pd((double)x[best]);
  const __m512d f0 = _mm512_loadu_pd(pow2_frac), f1 = _mm512_loadu_pd(pow2_frac + 8);
  const __m512d f2 = _mm512_loadu_pd(pow2_frac + 16), f3 = _mm512_loadu_pd(pow2_frac + 24);
  __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
  __mmask8 nan = 0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 v = _mm512_loadu_ps(x + i);
    const __m512d a = _mm512_sub_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(v)), mv);
    const __m512d b = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))), mv);
    s0 = _mm512_add_pd(s0, exp8(a, 0xff, &nan, f0, f1, f2, f3));
    s1 = _mm512_add_pd(s1, exp8(b, 0xff, &nan, f0, f1, f2, f3));
  }
  for (; i < n; i += 8) {
    const __mmask8 t = n - i >= 8 ? (__mmask8)0xff : (__mmask8)((1u << (n - i)) - 1);
    const __m512d a = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_maskz_loadu_ps(t, x + i)), mv);
    s0 = _mm512_add_pd(s0, exp8(a, t, &nan, f0, f1, f2, f3));
  }
  *mx = x[best];
  *am = (int32_t)best;
  *ls = nan ? NAN : log(_mm512_reduce_add_pd(_mm512_add_pd(s0, s1)));
}

LS_T256 static int64_t first_argmax_avx2(const float *x, int64_t n) {
  __m256 m0 = _mm256_set1_ps(x[0]), m1 = m0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(x + i + 8);
    m0 = _mm256_blendv_ps(m0, a, _mm256_cmp_ps(a, m0, _CMP_GT_OQ));
    m1 = _mm256_blendv_ps(m1, b, _mm256_cmp_ps(b, m1, _CMP_GT_OQ));
  }
  m0 = _mm256_blendv_ps(m0, m1, _mm256_cmp_ps(m1, m0, _CMP_GT_OQ));
  float lanes[8];
  _mm256_storeu_ps(lanes, m0);
  float max = lanes[0];
  for (int l = 1; l < 8; l++)
    if (lanes[l] > max) max = lanes[l];
  for (; i < n; i++)
    if (x[i] > max) max = x[i];
  const __m256 mv = _mm256_set1_ps(max);
  for (i = 0; i + 8 <= n; i += 8) {
    const int eq = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(x + i), mv, _CMP_EQ_OQ));
    if (eq) return i + __builtin_ctz((unsigned)eq);
  }
  for (; i < n; i++)
    if (x[i] == max) return i;
  return 0;
}

// 4 terms exp(d) (d <= 0 or NaN); lanes with d <= −708 count 0 (see the top: they cannot move a
// sum >= 1), so 2^floor(k/32) is always a normal number built from its exponent bits
LS_T256 static inline __attribute__((always_inline)) __m256d exp4(__m256d d, __m256d *nan) {
  *nan = _mm256_or_pd(*nan, _mm256_cmp_pd(d, d, _CMP_UNORD_Q));
  const __m256d ok = _mm256_cmp_pd(d, _mm256_set1_pd(-708.0), _CMP_GT_OQ);
  d = _mm256_and_pd(d, ok);
  const __m256d k = _mm256_round_pd(_mm256_mul_pd(d, _mm256_set1_pd(LS_INV_LN2_32)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256d r = _mm256_fnmadd_pd(k, _mm256_set1_pd(LS_LN2_32_HI), d);
  r = _mm256_fnmadd_pd(k, _mm256_set1_pd(LS_LN2_32_LO), r);
  __m256d p = _mm256_set1_pd(1.0 / 720);
  p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 120));
  p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 24));
  p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 6));
  p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(0.5));
  p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0));
  p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0));
  const __m128i ki = _mm256_cvtpd_epi32(k);
  const __m256d frac = _mm256_i32gather_pd(pow2_frac, _mm_and_si128(ki, _mm_set1_epi32(31)), 8);
  const __m256i e = _mm256_cvtepi32_epi64(_mm_srai_epi32(ki, 5));  // floor(k / 32) >= −1022
  const __m256d scale = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_add_epi64(e, _mm256_set1_epi64x(1023)), 52));
  return _mm256_and_pd(_mm256_mul_pd(_mm256_mul_pd(frac, p), scale), ok);
}

LS_T256 static void row_avx2(const float *x, int64_t n, float *mx, int32_t *am, double *ls) {
  if (x[0] != x[0]) {
    *mx = x[0];
    *am = 0;
    *ls = NAN;
    return;
  }
  const int64_t best = first_argmax_avx2(x, n);
  const double maxd = (double)x[best];
  const __m256d mv = _mm256_set1_pd(maxd);
  __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd(), nan = _mm256_setzero_pd();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    s0 = _mm256_add_pd(s0, exp4(_mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), mv), &nan));
    s1 = _mm256_add_pd(s1, exp4(_mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), mv), &nan));
  }
  double lanes[4];
  _mm256_storeu_pd(lanes, _mm256_add_pd(s0, s1));
  double sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
  int any_nan = _mm256_movemask_pd(nan) != 0;
  for (; i < n; i++) {
    const double d = (double)x[i] - maxd;
    if (d != d) any_nan = 1;
    else sum += exp_nonpositive(d);
  }
  *mx = x[best];
  *am = (int32_t)best;
  *ls = any_nan ? NAN : log(sum);
}
#endif

typedef void (*ls_row_fn)(const float *x, int64_t n, float *mx, int32_t *am, double *ls);

// the kernel of the selected ISA path (setIsa: tests compare every path with the oracle)
static ls_row_fn row_kernel(void) {
#ifdef LN_X86
  if (!strcmp(K.name, "avx512")) return row_avx512;
  if (!strcmp(K.name, "avx2")) return row_avx2;
#endif
  return row_scalar;
}

typedef struct {
  ls_row_fn fn;
  const float *x;
  int64_t rows, cols, chunk;
  float *mx;
  int32_t *am;
  double *ls;
  _Atomic int64_t next;
} ls_ctx;

static void ls_task(void *p, int ith, int nth) {
  (void)ith;
  (void)nth;
  ls_ctx *c = (ls_ctx *)p;
  for (;;) {
    const int64_t r0 = atomic_fetch_add_explicit(&c->next, c->chunk, memory_order_relaxed);
    if (r0 >= c->rows) return;
    const int64_t r1 = r0 + c->chunk < c->rows ? r0 + c->chunk : c->rows;
    for (int64_t r = r0; r < r1; r++) c->fn(c->x + r * c->cols, c->cols, c->mx + r, c->am + r, c->ls + r);
  }
}

void ln_logit_stats(const float *x, int64_t rows, int64_t cols, float *mx, int32_t *am, double *ls) {
  init_tables();
  ls_ctx c = {.fn = row_kernel(), .x = x, .rows = rows, .cols = cols, .mx = mx, .am = am, .ls = ls};
  // a row of a 4096-wide vocabulary takes a few microseconds: below ~64K values a dispatch costs
  // more than it saves; above, chunks of rows small enough to balance two to a few threads
  const int nth = ln_pool_threads();
  if (nth <= 1 || rows < 2 || rows * cols < 65536) {
    for (int64_t r = 0; r < rows; r++) c.fn(x + r * cols, cols, mx + r, am + r, ls + r);
    return;
  }
  c.chunk = rows / (4 * nth) > 1 ? rows / (4 * nth) : 1;
  atomic_init(&c.next, 0);
  ln_pool_run(ls_task, &c);
}
