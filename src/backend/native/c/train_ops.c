// Training kernels of the native backend (src/backend/training.ts has the contract; the js oracle
// is src/backend/js/js-train-ops.ts). Registered on the addon's exports by ln_train_register, so
// addon.c only gains one call.
//
//  - gemm: C (M, N) += alpha · op(A) (M, K) · op(B) (K, N), op = identity or transpose by a flag,
//    with explicit leading dimensions, so the matmul backward (dx += dy·W, dW += dyᵀ·x) and the
//    per-head products of attention backward need no transposed copies. Blocked: the C tile
//    (MC x NC) of one task, K in KC slices; A and B slices packed per task into 8-row and 48-column
//    panels (alpha folded into A) that an 8 x 48 register-blocked kernel (24 AVX-512 accumulators,
//    B read as 3 vectors, A broadcast) consumes. Threading: tasks are whole C tiles handed out
//    through an atomic counter; every C element is summed by one task in a fixed K order, so the
//    result is bit-identical for any thread count and any timing.
//  - crossEntropy, rmsnorm / swiglu / rope / embed backward, attention's softmax backward, AdamW,
//    sum of squares: plain loops (the compiler vectorises them) with f64 where the oracle
//    accumulates in f64; reductions are split into fixed chunks summed in chunk order, never by
//    thread, for the same determinism.
#define NAPI_VERSION 8
#include <node_api.h>

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "common.h"
#include "napi_util.h"
#if defined(LN_X86)
#include <immintrin.h>
#endif

void ln_train_register(napi_env env, napi_value exports);
void ln_train_quant_register(napi_env env, napi_value exports);  // napi_ops.c: the frozen-weight entry points

// ---------------------------------------------------------------- N-API helpers (napi_util.h)

#define TFAIL(msg)                         \
  do {                                     \
    napi_throw_error(env, "NATIVE", msg);  \
    return NULL;                           \
  } while (0)

#define F32(i, var, lenvar, nullable) \
  if (!ln_typed(env, argv[i], napi_float32_array, (void **)&var, &lenvar, nullable)) return NULL
#define I32(i, var, lenvar) \
  if (!ln_typed(env, argv[i], napi_int32_array, (void **)&var, &lenvar, 0)) return NULL

// ---------------------------------------------------------------- per-thread scratch

#define T_MAX_THREADS 256
static float *t_scratch[T_MAX_THREADS];
static size_t t_scratch_n[T_MAX_THREADS];

static float *thread_scratch(int ith, size_t floats) {
  if (floats > t_scratch_n[ith]) {
    ln_aligned_free(t_scratch[ith]);
    t_scratch[ith] = (float *)ln_aligned_alloc(floats * sizeof(float));
    t_scratch_n[ith] = t_scratch[ith] ? floats : 0;
  }
  return t_scratch[ith];
}

// ---------------------------------------------------------------- gemm

#define MR 8
#define NR 48
#define KC 128

typedef struct {
  float *C;
  const float *A, *B;
  int64_t M, N, K, ldc, lda, ldb;
  int ta, tb;
  float alpha;
  int64_t mc, nc, tiles_n, ntiles;
  _Atomic int64_t next;
  _Atomic int failed;
} gemm_ctx;

// Ap[kk*MR + r] = alpha · A(i0 + r, p0 + kk) for r < mr, 0 for the padding rows
static void pack_a(float *Ap, const gemm_ctx *c, int64_t i0, int mr, int64_t p0, int64_t kc) {
  for (int64_t kk = 0; kk < kc; kk++) {
    float *d = Ap + kk * MR;
    int64_t k = p0 + kk;
    if (c->ta) {
      const float *s = c->A + k * c->lda + i0;
      for (int r = 0; r < mr; r++) d[r] = c->alpha * s[r];
    } else {
      const float *s = c->A + i0 * c->lda + k;
      for (int r = 0; r < mr; r++) d[r] = c->alpha * s[r * c->lda];
    }
    for (int r = mr; r < MR; r++) d[r] = 0;
  }
}

// Bp[kk*NR + j] = B(p0 + kk, j0 + j) for j < nr, 0 for the padding columns
static void pack_b(float *Bp, const gemm_ctx *c, int64_t j0, int nr, int64_t p0, int64_t kc) {
  if (!c->tb) {
    for (int64_t kk = 0; kk < kc; kk++) {
      float *d = Bp + kk * NR;
      memcpy(d, c->B + (p0 + kk) * c->ldb + j0, (size_t)nr * sizeof(float));
      for (int j = nr; j < NR; j++) d[j] = 0;
    }
  } else {
    for (int j = 0; j < nr; j++) {
      const float *s = c->B + (j0 + j) * c->ldb + p0;
      for (int64_t kk = 0; kk < kc; kk++) Bp[kk * NR + j] = s[kk];
    }
    for (int j = nr; j < NR; j++)
      for (int64_t kk = 0; kk < kc; kk++) Bp[kk * NR + j] = 0;
  }
}

// C (mr <= 8 rows, nr <= 48 columns) += Ap (kc, 8) · Bp (kc, 48)
static void ukr_scalar(int64_t kc, const float *Ap, const float *Bp, float *C, int64_t ldc, int mr, int nr) {
  float acc[MR][NR];
  memset(acc, 0, sizeof acc);
  for (int64_t k = 0; k < kc; k++)
    for (int r = 0; r < MR; r++) {
      const float a = Ap[k * MR + r];
      for (int j = 0; j < NR; j++) acc[r][j] += a * Bp[k * NR + j];
    }
  for (int r = 0; r < mr; r++)
    for (int j = 0; j < nr; j++) C[r * ldc + j] += acc[r][j];
}

