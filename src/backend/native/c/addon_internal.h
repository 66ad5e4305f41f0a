// Internal interface between the native backend's plain-C parts (weights.c, matmul.c, ops.c,
// attention.c, mmap.c, probes.c, state.c) and its N-API glue (addon.c). Nothing here needs
// node_api.h: the plain-C files are meant to be reused by a build without Node (WebAssembly).
// Shape and length checks stay in the glue; these functions trust their arguments.
#ifndef LN_ADDON_INTERNAL_H
#define LN_ADDON_INTERNAL_H
#include <stddef.h>
#include <stdint.h>

#include "common.h"

// ---------------------------------------------------------------- shared state (state.c)

extern ln_kernels K;  // the selected path
extern ln_kernels K_scalar, K_avx2, K_avx512, K_neon;
extern int have_avx2, have_avx512, have_neon;

void ln_kernels_init(void);            // fill the per-ISA tables and select the best one
int ln_select_isa(const char *name);   // 0 when this CPU cannot run it
void *ln_scratch(size_t bytes);        // one growing buffer (NULL when out of memory)
void *ln_outer_scratch_buf(size_t bytes);  // a second one, for the outer-product kernels

// ---------------------------------------------------------------- weights (weights.c)

void ln_dequant_row(const ln_weight *w, int64_t r, float *out);
// sets row_bytes and sc_stride of a quantized weight (type, rows, cols, nb set); returns the bytes
// its repacked copy needs
size_t ln_weight_repacked_bytes(ln_weight *w);
size_t ln_weight_meta_bytes(const ln_weight *w);  // one row's scales / metadata
size_t ln_weight_sc_offset(const ln_weight *w);   // where sc starts in the repacked buffer
size_t ln_weight_qs_offset(const ln_weight *w);   // where qs starts in it
// repack `rows` rows of ggml bytes (src_row bytes each) into w->qs / w->sc (allocated), on the pool
void ln_weight_repack(ln_weight *w, const uint8_t *src, size_t src_row);
// copy `bytes` weight bytes into dst (on the pool when large)
void ln_weight_copy(uint8_t *dst, const uint8_t *src, size_t bytes);

// ---------------------------------------------------------------- matmul (matmul.c)

// out (T, rows) = x (T, cols) . W^T; 0 when out of memory
int ln_run_matmul(const ln_weight *w, const float *x, float *out, int64_t T);
// float weights (F32/F16/BF16), T >= ln_tune_panel, AVX-512 path: outer products on f32 panels of
// 32 weight rows (gemm_panel.c); 0 when it declines (then the tile kernels run)
int ln_panel_matmul(const ln_weight *w, const float *x, float *out, int64_t T);
extern int ln_tune_panel;

// ---------------------------------------------------------------- elementwise ops (ops.c)

// -1 when all went well, else the index of the first token id outside the vocabulary (the rows
// before it are written)
int64_t ln_embed(float *out, const ln_weight *w, const int32_t *ids, size_t n);
void ln_rmsnorm(float *out, const float *x, const float *g, int64_t T, int64_t dim, float eps);
void ln_rope(float *x, int64_t T, int64_t nh, int64_t hd, const int32_t *pos, const float *inv);
void ln_swiglu(float *out, const float *g, const float *u, int64_t n);
void ln_add(float *out, const float *a, const float *b, int64_t n);
void ln_softmax_row(float *x, int64_t n);
double ln_exp_shifted(float *x, int64_t n, float *max);  // exp(x - max) in place, their sum
void ln_softmax(float *x, int64_t rows, int64_t cols);
int64_t ln_argmax(const float *x, int64_t n);

// ---------------------------------------------------------------- log-softmax statistics (logit_stats.c)

// per row of x (rows, cols): its max, first argmax and log sum exp(x - max) in float64
void ln_logit_stats(const float *x, int64_t rows, int64_t cols, float *mx, int32_t *am, double *ls);

// ---------------------------------------------------------------- KV cache and attention (attention.c)

void ln_kv_store(void *kc, void *vc, int f16, int64_t rowLen, int64_t pos0, int64_t T, const float *k, const float *v);
// 0 when out of memory
int ln_attention(float *out, const float *q, const void *kc, const void *vc, int f16, int64_t pos0, int64_t T, int64_t nh, int64_t nkv, int64_t hd);
// T >= 2 over an f32 cache with head dims 16..64, AVX-512 (attention_prefill.c); 0 when it declines
int ln_attention_prefill(float *out, const float *q, const void *kc, const void *vc, int f16, int64_t pos0, int64_t T, int64_t nh, int64_t nkv, int64_t hd);
extern int ln_tune_attn_prefill;

// ---------------------------------------------------------------- memory-mapped files (mmap.c)

typedef struct ln_mapping {
  void *base;
  size_t len;
  int pins;      // weights that compute straight from these bytes (used in place)
  int released;  // unmapped early by unmapRange; the finalizer only frees the record
  int finalized; // its ArrayBuffer's finalizer ran: the last unpin frees the record
  struct ln_mapping *next;
} ln_mapping;

ln_mapping *ln_mapping_pin(const void *p);
void ln_mapping_unpin(ln_mapping *m);    // frees the record if its buffer was finalized
void ln_release_mapped(const void *p, size_t len);
// map [off, off+len) of the file copy-on-write and record it; NULL when not possible. *delta: the
// offset of byte `off` in the mapping (mappings start on a page)
ln_mapping *ln_mapping_open(const char *path, int64_t off, int64_t len, int64_t *delta);
void ln_mapping_discard(ln_mapping *m);   // the newest mapping, never handed out: unmap and forget
void ln_mapping_finalize(ln_mapping *m);  // its ArrayBuffer was collected (or the env torn down)
ln_mapping *ln_mapping_find(const void *p);  // the mapping p lies in, or NULL
void ln_mapping_unmap_early(ln_mapping *m);  // unmap now (its buffer was detached)

// ---------------------------------------------------------------- machine limits (probes.c)

// res[reps] GB/s; 0 when out of memory
int ln_read_bandwidth(int64_t bytes, int64_t reps, double *res);
double ln_fma_peak(int64_t iters);  // GFLOP/s

#endif
