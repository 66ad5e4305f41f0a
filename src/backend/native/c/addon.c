// N-API glue of the native backend: module init, the EXPORT table, configuration, weight handles
// and file mappings as JS objects. The compute entry points are in napi_ops.c; the plain-C parts
// behind them (weights.c, matmul.c, ops.c, attention.c, mmap.c, probes.c, state.c) are declared in
// addon_internal.h. JS (src/backend/native/index.ts) checks shapes and types first; the glue
// re-checks every length it dereferences (a wrong call must throw, never corrupt memory). Only the
// glue files (addon.c, napi_ops.c, train_ops.c) include node_api.h.
#include <stdlib.h>
#include <sys/mman.h>
#include <string.h>

#include "napi_glue.h"

// ---------------------------------------------------------------- weights

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
    ln_mapping_unpin(h->pinned);
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
    size_t bytes = ln_weight_repacked_bytes(w);
    h->owned = ln_weight_alloc(bytes);
    if (!h->owned) {
      free(h);
      FAIL("out of memory while repacking a weight");
    }
    h->owned_bytes = bytes;
    int64_t adj;
    napi_adjust_external_memory(env, (int64_t)bytes, &adj);
    w->qs = (const uint8_t *)h->owned + ln_weight_qs_offset(w);
    w->sc = (const uint16_t *)((uint8_t *)h->owned + ln_weight_sc_offset(w));
    ln_weight_repack(w, data, src_row);
  } else {
    size_t esz = type == LN_F32 ? 4 : 2;
    w->row_bytes = src_row;
    if (in_place && ((uintptr_t)data % esz) != 0) {
      free(h);
      FAIL("a weight used in place must be aligned to its element size");
    }
    if (((uintptr_t)data % esz) != 0 || (ln_tune_copy_float && !in_place)) {
      // a misaligned view must be copied; an aligned one is copied too, into huge pages (see state.c)
      size_t bytes = src_row * (size_t)rows;
      h->owned = ln_weight_alloc(bytes);
      if (!h->owned) {
        free(h);
        FAIL("out of memory");
      }
      ln_weight_copy((uint8_t *)h->owned, data, bytes);
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
      h->pinned = ln_mapping_pin(data);
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

weight_handle *ln_get_weight(napi_env env, napi_value v) {
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
  weight_handle *h = ln_get_weight(env, argv[0]);
  if (!h) return NULL;
  weight_release(env, h);
  return NULL;
}

// ---------------------------------------------------------------- memory-mapped files (mmap.c)

static void unmap_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)data;
  ln_mapping_finalize((ln_mapping *)hint);
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
    ln_mapping *m = ln_mapping_find(data);
    if (m && m->pins == 0 && napi_detach_arraybuffer(env, ab) == napi_ok) {
      ln_mapping_unmap_early(m);
      ok = true;
    }
  }
  napi_get_boolean(env, ok, &result);
  return result;
}

// A failed external ArrayBuffer may leave an exception pending (e.g. where external buffers are not
// allowed); the callers return undefined instead, so the JS side falls back to its own memory.
static void clear_pending_exception(napi_env env) {
  bool pending;
  napi_is_exception_pending(env, &pending);
  if (pending) {
    napi_value e;
    napi_get_and_clear_last_exception(env, &e);
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
  int64_t off = ln_i64(env, argv[1]), len = ln_i64(env, argv[2]), delta;
  if (off < 0 || len <= 0) return undef;
  ln_mapping *m = ln_mapping_open(path, off, len, &delta);
  if (!m) return undef;
  napi_value ab, view;
  if (napi_create_external_arraybuffer(env, m->base, m->len, unmap_finalize, m, &ab) != napi_ok) {
    ln_mapping_discard(m);
    clear_pending_exception(env);
    return undef;
  }
  if (napi_create_typedarray(env, napi_uint8_array, (size_t)len, ab, (size_t)delta, &view) != napi_ok) return undef;
  return view;
}

// ---------------------------------------------------------------- page-backed buffers

typedef struct {
  void *base;
  size_t len;
} page_block;

static void pages_finalize(napi_env env, void *data, void *hint) {
  page_block *b = (page_block *)hint;
  (void)data;
  int64_t change;
  napi_adjust_external_memory(env, -(int64_t)b->len, &change);
  munmap(b->base, b->len);
  free(b);
}

// allocPages(bytes) -> ArrayBuffer of zeroed anonymous memory, 2 MiB aligned and marked for
// transparent huge pages, or undefined. For the KV cache: attention reads a layer's rows a whole
// token after they were last touched, and in 4 KiB pages each page of them costs a TLB miss and
// restarts the hardware prefetcher (a 110M layer's 32 positions took ~19 us after a weight
// stream, 13 in huge pages; 512 positions 270 and 200). Pages are only backed when first written,
// as with calloc.
static napi_value js_alloc_pages(napi_env env, napi_callback_info info) {
  napi_value argv[1], undef, ab;
  napi_get_undefined(env, &undef);
  if (!ln_args(env, info, 1, argv)) return NULL;
  const int64_t want = ln_i64(env, argv[0]);
  const size_t huge = (size_t)2 << 20;
  if (want <= 0 || (uint64_t)want > ((uint64_t)1 << 46)) return undef;
  const size_t len = ((size_t)want + huge - 1) / huge * huge;
  // over-map by 2 MiB and trim, so that the block starts on a huge-page boundary
  uint8_t *raw = (uint8_t *)mmap(NULL, len + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return undef;
  uint8_t *base = (uint8_t *)(((uintptr_t)raw + huge - 1) & ~(uintptr_t)(huge - 1));
  if (base > raw) munmap(raw, (size_t)(base - raw));
  if (raw + len + huge > base + len) munmap(base + len, (size_t)(raw + len + huge - (base + len)));
#ifdef MADV_HUGEPAGE
  madvise(base, len, MADV_HUGEPAGE);
#endif
  page_block *b = (page_block *)malloc(sizeof *b);
  if (!b) {
    munmap(base, len);
    return undef;
  }
  b->base = base;
  b->len = len;
  if (napi_create_external_arraybuffer(env, base, len, pages_finalize, b, &ab) != napi_ok) {
    munmap(base, len);
    free(b);
    clear_pending_exception(env);
    return undef;
  }
  int64_t change;
  napi_adjust_external_memory(env, (int64_t)len, &change);
  return ab;
}

// ---------------------------------------------------------------- configuration (state.c)

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
  napi_get_boolean(env, ln_select_isa(name), &r);
  return r;
}

static napi_value js_set_threads(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!ln_args(env, info, 1, argv)) return NULL;
  return num(env, ln_pool_set_threads((int)ln_i64(env, argv[0])));
}

