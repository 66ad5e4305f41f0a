// loadModel(path): open any supported model, whatever its format, as config + weights in Meta's
// layout. The format is detected from the path:
//   *.gguf (GGUF magic)                          -> gguf
//   HF directory (config.json + model.safetensors[.index.json]), or a .safetensors / index file in one
//                                                -> safetensors (a folder holding both HF and Meta files reads as HF)
//   Meta directory (params.json + consolidated.NN.pth), or one of its .pth files -> meta
//   llama2.c .bin (v0 legacy, or "ak42" magic v1/v2)                             -> llama2c
// Every weight's shape is checked against the config before the model is returned. openModelLazy
// does the same without reading the weights (for conversion); the per-format readers are in
// weight-readers.ts.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { FormatError, LlamaError } from '../errors.js';
import { ggufValueToJson } from '../formats/gguf.js';
import { openGgufModel, parseSplitPath } from '../formats/gguf-split.js';
import { hinted } from '../formats/hints.js';
import { findModelTokenizerFile } from '../tokenizer/find.js';
import { isMappedView, releaseMappedView } from '../formats/mmap.js';
import { GGUF_MAGIC } from '../formats/gguf-keys.js';
import { Llama2cFile, LLAMA2C_MAGIC } from '../formats/llama2c.js';
import { PthFile } from '../formats/pth.js';
import { SafetensorsModel, SAFETENSORS_INDEX } from '../formats/safetensors.js';
import { ByteSource } from '../formats/source.js';
import { byteSize, DType } from '../tensor/dtype.js';
import { makeTensor, numElements, type HostTensor } from '../tensor/tensor.js';
import { validateConfig, type LlamaConfig } from './config.js';
import { checkGgufArchitecture, configFromGguf, configFromHf, configFromLlama2c, configFromMeta } from './config-sources.js';
import type { LoadedModel, ModelFormat } from './loaded.js';
import { globalName, LAYER_KEYS, nameOf, type LayerKey, type NameFormat } from './names.js';
import { ggufReader, hfReader, llama2cReader, metaReader, type WeightKey, type WeightReader } from './weight-readers.js';
export { concatTensors } from './weight-readers.js';
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

/**
 * The GGUF model in a folder (`-m models/default`): its only .gguf file, or the first part when
 * the .gguf files are the parts of one split GGUF. Several unrelated .gguf files: MODEL_NOT_FOUND
 * listing them (which one is meant is not ours to guess).
 */
