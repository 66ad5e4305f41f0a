// Portable kernels: the fallback on CPUs without the SIMD paths, and the definition the SIMD
// kernels follow (the same activation quantization and integer dot products, lane order aside).
#include "common.h"

#include <math.h>

// ---------- weight decoding (also used by embed on every path) ----------


// Q6_K super-block (210 bytes) -> 256 values 0..63
void ln_q6k_unpack(const uint8_t *blk, uint8_t q[256]) {
  const uint8_t *ql = blk, *qh = blk + 128;
  for (int h = 0; h < 2; h++) {
    const uint8_t *L = ql + 64 * h, *H = qh + 32 * h;
    uint8_t *o = q + 128 * h;
    for (int l = 0; l < 32; l++) {
      o[l] = (uint8_t)((L[l] & 0x0f) | ((H[l] & 3) << 4));
      o[l + 32] = (uint8_t)((L[l + 32] & 0x0f) | (((H[l] >> 2) & 3) << 4));
      o[l + 64] = (uint8_t)((L[l] >> 4) | (((H[l] >> 4) & 3) << 4));
      o[l + 96] = (uint8_t)((L[l + 32] >> 4) | (((H[l] >> 6) & 3) << 4));
    }
  }
}

void ln_dequant_row(const ln_weight *w, int64_t r, float *out) {
  const int64_t cols = w->cols;
  const uint8_t *row = w->qs + (size_t)r * w->row_bytes;
  switch (w->type) {
    case LN_F32: memcpy(out, row, (size_t)cols * 4); break;
    case LN_F16: {
      const uint16_t *h = (const uint16_t *)row;
      for (int64_t i = 0; i < cols; i++) out[i] = ln_h2f(h[i]);
      break;
    }
    case LN_BF16: {
      const uint16_t *h = (const uint16_t *)row;
      for (int64_t i = 0; i < cols; i++) out[i] = ln_bf2f(h[i]);
      break;
    }
    case LN_Q8_0:
    case LN_Q4_0: {
      const uint16_t *sc = w->sc + (size_t)r * w->sc_stride;
      const int q4 = w->type == LN_Q4_0, zero = q4 ? 8 : 128;
      uint8_t codes[32];
      for (int64_t b = 0; b < w->nb; b++) {
        float d = ln_h2f(sc[b]);
        ln_q0_block_codes(row, w->nb, b, q4, codes);
        for (int i = 0; i < 32; i++) out[b * 32 + i] = d * (float)((int)codes[i] - zero);
      }
      break;
    }
    case LN_Q4_K: {
      uint8_t codes[32];
      for (int64_t b = 0; b < w->nb; b++) {
        float d, m;
        ln_q4k_block_scale(w, r, b, &d, &m);
        ln_q0_block_codes(row, w->nb, b, 1, codes);
        for (int i = 0; i < 32; i++) out[b * 32 + i] = d * codes[i] - m;
      }
      break;
    }
    case LN_Q6_K: {
      // four codes per read of their three bytes (an embedding lookup dequantizes a row per token:
      // a code at a time, ~5 ns per value)
      for (int64_t g = 0; g < cols / 256; g++) {
        const uint8_t *meta = ln_q6k_meta(w, r, g);
        const float d = ln_q6k_d(meta);
        for (int j = 0; j < 16; j++) {
          const float ds = d * (int8_t)meta[j];
          float *o = out + g * 256 + 16 * j;
          for (int i = 0; i < 4; i++) {
            int c[4];
            ln_q6k_codes4(row, g, j, i, c);
            for (int k = 0; k < 4; k++) o[4 * k + i] = ds * (c[k] - 32);
          }
        }
      }
      break;
    }
  }
}

// ---------- activation quantization ----------

