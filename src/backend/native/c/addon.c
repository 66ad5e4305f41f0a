// N-API entry points of the native backend. JS (src/backend/native/index.ts) checks shapes and
// types first; this file re-checks every length it dereferences (a wrong call must throw, never
// corrupt memory), prepares weights, and splits each op over the thread pool.
//
// Flow of a matmul: activations x (T, cols) -> [quantized per 32-block for integer kernels] ->
// row blocks handed out dynamically to the pool threads; inside a block, token tiles sized so the
// block's weights and the tile's activations stay in L2 -> per-ISA kernel.
#define NAPI_VERSION 8
#include <node_api.h>

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common.h"
#include "napi_util.h"

void ln_dequant_row(const ln_weight *w, int64_t r, float *out);
void ln_release_mapped(const void *p, size_t len);

// Decode streams every weight once per token, so how a matvec walks memory decides its speed.
// Measured here (same-process A/B against the streaming read, 1 thread): one weight row at a time
// (one sequential stream) beats interleaving rows, the hardware prefetcher beats a software
// prefetch distance for the lane-per-block Q8_0/Q4_0 kernels, and weights in 2 MiB pages beat
// weights left in the caller's 4 KiB pages by 15-35 points (F32 768x768: 97% vs 60%), hence the
// copy of in-place weights below. The knobs stay settable for such A/B runs (setTuning).
int ln_tune_nr1 = 1;
int ln_tune_nr1_float = -1;
int ln_tune_pf_float = 0;
int ln_tune_outer = 1;
int ln_tune_pf = 1024;
int ln_tune_pf_head = 4096;
int ln_tune_copy_float = 1;
int ln_tune_guided = 1;
int ln_tune_mv_short = 1;
int ln_tune_ymm_tail = 1;
int ln_tune_mv_block = 128 << 10;
int ln_tune_attn = 1;

static ln_kernels K;             // the selected path
static ln_kernels K_scalar, K_avx2, K_avx512, K_neon;
static int have_avx2, have_avx512, have_neon;

// ---------------------------------------------------------------- N-API helpers

#define CHECK(call)                                              \
  do {                                                           \
    if ((call) != napi_ok) {                                     \
      napi_throw_error(env, "NATIVE", "N-API call failed: " #call); \
      return NULL;                                               \
    }                                                            \
  } while (0)

#define FAIL(msg)                          \
  do {                                     \
    napi_throw_error(env, "NATIVE", msg);  \
    return NULL;                           \
  } while (0)

// typed array of the given type -> data pointer and element count (NULL after throwing)
static void *typed(napi_env env, napi_value v, napi_typedarray_type want, size_t *len) {
  void *data;
  return ln_typed(env, v, want, &data, len, 0) ? data : NULL;
}

static napi_value num(napi_env env, double d) {
  napi_value v;
  napi_create_double(env, d, &v);
  return v;
}

// ---------------------------------------------------------------- scratch

static void *scratch_ptr;
static size_t scratch_size;

static void *outer_ptr;
static size_t outer_size;

static void *outer_scratch(size_t bytes) {
  if (bytes > outer_size) {
    ln_aligned_free(outer_ptr);
    outer_ptr = ln_aligned_alloc(bytes);
    outer_size = outer_ptr ? bytes : 0;
  }
  return outer_ptr;
}

static void *scratch(size_t bytes) {
  if (bytes > scratch_size) {
    ln_aligned_free(scratch_ptr);
    scratch_ptr = ln_aligned_alloc(bytes);
    scratch_size = scratch_ptr ? bytes : 0;
  }
  return scratch_ptr;
}

// ---------------------------------------------------------------- weights

typedef struct {
  ln_weight w;
  void *owned;      // repacked copy (freed with the weight)
  napi_ref source;  // the caller's bytes used in place
  size_t owned_bytes;
  struct mapping *pinned;  // the file mapping those bytes lie in (it must outlive the weight)
} weight_handle;

struct mapping;
static struct mapping *mapping_pin(const void *p);
static void mapping_unpin(struct mapping *m);

static void weight_release(napi_env env, weight_handle *h) {
  if (h->owned) {
    ln_weight_free(h->owned);
    int64_t adj;
    napi_adjust_external_memory(env, -(int64_t)h->owned_bytes, &adj);
    h->owned = NULL;
  }
  if (h->source) {
    napi_delete_reference(env, h->source);
    h->source = NULL;
  }
  if (h->pinned) {
    mapping_unpin(h->pinned);
    h->pinned = NULL;
  }
  h->w.qs = NULL;
}

static void weight_finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  weight_handle *h = (weight_handle *)data;
  weight_release(env, h);
  free(h);
}

typedef struct {
  weight_handle *h;
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
  const int64_t ngroups = (nb + 15) / 16;
  memset(meta, 0, (size_t)ngroups * LN_Q4K_META);
  for (int64_t sb = 0; sb * 8 < nb; sb++) {
    const uint8_t *blk = s + sb * 144;
    uint8_t sc[8], mn[8];
    ln_q4k_scales(blk + 4, sc, mn);
    const int64_t g = sb / 2, half = sb % 2;
    uint8_t *mg = meta + g * LN_Q4K_META;
    memcpy(mg + 8 * half, sc, 8);
    memcpy(mg + 16 + 8 * half, mn, 8);
    memcpy(mg + 32 + 2 * half, blk, 2);      // d
    memcpy(mg + 36 + 2 * half, blk + 2, 2);  // dmin
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
          grp[(k >> 1) * 64 + 4 * j + i] |= (uint8_t)((code & 0x0f) << (4 * (k & 1)));
          grp[128 + 4 * j + i] |= (uint8_t)((code >> 4) << (2 * k));
        }
    uint8_t *mg = meta + g * LN_Q6K_META;
    memset(mg, 0, LN_Q6K_META);
    memcpy(mg, blk + 192, 16);       // int8 scales
    memcpy(mg + 16, blk + 208, 2);   // d
  }
}

