// The `wasm` backend's kernels: plain C compiled for wasm32 + SIMD128, no libc (see
// scripts/build-wasm.js). The module imports its memory and exports functions only; all pointers
// are byte offsets into that memory, handed out by the TypeScript side's allocator
// (src/backend/wasm/memory.ts). Every op works on row ranges so that threads can split the rows.
//
// Layouts (see docs/wasm.md):
//  - F32 / F16 / BF16 weights: the file's bytes, row-major.
//  - Q8_0 / Q4_0 weights: repacked at load into the codes of every block (32 int8 / 16 bytes of
//    nibbles, contiguous, so SIMD loads are aligned) and the file's binary16 scale per block (kept
//    in binary16: 34 bytes read per 32 weights instead of 36 with f32 scales, 10-17% faster decode
//    matvecs from memory; converted to f32 in the kernel, exactly).
//  - Q4_K / Q6_K weights: ggml's super-blocks as stored (144 / 210 bytes per 256 values).
//  - Activations of a quantized matmul: per 32-value block int8 codes q, a float scale d and the
//    sum of the codes (Q4_K's min term), made by quant_act exactly as the native backend does:
//    d = amax/127, q = round-half-even(x * (127/amax)).
#include <wasm_simd128.h>
#include <stdint.h>
#include <stddef.h>

#define EXPORT(name) __attribute__((export_name(#name)))

enum { T_F32 = 0, T_F16 = 1, T_Q4_0 = 2, T_Q8_0 = 8, T_Q4_K = 12, T_Q6_K = 14, T_BF16 = 30 };
// added to a Q8_0 / Q4_0 type code: the weight has an inf/NaN block scale (repack_q8_0's count)
enum { SPECIAL_SCALES = 0x100 };

// ---- conversions (exact) ----

static inline float bits_f32(uint32_t b) {
  float f;
  __builtin_memcpy(&f, &b, 4);
  return f;
}
static inline uint32_t f32_bits(float f) {
  uint32_t b;
  __builtin_memcpy(&b, &f, 4);
  return b;
}

// binary16 -> f32: the exponent/mantissa bits moved into an f32 and scaled by 2^112, which is exact
// for normal and subnormal halves alike; infinities and NaNs are patched in.
static inline float h2f(uint16_t h) {
  uint32_t em = h & 0x7fffu;
  float f = bits_f32(em << 13) * 0x1p112f;
  uint32_t b = f32_bits(f);
  if (em >= 0x7c00u) b = 0x7f800000u | ((em & 0x3ffu) << 13);
  return bits_f32(b | ((uint32_t)(h & 0x8000u) << 16));
}

static inline v128_t h2f_x4(v128_t h32) {
  const v128_t em = wasm_v128_and(h32, wasm_i32x4_splat(0x7fff));
  v128_t f = wasm_f32x4_mul(wasm_i32x4_shl(em, 13), wasm_f32x4_splat(0x1p112f));
  const v128_t special = wasm_u32x4_gt(em, wasm_i32x4_splat(0x7bff));
  const v128_t infnan = wasm_v128_or(wasm_i32x4_splat(0x7f800000), wasm_i32x4_shl(wasm_v128_and(em, wasm_i32x4_splat(0x3ff)), 13));
  f = wasm_v128_bitselect(infnan, f, special);
  return wasm_v128_or(f, wasm_i32x4_shl(wasm_v128_and(h32, wasm_i32x4_splat(0x8000)), 16));
}

// 4 binary16 block scales -> f32, exactly. Weights whose scales are all finite (every real file)
// take 4 operations: the sign-extended half shifted into f32 position, the sign copies above the
// exponent masked off, then scaled by 2^112 (exact for normal and subnormal halves). Weights with an
// inf/NaN scale (`special`, found at repack) take the full conversion.
static inline __attribute__((always_inline)) v128_t scales_x4(const uint16_t *p, int special) {
  if (special) return h2f_x4(wasm_u32x4_load16x4(p));
  const v128_t b = wasm_v128_and(wasm_i32x4_shl(wasm_i32x4_load16x4(p), 13), wasm_i32x4_splat((int32_t)0x8fffe000u));
  return wasm_f32x4_mul(b, wasm_f32x4_splat(0x1p112f));
}

// f32 -> binary16, round to nearest even (NaN -> quiet NaN), as src/tensor/f16.ts floatToHalf.
static uint16_t f2h(float v) {
  const uint32_t x = f32_bits(v);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const int32_t exp = (int32_t)((x >> 23) & 0xff);
  uint32_t mant = x & 0x7fffffu;
  if (exp == 0xff) return (uint16_t)(sign | 0x7c00u | (mant ? 0x200u : 0));
  int32_t e = exp - 127 + 15;
  if (e >= 31) return (uint16_t)(sign | 0x7c00u);
  if (e <= 0) {
    if (e < -10) return (uint16_t)sign;
    mant |= 0x800000u;
    const int shift = 14 - e;
    const uint32_t half = 1u << (shift - 1);
    uint32_t r = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1);
    if (rem > half || (rem == half && (r & 1))) r++;
    return (uint16_t)(sign | r);  // a carry into the exponent field is the right result
  }
  uint32_t r = mant >> 13;
  const uint32_t rem = mant & 0x1fffu;
  uint32_t out = sign | ((uint32_t)e << 10) | r;
  if (rem > 0x1000u || (rem == 0x1000u && (r & 1))) out++;  // carries into the exponent, up to inf
  return (uint16_t)out;
}

static inline uint16_t ld16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

// ---- exp ----

// e^x for 4 floats to ~2 ulp (Cephes' expf: x = n ln2 + r, |r| <= ln2/2, a degree-7 polynomial
// in r, then 2^n applied in two halves so that every n from the clamped range stays a normal
// scale: past 88.7 the product overflows to inf, below -87.3 it goes subnormal and then to 0, as
// expf does; NaN stays NaN). The native backend's SIMD exp is the same kind of approximation, and
// the conformance tolerance of softmax/swiglu (1e-6 / 1e-5 relative) is far above it.
//
// Written for V8's x64 code: the clamp uses pmin/pmax (one minps/maxps each; f32x4.min/max take
// ~7 instructions for their NaN and -0 rules, which a clamp to finite bounds does not need: NaN
// still passes through), and n = round-half-even(x·log2 e) comes from adding and subtracting
// 1.5·2^23 (|x·log2 e| <= 151, so the sum's ulp is 1 and rounds it half-even, as f32x4.nearest
// does), its integer from the sum's bits (i32x4.trunc_sat_f32x4 takes ~6 instructions). The same
// values as nearest + trunc_sat, ~30% fewer instructions.
static inline v128_t exp_f32x4(v128_t x) {
  x = wasm_f32x4_pmin(wasm_f32x4_pmax(x, wasm_f32x4_splat(-104.0f)), wasm_f32x4_splat(89.0f));
  const v128_t magic = wasm_f32x4_splat(0x1.8p23f);
  const v128_t t = wasm_f32x4_add(wasm_f32x4_mul(x, wasm_f32x4_splat(1.44269504088896341f)), magic);
  const v128_t n = wasm_f32x4_sub(t, magic);
  v128_t r = wasm_f32x4_sub(x, wasm_f32x4_mul(n, wasm_f32x4_splat(0.693359375f)));
  r = wasm_f32x4_sub(r, wasm_f32x4_mul(n, wasm_f32x4_splat(-2.12194440e-4f)));
  v128_t p = wasm_f32x4_splat(1.9875691500e-4f);
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.3981999507e-3f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(8.3334519073e-3f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(4.1665795894e-2f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.6666665459e-1f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(5.0000001201e-1f));
  p = wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_mul(wasm_f32x4_mul(p, r), r), r), wasm_f32x4_splat(1.0f));
  const v128_t ni = wasm_i32x4_sub(t, magic);
  const v128_t n1 = wasm_i32x4_shr(ni, 1), n2 = wasm_i32x4_sub(ni, n1);
  const v128_t bias = wasm_i32x4_splat(127);
  p = wasm_f32x4_mul(p, wasm_i32x4_shl(wasm_i32x4_add(n1, bias), 23));
  return wasm_f32x4_mul(p, wasm_i32x4_shl(wasm_i32x4_add(n2, bias), 23));
}

