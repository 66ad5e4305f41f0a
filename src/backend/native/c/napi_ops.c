// N-API entry points of the compute ops: argument parsing and length checks (a wrong call must
// throw, never corrupt memory), then the plain-C compute (matmul.c, ops.c, attention.c,
// probes.c). Exported by addon.c.
#include "napi_glue.h"

// ---------------------------------------------------------------- matmul (matmul.c)

// matmul(out: Float32Array, x: Float32Array, w, T)
napi_value js_matmul(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!ln_args(env, info, 4, argv)) return NULL;
  size_t on, xn;
  float *out = typed(env, argv[0], napi_float32_array, &on);
  if (!out) return NULL;
  const float *x = typed(env, argv[1], napi_float32_array, &xn);
  if (!x) return NULL;
  weight_handle *h = ln_get_weight(env, argv[2]);
  if (!h) return NULL;
  int64_t T = ln_i64(env, argv[3]);
  if (T <= 0) return NULL;
  if (xn < (size_t)(T * h->w.cols) || on < (size_t)(T * h->w.rows)) FAIL("matmul: x or out is too short for T x cols / T x rows");
  if (!ln_run_matmul(&h->w, x, out, T)) FAIL("out of memory");
  return NULL;
}

// ---------------------------------------------------------------- elementwise ops (ops.c)

// embed(out, w, ids: Int32Array)
napi_value js_embed(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!ln_args(env, info, 3, argv)) return NULL;
  size_t on, n;
  float *out = typed(env, argv[0], napi_float32_array, &on);
  if (!out) return NULL;
  weight_handle *h = ln_get_weight(env, argv[1]);
  if (!h) return NULL;
  const int32_t *ids = typed(env, argv[2], napi_int32_array, &n);
  if (!ids) return NULL;
  const ln_weight *w = &h->w;
  if (on < n * (size_t)w->cols) FAIL("embed: out is too short");
  if (ln_embed(out, w, ids, n) >= 0) FAIL("embed: token id outside the vocabulary");
  return NULL;
}

// rmsnorm(out, x, g, T, dim, eps)
napi_value js_rmsnorm(napi_env env, napi_callback_info info) {
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
  ln_rmsnorm(out, x, g, T, dim, eps);
  return NULL;
}

// rope(x, T, nHeads, headDim, pos: Int32Array, invFreq: Float32Array)
napi_value js_rope(napi_env env, napi_callback_info info) {
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
  ln_rope(x, T, nh, hd, pos, inv);
  return NULL;
}

// swiglu(out, gate, up, n)
napi_value js_swiglu(napi_env env, napi_callback_info info) {
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
  ln_swiglu(out, g, u, n);
  return NULL;
}

// add(out, a, b, n)
napi_value js_add(napi_env env, napi_callback_info info) {
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
  ln_add(out, a, b, n);
  return NULL;
}

// softmax(x, rows, cols)
napi_value js_softmax(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!ln_args(env, info, 3, argv)) return NULL;
  size_t xn;
  float *x = typed(env, argv[0], napi_float32_array, &xn);
  if (!x) return NULL;
  int64_t rows = ln_i64(env, argv[1]), cols = ln_i64(env, argv[2]);
  if (rows < 0 || cols <= 0 || xn < (size_t)(rows * cols)) FAIL("softmax: bad shapes");
  ln_softmax(x, rows, cols);
  return NULL;
}

// argmax(x, n)
napi_value js_argmax(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!ln_args(env, info, 2, argv)) return NULL;
  size_t xn;
  const float *x = typed(env, argv[0], napi_float32_array, &xn);
  if (!x) return NULL;
  int64_t n = ln_i64(env, argv[1]);
  if (n <= 0 || xn < (size_t)n) FAIL("argmax: bad length");
  return num(env, (double)ln_argmax(x, n));
}

// logitStats(x: Float32Array, rows, cols, outMax: Float32Array, outArgmax: Int32Array, outLogSum: Float64Array)
napi_value js_logit_stats(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  if (!ln_args(env, info, 6, argv)) return NULL;
  size_t xn, mn, an, ln;
  const float *x = typed(env, argv[0], napi_float32_array, &xn);
  if (!x) return NULL;
  int64_t rows = ln_i64(env, argv[1]), cols = ln_i64(env, argv[2]);
  float *mx = typed(env, argv[3], napi_float32_array, &mn);
  if (!mx) return NULL;
  int32_t *am = typed(env, argv[4], napi_int32_array, &an);
  if (!am) return NULL;
  double *ls = typed(env, argv[5], napi_float64_array, &ln);
  if (!ls) return NULL;
  if (rows < 0 || cols <= 0 || cols > INT32_MAX || xn < (size_t)(rows * cols) || mn < (size_t)rows || an < (size_t)rows || ln < (size_t)rows) FAIL("logitStats: bad shapes");
  ln_logit_stats(x, rows, cols, mx, am, ls);
  return NULL;
}

// ---------------------------------------------------------------- KV cache and attention (attention.c)

// kvStore(kLayer, vLayer, f16: boolean(number), rowLen, pos0, T, k, v)
napi_value js_kv_store(napi_env env, napi_callback_info info) {
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
  ln_kv_store(kc, vc, f16, rowLen, pos0, T, k, v);
  return NULL;
}