static void repack_task(void *p, int ith, int nth) {
  (void)ith;
  (void)nth;
  repack_ctx *c = (repack_ctx *)p;
  ln_weight *w = &c->h->w;
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
      memset(ds, 0, w->sc_stride * 2);
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

// loadWeight(bytes: Uint8Array, type, rows, cols, inPlace) -> external handle. inPlace (F32/F16/
// BF16/K-quants): read the caller's bytes, which it may change later (a training optimizer).
static napi_value js_load_weight(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!ln_args(env, info, 5, argv)) return NULL;
  size_t len;
  const uint8_t *data = typed(env, argv[0], napi_uint8_array, &len);
  if (!data) return NULL;
  int type = (int)ln_i64(env, argv[1]);
  int64_t rows = ln_i64(env, argv[2]), cols = ln_i64(env, argv[3]);
  const int in_place = (int)ln_i64(env, argv[4]);
  if (rows <= 0 || cols <= 0) FAIL("weight needs rows > 0 and cols > 0");
  size_t src_row;
  switch (type) {
    case LN_F32: src_row = (size_t)cols * 4; break;
    case LN_F16:
    case LN_BF16: src_row = (size_t)cols * 2; break;
    case LN_Q8_0: src_row = (size_t)(cols / 32) * 34; break;
    case LN_Q4_0: src_row = (size_t)(cols / 32) * 18; break;
    case LN_Q4_K: src_row = (size_t)(cols / 256) * 144; break;
    case LN_Q6_K: src_row = (size_t)(cols / 256) * 210; break;
    default: FAIL("the native backend has no kernel for this tensor type");
  }
  int64_t blk = (type == LN_Q4_K || type == LN_Q6_K) ? 256 : (type == LN_Q8_0 || type == LN_Q4_0) ? 32 : 1;
  if (cols % blk != 0) FAIL("row length is not a whole number of blocks");
  if (len < src_row * (size_t)rows) FAIL("weight bytes are shorter than rows x row size");

  weight_handle *h = (weight_handle *)calloc(1, sizeof(weight_handle));
  if (!h) FAIL("out of memory");
  ln_weight *w = &h->w;
  w->type = type;
  w->rows = rows;
  w->cols = cols;
  w->nb = cols / 32;
  w->npairs = (w->nb + 1) / 2;
  if (type == LN_Q8_0 || type == LN_Q4_0 || type == LN_Q4_K || type == LN_Q6_K) {
    w->row_bytes = type == LN_Q6_K ? (size_t)(cols / 256) * 192 : (size_t)w->nb * (type == LN_Q8_0 ? 32 : 16);
    w->sc_stride = type == LN_Q4_K   ? (size_t)((w->nb + 15) / 16) * (LN_Q4K_META / 2)
                   : type == LN_Q6_K ? (size_t)(cols / 256) * (LN_Q6K_META / 2)
                                     : (size_t)((w->nb + 15) / 16 * 16);
    size_t qbytes = w->row_bytes * (size_t)rows;
    size_t bytes = qbytes + w->sc_stride * 2 * (size_t)rows;
    h->owned = ln_weight_alloc(bytes);
    if (!h->owned) {
      free(h);
      FAIL("out of memory while repacking a weight");
    }
    h->owned_bytes = bytes;
    int64_t adj;
    napi_adjust_external_memory(env, (int64_t)bytes, &adj);
    w->qs = (const uint8_t *)h->owned;
    w->sc = (const uint16_t *)((uint8_t *)h->owned + qbytes);
    repack_ctx c = {.h = h, .src = data, .src_row = src_row};
    atomic_init(&c.next, 0);
    ln_pool_run(repack_task, &c);
    ln_release_mapped(data, src_row * (size_t)rows);
  } else {
    size_t esz = type == LN_F32 ? 4 : 2;
    w->row_bytes = src_row;
    if (in_place && ((uintptr_t)data % esz) != 0) {
      free(h);
      FAIL("a weight used in place must be aligned to its element size");
    }
    if (((uintptr_t)data % esz) != 0 || (ln_tune_copy_float && !in_place)) {
      // a misaligned view must be copied; an aligned one is copied too, into huge pages (see top)
      size_t bytes = src_row * (size_t)rows;
      h->owned = ln_weight_alloc(bytes);
      if (!h->owned) {
        free(h);
        FAIL("out of memory");
      }
      copy_ctx cc = {.dst = (uint8_t *)h->owned, .src = data, .bytes = bytes};
      atomic_init(&cc.next, 0);
      if (bytes < (8u << 20)) memcpy(h->owned, data, bytes);
      else ln_pool_run(copy_task, &cc);
      ln_release_mapped(data, bytes);
      h->owned_bytes = bytes;
      int64_t adj;
      napi_adjust_external_memory(env, (int64_t)bytes, &adj);
      w->qs = (const uint8_t *)h->owned;
    } else {
      w->qs = data;
      if (napi_create_reference(env, argv[0], 1, &h->source) != napi_ok) {
        free(h);
        FAIL("could not keep a reference to the weight bytes");
      }
      h->pinned = mapping_pin(data);
    }
  }
  napi_value ext;
  if (napi_create_external(env, h, weight_finalize, NULL, &ext) != napi_ok) {
    weight_release(env, h);
    free(h);
    FAIL("could not create the weight handle");
  }
  return ext;
}

static weight_handle *get_weight(napi_env env, napi_value v) {
  void *p = NULL;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external || napi_get_value_external(env, v, &p) != napi_ok || !p) {
    napi_throw_type_error(env, "NATIVE", "expected a native weight handle");
    return NULL;
  }
  weight_handle *h = (weight_handle *)p;
  if (!h->w.qs) {
    napi_throw_error(env, "NATIVE", "weight was freed");
    return NULL;
  }
  return h;
}

static napi_value js_free_weight(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!ln_args(env, info, 1, argv)) return NULL;
  weight_handle *h = get_weight(env, argv[0]);
  if (!h) return NULL;
  weight_release(env, h);
  return NULL;
}

// ---------------------------------------------------------------- matmul

typedef struct {
  const ln_weight *w;
  ln_act *a;
  float *out;
  ln_mm_fn fn;
  ln_outer_fn outer;  // outer-product kernel for the first 16*floor(rows/16) rows x 8*floor(T/8) tokens
  ln_outer o;
  uint8_t *oscratch;  // per thread ln_outer_scratch(nb) bytes
  size_t oscratch_size;
  int64_t T, rb, tt, nblocks;
  _Atomic int64_t next, qnext;
  int wtype;
} mm_ctx;

// quantize tokens [t0, t1) of the activations (and interleave them for Q8_0 / Q4_0 weights)
static void quant_rows(ln_act *a, int64_t t0, int64_t t1, int wtype) {
  K.quant(a, t0, t1, wtype);
  if (a->qi && wtype == LN_Q6_K) ln_act_interleave_q6k(a, t0, t1);
  else if (a->qi) ln_act_interleave(a, t0, t1);
}

static void quant_task(void *p, int ith, int nth) {
  (void)ith;
  (void)nth;
  mm_ctx *c = (mm_ctx *)p;
  for (;;) {
    int64_t t0 = atomic_fetch_add(&c->qnext, 4);
    if (t0 >= c->T) break;
    quant_rows(c->a, t0, t0 + 4 < c->T ? t0 + 4 : c->T, c->wtype);
  }
}

