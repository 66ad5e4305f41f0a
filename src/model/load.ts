// loadModel(path): open any supported model, whatever its format, as config + weights in Meta's
// layout. The format is detected from the path:
//   *.gguf (GGUF magic)                          -> gguf
//   HF directory (config.json + model.safetensors[.index.json]), or a .safetensors / index file in one
//                                                -> safetensors (a folder holding both HF and Meta files reads as HF)
//   Meta directory (params.json + consolidated.NN.pth), or one of its .pth files -> meta
//   llama2.c .bin (v0 legacy, or "ak42" magic v1/v2)                             -> llama2c
// Every weight's shape is checked against the config before the model is returned.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { FormatError, LlamaError } from '../errors.js';
import { openGguf, ggufValueToJson, type GgufFile } from '../formats/gguf.js';
import { GGUF_MAGIC } from '../formats/gguf-keys.js';
import { Llama2cFile, LLAMA2C_MAGIC } from '../formats/llama2c.js';
import { PthFile } from '../formats/pth.js';
import { SafetensorsModel, SAFETENSORS_INDEX } from '../formats/safetensors.js';
import { ByteSource } from '../formats/source.js';
import { byteSize, dtypeInfo } from '../tensor/dtype.js';
import { makeTensor, type HostTensor } from '../tensor/tensor.js';
import { validateConfig, type LlamaConfig } from './config.js';
import { configFromGguf, configFromHf, configFromLlama2c, configFromMeta } from './config-sources.js';
import type { LoadedModel, ModelFormat } from './loaded.js';
import { globalName, LAYER_KEYS, metaShardSplit, nameOf, unpermuteHf, type GlobalKey, type LayerKey, type NameFormat } from './names.js';
import type { LayerWeights, LlamaWeights } from './weights.js';

export interface LoadOptions {
  /** use this tokenizer file instead of looking beside the model */
  readonly tokenizerPath?: string | undefined;
}

export interface DetectedModel {
  readonly format: ModelFormat;
  /** the weight files, in shard order */
  readonly files: readonly string[];
  /** config.json / params.json for HF / Meta */
  readonly configFile?: string | undefined;
  readonly dir: string;
}

const META_SHARD = /^consolidated\.(\d+)\.pth$/;

function metaShards(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => META_SHARD.test(f))
    .sort((a, b) => Number(META_SHARD.exec(a)![1]) - Number(META_SHARD.exec(b)![1]))
    .map((f) => join(dir, f));
}

function readHead(path: string, n: number): Uint8Array {
  const src = ByteSource.open(path);
  try {
    return src.read(0, Math.min(n, src.size), 'file head');
  } finally {
    src.close();
  }
}

/** Work out what `path` is without loading it. */
export function detectModel(path: string): DetectedModel {
  const p = resolve(path);
  if (!existsSync(p)) throw new LlamaError('MODEL_NOT_FOUND', 'no such file or directory', { file: path, hint: 'pass a .gguf / .safetensors / llama2.c .bin file, or an HF or Meta checkpoint directory' });
  if (statSync(p).isDirectory()) {
    const hasConfig = existsSync(join(p, 'config.json'));
    if (hasConfig && existsSync(join(p, SAFETENSORS_INDEX))) return { format: 'safetensors', files: [join(p, SAFETENSORS_INDEX)], configFile: join(p, 'config.json'), dir: p };
    if (hasConfig && existsSync(join(p, 'model.safetensors'))) return { format: 'safetensors', files: [join(p, 'model.safetensors')], configFile: join(p, 'config.json'), dir: p };
    if (existsSync(join(p, 'params.json'))) {
      const shards = metaShards(p);
      if (shards.length > 0) return { format: 'meta', files: shards, configFile: join(p, 'params.json'), dir: p };
    }
    throw new LlamaError('MODEL_NOT_FOUND', 'the directory holds no model I can read', {
      file: path,
      hint: 'expected config.json + model.safetensors (or model.safetensors.index.json), or params.json + consolidated.00.pth; or pass a model file',
    });
  }
  const dir = dirname(p);
  const name = basename(p);
  if (name.endsWith('.json') && name !== 'config.json') {
    return { format: 'safetensors', files: [p], configFile: join(dir, 'config.json'), dir };
  }
  const head = readHead(p, 16);
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  if (head.byteLength >= 4 && dv.getUint32(0, true) === GGUF_MAGIC) return { format: 'gguf', files: [p], dir };
  if (head.byteLength >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) {
    if (/^pytorch_model.*\.bin$/.test(name)) {
      throw new LlamaError('FORMAT_UNSUPPORTED', 'Hugging Face PyTorch weights (pytorch_model*.bin) are not read; safetensors are', {
        file: path,
        hint: 'use the model.safetensors files of the checkpoint (most HF repositories have them)',
      });
    }
    // A torch zip: the whole Meta checkpoint is the directory (all its shards).
    const shards = META_SHARD.test(name) ? metaShards(dir) : [p];
    return { format: 'meta', files: shards, configFile: join(dir, 'params.json'), dir };
  }
  if (name.endsWith('.safetensors') || (head.byteLength >= 9 && head[8] === 0x7b /* '{' after the u64 length */)) {
    return { format: 'safetensors', files: [p], configFile: join(dir, 'config.json'), dir };
  }
  if ((head.byteLength >= 4 && dv.getUint32(0, true) === LLAMA2C_MAGIC) || name.endsWith('.bin')) return { format: 'llama2c', files: [p], dir };
  throw new FormatError('FORMAT_UNKNOWN', 'not a model format I recognise', {
    file: path,
    hint: 'supported: GGUF (.gguf), safetensors + config.json, Meta params.json + consolidated.NN.pth, llama2.c .bin',
  });
}

