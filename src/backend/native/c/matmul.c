// Matmul: out (T, rows) = x (T, cols) . W^T on the thread pool.
//
// Flow: activations x (T, cols) -> [quantized per 32-block for integer kernels] -> row blocks
// handed out dynamically to the pool threads; inside a block, token tiles sized so the block's
// weights and the tile's activations stay in L2 -> per-ISA kernel.
#include <stdatomic.h>
#include <string.h>

#include "addon_internal.h"

// T = 1 with several threads (knob guided=2): each thread owns an equal, contiguous share of the
// rows and walks it in chunks through its own counter, on its own cache line; a thread done with
// its share then takes chunks of the others' (in turn from the next thread's). With every thread
// running, no cache line is shared until the very end and the threads finish within a chunk of
// each other; a descheduled worker's share is done by the others.
#define LN_MV_PARTS 8
typedef struct {
  _Alignas(64) _Atomic int64_t next;
  int64_t end;
} ln_mv_part;

typedef struct {
  ln_mv_part parts[LN_MV_PARTS];
  int nparts;
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

// Quantize (and, for the outer-product kernels, interleave) tokens 4 at a time: a quad is
// interleaved by the thread that just quantized it, while its rows are in that core's cache (done
// after the quantization, on the calling thread alone, this was ~40% of a 256x768 Q4_K matmul's
// time at T = 128 and 2 threads).
static void quant_task(void *p, int ith, int nth) {
  (void)ith;
  (void)nth;
  mm_ctx *c = (mm_ctx *)p;
  for (;;) {
    int64_t t0 = atomic_fetch_add(&c->qnext, 4);
    if (t0 >= c->T) break;
    quant_rows(c->a, t0, t0 + 4 < c->T ? t0 + 4 : c->T, c->wtype);
    if (c->outer && t0 / 4 < c->o.nq) K.outer_quad(c->a, &c->o, t0 / 4, c->w->nb, c->wtype == LN_Q6_K);
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
      // The tokens past 4*nq always go in a call of their own, also in a block without a whole
      // 16-row group: a lone last token then takes the T = 1 kernel whatever the block split, so
      // the thread count never changes a row's bits (before, a block of < 16 rows ran it in the
      // tile kernel, which sums in another order, e.g. Q6_K 40x2048 with T = 9 at 2 threads).
      int64_t r16 = r0 + (r1 - r0) / 16 * 16, nq = c->o.nq / 2 * 2;
      if (r16 > r0) c->outer(c->w, &c->o, c->out, rows, r0, r16, 0, nq, c->oscratch + (size_t)ith * c->oscratch_size);
      if (r16 < r1) c->fn(c->w, c->a, c->out, rows, r16, r1, 0, 4 * nq);
      tdone = 4 * nq;
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

static void mv_owned_task(void *p, int ith, int nth) {
  (void)nth;
  mm_ctx *c = (mm_ctx *)p;
  const int64_t chunk = c->rb;
  for (int k = 0; k < c->nparts; k++) {
    ln_mv_part *part = &c->parts[(ith + k) % c->nparts];
    for (;;) {
      const int64_t r0 = atomic_fetch_add_explicit(&part->next, chunk, memory_order_relaxed);
      if (r0 >= part->end) break;
      c->fn(c->w, c->a, c->out, c->w->rows, r0, r0 + chunk < part->end ? r0 + chunk : part->end, 0, 1);
    }
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
int ln_run_matmul(const ln_weight *w, const float *x, float *out, int64_t T) {
  if (ln_panel_matmul(w, x, out, T)) return 1;  // float weights, T >= ln_tune_panel, AVX-512 (gemm_panel.c)
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
    uint8_t *s = (uint8_t *)ln_scratch(qb + 2 * eb + cb + ib + 2 * gb);
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
    act_bytes_per_token = a.q_stride * 3;
    ln_outer_fn outer = w->type == LN_Q8_0 ? K.outer_q8_0 : w->type == LN_Q4_0 ? K.outer_q4_0 : w->type == LN_Q4_K ? K.outer_q4_k : w->type == LN_Q6_K ? K.outer_q6_k : NULL;
    if (outer && K.outer_quad && T >= 8 && w->rows >= 16 && ln_tune_outer) {
      // where the token-interleaved copy of the quantized activations goes (see ln_outer in
      // common.h); quant_task fills it
      const int64_t nq = T / 4, nb = w->nb;
      size_t bqb = (size_t)nq * nb * 128, bbb = (size_t)nq * nb * 16 * 4;
      size_t osz = (ln_outer_scratch(nb) + 63) / 64 * 64;
      const int q6k = w->type == LN_Q6_K;  // a second bias array: the zero point per 16 values
      uint8_t *o = (uint8_t *)ln_outer_scratch_buf((3 + q6k) * bbb + bqb + osz * (size_t)nth);
      if (o) {
        c.o.nq = nq;
        c.o.bq = o;
        c.o.bbias = (int32_t *)(o + bqb);
        c.o.bscale = (float *)(o + bqb + bbb);
        c.o.bcsum = (float *)(o + bqb + 2 * bbb);
        c.o.bbias2 = q6k ? (int32_t *)(o + bqb + 3 * bbb) : NULL;
        c.oscratch = o + bqb + (3 + q6k) * bbb;
        c.oscratch_size = osz;
        c.outer = outer;
      }
    }
    // the lane-per-block copy (qi) is read only by the tile kernels, which run the rows and tokens
    // past whole 16-row and 8-token groups
    if (c.outer && w->rows % 16 == 0 && T % 8 == 0) a.qi = NULL;
    if (T < 4 || nth == 1) quant_task(&c, 0, 1);
    else ln_pool_run(quant_task, &c);
  }
  if (T == 1) {
    // matvec: enough blocks for dynamic balance on a noisy machine, rows a multiple of 4
    int64_t target = (int64_t)nth * 16;
    int64_t rb = (w->rows + target - 1) / target;
    rb = (rb + 3) / 4 * 4;
    if (rb < 16) rb = 16;
    // but no block under ln_tune_mv_block bytes of weights: handing out a block costs an atomic
    // on a cache line both cores write
    const size_t wrow = ln_weight_row_total(w);
    if (ln_tune_mv_block > 0 && (size_t)rb * wrow < (size_t)ln_tune_mv_block) rb = ((int64_t)(ln_tune_mv_block / wrow) + 3) / 4 * 4;
    c.rb = rb;
    c.tt = 1;
  } else {
    // keep a row block's weights (~256 KB) and a token tile's activations (~256 KB) in L2
    const size_t wrow = ln_weight_row_total(w);
    int64_t rb = (int64_t)(256 * 1024 / (wrow ? wrow : 1));
    const int64_t unit = c.outer ? 16 : 4;
    rb = rb / unit * unit;
    if (rb < unit) rb = unit;
    // and as many blocks as a multiple of the thread count, of near equal size: blocks of the
    // largest size that fits split a 768-row Q8_0 matrix 336 + 336 + 96 at 2 threads, one thread
    // running 432 rows (T = 128: 768x768 Q8_0 414 -> 377 us, 2048x768 Q4_0 1319 -> 1015)
    int64_t nblk = (w->rows + rb - 1) / rb;
    nblk = (nblk + nth - 1) / nth * nth;
    rb = ((w->rows + nblk - 1) / nblk + unit - 1) / unit * unit;
    int64_t tt = (int64_t)(256 * 1024 / act_bytes_per_token);
    tt = tt / 4 * 4;
    if (tt < 4) tt = 4;
    c.rb = rb;
    c.tt = tt;
  }
  c.nblocks = (w->rows + c.rb - 1) / c.rb;
  if (T == 1 && nth > 1 && nth <= LN_MV_PARTS && ln_tune_guided == 2) {
    // chunks of ~ln_tune_mv_chunk bytes of weights, rows a multiple of 4 (as every row split, so
    // no thread count changes a row's kernel path)
    const size_t wrow = ln_weight_row_total(w);
    int64_t chunk = (int64_t)((size_t)ln_tune_mv_chunk / (wrow ? wrow : 1));
    c.rb = chunk < 4 ? 4 : (chunk + 3) / 4 * 4;
    c.nparts = nth;
    for (int i = 0; i < nth; i++) {
      const int64_t r0 = w->rows * i / nth / 4 * 4, r1 = i == nth - 1 ? w->rows : w->rows * (i + 1) / nth / 4 * 4;
      atomic_init(&c.parts[i].next, r0);
      c.parts[i].end = r1;
    }
    ln_pool_run(mv_owned_task, &c);
    return 1;
  }
  if (T == 1 && nth > 1 && ln_tune_guided) {
    // the minimum claim: ln_tune_mv_block bytes of weights (see above), at least 4 rows
    const size_t wrow = ln_weight_row_total(w);
    int64_t minr = ln_tune_mv_block > 0 ? (int64_t)((size_t)ln_tune_mv_block / (wrow ? wrow : 1)) : 4;
    c.rb = minr < 4 ? 4 : minr;
    // one claim would take every row: run it here without waking the pool
    if (c.rb >= w->rows) mv_task(&c, 0, 1);
    else ln_pool_run(mv_task, &c);
    return 1;
  }
  ln_pool_run(mm_task, &c);
  return 1;
}