static void quant_scalar(ln_act *a, int64_t t0, int64_t t1, int wtype) {
  const int zero = ln_zero_point(wtype);
  for (int64_t t = t0; t < t1; t++) {
    const float *x = a->xf + t * a->cols;
    int8_t *q = a->q + t * a->q_stride;
    float *dxe = a->dxe + t * a->e_stride;
    int32_t *bias = a->bias + t * a->e_stride;
    float *cs = a->csum + t * a->c_stride;
    for (int64_t b = 0; b < a->npairs * 2; b++) {
      int8_t *qb = q + b * 32;
      float d = 0;
      if (b < a->nb) {
        float amax = 0;
        for (int i = 0; i < 32; i++) {
          float v = fabsf(x[b * 32 + i]);
          if (v > amax) amax = v;
        }
        d = amax / 127.0f;
        float id = d != 0 ? 127.0f / amax : 0.0f;
        for (int i = 0; i < 32; i++) qb[i] = (int8_t)nearbyintf(x[b * 32 + i] * id);
      } else {
        memset(qb, 0, 32);
      }
      int32_t s = 0;
      for (int i = 0; i < 32; i++) s += qb[i];
      for (int i = 0; i < 8; i++) dxe[b * 8 + i] = d;
      ln_block_bias(bias + b * 8, qb, zero);
      cs[b] = d * (float)s;
    }
  }
}

// ---------- matmul kernels ----------

static float dot_f32(const float *a, const float *b, int64_t n) {
  float s[8] = {0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; k++) s[k] += a[i + k] * b[i + k];
  float r = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
  for (; i < n; i++) r += a[i] * b[i];
  return r;
}

