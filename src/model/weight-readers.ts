// One reader per format: a model weight (by its model key and layer) -> the file's tensor, in Meta's
// layout. HF q/k are un-permuted; Meta model-parallel shards are merged; llama2.c and GGUF tensors are
// read as stored. `info` gives type and shape without reading the data, so shapes are checked first.
import { LlamaError } from '../errors.js';
import type { GgufFile } from '../formats/gguf.js';
import type { Llama2cFile } from '../formats/llama2c.js';
import type { PthFile } from '../formats/pth.js';
import { dtypeOfSafetensors, type SafetensorsModel } from '../formats/safetensors.js';
import { byteSize, DType, dtypeInfo } from '../tensor/dtype.js';
import { makeTensor, type HostTensor } from '../tensor/tensor.js';
import type { LlamaConfig } from './config.js';
import { globalName, metaShardSplit, nameOf, unpermuteHf, type GlobalKey, type LayerKey } from './names.js';

/** Reads one weight by its model key, in the file's own naming. */
export interface WeightReader {
  has(key: WeightKey, layer?: number): boolean;
  /** type and shape without reading the data (throws for types we cannot compute with) */
  info(key: WeightKey, layer?: number): { type: DType; shape: readonly number[] };
  read(key: WeightKey, layer?: number): HostTensor;
  /** every tensor name in the file(s), for the check that the config accounts for all of them */
  names?(): readonly string[];
  close(): void;
}

export type WeightKey = GlobalKey | LayerKey;

export function ggufReader(g: GgufFile): WeightReader {
  return {
    has: (k, l) => { const n = nameOf('gguf', k, l); return n !== undefined && g.hasTensor(n); },
    info: (k, l) => g.getTensorInfo(nameOf('gguf', k, l)!),
    read: (k, l) => g.readTensor(nameOf('gguf', k, l)!),
    names: () => g.tensors.map((t) => t.name),
    close: () => g.close(),
  };
}

export function hfReader(st: SafetensorsModel, c: LlamaConfig): WeightReader {
  return {
    has: (k, l) => { const n = nameOf('hf', k, l); return n !== undefined && st.entries.has(n); },
    info: (k, l) => {
      const e = st.entries.get(nameOf('hf', k, l)!)!;
      const type = dtypeOfSafetensors(e.dtype);
      if (type === undefined) throw new LlamaError('TENSOR_TYPE', `tensor ${e.name} has dtype ${e.dtype}; only F32, F16 and BF16 are supported`, { file: e.file });
      return { type, shape: e.shape };
    },
    read: (k, l) => {
      const t = st.readTensor(nameOf('hf', k, l)!);
      if (k === 'wq') return unpermuteHf(t, c.nHeads);
      if (k === 'wk') return unpermuteHf(t, c.nKvHeads);
      return t;
    },
    names: () => [...st.entries.keys()],
    close: () => st.close(),
  };
}

/** Concatenate same-type tensors along dim 0 or 1 (Meta model-parallel shards). */
export function concatTensors(name: string, parts: readonly HostTensor[], dim: 0 | 1): HostTensor {
  const shape = concatShape(name, parts, dim);
  const first = parts[0]!;
  if (first.shape.length === 1) dim = 0;
  const out = new Uint8Array(parts.reduce((a, p) => a + p.data.byteLength, 0));
  if (dim === 0) {
    let off = 0;
    for (const p of parts) { out.set(p.data, off); off += p.data.byteLength; }
  } else {
    // (rows, Σ cols_i): row r is the concatenation of every shard's row r.
    const rows = shape[0]!;
    const rowOut = byteSize(first.type, shape[1]!);
    let col = 0;
    for (const p of parts) {
      const rb = byteSize(p.type, p.shape[1]!);
      for (let r = 0; r < rows; r++) out.set(p.data.subarray(r * rb, (r + 1) * rb), r * rowOut + col);
      col += rb;
    }
  }
  return makeTensor(name, first.type, shape, out);
}

