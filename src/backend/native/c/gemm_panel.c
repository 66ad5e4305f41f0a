// Prefill matmul of float weights (F32 / F16 / BF16) with short rows (<= 512 columns) on AVX-512,
// for T >= ln_tune_panel tokens (see below):
// out (T, rows) = x (T, cols) . W^T as a sum of outer products instead of dot products.
//
// Why: the tile kernels (k_avx512.c tile_float) keep 16 partial sums per (row, token) along the
// row and reduce them horizontally at the end; with the short rows of small models (128 columns:
// 8 FMAs per output) the reduction costs as much as the products (~70 GFLOP/s at 1 thread against
// an FMA peak of ~110). Here each thread converts a block of 32 weight rows once into an f32
// panel P[k][0..31] (column k of the 32 rows, transposed in registers 16 x 16 at a time), then for
// tiles of 12 tokens keeps 12 x 2 accumulators of 16 rows and, per k, multiplies the two panel
// vectors by x[t][k] broadcast from memory: 24 FMAs per 2 loads, no reduction, and the results
// are stored as 16 consecutive outputs of a token's row.
//
// Every output is Σ_k w[r][k]·x[t][k] accumulated in f32 by FMA in k order from zero, whatever the
// tile, block, thread or T: a row's result does not depend on what it is batched with (a batched
// log-likelihood equals the one scored alone, bit for bit, as long as both take this path).
// Separate functions from k_avx512.c (another helper works on its decode kernels); matmul.c
// calls ln_panel_matmul first and falls back to the tile kernels when it declines.
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "addon_internal.h"

// Where it wins (same-process A/B, 1 thread, F16, GFLOP/s tile -> panel): 128 columns T = 24
// 77 -> 78, T = 32 74 -> 85, T = 688 74 -> 98; 256 columns T = 24 85 -> 65 (loses), T = 64 84 ->
// 91; 352 columns T = 688 98 -> 112; 512 columns T = 64 97 -> 94, T = 256 92 -> 104; 1024
// columns always loses (the tile kernel's reduction is amortized over long rows, ~105, while a
// 32-row panel of 1024 columns no longer fits L1). Hence: at most 512 columns and
// T >= max(ln_tune_panel, cols / 4).
int ln_tune_panel = 24;  // smallest T that takes this path (0: never); A/B knob `panel`

#ifdef LN_X86
#include <immintrin.h>

#include "transpose16.h"

#define PT512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")))
#define PINL static inline __attribute__((always_inline))
#define PANEL_ROWS 32
#define TILE_T 12

// 16 values of a weight row from column c as f32 (mask m: the columns that exist)
PT512 PINL __m512 load16(const uint8_t *row, int64_t c, int type, __mmask16 m) {
  if (type == LN_F32) return _mm512_maskz_loadu_ps(m, (const float *)row + c);
  const __m256i h = _mm256_maskz_loadu_epi16(m, (const uint16_t *)row + c);
  if (type == LN_F16) return _mm512_cvtph_ps(h);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));  // BF16
}


// P[k * 32 + i] = w[r0 + i][k] for i < nr (zero for i >= nr), k < cols
PT512 static void pack_panel(const ln_weight *w, int64_t r0, int64_t nr, float *P) {
  const int64_t cols = w->cols;
  for (int h = 0; h < 2; h++) {
    for (int64_t k0 = 0; k0 < cols; k0 += 16) {
      const int64_t nk = cols - k0 < 16 ? cols - k0 : 16;
      const __mmask16 m = (__mmask16)((1u << nk) - 1);
      __m512 r[16];
      for (int i = 0; i < 16; i++) {
        const int64_t row = 16 * h + i;
        r[i] = row < nr ? load16(w->qs + (size_t)(r0 + row) * w->row_bytes, k0, w->type, m) : _mm512_setzero_ps();
      }
      ln_transpose16x16(r);
      for (int64_t j = 0; j < nk; j++) _mm512_store_ps(P + (k0 + j) * PANEL_ROWS + 16 * h, r[j]);
    }
  }
}

// tokens t0 .. t0+NT-1 x the panel's rows: H = 2 (32 rows) or 1 (16 rows); m0/m1: rows that exist
PT512 PINL void panel_tile(const float *P, const float *x, int64_t cols, float *out, int64_t ldo, const int NT, const int H, __mmask16 m0, __mmask16 m1) {
  __m512 acc[TILE_T][2];
#pragma GCC unroll 12
  for (int j = 0; j < NT; j++) {
    acc[j][0] = _mm512_setzero_ps();
    acc[j][1] = _mm512_setzero_ps();
  }
  for (int64_t k = 0; k < cols; k++) {
    const __m512 w0 = _mm512_load_ps(P + k * PANEL_ROWS);
    const __m512 w1 = H == 2 ? _mm512_load_ps(P + k * PANEL_ROWS + 16) : w0;
#pragma GCC unroll 12
    for (int j = 0; j < NT; j++) {
      const __m512 xb = _mm512_set1_ps(x[j * cols + k]);
      acc[j][0] = _mm512_fmadd_ps(w0, xb, acc[j][0]);
      if (H == 2) acc[j][1] = _mm512_fmadd_ps(w1, xb, acc[j][1]);
    }
  }
#pragma GCC unroll 12
  for (int j = 0; j < NT; j++) {
    _mm512_mask_storeu_ps(out + j * ldo, m0, acc[j][0]);
    if (H == 2) _mm512_mask_storeu_ps(out + j * ldo + 16, m1, acc[j][1]);
  }
}

