// N-API argument helpers shared by the addon's entry points (addon.c, napi_ops.c, train_ops.c).
// Each reports a JS exception and returns 0 / NULL on bad input; callers just return NULL.
#ifndef LN_NAPI_UTIL_H
#define LN_NAPI_UTIL_H
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>

// Fetch exactly n arguments (fewer is a TypeError-like "too few arguments").
static inline int ln_args(napi_env env, napi_callback_info info, size_t n, napi_value *argv) {
  size_t argc = n;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return 0;
  if (argc < n) {
    napi_throw_error(env, "NATIVE", "too few arguments");
    return 0;
  }
  return 1;
}

// A typed array of the wanted element type -> data pointer and element count. With allow_null, a JS
// null gives data = NULL, len = 0. Zero-length arrays may have no backing store: data is then a
// valid dummy pointer so callers need no special case.
static inline int ln_typed(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *len, int allow_null) {
  napi_valuetype vt;
  if (allow_null && napi_typeof(env, v, &vt) == napi_ok && vt == napi_null) {
    *data = NULL;
    *len = 0;
    return 1;
  }
  bool is;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) {
    napi_throw_type_error(env, "NATIVE", "expected a typed array");
    return 0;
  }
  napi_typedarray_type t;
  if (napi_get_typedarray_info(env, v, &t, len, data, NULL, NULL) != napi_ok) return 0;
  if (t != want) {
    napi_throw_type_error(env, "NATIVE", "typed array of the wrong element type");
    return 0;
  }
  if (*data == NULL) *data = (void *)"";
  return 1;
}

static inline int64_t ln_i64(napi_env env, napi_value v) {
  int64_t r = 0;
  napi_get_value_int64(env, v, &r);
  return r;
}

static inline double ln_f64(napi_env env, napi_value v) {
  double r = 0;
  napi_get_value_double(env, v, &r);
  return r;
}
#endif
