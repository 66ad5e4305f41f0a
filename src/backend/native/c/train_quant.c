// Matmuls through a frozen weight kept in its stored type (QLoRA-style fine-tuning: the base stays
// F16 / Q8_0 / Q4_0 / Q4_K / Q6_K in memory; only the adapters are F32):
//
//   forward   out (T, rows)  = x (T, cols) · Wᵀ                            (matmulFrozen)
//   backward  dx (T, cols)  += dy (T, rows) · W     (no dW: W is frozen)    (matmulInputBackward)
//
// Both compute with F32 activations on W's exact decoded values, as QLoRA does (it dequantizes the
// 4-bit base to 16-bit floats and runs a float matmul): the inference kernels (matmul.c) quantize
// the activations to int8 per 32-block, which makes the loss a step function of the adapters (a
// finite difference no longer sees the gradient) and would train against values ~0.3% off the
// float product. So the gradient the backward pass returns is the gradient of the forward pass.
//
// W is read in its repacked layout (common.h) and decoded a slice at a time into a small F32
// panel per thread, which train_ops.c's packed gemm (ln_train_gemm_serial) multiplies:
//  - backward: tasks are column tiles of dx (multiples of 32 columns: whole quantization blocks);
//    a tile walks the rows in slices of SLICE, each decoded to (SLICE, tile) floats;
//  - forward: tasks are row tiles of W (columns of out); a tile walks the columns in slices of
//    SLICE (whole 256-value super-blocks), each decoded to (tile, SLICE) floats.
// Every W value is decoded once per call: rows·cols against T·rows·cols multiply-adds.
//
// Determinism: every output element belongs to one tile and is summed over K in the same order
// (slice by slice, each slice in the gemm's fixed K order) whatever the tile width or the thread
// count, so results are bit-identical at any number of threads (resume-exactness relies on it).
// Plain C (no node_api.h); its N-API entry points (matmulFrozen, matmulInputBackward) are in
// napi_ops.c (registered from train_ops.c's ln_train_register).
#include <stdatomic.h>
#include <stdlib.h>

#include "addon_internal.h"

// train_ops.c: C (M, N) += alpha · op(A) · op(B) on the calling thread (ith picks its packing scratch)
int ln_train_gemm_serial(float *C, int64_t ldc, const float *A, int64_t lda, int ta, const float *B, int64_t ldb, int tb, int64_t M, int64_t N, int64_t K, float alpha, int ith);
int ln_frozen_matmul(const ln_weight *w, float *out, const float *in, int64_t T, int forward);

#define SLICE 256
#define TILE_MAX 192

// Values [c0, c1) of row r of w into out (c0 a multiple of 32; c1 a multiple of 32 or cols).
static void decode_cols(const ln_weight *w, int64_t r, int64_t c0, int64_t c1, float *out) {
  const uint8_t *row = w->qs + (size_t)r * w->row_bytes;
  const int64_t n = c1 - c0;
  switch (w->type) {
    case LN_F32: memcpy(out, row + (size_t)c0 * 4, (size_t)n * 4); return;
    case LN_F16: K.f16_to_f32(out, (const uint16_t *)row + c0, n); return;
    case LN_BF16: {
      const uint16_t *h = (const uint16_t *)row + c0;
      for (int64_t i = 0; i < n; i++) out[i] = ln_bf2f(h[i]);
      return;
    }
    case LN_Q8_0:
    case LN_Q4_0:
    case LN_Q4_K: {
      // lane-per-block layout: vector k of block j of group g holds values 4k..4k+3 (common.h).
      // The block's 32 codes are gathered first, then converted in one loop the compiler vectorizes.
      const int64_t nb = w->nb;
      const uint16_t *sc = w->sc + (size_t)r * w->sc_stride;
      for (int64_t b = c0 / 32; b < c1 / 32; b++) {
        const int64_t g = b >> 4, j = b & 15, m = nb - 16 * g < 16 ? nb - 16 * g : 16;
        float *o = out + (b * 32 - c0);
        uint8_t c[32];
        if (w->type == LN_Q8_0) {
          const uint8_t *p = row + g * 512 + 4 * j;
          for (int k = 0; k < 8; k++) memcpy(c + 4 * k, p + k * 4 * m, 4);
          const float d = ln_h2f(sc[b]);
          for (int i = 0; i < 32; i++) o[i] = d * (float)((int)c[i] - 128);
          continue;
        }
        const uint8_t *p = row + g * 256 + 4 * j;
        for (int k2 = 0; k2 < 4; k2++) {
          uint8_t by[4];
          memcpy(by, p + k2 * 4 * m, 4);
          for (int i = 0; i < 4; i++) {
            c[8 * k2 + i] = by[i] & 0x0f;
            c[8 * k2 + 4 + i] = by[i] >> 4;
          }
        }
        if (w->type == LN_Q4_0) {
          const float d = ln_h2f(sc[b]);
          for (int i = 0; i < 32; i++) o[i] = d * (float)((int)c[i] - 8);
        } else {
          float d, mn;
          ln_q4k_block_scale(w, r, b, &d, &mn);
          for (int i = 0; i < 32; i++) o[i] = d * (float)c[i] - mn;
        }
      }
      return;
    }
    case LN_Q6_K: {
      // 16-value sub-blocks j of super-block g; value = d · scale_j · (code - 32). The codes come
      // through common.h's ln_q6k_code, so this follows the repacked layout whatever it becomes
      for (int64_t s = c0 / 16; s < c1 / 16; s++) {
        const int64_t g = s >> 4;
        const int j = (int)(s & 15);
        const uint8_t *meta = ln_q6k_meta(w, r, g);
        const float d = ln_q6k_d(meta) * (float)(int8_t)meta[j];
        int c[16];
        for (int v = 0; v < 16; v++) c[v] = ln_q6k_code(row, g, j, v);
        float *o = out + (s * 16 - c0);
        for (int v = 0; v < 16; v++) o[v] = d * (float)(c[v] - 32);
      }
      return;
    }
  }
}