// attention(out, q, kLayer, vLayer, f16, pos0, T, nHeads, nKvHeads, headDim)
napi_value js_attention(napi_env env, napi_callback_info info) {
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
  int64_t pos0 = ln_i64(env, argv[5]), T = ln_i64(env, argv[6]), nh = ln_i64(env, argv[7]), nkv = ln_i64(env, argv[8]), hd = ln_i64(env, argv[9]);
  if (T <= 0 || pos0 < 0 || nh <= 0 || nkv <= 0 || hd <= 0 || nh % nkv != 0) FAIL("attention: bad shapes");
  size_t qsz = (size_t)(T * nh * hd), cache_need = (size_t)((pos0 + T) * nkv * hd);
  if (on < qsz || qn < qsz || kn < cache_need || vn < cache_need) FAIL("attention: arrays too short (positions past the cache?)");
  if (!ln_attention(out, q, kc, vc, f16, pos0, T, nh, nkv, hd)) FAIL("out of memory");
  return NULL;
}

// ---------------------------------------------------------------- machine limits (probes.c)

// readBandwidth(bytes, reps) -> Float64Array of GB/s per repetition (all pool threads stream a
// share of one buffer much larger than the caches, as decode streams the weights)
napi_value js_read_bandwidth(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!ln_args(env, info, 2, argv)) return NULL;
  int64_t bytes = ln_i64(env, argv[0]), reps = ln_i64(env, argv[1]);
  if (bytes < (1 << 20) || reps <= 0 || reps > 1000) FAIL("readBandwidth: bytes >= 1 MiB and 1..1000 repetitions");
  napi_value arr, ab;
  double *res;
  napi_create_arraybuffer(env, (size_t)reps * 8, (void **)&res, &ab);
  napi_create_typedarray(env, napi_float64_array, (size_t)reps, ab, 0, &arr);
  if (!ln_read_bandwidth(bytes, reps, res)) FAIL("out of memory");
  return arr;
}

// fmaPeak(iters) -> GFLOP/s of all pool threads running independent FMAs (the pp ceiling)
napi_value js_fma_peak(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!ln_args(env, info, 1, argv)) return NULL;
  int64_t iters = ln_i64(env, argv[0]);
  if (iters <= 0) FAIL("fmaPeak: iterations must be positive");
  return num(env, ln_fma_peak(iters));
}

// ---------------------------------------------------------------- frozen training weights (train_quant.c)
// Registered with the training kernels (train_ops.c's ln_train_register calls
// ln_train_quant_register): they need the weight handle, which only this glue file and addon.c see.

// out (T, rows) = x · Wᵀ (forward) or dx (T, cols) += dy · W (backward) through a frozen weight in
// its stored type, on F32 activations and W's decoded values; 0 when out of memory
int ln_frozen_matmul(const ln_weight *w, float *out, const float *in, int64_t T, int forward);
void ln_train_quant_register(napi_env env, napi_value exports);

// shared argument checks: (out, in, w, T) with out (T, outCols), in (T, inCols)
static weight_handle *frozen_args(napi_env env, napi_callback_info info, int forward, float **out, const float **in, int64_t *T) {
  napi_value argv[4];
  if (!ln_args(env, info, 4, argv)) return NULL;
  size_t on, inn;
  *out = typed(env, argv[0], napi_float32_array, &on);
  if (!*out) return NULL;
  *in = typed(env, argv[1], napi_float32_array, &inn);
  if (!*in) return NULL;
  weight_handle *h = ln_get_weight(env, argv[2]);
  if (!h) return NULL;
  *T = ln_i64(env, argv[3]);
  const ln_weight *w = &h->w;
  const int64_t oc = forward ? w->rows : w->cols, ic = forward ? w->cols : w->rows;
  if (*T < 0 || *T >= ((int64_t)1 << 31)) FAIL("frozen matmul: T out of range");
  if (on < (size_t)(*T * oc) || inn < (size_t)(*T * ic)) FAIL("frozen matmul: an activation is too short for its T x width");
  if (w->cols % 32 != 0 && w->type != LN_F32 && w->type != LN_F16 && w->type != LN_BF16) FAIL("frozen matmul: a quantized row is not whole blocks");
  return h;
}

// matmulInputBackward(dx: Float32Array, dy: Float32Array, w, T): dx (T, cols) += dy (T, rows) · W
static napi_value js_matmul_input_backward(napi_env env, napi_callback_info info) {
  float *dx;
  const float *dy;
  int64_t T;
  weight_handle *h = frozen_args(env, info, 0, &dx, &dy, &T);
  if (!h || T == 0) return NULL;
  if (!ln_frozen_matmul(&h->w, dx, dy, T, 0)) FAIL("matmulInputBackward: out of memory");
  return NULL;
}

// matmulFrozen(out: Float32Array, x: Float32Array, w, T): out (T, rows) = x (T, cols) · Wᵀ
static napi_value js_matmul_frozen(napi_env env, napi_callback_info info) {
  float *out;
  const float *x;
  int64_t T;
  weight_handle *h = frozen_args(env, info, 1, &out, &x, &T);
  if (!h || T == 0) return NULL;
  if (!ln_frozen_matmul(&h->w, out, x, T, 1)) FAIL("matmulFrozen: out of memory");
  return NULL;
}

void ln_train_quant_register(napi_env env, napi_value exports) {
  napi_value f;
  napi_create_function(env, "matmulInputBackward", NAPI_AUTO_LENGTH, js_matmul_input_backward, NULL, &f);
  napi_set_named_property(env, exports, "matmulInputBackward", f);
  napi_create_function(env, "matmulFrozen", NAPI_AUTO_LENGTH, js_matmul_frozen, NULL, &f);
  napi_set_named_property(env, exports, "matmulFrozen", f);
}
