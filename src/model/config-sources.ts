// Map each format's hyper-parameters onto LlamaConfig: GGUF `llama.*` metadata, HF config.json,
// Meta params.json, and the llama2.c header. Validation (validateConfig) happens in the loader, after
// the config is complete.
import { LlamaError } from '../errors.js';
import { ATTENTION, GENERAL, LLM, ROPE } from '../formats/gguf-keys.js';
import type { GgufFile } from '../formats/gguf.js';
import type { Llama2cHeader } from '../formats/llama2c.js';
import { metaFfnDim, type LlamaConfig, type Llama3RopeScaling } from './config.js';

/**
 * The shortest decimal that rounds to the same float32 (what numpy prints for a float32). GGUF stores
 * eps and theta as float32, so 1e-6 reads back as 9.99999997e-07; this gives 1e-6 again, making a
 * GGUF config identical to the params.json / config.json it was converted from.
 */
export function shortestFloat32(v: number): number {
  const f = Math.fround(v);
  for (let p = 1; p <= 9; p++) {
    const d = Number(f.toPrecision(p));
    if (Math.fround(d) === f) return d;
  }
  return f;
}

/** Meta's Llama 3.1 `apply_scaling` constants (llama-models `use_scaled_rope`). */
export const LLAMA31_ROPE_SCALING: Llama3RopeScaling = { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContextLength: 8192 };

function configError(source: string, what: string): LlamaError {
  return new LlamaError('MODEL_CONFIG', `${what} (in ${source})`, { hint: 'the model\'s hyper-parameters are missing or not a LLaMA-architecture model\'s' });
}

/** The architectures this project runs (general.architecture). */
export const SUPPORTED_ARCHITECTURES = ['llama'] as const;

/** general.architecture must be present and "llama": FORMAT_UNSUPPORTED / MODEL_CONFIG otherwise, with a hint. */
export function checkGgufArchitecture(g: GgufFile): 'llama' {
  const arch = g.optString(GENERAL.ARCHITECTURE);
  if (arch === undefined) {
    throw new LlamaError('MODEL_CONFIG', `${GENERAL.ARCHITECTURE} is missing`, {
      file: g.path,
      hint: g.isVocabOnly ? 'this is a vocab-only GGUF (a tokenizer, no weights): use it with --tokenizer' : 'every GGUF model names its architecture; the file is incomplete or was not written by a model converter',
    });
  }
  if (arch !== 'llama') {
    throw new LlamaError('FORMAT_UNSUPPORTED', `${GENERAL.ARCHITECTURE} is ${JSON.stringify(arch)}; only "llama" models are supported`, {
      file: g.path,
      hint: `supported architectures: ${SUPPORTED_ARCHITECTURES.join(', ')} (LLaMA 1/2/3, Code Llama, TinyLlama and other models of that architecture)`,
    });
  }
  return arch;
}