#if defined(LN_X86)
// 8 rows x NV vectors of 16 columns: 8·NV accumulators in registers (the loops have constant
// bounds and are fully unrolled); the last vector's columns beyond nr are masked off. The 2- and
// 1-vector variants serve the last panel of a row when N is not a multiple of 48 (N = 64 or 256
// would otherwise waste 2/3 of a panel's FMAs on padding).
#define DEFINE_UKR(NV)                                                                                                   \
  __attribute__((target("avx512f"))) static void ukr_avx512_##NV(int64_t kc, const float *Ap, const float *Bp, float *C, \
                                                                 int64_t ldc, int mr, int nr) {                          \
    __m512 acc[MR][NV];                                                                                                  \
    _Pragma("GCC unroll 8") for (int r = 0; r < MR; r++) _Pragma("GCC unroll 3") for (int v = 0; v < NV; v++) acc[r][v] = \
        _mm512_setzero_ps();                                                                                             \
    for (int64_t k = 0; k < kc; k++) {                                                                                   \
      __m512 b[NV];                                                                                                      \
      _Pragma("GCC unroll 3") for (int v = 0; v < NV; v++) b[v] = _mm512_load_ps(Bp + 16 * v);                          \
      _Pragma("GCC unroll 8") for (int r = 0; r < MR; r++) {                                                             \
        const __m512 a = _mm512_set1_ps(Ap[r]);                                                                          \
        _Pragma("GCC unroll 3") for (int v = 0; v < NV; v++) acc[r][v] = _mm512_fmadd_ps(a, b[v], acc[r][v]);            \
      }                                                                                                                  \
      Ap += MR;                                                                                                          \
      Bp += NR;                                                                                                          \
    }                                                                                                                    \
    __mmask16 m[NV];                                                                                                     \
    _Pragma("GCC unroll 3") for (int v = 0; v < NV; v++) {                                                               \
      const int left = nr - 16 * v;                                                                                      \
      m[v] = left >= 16 ? (__mmask16)0xffff : left <= 0 ? (__mmask16)0 : (__mmask16)((1u << left) - 1);                  \
    }                                                                                                                    \
    _Pragma("GCC unroll 8") for (int r = 0; r < MR; r++) {                                                               \
      if (r >= mr) break;                                                                                                \
      float *o = C + r * ldc;                                                                                            \
      _Pragma("GCC unroll 3") for (int v = 0; v < NV; v++)                                                               \
          _mm512_mask_storeu_ps(o + 16 * v, m[v], _mm512_add_ps(_mm512_maskz_loadu_ps(m[v], o + 16 * v), acc[r][v]));   \
    }                                                                                                                    \
  }
DEFINE_UKR(1)
DEFINE_UKR(2)
DEFINE_UKR(3)

static void ukr_avx512(int64_t kc, const float *Ap, const float *Bp, float *C, int64_t ldc, int mr, int nr) {
  if (nr > 32) ukr_avx512_3(kc, Ap, Bp, C, ldc, mr, nr);
  else if (nr > 16) ukr_avx512_2(kc, Ap, Bp, C, ldc, mr, nr);
  else ukr_avx512_1(kc, Ap, Bp, C, ldc, mr, nr);
}
static int have_avx512 = -1;
#endif

typedef void (*ukr_fn)(int64_t, const float *, const float *, float *, int64_t, int, int);
static ukr_fn pick_ukr(void) {
#if defined(LN_X86)
  if (have_avx512 < 0) have_avx512 = __builtin_cpu_supports("avx512f") ? 1 : 0;
  if (have_avx512) return ukr_avx512;
#endif
  return ukr_scalar;
}

static void gemm_task(void *p, int ith, int nth) {
  (void)nth;
  gemm_ctx *c = (gemm_ctx *)p;
  const ukr_fn ukr = pick_ukr();
  float *Ap = NULL, *Bp = NULL;
  for (;;) {
    int64_t t = atomic_fetch_add_explicit(&c->next, 1, memory_order_relaxed);
    if (t >= c->ntiles) break;
    if (!Ap) {
      float *s = thread_scratch(ith, (size_t)(c->mc + MR) * KC + (size_t)(c->nc + NR) * KC);
      if (!s) {
        atomic_store(&c->failed, 1);
        // keep taking tiles so the job ends; the caller reports the failure
        continue;
      }
      Ap = s;
      Bp = s + (size_t)(c->mc + MR) * KC;
    }
    const int64_t i0 = (t / c->tiles_n) * c->mc, j0 = (t % c->tiles_n) * c->nc;
    const int64_t i1 = i0 + c->mc < c->M ? i0 + c->mc : c->M, j1 = j0 + c->nc < c->N ? j0 + c->nc : c->N;
    for (int64_t p0 = 0; p0 < c->K; p0 += KC) {
      const int64_t kc = p0 + KC < c->K ? KC : c->K - p0;
      for (int64_t i = i0; i < i1; i += MR) pack_a(Ap + (i - i0) * KC, c, i, (int)(i + MR < i1 ? MR : i1 - i), p0, kc);
      for (int64_t j = j0; j < j1; j += NR) {
        const int nr = (int)(j + NR < j1 ? NR : j1 - j);
        pack_b(Bp, c, j, nr, p0, kc);
        for (int64_t i = i0; i < i1; i += MR)
          ukr(kc, Ap + (i - i0) * KC, Bp, c->C + i * c->ldc + j, c->ldc, (int)(i + MR < i1 ? MR : i1 - i), nr);
      }
    }
  }
}

