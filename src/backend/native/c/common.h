// Shared declarations of the native backend: weight and activation layouts, the per-ISA kernel
// table, the thread pool. See the notes at the top of matmul.c and state.c for the overall flow.
#ifndef LLAMA_NATIVE_COMMON_H
#define LLAMA_NATIVE_COMMON_H

#include <stdint.h>
#include <stddef.h>
#include <string.h>

#if defined(__x86_64__) || defined(_M_X64)
#define LN_X86 1
#endif
#if defined(__aarch64__)
#define LN_ARM64 1
#endif

#define LN_ALIGN 64

// ggml type numbers (the same as src/tensor/dtype.ts)
enum {
  LN_F32 = 0,
  LN_F16 = 1,
  LN_Q4_0 = 2,
  LN_Q8_0 = 8,
  LN_Q4_K = 12,
  LN_Q6_K = 14,
  LN_BF16 = 30,
};

// A weight matrix (rows, cols) in the layout the kernels read.
//  F32 / F16 / BF16: the caller's bytes in place, row stride = cols * elsize.
//  Q8_0 / Q4_0 (repacked, "lane per block"): each row is cut into groups of 16 blocks (the last
//    group has m = nb - 16g <= 16 blocks). Within a group, vector k (k = 0..7) holds values 4k..4k+3
//    of every block, block j in bytes 4j..4j+3, so one 32-bit lane of an integer dot product
//    accumulates one whole block over the 8 vectors, and the float work (convert, scale, add) is
//    done once per 16 blocks instead of once per block.
//    Q8_0: 32 bytes per block, vector k of group g at g*512 + k*4m, codes = int8 value + 128.
//    Q4_0: 16 bytes per block, bytes g*256 + k2*4m + 4j + i hold vector 2*k2 in the low nibbles and
//    vector 2*k2+1 in the high nibbles (codes 0..15 = value + 8).
//    Per row `sc_stride` binary16 block scales (zero padded to a multiple of 16): before the row's
//    codes (meta_in_row, see below) but for Q8_0 rows of more than 128 blocks, whose scales are
//    one array of rows after the codes (weights.c says why).
//  Q4_K (repacked): the codes (0..15) of every 32-value sub-block exactly as Q4_0's, and per row
//    `sc` = ceil(nb/16) groups of LN_Q4K_META bytes: the 16 sub-blocks' 6-bit scales (u8), their
//    6-bit mins (u8), then binary16 d, d, dmin, dmin of the group's two super-blocks (a partial
//    group of 9-15 sub-blocks is zero padded). Value = d * scale * code - dmin * min. A last group
//    of at most 8 sub-blocks (one super-block: 768 columns = 16 + 8) has a short layout of
//    LN_Q4K_META_SHORT bytes: its 8 scales, 8 mins, d, dmin (a 768-column row reads 444 bytes
//    instead of 464; ggml's are 432). ln_q4k_offsets gives the offsets of either layout.
//    The metadata sits inside the row, before its codes (meta_in_row: row_bytes = metadata +
//    codes, qs = sc + the metadata's bytes, sc_stride = row_bytes / 2), so a matvec reads one
//    sequential stream: as a second array it was a second, slower stream that cost the decode
//    kernels 15-20 points of the read limit on 768-column rows (docs/native-backend.md). Q4_0
//    rows and Q8_0 rows of up to 128 blocks are laid out the same way (110M Q4_0 decode at 1
//    thread 370 -> 424 tok/s).
//  Q6_K (repacked): one lane per 16-value sub-block (Q6_K's scale granularity), so a group of 16
//    sub-blocks is exactly one super-block. Vector k (k = 0..3) holds values 4k..4k+3 of sub-block
//    j in bytes 4j..4j+3. Per group, 192 bytes: three 64-byte vectors, bytes 64k..64k+63 holding
//    vector k's 6-bit codes in bits 0-5 and 2 bits of vector 3's codes in bits 6-7 (vector 0: its
//    bits 0-1, vector 1: bits 2-3, vector 2: bits 4-5), so vectors 0-2 unpack with one AND each.
//    Per row `sc` = per group the 16 int8 scales and d (LN_Q6K_META bytes): d as binary32 (ggml's
//    binary16 widened exactly, in what were 2 bytes of d and 2 of padding), so a decode kernel
//    multiplies by it straight from memory (one broadcast operand) instead of a scalar load, an
//    F16C conversion and a broadcast per group (ln_q6k_d).
//    Value = d * scale * (code - 32).
typedef struct {
  int type;
  int64_t rows, cols;
  const uint8_t *qs;   // first row
  size_t row_bytes;    // stride between rows of qs
  const uint16_t *sc;  // repacked scales (Q8_0/Q4_0) or NULL
  size_t sc_stride;    // in uint16 elements
  int64_t nb;          // 32-value blocks per row
  int64_t npairs;      // ceil(nb / 2)
  int meta_in_row;     // each row's scales / metadata (sc) lie inside the row, before its codes; row_bytes covers both
} ln_weight;