typedef struct {
  const ln_weight *w;
  float *out;      // dx (T, cols) for the backward, out (T, rows) for the forward
  const float *in; // dy (T, rows) for the backward, x (T, cols) for the forward
  int forward;
  int64_t T, tile, ntiles;
  _Atomic int64_t next;
  _Atomic int failed;
} qmm_ctx;

static void qmm_task(void *p, int ith, int nth) {
  (void)nth;
  qmm_ctx *c = (qmm_ctx *)p;
  const ln_weight *w = c->w;
  const int64_t rows = w->rows, cols = w->cols;
  float *panel = NULL;
  for (;;) {
    const int64_t t = atomic_fetch_add_explicit(&c->next, 1, memory_order_relaxed);
    if (t >= c->ntiles) break;
    if (!panel) panel = (float *)ln_aligned_alloc((size_t)SLICE * TILE_MAX * sizeof(float));
    if (!panel) {
      atomic_store(&c->failed, 1);
      continue;  // keep taking tiles so the job ends; the caller reports the failure
    }
    if (!c->forward) {
      const int64_t c0 = t * c->tile, c1 = c0 + c->tile < cols ? c0 + c->tile : cols, nc = c1 - c0;
      for (int64_t r0 = 0; r0 < rows; r0 += SLICE) {
        const int64_t kr = r0 + SLICE < rows ? SLICE : rows - r0;
        for (int64_t r = 0; r < kr; r++) decode_cols(w, r0 + r, c0, c1, panel + r * nc);
        // dx[:, c0:c1] (T, nc) += dy[:, r0:r0+kr] (T, kr) · panel (kr, nc)
        if (!ln_train_gemm_serial(c->out + c0, cols, c->in + r0, rows, 0, panel, nc, 0, c->T, nc, kr, 1.0f, ith)) atomic_store(&c->failed, 1);
      }
    } else {
      const int64_t r0 = t * c->tile, r1 = r0 + c->tile < rows ? r0 + c->tile : rows, nr = r1 - r0;
      for (int64_t i = 0; i < c->T; i++) memset(c->out + i * rows + r0, 0, (size_t)nr * sizeof(float));
      for (int64_t k0 = 0; k0 < cols; k0 += SLICE) {
        const int64_t kc = k0 + SLICE < cols ? SLICE : cols - k0;
        for (int64_t r = 0; r < nr; r++) decode_cols(w, r0 + r, k0, k0 + kc, panel + r * kc);
        // out[:, r0:r1] (T, nr) += x[:, k0:k0+kc] (T, kc) · panelᵀ (kc, nr)
        if (!ln_train_gemm_serial(c->out + r0, rows, c->in + k0, cols, 0, panel, kc, 1, c->T, nr, kc, 1.0f, ith)) atomic_store(&c->failed, 1);
      }
    }
  }
  ln_aligned_free(panel);
}

// forward: out (T, rows) = x (T, cols) · Wᵀ; backward: dx (T, cols) += dy (T, rows) · W. Any
// weight type the forward kernels run; 0 when out of memory.
int ln_frozen_matmul(const ln_weight *w, float *out, const float *in, int64_t T, int forward) {
  const int nth = ln_pool_threads();
  const int64_t n = forward ? w->rows : w->cols;  // the output columns the tiles split
  // about 3 tiles per thread (dynamic hand-out evens out a descheduled thread), 32..192 columns
  int64_t tile = (n + 3 * nth - 1) / (3 * nth);
  tile = (tile + 31) / 32 * 32;
  if (tile < 32) tile = 32;
  if (tile > TILE_MAX) tile = TILE_MAX;
  qmm_ctx c = {.w = w, .out = out, .in = in, .forward = forward, .T = T, .tile = tile, .ntiles = (n + tile - 1) / tile};
  atomic_init(&c.next, 0);
  atomic_init(&c.failed, 0);
  // below ~2 M multiply-adds the dispatch costs more than a second thread gains
  if (nth == 1 || c.ntiles == 1 || T * w->rows * w->cols < ((int64_t)1 << 21)) qmm_task(&c, 0, 1);
  else ln_pool_run(qmm_task, &c);
  return !atomic_load(&c.failed);
}