static void axpy_f32(float *y, float a, const float *x, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

static void f16_to_f32(float *dst, const uint16_t *src, int64_t n) {
  for (int64_t i = 0; i < n; i++) dst[i] = ln_h2f(src[i]);
}

static void f32_to_f16(uint16_t *dst, const float *src, int64_t n) {
  for (int64_t i = 0; i < n; i++) dst[i] = ln_f2h(src[i]);
}

static void mm_f32(const ln_weight *w, const ln_act *a, float *out, int64_t ldo, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  for (int64_t r = r0; r < r1; r++) {
    const float *wr = (const float *)(w->qs + (size_t)r * w->row_bytes);
    for (int64_t t = t0; t < t1; t++) out[t * ldo + r] = dot_f32(wr, a->xf + t * a->cols, w->cols);
  }
}

static void mm_half(const ln_weight *w, const ln_act *a, float *out, int64_t ldo, int64_t r0, int64_t r1, int64_t t0, int64_t t1, int bf) {
  float buf[1024];
  const int64_t cols = w->cols;
  for (int64_t r = r0; r < r1; r++) {
    const uint16_t *wr = (const uint16_t *)(w->qs + (size_t)r * w->row_bytes);
    for (int64_t t = t0; t < t1; t++) out[t * ldo + r] = 0;
    for (int64_t c0 = 0; c0 < cols; c0 += 1024) {
      int64_t n = cols - c0 < 1024 ? cols - c0 : 1024;
      for (int64_t i = 0; i < n; i++) buf[i] = bf ? ln_bf2f(wr[c0 + i]) : ln_h2f(wr[c0 + i]);
      for (int64_t t = t0; t < t1; t++) out[t * ldo + r] += dot_f32(buf, a->xf + t * a->cols + c0, n);
    }
  }
}

static void mm_f16(const ln_weight *w, const ln_act *a, float *out, int64_t ldo, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  mm_half(w, a, out, ldo, r0, r1, t0, t1, 0);
}
static void mm_bf16(const ln_weight *w, const ln_act *a, float *out, int64_t ldo, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  mm_half(w, a, out, ldo, r0, r1, t0, t1, 1);
}

static void mm_q0(const ln_weight *w, const ln_act *a, float *out, int64_t ldo, int64_t r0, int64_t r1, int64_t t0, int64_t t1, int q4) {
  const int zero = q4 ? 8 : 128;
  uint8_t codes[32];
  for (int64_t r = r0; r < r1; r++) {
    const uint8_t *wr = w->qs + (size_t)r * w->row_bytes;
    const uint16_t *sc = w->sc + (size_t)r * w->sc_stride;
    for (int64_t t = t0; t < t1; t++) out[t * ldo + r] = 0;
    for (int64_t b = 0; b < w->nb; b++) {
      ln_q0_block_codes(wr, w->nb, b, q4, codes);
      const float d = ln_h2f(sc[b]);
      for (int64_t t = t0; t < t1; t++) {
        const int8_t *q = a->q + t * a->q_stride + b * 32;
        int32_t s = 0;
        for (int i = 0; i < 32; i++) s += ((int)codes[i] - zero) * q[i];
        out[t * ldo + r] += d * a->dxe[t * a->e_stride + b * 8] * (float)s;
      }
    }
  }
}

static void mm_q8_0(const ln_weight *w, const ln_act *a, float *out, int64_t ldo, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  mm_q0(w, a, out, ldo, r0, r1, t0, t1, 0);
}

static void mm_q4_0(const ln_weight *w, const ln_act *a, float *out, int64_t ldo, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  mm_q0(w, a, out, ldo, r0, r1, t0, t1, 1);
}

static void mm_q4_k(const ln_weight *w, const ln_act *a, float *out, int64_t ldo, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  uint8_t codes[32];
  for (int64_t r = r0; r < r1; r++) {
    const uint8_t *wr = w->qs + (size_t)r * w->row_bytes;
    for (int64_t t = t0; t < t1; t++) out[t * ldo + r] = 0;
    for (int64_t b = 0; b < w->nb; b++) {
      float d, m;
      ln_q4k_block_scale(w, r, b, &d, &m);
      ln_q0_block_codes(wr, w->nb, b, 1, codes);
      for (int64_t t = t0; t < t1; t++) {
        const int8_t *x = a->q + t * a->q_stride + b * 32;
        int32_t is = 0;
        for (int l = 0; l < 32; l++) is += codes[l] * x[l];
        out[t * ldo + r] += d * a->dxe[t * a->e_stride + b * 8] * (float)is - m * a->csum[t * a->c_stride + b];
      }
    }
  }
}

static void mm_q6_k(const ln_weight *w, const ln_act *a, float *out, int64_t ldo, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  const int64_t nsb = w->cols / 256;
  for (int64_t r = r0; r < r1; r++) {
    const uint8_t *wr = w->qs + (size_t)r * w->row_bytes;
    for (int64_t t = t0; t < t1; t++) out[t * ldo + r] = 0;
    for (int64_t g = 0; g < nsb; g++) {
      const uint8_t *meta = ln_q6k_meta(w, r, g);
      const float d = ln_q6k_d(meta);
      int codes[256];
      for (int j = 0; j < 16; j++)
        for (int v = 0; v < 16; v++) codes[16 * j + v] = ln_q6k_code(wr, g, j, v) - 32;
      for (int64_t t = t0; t < t1; t++) {
        const int8_t *x = a->q + t * a->q_stride + g * 256;
        const float *dxe = a->dxe + t * a->e_stride + g * 64;
        float acc = 0;
        for (int b = 0; b < 8; b++) {
          int32_t s0 = 0, s1 = 0;
          for (int l = 0; l < 16; l++) s0 += codes[b * 32 + l] * x[b * 32 + l];
          for (int l = 16; l < 32; l++) s1 += codes[b * 32 + l] * x[b * 32 + l];
          acc += dxe[b * 8] * (float)((int8_t)meta[2 * b] * s0 + (int8_t)meta[2 * b + 1] * s1);
        }
        out[t * ldo + r] += d * acc;
      }
    }
  }
}

static double fma_loop_scalar(int64_t iters) {
  float acc[8] = {0, 1, 2, 3, 4, 5, 6, 7};
  for (int64_t i = 0; i < iters; i++)
    for (int k = 0; k < 8; k++) acc[k] = acc[k] * 0.999f + 1e-6f;
  volatile float sink = acc[0] + acc[7];
  (void)sink;
  return (double)iters * 8 * 2;
}

void ln_kernels_scalar(ln_kernels *k) {
  k->name = "scalar";
  k->mm_f32 = mm_f32;
  k->mm_f16 = mm_f16;
  k->mm_bf16 = mm_bf16;
  k->mm_q8_0 = mm_q8_0;
  k->mm_q4_0 = mm_q4_0;
  k->mm_q4_k = mm_q4_k;
  k->mm_q6_k = mm_q6_k;
  k->quant = quant_scalar;
  k->dot_f32 = dot_f32;
  k->axpy_f32 = axpy_f32;
  k->f16_to_f32 = f16_to_f32;
  k->f32_to_f16 = f32_to_f16;
  k->fma_loop = fma_loop_scalar;
}