// weight bytes one row takes, codes and scales (for work splitting)
static inline size_t ln_weight_row_total(const ln_weight *w) {
  return w->row_bytes + (w->sc && !w->meta_in_row ? w->sc_stride * 2 : 0);
}

// A prefetch into L2 that the compiler keeps: GCC 12 at -O3 deleted a loop of nothing but
// __builtin_prefetch calls in gemm_panel.c (no side effects), which left the float panel without
// ln_prefetch_rows_share's prefetch (seen in the object code: no prefetch instruction at all).
// (ln_prefetch_row_meta keeps __builtin_prefetch: it survives in its kernels, and this form made
// the 4096x11008 Q4_K decode slower, 24.8 -> 20.3 GB/s.)
static inline void ln_prefetch_l2(const void *p) {
#if defined(__x86_64__)
  __asm__ volatile("prefetcht1 %0" : : "m"(*(const char *)p));
#else
  __builtin_prefetch(p, 0, 2);
#endif
}

#define LN_Q4K_META 40
#define LN_Q4K_META_SHORT 20
#define LN_Q6K_META 20
// group (super-block) g's scales and d of row r of a repacked Q6_K weight
static inline const uint8_t *ln_q6k_meta(const ln_weight *w, int64_t r, int64_t g) {
  return (const uint8_t *)w->sc + (size_t)r * w->sc_stride * 2 + (size_t)g * LN_Q6K_META;
}
// d of a repacked Q6_K group's metadata (binary32, exactly ggml's binary16 value)
static inline float ln_q6k_d(const uint8_t *meta) {
  float d;
  memcpy(&d, meta + 16, 4);
  return d;
}
// codes (0..63) of values i, 4+i, 8+i and 12+i (i = 0..3) of sub-block j of group g in a repacked
// Q6_K row: the three bytes that hold all four (vector k's code in bits 0-5 of byte 64k + 4j + i,
// vector 3's in their bits 6-7)
static inline void ln_q6k_codes4(const uint8_t *row, int64_t g, int j, int i, int c[4]) {
  const uint8_t *grp = row + g * 192;
  const int b0 = grp[4 * j + i], b1 = grp[64 + 4 * j + i], b2 = grp[128 + 4 * j + i];
  c[0] = b0 & 0x3f;
  c[1] = b1 & 0x3f;
  c[2] = b2 & 0x3f;
  c[3] = (b0 >> 6) | ((b1 >> 6) << 2) | ((b2 >> 6) << 4);
}
// code (0..63) of value v (0..15) of sub-block j of group g in a repacked Q6_K row
static inline int ln_q6k_code(const uint8_t *row, int64_t g, int j, int v) {
  int c[4];
  ln_q6k_codes4(row, g, j, v & 3, c);
  return c[v >> 2];
}
// group g's scale/min metadata of row r of a repacked Q4_K weight (see above)
static inline const uint8_t *ln_q4k_meta(const ln_weight *w, int64_t r, int64_t g) {
  return (const uint8_t *)w->sc + (size_t)r * w->sc_stride * 2 + (size_t)g * LN_Q4K_META;
}
// Decode of a row with its metadata inside (meta_in_row; Q4_K / Q6_K 40 / 20 bytes a group, Q4_0 /
// Q8_0 32): the metadata lies before the codes, and the kernels read it group by group while the
// codes stream: two walks through the row, interleaved. On rows of more than ~5000 columns the
// hardware prefetchers then fell behind (from memory at 1 thread, AVX-512: Q4_K 16384x6144 12.1
// GB/s against 28.5 for 24576x4096, 4096x11008 10.6). Prefetching the row's metadata lines when
// the row starts leaves one ascending stream: 16384x6144 25.0 GB/s, 4096x11008 21.1, 24576x4096
// 32.7; Q6_K 32000x4096 27.7 -> 31.0, 9216x11008 11.6 -> 16.6. Rows of at most 2048 columns (1-4
// groups) measured the same either way with AVX-512 (the short kernels go without) and worse in
// the AVX2 tiles (used there from 4096). Q4_0 long rows likewise (7B Q4_0 decode at 1 thread: 5.4
// tok/s without, 7.3 with).
static inline void ln_prefetch_row_meta(const ln_weight *w, int64_t r) {
  const char *m = (const char *)w->sc + (size_t)r * w->row_bytes;
  const size_t bytes = (size_t)(w->qs - (const uint8_t *)w->sc);
  for (size_t o = 0; o < bytes; o += 64) __builtin_prefetch(m + o, 0, 3);
}
// Whether group g of a Q4_K row of nb sub-blocks has the short metadata layout (<= 8 sub-blocks).
static inline int ln_q4k_short_group(int64_t nb, int64_t g) { return nb - 16 * g <= 8; }
// Offsets in group metadata of super-block half h's scales, mins, d and dmin (short: h = 0 only).
typedef struct {
  int sc, mn, d, dmin;
} ln_q4k_off;
static inline ln_q4k_off ln_q4k_offsets(int short_group, int h) {
  ln_q4k_off o;
  o.sc = 8 * h;
  o.mn = short_group ? 8 : 16 + 8 * h;
  o.d = short_group ? 16 : 32 + 2 * h;
  o.dmin = short_group ? 18 : 36 + 2 * h;
  return o;
}


