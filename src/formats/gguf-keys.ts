// Every GGUF metadata key and tensor name the project uses, in one table, spelled as llama.cpp's
// gguf-py `constants.py` spells them (Keys.General, Keys.LLM, Keys.Attention, Keys.Rope,
// Keys.Tokenizer, MODEL_TENSOR / TENSOR_NAMES). No other module writes these strings by hand.

/** GGUF file constants. */
export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_DEFAULT_ALIGNMENT = 32;
/** The version this project writes. */
export const GGUF_VERSION = 3;

/** `general.*` keys. */
export const GENERAL = {
  ARCHITECTURE: 'general.architecture',
  QUANTIZATION_VERSION: 'general.quantization_version',
  ALIGNMENT: 'general.alignment',
  FILE_TYPE: 'general.file_type',
  TYPE: 'general.type',
  NAME: 'general.name',
  AUTHOR: 'general.author',
  VERSION: 'general.version',
  ORGANIZATION: 'general.organization',
  FINETUNE: 'general.finetune',
  BASENAME: 'general.basename',
  DESCRIPTION: 'general.description',
  QUANTIZED_BY: 'general.quantized_by',
  SIZE_LABEL: 'general.size_label',
  LICENSE: 'general.license',
  LICENSE_NAME: 'general.license.name',
  LICENSE_LINK: 'general.license.link',
  URL: 'general.url',
  DOI: 'general.doi',
  UUID: 'general.uuid',
  REPO_URL: 'general.repo_url',
  SOURCE_URL: 'general.source.url',
  SOURCE_HF_REPO: 'general.source.huggingface.repository',
  TAGS: 'general.tags',
  LANGUAGES: 'general.languages',
  DATASETS: 'general.datasets',
} as const;

/** llama.cpp gguf-split keys: every part has them; the first part also holds all other metadata. */
export const SPLIT = {
  /** u16, 0-based index of this part */
  NO: 'split.no',
  /** u16, number of parts */
  COUNT: 'split.count',
  /** i32, tensors over all parts */
  TENSORS_COUNT: 'split.tensors.count',
} as const;

/** Per-architecture hyper-parameter keys: `{arch}.…` (arch is "llama" for every model here). */
export const LLM = {
  VOCAB_SIZE: (arch: string) => `${arch}.vocab_size`,
  CONTEXT_LENGTH: (arch: string) => `${arch}.context_length`,
  EMBEDDING_LENGTH: (arch: string) => `${arch}.embedding_length`,
  BLOCK_COUNT: (arch: string) => `${arch}.block_count`,
  FEED_FORWARD_LENGTH: (arch: string) => `${arch}.feed_forward_length`,
  USE_PARALLEL_RESIDUAL: (arch: string) => `${arch}.use_parallel_residual`,
  TENSOR_DATA_LAYOUT: (arch: string) => `${arch}.tensor_data_layout`,
  EXPERT_COUNT: (arch: string) => `${arch}.expert_count`,
  EXPERT_USED_COUNT: (arch: string) => `${arch}.expert_used_count`,
} as const;

export const ATTENTION = {
  HEAD_COUNT: (arch: string) => `${arch}.attention.head_count`,
  HEAD_COUNT_KV: (arch: string) => `${arch}.attention.head_count_kv`,
  MAX_ALIBI_BIAS: (arch: string) => `${arch}.attention.max_alibi_bias`,
  CLAMP_KQV: (arch: string) => `${arch}.attention.clamp_kqv`,
  KEY_LENGTH: (arch: string) => `${arch}.attention.key_length`,
  VALUE_LENGTH: (arch: string) => `${arch}.attention.value_length`,
  LAYERNORM_EPS: (arch: string) => `${arch}.attention.layer_norm_epsilon`,
  LAYERNORM_RMS_EPS: (arch: string) => `${arch}.attention.layer_norm_rms_epsilon`,
  CAUSAL: (arch: string) => `${arch}.attention.causal`,
  SLIDING_WINDOW: (arch: string) => `${arch}.attention.sliding_window`,
} as const;

export const ROPE = {
  DIMENSION_COUNT: (arch: string) => `${arch}.rope.dimension_count`,
  FREQ_BASE: (arch: string) => `${arch}.rope.freq_base`,
  SCALING_TYPE: (arch: string) => `${arch}.rope.scaling.type`,
  SCALING_FACTOR: (arch: string) => `${arch}.rope.scaling.factor`,
  SCALING_ATTN_FACTOR: (arch: string) => `${arch}.rope.scaling.attn_factor`,
  SCALING_ORIG_CTX_LEN: (arch: string) => `${arch}.rope.scaling.original_context_length`,
  SCALING_FINETUNED: (arch: string) => `${arch}.rope.scaling.finetuned`,
} as const;