static inline float exp_f32(float x) { return wasm_f32x4_extract_lane(exp_f32x4(wasm_f32x4_splat(x)), 0); }

// ---- helpers ----

static inline float hsum_f32(v128_t v) {
  return (wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1)) + (wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3));
}
static inline int32_t hsum_i32(v128_t v) {
  return wasm_i32x4_extract_lane(v, 0) + wasm_i32x4_extract_lane(v, 1) + wasm_i32x4_extract_lane(v, 2) + wasm_i32x4_extract_lane(v, 3);
}
// 16 int8 weights x 16 int16 activation codes -> 4 int32 partial sums (the weights widened to
// int16, then pairwise multiply-add). The activations are widened once per matmul by quant_act.
static inline v128_t dot_i8x16(v128_t w, const int16_t *x) {
  return wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_i16x8_extend_low_i8x16(w), wasm_v128_load(x)),
                        wasm_i32x4_dot_i16x8(wasm_i16x8_extend_high_i8x16(w), wasm_v128_load(x + 8)));
}

// ---- float dot products ----

static float dot_f32(const float *a, const float *b, int n) {
  v128_t s0 = wasm_f32x4_splat(0), s1 = s0, s2 = s0, s3 = s0;
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(wasm_v128_load(a + i), wasm_v128_load(b + i)));
    s1 = wasm_f32x4_add(s1, wasm_f32x4_mul(wasm_v128_load(a + i + 4), wasm_v128_load(b + i + 4)));
    s2 = wasm_f32x4_add(s2, wasm_f32x4_mul(wasm_v128_load(a + i + 8), wasm_v128_load(b + i + 8)));
    s3 = wasm_f32x4_add(s3, wasm_f32x4_mul(wasm_v128_load(a + i + 12), wasm_v128_load(b + i + 12)));
  }
  for (; i + 4 <= n; i += 4) s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(wasm_v128_load(a + i), wasm_v128_load(b + i)));
  float s = hsum_f32(wasm_f32x4_add(wasm_f32x4_add(s0, s1), wasm_f32x4_add(s2, s3)));
  for (; i < n; i++) s += a[i] * b[i];
  return s;
}

// 8 binary16 values that are neither infinite nor NaN -> 2 x 4 floats: each half moved into the
// top of a 32-bit lane, shifted right arithmetically by 3 (sign stays in bit 31, exponent and
// mantissa land where an f32 has them, minus the bias difference that the 2^112 restores; exact
// for normals and subnormals alike, as h2f_x4) and masked. 4 operations per 4 values instead of
// h2f_x4's ~11, which handles infinities and NaNs too.
static inline void h2f_x8_finite(v128_t h, v128_t *lo, v128_t *hi) {
  const v128_t zero = wasm_i32x4_splat(0), mask = wasm_i32x4_splat((int32_t)0x8fffe000u), scale = wasm_f32x4_splat(0x1p112f);
  *lo = wasm_f32x4_mul(wasm_v128_and(wasm_i32x4_shr(wasm_i16x8_shuffle(zero, h, 0, 8, 1, 9, 2, 10, 3, 11), 3), mask), scale);
  *hi = wasm_f32x4_mul(wasm_v128_and(wasm_i32x4_shr(wasm_i16x8_shuffle(zero, h, 4, 12, 5, 13, 6, 14, 7, 15), 3), mask), scale);
}

// x (f32) . w (binary16 or bfloat16)
static float dot_f16(const float *x, const uint16_t *w, int n, int bf16) {
  v128_t s0 = wasm_f32x4_splat(0), s1 = s0;
  const v128_t expMask = wasm_i16x8_splat(0x7c00);
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    const v128_t h = wasm_v128_load(w + i);
    v128_t lo, hi;
    if (bf16) {
      lo = wasm_i32x4_shl(wasm_u32x4_extend_low_u16x8(h), 16);
      hi = wasm_i32x4_shl(wasm_u32x4_extend_high_u16x8(h), 16);
    } else if (!wasm_v128_any_true(wasm_i16x8_eq(wasm_v128_and(h, expMask), expMask))) {
      h2f_x8_finite(h, &lo, &hi);
    } else {
      lo = h2f_x4(wasm_u32x4_extend_low_u16x8(h));
      hi = h2f_x4(wasm_u32x4_extend_high_u16x8(h));
    }
    s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(wasm_v128_load(x + i), lo));
    s1 = wasm_f32x4_add(s1, wasm_f32x4_mul(wasm_v128_load(x + i + 4), hi));
  }
  float s = hsum_f32(wasm_f32x4_add(s0, s1));
  for (; i < n; i++) s += x[i] * (bf16 ? bits_f32((uint32_t)w[i] << 16) : h2f(w[i]));
  return s;
}

// ---- quantized activations ----

// x (T, cols) -> q (T, cols) int16 codes in -127..127, d (T, cols/32) float, s (T, cols/32) int32
// sum of codes.
//
// Two paths with the same results. The usual one (every value finite, 127/amax finite) is written
// for V8's x64 code like exp_f32x4: the block's |x| maximum through pmax (one maxps; f32x4.max's
// NaN rule takes ~7 instructions, so NaN is looked for apart, one compare per vector), and the
// round-half-even codes by adding and subtracting 1.5·2^23 (|x·127/amax| <= 127) instead of
// f32x4.nearest + i32x4.trunc_sat_f32x4. A block with a NaN or infinity, or so small that 127/amax
// overflows, takes the general path (NaN propagates into d, out-of-range codes saturate).
static inline void quant_block_codes(const float *xb, v128_t vid, int general, v128_t i32[8]) {
  if (general) {
    for (int k = 0; k < 8; k++) i32[k] = wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_nearest(wasm_f32x4_mul(wasm_v128_load(xb + 4 * k), vid)));
    return;
  }
  const v128_t magic = wasm_f32x4_splat(0x1.8p23f);
  for (int k = 0; k < 8; k++) i32[k] = wasm_i32x4_sub(wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(xb + 4 * k), vid), magic), magic);
}

