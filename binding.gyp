{
  "targets": [
    {
      "target_name": "llama_native",
      "sources": [
        "src/backend/native/c/addon.c",
        "src/backend/native/c/napi_ops.c",
        "src/backend/native/c/state.c",
        "src/backend/native/c/weights.c",
        "src/backend/native/c/matmul.c",
        "src/backend/native/c/ops.c",
        "src/backend/native/c/attention.c",
        "src/backend/native/c/mmap.c",
        "src/backend/native/c/probes.c",
        "src/backend/native/c/pool.c",
        "src/backend/native/c/k_scalar.c",
        "src/backend/native/c/k_avx2.c",
        "src/backend/native/c/k_avx512.c",
        "src/backend/native/c/k_neon.c",
        "src/backend/native/c/train_ops.c",
        "src/backend/native/c/train_quant.c",
        "src/backend/native/c/logit_stats.c",
        "src/backend/native/c/gemm_panel.c",
        "src/backend/native/c/attention_prefill.c"
      ],
      "cflags!": ["-O0", "-O1", "-O2", "-Os"],
      "cflags_c": ["-std=gnu11", "-O3", "-fvisibility=hidden", "-Wall", "-Wno-unused-function", "-Wno-unknown-pragmas"],
      "libraries": ["-lm", "-lpthread"],
      "xcode_settings": {
        "OTHER_CFLAGS": ["-std=gnu11", "-O3"],
        "GCC_OPTIMIZATION_LEVEL": "3"
      }
    }
  ]
}