/** The shape of the concatenation, after checking that the parts can be joined. */
function concatShape(name: string, parts: readonly { type: DType; shape: readonly number[] }[], dim: 0 | 1): number[] {
  const first = parts[0]!;
  if (parts.some((p) => p.type !== first.type || p.shape.length !== first.shape.length)) {
    throw new LlamaError('TENSOR_SHAPE', `shards of ${name} differ in type or rank`);
  }
  if (first.shape.length !== 1 && first.shape.length !== 2) throw new LlamaError('TENSOR_SHAPE', `cannot merge ${first.shape.length}-D shards of ${name}`);
  if (first.shape.length === 1) dim = 0;
  if (dtypeInfo(first.type).blockSize !== 1) throw new LlamaError('TENSOR_TYPE', `cannot merge quantized shards of ${name}`);
  const other = first.shape.length === 2 ? first.shape[1 - dim]! : 1;
  if (first.shape.length === 2 && parts.some((p) => p.shape[1 - dim] !== other)) {
    throw new LlamaError('TENSOR_SHAPE', `shards of ${name} disagree on dim ${1 - dim}: ${parts.map((p) => `[${p.shape.join(', ')}]`).join(' ')}`);
  }
  const total = parts.reduce((a, p) => a + p.shape[dim]!, 0);
  return first.shape.length === 1 ? [total] : dim === 0 ? [total, other] : [other, total];
}

/**
 * `dim` is params.json's model width: it tells how the embedding was split. LLaMA 1/2 use
 * ParallelEmbedding (split along the model width, dim 1); Llama 3 uses VocabParallelEmbedding
 * (split along the vocabulary, dim 0). A shard whose width is already `dim` was split by vocabulary.
 */
export function metaReader(shards: PthFile[], dim: number): WeightReader {
  const file = shards[0]!.path;
  const splitOf = (name: string) => {
    let split = metaShardSplit(name);
    if (name === globalName('meta', 'tokEmbeddings') && shards[0]!.tensors.get(name)?.shape[1] === dim) split = 0;
    if (split === undefined) throw new LlamaError('INTERNAL', `no shard rule for ${name}`);
    return split;
  };
  const partInfo = (name: string) => shards.map((s) => {
    const t = s.tensors.get(name)!;
    if (t.type === undefined) throw new LlamaError('TENSOR_TYPE', `tensor ${name} is a ${t.storageType}; only Float, Half and BFloat16 storages are supported`, { file: s.path });
    if (!t.contiguous) throw new LlamaError('FORMAT_UNSUPPORTED', `tensor ${name} is not contiguous (stride [${t.stride.join(', ')}])`, { file: s.path, hint: 'save it with .contiguous()' });
    return { type: t.type, shape: t.shape };
  });
  const info = (name: string) => {
    const parts = partInfo(name);
    if (shards.length === 1) return parts[0]!;
    const split = splitOf(name);
    if (split === 'replicated') {
      if (parts.some((p) => p.shape.join() !== parts[0]!.shape.join())) throw new LlamaError('TENSOR_SHAPE', `replicated tensor ${name} differs in shape across shards`, { file });
      return parts[0]!;
    }
    return { type: parts[0]!.type, shape: concatShape(name, parts, split) };
  };
  const read = (name: string): HostTensor => {
    if (shards.length === 1) return shards[0]!.readTensor(name);
    const split = splitOf(name);
    if (split === 'replicated') return shards[0]!.readTensor(name);
    return concatTensors(name, shards.map((s) => s.readTensor(name)), split);
  };
  return {
    has: (k, l) => { const n = nameOf('meta', k, l); return n !== undefined && shards.every((s) => s.tensors.has(n)); },
    info: (k, l) => info(nameOf('meta', k, l)!),
    read: (k, l) => read(nameOf('meta', k, l)!),
    names: () => [...shards[0]!.tensors.keys()],
    close: () => { for (const s of shards) s.close(); },
  };
}

export function llama2cReader(f: Llama2cFile): WeightReader {
  return {
    has: (k, l) => { const n = nameOf('llama2c', k, l); return n !== undefined && f.tensors.has(n); },
    info: (k, l) => ({ type: DType.F32, shape: f.tensors.get(nameOf('llama2c', k, l)!)!.shape }),
    read: (k, l) => f.readTensor(nameOf('llama2c', k, l)!),
    close: () => f.close(),
  };
}