static void gemm_plan(gemm_ctx *c, int nth) {
  // Tiles: up to 256 rows (the packed A slice, 256 x KC floats = 128 KB, stays in L2 while every
  // 48-column B panel (24 KB, L1) of the tile streams past it; tall tiles pack each B panel
  // fewer times) by up to 192 columns; narrower, then shorter, while that leaves fewer than
  // 3 tiles per thread (dynamic hand-out evens out a descheduled thread on a shared machine).
  c->mc = c->M < 256 ? (c->M + MR - 1) / MR * MR : 256;
  c->nc = 192;
  const int64_t want = nth > 1 ? 3 * nth : 1;
  for (;;) {
    int64_t tiles = ((c->M + c->mc - 1) / c->mc) * ((c->N + c->nc - 1) / c->nc);
    if (tiles >= want || (c->nc == NR && c->mc <= MR * 4)) break;
    if (c->nc > NR) c->nc -= NR;
    else c->mc = (c->mc / 2 + MR - 1) / MR * MR;
  }
  c->tiles_n = (c->N + c->nc - 1) / c->nc;
  c->ntiles = ((c->M + c->mc - 1) / c->mc) * c->tiles_n;
  atomic_init(&c->next, 0);
  atomic_init(&c->failed, 0);
}

// One gemm on the calling thread only (inside a pool task; ith picks the packing scratch).
static int gemm_serial(float *C, int64_t ldc, const float *A, int64_t lda, int ta, const float *B, int64_t ldb, int tb, int64_t M, int64_t N, int64_t K, float alpha, int ith) {
  gemm_ctx c = {.C = C, .A = A, .B = B, .M = M, .N = N, .K = K, .ldc = ldc, .lda = lda, .ldb = ldb, .ta = ta, .tb = tb, .alpha = alpha};
  gemm_plan(&c, 1);
  gemm_task(&c, ith, 1);
  return !atomic_load(&c.failed);
}

// gemm_serial for train_quant.c (the input gradient through a frozen quantized weight)
int ln_train_gemm_serial(float *C, int64_t ldc, const float *A, int64_t lda, int ta, const float *B, int64_t ldb, int tb, int64_t M, int64_t N, int64_t K, float alpha, int ith);
int ln_train_gemm_serial(float *C, int64_t ldc, const float *A, int64_t lda, int ta, const float *B, int64_t ldb, int tb, int64_t M, int64_t N, int64_t K, float alpha, int ith) {
  return gemm_serial(C, ldc, A, lda, ta, B, ldb, tb, M, N, K, alpha, ith);
}

// gemm(C, ldc, A, lda, transA, B, ldb, transB, M, N, K, alpha): C (M, N) += alpha · op(A) · op(B)
static napi_value js_gemm(napi_env env, napi_callback_info info) {
  napi_value argv[12];
  if (!ln_args(env, info, 12, argv)) return NULL;
  float *C;
  const float *A, *B;
  size_t cn, an, bn;
  F32(0, C, cn, 0);
  F32(2, A, an, 0);
  F32(5, B, bn, 0);
  const int64_t ldc = ln_i64(env, argv[1]), lda = ln_i64(env, argv[3]), ldb = ln_i64(env, argv[6]);
  const int ta = ln_i64(env, argv[4]) != 0, tb = ln_i64(env, argv[7]) != 0;
  const int64_t M = ln_i64(env, argv[8]), N = ln_i64(env, argv[9]), K = ln_i64(env, argv[10]);
  const float alpha = (float)ln_f64(env, argv[11]);
  const int64_t LIM = (int64_t)1 << 31;  // keeps every index product below 2^62
  if (M < 0 || N < 0 || K < 0 || M >= LIM || N >= LIM || K >= LIM || ldc >= LIM || lda >= LIM || ldb >= LIM) TFAIL("gemm: size out of range");
  if (M == 0 || N == 0 || K == 0) return NULL;
  // op(A) is (M, K): stored (M, K) or, transposed, (K, M); likewise op(B) (K, N)
  const int64_t ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
  if (ldc < N || lda < ac || ldb < bc) TFAIL("gemm: a leading dimension is smaller than its row");
  if ((size_t)((M - 1) * ldc + N) > cn || (size_t)((ar - 1) * lda + ac) > an || (size_t)((br - 1) * ldb + bc) > bn)
    TFAIL("gemm: an operand is too short for its shape");
  gemm_ctx c = {.C = C, .A = A, .B = B, .M = M, .N = N, .K = K, .ldc = ldc, .lda = lda, .ldb = ldb, .ta = ta, .tb = tb, .alpha = alpha};
  const int nth = ln_pool_threads();
  gemm_plan(&c, nth);
  // below ~2 M multiply-adds the dispatch costs more than a second thread gains
  if (c.ntiles == 1 || nth == 1 || M * N * K < ((int64_t)1 << 21)) gemm_task(&c, 0, 1);
  else ln_pool_run(gemm_task, &c);
  if (atomic_load(&c.failed)) TFAIL("gemm: out of memory");
  return NULL;
}

// ---------------------------------------------------------------- chunked parallel loops

// fn(ctx, begin, end) over [0, n) in chunks of `chunk` (the chunk bounds never depend on threads)
typedef void (*range_fn)(void *ctx, int64_t chunk_index, int64_t begin, int64_t end);
typedef struct {
  range_fn fn;
  void *ctx;
  int64_t n, chunk, nchunks;
  _Atomic int64_t next;
} range_ctx;

static void range_task(void *p, int ith, int nth) {
  (void)ith;
  (void)nth;
  range_ctx *r = (range_ctx *)p;
  for (;;) {
    int64_t i = atomic_fetch_add_explicit(&r->next, 1, memory_order_relaxed);
    if (i >= r->nchunks) break;
    int64_t b = i * r->chunk, e = b + r->chunk < r->n ? b + r->chunk : r->n;
    r->fn(r->ctx, i, b, e);
  }
}

// Small jobs (`work`, in element-operations, below SERIAL_WORK) run on the caller: a dispatch costs
// microseconds, and far more when a worker is descheduled on a busy machine. The chunks are the
// same either way, so is the result.
#define SERIAL_WORK ((int64_t)1 << 18)

