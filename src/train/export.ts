// Export of a training checkpoint (or the live model) to files the rest of the project — and
// llama.cpp / transformers — load:
//   - GGUF v3, arch "llama", tensors F32 / F16 / Q8_0 (norm gains always F32, as llama.cpp keeps
//     1-D tensors), tokenizer embedded in the metadata;
//   - Hugging Face: model.safetensors (F32, q/k rows permuted to HF's rotate-half order),
//     config.json, tokenizer.model (+ tokenizer_config.json).
// Names come from the one table in src/model/names.ts; keys from src/formats/gguf-keys.ts.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { LlamaError } from '../errors.js';
import type { LlamaConfig } from '../model/config.js';
import type { LlamaWeights } from '../model/weights.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { SpmTokenizer } from '../tokenizer/spm.js';
import { tokenizerToGgufMetadata, writeSentencePieceModel } from '../tokenizer/load.js';
import { flattenWeights, nameOf, permuteToHf } from '../model/names.js';
import { writeGguf, gv } from '../formats/gguf-write.js';
import { ATTENTION, GENERAL, GGML_QUANT_VERSION, LLM, LlamaFileType, ROPE } from '../formats/gguf-keys.js';
import type { GgufValue } from '../formats/gguf.js';
import { writeSafetensors } from '../formats/safetensors.js';
import { DType, dtypeInfo } from '../tensor/dtype.js';
import { asF32, makeTensor, type HostTensor } from '../tensor/tensor.js';
import { quantize } from '../tensor/quant.js';
import { writeAtomic } from './data.js';
import { loadCheckpoint } from './checkpoint.js';
import { snapshotWeights } from './params.js';
import { checkpointTokenizer } from './trainer.js';

export type ExportType = 'f32' | 'f16' | 'q8_0';
export const EXPORT_TYPES: readonly ExportType[] = ['f32', 'f16', 'q8_0'];

const DTYPE_OF: Record<ExportType, DType> = { f32: DType.F32, f16: DType.F16, q8_0: DType.Q8_0 };
const FILE_TYPE_OF: Record<ExportType, LlamaFileType> = { f32: LlamaFileType.ALL_F32, f16: LlamaFileType.MOSTLY_F16, q8_0: LlamaFileType.MOSTLY_Q8_0 };

export interface TrainedModel {
  readonly config: LlamaConfig;
  readonly weights: LlamaWeights;
  readonly tokenizer: Tokenizer;
  readonly step: number;
}

export function trainedModelFromCheckpoint(path: string): TrainedModel {
  const { header, tensors } = loadCheckpoint(path);
  const weights = snapshotWeights(tensors.map((t) => ({ name: t.name, key: t.values, values: t.values, shape: t.shape, decay: false })), header.modelConfig.nLayers);
  return { config: header.modelConfig, weights, tokenizer: checkpointTokenizer(header.tokenizer), step: header.step };
}

function convert(t: HostTensor, type: ExportType, name: string): HostTensor {
  // 1-D tensors (norm gains) stay F32; a matrix whose rows do not fill whole blocks falls back to F16
  if (t.shape.length !== 2 || type === 'f32') return makeTensor(name, DType.F32, t.shape, t.data);
  let dt = DTYPE_OF[type];
  const cols = t.shape[1]!;
  if (cols % dtypeInfo(dt).blockSize !== 0) dt = DType.F16;
  return makeTensor(name, dt, t.shape, quantize(dt, asF32(t), cols));
}

