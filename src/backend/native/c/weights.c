// Weights in the layouts the kernels read: ggml Q8_0/Q4_0/Q4_K/Q6_K rows repacked into the
// lane-per-block layouts of common.h, float weights copied into native (huge) pages. The N-API
// handle that owns them lives in addon.c.
#include <stdatomic.h>
#include <string.h>

#include "addon_internal.h"

typedef struct {
  ln_weight *w;
  const uint8_t *src;
  size_t src_row;
  _Atomic int64_t next;
} repack_ctx;

// One row of ggml Q8_0 (34-byte blocks) or Q4_0 (18-byte blocks) in the lane-per-block layout of
// common.h: scales to `ds`, codes to `dq`.
static void repack_q0_row(uint8_t *restrict dq, uint16_t *restrict ds, const uint8_t *restrict s, int64_t nb, int q4) {
  const int64_t bsz = q4 ? 18 : 34;
  for (int64_t b = 0; b < nb; b++) memcpy(&ds[b], s + b * bsz, 2);
  for (int64_t g = 0; g * 16 < nb; g++) {
    const int64_t m = nb - 16 * g < 16 ? nb - 16 * g : 16;
    for (int64_t j = 0; j < m; j++) {
      const uint8_t *q = s + (16 * g + j) * bsz + 2;
      if (!q4) {
        for (int k = 0; k < 8; k++)
          for (int i = 0; i < 4; i++) dq[g * 512 + k * 4 * m + 4 * j + i] = (uint8_t)(q[4 * k + i] ^ 0x80);  // int8 + 128
      } else {
        // ggml: value v < 16 in the low nibble of q[v], value v >= 16 in the high nibble of q[v-16]
        uint8_t c[32];
        for (int v = 0; v < 16; v++) {
          c[v] = q[v] & 0x0f;
          c[v + 16] = q[v] >> 4;
        }
        for (int k2 = 0; k2 < 4; k2++)
          for (int i = 0; i < 4; i++) dq[g * 256 + k2 * 4 * m + 4 * j + i] = (uint8_t)(c[8 * k2 + i] | (c[8 * k2 + 4 + i] << 4));
      }
    }
  }
}

// One row of ggml Q4_K (144-byte super-blocks) in the repacked layout of common.h: the codes as
// Q4_0's, the scales, mins and super-block scales to the row's metadata groups.
static void repack_q4k_row(uint8_t *restrict dq, uint8_t *restrict meta, const uint8_t *restrict s, int64_t nb) {
  for (int64_t sb = 0; sb * 8 < nb; sb++) {
    const uint8_t *blk = s + sb * 144;
    uint8_t sc[8], mn[8];
    ln_q4k_scales(blk + 4, sc, mn);
    const int64_t g = sb / 2, half = sb % 2;
    uint8_t *mg = meta + g * LN_Q4K_META;
    const ln_q4k_off o = ln_q4k_offsets(ln_q4k_short_group(nb, g), (int)half);
    memcpy(mg + o.sc, sc, 8);
    memcpy(mg + o.mn, mn, 8);
    memcpy(mg + o.d, blk, 2);         // d
    memcpy(mg + o.dmin, blk + 2, 2);  // dmin
    const int64_t m = nb - 16 * g < 16 ? nb - 16 * g : 16;
    for (int j = 0; j < 8; j++) {
      const int64_t jj = 8 * half + j;  // block within the group
      const uint8_t *qs = blk + 16 + 32 * (j / 2);
      uint8_t c[32];
      for (int v = 0; v < 32; v++) c[v] = (uint8_t)((qs[v] >> (4 * (j & 1))) & 0x0f);
      for (int k2 = 0; k2 < 4; k2++)
        for (int i = 0; i < 4; i++) dq[g * 256 + k2 * 4 * m + 4 * jj + i] = (uint8_t)(c[8 * k2 + i] | (c[8 * k2 + 4 + i] << 4));
    }
  }
}

// One row of ggml Q6_K (210-byte super-blocks) in the repacked layout of common.h.
static void repack_q6k_row(uint8_t *restrict dq, uint8_t *restrict meta, const uint8_t *restrict s, int64_t nsb) {
  for (int64_t g = 0; g < nsb; g++) {
    const uint8_t *blk = s + g * 210;
    uint8_t q[256];
    ln_q6k_unpack(blk, q);
    uint8_t *grp = dq + g * 192;
    memset(grp, 0, 192);
    for (int j = 0; j < 16; j++)
      for (int k = 0; k < 4; k++)
        for (int i = 0; i < 4; i++) {
          const int code = q[16 * j + 4 * k + i];
          if (k < 3) {
            grp[64 * k + 4 * j + i] |= (uint8_t)code;
          } else {
            for (int c = 0; c < 3; c++) grp[64 * c + 4 * j + i] |= (uint8_t)(((code >> (2 * c)) & 3) << 6);
          }
        }
    uint8_t *mg = meta + g * LN_Q6K_META;
    memset(mg, 0, LN_Q6K_META);
    memcpy(mg, blk + 192, 16);       // int8 scales
    uint16_t h;
    memcpy(&h, blk + 208, 2);
    const float d = ln_h2f(h);       // exact: every binary16 is a binary32 (common.h)
    memcpy(mg + 16, &d, 4);
  }
}

