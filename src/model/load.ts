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
import { existsSync, readdirSync, readFileSync, statSync } from '../platform/fs.js';
import { basename, dirname, join, resolve } from '../platform/path.js';
import { FormatError, LlamaError } from '../errors.js';
import { openGgufModel, parseSplitPath } from '../formats/gguf-split.js';
import { hinted } from '../formats/hints.js';
import { findModelTokenizerFile } from '../tokenizer/find.js';
import { GGUF_MAGIC } from '../formats/gguf-keys.js';
import { Llama2cFile, LLAMA2C_MAGIC } from '../formats/llama2c.js';
import { PthFile } from '../formats/pth.js';
import { SafetensorsModel, SAFETENSORS_INDEX } from '../formats/safetensors.js';
import { ByteSource } from '../formats/source.js';
import { validateConfig } from './config.js';
import { configFromHf, configFromLlama2c, configFromMeta } from './config-sources.js';
import type { LoadedModel, ModelFormat } from './loaded.js';
import { globalName } from './names.js';
import { hfReader, llama2cReader, metaReader } from './weight-readers.js';
export { concatTensors } from './weight-readers.js';
import { lazyWeights, loadedModel, openedGguf, readAll, type LazyModel, type Opened } from './assemble.js';
export type { LazyModel, LazyWeight } from './assemble.js';
import type { LlamaWeights } from './weights.js';

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

/** Open the files, map the config, and hand back a reader (the caller closes it). */
function open(d: DetectedModel): Opened {
  switch (d.format) {
    case 'gguf':
      return openedGguf(openGgufModel(d.files[0]!));
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