static void mm_task(void *p, int ith, int nth) {
  (void)nth;
  mm_ctx *c = (mm_ctx *)p;
  const int64_t rows = c->w->rows;
  for (;;) {
    int64_t blk = atomic_fetch_add_explicit(&c->next, 1, memory_order_relaxed);
    if (blk >= c->nblocks) break;
    int64_t r0 = blk * c->rb, r1 = r0 + c->rb < rows ? r0 + c->rb : rows;
    int64_t tdone = 0;
    if (c->outer) {
      // rows of whole 16-row groups x tokens of whole 8-token groups; the tile kernels do the rest
      int64_t r16 = r0 + (r1 - r0) / 16 * 16, nq = c->o.nq / 2 * 2;
      if (r16 > r0) {
        c->outer(c->w, &c->o, c->out, rows, r0, r16, 0, nq, c->oscratch + (size_t)ith * c->oscratch_size);
        if (r16 < r1) c->fn(c->w, c->a, c->out, rows, r16, r1, 0, 4 * nq);
        tdone = 4 * nq;
      }
    }
    for (int64_t t0 = tdone; t0 < c->T; t0 += c->tt) {
      int64_t t1 = t0 + c->tt < c->T ? t0 + c->tt : c->T;
      c->fn(c->w, c->a, c->out, rows, r0, r1, t0, t1);
    }
  }
}

// Decode (T = 1) with several threads: guided self-scheduling. Each claim takes half of an even
// share of the rows left (at least c->rb rows), so blocks start long (one long stream per thread)
// and shrink towards the end, where a thread that finishes early would otherwise wait for the
// other's last block.
static void mv_task(void *p, int ith, int nth) {
  (void)ith;
  mm_ctx *c = (mm_ctx *)p;
  const int64_t rows = c->w->rows;
  for (;;) {
    int64_t r0 = atomic_load_explicit(&c->next, memory_order_relaxed), n;
    do {
      if (r0 >= rows) return;
      n = (rows - r0) / (2 * nth);
      if (n < c->rb) n = c->rb;
      n = (n + 3) / 4 * 4;
      if (n > rows - r0) n = rows - r0;
    } while (!atomic_compare_exchange_weak_explicit(&c->next, &r0, r0 + n, memory_order_relaxed, memory_order_relaxed));
    c->fn(c->w, c->a, c->out, rows, r0, r0 + n, 0, 1);
  }
}

static ln_mm_fn kernel_for(int type) {
  switch (type) {
    case LN_F32: return K.mm_f32;
    case LN_F16: return K.mm_f16;
    case LN_BF16: return K.mm_bf16;
    case LN_Q8_0: return K.mm_q8_0;
    case LN_Q4_0: return K.mm_q4_0;
    case LN_Q4_K: return K.mm_q4_k;
    case LN_Q6_K: return K.mm_q6_k;
  }
  return NULL;
}

static int is_quant(int type) { return type == LN_Q8_0 || type == LN_Q4_0 || type == LN_Q4_K || type == LN_Q6_K; }

// run out (T, rows) = x (T, cols) . W^T
static int run_matmul(const ln_weight *w, const float *x, float *out, int64_t T) {
  ln_act a;
  memset(&a, 0, sizeof a);
  a.T = T;
  a.cols = w->cols;
  a.xf = x;
  mm_ctx c = {.w = w, .a = &a, .out = out, .fn = kernel_for(w->type), .T = T, .wtype = w->type};
  atomic_init(&c.next, 0);
  atomic_init(&c.qnext, 0);
  const int nth = ln_pool_threads();
  size_t act_bytes_per_token = (size_t)w->cols * 4;
  if (is_quant(w->type)) {
    a.nb = w->nb;
    a.npairs = w->npairs;
    a.q_stride = (size_t)a.npairs * 64;
    a.e_stride = (size_t)a.npairs * 16;
    a.c_stride = (size_t)a.npairs * 2;
    const int q0 = w->type == LN_Q8_0 || w->type == LN_Q4_0 || w->type == LN_Q4_K || w->type == LN_Q6_K;  // lane-per-block layouts
    const int64_t lanes = w->type == LN_Q6_K ? w->cols / 16 : w->nb;  // lane blocks per row (Q6_K: 16 values)
    a.qi_stride = q0 ? (size_t)(w->nb * 32 + 63) / 64 * 64 : 0;
    a.g_stride = q0 ? (size_t)(lanes + 15) / 16 * 16 : 0;
    size_t qb = a.q_stride * (size_t)T, eb = a.e_stride * 4 * (size_t)T, cb = (a.c_stride * 4 * (size_t)T + 63) / 64 * 64;
    size_t ib = a.qi_stride * (size_t)T, gb = (a.g_stride * 4 * (size_t)T + 63) / 64 * 64;
    uint8_t *s = (uint8_t *)scratch(qb + 2 * eb + cb + ib + 2 * gb);
    if (!s) return 0;
    a.q = (int8_t *)s;
    a.dxe = (float *)(s + qb);
    a.bias = (int32_t *)(s + qb + eb);
    a.csum = (float *)(s + qb + 2 * eb);
    if (q0) {
      a.qi = (int8_t *)(s + qb + 2 * eb + cb);
      a.b16 = (int32_t *)(s + qb + 2 * eb + cb + ib);
      a.d16 = (float *)(s + qb + 2 * eb + cb + ib + gb);
    }
    if (T < 4 || nth == 1) quant_rows(&a, 0, T, w->type);
    else ln_pool_run(quant_task, &c);
    act_bytes_per_token = a.q_stride * 3;
    ln_outer_fn outer = w->type == LN_Q8_0 ? K.outer_q8_0 : w->type == LN_Q4_0 ? K.outer_q4_0 : w->type == LN_Q4_K ? K.outer_q4_k : NULL;
    if (outer && T >= 8 && w->rows >= 16 && ln_tune_outer) {
      // token-interleaved copy of the quantized activations (see ln_outer in common.h)
      const int64_t nq = T / 4, nb = w->nb;
      size_t bqb = (size_t)nq * nb * 128, bbb = (size_t)nq * nb * 16 * 4;
      size_t osz = (ln_outer_scratch(nb) + 63) / 64 * 64;
      uint8_t *o = (uint8_t *)outer_scratch(3 * bbb + bqb + osz * (size_t)nth);
      if (o) {
        c.o.nq = nq;
        uint8_t *bq = o;
        int32_t *bbias = (int32_t *)(o + bqb);
        float *bscale = (float *)(o + bqb + bbb);
        float *bcsum = (float *)(o + bqb + 2 * bbb);
        for (int64_t tq = 0; tq < nq; tq++)
          for (int64_t b = 0; b < nb; b++) {
            uint8_t *dst = bq + ((size_t)tq * nb + b) * 128;
            for (int j = 0; j < 4; j++) {
              const int8_t *src = a.q + (4 * tq + j) * a.q_stride + b * 32;
              for (int g = 0; g < 8; g++) memcpy(dst + g * 16 + j * 4, src + g * 4, 4);
              const int32_t *bl = a.bias + (4 * tq + j) * a.e_stride + b * 8;
              const float dx = a.dxe[(4 * tq + j) * a.e_stride + b * 8];
              const float cs = a.csum[(4 * tq + j) * a.c_stride + b];
              for (int k = 0; k < 4; k++) {
                bbias[((size_t)tq * nb + b) * 16 + 4 * j + k] = bl[0] + bl[4];
                bscale[((size_t)tq * nb + b) * 16 + 4 * j + k] = dx;
                bcsum[((size_t)tq * nb + b) * 16 + 4 * j + k] = cs;
              }
            }
          }
        c.o.bq = bq;
        c.o.bbias = bbias;
        c.o.bscale = bscale;
        c.o.bcsum = bcsum;
        c.oscratch = o + bqb + 3 * bbb;
        c.oscratch_size = osz;
        c.outer = outer;
      }
    }
  }
  if (T == 1) {
    // matvec: enough blocks for dynamic balance on a noisy machine, rows a multiple of 4
    int64_t target = (int64_t)nth * 16;
    int64_t rb = (w->rows + target - 1) / target;
    rb = (rb + 3) / 4 * 4;
    if (rb < 16) rb = 16;
    // but no block under ln_tune_mv_block bytes of weights: handing out a block costs an atomic
    // on a cache line both cores write
    const size_t wrow = w->row_bytes + w->sc_stride * (w->sc ? 2 : 0);
    if (ln_tune_mv_block > 0 && (size_t)rb * wrow < (size_t)ln_tune_mv_block) rb = ((int64_t)(ln_tune_mv_block / wrow) + 3) / 4 * 4;
    c.rb = rb;
    c.tt = 1;
  } else {
    // keep a row block's weights (~256 KB) and a token tile's activations (~256 KB) in L2
    int64_t rb = (int64_t)(256 * 1024 / (w->row_bytes ? w->row_bytes : 1));
    const int64_t unit = c.outer ? 16 : 4;
    rb = rb / unit * unit;
    if (rb < unit) rb = unit;
    int64_t per_thread = (w->rows + nth - 1) / nth;  // but never leave a thread idle
    if (rb > per_thread) rb = (per_thread + unit - 1) / unit * unit;
    int64_t tt = (int64_t)(256 * 1024 / act_bytes_per_token);
    tt = tt / 4 * 4;
    if (tt < 4) tt = 4;
    c.rb = rb;
    c.tt = tt;
  }
  c.nblocks = (w->rows + c.rb - 1) / c.rb;
  if (T == 1 && nth > 1 && ln_tune_guided) {
    // the minimum claim: ln_tune_mv_block bytes of weights (see above), at least 4 rows
    const size_t wrow = w->row_bytes + w->sc_stride * (w->sc ? 2 : 0);
    int64_t minr = ln_tune_mv_block > 0 ? (int64_t)((size_t)ln_tune_mv_block / (wrow ? wrow : 1)) : 4;
    c.rb = minr < 4 ? 4 : minr;
    ln_pool_run(mv_task, &c);
    return 1;
  }
  ln_pool_run(mm_task, &c);
  return 1;
}