static void parallel_range(range_fn fn, void *ctx, int64_t n, int64_t chunk, int64_t work) {
  range_ctx r = {.fn = fn, .ctx = ctx, .n = n, .chunk = chunk, .nchunks = (n + chunk - 1) / chunk};
  atomic_init(&r.next, 0);
  if (r.nchunks <= 1 || ln_pool_threads() == 1 || work < SERIAL_WORK) {
    for (int64_t i = 0; i < r.nchunks; i++) {
      int64_t b = i * chunk, e = b + chunk < n ? b + chunk : n;
      fn(ctx, i, b, e);
    }
    return;
  }
  ln_pool_run(range_task, &r);
}

// ---------------------------------------------------------------- cross-entropy

typedef struct {
  const float *logits;
  const int32_t *targets;
  float *dlogits;
  int64_t vocab;
  double scale;
  double *loss;  // per row (NaN-free; 0 for ignored rows)
} ce_ctx;

// Per row: max, e_i = expf(z_i - max) once (f32 exp, within an ulp), their sum in f64,
// lse = max + log(sum); dlogits += (scale / sum) · e_i. The oracle evaluates exp in f64 twice;
// the results agree to a few f32 ulps (the loss to ~1e-7 absolute per row).
static void ce_rows(void *p, int64_t ci, int64_t t0, int64_t t1) {
  (void)ci;
  ce_ctx *c = (ce_ctx *)p;
  const int64_t V = c->vocab;
  float *e = (float *)malloc((size_t)V * sizeof(float));
  for (int64_t t = t0; t < t1; t++) {
    const int32_t y = c->targets[t];
    c->loss[t] = 0;
    if (y < 0) continue;
    const float *z = c->logits + t * V;
    float mx = -INFINITY;
    for (int64_t i = 0; i < V; i++) mx = z[i] > mx ? z[i] : mx;
    double s = 0;
    if (e) {
      for (int64_t i = 0; i < V; i++) e[i] = expf(z[i] - mx);
      for (int64_t i = 0; i < V; i++) s += e[i];
    } else {  // no scratch: recompute instead
      for (int64_t i = 0; i < V; i++) s += expf(z[i] - mx);
    }
    const double lse = (double)mx + log(s);
    c->loss[t] = lse - (double)z[y];
    if (c->dlogits) {
      float *d = c->dlogits + t * V;
      const float k = (float)(c->scale / s);
      if (e)
        for (int64_t i = 0; i < V; i++) d[i] += k * e[i];
      else
        for (int64_t i = 0; i < V; i++) d[i] += k * expf(z[i] - mx);
      d[y] -= (float)c->scale;
    }
  }
  free(e);
}

// crossEntropy(logits, targets: Int32Array, T, vocab, dlogits | null, scale) -> [sum, count]
static napi_value js_cross_entropy(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  if (!ln_args(env, info, 6, argv)) return NULL;
  const float *logits;
  float *dl;
  const int32_t *tg;
  size_t ln, tn, dn;
  F32(0, logits, ln, 0);
  I32(1, tg, tn);
  F32(4, dl, dn, 1);
  const int64_t T = ln_i64(env, argv[2]), V = ln_i64(env, argv[3]);
  const double scale = ln_f64(env, argv[5]);
  if (T < 0 || V <= 0 || ln < (size_t)(T * V) || tn < (size_t)T || (dl && dn < (size_t)(T * V))) TFAIL("crossEntropy: bad shapes");
  for (int64_t t = 0; t < T; t++)
    if (tg[t] >= V) TFAIL("crossEntropy: target id outside the vocabulary");
  double *loss = (double *)malloc((size_t)(T > 0 ? T : 1) * sizeof(double));
  if (!loss) TFAIL("out of memory");
  ce_ctx c = {.logits = logits, .targets = tg, .dlogits = dl, .vocab = V, .scale = scale, .loss = loss};
  parallel_range(ce_rows, &c, T, 4, T * V * 4);
  double sum = 0;
  int64_t count = 0;
  for (int64_t t = 0; t < T; t++)
    if (tg[t] >= 0) {
      sum += loss[t];
      count++;
    }
  free(loss);
  napi_value r, a, b;
  napi_create_array_with_length(env, 2, &r);
  napi_create_double(env, sum, &a);
  napi_create_double(env, (double)count, &b);
  napi_set_element(env, r, 0, a);
  napi_set_element(env, r, 1, b);
  return r;
}

// ---------------------------------------------------------------- rmsnorm backward

// dx_j += s g_j dy_j - (s³/dim) x_j Σ dy_i g_i x_i;  dg_i += Σ_t dy_i x_i s (f64, as the oracle)
typedef struct {
  float *dx;
  const float *dy, *x, *g;
  int64_t dim;
  double eps;
  double *dg_part;  // (chunks, dim) or NULL
} rms_ctx;

#define RMS_CHUNK 16

static void rms_rows(void *p, int64_t ci, int64_t t0, int64_t t1) {
  rms_ctx *c = (rms_ctx *)p;
  const int64_t D = c->dim;
  double *dg = c->dg_part ? c->dg_part + ci * D : NULL;
  if (dg)
    for (int64_t i = 0; i < D; i++) dg[i] = 0;
  for (int64_t t = t0; t < t1; t++) {
    const float *x = c->x + t * D, *dy = c->dy + t * D;
    double ss = 0;
    for (int64_t i = 0; i < D; i++) ss += (double)x[i] * x[i];
    const double s = 1 / sqrt(ss / (double)D + c->eps);
    if (dg)
      for (int64_t i = 0; i < D; i++) dg[i] += (double)dy[i] * x[i] * s;
    if (c->dx) {
      double dot = 0;
      for (int64_t i = 0; i < D; i++) dot += (double)dy[i] * c->g[i] * x[i];
      const double k = s * s * s * dot / (double)D;
      float *dx = c->dx + t * D;
      for (int64_t i = 0; i < D; i++) dx[i] += (float)(s * c->g[i] * dy[i] - k * x[i]);
    }
  }
}

