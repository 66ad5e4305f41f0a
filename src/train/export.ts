// Export of a training checkpoint (or the live model) to files the rest of the project — and
// llama.cpp / transformers — load:
//   - GGUF v3, arch "llama", tensors F32 / F16 / Q8_0 (norm gains always F32, as llama.cpp keeps
//     1-D tensors), tokenizer embedded in the metadata;
//   - Hugging Face: model.safetensors (F32, q/k rows permuted to HF's rotate-half order),
//     config.json, tokenizer.model (+ tokenizer_config.json).
// Names come from the one table in src/model/names.ts; the llama.* keys, rope_freqs and config.json
// from src/model/model-files.ts (shared with llama convert); files are written by formats/file-io.ts.
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
import { GENERAL, GGML_QUANT_VERSION, TOKENIZER } from '../formats/gguf-keys.js';
import { writeFileAtomic } from '../formats/file-io.js';
import { hinted } from '../formats/hints.js';
import { hfConfigJson, llamaGgufKeys, ropeFreqsTensor } from '../model/model-files.js';
import { FILE_TYPES } from '../model/quant-mix.js';
import { hfTokenizerConfig } from '../tokenizer/hf.js';
import type { GgufValue } from '../formats/gguf.js';
import { writeSafetensors } from '../formats/safetensors.js';
import { DType, dtypeInfo } from '../tensor/dtype.js';
import { asF32, makeTensor, type HostTensor } from '../tensor/tensor.js';
import { quantize } from '../tensor/quant.js';
import { loadCheckpoint } from './checkpoint.js';
import { snapshotWeights } from './params.js';
import { checkpointTokenizer } from './trainer.js';

export type ExportType = 'f32' | 'f16' | 'q8_0';
export const EXPORT_TYPES: readonly ExportType[] = ['f32', 'f16', 'q8_0'];

const DTYPE_OF: Record<ExportType, DType> = { f32: DType.F32, f16: DType.F16, q8_0: DType.Q8_0 };

export interface TrainedModel {
  readonly config: LlamaConfig;
  readonly weights: LlamaWeights;
  readonly tokenizer: Tokenizer;
  readonly step: number;
  /** Jinja chat template written as tokenizer.chat_template (GGUF), so chat front ends render the prompts the model was tuned on */
  readonly chatTemplate?: string | undefined;
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
  const meta = new Map<string, GgufValue>();
  meta.set(GENERAL.ARCHITECTURE, gv.str('llama'));
  meta.set(GENERAL.NAME, gv.str(name));
  meta.set(GENERAL.FILE_TYPE, gv.u32(FILE_TYPES[type].fileType));
  if (type === 'q8_0') meta.set(GENERAL.QUANTIZATION_VERSION, gv.u32(GGML_QUANT_VERSION));
  for (const [k, v] of llamaGgufKeys(m.config)) meta.set(k, v);
  for (const [k, v] of tokenizerToGgufMetadata(m.tokenizer)) meta.set(k, v);
  if (m.chatTemplate !== undefined) meta.set(TOKENIZER.CHAT_TEMPLATE, gv.str(m.chatTemplate));
  return meta;
}

/** Write a GGUF file; returns its size in bytes. */
export function exportGguf(path: string, m: TrainedModel, type: ExportType, name = 'llama-ts trained model'): number {
  if (!EXPORT_TYPES.includes(type)) throw new LlamaError('USAGE', `export type must be one of ${EXPORT_TYPES.join(', ')}, got ${type}`);
  const tensors = flattenWeights(m.weights).map(({ key, layer, tensor }) => convert(tensor, type, nameOf('gguf', key, layer)!));
  // Llama 3.1 scaling travels as rope_freqs.weight in GGUF (model-files.ts), as llama.cpp expects
  const ropeFreqs = m.weights.ropeFreqs ? undefined : ropeFreqsTensor(m.config);
  if (ropeFreqs) tensors.push(ropeFreqs);
  return hinted(() => writeGguf(path, { metadata: ggufMetadata(m, type, name), tensors }));
}

/** Write a Hugging Face folder: model.safetensors, config.json, tokenizer.model, tokenizer_config.json. */
export function exportHf(dir: string, m: TrainedModel): void {
  const c = m.config;
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new LlamaError('FILE_WRITE', `cannot create the output folder: ${(e as Error).message}`, { file: dir, cause: e, hint: 'check that the parent folder exists and is writable' });
  }
  const tensors = flattenWeights(m.weights).map(({ key, layer, tensor }) => {
    const name = nameOf('hf', key, layer);
    if (name === undefined) throw new LlamaError('INTERNAL', `no Hugging Face name for ${tensor.name}`);
    if (key === 'wq') return permuteToHf(tensor, c.nHeads, name);
    if (key === 'wk') return permuteToHf(tensor, c.nKvHeads, name);
    return makeTensor(name, tensor.type, tensor.shape, tensor.data);
  });
  const tok = m.tokenizer;
  if (!(tok instanceof SpmTokenizer)) throw new LlamaError('TOKENIZER_INVALID', 'only SentencePiece tokenizers can be exported as tokenizer.model', { hint: 'export to GGUF instead (--format gguf)' });
  hinted(() => {
    writeSafetensors(join(dir, 'model.safetensors'), tensors, { format: 'pt' });
    writeFileAtomic(join(dir, 'config.json'), JSON.stringify(hfConfigJson(c, DType.F32, tok.bosId, tok.eosId), null, 2) + '\n');
    writeFileAtomic(join(dir, 'tokenizer.model'), writeSentencePieceModel(tok.model));
    writeFileAtomic(join(dir, 'tokenizer_config.json'), JSON.stringify(hfTokenizerConfig(tok, c.contextLength), null, 2) + '\n');
  });
}