function readJson(path: string, what: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new LlamaError('MODEL_CONFIG', `${what} is missing`, { file: path, hint: `the model needs its ${basename(path)} beside the weights` });
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new FormatError('FORMAT_CORRUPT', `${what} is not valid JSON: ${(e as Error).message}`, { file: path });
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new FormatError('FORMAT_CORRUPT', `${what} is not a JSON object`, { file: path });
  return v as Record<string, unknown>;
}

/** Reads one weight by its model key, in the file's own naming; undefined when absent. */
interface WeightReader {
  has(key: GlobalKey | LayerKey, layer?: number): boolean;
  read(key: GlobalKey | LayerKey, layer?: number): HostTensor;
  close(): void;
}

/** Expected PyTorch-order shape of every weight under `c`. */
function expectedShape(c: LlamaConfig, key: GlobalKey | LayerKey): number[] {
  const q = c.nHeads * c.headDim;
  const kv = c.nKvHeads * c.headDim;
  switch (key) {
    case 'tokEmbeddings': case 'output': return [c.vocabSize, c.dim];
    case 'norm': case 'attnNorm': case 'ffnNorm': return [c.dim];
    case 'ropeFreqs': return [c.headDim / 2];
    case 'wq': return [q, c.dim];
    case 'wk': case 'wv': return [kv, c.dim];
    case 'wo': return [c.dim, q];
    case 'w1': case 'w3': return [c.ffnDim, c.dim];
    case 'w2': return [c.dim, c.ffnDim];
  }
}

function assemble(c: LlamaConfig, r: WeightReader, format: NameFormat, file: string): LlamaWeights {
  const get = (key: GlobalKey | LayerKey, layer?: number): HostTensor => {
    const fileName = nameOf(format, key, layer) ?? key;
    if (!r.has(key, layer)) {
      throw new LlamaError('TENSOR_MISSING', `tensor ${fileName} is missing`, { file, hint: 'the checkpoint is incomplete or not a LLaMA model' });
    }
    const t = r.read(key, layer);
    const want = expectedShape(c, key);
    if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i])) {
      throw new LlamaError('TENSOR_SHAPE', `tensor ${fileName} has shape [${t.shape.join(', ')}], expected [${want.join(', ')}] from the model config`, {
        file,
        hint: 'the weights do not match the hyper-parameters (wrong or corrupt config?)',
      });
    }
    // Under the model's (Meta) names, whatever the file called it.
    const metaName = nameOf('meta', key, layer) ?? 'rope_freqs.weight';
    return makeTensor(metaName, t.type, t.shape, t.data);
  };
  const layers: LayerWeights[] = [];
  for (let l = 0; l < c.nLayers; l++) {
    const lw: Partial<Record<LayerKey, HostTensor>> = {};
    for (const k of LAYER_KEYS) lw[k] = get(k, l);
    layers.push(lw as unknown as LayerWeights);
  }
  return {
    tokEmbeddings: get('tokEmbeddings'),
    layers,
    norm: get('norm'),
    output: c.tiedEmbeddings ? undefined : get('output'),
    ropeFreqs: r.has('ropeFreqs') ? get('ropeFreqs') : undefined,
  };
}

// ---- per-format readers ----

function ggufReader(g: GgufFile): WeightReader {
  return {
    has: (k, l) => { const n = nameOf('gguf', k, l); return n !== undefined && g.hasTensor(n); },
    read: (k, l) => g.readTensor(nameOf('gguf', k, l)!),
    close: () => g.close(),
  };
}