// rmsnormBackward(dx | null, dg | null, dy, x, g, T, dim, eps)
static napi_value js_rmsnorm_backward(napi_env env, napi_callback_info info) {
  napi_value argv[8];
  if (!ln_args(env, info, 8, argv)) return NULL;
  float *dx, *dg;
  const float *dy, *x, *g;
  size_t dxn, dgn, dyn, xn, gn;
  F32(0, dx, dxn, 1);
  F32(1, dg, dgn, 1);
  F32(2, dy, dyn, 0);
  F32(3, x, xn, 0);
  F32(4, g, gn, 0);
  const int64_t T = ln_i64(env, argv[5]), D = ln_i64(env, argv[6]);
  const double eps = ln_f64(env, argv[7]);
  const size_t TD = (size_t)(T * D);
  if (T < 0 || D <= 0 || dyn < TD || xn < TD || gn < (size_t)D || (dx && dxn < TD) || (dg && dgn < (size_t)D)) TFAIL("rmsnormBackward: bad shapes");
  const int64_t nchunks = (T + RMS_CHUNK - 1) / RMS_CHUNK;
  double *part = NULL;
  if (dg && nchunks > 0) {
    part = (double *)malloc((size_t)nchunks * (size_t)D * sizeof(double));
    if (!part) TFAIL("out of memory");
  }
  rms_ctx c = {.dx = dx, .dy = dy, .x = x, .g = g, .dim = D, .eps = eps, .dg_part = part};
  parallel_range(rms_rows, &c, T, RMS_CHUNK, T * D * 4);
  if (part) {
    for (int64_t i = 0; i < D; i++) {
      double s = 0;
      for (int64_t ci = 0; ci < nchunks; ci++) s += part[ci * D + i];
      dg[i] += (float)s;
    }
    free(part);
  }
  return NULL;
}

// ---------------------------------------------------------------- swiglu / rope / embed backward

typedef struct {
  float *dgate, *dup;
  const float *dy, *gate, *up;
} swi_ctx;

static void swi_range(void *p, int64_t ci, int64_t b, int64_t e) {
  (void)ci;
  swi_ctx *c = (swi_ctx *)p;
  // f32 (expf is within an ulp; the oracle's f64 result rounded to f32 differs by a few ulps)
  for (int64_t i = b; i < e; i++) {
    const float g = c->gate[i], sig = 1.0f / (1.0f + expf(-g)), dy = c->dy[i];
    c->dgate[i] += dy * c->up[i] * sig * (1.0f + g * (1.0f - sig));
    c->dup[i] += dy * g * sig;
  }
}

// swigluBackward(dgate, dup, dy, gate, up, n)
static napi_value js_swiglu_backward(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  if (!ln_args(env, info, 6, argv)) return NULL;
  float *dgate, *dup;
  const float *dy, *gate, *up;
  size_t n1, n2, n3, n4, n5;
  F32(0, dgate, n1, 0);
  F32(1, dup, n2, 0);
  F32(2, dy, n3, 0);
  F32(3, gate, n4, 0);
  F32(4, up, n5, 0);
  const int64_t n = ln_i64(env, argv[5]);
  if (n < 0 || n1 < (size_t)n || n2 < (size_t)n || n3 < (size_t)n || n4 < (size_t)n || n5 < (size_t)n) TFAIL("swigluBackward: bad shapes");
  swi_ctx c = {.dgate = dgate, .dup = dup, .dy = dy, .gate = gate, .up = up};
  parallel_range(swi_range, &c, n, 16384, n * 8);
  return NULL;
}

// ropeBackward(dx, T, nHeads, headDim, pos, invFreq): rotation by the opposite angle
static napi_value js_rope_backward(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  if (!ln_args(env, info, 6, argv)) return NULL;
  float *x;
  const int32_t *pos;
  const float *inv;
  size_t xn, pn, fn;
  F32(0, x, xn, 0);
  I32(4, pos, pn);
  F32(5, inv, fn, 0);
  const int64_t T = ln_i64(env, argv[1]), nh = ln_i64(env, argv[2]), hd = ln_i64(env, argv[3]);
  if (T < 0 || nh <= 0 || hd <= 0 || (hd & 1) || xn < (size_t)(T * nh * hd) || pn < (size_t)T || fn < (size_t)(hd / 2)) TFAIL("ropeBackward: bad shapes");
  const int64_t half = hd / 2;
  for (int64_t t = 0; t < T; t++)
    for (int64_t i = 0; i < half; i++) {
      const double ang = (double)pos[t] * (double)inv[i], c = cos(ang), s = sin(ang);
      for (int64_t h = 0; h < nh; h++) {
        float *v = x + (t * nh + h) * hd + 2 * i;
        const double a = v[0], b = v[1];
        v[0] = (float)(a * c + b * s);
        v[1] = (float)(-a * s + b * c);
      }
    }
  return NULL;
}

// embedBackward(dW, dy, ids: Int32Array, cols): dW row ids[t] += dy row t, in t order
static napi_value js_embed_backward(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!ln_args(env, info, 4, argv)) return NULL;
  float *dW;
  const float *dy;
  const int32_t *ids;
  size_t wn, yn, n;
  F32(0, dW, wn, 0);
  F32(1, dy, yn, 0);
  I32(2, ids, n);
  const int64_t cols = ln_i64(env, argv[3]);
  if (cols <= 0 || yn < n * (size_t)cols) TFAIL("embedBackward: bad shapes");
  for (size_t t = 0; t < n; t++)
    if (ids[t] < 0 || ((size_t)ids[t] + 1) * (size_t)cols > wn) TFAIL("embedBackward: token id outside the table");
  for (size_t t = 0; t < n; t++) {
    float *o = dW + (size_t)ids[t] * cols;
    const float *s = dy + t * cols;
    for (int64_t c = 0; c < cols; c++) o[c] += s[c];
  }
  return NULL;
}