export function ggufMetadata(m: TrainedModel, type: ExportType, name: string): Map<string, GgufValue> {
  const c = m.config;
  const a = 'llama';
  const meta = new Map<string, GgufValue>();
  meta.set(GENERAL.ARCHITECTURE, gv.str(a));
  meta.set(GENERAL.NAME, gv.str(name));
  meta.set(GENERAL.FILE_TYPE, gv.u32(FILE_TYPE_OF[type]));
  if (type === 'q8_0') meta.set(GENERAL.QUANTIZATION_VERSION, gv.u32(GGML_QUANT_VERSION));
  meta.set(LLM.CONTEXT_LENGTH(a), gv.u32(c.contextLength));
  meta.set(LLM.EMBEDDING_LENGTH(a), gv.u32(c.dim));
  meta.set(LLM.BLOCK_COUNT(a), gv.u32(c.nLayers));
  meta.set(LLM.FEED_FORWARD_LENGTH(a), gv.u32(c.ffnDim));
  meta.set(LLM.VOCAB_SIZE(a), gv.u32(c.vocabSize));
  meta.set(ATTENTION.HEAD_COUNT(a), gv.u32(c.nHeads));
  meta.set(ATTENTION.HEAD_COUNT_KV(a), gv.u32(c.nKvHeads));
  meta.set(ATTENTION.LAYERNORM_RMS_EPS(a), gv.f32(c.normEps));
  meta.set(ROPE.DIMENSION_COUNT(a), gv.u32(c.headDim));
  meta.set(ROPE.FREQ_BASE(a), gv.f32(c.ropeTheta));
  for (const [k, v] of tokenizerToGgufMetadata(m.tokenizer)) meta.set(k, v);
  return meta;
}

/** Write a GGUF file; returns its size in bytes. */
export function exportGguf(path: string, m: TrainedModel, type: ExportType, name = 'llama-ts trained model'): number {
  if (!EXPORT_TYPES.includes(type)) throw new LlamaError('USAGE', `export type must be one of ${EXPORT_TYPES.join(', ')}, got ${type}`);
  const tensors = flattenWeights(m.weights).map(({ key, layer, tensor }) => convert(tensor, type, nameOf('gguf', key, layer)!));
  return writeGguf(path, { metadata: ggufMetadata(m, type, name), tensors });
}

/** Write a Hugging Face folder: model.safetensors, config.json, tokenizer.model, tokenizer_config.json. */
export function exportHf(dir: string, m: TrainedModel): void {
  const c = m.config;
  mkdirSync(dir, { recursive: true });
  const tensors = flattenWeights(m.weights).map(({ key, layer, tensor }) => {
    const name = nameOf('hf', key, layer);
    if (name === undefined) throw new LlamaError('INTERNAL', `no Hugging Face name for ${tensor.name}`);
    if (key === 'wq') return permuteToHf(tensor, c.nHeads, name);
    if (key === 'wk') return permuteToHf(tensor, c.nKvHeads, name);
    return makeTensor(name, tensor.type, tensor.shape, tensor.data);
  });
  writeSafetensors(join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  const tok = m.tokenizer;
  const config = {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: c.dim,
    intermediate_size: c.ffnDim,
    num_attention_heads: c.nHeads,
    num_key_value_heads: c.nKvHeads,
    num_hidden_layers: c.nLayers,
    head_dim: c.headDim,
    vocab_size: c.vocabSize,
    max_position_embeddings: c.contextLength,
    rms_norm_eps: c.normEps,
    rope_theta: c.ropeTheta,
    hidden_act: 'silu',
    tie_word_embeddings: c.tiedEmbeddings,
    attention_bias: false,
    mlp_bias: false,
    bos_token_id: tok.bosId,
    eos_token_id: tok.eosId,
    torch_dtype: 'float32',
  };
  writeAtomic(join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  if (!(tok instanceof SpmTokenizer)) throw new LlamaError('TOKENIZER_INVALID', 'only SentencePiece tokenizers can be exported as tokenizer.model');
  writeAtomic(join(dir, 'tokenizer.model'), writeSentencePieceModel(tok.model));
  const piece = (id: number | undefined) => (id === undefined ? null : tok.piece(id));
  writeAtomic(join(dir, 'tokenizer_config.json'), JSON.stringify({
    tokenizer_class: 'LlamaTokenizer',
    add_bos_token: tok.addBosDefault,
    add_eos_token: false,
    bos_token: piece(tok.bosId),
    eos_token: piece(tok.eosId),
    unk_token: piece(tok.model.unkId >= 0 ? tok.model.unkId : undefined),
    model_max_length: c.contextLength,
  }, null, 2) + '\n');
}