// matmul(out: Float32Array, x: Float32Array, w, T)
static napi_value js_matmul(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!ln_args(env, info, 4, argv)) return NULL;
  size_t on, xn;
  float *out = typed(env, argv[0], napi_float32_array, &on);
  if (!out) return NULL;
  const float *x = typed(env, argv[1], napi_float32_array, &xn);
  if (!x) return NULL;
  weight_handle *h = get_weight(env, argv[2]);
  if (!h) return NULL;
  int64_t T = ln_i64(env, argv[3]);
  if (T <= 0) return NULL;
  if (xn < (size_t)(T * h->w.cols) || on < (size_t)(T * h->w.rows)) FAIL("matmul: x or out is too short for T x cols / T x rows");
  if (!run_matmul(&h->w, x, out, T)) FAIL("out of memory");
  return NULL;
}

// ---------------------------------------------------------------- elementwise ops

// embed(out, w, ids: Int32Array)
static napi_value js_embed(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!ln_args(env, info, 3, argv)) return NULL;
  size_t on, n;
  float *out = typed(env, argv[0], napi_float32_array, &on);
  if (!out) return NULL;
  weight_handle *h = get_weight(env, argv[1]);
  if (!h) return NULL;
  const int32_t *ids = typed(env, argv[2], napi_int32_array, &n);
  if (!ids) return NULL;
  const ln_weight *w = &h->w;
  if (on < n * (size_t)w->cols) FAIL("embed: out is too short");
  for (size_t t = 0; t < n; t++) {
    if (ids[t] < 0 || ids[t] >= w->rows) FAIL("embed: token id outside the vocabulary");
    float *o = out + t * w->cols;
    if (w->type == LN_F16) K.f16_to_f32(o, (const uint16_t *)(w->qs + (size_t)ids[t] * w->row_bytes), w->cols);
    else ln_dequant_row(w, ids[t], o);
  }
  return NULL;
}

// rmsnorm(out, x, g, T, dim, eps)
static napi_value js_rmsnorm(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  if (!ln_args(env, info, 6, argv)) return NULL;
  size_t on, xn, gn;
  float *out = typed(env, argv[0], napi_float32_array, &on);
  if (!out) return NULL;
  const float *x = typed(env, argv[1], napi_float32_array, &xn);
  if (!x) return NULL;
  const float *g = typed(env, argv[2], napi_float32_array, &gn);
  if (!g) return NULL;
  int64_t T = ln_i64(env, argv[3]), dim = ln_i64(env, argv[4]);
  float eps = (float)ln_f64(env, argv[5]);
  if (T < 0 || dim <= 0 || on < (size_t)(T * dim) || xn < (size_t)(T * dim) || gn < (size_t)dim) FAIL("rmsnorm: bad shapes");
  for (int64_t t = 0; t < T; t++) {
    const float *xr = x + t * dim;
    float *o = out + t * dim;
    float ss = K.dot_f32(xr, xr, dim);
    float scale = (float)(1.0 / sqrt((double)(ss / (float)dim) + (double)eps));
    for (int64_t i = 0; i < dim; i++) o[i] = (xr[i] * scale) * g[i];
  }
  return NULL;
}