EXPORT(quant_act)
void quant_act(const float *x, int T, int cols, int16_t *q, float *d, int32_t *s) {
  const int nb = cols / 32;
  for (int t = 0; t < T; t++)
    for (int b = 0; b < nb; b++) {
      const float *xb = x + (size_t)t * cols + 32 * b;
      v128_t m = wasm_f32x4_splat(0), nan = wasm_i32x4_splat(0);
      for (int i = 0; i < 32; i += 4) {
        const v128_t a = wasm_f32x4_abs(wasm_v128_load(xb + i));
        m = wasm_f32x4_pmax(m, a);
        nan = wasm_v128_or(nan, wasm_f32x4_ne(a, a));
      }
      m = wasm_f32x4_pmax(m, wasm_i32x4_shuffle(m, m, 2, 3, 0, 1));
      m = wasm_f32x4_pmax(m, wasm_i32x4_shuffle(m, m, 1, 0, 3, 2));
      const int hasNan = wasm_v128_any_true(nan);
      const float amax = hasNan ? __builtin_nanf("") : wasm_f32x4_extract_lane(m, 0);
      const float db = amax / 127.0f;
      const float id = db != 0.0f ? 127.0f / amax : 0.0f;
      const v128_t vid = wasm_f32x4_splat(id);
      int16_t *qb = q + (size_t)t * cols + 32 * b;
      v128_t i32[8];
      // the usual path needs amax finite (no NaN or inf in the block) and 127/amax finite
      quant_block_codes(xb, vid, !(amax - amax == 0.0f && id - id == 0.0f), i32);
      const v128_t a = wasm_i16x8_narrow_i32x4(i32[0], i32[1]), b2 = wasm_i16x8_narrow_i32x4(i32[2], i32[3]);
      const v128_t c = wasm_i16x8_narrow_i32x4(i32[4], i32[5]), e = wasm_i16x8_narrow_i32x4(i32[6], i32[7]);
      wasm_v128_store(qb, a);
      wasm_v128_store(qb + 8, b2);
      wasm_v128_store(qb + 16, c);
      wasm_v128_store(qb + 24, e);
      const v128_t sum = wasm_i32x4_add(wasm_i32x4_add(wasm_i32x4_add(i32[0], i32[1]), wasm_i32x4_add(i32[2], i32[3])),
                                        wasm_i32x4_add(wasm_i32x4_add(i32[4], i32[5]), wasm_i32x4_add(i32[6], i32[7])));
      d[(size_t)t * nb + b] = db;
      s[(size_t)t * nb + b] = hsum_i32(sum);
    }
}

// ---- weight repacking ----

// Q8_0 / Q4_0 weights are stored in groups of 4 rows, interleaved block by block, so that the
// kernel reads one sequential stream through a group with constant offsets: block b of row r at
// unit ((r/4)*nb + b)*4 + r%4, a unit being the block's codes (32 bytes / 16 bytes of nibbles) or
// its binary16 scale. The missing rows of a last partial group are zeros.
static inline size_t scale_index(int r, int b, int nb) { return ((size_t)(r >> 2) * nb + b) * 4 + (r & 3); }

// ggml Q8_0 blocks {f16 d; i8 q[32]} / Q4_0 blocks {f16 d; u8 q[16]} of a (rows, nb*32) weight ->
// interleaved codes + binary16 scales. Returns how many scales are inf or NaN (the weight then
// needs the kernels' `special` scale conversion).
static int repack_q0(int codeBytes, const uint8_t *src, int rows, int nb, uint8_t *qs, uint16_t *d) {
  int special = 0;
  for (int r = 0; r < rows; r++)
    for (int b = 0; b < nb; b++) {
      const uint8_t *p = src + ((size_t)r * nb + b) * (2 + codeBytes);
      const size_t u = scale_index(r, b, nb);
      d[u] = ld16(p);
      special += (d[u] & 0x7c00u) == 0x7c00u;
      __builtin_memcpy(qs + u * codeBytes, p + 2, codeBytes);
    }
  return special;
}
EXPORT(repack_q8_0)
int repack_q8_0(const uint8_t *src, int rows, int nb, uint8_t *qs, uint16_t *d) { return repack_q0(32, src, rows, nb, qs, d); }
EXPORT(repack_q4_0)
int repack_q4_0(const uint8_t *src, int rows, int nb, uint8_t *qs, uint16_t *d) { return repack_q0(16, src, rows, nb, qs, d); }

// ---- quantized row dots: one weight row . one token's quantized activations ----

// [sum(p0), sum(p1), sum(p2), sum(p3)]
static inline v128_t transpose_sum(v128_t p0, v128_t p1, v128_t p2, v128_t p3) {
  const v128_t a = wasm_i32x4_add(wasm_i32x4_shuffle(p0, p1, 0, 1, 4, 5), wasm_i32x4_shuffle(p0, p1, 2, 3, 6, 7));
  const v128_t b = wasm_i32x4_add(wasm_i32x4_shuffle(p2, p3, 0, 1, 4, 5), wasm_i32x4_shuffle(p2, p3, 2, 3, 6, 7));
  return wasm_i32x4_add(wasm_i32x4_shuffle(a, b, 0, 2, 4, 6), wasm_i32x4_shuffle(a, b, 1, 3, 5, 7));
}

// 32 int8 weights (sign-extended to int16 by the loads themselves) . 32 int16 activation codes
static inline v128_t q8_dot(const int8_t *w, const int16_t *x) {
  const v128_t a = wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_i16x8_load8x8(w), wasm_v128_load(x)), wasm_i32x4_dot_i16x8(wasm_i16x8_load8x8(w + 8), wasm_v128_load(x + 8)));
  const v128_t b = wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_i16x8_load8x8(w + 16), wasm_v128_load(x + 16)), wasm_i32x4_dot_i16x8(wasm_i16x8_load8x8(w + 24), wasm_v128_load(x + 24)));
  return wasm_i32x4_add(a, b);
}

// A group of 4 interleaved weight rows . one token's activations: the 4 integer block sums are
// combined into one vector and scaled by the 4 rows' block scales at once.
static inline __attribute__((always_inline)) v128_t dot4_q8_0(const int8_t *w, const uint16_t *wd4, const int16_t *q, const float *xd, int nb, int special) {
  v128_t acc = wasm_f32x4_splat(0);
  for (int b = 0; b < nb; b++) {
    const int16_t *x = q + 32 * b;
    const int8_t *g = w + (size_t)128 * b;
    const v128_t s = transpose_sum(q8_dot(g, x), q8_dot(g + 32, x), q8_dot(g + 64, x), q8_dot(g + 96, x));
    const v128_t scale = wasm_f32x4_mul(scales_x4(wd4 + 4 * b, special), wasm_f32x4_splat(xd[b]));
    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(s), scale));
  }
  return acc;
}

static inline v128_t q4_dot(const uint8_t *w, const int16_t *x) {
  const v128_t v = wasm_v128_load(w);
  const v128_t lo = wasm_i8x16_sub(wasm_v128_and(v, wasm_i8x16_splat(0x0f)), wasm_i8x16_splat(8));
  const v128_t hi = wasm_i8x16_sub(wasm_u8x16_shr(v, 4), wasm_i8x16_splat(8));
  return wasm_i32x4_add(dot_i8x16(lo, x), dot_i8x16(hi, x + 16));
}

static inline __attribute__((always_inline)) v128_t dot4_q4_0(const uint8_t *w, const uint16_t *wd4, const int16_t *q, const float *xd, int nb, int special) {
  v128_t acc = wasm_f32x4_splat(0);
  for (int b = 0; b < nb; b++) {
    const int16_t *x = q + 32 * b;
    const uint8_t *g = w + (size_t)64 * b;
    const v128_t s = transpose_sum(q4_dot(g, x), q4_dot(g + 16, x), q4_dot(g + 32, x), q4_dot(g + 48, x));
    const v128_t scale = wasm_f32x4_mul(scales_x4(wd4 + 4 * b, special), wasm_f32x4_splat(xd[b]));
    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(s), scale));
  }
  return acc;
}