/** `tokenizer.*` keys. (`seperator` is misspelled in gguf-py too; the spelling is the key.) */
export const TOKENIZER = {
  MODEL: 'tokenizer.ggml.model',
  PRE: 'tokenizer.ggml.pre',
  TOKENS: 'tokenizer.ggml.tokens',
  TOKEN_TYPE: 'tokenizer.ggml.token_type',
  TOKEN_TYPE_COUNT: 'tokenizer.ggml.token_type_count',
  SCORES: 'tokenizer.ggml.scores',
  MERGES: 'tokenizer.ggml.merges',
  BOS_ID: 'tokenizer.ggml.bos_token_id',
  EOS_ID: 'tokenizer.ggml.eos_token_id',
  EOT_ID: 'tokenizer.ggml.eot_token_id',
  EOM_ID: 'tokenizer.ggml.eom_token_id',
  UNK_ID: 'tokenizer.ggml.unknown_token_id',
  SEP_ID: 'tokenizer.ggml.seperator_token_id',
  PAD_ID: 'tokenizer.ggml.padding_token_id',
  MASK_ID: 'tokenizer.ggml.mask_token_id',
  ADD_BOS: 'tokenizer.ggml.add_bos_token',
  ADD_EOS: 'tokenizer.ggml.add_eos_token',
  ADD_PREFIX: 'tokenizer.ggml.add_space_prefix',
  REMOVE_EXTRA_WS: 'tokenizer.ggml.remove_extra_whitespaces',
  PRECOMPILED_CHARSMAP: 'tokenizer.ggml.precompiled_charsmap',
  HF_JSON: 'tokenizer.huggingface.json',
  RWKV: 'tokenizer.rwkv.world',
  CHAT_TEMPLATE: 'tokenizer.chat_template',
} as const;

/** `tokenizer.ggml.model` values relevant here. */
export const TOKENIZER_MODEL = {
  NONE: 'none',
  /** llama.cpp's older `--no-vocab` marker; llama.cpp accepts both */
  NO_VOCAB: 'no_vocab',
  SPM: 'llama',
  BPE: 'gpt2',
} as const;

/** gguf-py TokenType: values of `tokenizer.ggml.token_type`. */
export enum TokenType {
  NORMAL = 1,
  UNKNOWN = 2,
  CONTROL = 3,
  USER_DEFINED = 4,
  UNUSED = 5,
  BYTE = 6,
}

/** gguf-py LlamaFileType: values of `general.file_type`. */
export enum LlamaFileType {
  ALL_F32 = 0,
  MOSTLY_F16 = 1,
  MOSTLY_Q4_0 = 2,
  MOSTLY_Q4_1 = 3,
  MOSTLY_Q8_0 = 7,
  MOSTLY_Q5_0 = 8,
  MOSTLY_Q5_1 = 9,
  MOSTLY_Q2_K = 10,
  MOSTLY_Q3_K_S = 11,
  MOSTLY_Q3_K_M = 12,
  MOSTLY_Q3_K_L = 13,
  MOSTLY_Q4_K_S = 14,
  MOSTLY_Q4_K_M = 15,
  MOSTLY_Q5_K_S = 16,
  MOSTLY_Q5_K_M = 17,
  MOSTLY_Q6_K = 18,
  MOSTLY_BF16 = 32,
}

/** The quantization format version llama-quantize writes to `general.quantization_version`. */
export const GGML_QUANT_VERSION = 2;

/**
 * Tensor names (gguf-py TENSOR_NAMES for MODEL_ARCH.LLAMA). Per-layer names take the block index.
 * `rope_freqs` is llama.cpp's RoPE *scaling factors* tensor (Llama 3.1), not Meta's `rope.freqs`.
 */
export const TENSOR = {
  TOKEN_EMBD: 'token_embd',
  OUTPUT_NORM: 'output_norm',
  OUTPUT: 'output',
  ROPE_FREQS: 'rope_freqs',
  ATTN_NORM: (bid: number) => `blk.${bid}.attn_norm`,
  ATTN_Q: (bid: number) => `blk.${bid}.attn_q`,
  ATTN_K: (bid: number) => `blk.${bid}.attn_k`,
  ATTN_V: (bid: number) => `blk.${bid}.attn_v`,
  ATTN_QKV: (bid: number) => `blk.${bid}.attn_qkv`,
  ATTN_OUT: (bid: number) => `blk.${bid}.attn_output`,
  ATTN_ROT_EMBD: (bid: number) => `blk.${bid}.attn_rot_embd`,
  FFN_NORM: (bid: number) => `blk.${bid}.ffn_norm`,
  FFN_GATE: (bid: number) => `blk.${bid}.ffn_gate`,
  FFN_DOWN: (bid: number) => `blk.${bid}.ffn_down`,
  FFN_UP: (bid: number) => `blk.${bid}.ffn_up`,
} as const;

/** `name.weight` / `name.bias`: the suffixes GGUF tensor names carry. */
export const weightName = (base: string): string => `${base}.weight`;
export const biasName = (base: string): string => `${base}.bias`;

/** LoRA adapter files (gguf-py Keys.Adapter; llama.cpp src/llama-adapter.cpp): `general.type` = "adapter". */
export const ADAPTER = {
  GENERAL_TYPE_VALUE: 'adapter',
  TYPE: 'adapter.type',
  TYPE_LORA: 'lora',
  LORA_ALPHA: 'adapter.lora.alpha',
  /** suffixes appended to the base weight's name: `blk.0.attn_q.weight.lora_a` */
  SUFFIX_A: '.lora_a',
  SUFFIX_B: '.lora_b',
} as const;
