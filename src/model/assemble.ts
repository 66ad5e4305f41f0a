// From an opened checkpoint to a LoadedModel, whatever the file came from (a path in Node, or a
// File / Blob / URL / ArrayBuffer through api/open-source.ts): the checked list of weights
// (lazyWeights), reading them all (readAll), the LoadedModel around them (loadedModel), and the
// GGUF case of opening (openedGguf). No file-system access here: callers hand in opened files.
import { LlamaError } from '../errors.js';
import { ggufValueToJson, type GgufFile } from '../formats/gguf.js';
import { isMappedView, releaseMappedView } from '../formats/mmap.js';
import { byteSize, type DType } from '../tensor/dtype.js';
import { makeTensor, numElements, type HostTensor } from '../tensor/tensor.js';
import { validateConfig, type LlamaConfig } from './config.js';
import { checkGgufArchitecture, configFromGguf } from './config-sources.js';
import type { LoadedModel } from './loaded.js';
import { globalName, LAYER_KEYS, nameOf, type LayerKey, type NameFormat } from './names.js';
import { ggufReader, type WeightKey, type WeightReader } from './weight-readers.js';
import type { LayerWeights, LlamaWeights } from './weights.js';

/** An opened checkpoint: its config, a reader of its weights (the caller closes it), its metadata. */
export interface Opened {
  readonly config: LlamaConfig;
  readonly reader: WeightReader;
  readonly format: NameFormat;
  readonly file: string;
  readonly metadata: Record<string, unknown>;
}

/** The Opened of a GGUF file (closed again if it is not a LLaMA model we can run). */
export function openedGguf(g: GgufFile): Opened {
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
export function lazyWeights(c: LlamaConfig, r: WeightReader, format: NameFormat, file: string): LazyWeight[] {
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
export function readAll(c: LlamaConfig, weights: readonly LazyWeight[]): LlamaWeights {
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

/**
 * The LoadedModel around `weights`. close() (= dispose() = [Symbol.dispose]()) drops the references
 * to the weights and releases their file mappings (formats/mmap.ts: unmapped at once when the native
 * addon can, else left to the GC). After close, `weights` throws: a model built with
 * LlamaModel.create holds its own copy (native) or references (js) and keeps working.
 */
export function loadedModel(lazy: LazyModel, weights: LlamaWeights): LoadedModel {
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