// rope(x, T, nHeads, headDim, pos: Int32Array, invFreq: Float32Array)
static napi_value js_rope(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  if (!ln_args(env, info, 6, argv)) return NULL;
  size_t xn, pn, fn;
  float *x = typed(env, argv[0], napi_float32_array, &xn);
  if (!x) return NULL;
  int64_t T = ln_i64(env, argv[1]), nh = ln_i64(env, argv[2]), hd = ln_i64(env, argv[3]);
  const int32_t *pos = typed(env, argv[4], napi_int32_array, &pn);
  if (!pos) return NULL;
  const float *inv = typed(env, argv[5], napi_float32_array, &fn);
  if (!inv) return NULL;
  if (T < 0 || nh <= 0 || hd <= 0 || (hd & 1) || xn < (size_t)(T * nh * hd) || pn < (size_t)T || fn < (size_t)(hd / 2)) FAIL("rope: bad shapes");
  const int64_t half = hd / 2;
  for (int64_t t = 0; t < T; t++) {
    for (int64_t i = 0; i < half; i++) {
      double ang = (double)pos[t] * (double)inv[i];
      float c = (float)cos(ang), s = (float)sin(ang);
      for (int64_t h = 0; h < nh; h++) {
        float *v = x + (t * nh + h) * hd + 2 * i;
        float a = v[0], b = v[1];
        v[0] = a * c - b * s;
        v[1] = a * s + b * c;
      }
    }
  }
  return NULL;
}

// swiglu(out, gate, up, n)
static napi_value js_swiglu(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!ln_args(env, info, 4, argv)) return NULL;
  size_t on, gn, un;
  float *out = typed(env, argv[0], napi_float32_array, &on);
  if (!out) return NULL;
  const float *g = typed(env, argv[1], napi_float32_array, &gn);
  if (!g) return NULL;
  const float *u = typed(env, argv[2], napi_float32_array, &un);
  if (!u) return NULL;
  int64_t n = ln_i64(env, argv[3]);
  if (n < 0 || on < (size_t)n || gn < (size_t)n || un < (size_t)n) FAIL("swiglu: bad shapes");
  if (K.swiglu) K.swiglu(out, g, u, n);
  else
    for (int64_t i = 0; i < n; i++) out[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
  return NULL;
}

// add(out, a, b, n)
static napi_value js_add(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!ln_args(env, info, 4, argv)) return NULL;
  size_t on, an, bn;
  float *out = typed(env, argv[0], napi_float32_array, &on);
  if (!out) return NULL;
  const float *a = typed(env, argv[1], napi_float32_array, &an);
  if (!a) return NULL;
  const float *b = typed(env, argv[2], napi_float32_array, &bn);
  if (!b) return NULL;
  int64_t n = ln_i64(env, argv[3]);
  if (n < 0 || on < (size_t)n || an < (size_t)n || bn < (size_t)n) FAIL("add: bad shapes");
  for (int64_t i = 0; i < n; i++) out[i] = a[i] + b[i];
  return NULL;
}

static void softmax_row(float *x, int64_t n) {
  if (K.softmax) {
    K.softmax(x, n);
    return;
  }
  float m = -INFINITY;
  for (int64_t i = 0; i < n; i++)
    if (x[i] > m) m = x[i];
  double sum = 0;
  for (int64_t i = 0; i < n; i++) {
    x[i] = expf(x[i] - m);
    sum += x[i];
  }
  float inv = (float)(1.0 / sum);
  for (int64_t i = 0; i < n; i++) x[i] *= inv;
}

// softmax(x, rows, cols)
static napi_value js_softmax(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!ln_args(env, info, 3, argv)) return NULL;
  size_t xn;
  float *x = typed(env, argv[0], napi_float32_array, &xn);
  if (!x) return NULL;
  int64_t rows = ln_i64(env, argv[1]), cols = ln_i64(env, argv[2]);
  if (rows < 0 || cols <= 0 || xn < (size_t)(rows * cols)) FAIL("softmax: bad shapes");
  for (int64_t r = 0; r < rows; r++) softmax_row(x + r * cols, cols);
  return NULL;
}

// argmax(x, n)
static napi_value js_argmax(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!ln_args(env, info, 2, argv)) return NULL;
  size_t xn;
  const float *x = typed(env, argv[0], napi_float32_array, &xn);
  if (!x) return NULL;
  int64_t n = ln_i64(env, argv[1]);
  if (n <= 0 || xn < (size_t)n) FAIL("argmax: bad length");
  int64_t best = 0;
  for (int64_t i = 1; i < n; i++)
    if (x[i] > x[best]) best = i;
  return num(env, (double)best);
}

// ---------------------------------------------------------------- KV cache and attention

// kvStore(kLayer, vLayer, f16: boolean(number), rowLen, pos0, T, k, v)
static napi_value js_kv_store(napi_env env, napi_callback_info info) {
  napi_value argv[8];
  if (!ln_args(env, info, 8, argv)) return NULL;
  int f16 = (int)ln_i64(env, argv[2]);
  int64_t rowLen = ln_i64(env, argv[3]), pos0 = ln_i64(env, argv[4]), T = ln_i64(env, argv[5]);
  size_t kn, vn, kcn, vcn;
  const float *k = typed(env, argv[6], napi_float32_array, &kn);
  if (!k) return NULL;
  const float *v = typed(env, argv[7], napi_float32_array, &vn);
  if (!v) return NULL;
  void *kc = typed(env, argv[0], f16 ? napi_uint16_array : napi_float32_array, &kcn);
  if (!kc) return NULL;
  void *vc = typed(env, argv[1], f16 ? napi_uint16_array : napi_float32_array, &vcn);
  if (!vc) return NULL;
  size_t n = (size_t)(T * rowLen), base = (size_t)(pos0 * rowLen);
  if (T < 0 || pos0 < 0 || rowLen <= 0 || kn < n || vn < n || kcn < base + n || vcn < base + n) FAIL("kvStore: past the cache or bad shapes");
  if (f16) {
    K.f32_to_f16((uint16_t *)kc + base, k, (int64_t)n);
    K.f32_to_f16((uint16_t *)vc + base, v, (int64_t)n);
  } else {
    memcpy((float *)kc + base, k, n * 4);
    memcpy((float *)vc + base, v, n * 4);
  }
  return NULL;
}

typedef struct {
  float *out;
  const float *q;
  const void *kc, *vc;
  int f16;
  int64_t pos0, T, nh, nkv, hd;
  float *scratch;  // per thread: (pos0+T) scores + 2*hd
  int64_t per_thread;
  _Atomic int64_t next;
} attn_ctx;

// `span` cache values from element `at` as f32 (an F16 cache's are converted into `row`)
static const float *kv_slice(const attn_ctx *c, const void *cache, int64_t at, int64_t span, float *row) {
  if (!c->f16) return (const float *)cache + at;
  K.f16_to_f32(row, (const uint16_t *)cache + at, span);
  return row;
}

