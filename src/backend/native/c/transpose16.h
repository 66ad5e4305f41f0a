// A 16 x 16 transpose of f32 in AVX-512 registers, shared by the outer-product kernels
// (gemm_panel.c, attention_prefill.c). Include only inside an `#ifdef LN_X86` block, after
// <immintrin.h>.
#ifndef LN_TRANSPOSE16_H
#define LN_TRANSPOSE16_H

// r[0..15] (16 rows of 16) -> r[j] = column j of those rows: unpack 32-bit pairs, then 64-bit
// pairs, then 128-bit lanes (three stages, no memory round trip)
__attribute__((target("avx512f,avx512dq"))) static inline __attribute__((always_inline)) void ln_transpose16x16(__m512 r[16]) {
  __m512 a[16], b[16];
  for (int i = 0; i < 8; i++) {
    a[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    a[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; i++) {  // b[4i + c], lane L: rows 4i..4i+3 of column 4L + c
    const __m512d a0 = _mm512_castps_pd(a[4 * i]), a1 = _mm512_castps_pd(a[4 * i + 1]);
    const __m512d a2 = _mm512_castps_pd(a[4 * i + 2]), a3 = _mm512_castps_pd(a[4 * i + 3]);
    b[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a0, a2));
    b[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a0, a2));
    b[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(a1, a3));
    b[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(a1, a3));
  }
  for (int c = 0; c < 4; c++) {
    const __m512 plo = _mm512_shuffle_f32x4(b[c], b[4 + c], 0x44), phi = _mm512_shuffle_f32x4(b[c], b[4 + c], 0xEE);
    const __m512 qlo = _mm512_shuffle_f32x4(b[8 + c], b[12 + c], 0x44), qhi = _mm512_shuffle_f32x4(b[8 + c], b[12 + c], 0xEE);
    r[c] = _mm512_shuffle_f32x4(plo, qlo, 0x88);
    r[4 + c] = _mm512_shuffle_f32x4(plo, qlo, 0xDD);
    r[8 + c] = _mm512_shuffle_f32x4(phi, qhi, 0x88);
    r[12 + c] = _mm512_shuffle_f32x4(phi, qhi, 0xDD);
  }
}

#endif