function hfReader(st: SafetensorsModel, c: LlamaConfig): WeightReader {
  return {
    has: (k, l) => { const n = nameOf('hf', k, l); return n !== undefined && st.entries.has(n); },
    read: (k, l) => {
      const t = st.readTensor(nameOf('hf', k, l)!);
      if (k === 'wq') return unpermuteHf(t, c.nHeads);
      if (k === 'wk') return unpermuteHf(t, c.nKvHeads);
      return t;
    },
    close: () => st.close(),
  };
}

/** Concatenate same-type tensors along dim 0 or 1 (Meta model-parallel shards). */
export function concatTensors(name: string, parts: readonly HostTensor[], dim: 0 | 1): HostTensor {
  const first = parts[0]!;
  if (parts.some((p) => p.type !== first.type || p.shape.length !== first.shape.length)) {
    throw new LlamaError('TENSOR_SHAPE', `shards of ${name} differ in type or rank`);
  }
  if (first.shape.length === 1) dim = 0;
  if (dtypeInfo(first.type).blockSize !== 1) throw new LlamaError('TENSOR_TYPE', `cannot merge quantized shards of ${name}`);
  const other = first.shape.length === 2 ? first.shape[1 - dim]! : 1;
  if (first.shape.length === 2 && parts.some((p) => p.shape[1 - dim] !== other)) {
    throw new LlamaError('TENSOR_SHAPE', `shards of ${name} disagree on dim ${1 - dim}: ${parts.map((p) => `[${p.shape.join(', ')}]`).join(' ')}`);
  }
  const total = parts.reduce((a, p) => a + p.shape[dim]!, 0);
  const shape = first.shape.length === 1 ? [total] : dim === 0 ? [total, other] : [other, total];
  const out = new Uint8Array(parts.reduce((a, p) => a + p.data.byteLength, 0));
  if (dim === 0) {
    let off = 0;
    for (const p of parts) { out.set(p.data, off); off += p.data.byteLength; }
  } else {
    // (rows, Σ cols_i): row r is the concatenation of every shard's row r.
    const rowOut = byteSize(first.type, total);
    let col = 0;
    for (const p of parts) {
      const rb = byteSize(p.type, p.shape[1]!);
      for (let r = 0; r < other; r++) out.set(p.data.subarray(r * rb, (r + 1) * rb), r * rowOut + col);
      col += rb;
    }
  }
  return makeTensor(name, first.type, shape, out);
}

/**
 * `dim` is params.json's model width: it tells how the embedding was split. LLaMA 1/2 use
 * ParallelEmbedding (split along the model width, dim 1); Llama 3 uses VocabParallelEmbedding
 * (split along the vocabulary, dim 0). A shard whose width is already `dim` was split by vocabulary.
 */
function metaReader(shards: PthFile[], dim: number): WeightReader {
  const read = (name: string): HostTensor => {
    if (shards.length === 1) return shards[0]!.readTensor(name);
    let split = metaShardSplit(name);
    if (name === globalName('meta', 'tokEmbeddings') && shards[0]!.tensors.get(name)?.shape[1] === dim) split = 0;
    if (split === undefined) throw new LlamaError('INTERNAL', `no shard rule for ${name}`);
    const parts = shards.map((s) => s.readTensor(name));
    if (split === 'replicated') {
      for (const p of parts) {
        if (p.shape.join() !== parts[0]!.shape.join()) throw new LlamaError('TENSOR_SHAPE', `replicated tensor ${name} differs in shape across shards`, { file: shards[0]!.path });
      }
      return parts[0]!;
    }
    return concatTensors(name, parts, split);
  };
  return {
    has: (k, l) => { const n = nameOf('meta', k, l); return n !== undefined && shards.every((s) => s.tensors.has(n)); },
    read: (k, l) => read(nameOf('meta', k, l)!),
    close: () => { for (const s of shards) s.close(); },
  };
}

function llama2cReader(f: Llama2cFile): WeightReader {
  return {
    has: (k, l) => { const n = nameOf('llama2c', k, l); return n !== undefined && f.tensors.has(n); },
    read: (k, l) => f.readTensor(nameOf('llama2c', k, l)!),
    close: () => f.close(),
  };
}

// ---- tokenizer discovery ----

function firstExisting(paths: string[]): string | undefined {
  return paths.find((p) => existsSync(p) && statSync(p).isFile());
}

/**
 * The tokenizer file that goes with the model at `path`, without loading the weights (only a
 * llama2.c header is read, for its vocabulary size). Undefined for GGUF (the tokenizer is in its
 * metadata) and when no tokenizer file is found.
 */
export function findModelTokenizer(path: string): string | undefined {
  const d = detectModel(path);
  if (d.format !== 'llama2c') return findTokenizer(d, 0);
  const f = Llama2cFile.open(d.files[0]!);
  try {
    return findTokenizer(d, f.header.vocabSize);
  } finally {
    f.close();
  }
}