// Byte offset of value i (0..31) of block b in a repacked Q8_0 / Q4_0 row, and for Q4_0 the nibble
// shift (see the layout above).
static inline size_t ln_q0_offset(int64_t nb, int64_t b, int i, int q4, int *shift) {
  const int64_t g = b >> 4, j = b & 15, m = nb - 16 * g < 16 ? nb - 16 * g : 16;
  const int k = i >> 2;
  if (!q4) {
    *shift = 0;
    return (size_t)(g * 512 + k * 4 * m + 4 * j + (i & 3));
  }
  *shift = (k & 1) * 4;
  return (size_t)(g * 256 + (k >> 1) * 4 * m + 4 * j + (i & 3));
}

// The 32 unsigned codes of block b of a repacked Q8_0 (value + 128) or Q4_0 (value + 8) row.
static inline void ln_q0_block_codes(const uint8_t *row, int64_t nb, int64_t b, int q4, uint8_t codes[32]) {
  for (int i = 0; i < 32; i++) {
    int shift;
    codes[i] = (uint8_t)((row[ln_q0_offset(nb, b, i, q4, &shift)] >> shift) & (q4 ? 0x0f : 0xff));
  }
}

// Activations of a matmul prepared for the integer kernels: x quantized per 32-value block to int8
// with a float scale (like ggml's Q8_0), plus per-block helper vectors the kernels add or multiply
// lane-wise so that the inner loop needs no shuffles:
//   q    (T, npairs*64) int8, zero padded
//   dxe  (T, npairs*16) float: the block scale repeated over the 8 int32 lanes that a 256-bit
//        dot product of that block produces
//   bias (T, npairs*16) int32: correction for the weight's zero point, in the same lanes, so that
//        dpbusd(bias, w_u8, x) = sum((w_u8 - zero) * x) per block (see ln_prepare_bias)
//   csum (T, npairs*2) float: dx * sum(q) per block (Q4_K's min term)
// and, for Q8_0 / Q4_0 weights, the same values in the weights' lane-per-block order:
//   qi   (T, qi_stride) int8: q interleaved as the weight groups are (vector k of group g at
//        g*512 + k*4m, block j at 4j), so x and w load alike
//   b16  (T, g_stride) int32: -zero * sum(q) of each block (16 lanes per group, zero padded)
//   d16  (T, g_stride) float: each block's scale (zero padded)
typedef struct {
  int64_t T, cols, nb, npairs;
  const float *xf;  // the float activations (T, cols)
  int8_t *q;
  float *dxe;
  int32_t *bias;
  float *csum;
  size_t q_stride, e_stride, c_stride;  // per token, in elements
  int8_t *qi;
  int32_t *b16;
  float *d16;
  size_t qi_stride, g_stride;
} ln_act;