// ---------------------------------------------------------------- attention softmax backward

// For the per-head attention backward (the products run through gemm): rows t of S (T, n) hold
// q·k scores of keys 0 .. pos0+t (the rest is ignored), dP (T, n) holds dy·v. In place:
//   S <- P = softmax(scale·S) over the causal keys (f32 scores, f64 softmax as the oracle), 0 after
//   dP <- scale · P ∘ (dP - Σ_p P_p dP_p), 0 after
typedef struct {
  float *S, *dP;
  int64_t n, pos0;
  float scale;
} asb_ctx;

static void asb_rows(void *p, int64_t ci, int64_t t0, int64_t t1) {
  (void)ci;
  asb_ctx *c = (asb_ctx *)p;
  for (int64_t t = t0; t < t1; t++) {
    float *S = c->S + t * c->n, *dP = c->dP + t * c->n;
    const int64_t m = c->pos0 + t + 1;
    float mx = -INFINITY;
    for (int64_t q = 0; q < m; q++) {
      S[q] = S[q] * c->scale;
      mx = S[q] > mx ? S[q] : mx;
    }
    double sum = 0;
    for (int64_t q = 0; q < m; q++) sum += exp((double)S[q] - mx);
    double dot = 0;
    for (int64_t q = 0; q < m; q++) {
      const double pq = exp((double)S[q] - mx) / sum;
      S[q] = (float)pq;
      dot += pq * dP[q];
    }
    for (int64_t q = 0; q < m; q++) dP[q] = (float)((double)S[q] * ((double)dP[q] - dot) * c->scale);
    for (int64_t q = m; q < c->n; q++) S[q] = dP[q] = 0;
  }
}

// attnSoftmaxBackward(S, dP, T, n, pos0, scale)
static napi_value js_attn_softmax_backward(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  if (!ln_args(env, info, 6, argv)) return NULL;
  float *S, *dP;
  size_t sn, pn;
  F32(0, S, sn, 0);
  F32(1, dP, pn, 0);
  const int64_t T = ln_i64(env, argv[2]), n = ln_i64(env, argv[3]), pos0 = ln_i64(env, argv[4]);
  const float scale = (float)ln_f64(env, argv[5]);
  if (T < 0 || pos0 < 0 || n < pos0 + T || sn < (size_t)(T * n) || pn < (size_t)(T * n)) TFAIL("attnSoftmaxBackward: bad shapes");
  asb_ctx c = {.S = S, .dP = dP, .n = n, .pos0 = pos0, .scale = scale};
  parallel_range(asb_rows, &c, T, 8, T * n * 4);
  return NULL;
}

// ---------------------------------------------------------------- attention backward

// The whole causal attention backward in one call: one task per KV group g (its query heads, in
// order, are the only writers of dk, dv rows of g and of their own dq columns, so tasks never
// share an output); per head, on the task's thread, with gemm_serial and asb_rows:
//   S = Q Kᵀ, dP = dY Vᵀ, P / dS (asb_rows), dV += Pᵀ dY, dQ += dS K, dK += dSᵀ Q.
// Query rows go in blocks of ATT_ROWS (the causal mask hides keys after each block's last row).
// The same products in the same order at any thread count.
#define ATT_ROWS 64

typedef struct {
  float *dq, *dk, *dv;
  const float *dy, *q, *k, *v;
  int64_t pos0, T, nh, nkv, hd;
  float scale;
  _Atomic int64_t next;
  _Atomic int failed;
} attb_ctx;

static void attb_task(void *p, int ith, int nth) {
  (void)nth;
  attb_ctx *c = (attb_ctx *)p;
  const int64_t T = c->T, n = c->pos0 + c->T, hd = c->hd, qRow = c->nh * hd, kvRow = c->nkv * hd, group = c->nh / c->nkv;
  for (;;) {
    const int64_t g = atomic_fetch_add_explicit(&c->next, 1, memory_order_relaxed);
    if (g >= c->nkv) break;
    float *S = (float *)ln_aligned_alloc((size_t)T * (size_t)n * 2 * sizeof(float));  // (T, n) x 2
    if (!S) {
      atomic_store(&c->failed, 1);
      continue;
    }
    float *dP = S + (size_t)T * (size_t)n;
    const float *Kg = c->k + g * hd, *Vg = c->v + g * hd;
    int ok = 1;
    for (int64_t h = g * group; h < (g + 1) * group && ok; h++) {
      const float *Qh = c->q + h * hd, *dYh = c->dy + h * hd;
      // causal: query rows [t0, t0 + rows) see keys 0 .. pos0 + t0 + rows - 1 only, so blocks of
      // ATT_ROWS rows skip most of the masked upper triangle; S, dP hold (rows, m), row stride m
      for (int64_t t0 = 0; t0 < T && ok; t0 += ATT_ROWS) {
        const int64_t rows = t0 + ATT_ROWS < T ? ATT_ROWS : T - t0, m = c->pos0 + t0 + rows;
        const float *Qb = Qh + t0 * qRow, *dYb = dYh + t0 * qRow;
        memset(S, 0, (size_t)rows * (size_t)m * sizeof(float));
        memset(dP, 0, (size_t)rows * (size_t)m * sizeof(float));
        ok &= gemm_serial(S, m, Qb, qRow, 0, Kg, kvRow, 1, rows, m, hd, 1, ith);    // Q Kᵀ
        ok &= gemm_serial(dP, m, dYb, qRow, 0, Vg, kvRow, 1, rows, m, hd, 1, ith);  // dY Vᵀ
        asb_ctx a = {.S = S, .dP = dP, .n = m, .pos0 = c->pos0 + t0, .scale = c->scale};
        asb_rows(&a, 0, 0, rows);
        ok &= gemm_serial(c->dv + g * hd, kvRow, S, m, 1, dYb, qRow, 0, m, hd, rows, 1, ith);         // dV += Pᵀ dY
        ok &= gemm_serial(c->dq + t0 * qRow + h * hd, qRow, dP, m, 0, Kg, kvRow, 0, rows, hd, m, 1, ith);  // dQ += dS K
        ok &= gemm_serial(c->dk + g * hd, kvRow, dP, m, 1, Qb, qRow, 0, m, hd, rows, 1, ith);         // dK += dSᵀ Q
      }
    }
    if (!ok) atomic_store(&c->failed, 1);
    ln_aligned_free(S);
  }
}