static void repack_task(void *p, int ith, int nth) {
  (void)ith;
  (void)nth;
  repack_ctx *c = (repack_ctx *)p;
  ln_weight *w = c->w;
  uint8_t *qs = (uint8_t *)w->qs;
  uint16_t *sc = (uint16_t *)w->sc;
  for (;;) {
    int64_t r0 = atomic_fetch_add(&c->next, 64);
    if (r0 >= w->rows) break;
    int64_t r1 = r0 + 64 < w->rows ? r0 + 64 : w->rows;
    for (int64_t r = r0; r < r1; r++) {
      const uint8_t *s = c->src + (size_t)r * c->src_row;
      uint8_t *dq = qs + (size_t)r * w->row_bytes;
      uint16_t *ds = sc + (size_t)r * w->sc_stride;
      memset(ds, 0, ln_weight_meta_bytes(w));
      if (w->type == LN_Q4_K) repack_q4k_row(dq, (uint8_t *)ds, s, w->nb);
      else if (w->type == LN_Q6_K) repack_q6k_row(dq, (uint8_t *)ds, s, w->cols / 256);
      else repack_q0_row(dq, ds, s, w->nb, w->type == LN_Q4_0);
    }
  }
}

typedef struct {
  uint8_t *dst;
  const uint8_t *src;
  size_t bytes;
  _Atomic size_t next;
} copy_ctx;

static void copy_task(void *p, int ith, int nth) {
  (void)ith;
  (void)nth;
  copy_ctx *c = (copy_ctx *)p;
  const size_t chunk = 2u << 20;
  for (;;) {
    size_t o = atomic_fetch_add(&c->next, chunk);
    if (o >= c->bytes) break;
    memcpy(c->dst + o, c->src + o, c->bytes - o < chunk ? c->bytes - o : chunk);
  }
}


// bytes of one row's scales / metadata
size_t ln_weight_meta_bytes(const ln_weight *w) {
  switch (w->type) {
    case LN_Q4_K: return (size_t)(w->nb / 16) * LN_Q4K_META + (w->nb % 16 == 0 ? 0 : w->nb % 16 <= 8 ? LN_Q4K_META_SHORT : LN_Q4K_META);
    case LN_Q6_K: return (size_t)(w->cols / 256) * LN_Q6K_META;
    default: return (size_t)((w->nb + 15) / 16 * 16) * 2;
  }
}

size_t ln_weight_repacked_bytes(ln_weight *w) {
  const int type = w->type;
  const int64_t cols = w->cols;
  const size_t codes = type == LN_Q6_K ? (size_t)(cols / 256) * 192 : (size_t)w->nb * (type == LN_Q8_0 ? 32 : 16);
  const size_t meta = ln_weight_meta_bytes(w);
  // one stream per row (common.h), except Q8_0 rows of more than 128 blocks: with their scales in
  // the row (704 bytes ahead of 11008 codes) a 4096x11008 matvec streamed at 23.1 GB/s against
  // 26.8 with the scales apart (1 thread, same-process A/B of two builds); 4096 columns measured
  // the same either way, Q4_0 and the 110M shapes better in the row
  w->meta_in_row = type != LN_Q8_0 || w->nb <= 128;
  w->row_bytes = w->meta_in_row ? codes + meta : codes;
  w->sc_stride = (w->meta_in_row ? w->row_bytes : meta) / 2;
  return (w->meta_in_row ? 0 : meta * (size_t)w->rows) + w->row_bytes * (size_t)w->rows;
}

// where w->sc and w->qs start in the repacked buffer (meta_in_row: each row's metadata first,
// then its codes)
size_t ln_weight_sc_offset(const ln_weight *w) { return w->meta_in_row ? 0 : w->row_bytes * (size_t)w->rows; }
size_t ln_weight_qs_offset(const ln_weight *w) { return w->meta_in_row ? ln_weight_meta_bytes(w) : 0; }

void ln_weight_repack(ln_weight *w, const uint8_t *src, size_t src_row) {
  repack_ctx c = {.w = w, .src = src, .src_row = src_row};
  atomic_init(&c.next, 0);
  ln_pool_run(repack_task, &c);
  ln_release_mapped(src, src_row * (size_t)w->rows);
}

void ln_weight_copy(uint8_t *dst, const uint8_t *src, size_t bytes) {
  copy_ctx cc = {.dst = dst, .src = src, .bytes = bytes};
  atomic_init(&cc.next, 0);
  if (bytes < (8u << 20)) memcpy(dst, src, bytes);
  else ln_pool_run(copy_task, &cc);
  ln_release_mapped(src, bytes);
}