// Q6_K's lanes are 16-value sub-blocks: qi vector k of super-block g holds values 4k..4k+3 of each
// sub-block j (bytes g*256 + 64k + 4j), b16 = -32 * sum(q) and d16 = the block scale per sub-block.
static inline void ln_act_interleave_q6k(ln_act *a, int64_t t0, int64_t t1) {
  const int64_t nsb = a->cols / 256;
  for (int64_t t = t0; t < t1; t++) {
    const int8_t *q = a->q + t * a->q_stride;
    const float *dxe = a->dxe + t * a->e_stride;
    int8_t *qi = a->qi + t * a->qi_stride;
    int32_t *b16 = a->b16 + t * a->g_stride;
    float *d16 = a->d16 + t * a->g_stride;
    for (int64_t g = 0; g < nsb; g++)
      for (int j = 0; j < 16; j++) {
        const int8_t *src = q + g * 256 + 16 * j;
        int32_t s = 0;
        for (int v = 0; v < 16; v++) s += src[v];
        b16[g * 16 + j] = -32 * s;
        d16[g * 16 + j] = dxe[((g * 256 + 16 * j) / 32) * 8];
        for (int k = 0; k < 4; k++) memcpy(qi + g * 256 + 64 * k + 4 * j, src + 4 * k, 4);
      }
  }
}

// Fill qi / b16 / d16 of tokens [t0, t1) from q / bias / dxe (see ln_act).
static inline void ln_act_interleave(ln_act *a, int64_t t0, int64_t t1) {
  const int64_t nb = a->nb;
  for (int64_t t = t0; t < t1; t++) {
    const int8_t *q = a->q + t * a->q_stride;
    const int32_t *bias = a->bias + t * a->e_stride;
    const float *dxe = a->dxe + t * a->e_stride;
    int8_t *qi = a->qi + t * a->qi_stride;
    int32_t *b16 = a->b16 + t * a->g_stride;
    float *d16 = a->d16 + t * a->g_stride;
    for (int64_t g = 0; g * 16 < nb; g++) {
      const int64_t m = nb - 16 * g < 16 ? nb - 16 * g : 16;
      for (int64_t j = 0; j < 16; j++) {
        const int64_t b = 16 * g + j;
        b16[b] = j < m ? bias[b * 8] + bias[b * 8 + 4] : 0;
        d16[b] = j < m ? dxe[b * 8] : 0.0f;
        if (j >= m) continue;
        for (int k = 0; k < 8; k++) memcpy(qi + g * 512 + k * 4 * m + 4 * j, q + b * 32 + 4 * k, 4);
      }
    }
  }
}

// Token-interleaved activations for the outer-product kernels (Q8_0 / Q4_0, T >= 8): for each full
// quad of tokens tq and block b, 8 slots g of 16 bytes = the 4 tokens' values 4g..4g+3; plus per (tq, b) 16 int32 zero-point biases and 16 float scales in the lane
// order the kernel uses (lane l = row l%4 of a row quad, token l/4 of a token quad).
typedef struct {
  int64_t nq;  // full token quads
  const uint8_t *bq;
  const int32_t *bbias;
  const float *bscale;
  const float *bcsum;  // dx * sum(q) of each (token, block) in the same lanes (Q4_K's min term)
  const int32_t *bbias2;  // Q6_K (16-value scales): bbias holds values 0..15's bias, this 16..31's
} ln_outer;
typedef void (*ln_outer_fn)(const ln_weight *w, const ln_outer *o, float *out, int64_t ldo, int64_t r0, int64_t r1, int64_t tq0, int64_t tq1, uint8_t *scratch);
// bytes of per-thread scratch the outer kernel needs for a row block of 16 rows
static inline size_t ln_outer_scratch(int64_t nb) { return (size_t)nb * 4 * (128 + 64 + 64) + 64; }

// One (ISA, type) matmul kernel: out[t*ldo + r] for r in [r0, r1), t in [t0, t1).
typedef void (*ln_mm_fn)(const ln_weight *w, const ln_act *a, float *out, int64_t ldo, int64_t r0, int64_t r1, int64_t t0, int64_t t1);
// Quantize rows [t0, t1) of a->xf into a (the integer kernels' activations).
typedef void (*ln_quant_fn)(ln_act *a, int64_t t0, int64_t t1, int wtype);
typedef float (*ln_dot_f32_fn)(const float *a, const float *b, int64_t n);
typedef void (*ln_axpy_f32_fn)(float *y, float a, const float *x, int64_t n);
typedef void (*ln_f16_to_f32_fn)(float *dst, const uint16_t *src, int64_t n);
typedef void (*ln_f32_to_f16_fn)(uint16_t *dst, const float *src, int64_t n);
// runs `iters` rounds of independent FMAs; returns the floating-point operations done
typedef double (*ln_fma_loop_fn)(int64_t iters);