function findTokenizer(d: DetectedModel, vocabSize: number): string | undefined {
  switch (d.format) {
    case 'gguf':
      return undefined; // the tokenizer is in the GGUF metadata
    case 'safetensors':
      return firstExisting([join(d.dir, 'tokenizer.model'), join(d.dir, 'tokenizer.json')]);
    case 'meta':
      // Meta's downloads put tokenizer.model beside the weights (Llama 2/3) or one level up (LLaMA 1).
      return firstExisting([join(d.dir, 'tokenizer.model'), join(dirname(d.dir), 'tokenizer.model')]);
    case 'llama2c':
      // run.c's default name, or tinystories.py's name for a custom vocabulary: tok{vocab_size}.bin.
      return firstExisting([join(d.dir, 'tokenizer.bin'), join(d.dir, `tok${vocabSize}.bin`)]);
  }
}

// ---- the entry point ----

function finish(d: DetectedModel, path: string, config: LlamaConfig, weights: LlamaWeights, metadata: Record<string, unknown>, opts: LoadOptions): LoadedModel {
  let weightBytes = 0;
  const all = [weights.tokEmbeddings, weights.norm, weights.output, weights.ropeFreqs, ...weights.layers.flatMap((l) => LAYER_KEYS.map((k) => l[k]))];
  for (const t of all) if (t) weightBytes += t.data.byteLength;
  return {
    format: d.format,
    path,
    config,
    weights,
    metadata,
    tokenizerPath: opts.tokenizerPath ?? findTokenizer(d, config.vocabSize),
    weightBytes,
    close() { /* every tensor was read into memory; the files are already closed */ },
  };
}

/** Open a model of any supported format (see the header comment for what `path` may be). */
export async function loadModel(path: string, opts: LoadOptions = {}): Promise<LoadedModel> {
  const d = detectModel(path);
  switch (d.format) {
    case 'gguf': {
      const g = openGguf(d.files[0]!);
      const r = ggufReader(g);
      try {
        const embd = globalName('gguf', 'tokEmbeddings')!;
        if (!g.hasTensor(embd)) throw new LlamaError('TENSOR_MISSING', `tensor ${embd} is missing`, { file: g.path });
        const config = validateConfig(configFromGguf(g, g.getTensorInfo(embd).shape[0]!, g.hasTensor(globalName('gguf', 'output')!)), g.path);
        const weights = assemble(config, r, 'gguf', g.path);
        const metadata: Record<string, unknown> = {};
        for (const [k, v] of g.metadata) metadata[k] = ggufValueToJson(v);
        return finish(d, path, config, weights, metadata, opts);
      } finally {
        r.close();
      }
    }
    case 'safetensors': {
      const cfgJson = readJson(d.configFile!, 'config.json');
      const st = SafetensorsModel.open(d.files[0]!);
      let r: WeightReader | undefined;
      try {
        const config = validateConfig(configFromHf(cfgJson, d.configFile!, st.entries.has(globalName('hf', 'output')!)), d.configFile!);
        r = hfReader(st, config);
        const weights = assemble(config, r, 'hf', d.files[0]!);
        return finish(d, path, config, weights, cfgJson, opts);
      } finally {
        st.close();
      }
    }
    case 'meta': {
      const params = readJson(d.configFile!, 'params.json');
      const shards: PthFile[] = [];
      try {
        for (const f of d.files) shards.push(PthFile.open(f));
        const dim = typeof params.dim === 'number' ? params.dim : 0;
        const r = metaReader(shards, dim);
        const embd = globalName('meta', 'tokEmbeddings')!;
        if (!r.has('tokEmbeddings')) throw new LlamaError('TENSOR_MISSING', `tensor ${embd} is missing`, { file: d.files[0] });
        const shard0 = shards[0]!.tensors.get(embd)!.shape;
        // the vocabulary is the embedding's row count (summed over shards when split by vocabulary)
        const vocab = shard0.length === 2 && shard0[1] === dim ? shards.reduce((a, s) => a + s.tensors.get(embd)!.shape[0]!, 0) : shard0[0]!;
        const config = validateConfig(configFromMeta(params, d.configFile!, vocab), d.configFile!);
        const weights = assemble(config, r, 'meta', d.files[0]!);
        return finish(d, path, config, weights, params, opts);
      } finally {
        for (const s of shards) s.close();
      }
    }
    case 'llama2c': {
      const f = Llama2cFile.open(d.files[0]!);
      try {
        const config = validateConfig(configFromLlama2c(f.header), f.path);
        const weights = assemble(config, llama2cReader(f), 'llama2c', f.path);
        return finish(d, path, config, weights, { ...f.header }, opts);
      } finally {
        f.close();
      }
    }
  }
}