// Prefill: a group of 4 Q8_0 rows . two tokens, each weight vector widened once for both tokens.
// The float operations per token are dot4_q8_0's, so the results are the same bits.
static inline __attribute__((always_inline)) void dot4x2_q8_0(const int8_t *w, const uint16_t *wd4, const int16_t *q, const float *xd, const int16_t *q2, const float *xd2, int nb, int special, v128_t *o1, v128_t *o2) {
  v128_t acc = wasm_f32x4_splat(0), acc2 = acc;
  for (int b = 0; b < nb; b++) {
    const int16_t *x = q + 32 * b, *y = q2 + 32 * b;
    const int8_t *g = w + (size_t)128 * b;
    v128_t px[4], py[4];
    for (int i = 0; i < 4; i++) {
      const int8_t *r = g + 32 * i;
      const v128_t w0 = wasm_i16x8_load8x8(r), w1 = wasm_i16x8_load8x8(r + 8), w2 = wasm_i16x8_load8x8(r + 16), w3 = wasm_i16x8_load8x8(r + 24);
      px[i] = wasm_i32x4_add(wasm_i32x4_add(wasm_i32x4_dot_i16x8(w0, wasm_v128_load(x)), wasm_i32x4_dot_i16x8(w1, wasm_v128_load(x + 8))),
                             wasm_i32x4_add(wasm_i32x4_dot_i16x8(w2, wasm_v128_load(x + 16)), wasm_i32x4_dot_i16x8(w3, wasm_v128_load(x + 24))));
      py[i] = wasm_i32x4_add(wasm_i32x4_add(wasm_i32x4_dot_i16x8(w0, wasm_v128_load(y)), wasm_i32x4_dot_i16x8(w1, wasm_v128_load(y + 8))),
                             wasm_i32x4_add(wasm_i32x4_dot_i16x8(w2, wasm_v128_load(y + 16)), wasm_i32x4_dot_i16x8(w3, wasm_v128_load(y + 24))));
    }
    const v128_t sx = transpose_sum(px[0], px[1], px[2], px[3]), sy = transpose_sum(py[0], py[1], py[2], py[3]);
    const v128_t wdb = scales_x4(wd4 + 4 * b, special);
    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(sx), wasm_f32x4_mul(wdb, wasm_f32x4_splat(xd[b]))));
    acc2 = wasm_f32x4_add(acc2, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(sy), wasm_f32x4_mul(wdb, wasm_f32x4_splat(xd2[b]))));
  }
  *o1 = acc;
  *o2 = acc2;
}

// 4 results of rows r.. (those below r1) of token t
static inline void store4(float *out, size_t rows, int t, int r, int r1, v128_t v) {
  float lanes[4];
  wasm_v128_store(lanes, v);
  for (int i = 0; i < 4 && r + i < r1; i++) out[(size_t)t * rows + r + i] = lanes[i];
}

// Q8_0 / Q4_0 rows [r0, r1) (r0 a multiple of 4) x T tokens, a group of 4 rows at a time (Q8_0:
// and two tokens at a time)
static inline __attribute__((always_inline)) void matmul_q0(int q4, float *out, const uint8_t *w, const uint16_t *wd, int rows, int cols, int T, int r0, int r1, const int16_t *q, const float *xd, int special) {
  const int nb = cols / 32;
  const size_t groupBytes = (size_t)nb * (q4 ? 64 : 128);
  int r = r0;
  // decode (one token, Q8_0): whole groups stored directly. A loop of its own, without the token
  // loop and the row checks, measured 3-10% faster per matvec (docs/wasm.md); same operations.
  if (T == 1 && !q4)
    for (; r + 4 <= r1; r += 4)
      wasm_v128_store(out + r, dot4_q8_0((const int8_t *)w + (size_t)(r >> 2) * groupBytes, wd + (size_t)(r >> 2) * nb * 4, q, xd, nb, special));
  for (; r < r1; r += 4) {
    const uint8_t *g = w + (size_t)(r >> 2) * groupBytes;
    const uint16_t *wd4 = wd + (size_t)(r >> 2) * nb * 4;
    int t = 0;
    if (!q4)
      for (; t + 1 < T; t += 2) {
        v128_t a, b;
        dot4x2_q8_0((const int8_t *)g, wd4, q + (size_t)t * cols, xd + (size_t)t * nb, q + (size_t)(t + 1) * cols, xd + (size_t)(t + 1) * nb, nb, special, &a, &b);
        store4(out, rows, t, r, r1, a);
        store4(out, rows, t + 1, r, r1, b);
      }
    for (; t < T; t++) {
      const int16_t *qt = q + (size_t)t * cols;
      const float *xdt = xd + (size_t)t * nb;
      store4(out, rows, t, r, r1, q4 ? dot4_q4_0(g, wd4, qt, xdt, nb, special) : dot4_q8_0((const int8_t *)g, wd4, qt, xdt, nb, special));
    }
  }
}

// the 6-bit scale and min of sub-block j (0..7) from Q4_K's 12 packed bytes (ggml get_scale_min_k4)
static inline void q4k_scale_min(int j, const uint8_t *p, int *sc, int *mn) {
  if (j < 4) {
    *sc = p[j] & 63;
    *mn = p[j + 4] & 63;
  } else {
    *sc = (p[j + 4] & 0x0f) | ((p[j - 4] >> 6) << 4);
    *mn = (p[j + 4] >> 4) | ((p[j] >> 6) << 4);
  }
}

// Q4_K super-block {f16 d; f16 dmin; u8 scales[12]; u8 qs[128]}: value = d*sc*code - dmin*mn
static float dot_q4_k(const uint8_t *w, const int16_t *q, const float *xd, const int32_t *xs, int nsb) {
  v128_t acc = wasm_f32x4_splat(0);
  float accm = 0;
  const v128_t lowmask = wasm_i8x16_splat(0x0f);
  for (int s = 0; s < nsb; s++) {
    const uint8_t *blk = w + (size_t)s * 144;
    const float d = h2f(ld16(blk)), dmin = h2f(ld16(blk + 2));
    const uint8_t *qs = blk + 16;
    const int16_t *qx = q + 256 * s;
    float mterm = 0;
    for (int j = 0; j < 8; j += 2) {
      int sc0, mn0, sc1, mn1;
      q4k_scale_min(j, blk + 4, &sc0, &mn0);
      q4k_scale_min(j + 1, blk + 4, &sc1, &mn1);
      const v128_t v0 = wasm_v128_load(qs + 16 * j), v1 = wasm_v128_load(qs + 16 * j + 16);
      const v128_t p0 = wasm_i32x4_add(dot_i8x16(wasm_v128_and(v0, lowmask), qx + 32 * j), dot_i8x16(wasm_v128_and(v1, lowmask), qx + 32 * j + 16));
      const v128_t p1 = wasm_i32x4_add(dot_i8x16(wasm_u8x16_shr(v0, 4), qx + 32 * j + 32), dot_i8x16(wasm_u8x16_shr(v1, 4), qx + 32 * j + 48));
      const int b0 = 8 * s + j;
      acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(p0), wasm_f32x4_splat(d * (float)sc0 * xd[b0])));
      acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(p1), wasm_f32x4_splat(d * (float)sc1 * xd[b0 + 1])));
      mterm += (float)mn0 * xd[b0] * (float)xs[b0] + (float)mn1 * xd[b0 + 1] * (float)xs[b0 + 1];
    }
    accm += dmin * mterm;
  }
  return hsum_f32(acc) - accm;
}