typedef struct {
  const char *name;
  ln_mm_fn mm_f32, mm_f16, mm_bf16, mm_q8_0, mm_q4_0, mm_q4_k, mm_q6_k;
  ln_quant_fn quant;
  ln_dot_f32_fn dot_f32;
  ln_axpy_f32_fn axpy_f32;
  ln_f16_to_f32_fn f16_to_f32;
  ln_f32_to_f16_fn f32_to_f16;
  ln_fma_loop_fn fma_loop;
  ln_outer_fn outer_q8_0, outer_q4_0, outer_q4_k, outer_q6_k;  // optional (NULL: the tile kernels handle T > 1)
  // with the outer kernels: ln_outer's token-interleaved copy of token quad tq (its 4 rows already in a)
  void (*outer_quad)(const ln_act *a, const ln_outer *o, int64_t tq, int64_t nb, int q6k);
  // optional decode attention of one (token, head) over f32 KV rows (NULL or 0 returned: the
  // generic dot/axpy loop): scores[p] = scale * q . k_p; out = sum_p s_p v_p
  void (*attn_scores_f32)(float *scores, const float *q, const float *k, int64_t stride, int64_t n, int64_t hd, float scale);
  int (*attn_values_f32)(float *out, const float *s, const float *v, int64_t stride, int64_t n, int64_t hd);
  // optional decode attention over f32 or binary16 KV rows (see k_avx512.c); 0: not handled
  // ml != NULL: a chunk of a long span (attention.c): out gets the unnormalized sums exp(s - m)·v
  // and ml[2h], ml[2h+1] each head's max score m and sum of exp(s - m), instead of softmax·v
  int (*attn_decode)(float *out, const float *q, const void *k, const void *v, int f16, int64_t kvRow, int64_t n, int64_t nkvl, int64_t group, int64_t hd, float scale, float *scores, float *ml);
  // optional vectorized elementwise ops (NULL: the scalar loops in ops.c)
  void (*swiglu)(float *out, const float *g, const float *u, int64_t n);
  void (*softmax)(float *x, int64_t n);
  // x[i] = exp(x[i] - max) in place, as softmax computes them; returns the sum (double) and sets *max
  double (*exp_shifted)(float *x, int64_t n, float *max);
} ln_kernels;

void ln_kernels_scalar(ln_kernels *k);
void ln_q6k_unpack(const uint8_t *blk, uint8_t q[256]);  // ggml Q6_K super-block -> 256 codes 0..63
#ifdef LN_X86
int ln_kernels_avx2(ln_kernels *k);    // returns 0 when the CPU lacks AVX2/FMA/F16C
int ln_kernels_avx512(ln_kernels *k);  // returns 0 when the CPU lacks AVX-512 F/BW/VL/VNNI
#endif
#ifdef LN_ARM64
int ln_kernels_neon(ln_kernels *k);
#endif

// ---- scalar helpers shared by all paths (exact conversions) ----
static inline float ln_h2f(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do {
        e++;
        mant <<= 1;
      } while ((mant & 0x400) == 0);
      bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((mant & 0x3ff) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

// float -> binary16, round to nearest even, as src/tensor/f16.ts floatToHalf (NaN -> quiet NaN).
static inline uint16_t ln_f2h(float v) {
  uint32_t x;
  memcpy(&x, &v, 4);
  uint32_t sign = (x >> 16) & 0x8000;
  int32_t exp = (x >> 23) & 0xff;
  uint32_t mant = x & 0x7fffff;
  if (exp == 0xff) return (uint16_t)(sign | 0x7c00 | (mant ? 0x200 : 0));
  int32_t e = exp - 127 + 15;
  if (e >= 31) return (uint16_t)(sign | 0x7c00);
  if (e <= 0) {
    if (e < -10) return (uint16_t)sign;
    mant |= 0x800000;
    int shift = 14 - e;
    uint32_t half = 1u << (shift - 1);
    uint32_t r = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1);
    if (rem > half || (rem == half && (r & 1))) r++;
    return (uint16_t)(sign | r);
  }
  uint32_t r = mant >> 13;
  uint32_t rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (r & 1))) {
    r++;
    if (r == 0x400) {
      r = 0;
      e++;
      if (e >= 31) return (uint16_t)(sign | 0x7c00);
    }
  }
  return (uint16_t)(sign | ((uint32_t)e << 10) | r);
}