// Decode (T = 1): each thread takes a contiguous range of KV heads and walks the cache position by
// position, so it reads one contiguous slice of every K and V row (a sequential stream) instead of
// one head's strided column at a time. Scores for all its query heads are kept per head.
static void attn_decode_task(void *p, int ith, int nth) {
  attn_ctx *c = (attn_ctx *)p;
  const int64_t hd = c->hd, kvRow = c->nkv * hd, group = c->nh / c->nkv, n = c->pos0 + 1;
  const int64_t kv0 = c->nkv * ith / nth, kv1 = c->nkv * (ith + 1) / nth;
  if (kv1 <= kv0) return;
  const int64_t h0 = kv0 * group, nhl = (kv1 - kv0) * group;  // query heads of this thread
  float *scores = c->scratch + ith * c->per_thread;  // (nhl, n)
  float *row = scores + nhl * n;                      // one converted F16 row slice
  const float scale = (float)(1.0 / sqrt((double)hd));
  const int64_t span = (kv1 - kv0) * hd;
  const size_t esz = c->f16 ? 2 : 4;
  if (K.attn_decode && K.attn_decode(c->out + h0 * hd, c->q + h0 * hd, (const char *)c->kc + kv0 * hd * esz, (const char *)c->vc + kv0 * hd * esz, c->f16, kvRow, n, kv1 - kv0, group, hd, scale, scores))
    return;
  for (int64_t pp = 0; pp < n; pp++) {
    const float *kr = kv_slice(c, c->kc, pp * kvRow + kv0 * hd, span, row);
    for (int64_t h = 0; h < nhl; h++) scores[h * n + pp] = K.dot_f32(c->q + (h0 + h) * hd, kr + (h / group) * hd, hd) * scale;
  }
  for (int64_t h = 0; h < nhl; h++) softmax_row(scores + h * n, n);
  float *out = c->out + h0 * hd;
  memset(out, 0, (size_t)(nhl * hd) * 4);
  for (int64_t pp = 0; pp < n; pp++) {
    const float *vr = kv_slice(c, c->vc, pp * kvRow + kv0 * hd, span, row);
    for (int64_t h = 0; h < nhl; h++) K.axpy_f32(out + h * hd, scores[h * n + pp], vr + (h / group) * hd, hd);
  }
}

static void attn_task(void *p, int ith, int nth) {
  (void)nth;
  attn_ctx *c = (attn_ctx *)p;
  const int64_t hd = c->hd, kvRow = c->nkv * hd, group = c->nh / c->nkv;
  float *scores = c->scratch + ith * c->per_thread;
  float *kbuf = scores + c->pos0 + c->T;
  const float scale = (float)(1.0 / sqrt((double)hd));
  for (;;) {
    int64_t u = atomic_fetch_add_explicit(&c->next, 1, memory_order_relaxed);
    if (u >= c->T * c->nh) break;
    int64_t t = u / c->nh, h = u % c->nh;
    const int64_t n = c->pos0 + t + 1;
    const float *q = c->q + (t * c->nh + h) * hd;
    const int64_t kvo = (h / group) * hd;
    const int fast = !c->f16 && ln_tune_attn && K.attn_scores_f32;
    if (fast) K.attn_scores_f32(scores, q, (const float *)c->kc + kvo, kvRow, n, hd, scale);
    for (int64_t pp = 0; pp < (fast ? 0 : n); pp++) {
      const float *kr;
      if (c->f16) {
        K.f16_to_f32(kbuf, (const uint16_t *)c->kc + pp * kvRow + kvo, hd);
        kr = kbuf;
      } else {
        kr = (const float *)c->kc + pp * kvRow + kvo;
      }
      scores[pp] = K.dot_f32(q, kr, hd) * scale;
    }
    softmax_row(scores, n);
    float *o = c->out + (t * c->nh + h) * hd;
    if (fast && K.attn_values_f32 && K.attn_values_f32(o, scores, (const float *)c->vc + kvo, kvRow, n, hd)) continue;
    memset(o, 0, hd * 4);
    for (int64_t pp = 0; pp < n; pp++) {
      const float *vr;
      if (c->f16) {
        K.f16_to_f32(kbuf, (const uint16_t *)c->vc + pp * kvRow + kvo, hd);
        vr = kbuf;
      } else {
        vr = (const float *)c->vc + pp * kvRow + kvo;
      }
      K.axpy_f32(o, scores[pp], vr, hd);
    }
  }
}

// attention(out, q, kLayer, vLayer, f16, pos0, T, nHeads, nKvHeads, headDim)
static napi_value js_attention(napi_env env, napi_callback_info info) {
  napi_value argv[10];
  if (!ln_args(env, info, 10, argv)) return NULL;
  int f16 = (int)ln_i64(env, argv[4]);
  size_t on, qn, kn, vn;
  float *out = typed(env, argv[0], napi_float32_array, &on);
  if (!out) return NULL;
  const float *q = typed(env, argv[1], napi_float32_array, &qn);
  if (!q) return NULL;
  const void *kc = typed(env, argv[2], f16 ? napi_uint16_array : napi_float32_array, &kn);
  if (!kc) return NULL;
  const void *vc = typed(env, argv[3], f16 ? napi_uint16_array : napi_float32_array, &vn);
  if (!vc) return NULL;
  attn_ctx c = {.out = out, .q = q, .kc = kc, .vc = vc, .f16 = f16};
  c.pos0 = ln_i64(env, argv[5]);
  c.T = ln_i64(env, argv[6]);
  c.nh = ln_i64(env, argv[7]);
  c.nkv = ln_i64(env, argv[8]);
  c.hd = ln_i64(env, argv[9]);
  if (c.T <= 0 || c.pos0 < 0 || c.nh <= 0 || c.nkv <= 0 || c.hd <= 0 || c.nh % c.nkv != 0) FAIL("attention: bad shapes");
  size_t qsz = (size_t)(c.T * c.nh * c.hd), cache_need = (size_t)((c.pos0 + c.T) * c.nkv * c.hd);
  if (on < qsz || qn < qsz || kn < cache_need || vn < cache_need) FAIL("attention: arrays too short (positions past the cache?)");
  const int nth = ln_pool_threads();
  atomic_init(&c.next, 0);
  if (c.T == 1 && ln_tune_attn) {
    // scores of every query head of a thread's KV heads (at most all of them) + one row slice
    c.per_thread = (c.nh * (c.pos0 + 1) + c.nkv * c.hd + 15) / 16 * 16;
    c.scratch = (float *)scratch((size_t)c.per_thread * nth * 4);
    if (!c.scratch) FAIL("out of memory");
    if (nth == 1 || c.nkv == 1) attn_decode_task(&c, 0, 1);
    else ln_pool_run_all(attn_decode_task, &c);
    return NULL;
  }
  c.per_thread = (c.pos0 + c.T + 2 * c.hd + 15) / 16 * 16;
  c.scratch = (float *)scratch((size_t)c.per_thread * nth * 4);
  if (!c.scratch) FAIL("out of memory");
  if (c.T * c.nh == 1) attn_task(&c, 0, 1);
  else ln_pool_run(attn_task, &c);
  return NULL;
}

