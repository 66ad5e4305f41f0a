// NEON kernels for arm64 (not exercised on the x86 build machine: kept deliberately simple).
// Float dot products and the float-weight matmuls use 4-wide FMA; the integer (quantized) kernels
// reuse the scalar definitions, which the compiler auto-vectorizes for NEON at -O3.
#include "common.h"

#ifdef LN_ARM64
#include <arm_neon.h>

static float dot_f32_neon(const float *a, const float *b, int64_t n) {
  float32x4_t s0 = vdupq_n_f32(0), s1 = vdupq_n_f32(0);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    s0 = vfmaq_f32(s0, vld1q_f32(a + i), vld1q_f32(b + i));
    s1 = vfmaq_f32(s1, vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
  }
  float r = vaddvq_f32(vaddq_f32(s0, s1));
  for (; i < n; i++) r += a[i] * b[i];
  return r;
}

static void axpy_f32_neon(float *y, float a, const float *x, int64_t n) {
  int64_t i = 0;
  float32x4_t va = vdupq_n_f32(a);
  for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vfmaq_f32(vld1q_f32(y + i), va, vld1q_f32(x + i)));
  for (; i < n; i++) y[i] += a * x[i];
}

static void mm_f32_neon(const ln_weight *w, const ln_act *a, float *out, int64_t ldo, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  for (int64_t r = r0; r < r1; r++) {
    const float *wr = (const float *)(w->qs + (size_t)r * w->row_bytes);
    for (int64_t t = t0; t < t1; t++) out[t * ldo + r] = dot_f32_neon(wr, a->xf + t * a->cols, w->cols);
  }
}

int ln_kernels_neon(ln_kernels *k) {
  ln_kernels_scalar(k);  // integer kernels, conversions
  k->name = "neon";
  k->mm_f32 = mm_f32_neon;
  k->dot_f32 = dot_f32_neon;
  k->axpy_f32 = axpy_f32_neon;
  return 1;
}
#endif