// Q6_K super-block {u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d}: value = d*sc*(code - 32), codes as
// ggml's dequantize_row_q6_K lays them out (two halves of 128 values).
static float dot_q6_k(const uint8_t *w, const int16_t *q, const float *xd, int nsb) {
  v128_t acc = wasm_f32x4_splat(0);
  const v128_t m4 = wasm_i8x16_splat(0x0f), m3 = wasm_i8x16_splat(3), k32 = wasm_i8x16_splat(32);
  for (int s = 0; s < nsb; s++) {
    const uint8_t *blk = w + (size_t)s * 210;
    const float d = h2f(ld16(blk + 208));
    const int8_t *sc = (const int8_t *)(blk + 192);
    for (int n = 0; n < 2; n++) {
      const uint8_t *ql = blk + 64 * n, *qh = blk + 128 + 32 * n;
      const int16_t *qx = q + 256 * s + 128 * n;
      const int base = 8 * n;  // scale index of this half's first 16 values
      const float *xdb = xd + 8 * s + 4 * n;
      for (int l = 0; l < 2; l++) {  // values l*16 .. l*16+15 of each of the 4 quarter rows
        const v128_t a = wasm_v128_load(ql + 16 * l), b = wasm_v128_load(ql + 32 + 16 * l), h = wasm_v128_load(qh + 16 * l);
        const v128_t c1 = wasm_i8x16_sub(wasm_v128_or(wasm_v128_and(a, m4), wasm_i8x16_shl(wasm_v128_and(h, m3), 4)), k32);
        const v128_t c2 = wasm_i8x16_sub(wasm_v128_or(wasm_v128_and(b, m4), wasm_i8x16_shl(wasm_v128_and(wasm_u8x16_shr(h, 2), m3), 4)), k32);
        const v128_t c3 = wasm_i8x16_sub(wasm_v128_or(wasm_u8x16_shr(a, 4), wasm_i8x16_shl(wasm_v128_and(wasm_u8x16_shr(h, 4), m3), 4)), k32);
        const v128_t c4 = wasm_i8x16_sub(wasm_v128_or(wasm_u8x16_shr(b, 4), wasm_i8x16_shl(wasm_u8x16_shr(h, 6), 4)), k32);
        // quarter r (0..3) covers values 32r .. 32r+31 of the half: activation block r, scale 2r + l
        const v128_t cs[4] = {c1, c2, c3, c4};
        for (int r = 0; r < 4; r++) {
          const v128_t p = dot_i8x16(cs[r], qx + 32 * r + 16 * l);
          acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(p), wasm_f32x4_splat(d * (float)sc[base + 2 * r + l] * xdb[r])));
        }
      }
    }
  }
  return hsum_f32(acc);
}

// 4 weights from element i of a row as f32: kind 0 F32, 1 F16, 2 BF16 (exact conversions)
static inline v128_t load_w4(const void *row, int i, int kind) {
  if (kind == 0) return wasm_v128_load((const float *)row + i);
  const v128_t h = wasm_u32x4_load16x4((const uint16_t *)row + i);
  return kind == 2 ? wasm_i32x4_shl(h, 16) : h2f_x4(h);
}
static inline float load_w1(const void *row, int i, int kind) {
  if (kind == 0) return ((const float *)row)[i];
  const uint16_t h = ((const uint16_t *)row)[i];
  return kind == 2 ? bits_f32((uint32_t)h << 16) : h2f(h);
}

// Prefill, F32 / F16 / BF16: a tile of 4 weight rows x 2 tokens, so that every loaded (and
// converted) weight vector feeds 2 products and every activation vector 4 (the row-by-row dot
// streams both operands once per product and was load-bound). One accumulator per (row, token),
// so the sums round differently from the row-by-row dot's (within the conformance bound); the
// thread split is by rows in multiples of 4, so threads do not change the bits.
static inline void tile_4x2(float *out, const float *x, const uint8_t *w, int rows, int cols, int r, int t, int kind) {
  const size_t rowBytes = (size_t)cols * (kind == 0 ? 4 : 2);
  const uint8_t *w0 = w + (size_t)r * rowBytes, *w1 = w0 + rowBytes, *w2 = w1 + rowBytes, *w3 = w2 + rowBytes;
  const float *x0 = x + (size_t)t * cols, *x1 = x0 + cols;
  v128_t a00 = wasm_f32x4_splat(0), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
  int i = 0;
  for (; i + 4 <= cols; i += 4) {
    const v128_t u = wasm_v128_load(x0 + i), v = wasm_v128_load(x1 + i);
    v128_t q = load_w4(w0, i, kind);
    a00 = wasm_f32x4_add(a00, wasm_f32x4_mul(q, u));
    a01 = wasm_f32x4_add(a01, wasm_f32x4_mul(q, v));
    q = load_w4(w1, i, kind);
    a10 = wasm_f32x4_add(a10, wasm_f32x4_mul(q, u));
    a11 = wasm_f32x4_add(a11, wasm_f32x4_mul(q, v));
    q = load_w4(w2, i, kind);
    a20 = wasm_f32x4_add(a20, wasm_f32x4_mul(q, u));
    a21 = wasm_f32x4_add(a21, wasm_f32x4_mul(q, v));
    q = load_w4(w3, i, kind);
    a30 = wasm_f32x4_add(a30, wasm_f32x4_mul(q, u));
    a31 = wasm_f32x4_add(a31, wasm_f32x4_mul(q, v));
  }
  float s[8] = {hsum_f32(a00), hsum_f32(a10), hsum_f32(a20), hsum_f32(a30), hsum_f32(a01), hsum_f32(a11), hsum_f32(a21), hsum_f32(a31)};
  const uint8_t *wr[4] = {w0, w1, w2, w3};
  for (; i < cols; i++)
    for (int j = 0; j < 4; j++) {
      const float wv = load_w1(wr[j], i, kind);
      s[j] += wv * x0[i];
      s[4 + j] += wv * x1[i];
    }
  for (int j = 0; j < 4; j++) {
    out[(size_t)t * rows + r + j] = s[j];
    out[(size_t)(t + 1) * rows + r + j] = s[4 + j];
  }
}

// rows [r0, r1) x token pairs in tiles; returns the first row left for the row-by-row loop (the odd
// last token of every tiled row is done here too)
static int matmul_tiled(float *out, const float *x, const uint8_t *w, int rows, int cols, int T, int r0, int r1, int kind) {
  int r = r0;
  for (; r + 4 <= r1; r += 4) {
    for (int t = 0; t + 1 < T; t += 2) {
      if (kind == 0) tile_4x2(out, x, w, rows, cols, r, t, 0);
      else if (kind == 1) tile_4x2(out, x, w, rows, cols, r, t, 1);
      else tile_4x2(out, x, w, rows, cols, r, t, 2);
    }
    if (T & 1) {
      const int t = T - 1;
      const float *xt = x + (size_t)t * cols;
      for (int j = r; j < r + 4; j++)
        out[(size_t)t * rows + j] = kind == 0 ? dot_f32(xt, (const float *)w + (size_t)j * cols, cols) : dot_f16(xt, (const uint16_t *)w + (size_t)j * cols, cols, kind == 2);
    }
  }
  return r;
}

// ---- matmul ----