// attentionBackward(dq, dk, dv, dy, q, k, v, pos0, T, nHeads, nKvHeads, headDim)
static napi_value js_attention_backward(napi_env env, napi_callback_info info) {
  napi_value argv[12];
  if (!ln_args(env, info, 12, argv)) return NULL;
  float *dq, *dk, *dv;
  const float *dy, *q, *k, *v;
  size_t n0, n1, n2, n3, n4, n5, n6;
  F32(0, dq, n0, 0);
  F32(1, dk, n1, 0);
  F32(2, dv, n2, 0);
  F32(3, dy, n3, 0);
  F32(4, q, n4, 0);
  F32(5, k, n5, 0);
  F32(6, v, n6, 0);
  const int64_t pos0 = ln_i64(env, argv[7]), T = ln_i64(env, argv[8]), nh = ln_i64(env, argv[9]), nkv = ln_i64(env, argv[10]), hd = ln_i64(env, argv[11]);
  if (pos0 < 0 || T < 0 || nh <= 0 || nkv <= 0 || hd <= 0 || nh % nkv != 0) TFAIL("attentionBackward: bad head counts");
  const size_t qn = (size_t)(T * nh * hd), kvn = (size_t)((pos0 + T) * nkv * hd);
  if (n0 < qn || n3 < qn || n4 < qn || n1 < kvn || n2 < kvn || n5 < kvn || n6 < kvn) TFAIL("attentionBackward: bad shapes");
  if (T == 0) return NULL;
  attb_ctx c = {.dq = dq, .dk = dk, .dv = dv, .dy = dy, .q = q, .k = k, .v = v, .pos0 = pos0, .T = T, .nh = nh, .nkv = nkv, .hd = hd, .scale = (float)(1 / sqrt((double)hd))};
  atomic_init(&c.next, 0);
  atomic_init(&c.failed, 0);
  if (nkv == 1 || ln_pool_threads() == 1) attb_task(&c, 0, 1);
  else ln_pool_run(attb_task, &c);
  if (atomic_load(&c.failed)) TFAIL("attentionBackward: out of memory");
  return NULL;
}

// ---------------------------------------------------------------- AdamW, sum of squares, accumulate

typedef struct {
  float *param, *m, *v;
  const float *grad;
  float lr, b1, b2, eps, wd, ibc1, ibc2, gs;
} adamw_ctx;

#if defined(LN_X86)
// 16 lanes at a time over [b, e); returns where the scalar tail starts
__attribute__((target("avx512f"))) static int64_t adamw_avx512(const adamw_ctx *c, int64_t b, int64_t e) {
  const __m512 lr = _mm512_set1_ps(c->lr), b1 = _mm512_set1_ps(c->b1), b2 = _mm512_set1_ps(c->b2), a1 = _mm512_set1_ps(1 - c->b1),
               a2 = _mm512_set1_ps(1 - c->b2), eps = _mm512_set1_ps(c->eps), wd = _mm512_set1_ps(c->wd), ibc1 = _mm512_set1_ps(c->ibc1),
               ibc2 = _mm512_set1_ps(c->ibc2), gs = _mm512_set1_ps(c->gs);
  int64_t i = b;
  for (; i + 16 <= e; i += 16) {
    const __m512 g = _mm512_mul_ps(_mm512_loadu_ps(c->grad + i), gs);
    const __m512 mi = _mm512_add_ps(_mm512_mul_ps(b1, _mm512_loadu_ps(c->m + i)), _mm512_mul_ps(a1, g));
    const __m512 vi = _mm512_add_ps(_mm512_mul_ps(b2, _mm512_loadu_ps(c->v + i)), _mm512_mul_ps(_mm512_mul_ps(a2, g), g));
    _mm512_storeu_ps(c->m + i, mi);
    _mm512_storeu_ps(c->v + i, vi);
    const __m512 pp = _mm512_loadu_ps(c->param + i);
    const __m512 upd = _mm512_add_ps(_mm512_div_ps(_mm512_mul_ps(mi, ibc1), _mm512_add_ps(_mm512_sqrt_ps(_mm512_mul_ps(vi, ibc2)), eps)), _mm512_mul_ps(wd, pp));
    _mm512_storeu_ps(c->param + i, _mm512_sub_ps(pp, _mm512_mul_ps(lr, upd)));
  }
  return i;
}
#endif