function ggufInDirectory(dir: string, given: string): string | undefined {
  const ggufs = readdirSync(dir).filter((f) => f.endsWith('.gguf')).sort();
  if (ggufs.length === 0) return undefined;
  if (ggufs.length === 1) return join(dir, ggufs[0]!);
  const parts = ggufs.map((f) => parseSplitPath(join(dir, f)));
  const first = parts[0];
  if (first && first.no === 0 && parts.every((q) => q && q.prefix === first.prefix && q.count === first.count)) return join(dir, ggufs[0]!);
  throw new LlamaError('MODEL_NOT_FOUND', `the directory holds ${ggufs.length} GGUF files (${ggufs.join(', ')}) and I cannot tell which one you mean`, {
    file: given,
    hint: 'pass the .gguf file itself with -m',
  });
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
    const gguf = ggufInDirectory(p, path);
    if (gguf) return { format: 'gguf', files: [gguf], dir: p };
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


/** One weight of an opened model, checked against the config but not yet read. */
export interface LazyWeight {
  readonly key: WeightKey;
  /** undefined for global weights */
  readonly layer: number | undefined;
  /** the model's (Meta) name */
  readonly name: string;
  readonly type: DType;
  /** PyTorch order */
  readonly shape: readonly number[];
  readonly bytes: number;
  /** the tensor in Meta's layout (HF q/k un-permuted, Meta shards merged), named `name` */
  read(): HostTensor;
}

/** A model whose config and weight list are known and checked, with the weights still on disk. */
export interface LazyModel extends Omit<LoadedModel, 'weights'> {
  /** in the order tokEmbeddings, layer 0..L-1 (attnNorm, wq, wk, wv, wo, ffnNorm, w1, w2, w3), norm, [output], [ropeFreqs] */
  readonly weights: readonly LazyWeight[];
}

/** Expected PyTorch-order shape of every weight under `c`. */
function expectedShape(c: LlamaConfig, key: WeightKey): number[] {
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

/** Every weight the config calls for: present, of the right shape (TENSOR_MISSING / TENSOR_SHAPE naming the file's tensor). */
function lazyWeights(c: LlamaConfig, r: WeightReader, format: NameFormat, file: string): LazyWeight[] {
  const one = (key: WeightKey, layer?: number): LazyWeight => {
    const fileName = nameOf(format, key, layer) ?? key;
    if (!r.has(key, layer)) {
      throw new LlamaError('TENSOR_MISSING', `tensor ${fileName} is missing`, { file, hint: 'the checkpoint is incomplete or not a LLaMA model' });
    }
    const { type, shape } = r.info(key, layer);
    const want = expectedShape(c, key);
    if (shape.length !== want.length || shape.some((d, i) => d !== want[i])) {
      throw new LlamaError('TENSOR_SHAPE', `tensor ${fileName} has shape [${shape.join(', ')}], expected [${want.join(', ')}] from the model config`, {
        file,
        hint: 'the weights do not match the hyper-parameters (wrong or corrupt config?)',
      });
    }
    // Under the model's (Meta) names, whatever the file called it.
    const name = nameOf('meta', key, layer) ?? 'rope_freqs.weight';
    return {
      key, layer, name, type, shape,
      bytes: byteSize(type, numElements(shape), shape[shape.length - 1]!),
      read: () => {
        const t = r.read(key, layer);
        return makeTensor(name, t.type, t.shape, t.data);
      },
    };
  };
  const out: LazyWeight[] = [one('tokEmbeddings')];
  for (let l = 0; l < c.nLayers; l++) for (const k of LAYER_KEYS) out.push(one(k, l));
  out.push(one('norm'));
  if (!c.tiedEmbeddings) out.push(one('output'));
  if (r.has('ropeFreqs')) out.push(one('ropeFreqs'));
  checkAllTensorsUsed(c, r, format, file, out);
  return out;
}

const LAYER_INDEX = /(?:^|\.)(?:blk|layers)\.(\d+)\./;

/**
 * Tensors the config does not account for mean the metadata and the weights disagree (a GGUF whose
 * block_count says 3 holding 4 layers' tensors would run on 3 layers and say nothing). GGUF: every
 * tensor must be one the model uses, as llama.cpp requires. HF / Meta files may carry extras (old
 * rotary inv_freq buffers, ...), so there only layers beyond the config's count are refused.
 */
function checkAllTensorsUsed(c: LlamaConfig, r: WeightReader, format: NameFormat, file: string, used: readonly LazyWeight[]): void {
  const names = r.names?.();
  if (!names) return;
  const usedNames = new Set(used.map((w) => nameOf(format, w.key, w.layer)));
  const extra = names.filter((n) => {
    if (usedNames.has(n)) return false;
    if (format === 'gguf') return true;
    const m = LAYER_INDEX.exec(n);
    return m !== null && Number(m[1]) >= c.nLayers;
  });
  if (extra.length === 0) return;
  const shown = extra.slice(0, 6).join(', ') + (extra.length > 6 ? `, ... (${extra.length - 6} more)` : '');
  const layers = Math.max(-1, ...extra.map((n) => Number(LAYER_INDEX.exec(n)?.[1] ?? -1)));
  throw new LlamaError('MODEL_CONFIG', `${extra.length} tensor${extra.length === 1 ? ' is' : 's are'} not used by the model config (${c.nLayers} layers): ${shown}`, {
    file,
    hint: layers >= c.nLayers
      ? `the file holds tensors of layer ${layers} but its config says ${c.nLayers} layers (${format === 'gguf' ? 'llama.block_count' : format === 'hf' ? 'num_hidden_layers' : 'n_layers'}); the metadata or the file is wrong`
      : 'the file holds tensors a LLaMA model does not have: it is corrupt or of another architecture',
  });
}

/** Read every weight into memory, as the model's LlamaWeights. */
function readAll(c: LlamaConfig, weights: readonly LazyWeight[]): LlamaWeights {
  const byKey = new Map<string, HostTensor>();
  for (const w of weights) byKey.set(`${w.key}:${w.layer ?? ''}`, w.read());
  const get = (k: WeightKey, l?: number) => byKey.get(`${k}:${l ?? ''}`);
  const layers: LayerWeights[] = [];
  for (let l = 0; l < c.nLayers; l++) {
    const lw: Partial<Record<LayerKey, HostTensor>> = {};
    for (const k of LAYER_KEYS) lw[k] = get(k, l)!;
    layers.push(lw as unknown as LayerWeights);
  }
  return { tokEmbeddings: get('tokEmbeddings')!, layers, norm: get('norm')!, output: get('output'), ropeFreqs: get('ropeFreqs') };
}

// ---- tokenizer discovery (the rules live in tokenizer/find.ts) ----

/**
 * The tokenizer file that goes with the model at `path`, without loading the weights (only a
 * llama2.c header is read, for its vocabulary size). Undefined for GGUF (the tokenizer is in its
 * metadata) and when no tokenizer file is found.
 */
export function findModelTokenizer(path: string): string | undefined {
  const d = detectModel(path);
  return findTokenizer(d, undefined);
}

function findTokenizer(d: DetectedModel, vocabSize: number | undefined): string | undefined {
  if (d.format === 'gguf') return undefined; // the tokenizer is in the GGUF metadata
  return findModelTokenizerFile(d.format === 'llama2c' ? d.files[0]! : d.dir, d.format, vocabSize);
}

// ---- the entry points ----

interface Opened {
  readonly config: LlamaConfig;
  readonly reader: WeightReader;
  readonly format: NameFormat;
  readonly file: string;
  readonly metadata: Record<string, unknown>;
}

/** Open the files, map the config, and hand back a reader (the caller closes it). */
function open(d: DetectedModel): Opened {
  switch (d.format) {
    case 'gguf': {
      const g = openGgufModel(d.files[0]!);
      try {
        if (g.isVocabOnly) {
          throw new LlamaError('TENSOR_MISSING', 'this is a vocab-only GGUF file: it holds a tokenizer and no weights', {
            file: g.path,
            hint: 'pass it with --tokenizer, and the model file with its weights with -m',
          });
        }
        checkGgufArchitecture(g);
        const embd = globalName('gguf', 'tokEmbeddings')!;
        if (!g.hasTensor(embd)) throw new LlamaError('TENSOR_MISSING', `tensor ${embd} is missing`, { file: g.path, hint: 'the file is incomplete or not a LLaMA model; run llama inspect to list its tensors' });
        const config = validateConfig(configFromGguf(g, g.getTensorInfo(embd).shape[0]!, g.hasTensor(globalName('gguf', 'output')!)), g.path);
        const metadata: Record<string, unknown> = {};
        for (const [k, v] of g.metadata) metadata[k] = ggufValueToJson(v);
        return { config, reader: ggufReader(g), format: 'gguf', file: g.path, metadata };
      } catch (e) {
        g.close();
        throw e;
      }
    }
    case 'safetensors': {
      const cfgJson = readJson(d.configFile!, 'config.json');
      const st = SafetensorsModel.open(d.files[0]!);
      try {
        const config = validateConfig(configFromHf(cfgJson, d.configFile!, st.entries.has(globalName('hf', 'output')!)), d.configFile!);
        return { config, reader: hfReader(st, config), format: 'hf', file: d.files[0]!, metadata: cfgJson };
      } catch (e) {
        st.close();
        throw e;
      }
    }
    case 'meta': {
      const params = readJson(d.configFile!, 'params.json');
      const shards: PthFile[] = [];
      try {
        for (const f of d.files) shards.push(PthFile.open(f));
        const dim = typeof params.dim === 'number' ? params.dim : 0;
        const reader = metaReader(shards, dim);
        const embd = globalName('meta', 'tokEmbeddings')!;
        if (!reader.has('tokEmbeddings')) throw new LlamaError('TENSOR_MISSING', `tensor ${embd} is missing`, { file: d.files[0] });
        const shard0 = shards[0]!.tensors.get(embd)!.shape;
        // the vocabulary is the embedding's row count (summed over shards when split by vocabulary)
        const vocab = shard0.length === 2 && shard0[1] === dim ? shards.reduce((a, s) => a + s.tensors.get(embd)!.shape[0]!, 0) : shard0[0]!;
        const config = validateConfig(configFromMeta(params, d.configFile!, vocab, reader.has('output')), d.configFile!);
        return { config, reader, format: 'meta', file: d.files[0]!, metadata: params };
      } catch (e) {
        for (const s of shards) s.close();
        throw e;
      }
    }
    case 'llama2c': {
      const f = Llama2cFile.open(d.files[0]!);
      try {
        const config = validateConfig(configFromLlama2c(f.header), f.path);
        return { config, reader: llama2cReader(f), format: 'llama2c', file: f.path, metadata: { ...f.header } };
      } catch (e) {
        f.close();
        throw e;
      }
    }
  }
}

/**
 * Open a model without reading its weights: config, metadata and the checked list of weights, each
 * read on demand (what `llama convert` uses, so that a model is never held in memory twice).
 * Call close() when done.
 */
export async function openModelLazy(path: string, opts: LoadOptions = {}): Promise<LazyModel> {
  return hinted(() => openLazy(path, opts));
}

function openLazy(path: string, opts: LoadOptions): LazyModel {
  const d = detectModel(path);
  const o = open(d);
  try {
    const weights = lazyWeights(o.config, o.reader, o.format, o.file);
    const close = () => o.reader.close();
    return {
      format: d.format,
      path,
      config: o.config,
      weights,
      metadata: o.metadata,
      tokenizerPath: opts.tokenizerPath ?? findTokenizer(d, o.config.vocabSize),
      weightBytes: weights.reduce((a, w) => a + w.bytes, 0),
      close,
      dispose: close,
      [Symbol.dispose]: close,
    };
  } catch (e) {
    o.reader.close();
    throw e;
  }
}

/** Open a model of any supported format (see the header comment for what `path` may be), weights in memory. */
export async function loadModel(path: string, opts: LoadOptions = {}): Promise<LoadedModel> {
  const lazy = await openModelLazy(path, opts);
  let weights: LlamaWeights;
  try {
    weights = hinted(() => readAll(lazy.config, lazy.weights));
  } finally {
    lazy.close(); // every tensor is read (or mapped): the files are closed
  }
  return loadedModel(lazy, weights);
}

/**
 * The LoadedModel around `weights`. close() (= dispose() = [Symbol.dispose]()) drops the references
 * to the weights and releases their file mappings (formats/mmap.ts: unmapped at once when the native
 * addon can, else left to the GC). After close, `weights` throws: a model built with
 * LlamaModel.create holds its own copy (native) or references (js) and keeps working.
 */
function loadedModel(lazy: LazyModel, weights: LlamaWeights): LoadedModel {
  let held: LlamaWeights | undefined = weights;
  const close = (): void => {
    if (!held) return;
    const w = held;
    held = undefined;
    for (const t of [w.tokEmbeddings, w.norm, w.output, w.ropeFreqs, ...w.layers.flatMap((l) => Object.values(l) as HostTensor[])]) {
      if (t && isMappedView(t.data)) releaseMappedView(t.data);
    }
  };
  return {
    format: lazy.format,
    path: lazy.path,
    config: lazy.config,
    metadata: lazy.metadata,
    tokenizerPath: lazy.tokenizerPath,
    weightBytes: lazy.weightBytes,
    get weights(): LlamaWeights {
      if (!held) throw new LlamaError('MODEL_CONFIG', 'the weights of this model were released by close()', { file: lazy.path, hint: 'load the model again (loadModel) to use its weights' });
      return held;
    },
    get closed(): boolean {
      return held === undefined;
    },
    close,
    dispose: close,
    [Symbol.dispose]: close,
  };
}
