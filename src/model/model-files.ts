// What every writer of a model file shares (llama convert, llama export, the library): the GGUF
// `llama.*` hyper-parameter keys, the rope_freqs tensor that carries Llama 3.1 scaling in GGUF, and
// Hugging Face's config.json. One copy each, so a field added here (rope_scaling, key_length, ...)
// reaches every output.
import type { GgufValue } from '../formats/gguf.js';
import { ATTENTION, LLM, ROPE, TENSOR, weightName } from '../formats/gguf-keys.js';
import { gv } from '../formats/gguf-write.js';
import { DType } from '../tensor/dtype.js';
import { makeTensor, type HostTensor } from '../tensor/tensor.js';
import type { LlamaConfig } from './config.js';
import { llama3RopeFactors } from './rope-factors.js';

/** `llama.*` hyper-parameter keys for `c`, typed as gguf-py writes them, in its order. */
export function llamaGgufKeys(c: LlamaConfig): [string, GgufValue][] {
  const a = 'llama';
  const keys: [string, GgufValue][] = [
    [LLM.VOCAB_SIZE(a), gv.u32(c.vocabSize)],
    [LLM.CONTEXT_LENGTH(a), gv.u32(c.contextLength)],
    [LLM.EMBEDDING_LENGTH(a), gv.u32(c.dim)],
    [LLM.BLOCK_COUNT(a), gv.u32(c.nLayers)],
    [LLM.FEED_FORWARD_LENGTH(a), gv.u32(c.ffnDim)],
    [ROPE.DIMENSION_COUNT(a), gv.u32(c.headDim)],
    [ATTENTION.HEAD_COUNT(a), gv.u32(c.nHeads)],
    [ATTENTION.HEAD_COUNT_KV(a), gv.u32(c.nKvHeads)],
    [ATTENTION.LAYERNORM_RMS_EPS(a), gv.f32(c.normEps)],
    [ROPE.FREQ_BASE(a), gv.f32(c.ropeTheta)],
  ];
  if (c.headDim * c.nHeads !== c.dim) {
    keys.push([ATTENTION.KEY_LENGTH(a), gv.u32(c.headDim)], [ATTENTION.VALUE_LENGTH(a), gv.u32(c.headDim)]);
  }
  if (c.ropeScaling?.type === 'linear') {
    keys.push([ROPE.SCALING_TYPE(a), gv.str('linear')], [ROPE.SCALING_FACTOR(a), gv.f32(c.ropeScaling.factor)]);
  }
  return keys;
}

/** Llama 3.1 scaling as GGUF stores it (llama.cpp's converter): the rope_freqs.weight factors, or undefined. */
export function ropeFreqsTensor(c: LlamaConfig): HostTensor | undefined {
  if (c.ropeScaling?.type !== 'llama3') return undefined;
  return makeTensor(weightName(TENSOR.ROPE_FREQS), DType.F32, [c.headDim / 2], new Uint8Array(llama3RopeFactors(c.headDim, c.ropeTheta, c.ropeScaling).buffer));
}

/** HF config.json for `c`, in the form transformers' LlamaConfig.save_pretrained writes. */
export function hfConfigJson(c: LlamaConfig, dtype: DType, bosId: number | undefined, eosId: number | undefined): Record<string, unknown> {
  let ropeScaling: unknown = null;
  if (c.ropeScaling?.type === 'llama3') {
    const s = c.ropeScaling;
    ropeScaling = { factor: s.factor, high_freq_factor: s.highFreqFactor, low_freq_factor: s.lowFreqFactor, original_max_position_embeddings: s.originalContextLength, rope_type: 'llama3' };
  } else if (c.ropeScaling?.type === 'linear') {
    ropeScaling = { factor: c.ropeScaling.factor, rope_type: 'linear' };
  }
  return {
    architectures: ['LlamaForCausalLM'],
    attention_bias: false,
    attention_dropout: 0.0,
    bos_token_id: bosId ?? null,
    eos_token_id: eosId ?? null,
    head_dim: c.headDim,
    hidden_act: 'silu',
    hidden_size: c.dim,
    initializer_range: 0.02,
    intermediate_size: c.ffnDim,
    max_position_embeddings: c.contextLength,
    mlp_bias: false,
    model_type: 'llama',
    num_attention_heads: c.nHeads,
    num_hidden_layers: c.nLayers,
    num_key_value_heads: c.nKvHeads,
    pretraining_tp: 1,
    rms_norm_eps: c.normEps,
    rope_scaling: ropeScaling,
    rope_theta: c.ropeTheta,
    tie_word_embeddings: c.tiedEmbeddings,
    torch_dtype: dtype === DType.F16 ? 'float16' : dtype === DType.BF16 ? 'bfloat16' : 'float32',
    use_cache: true,
    vocab_size: c.vocabSize,
  };
}