// out (T, rows) = x (T, cols) . W^T for weight rows [r0, r1). `w` / `wd` as the layout says; for
// quantized types `q`, `xd`, `xs` are quant_act's output for x.
EXPORT(matmul)
void matmul(int type, float *out, const float *x, const uint8_t *w, const uint16_t *wd, int rows, int cols, int T, int r0, int r1,
            const int16_t *q, const float *xd, const int32_t *xs) {
  const int nb = cols / 32;
  const int special = type & SPECIAL_SCALES;
  type &= ~SPECIAL_SCALES;
  if (type == T_Q8_0 || type == T_Q4_0) {
    // two copies of the kernels, each with its scale conversion inlined
    if (special) matmul_q0(type == T_Q4_0, out, w, wd, rows, cols, T, r0, r1, q, xd, 1);
    else matmul_q0(type == T_Q4_0, out, w, wd, rows, cols, T, r0, r1, q, xd, 0);
    return;
  }
  // prefill of float weights: tiles of 4 rows x 2 tokens, the last rows below 4 row by row
  if (T > 1 && (type == T_F32 || type == T_F16 || type == T_BF16)) r0 = matmul_tiled(out, x, w, rows, cols, T, r0, r1, type == T_F32 ? 0 : type == T_F16 ? 1 : 2);
  for (int r = r0; r < r1; r++)
    for (int t = 0; t < T; t++) {
      float v;
      switch (type) {
        case T_F32: v = dot_f32(x + (size_t)t * cols, (const float *)w + (size_t)r * cols, cols); break;
        case T_F16: v = dot_f16(x + (size_t)t * cols, (const uint16_t *)w + (size_t)r * cols, cols, 0); break;
        case T_BF16: v = dot_f16(x + (size_t)t * cols, (const uint16_t *)w + (size_t)r * cols, cols, 1); break;
        case T_Q4_K: v = dot_q4_k(w + (size_t)r * (cols / 256) * 144, q + (size_t)t * cols, xd + (size_t)t * nb, xs + (size_t)t * nb, cols / 256); break;
        case T_Q6_K: v = dot_q6_k(w + (size_t)r * (cols / 256) * 210, q + (size_t)t * cols, xd + (size_t)t * nb, cols / 256); break;
        default: v = __builtin_nanf(""); break;
      }
      out[(size_t)t * rows + r] = v;
    }
}

// ---- embed: rows of W dequantized exactly as src/tensor/quant*.ts does it ----

static void dequant_row(int type, float *o, const uint8_t *w, const uint16_t *wd, int r, int cols) {
  const int nb = cols / 32;
  switch (type) {
    case T_F32: __builtin_memcpy(o, w + (size_t)r * cols * 4, (size_t)cols * 4); return;
    case T_F16: {
      const uint16_t *h = (const uint16_t *)w + (size_t)r * cols;
      for (int i = 0; i < cols; i++) o[i] = h2f(h[i]);
      return;
    }
    case T_BF16: {
      const uint16_t *h = (const uint16_t *)w + (size_t)r * cols;
      for (int i = 0; i < cols; i++) o[i] = bits_f32((uint32_t)h[i] << 16);
      return;
    }
    case T_Q8_0: {
      for (int b = 0; b < nb; b++) {
        const size_t u = scale_index(r, b, nb);
        const int8_t *qs = (const int8_t *)w + u * 32;
        const float d = h2f(wd[u]);
        for (int i = 0; i < 32; i++) o[32 * b + i] = (float)qs[i] * d;
      }
      return;
    }
    case T_Q4_0: {
      for (int b = 0; b < nb; b++) {
        const size_t u = scale_index(r, b, nb);
        const uint8_t *qs = w + u * 16;
        const float d = h2f(wd[u]);
        for (int j = 0; j < 16; j++) {
          o[32 * b + j] = (float)((qs[j] & 0x0f) - 8) * d;
          o[32 * b + j + 16] = (float)((qs[j] >> 4) - 8) * d;
        }
      }
      return;
    }
    case T_Q4_K: {
      for (int s = 0; s < cols / 256; s++) {
        const uint8_t *blk = w + ((size_t)r * (cols / 256) + s) * 144;
        const float d = h2f(ld16(blk)), dmin = h2f(ld16(blk + 2));
        const uint8_t *qs = blk + 16;
        float *y = o + 256 * s;
        for (int j = 0; j < 8; j += 2) {
          int sc0, mn0, sc1, mn1;
          q4k_scale_min(j, blk + 4, &sc0, &mn0);
          q4k_scale_min(j + 1, blk + 4, &sc1, &mn1);
          const float d1 = d * (float)sc0, m1 = dmin * (float)mn0, d2 = d * (float)sc1, m2 = dmin * (float)mn1;
          for (int l = 0; l < 32; l++) *y++ = d1 * (float)(qs[l] & 0x0f) - m1;
          for (int l = 0; l < 32; l++) *y++ = d2 * (float)(qs[l] >> 4) - m2;
          qs += 32;
        }
      }
      return;
    }
    case T_Q6_K: {
      for (int s = 0; s < cols / 256; s++) {
        const uint8_t *blk = w + ((size_t)r * (cols / 256) + s) * 210;
        const float d = h2f(ld16(blk + 208));
        const uint8_t *ql = blk, *qh = blk + 128;
        const int8_t *sc = (const int8_t *)(blk + 192);
        float *y = o + 256 * s;
        for (int n = 0; n < 2; n++) {
          for (int l = 0; l < 32; l++) {
            const int is = l >> 4;
            const int q1 = ((ql[l] & 0x0f) | ((qh[l] & 3) << 4)) - 32;
            const int q2 = ((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32;
            const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            y[l] = (d * (float)sc[is]) * (float)q1;
            y[l + 32] = (d * (float)sc[is + 2]) * (float)q2;
            y[l + 64] = (d * (float)sc[is + 4]) * (float)q3;
            y[l + 96] = (d * (float)sc[is + 6]) * (float)q4;
          }
          y += 128;
          ql += 64;
          qh += 32;
          sc += 8;
        }
      }
      return;
    }
  }
}

EXPORT(embed)
void embed(int type, float *out, const uint8_t *w, const uint16_t *wd, int cols, const int32_t *ids, int n) {
  type &= ~SPECIAL_SCALES; // dequant_row's scalar conversion is exact for every binary16
  for (int i = 0; i < n; i++) dequant_row(type, out + (size_t)i * cols, w, wd, ids[i], cols);
}

// ---- elementwise ----

EXPORT(rmsnorm)
void rmsnorm(float *out, const float *x, const float *g, int T, int dim, double eps) {
  for (int t = 0; t < T; t++) {
    const float *xr = x + (size_t)t * dim;
    float *o = out + (size_t)t * dim;
    // as the native backend: the sum of squares in f32 lanes, the rest in double
    const float ss = dot_f32(xr, xr, dim);
    const float scale = (float)(1.0 / __builtin_sqrt((double)(ss / (float)dim) + eps));
    const v128_t vs = wasm_f32x4_splat(scale);
    int i = 0;
    for (; i + 4 <= dim; i += 4) wasm_v128_store(o + i, wasm_f32x4_mul(wasm_f32x4_mul(wasm_v128_load(xr + i), vs), wasm_v128_load(g + i)));
    for (; i < dim; i++) o[i] = (xr[i] * scale) * g[i];
  }
}

// In place over x (T, nHeads, headDim) with cs (T, headDim/2, 2) = cos, sin of each angle (the
// host computes them: the module has no libm).
EXPORT(rope)
void rope(float *x, int T, int nh, int hd, const float *cs) {
  const int half = hd / 2;
  for (int t = 0; t < T; t++)
    for (int h = 0; h < nh; h++) {
      float *v = x + ((size_t)t * nh + h) * hd;
      const float *c = cs + (size_t)t * hd;
      for (int i = 0; i < half; i++) {
        const float a = v[2 * i], b = v[2 * i + 1], co = c[2 * i], si = c[2 * i + 1];
        v[2 * i] = a * co - b * si;
        v[2 * i + 1] = a * si + b * co;
      }
    }
}

EXPORT(swiglu)
void swiglu(float *out, const float *g, const float *u, int n) {
  const v128_t one = wasm_f32x4_splat(1.0f), zero = wasm_f32x4_splat(0.0f);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    const v128_t gv = wasm_v128_load(g + i);
    const v128_t e = exp_f32x4(wasm_f32x4_sub(zero, gv));
    wasm_v128_store(out + i, wasm_f32x4_mul(wasm_f32x4_div(gv, wasm_f32x4_add(one, e)), wasm_v128_load(u + i)));
  }
  for (; i < n; i++) out[i] = g[i] / (1.0f + exp_f32(-g[i])) * u[i];
}

EXPORT(add)
void add(float *out, const float *a, const float *b, int n) {
  int i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(out + i, wasm_f32x4_add(wasm_v128_load(a + i), wasm_v128_load(b + i)));
  for (; i < n; i++) out[i] = a[i] + b[i];
}

// the largest of x[0..n) that is not NaN (-inf when there is none)
static float max_f32(const float *x, int n) {
  v128_t m4 = wasm_f32x4_splat(-__builtin_inff());
  int i = 0;
  for (; i + 4 <= n; i += 4) m4 = wasm_f32x4_pmax(m4, wasm_v128_load(x + i));
  m4 = wasm_f32x4_pmax(m4, wasm_i32x4_shuffle(m4, m4, 2, 3, 0, 1));
  m4 = wasm_f32x4_pmax(m4, wasm_i32x4_shuffle(m4, m4, 1, 0, 3, 2));
  float m = wasm_f32x4_extract_lane(m4, 0);
  for (; i < n; i++)
    if (x[i] > m) m = x[i];
  return m;
}

// exp(x - max) in f32 lanes, summed in double, then scaled by the f32 reciprocal of the sum (as the
// native backend does)
static void softmax_row(float *x, int n) {
  const float m = max_f32(x, n);
  const v128_t vm = wasm_f32x4_splat(m);
  v128_t s0 = wasm_f64x2_splat(0), s1 = s0;
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    const v128_t e = exp_f32x4(wasm_f32x4_sub(wasm_v128_load(x + i), vm));
    wasm_v128_store(x + i, e);
    s0 = wasm_f64x2_add(s0, wasm_f64x2_promote_low_f32x4(e));
    s1 = wasm_f64x2_add(s1, wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(e, e, 2, 3, 0, 1)));
  }
  const v128_t s2 = wasm_f64x2_add(s0, s1);
  double sum = wasm_f64x2_extract_lane(s2, 0) + wasm_f64x2_extract_lane(s2, 1);
  for (; i < n; i++) {
    x[i] = exp_f32(x[i] - m);
    sum += x[i];
  }
  const float inv = (float)(1.0 / sum);
  const v128_t vi = wasm_f32x4_splat(inv);
  for (i = 0; i + 4 <= n; i += 4) wasm_v128_store(x + i, wasm_f32x4_mul(wasm_v128_load(x + i), vi));
  for (; i < n; i++) x[i] *= inv;
}