// ---------------------------------------------------------------- machine limits

typedef struct {
  const float *buf;
  int64_t n;
  double sums[256];
} bw_ctx;

static void bw_task(void *p, int ith, int nth) {
  bw_ctx *c = (bw_ctx *)p;
  int64_t per = (c->n / nth) / 16 * 16;
  int64_t i0 = per * ith, n = ith == nth - 1 ? c->n - i0 : per;
  c->sums[ith] = K.dot_f32(c->buf + i0, c->buf + i0, n);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// readBandwidth(bytes, reps) -> Float64Array of GB/s per repetition (all pool threads stream a
// share of one buffer much larger than the caches, as decode streams the weights)
static napi_value js_read_bandwidth(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!ln_args(env, info, 2, argv)) return NULL;
  int64_t bytes = ln_i64(env, argv[0]), reps = ln_i64(env, argv[1]);
  if (bytes < (1 << 20) || reps <= 0 || reps > 1000) FAIL("readBandwidth: bytes >= 1 MiB and 1..1000 repetitions");
  int64_t n = bytes / 4;
  float *buf = (float *)ln_aligned_alloc((size_t)n * 4);
  if (!buf) FAIL("out of memory");
  for (int64_t i = 0; i < n; i++) buf[i] = (float)(i & 7);
  bw_ctx c = {.buf = buf, .n = n};
  ln_pool_run_all(bw_task, &c);  // warm-up (page faults, pool wake-up)
  napi_value arr, ab;
  double *res;
  napi_create_arraybuffer(env, (size_t)reps * 8, (void **)&res, &ab);
  napi_create_typedarray(env, napi_float64_array, (size_t)reps, ab, 0, &arr);
  for (int64_t r = 0; r < reps; r++) {
    double t0 = now_s();
    ln_pool_run_all(bw_task, &c);
    double dt = now_s() - t0;
    res[r] = (double)n * 4 / dt / 1e9;
  }
  ln_aligned_free(buf);
  return arr;
}

typedef struct {
  int64_t iters;
  double flops[256];
} fma_ctx;

static void fma_task(void *p, int ith, int nth) {
  (void)nth;
  fma_ctx *c = (fma_ctx *)p;
  c->flops[ith] = K.fma_loop(c->iters);
}

// fmaPeak(iters) -> GFLOP/s of all pool threads running independent FMAs (the pp ceiling)
static napi_value js_fma_peak(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!ln_args(env, info, 1, argv)) return NULL;
  fma_ctx c = {.iters = ln_i64(env, argv[0])};
  if (c.iters <= 0) FAIL("fmaPeak: iterations must be positive");
  double t0 = now_s();
  ln_pool_run_all(fma_task, &c);
  double dt = now_s() - t0, total = 0;
  for (int i = 0; i < ln_pool_threads(); i++) total += c.flops[i];
  return num(env, total / dt / 1e9);
}

// ---------------------------------------------------------------- memory-mapped files

typedef struct mapping {
  void *base;
  size_t len;
  int pins;      // weights that compute straight from these bytes (used in place)
  int released;  // unmapped early by unmapRange; the finalizer only frees the record
  struct mapping *next;
} mapping;

// Live mappings made by mmapRange (N-API calls and finalizers all run on the JS thread).
static mapping *mappings;

static mapping *mapping_pin(const void *p) {
  for (mapping *m = mappings; m; m = m->next)
    if ((const char *)p >= (const char *)m->base && (const char *)p < (const char *)m->base + m->len) {
      m->pins++;
      return m;
    }
  return NULL;
}

static void mapping_unpin(mapping *m) { m->pins--; }

static void unmap_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)data;
  mapping *m = (mapping *)hint;
  for (mapping **p = &mappings; *p; p = &(*p)->next)
    if (*p == m) {
      *p = m->next;
      break;
    }
  if (!m->released) munmap(m->base, m->len);
  free(m);
}

// unmapRange(view) -> boolean: unmap the file mapping `view` lies in now, instead of when the
// garbage collector finds its ArrayBuffer (LoadedModel.close()/dispose() call it). The buffer is
// detached first, so every view of it becomes empty rather than dangling. Refused (false) while a
// weight loaded in place computes from those bytes, or for bytes that are not a mapping of ours.
static napi_value js_unmap_range(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  if (!ln_args(env, info, 1, argv)) return NULL;
  napi_typedarray_type type;
  size_t length, offset;
  void *data = NULL;
  napi_value ab;
  bool ok = false;
  if (napi_get_typedarray_info(env, argv[0], &type, &length, &data, &ab, &offset) == napi_ok && data) {
    for (mapping **p = &mappings; *p; p = &(*p)->next) {
      mapping *m = *p;
      if ((char *)data < (char *)m->base || (char *)data >= (char *)m->base + m->len) continue;
      if (m->pins > 0 || napi_detach_arraybuffer(env, ab) != napi_ok) break;
      munmap(m->base, m->len);
      m->released = 1;
      *p = m->next;
      ok = true;
      break;
    }
  }
  napi_get_boolean(env, ok, &result);
  return result;
}

// After a weight was copied out of a file mapping: drop the mapped pages it covered, so resident
// memory holds the weights once (the pages are clean and private: a later read of the view
// re-reads the same bytes from the file). Bytes not inside a mapping of ours are left alone.
void ln_release_mapped(const void *p, size_t len) {
  const uintptr_t a = (uintptr_t)p, e = a + len;
  for (mapping *m = mappings; m; m = m->next) {
    const uintptr_t b = (uintptr_t)m->base;
    if (a < b || e > b + m->len) continue;
    const long page = sysconf(_SC_PAGESIZE);
    const uintptr_t s = (a + page - 1) / page * page, t = e / page * page;
    if (t > s) madvise((void *)s, t - s, MADV_DONTNEED);
    return;
  }
}