// f32 arithmetic (the oracle uses f64): each result is within a few f32 ulps of the oracle's, and
// in f32 the loop vectorises to 16 lanes, so the step runs at memory speed (7 f32 streams).
static void adamw_range(void *p, int64_t ci, int64_t b, int64_t e) {
  (void)ci;
  const adamw_ctx *c = (const adamw_ctx *)p;
  float *restrict param = c->param, *restrict m = c->m, *restrict v = c->v;
  const float *restrict grad = c->grad;
  const float lr = c->lr, b1 = c->b1, b2 = c->b2, a1 = 1 - c->b1, a2 = 1 - c->b2, eps = c->eps, wd = c->wd, ibc1 = c->ibc1, ibc2 = c->ibc2, gs = c->gs;
  int64_t i = b;
#if defined(LN_X86)
  if (pick_ukr() == ukr_avx512) i = adamw_avx512(c, b, e);
#endif
  for (; i < e; i++) {
    const float g = grad[i] * gs;
    const float mi = b1 * m[i] + a1 * g;
    const float vi = b2 * v[i] + a2 * g * g;
    m[i] = mi;
    v[i] = vi;
    const float pp = param[i];
    param[i] = pp - lr * ((mi * ibc1) / (sqrtf(vi * ibc2) + eps) + wd * pp);
  }
}

// adamwStep(param, grad, m, v, n, lr, beta1, beta2, eps, weightDecay, step, gradScale)
static napi_value js_adamw_step(napi_env env, napi_callback_info info) {
  napi_value argv[12];
  if (!ln_args(env, info, 12, argv)) return NULL;
  float *param, *m, *v;
  const float *grad;
  size_t pn, gn, mn, vn;
  F32(0, param, pn, 0);
  F32(1, grad, gn, 0);
  F32(2, m, mn, 0);
  F32(3, v, vn, 0);
  const int64_t n = ln_i64(env, argv[4]);
  if (n < 0 || pn < (size_t)n || gn < (size_t)n || mn < (size_t)n || vn < (size_t)n) TFAIL("adamwStep: bad shapes");
  adamw_ctx c = {.param = param, .m = m, .v = v, .grad = grad};
  const double b1 = ln_f64(env, argv[6]), b2 = ln_f64(env, argv[7]), step = ln_f64(env, argv[10]);
  c.lr = (float)ln_f64(env, argv[5]);
  c.b1 = (float)b1;
  c.b2 = (float)b2;
  c.eps = (float)ln_f64(env, argv[8]);
  c.wd = (float)ln_f64(env, argv[9]);
  c.gs = (float)ln_f64(env, argv[11]);
  c.ibc1 = (float)(1 / (1 - pow(b1, step)));  // bias corrections in f64, then rounded once
  c.ibc2 = (float)(1 / (1 - pow(b2, step)));
  parallel_range(adamw_range, &c, n, 65536, n * 4);
  return NULL;
}

typedef struct {
  const float *x;
  double *part;
} ss_ctx;

static void ss_range(void *p, int64_t ci, int64_t b, int64_t e) {
  ss_ctx *c = (ss_ctx *)p;
  double s = 0;
  for (int64_t i = b; i < e; i++) s += (double)c->x[i] * c->x[i];
  c->part[ci] = s;
}

#define SS_CHUNK 65536

// sumSquares(x, n) -> number (f64; chunks of 64 Ki summed in order)
static napi_value js_sum_squares(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!ln_args(env, info, 2, argv)) return NULL;
  const float *x;
  size_t xn;
  F32(0, x, xn, 0);
  const int64_t n = ln_i64(env, argv[1]);
  if (n < 0 || xn < (size_t)n) TFAIL("sumSquares: bad shapes");
  const int64_t nchunks = (n + SS_CHUNK - 1) / SS_CHUNK;
  double *part = (double *)calloc((size_t)(nchunks > 0 ? nchunks : 1), sizeof(double));
  if (!part) TFAIL("out of memory");
  ss_ctx c = {.x = x, .part = part};
  parallel_range(ss_range, &c, n, SS_CHUNK, n);
  double s = 0;
  for (int64_t i = 0; i < nchunks; i++) s += part[i];
  free(part);
  napi_value r;
  napi_create_double(env, s, &r);
  return r;
}

typedef struct {
  float *dst;
  const float *src;
} acc_ctx;

static void acc_range(void *p, int64_t ci, int64_t b, int64_t e) {
  (void)ci;
  acc_ctx *c = (acc_ctx *)p;
  for (int64_t i = b; i < e; i++) c->dst[i] += c->src[i];
}

// accumulate(dst, src, n): dst += src
static napi_value js_accumulate(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!ln_args(env, info, 3, argv)) return NULL;
  float *dst;
  const float *src;
  size_t dn, sn;
  F32(0, dst, dn, 0);
  F32(1, src, sn, 0);
  const int64_t n = ln_i64(env, argv[2]);
  if (n < 0 || dn < (size_t)n || sn < (size_t)n) TFAIL("accumulate: bad shapes");
  acc_ctx c = {.dst = dst, .src = src};
  parallel_range(acc_range, &c, n, 65536, n);
  return NULL;
}

// ---------------------------------------------------------------- registration

void ln_train_register(napi_env env, napi_value exports) {
  static const struct {
    const char *name;
    napi_callback fn;
  } fns[] = {
      {"gemm", js_gemm},
      {"crossEntropy", js_cross_entropy},
      {"rmsnormBackward", js_rmsnorm_backward},
      {"swigluBackward", js_swiglu_backward},
      {"ropeBackward", js_rope_backward},
      {"embedBackward", js_embed_backward},
      {"attnSoftmaxBackward", js_attn_softmax_backward},
      {"attentionBackward", js_attention_backward},
      {"adamwStep", js_adamw_step},
      {"sumSquares", js_sum_squares},
      {"accumulate", js_accumulate},
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f);
    napi_set_named_property(env, exports, fns[i].name, f);
  }
  ln_train_quant_register(env, exports);  // napi_ops.c: train_quant.c's entry points
}