// weightLayout(handle) -> { rowBytes, metaBytes, metaInRow, ownedBytes }: the layout a weight was
// loaded into (common.h), for tests and benchmarks
static napi_value js_weight_layout(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!ln_args(env, info, 1, argv)) return NULL;
  weight_handle *h = ln_get_weight(env, argv[0]);
  if (!h) return NULL;
  const ln_weight *w = &h->w;
  napi_value o, v;
  napi_create_object(env, &o);
  napi_create_double(env, (double)w->row_bytes, &v);
  napi_set_named_property(env, o, "rowBytes", v);
  napi_create_double(env, w->sc ? (double)ln_weight_meta_bytes(w) : 0.0, &v);
  napi_set_named_property(env, o, "metaBytes", v);
  napi_get_boolean(env, w->meta_in_row != 0, &v);
  napi_set_named_property(env, o, "metaInRow", v);
  napi_create_double(env, (double)h->owned_bytes, &v);
  napi_set_named_property(env, o, "ownedBytes", v);
  return o;
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
  else if (!strcmp(name, "opspar")) ln_tune_ops_par = v;
  else if (!strcmp(name, "pfnext")) ln_tune_pf_next = v;
  else if (!strcmp(name, "pfhead")) ln_tune_pf_head = v;
  else if (!strcmp(name, "copyf")) ln_tune_copy_float = v;
  else if (!strcmp(name, "guided")) ln_tune_guided = v;
  else if (!strcmp(name, "mvchunk")) ln_tune_mv_chunk = v;
  else if (!strcmp(name, "mvshort")) ln_tune_mv_short = v;
  else if (!strcmp(name, "q4kshort")) ln_tune_q4k_short = v;
  else if (!strcmp(name, "q8short")) ln_tune_q8_short = v;
  else if (!strcmp(name, "q6kshort")) ln_tune_q6k_short = v;
  else if (!strcmp(name, "ymmtail")) ln_tune_ymm_tail = v;
  else if (!strcmp(name, "outer")) ln_tune_outer = v;
  else if (!strcmp(name, "attn")) ln_tune_attn = v;
  else if (!strcmp(name, "attnahead")) ln_tune_attn_ahead = v;
  else if (!strcmp(name, "mvblock")) ln_tune_mv_block = v;
  else if (!strcmp(name, "arenamin")) ln_tune_arena_min = v;
  else if (!strcmp(name, "nr1f")) ln_tune_nr1_float = v;
  else if (!strcmp(name, "pff")) ln_tune_pf_float = v;
  else if (!strcmp(name, "q6k")) ln_tune_q6k = v;
  else if (!strcmp(name, "panel")) ln_tune_panel = v;
  else if (!strcmp(name, "attnp")) ln_tune_attn_prefill = v;
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
    ln_kernels_init();
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
  EXPORT("logitStats", js_logit_stats);
  EXPORT("kvStore", js_kv_store);
  EXPORT("attention", js_attention);
  EXPORT("readBandwidth", js_read_bandwidth);
  EXPORT("fmaPeak", js_fma_peak);
  EXPORT("setTuning", js_set_tuning);
  EXPORT("weightLayout", js_weight_layout);
  EXPORT("mmapRange", js_mmap_range);
  EXPORT("unmapRange", js_unmap_range);
  EXPORT("allocPages", js_alloc_pages);
  ln_train_register(env, exports);
  return exports;
}