static inline float ln_bf2f(uint16_t b) {
  uint32_t bits = (uint32_t)b << 16;
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

// Q4_K: the 12 bytes of packed 6-bit scales and mins of 8 sub-blocks (ggml's layout: sub-blocks
// 0-3 in the low 6 bits of bytes 0-3 (scales) and 4-7 (mins); 4-7 split over the nibbles of bytes
// 8-11 plus the top 2 bits of bytes 0-7).
static inline void ln_q4k_scales(const uint8_t *p, uint8_t sc[8], uint8_t mn[8]) {
  uint32_t a, b, c;
  memcpy(&a, p, 4);
  memcpy(&b, p + 4, 4);
  memcpy(&c, p + 8, 4);
  uint32_t s_lo = a & 0x3f3f3f3fu;
  uint32_t m_lo = b & 0x3f3f3f3fu;
  uint32_t s_hi = (c & 0x0f0f0f0fu) | (((a >> 6) & 0x03030303u) << 4);
  uint32_t m_hi = ((c >> 4) & 0x0f0f0f0fu) | (((b >> 6) & 0x03030303u) << 4);
  memcpy(sc, &s_lo, 4);
  memcpy(sc + 4, &s_hi, 4);
  memcpy(mn, &m_lo, 4);
  memcpy(mn + 4, &m_hi, 4);
}

// Block b of row r of a repacked Q4_K weight: value = d * code - m
static inline void ln_q4k_block_scale(const ln_weight *w, int64_t r, int64_t b, float *d, float *m) {
  const uint8_t *meta = ln_q4k_meta(w, r, b / 16);
  const int jj = (int)(b % 16), half = jj / 8;
  const ln_q4k_off o = ln_q4k_offsets(ln_q4k_short_group(w->nb, b / 16), half);
  uint16_t h[2];
  memcpy(&h[0], meta + o.d, 2);
  memcpy(&h[1], meta + o.dmin, 2);
  *d = ln_h2f(h[0]) * (float)meta[o.sc + jj % 8];
  *m = ln_h2f(h[1]) * (float)meta[o.mn + jj % 8];
}

// Zero point of the integer weights of a type as the kernels see them (Q8_0 repacked: +128).
static inline int ln_zero_point(int wtype) {
  switch (wtype) {
    case LN_Q8_0: return 128;
    case LN_Q4_0: return 8;
    case LN_Q6_K: return 32;
    default: return 0;
  }
}

// Fill the bias lanes of one token's activations: lane 0 of each 4-lane group gets
// -zero * (sum of the 16 quantized values that group's half-block covers)... precisely: a 32-value
// block produces 8 int32 lanes (lane k sums values 4k..4k+3); lanes 0 and 4 receive the zero point
// correction of values 0-15 and 16-31 so a 16-value scale (Q6_K) may multiply each half.
static inline void ln_block_bias(int32_t *lanes8, const int8_t *q32, int zero) {
  int32_t s0 = 0, s1 = 0;
  for (int i = 0; i < 16; i++) s0 += q32[i];
  for (int i = 16; i < 32; i++) s1 += q32[i];
  for (int i = 0; i < 8; i++) lanes8[i] = 0;
  lanes8[0] = -zero * s0;
  lanes8[4] = -zero * s1;
}

// tuning knobs (set through the addon's setTuning, for A/B benchmarks)
extern int ln_tune_nr1;  // T = 1: one weight row at a time (one sequential stream)
extern int ln_tune_pf;   // software prefetch distance in bytes (0: none)
extern int ln_tune_pf_head;  // T = 1 Q8_0/Q4_0: bytes prefetched at the start of a row block
extern int ln_tune_nr1_float, ln_tune_pf_float;  // the same for F32/F16/BF16 weights (-1: auto)
extern int ln_tune_copy_float;  // copy weights used in place (float, K-quants) into native huge pages
extern int ln_tune_pf_next;  // prefill: the next rows' weights prefetched into L2 during the current ones
extern int ln_tune_ops_par;  // prefill-sized elementwise ops split over the pool (ops.c)
extern int ln_tune_ymm_tail;  // T = 1 Q8_0/Q4_0: a partial group of <= 8 blocks in 256-bit registers
extern int ln_tune_q4k_short;  // T = 1 Q4_K rows of <= 1024 columns: activations in registers, a <= 8-block tail in 256-bit registers
extern int ln_tune_q6k_short;  // T = 1 Q6_K rows of <= 1024 columns: activations in registers
extern int ln_tune_q8_short;  // T = 1 Q8_0 rows of <= 1024 columns: activations in registers, a <= 8-block tail in 256-bit registers
extern int ln_tune_mv_short;  // T = 1 Q8_0/Q4_0 rows of <= 1024 columns: activations kept in registers
extern int ln_tune_guided;  // T = 1, several threads: 2 owned shares + stealing, 1 guided self-scheduling of rows, 0 fixed blocks
extern int ln_tune_mv_chunk;  // T = 1, guided=2: rows claimed at a time, in weight bytes
extern int ln_tune_mv_block;  // T = 1: smallest row block handed to a thread, in weight bytes
extern int ln_tune_attn;  // decode attention through the ISA's attn_* kernels when present
extern int ln_tune_attn_ahead;  // decode attention (AVX-512): the first cache rows of K and V prefetched when a pass starts
extern int ln_tune_outer;  // use the outer-product prefill kernels where available
extern int ln_tune_q6k;  // Q6_K decode (AVX-512): 1 mv_q6k_long / mv_q6k_3 with integer-domain sub-block scales, 2 mv_q6k_3 only, 0 float scales

// Prefill: share `part` of `parts` of the weight bytes of rows [r0, r1) (codes and scales) into L2,
// a slice per step of the work on the rows before them, so that the rows a kernel packs next are
// there when it starts on them.
static inline void ln_prefetch_rows_share(const ln_weight *w, int64_t r0, int64_t r1, int64_t part, int64_t parts) {
  if (r1 <= r0 || parts <= 0 || !ln_tune_pf_next) return;
  const uint8_t *base = (w->meta_in_row ? (const uint8_t *)w->sc : w->qs) + (size_t)r0 * w->row_bytes;
  const size_t lines = ((size_t)(r1 - r0) * w->row_bytes + 63) / 64;
  for (size_t l = lines * (size_t)part / (size_t)parts; l < lines * (size_t)(part + 1) / (size_t)parts; l++) ln_prefetch_l2(base + l * 64);
  if (!w->sc || w->meta_in_row || part != 0) return;
  const size_t srow = w->sc_stride * 2;
  const uint8_t *s0 = (const uint8_t *)w->sc + (size_t)r0 * srow;
  for (size_t o = 0; o < (size_t)(r1 - r0) * srow; o += 64) ln_prefetch_l2(s0 + o);
}

// T = 1 with float weights: one row at a time up to 16 KiB rows, a 4-row interleave beyond (same-
// process A/B, weights in huge pages: 768-4096 columns 77-97% of the read bandwidth one row at a
// time vs 37-81% interleaved; 11008 columns 87% interleaved vs 64%)
static inline int ln_nr1_float(const ln_weight *w) {
  return ln_tune_nr1_float > 0 || (ln_tune_nr1_float < 0 && w->row_bytes <= 16384);
}

// thread pool
typedef void (*ln_task_fn)(void *ctx, int ith, int nth);
int ln_pool_set_threads(int n);  // returns the pool size in effect
int ln_pool_threads(void);
// Dynamic job: fn(ctx, i, n) runs on the caller and on whichever workers join in time; fn must hand
// out its work through its own atomic counter so that any subset of threads completes it.
void ln_pool_run(ln_task_fn fn, void *ctx);
// Static job: every one of the n threads runs fn(ctx, i, n).
void ln_pool_run_all(ln_task_fn fn, void *ctx);
void ln_pool_shutdown(void);

void *ln_aligned_alloc(size_t bytes);
void ln_aligned_free(void *p);
// Weights: buffers from 64 KiB to 4 MiB come from a shared huge-page arena (see pool.c).
void *ln_weight_alloc(size_t bytes);
void ln_weight_free(void *p);  // for ln_weight_alloc's buffers only
extern int ln_tune_arena_min;  // smallest weight put in the arena (A/B knob `arenamin`)

#endif
