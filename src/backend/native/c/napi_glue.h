// Shared by the N-API glue files (addon.c, napi_ops.c): error macros, argument helpers, the weight
// handle behind a JS external and the compute entry points addon.c exports. Glue only: the
// plain-C parts use addon_internal.h and never see node_api.h.
#ifndef LN_NAPI_GLUE_H
#define LN_NAPI_GLUE_H
#define NAPI_VERSION 8
#include <node_api.h>

#include "addon_internal.h"
#include "napi_util.h"

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
static inline void *typed(napi_env env, napi_value v, napi_typedarray_type want, size_t *len) {
  void *data;
  return ln_typed(env, v, want, &data, len, 0) ? data : NULL;
}

static inline napi_value num(napi_env env, double d) {
  napi_value v;
  napi_create_double(env, d, &v);
  return v;
}

// ---------------------------------------------------------------- weights

typedef struct {
  ln_weight w;
  void *owned;      // repacked copy (freed with the weight)
  napi_ref source;  // the caller's bytes used in place
  size_t owned_bytes;
  ln_mapping *pinned;     // the file mapping those bytes lie in (it must outlive the weight)
} weight_handle;

// the handle behind a JS external, or NULL after throwing (not a handle, or freed)
weight_handle *ln_get_weight(napi_env env, napi_value v);

// compute entry points (napi_ops.c)
napi_value js_matmul(napi_env env, napi_callback_info info);
napi_value js_embed(napi_env env, napi_callback_info info);
napi_value js_rmsnorm(napi_env env, napi_callback_info info);
napi_value js_rope(napi_env env, napi_callback_info info);
napi_value js_swiglu(napi_env env, napi_callback_info info);
napi_value js_add(napi_env env, napi_callback_info info);
napi_value js_softmax(napi_env env, napi_callback_info info);
napi_value js_logit_stats(napi_env env, napi_callback_info info);
napi_value js_argmax(napi_env env, napi_callback_info info);
napi_value js_kv_store(napi_env env, napi_callback_info info);
napi_value js_attention(napi_env env, napi_callback_info info);
napi_value js_read_bandwidth(napi_env env, napi_callback_info info);
napi_value js_fma_peak(napi_env env, napi_callback_info info);
#endif