#define PANEL_CASE(N)                                                 \
  case N:                                                             \
    if (H2) panel_tile(P, x, cols, out, ldo, N, 2, m0, m1);          \
    else panel_tile(P, x, cols, out, ldo, N, 1, m0, m1);             \
    break;

// nt (1..12) tokens: a kernel specialized for each count, so the accumulators stay in registers
PT512 static void panel_tokens(const float *P, const float *x, int64_t cols, float *out, int64_t ldo, int nt, int H2, __mmask16 m0, __mmask16 m1) {
  switch (nt) {
    PANEL_CASE(1) PANEL_CASE(2) PANEL_CASE(3) PANEL_CASE(4) PANEL_CASE(5) PANEL_CASE(6)
    PANEL_CASE(7) PANEL_CASE(8) PANEL_CASE(9) PANEL_CASE(10) PANEL_CASE(11) PANEL_CASE(12)
  }
}

typedef struct {
  const ln_weight *w;
  const float *x;
  float *out;
  int64_t T, nblocks, tchunk, nunits;
  float *panels;  // per thread PANEL_ROWS * cols floats
  size_t panel_floats;
  _Atomic int64_t next;
} panel_ctx;

PT512 static void panel_task(void *p, int ith, int nth) {
  panel_ctx *c = (panel_ctx *)p;
  const ln_weight *w = c->w;
  const int64_t rows = w->rows, cols = w->cols, ntc = (c->T + c->tchunk - 1) / c->tchunk;
  float *P = c->panels + (size_t)ith * c->panel_floats;
  int64_t packed = -1;  // the row block whose panel P holds
  for (;;) {
    const int64_t u = atomic_fetch_add_explicit(&c->next, 1, memory_order_relaxed);
    if (u >= c->nunits) return;
    const int64_t blk = u / ntc, t0 = (u % ntc) * c->tchunk, t1 = t0 + c->tchunk < c->T ? t0 + c->tchunk : c->T;
    const int64_t r0 = blk * PANEL_ROWS, nr = rows - r0 < PANEL_ROWS ? rows - r0 : PANEL_ROWS;
    if (packed != blk) {
      pack_panel(w, r0, nr, P);
      packed = blk;
    }
    const __mmask16 m0 = nr >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << nr) - 1);
    const __mmask16 m1 = nr >= 32 ? (__mmask16)0xffff : nr > 16 ? (__mmask16)((1u << (nr - 16)) - 1) : 0;
    // the next row block's weights (this thread's next unit when units are whole blocks) into L2
    // while this one's tiles run
    const int64_t rn = r0 + (ntc == 1 ? nth : 1) * PANEL_ROWS, tiles = (t1 - t0 + TILE_T - 1) / TILE_T;
    for (int64_t t = t0; t < t1; t += TILE_T) {
      const int nt = t1 - t < TILE_T ? (int)(t1 - t) : TILE_T;
      if (ntc == 1 || u % ntc == ntc - 1) ln_prefetch_rows_share(w, rn, rn + PANEL_ROWS < rows ? rn + PANEL_ROWS : rows, (t - t0) / TILE_T, tiles);
      panel_tokens(P, c->x + t * cols, cols, c->out + t * rows + r0, rows, nt, nr > 16, m0, m1);
    }
  }
}

static float *panel_buf;
static size_t panel_buf_floats;

int ln_panel_matmul(const ln_weight *w, const float *x, float *out, int64_t T) {
  if (ln_tune_panel <= 0 || w->cols > 512 || T < ln_tune_panel || T < w->cols / 4 || strcmp(K.name, "avx512") != 0) return 0;
  if (w->type != LN_F32 && w->type != LN_F16 && w->type != LN_BF16) return 0;
  const int nth = ln_pool_threads();
  const size_t per = (size_t)PANEL_ROWS * (size_t)w->cols;
  if (per * (size_t)nth > panel_buf_floats) {
    ln_aligned_free(panel_buf);
    panel_buf = (float *)ln_aligned_alloc(per * (size_t)nth * sizeof(float));
    panel_buf_floats = panel_buf ? per * (size_t)nth : 0;
    if (!panel_buf) return 0;  // the tile kernels need no buffer
  }
  panel_ctx c = {.w = w, .x = x, .out = out, .T = T, .panels = panel_buf, .panel_floats = per};
  c.nblocks = (w->rows + PANEL_ROWS - 1) / PANEL_ROWS;
  // one unit per row block (its panel packed once) unless that leaves threads short of work: then
  // token chunks of at least 48, so a block's panel is reused over 4+ tiles
  c.tchunk = T;
  while (nth > 1 && c.nblocks * ((T + c.tchunk - 1) / c.tchunk) < 4 * nth && c.tchunk >= 96) c.tchunk = (c.tchunk / 2 + TILE_T - 1) / TILE_T * TILE_T;
  c.nunits = c.nblocks * ((T + c.tchunk - 1) / c.tchunk);
  atomic_init(&c.next, 0);
  if (nth <= 1) panel_task(&c, 0, 1);
  else ln_pool_run(panel_task, &c);
  return 1;
}
#else
int ln_panel_matmul(const ln_weight *w, const float *x, float *out, int64_t T) {
  (void)w, (void)x, (void)out, (void)T;
  return 0;
}
#endif