/** Config from GGUF metadata. `vocabFromEmbedding` is token_embd's row count (the ground truth). */
export function configFromGguf(g: GgufFile, vocabFromEmbedding: number, hasOutput: boolean): LlamaConfig {
  const src = g.path;
  const arch = checkGgufArchitecture(g);
  const dim = g.getNumber(LLM.EMBEDDING_LENGTH(arch));
  const nHeads = g.getNumber(ATTENTION.HEAD_COUNT(arch));
  const nKvHeads = g.optNumber(ATTENTION.HEAD_COUNT_KV(arch)) ?? nHeads;
  const headDim = g.optNumber(ATTENTION.KEY_LENGTH(arch)) ?? g.optNumber(ROPE.DIMENSION_COUNT(arch)) ?? dim / nHeads;
  const ropeDims = g.optNumber(ROPE.DIMENSION_COUNT(arch));
  if (ropeDims !== undefined && ropeDims !== headDim) throw configError(src, `rope.dimension_count ${ropeDims} != head size ${headDim} (partial rotary is not LLaMA)`);
  const declaredVocab = g.optNumber(LLM.VOCAB_SIZE(arch));
  if (declaredVocab !== undefined && declaredVocab !== vocabFromEmbedding) {
    throw configError(src, `${LLM.VOCAB_SIZE(arch)} = ${declaredVocab} but token_embd.weight has ${vocabFromEmbedding} rows`);
  }
  let ropeScaling: LlamaConfig['ropeScaling'];
  const scalingType = g.optString(ROPE.SCALING_TYPE(arch));
  if (scalingType === 'linear') {
    const factor = g.optNumber(ROPE.SCALING_FACTOR(arch));
    if (factor === undefined) throw configError(src, 'rope.scaling.type is linear but rope.scaling.factor is missing');
    if (shortestFloat32(factor) !== 1) ropeScaling = { type: 'linear', factor: shortestFloat32(factor) };
  } else if (scalingType !== undefined && scalingType !== 'none') {
    throw new LlamaError('FORMAT_UNSUPPORTED', `rope.scaling.type "${scalingType}" is not supported (none and linear are; Llama 3.1 scaling comes as rope_freqs.weight)`, { file: src });
  }
  return {
    dim,
    nLayers: g.getNumber(LLM.BLOCK_COUNT(arch)),
    nHeads,
    nKvHeads,
    headDim,
    ffnDim: g.getNumber(LLM.FEED_FORWARD_LENGTH(arch)),
    vocabSize: vocabFromEmbedding,
    normEps: shortestFloat32(g.getNumber(ATTENTION.LAYERNORM_RMS_EPS(arch))),
    ropeTheta: shortestFloat32(g.optNumber(ROPE.FREQ_BASE(arch)) ?? 10000),
    contextLength: g.getNumber(LLM.CONTEXT_LENGTH(arch)),
    ropeScaling,
    tiedEmbeddings: !hasOutput,
  };
}

type Json = Record<string, unknown>;

function num(obj: Json, key: string, source: string, fallback?: number): number {
  const v = obj[key];
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback;
    throw configError(source, `"${key}" is missing`);
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) throw configError(source, `"${key}" must be a number, got ${JSON.stringify(v)}`);
  return v;
}

/** Config from a Hugging Face LlamaForCausalLM config.json. */
export function configFromHf(cfg: Json, source: string, hasLmHead: boolean): LlamaConfig {
  if (cfg.model_type !== undefined && cfg.model_type !== 'llama') {
    throw new LlamaError('FORMAT_UNSUPPORTED', `model_type "${String(cfg.model_type)}" is not supported (only "llama")`, { file: source });
  }
  if (cfg.hidden_act !== undefined && cfg.hidden_act !== 'silu') throw configError(source, `hidden_act "${String(cfg.hidden_act)}" is not SwiGLU's silu`);
  if (cfg.attention_bias === true || cfg.mlp_bias === true) throw configError(source, 'attention/MLP biases are not part of LLaMA');
  const dim = num(cfg, 'hidden_size', source);
  const nHeads = num(cfg, 'num_attention_heads', source);
  let ropeScaling: LlamaConfig['ropeScaling'];
  const rs = cfg.rope_scaling;
  if (rs !== undefined && rs !== null) {
    if (typeof rs !== 'object') throw configError(source, 'rope_scaling must be an object or null');
    const r = rs as Json;
    const type = r.rope_type ?? r.type;
    if (type === 'llama3') {
      ropeScaling = {
        type: 'llama3',
        factor: num(r, 'factor', source),
        lowFreqFactor: num(r, 'low_freq_factor', source),
        highFreqFactor: num(r, 'high_freq_factor', source),
        originalContextLength: num(r, 'original_max_position_embeddings', source),
      };
    } else if (type === 'linear') {
      ropeScaling = { type: 'linear', factor: num(r, 'factor', source) };
    } else if (type !== 'default') {
      throw new LlamaError('FORMAT_UNSUPPORTED', `rope_scaling type ${JSON.stringify(type)} is not supported (llama3 and linear are)`, { file: source });
    }
  }
  const tie = cfg.tie_word_embeddings;
  if (tie !== undefined && typeof tie !== 'boolean') throw configError(source, '"tie_word_embeddings" must be true or false');
  return {
    dim,
    nLayers: num(cfg, 'num_hidden_layers', source),
    nHeads,
    nKvHeads: num(cfg, 'num_key_value_heads', source, nHeads),
    headDim: num(cfg, 'head_dim', source, dim / nHeads),
    ffnDim: num(cfg, 'intermediate_size', source),
    vocabSize: num(cfg, 'vocab_size', source),
    // transformers' LlamaConfig defaults
    normEps: num(cfg, 'rms_norm_eps', source, 1e-6),
    ropeTheta: num(cfg, 'rope_theta', source, 10000),
    contextLength: num(cfg, 'max_position_embeddings', source, 2048),
    ropeScaling,
    // HF ties when asked; a missing lm_head with tie false is reported by the loader as TENSOR_MISSING.
    tiedEmbeddings: tie === true || (tie === undefined && !hasLmHead),
  };
}