// mmapRange(path, offset, length) -> Uint8Array over the file's bytes [offset, offset+length),
// mapped copy-on-write (writes never reach the file), or undefined when mapping is not possible.
// The pages are read from the page cache on first touch: opening a 7B model costs no reads.
static napi_value js_mmap_range(napi_env env, napi_callback_info info) {
  napi_value argv[3], undef;
  napi_get_undefined(env, &undef);
  if (!ln_args(env, info, 3, argv)) return NULL;
  char path[4096];
  size_t plen;
  if (napi_get_value_string_utf8(env, argv[0], path, sizeof path, &plen) != napi_ok || plen >= sizeof path - 1) return undef;
  int64_t off = ln_i64(env, argv[1]), len = ln_i64(env, argv[2]);
  if (off < 0 || len <= 0) return undef;
  long page = sysconf(_SC_PAGESIZE);
  int64_t start = off / page * page, delta = off - start;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return undef;
  off_t size = lseek(fd, 0, SEEK_END);
  if (size < 0 || off + len > size) {
    close(fd);
    return undef;
  }
  void *base = mmap(NULL, (size_t)(len + delta), PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, (off_t)start);
  close(fd);
  if (base == MAP_FAILED) return undef;
  mapping *m = (mapping *)malloc(sizeof(mapping));
  if (!m) {
    munmap(base, (size_t)(len + delta));
    return undef;
  }
  m->base = base;
  m->len = (size_t)(len + delta);
  m->pins = 0;
  m->released = 0;
  m->next = mappings;
  mappings = m;
  napi_value ab, view;
  if (napi_create_external_arraybuffer(env, base, m->len, unmap_finalize, m, &ab) != napi_ok) {
    mappings = m->next;
    munmap(base, m->len);
    free(m);
    bool pending;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value e;
      napi_get_and_clear_last_exception(env, &e);
    }
    return undef;
  }
  if (napi_create_typedarray(env, napi_uint8_array, (size_t)len, ab, (size_t)delta, &view) != napi_ok) return undef;
  return view;
}

// ---------------------------------------------------------------- configuration

static int select_isa(const char *name) {
  if (!strcmp(name, "scalar")) K = K_scalar;
  else if (!strcmp(name, "avx2") && have_avx2) K = K_avx2;
  else if (!strcmp(name, "avx512") && have_avx512) K = K_avx512;
  else if (!strcmp(name, "neon") && have_neon) K = K_neon;
  else return 0;
  return 1;
}

static napi_value make_info(napi_env env) {
  napi_value o, list, s;
  napi_create_object(env, &o);
  napi_create_string_utf8(env, K.name, NAPI_AUTO_LENGTH, &s);
  napi_set_named_property(env, o, "isa", s);
  napi_create_array(env, &list);
  uint32_t i = 0;
  const char *names[4];
  int n = 0;
  if (have_avx512) names[n++] = "avx512";
  if (have_avx2) names[n++] = "avx2";
  if (have_neon) names[n++] = "neon";
  names[n++] = "scalar";
  for (int k = 0; k < n; k++) {
    napi_create_string_utf8(env, names[k], NAPI_AUTO_LENGTH, &s);
    napi_set_element(env, list, i++, s);
  }
  napi_set_named_property(env, o, "available", list);
  napi_set_named_property(env, o, "threads", num(env, ln_pool_threads()));
  return o;
}

static napi_value js_info(napi_env env, napi_callback_info info) {
  (void)info;
  return make_info(env);
}

// setIsa(name) -> boolean (false when this CPU cannot run it)
static napi_value js_set_isa(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!ln_args(env, info, 1, argv)) return NULL;
  char name[32];
  size_t len;
  if (napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len) != napi_ok) FAIL("setIsa: expected a string");
  napi_value r;
  napi_get_boolean(env, select_isa(name), &r);
  return r;
}

static napi_value js_set_threads(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!ln_args(env, info, 1, argv)) return NULL;
  return num(env, ln_pool_set_threads((int)ln_i64(env, argv[0])));
}

// setTuning(name, value): A/B switches for benchmarks (see common.h)
static napi_value js_set_tuning(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!ln_args(env, info, 2, argv)) return NULL;
  char name[32];
  size_t len;
  if (napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len) != napi_ok) FAIL("setTuning: expected a name");
  int v = (int)ln_i64(env, argv[1]);
  if (!strcmp(name, "nr1")) ln_tune_nr1 = v;
  else if (!strcmp(name, "pf")) ln_tune_pf = v;
  else if (!strcmp(name, "pfhead")) ln_tune_pf_head = v;
  else if (!strcmp(name, "copyf")) ln_tune_copy_float = v;
  else if (!strcmp(name, "guided")) ln_tune_guided = v;
  else if (!strcmp(name, "mvshort")) ln_tune_mv_short = v;
  else if (!strcmp(name, "ymmtail")) ln_tune_ymm_tail = v;
  else if (!strcmp(name, "outer")) ln_tune_outer = v;
  else if (!strcmp(name, "attn")) ln_tune_attn = v;
  else if (!strcmp(name, "mvblock")) ln_tune_mv_block = v;
  else if (!strcmp(name, "arenamin")) ln_tune_arena_min = v;
  else if (!strcmp(name, "nr1f")) ln_tune_nr1_float = v;
  else if (!strcmp(name, "pff")) ln_tune_pf_float = v;
  else FAIL("setTuning: unknown knob");
  return NULL;
}

static void cleanup(void *arg) {
  (void)arg;
  ln_pool_shutdown();
}

#define EXPORT(name, fn)                                                   \
  do {                                                                     \
    napi_value f;                                                          \
    napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, NULL, &f);       \
    napi_set_named_property(env, exports, name, f);                        \
  } while (0)

static int initialised;

// the training kernels (train_ops.c) add their own exports
void ln_train_register(napi_env env, napi_value exports);

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  if (!initialised) {
    ln_kernels_scalar(&K_scalar);
    K = K_scalar;
#ifdef LN_X86
    have_avx2 = ln_kernels_avx2(&K_avx2);
    have_avx512 = ln_kernels_avx512(&K_avx512);
    if (have_avx2) K = K_avx2;
    if (have_avx512) K = K_avx512;
#endif
#ifdef LN_ARM64
    have_neon = ln_kernels_neon(&K_neon);
    if (have_neon) K = K_neon;
#endif
    initialised = 1;
    napi_add_env_cleanup_hook(env, cleanup, NULL);
  }
  EXPORT("info", js_info);
  EXPORT("setIsa", js_set_isa);
  EXPORT("setThreads", js_set_threads);
  EXPORT("loadWeight", js_load_weight);
  EXPORT("freeWeight", js_free_weight);
  EXPORT("matmul", js_matmul);
  EXPORT("embed", js_embed);
  EXPORT("rmsnorm", js_rmsnorm);
  EXPORT("rope", js_rope);
  EXPORT("swiglu", js_swiglu);
  EXPORT("add", js_add);
  EXPORT("softmax", js_softmax);
  EXPORT("argmax", js_argmax);
  EXPORT("kvStore", js_kv_store);
  EXPORT("attention", js_attention);
  EXPORT("readBandwidth", js_read_bandwidth);
  EXPORT("fmaPeak", js_fma_peak);
  EXPORT("setTuning", js_set_tuning);
  EXPORT("mmapRange", js_mmap_range);
  EXPORT("unmapRange", js_unmap_range);
  ln_train_register(env, exports);
  return exports;
}
