// Shared state of the native backend: the selected kernel table, the tuning knobs and the scratch
// buffers the ops reuse between calls (all touched from the JS thread only, or read by the pool
// threads while the JS thread waits).
#include <string.h>

#include "addon_internal.h"

// Decode streams every weight once per token, so how a matvec walks memory decides its speed.
// Measured here (same-process A/B against the streaming read, 1 thread): one weight row at a time
// (one sequential stream) beats interleaving rows, the hardware prefetcher beats a software
// prefetch distance for the lane-per-block Q8_0/Q4_0 kernels, and weights in 2 MiB pages beat
// weights left in the caller's 4 KiB pages by 15-35 points (F32 768x768: 97% vs 60%), hence the
// copy of in-place weights (weights.c). The knobs stay settable for such A/B runs (setTuning).
int ln_tune_nr1 = 1;
int ln_tune_nr1_float = -1;
int ln_tune_pf_float = 0;
int ln_tune_outer = 1;
int ln_tune_q6k = 1;  // Q6_K decode: 0 mv_q6k_1, 1 mv_q6k_long (rows of > 4 groups), 2 mv_q6k_3 (the full activation record)
int ln_tune_pf = 1024;
int ln_tune_pf_head = 4096;
int ln_tune_copy_float = 1;
int ln_tune_guided = 1;
int ln_tune_mv_chunk = 32 << 10;
int ln_tune_mv_short = 1;
int ln_tune_q4k_short = 1;
int ln_tune_q8_short = 1;
int ln_tune_q6k_short = 1;
int ln_tune_ymm_tail = 1;
int ln_tune_mv_block = 128 << 10;
int ln_tune_attn = 1;
int ln_tune_attn_ahead = 4;
int ln_tune_ops_par = 1;
int ln_tune_pf_next = 1;

ln_kernels K;  // the selected path
ln_kernels K_scalar, K_avx2, K_avx512, K_neon;
int have_avx2, have_avx512, have_neon;

void ln_kernels_init(void) {
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
}

int ln_select_isa(const char *name) {
  if (!strcmp(name, "scalar")) K = K_scalar;
  else if (!strcmp(name, "avx2") && have_avx2) K = K_avx2;
  else if (!strcmp(name, "avx512") && have_avx512) K = K_avx512;
  else if (!strcmp(name, "neon") && have_neon) K = K_neon;
  else return 0;
  return 1;
}

// ---------------------------------------------------------------- scratch

static void *scratch_ptr;
static size_t scratch_size;

static void *outer_ptr;
static size_t outer_size;

void *ln_outer_scratch_buf(size_t bytes) {
  if (bytes > outer_size) {
    ln_aligned_free(outer_ptr);
    outer_ptr = ln_aligned_alloc(bytes);
    outer_size = outer_ptr ? bytes : 0;
  }
  return outer_ptr;
}

void *ln_scratch(size_t bytes) {
  if (bytes > scratch_size) {
    ln_aligned_free(scratch_ptr);
    scratch_ptr = ln_aligned_alloc(bytes);
    scratch_size = scratch_ptr ? bytes : 0;
  }
  return scratch_ptr;
}