/**
 * Config from Meta's params.json. `vocabFromEmbedding` resolves `vocab_size: -1` (real releases);
 * the context length is not in params.json, so it follows llama.cpp's legacy converter:
 * Llama 3 (theta 500000) 8192 (131072 with use_scaled_rope), Code Llama (theta 1e6) 16384,
 * Llama 2 (eps 1e-5) 4096, LLaMA 1 2048 — unless params.json has max_seq_len.
 * `hasOutput`: whether the checkpoint has output.weight (if not, the embeddings are tied).
 */
export function configFromMeta(p: Json, source: string, vocabFromEmbedding: number, hasOutput = true): LlamaConfig {
  const dim = num(p, 'dim', source);
  const nHeads = num(p, 'n_heads', source);
  const multipleOf = num(p, 'multiple_of', source, 256);
  const mult = p.ffn_dim_multiplier;
  if (mult !== undefined && mult !== null && typeof mult !== 'number') throw configError(source, '"ffn_dim_multiplier" must be a number');
  const vocab = num(p, 'vocab_size', source, -1);
  if (vocab !== -1 && vocab !== vocabFromEmbedding) throw configError(source, `vocab_size ${vocab} but tok_embeddings.weight has ${vocabFromEmbedding} rows`);
  const normEps = num(p, 'norm_eps', source, 1e-5);
  const ropeTheta = num(p, 'rope_theta', source, 10000);
  const scaled = p.use_scaled_rope === true;
  const contextLength = num(p, 'max_seq_len', source,
    ropeTheta === 500000 ? (scaled ? 131072 : 8192) : ropeTheta === 1000000 ? 16384 : normEps === 1e-5 ? 4096 : 2048);
  return {
    dim,
    nLayers: num(p, 'n_layers', source),
    nHeads,
    nKvHeads: num(p, 'n_kv_heads', source, nHeads),
    headDim: dim / nHeads,
    ffnDim: metaFfnDim(dim, multipleOf, mult as number | null | undefined),
    vocabSize: vocabFromEmbedding,
    normEps,
    ropeTheta,
    contextLength,
    ropeScaling: scaled ? LLAMA31_ROPE_SCALING : undefined,
    // Meta's LLaMA 1/2/3 checkpoints all carry output.weight; a checkpoint without one is read as tied
    tiedEmbeddings: !hasOutput,
  };
}

/** Config from a llama2.c header: eps 1e-5 and theta 10000 are hard-coded in run.c. */
export function configFromLlama2c(h: Llama2cHeader): LlamaConfig {
  return {
    dim: h.dim,
    nLayers: h.nLayers,
    nHeads: h.nHeads,
    nKvHeads: h.nKvHeads,
    headDim: h.dim / h.nHeads,
    ffnDim: h.hiddenDim,
    vocabSize: h.vocabSize,
    normEps: 1e-5,
    ropeTheta: 10000,
    contextLength: h.seqLen,
    ropeScaling: undefined,
    tiedEmbeddings: h.sharedClassifier,
  };
}