EXPORT(softmax)
void softmax(float *x, int rows, int cols) {
  for (int r = 0; r < rows; r++) softmax_row(x + (size_t)r * cols, cols);
}

// the first index of the largest value (a NaN never wins, but a NaN first element stays the answer,
// as in the scalar loop `if (x[i] > x[best]) best = i`)
EXPORT(argmax)
int argmax(const float *x, int n) {
  if (n <= 0 || x[0] != x[0]) return 0;
  const float m = max_f32(x, n);
  for (int i = 0; i < n; i++)
    if (x[i] == m) return i;
  return 0;
}

// ---- KV cache and attention ----

// k, v (T, rowLen) -> the cache rows pos0 .. pos0+T-1 (f32, or binary16 when f16)
EXPORT(kv_store)
void kv_store(void *kc, void *vc, int f16, int rowLen, int pos0, int T, const float *k, const float *v) {
  const size_t n = (size_t)T * rowLen, base = (size_t)pos0 * rowLen;
  if (!f16) {
    __builtin_memcpy((float *)kc + base, k, n * 4);
    __builtin_memcpy((float *)vc + base, v, n * 4);
    return;
  }
  uint16_t *kh = (uint16_t *)kc + base, *vh = (uint16_t *)vc + base;
  for (size_t i = 0; i < n; i++) {
    kh[i] = f2h(k[i]);
    vh[i] = f2h(v[i]);
  }
}

// y += a * x (x f32, or binary16 when f16)
static void axpy(float *y, float a, const void *x, int n, int f16) {
  const v128_t va = wasm_f32x4_splat(a);
  int i = 0;
  if (!f16) {
    const float *xf = (const float *)x;
    for (; i + 4 <= n; i += 4) wasm_v128_store(y + i, wasm_f32x4_add(wasm_v128_load(y + i), wasm_f32x4_mul(va, wasm_v128_load(xf + i))));
    for (; i < n; i++) y[i] += a * xf[i];
  } else {
    const uint16_t *xh = (const uint16_t *)x;
    const v128_t expMask = wasm_i16x8_splat(0x7c00);
    for (; i + 8 <= n; i += 8) {
      const v128_t h = wasm_v128_load(xh + i);
      v128_t lo, hi;
      if (!wasm_v128_any_true(wasm_i16x8_eq(wasm_v128_and(h, expMask), expMask))) { // no inf/NaN: the 4-op conversion
        h2f_x8_finite(h, &lo, &hi);
      } else {
        lo = h2f_x4(wasm_u32x4_extend_low_u16x8(h));
        hi = h2f_x4(wasm_u32x4_extend_high_u16x8(h));
      }
      wasm_v128_store(y + i, wasm_f32x4_add(wasm_v128_load(y + i), wasm_f32x4_mul(va, lo)));
      wasm_v128_store(y + i + 4, wasm_f32x4_add(wasm_v128_load(y + i + 4), wasm_f32x4_mul(va, hi)));
    }
    for (; i < n; i++) y[i] += a * h2f(xh[i]);
  }
}

// Decode (one query at position n-1), position-major: the cache of a layer was last read a whole
// token ago and is out of the caches by now, so reading one head's 64-value slice of every row
// (head-major) missed memory at every position and head; walking the rows in order reads each
// row once, sequentially, for all heads. Per head the same dot, softmax and additions in the same
// order as the head-major loop (the same bits). scores: (h1 - h0) x n floats.
static void attention_decode(float *out, const float *q, const void *kc, const void *vc, int f16, int n, int group, int kvRow, int hd, int h0, int h1, float scale, float *scores) {
  for (int p = 0; p < n; p++)
    for (int h = h0; h < h1; h++) {
      const size_t off = (size_t)p * kvRow + (size_t)(h / group) * hd;
      scores[(size_t)(h - h0) * n + p] = (f16 ? dot_f16(q + (size_t)h * hd, (const uint16_t *)kc + off, hd, 0) : dot_f32(q + (size_t)h * hd, (const float *)kc + off, hd)) * scale;
    }
  for (int h = h0; h < h1; h++) softmax_row(scores + (size_t)(h - h0) * n, n);
  for (int i = h0 * hd; i < h1 * hd; i++) out[i] = 0;
  for (int p = 0; p < n; p++)
    for (int h = h0; h < h1; h++) {
      const size_t off = (size_t)p * kvRow + (size_t)(h / group) * hd;
      axpy(out + (size_t)h * hd, scores[(size_t)(h - h0) * n + p], f16 ? (const void *)((const uint16_t *)vc + off) : (const void *)((const float *)vc + off), hd, f16);
    }
}

// Causal attention of queries t in [0, T) (positions pos0 + t), heads [h0, h1), over cache rows
// 0 .. pos0+t. `scores` has room for pos0 + T floats, and for decode (T = 1) (h1 - h0) x (pos0 + 1).
EXPORT(attention)
void attention(float *out, const float *q, const void *kc, const void *vc, int f16, int pos0, int T, int nh, int nkv, int hd, int h0, int h1, float *scores) {
  const int group = nh / nkv, kvRow = nkv * hd;
  const float scale = (float)(1.0 / __builtin_sqrt((double)hd));
  if (T == 1) {
    attention_decode(out, q, kc, vc, f16, pos0 + 1, group, kvRow, hd, h0, h1, scale, scores);
    return;
  }
  for (int t = 0; t < T; t++) {
    const int n = pos0 + t + 1;
    for (int h = h0; h < h1; h++) {
      const float *qh = q + ((size_t)t * nh + h) * hd;
      const size_t kvh = (size_t)(h / group) * hd;
      for (int p = 0; p < n; p++) {
        const size_t off = (size_t)p * kvRow + kvh;
        scores[p] = (f16 ? dot_f16(qh, (const uint16_t *)kc + off, hd, 0) : dot_f32(qh, (const float *)kc + off, hd)) * scale;
      }
      softmax_row(scores, n);
      float *o = out + ((size_t)t * nh + h) * hd;
      for (int i = 0; i < hd; i++) o[i] = 0;
      for (int p = 0; p < n; p++) {
        const size_t off = (size_t)p * kvRow + kvh;
        axpy(o, scores[p], f16 ? (const void *)((const uint16_t *)vc + off) : (const void *)((const float *)vc + off), hd, f16);
      }
    }
  }
}

// ---- probe ----

// Sum of n floats (n a multiple of 32) with 8 independent accumulators: a pass over a buffer larger
// than the caches measures how fast this module can stream memory (the bench's wasm read limit).
EXPORT(stream_read)
float stream_read(const float *p, int n) {
  v128_t a[8];
  for (int k = 0; k < 8; k++) a[k] = wasm_f32x4_splat(0);
  for (int i = 0; i < n; i += 32)
    for (int k = 0; k < 8; k++) a[k] = wasm_f32x4_add(a[k], wasm_v128_load(p + i + 4 * k));
  for (int k = 1; k < 8; k++) a[0] = wasm_f32x4_add(a[0], a[k]);
  return hsum_f32(a[0]);
}

// ---- log-softmax statistics (the Backend op logitStats; oracle: src/backend/js/logit-stats.ts) ----

// The oracle's exp(x) for x <= 0 (expNonPositive), two lanes at a time: x = k·ln2/32 + r, 2^(k/32)
// from the host's tables (the oracle's own numbers: frac[j] = 2^(j/32), neg[m] = 2^-m) and a
// degree-6 polynomial for e^r. wasm has no fused multiply-add, so every lane's term is the oracle's
// term bit for bit; lanes with x <= -745 give 0 (NaN stays NaN), as in the oracle.
static inline v128_t exp_nonpositive_f64x2(v128_t x, const double *frac, const double *neg) {
  const v128_t live = wasm_f64x2_gt(x, wasm_f64x2_splat(-745.0));
  const v128_t xc = wasm_v128_bitselect(x, wasm_f64x2_splat(-745.0), live); // keep table indices in range
  const v128_t round = wasm_f64x2_splat(6755399441055744.0);                // 1.5 · 2^52
  const v128_t k = wasm_f64x2_sub(wasm_f64x2_add(wasm_f64x2_mul(xc, wasm_f64x2_splat(32 / 0.69314718055994530942)), round), round);
  const v128_t r = wasm_f64x2_sub(wasm_f64x2_sub(xc, wasm_f64x2_mul(k, wasm_f64x2_splat(6.93147180369123816490e-1 / 32))),
                                  wasm_f64x2_mul(k, wasm_f64x2_splat(1.90821492927058770002e-10 / 32)));
  v128_t p = wasm_f64x2_splat(1.0 / 720);
  p = wasm_f64x2_add(wasm_f64x2_splat(1.0 / 120), wasm_f64x2_mul(r, p));
  p = wasm_f64x2_add(wasm_f64x2_splat(1.0 / 24), wasm_f64x2_mul(r, p));
  p = wasm_f64x2_add(wasm_f64x2_splat(1.0 / 6), wasm_f64x2_mul(r, p));
  p = wasm_f64x2_add(wasm_f64x2_splat(0.5), wasm_f64x2_mul(r, p));
  p = wasm_f64x2_add(wasm_f64x2_splat(1.0), wasm_f64x2_mul(r, p));
  p = wasm_f64x2_add(wasm_f64x2_splat(1.0), wasm_f64x2_mul(r, p));
  const int k0 = (int)wasm_f64x2_extract_lane(k, 0), k1 = (int)wasm_f64x2_extract_lane(k, 1);
  const v128_t scale = wasm_f64x2_make(neg[-(k0 >> 5)] * frac[k0 & 31], neg[-(k1 >> 5)] * frac[k1 & 31]);
  const v128_t e = wasm_f64x2_mul(scale, p);
  const v128_t dead = wasm_v128_bitselect(wasm_f64x2_splat(0.0), wasm_f64x2_splat(__builtin_nan("")), wasm_f64x2_eq(x, x));
  return wasm_v128_bitselect(e, dead, live);
}

// Per row of `cols` floats: its max, its first argmax (the argmax op's rule) and Σ exp(x − max) in
// float64 (the host takes the log: the module has no libm). The sum runs in two lanes, so it agrees
// with the oracle's sequential sum to rounding, not bit for bit.
EXPORT(logit_stats)
void logit_stats(const float *x, int rows, int cols, float *omax, int32_t *oargmax, double *osum, const double *frac, const double *neg) {
  for (int r = 0; r < rows; r++) {
    const float *row = x + (size_t)r * cols;
    const int best = argmax(row, cols);
    const double m = row[best];
    const v128_t vm = wasm_f64x2_splat(m);
    v128_t s0 = wasm_f64x2_splat(0), s1 = s0;
    int i = 0;
    for (; i + 4 <= cols; i += 4) {
      const v128_t v = wasm_v128_load(row + i);
      s0 = wasm_f64x2_add(s0, exp_nonpositive_f64x2(wasm_f64x2_sub(wasm_f64x2_promote_low_f32x4(v), vm), frac, neg));
      s1 = wasm_f64x2_add(s1, exp_nonpositive_f64x2(wasm_f64x2_sub(wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(v, v, 2, 3, 0, 1)), vm), frac, neg));
    }
    const v128_t s2 = wasm_f64x2_add(s0, s1);
    double sum = wasm_f64x2_extract_lane(s2, 0) + wasm_f64x2_extract_lane(s2, 1);
    for (; i < cols; i++) sum += wasm_f64x2_extract_lane(exp_nonpositive_f64x2(wasm_f64x2_splat((double)row[i] - m), frac, neg), 0);
    omax[r] = row[best];
    oargmax[r] = best;
    osum[r] = sum;
  }
}
