// Convert any readable model to GGUF v3 (optionally quantized) or to a Hugging Face safetensors
// folder (model.safetensors + config.json + tokenizer + tokenizer_config.json). Tokenizer and config
// metadata are carried along: for GGUF, `tokenizer.*` keys are copied from a GGUF source or
// generated from a tokenizer file beside the model; for HF, a tokenizer.model / tokenizer.json is
// copied and any other tokenizer (a GGUF's vocabulary, a llama2.c tokenizer.bin) written as
// tokenizer.json. A tokenizer that does not fit the model is refused (TOKENIZER_MISMATCH).
//
// Tensor types (--type): a llama.cpp file type. Each 2-D weight gets the type llama-quantize would
// give it (quant-mix.ts: the output matrix gets Q6_K below 8 bits, Q4_K_M raises some attn_v and
// ffn_down layers, ...); 1-D weights (norms, rope_freqs) stay F32 in GGUF, as llama.cpp keeps them.
// A type whose block does not divide a row falls back as llama.cpp does for K-quants (Q4_K -> Q5_0,
// Q6_K -> Q8_0: 32-value blocks), and to F16 when not even 32 divides the row, with a logged notice.
// Without --type every tensor keeps its type when the target can store it (quantized tensors become
// F32 in safetensors). A GGUF -> GGUF conversion also keeps llama-quantize's key and tensor order,
// so its output is byte-identical to llama-quantize's (checked on golden/quant).
//
// Weights are read lazily: the writers pull one tensor at a time, so a model is never in memory twice.
import { existsSync, mkdirSync, readFileSync, statSync } from '../platform/fs.js';
import { basename, dirname, extname, join } from '../platform/path.js';
import { LlamaError, UsageError } from '../errors.js';
import { openGguf, type GgufValue } from '../formats/gguf.js';
import { GENERAL, GGML_QUANT_VERSION, TOKENIZER, TOKENIZER_MODEL } from '../formats/gguf-keys.js';
import { gv, writeGgufAsync, type LazyTensor } from '../formats/gguf-write.js';
import { writeSafetensorsAsync, type TensorToWrite } from '../formats/safetensors.js';
import { writeFileAtomic } from '../formats/file-io.js';
import { DType, dtypeInfo, dtypeName } from '../tensor/dtype.js';
import { dequantize, quantize } from '../tensor/quant.js';
import { makeTensor, numElements, type HostTensor } from '../tensor/tensor.js';
import { loadTokenizer, tokenizerToGgufMetadata } from '../tokenizer/load.js';
import { hfTokenizerConfig, tokenizerToHfJson } from '../tokenizer/hf.js';
import { hintedAsync } from '../formats/hints.js';
import { tokenizerFits } from './tokenizer-fit.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import type { LlamaConfig } from './config.js';
import { openModelLazy, type LazyModel, type LazyWeight } from './load.js';
import { nameOf, permuteToHf } from './names.js';
import { llama3RopeFactors } from './rope-factors.js';
import { FILE_TYPES, fileTypeOfDType, mixType, type FileTypeName } from './quant-mix.js';
import { hfConfigJson, llamaGgufKeys, ropeFreqsTensor } from './model-files.js';

/** --type values: llama.cpp file types (q4_k is llama.cpp's Q4_K_S mix, q4_k_m its Q4_K_M mix). */
export const CONVERT_TYPES = FILE_TYPES;
export type ConvertType = FileTypeName;
export type ConvertFormat = 'gguf' | 'safetensors';

export interface ConvertOptions {
  readonly type?: ConvertType | undefined;
  readonly format?: ConvertFormat | undefined;
  /** tokenizer file to carry along (default: the one found beside the model) */
  readonly tokenizerPath?: string | undefined;
  /** notices (fallback types, dropped metadata) go here; default: nowhere */
  readonly log?: ((msg: string) => void) | undefined;
  /** called after each tensor is written: source bytes done so far, and in total */
  readonly progress?: ((doneBytes: number, totalBytes: number) => void) | undefined;
  /** aborting stops the GGUF write between tensors, removes its temp file and throws CANCELLED */
  readonly signal?: AbortSignal | undefined;
}

export interface ConvertResult {
  readonly format: ConvertFormat;
  /** files written */
  readonly files: readonly string[];
  readonly bytes: number;
  readonly tensors: readonly { name: string; type: string; shape: readonly number[] }[];
}

function makeDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new LlamaError('FILE_WRITE', `cannot create the output folder: ${(e as Error).message}`, { file: dir, hint: 'check that the parent folder exists and is writable' });
  }
}

/** Output format from --format or OUT: *.gguf -> gguf; *.safetensors or a directory -> safetensors. */
export function outputFormat(out: string, format?: ConvertFormat): ConvertFormat {
  if (format) return format;
  if (out.endsWith('.gguf')) return 'gguf';
  if (out.endsWith('.safetensors') || extname(out) === '' || (existsSync(out) && statSync(out).isDirectory())) return 'safetensors';
  throw new UsageError(`cannot tell the output format from '${out}'`, 'name it *.gguf, *.safetensors or a directory, or pass --format gguf|safetensors');
}

/** The type a block-quantized target falls back to when its block does not divide the row. */
function fitType(want: DType, rowLength: number, name: string, log: (m: string) => void): DType {
  let t = want;
  const fallbacks: Partial<Record<DType, DType>> = { [DType.Q4_K]: DType.Q5_0, [DType.Q6_K]: DType.Q8_0, [DType.Q5_0]: DType.F16, [DType.Q8_0]: DType.F16, [DType.Q4_0]: DType.F16 };
  while (rowLength % dtypeInfo(t).blockSize !== 0) {
    t = fallbacks[t] ?? DType.F16;
  }
  if (t !== want) log(`${name}: rows of ${rowLength} values are not a multiple of ${dtypeName(want)}'s ${dtypeInfo(want).blockSize}-value blocks; using ${dtypeName(t)}`);
  return t;
}

function convertTensor(t: HostTensor, to: DType, name: string): HostTensor {
  if (t.type === to) return makeTensor(name, to, t.shape, t.data);
  const n = numElements(t.shape);
  const f = dequantize(t.type, t.data, n);
  return makeTensor(name, to, t.shape, quantize(to, f, t.shape.length ? t.shape[t.shape.length - 1]! : 1));
}


/**
 * general.name: the source's own name if it has one, else (as convert_hf_to_gguf.py does) the model
 * folder's name for HF/Meta checkpoints, the file's stem for single-file formats.
 */
function modelName(m: LazyModel): string {
  const n = m.metadata[GENERAL.NAME] ?? m.metadata._name_or_path;
  if (typeof n === 'string' && n !== '') return n;
  const isDir = existsSync(m.path) && statSync(m.path).isDirectory();
  if (m.format === 'safetensors' || m.format === 'meta') return basename(isDir ? m.path : dirname(m.path)) || 'model';
  return basename(m.path).replace(/\.(gguf|safetensors|bin|pth)$/, '') || 'model';
}

/** tokenizer.* metadata: from a GGUF source, else from a tokenizer file, else "none". */
function tokenizerKeys(m: LazyModel, tokenizerPath: string | undefined, log: (s: string) => void): [string, GgufValue][] {
  if (m.format === 'gguf' && tokenizerPath === undefined) {
    const g = openGguf(m.path);
    try {
      const out = [...g.metadata].filter(([k]) => k.startsWith('tokenizer.'));
      if (out.length > 0) return out;
    } finally {
      g.close();
    }
  }
  if (tokenizerPath !== undefined) {
    const tok = loadTokenizer(tokenizerPath);
    // a conversion may embed any vocabulary on purpose (e.g. to test it): warn, do not refuse
    if (tok.vocabSize !== m.config.vocabSize) log(`${tokenizerFits(tok, m.config) ? 'note' : 'warning'}: tokenizer ${tokenizerPath} has ${tok.vocabSize} tokens but the model has ${m.config.vocabSize} embeddings; embedding it anyway${tokenizerFits(tok, m.config) ? '' : ' (the output will not run as is)'}`);
    return [...tokenizerToGgufMetadata(tok)];
  }
  log('no tokenizer found beside the model; writing tokenizer.ggml.model = "none" (pass --tokenizer FILE to embed one)');
  return [[TOKENIZER.MODEL, gv.str(TOKENIZER_MODEL.NONE)]];
}

function layerOf(name: string): number {
  const m = /^blk\.(\d+)\./.exec(name);
  return m ? Number(m[1]) : -1;
}

/** llama.cpp's tensor order: by layer (global tensors first), then by name. */
export function compareLlamaCppNames(a: string, b: string): number {
  const la = layerOf(a);
  const lb = layerOf(b);
  if (la !== lb) return la - lb;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Counts source bytes as the writers pull tensors, for a progress display. */
type Tick = (bytes: number) => void;

/** A weight converted to `to` (and renamed) when the writer asks for its bytes. */
function lazyConverted(w: LazyWeight, to: DType, name: string, tick: Tick, post?: (t: HostTensor) => HostTensor): LazyTensor {
  return {
    name,
    type: to,
    shape: w.shape,
    read: () => {
      const t = convertTensor(w.read(), to, name);
      const out = (post ? post(t) : t).data;
      tick(w.bytes);
      return out;
    },
  };
}

async function toGguf(m: LazyModel, out: string, ft: FileTypeName | undefined, tokenizerPath: string | undefined, log: (s: string) => void, tick: Tick, signal: AbortSignal | undefined): Promise<ConvertResult> {
  const tensors: (LazyTensor | HostTensor)[] = [];
  let anyQuant = false;
  const mainTypes = new Map<DType, number>();
  for (const w of m.weights) {
    const name = nameOf('gguf', w.key, w.layer)!;
    let to: DType;
    if (w.shape.length < 2) to = DType.F32;
    else if (ft === undefined) to = w.type;
    else to = fitType(mixType(ft, w.key, w.layer, m.config), w.shape[w.shape.length - 1]!, name, log);
    if (dtypeInfo(to).quantized) anyQuant = true;
    if (w.shape.length >= 2) mainTypes.set(to, (mainTypes.get(to) ?? 0) + 1);
    tensors.push(lazyConverted(w, to, name, tick));
  }
  // Llama 3.1 scaling from an HF/Meta config becomes rope_freqs.weight, as llama.cpp's converter does.
  const c = m.config;
  const ropeFreqs = m.weights.some((w) => w.key === 'ropeFreqs') ? undefined : ropeFreqsTensor(c);
  if (ropeFreqs) tensors.push(ropeFreqs);
  // llama-quantize writes tensors in its loader's order: global tensors first, then by layer, each
  // group by name (llama.cpp weight_name_comparer). GGUF -> GGUF conversions keep that order.
  if (m.format === 'gguf') tensors.sort((a, b) => compareLlamaCppNames(a.name, b.name));
  const dominant = [...mainTypes].sort((a, b) => b[1] - a[1])[0]?.[0] ?? DType.F32;
  // the requested file type; without --type a GGUF source keeps its own, others are named by their main type
  const sourceFileType = m.format === 'gguf' && typeof m.metadata[GENERAL.FILE_TYPE] === 'number' ? (m.metadata[GENERAL.FILE_TYPE] as number) : undefined;
  const fileType = ft !== undefined ? FILE_TYPES[ft].fileType : (sourceFileType ?? fileTypeOfDType(dominant));
  const llama = new Map(llamaGgufKeys(c));
  const metadata = new Map<string, GgufValue>();
  if (m.format === 'gguf') {
    // llama-quantize's layout: every key of the source in its order (llama.* values are the ones the
    // config came from), then general.quantization_version and general.file_type moved to the end.
    const g = openGguf(m.path);
    try {
      for (const [k, v] of g.metadata) {
        if (k === GENERAL.FILE_TYPE || k === GENERAL.QUANTIZATION_VERSION || k === GENERAL.ALIGNMENT) continue;
        if (k.startsWith('tokenizer.') && tokenizerPath !== undefined) continue; // replaced by the given tokenizer
        metadata.set(k, llama.get(k) ?? v);
      }
    } finally {
      g.close();
    }
    for (const [k, v] of llama) if (!metadata.has(k)) metadata.set(k, v);
    if (tokenizerPath !== undefined || ![...metadata.keys()].some((k) => k.startsWith('tokenizer.'))) {
      for (const [k, v] of tokenizerKeys(m, tokenizerPath, log)) metadata.set(k, v);
    }
    // llama-quantize stamps the quantization version on every file it writes, F16 ones included
    if (anyQuant || ft !== undefined) metadata.set(GENERAL.QUANTIZATION_VERSION, gv.u32(GGML_QUANT_VERSION));
    if (fileType !== undefined) metadata.set(GENERAL.FILE_TYPE, gv.u32(fileType));
  } else {
    // gguf-py's order (GGUFWriter as convert_hf_to_gguf.py drives it): general.*, llama.*, tokenizer.*
    metadata.set(GENERAL.ARCHITECTURE, gv.str('llama'));
    metadata.set(GENERAL.TYPE, gv.str('model'));
    metadata.set(GENERAL.NAME, gv.str(modelName(m)));
    if (fileType !== undefined) metadata.set(GENERAL.FILE_TYPE, gv.u32(fileType));
    if (anyQuant) metadata.set(GENERAL.QUANTIZATION_VERSION, gv.u32(GGML_QUANT_VERSION));
    for (const [k, v] of llama) metadata.set(k, v);
    for (const [k, v] of tokenizerKeys(m, tokenizerPath, log)) metadata.set(k, v);
  }
  const bytes = await writeGgufAsync(out, { metadata, tensors }, { signal });
  return { format: 'gguf', files: [out], bytes, tensors: tensors.map((t) => ({ name: t.name, type: dtypeName(t.type), shape: t.shape })) };
}

export { hfConfigJson } from './model-files.js';

/** Recognise GGUF rope_freqs as Meta's standard Llama 3.1 scaling, so HF can express it. */
function ropeScalingFromFactors(m: LazyModel): LlamaConfig['ropeScaling'] {
  const w = m.weights.find((x) => x.key === 'ropeFreqs');
  if (!w) return m.config.ropeScaling;
  const rf = w.read();
  const got = dequantize(rf.type, rf.data, numElements(rf.shape));
  const std = { type: 'llama3' as const, factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContextLength: 8192 };
  const want = llama3RopeFactors(m.config.headDim, m.config.ropeTheta, std);
  if (got.length === want.length && got.every((v, i) => Math.abs(v - want[i]!) <= 1e-5 * Math.abs(want[i]!))) return std;
  throw new LlamaError('FORMAT_UNSUPPORTED', 'rope_freqs.weight holds RoPE factors that are not the standard Llama 3.1 scaling; config.json cannot express them', { file: m.path, hint: 'convert to GGUF instead' });
}

async function toSafetensors(m: LazyModel, out: string, type: DType | undefined, tokenizerPath: string | undefined, log: (s: string) => void, tick: Tick, signal: AbortSignal | undefined): Promise<ConvertResult> {
  const file = out.endsWith('.safetensors') ? out : join(out, 'model.safetensors');
  const dir = dirname(file);
  if (type !== undefined && dtypeInfo(type).quantized) throw new UsageError(`safetensors cannot store ${dtypeName(type)}`, 'use --type f32, f16 or bf16, or write GGUF');
  makeDir(dir);
  const c = m.config;
  const ropeScaling = ropeScalingFromFactors(m);
  const tensors: TensorToWrite[] = [];
  const types = new Map<DType, number>();
  for (const w of m.weights) {
    if (w.key === 'ropeFreqs') continue; // expressed as rope_scaling in config.json
    const name = nameOf('hf', w.key, w.layer)!;
    let to = type ?? w.type;
    if (dtypeInfo(to).quantized) to = DType.F32;
    const permute = w.key === 'wq' ? (t: HostTensor) => permuteToHf(t, c.nHeads) : w.key === 'wk' ? (t: HostTensor) => permuteToHf(t, c.nKvHeads) : undefined;
    types.set(to, (types.get(to) ?? 0) + 1);
    tensors.push(lazyConverted(w, to, name, tick, permute));
  }
  const dominant = [...types].sort((a, b) => b[1] - a[1])[0]?.[0] ?? DType.F32;
  const bytes = await writeSafetensorsAsync(file, tensors, { format: 'pt' }, { signal });
  // token ids for config.json: the tokenizer's, else a GGUF source's metadata, else LLaMA's 1/2
  const mdId = (k: string, dflt: number) => (typeof m.metadata[k] === 'number' ? (m.metadata[k] as number) : dflt);
  let bos = mdId(TOKENIZER.BOS_ID, 1);
  let eos = mdId(TOKENIZER.EOS_ID, 2);
  const files = [file];
  // the tokenizer: a tokenizer.model / tokenizer.json file is copied as is; any other (a GGUF's
  // vocabulary, a llama2.c tokenizer.bin) is written as tokenizer.json; plus tokenizer_config.json
  let tok: Tokenizer | undefined;
  const tokSource = tokenizerPath ?? (m.format === 'gguf' && ggufHasVocabulary(m) ? m.path : undefined);
  if (tokSource !== undefined) {
    tok = loadTokenizer(tokSource);
    if (!tokenizerFits(tok, c)) log(`warning: tokenizer ${tokSource} has ${tok.vocabSize} tokens but the model has ${c.vocabSize} embeddings; writing it anyway (the output will not run as is)`);
    bos = tok.bosId ?? bos;
    eos = tok.eosId ?? eos;
    const base = basename(tokSource);
    if (base === 'tokenizer.model' || base === 'tokenizer.json') {
      const dst = join(dir, base);
      if (dst !== tokSource) writeFileAtomic(dst, readFileSync(tokSource));
      files.push(dst);
    } else {
      const dst = join(dir, 'tokenizer.json');
      writeFileAtomic(dst, tokenizerToHfJson(tok));
      files.push(dst);
      log(`the tokenizer of ${base} was written as tokenizer.json`);
    }
    const tc = join(dir, 'tokenizer_config.json');
    writeFileAtomic(tc, JSON.stringify(hfTokenizerConfig(tok, c.contextLength), null, 2) + '\n');
    files.push(tc);
  } else {
    log('no tokenizer found for the model; the HF folder has none (pass --tokenizer FILE to add one)');
  }
  const cfgPath = join(dir, 'config.json');
  const cfg = hfConfigJson({ ...c, ropeScaling }, dominant, bos, eos);
  writeFileAtomic(cfgPath, JSON.stringify(cfg, null, 2) + '\n');
  files.push(cfgPath);
  return { format: 'safetensors', files, bytes, tensors: tensors.map((t) => ({ name: t.name, type: dtypeName(t.type), shape: t.shape })) };
}

/** Whether a GGUF source carries a vocabulary (tokenizer.ggml.tokens) in its metadata. */
function ggufHasVocabulary(m: LazyModel): boolean {
  const model = m.metadata[TOKENIZER.MODEL];
  return Array.isArray(m.metadata[TOKENIZER.TOKENS]) && model !== TOKENIZER_MODEL.NONE && model !== TOKENIZER_MODEL.NO_VOCAB;
}

/** Read `input` (any format loadModel reads) and write it to `output`. */
export async function convertModel(input: string, output: string, opts: ConvertOptions = {}): Promise<ConvertResult> {
  return hintedAsync(() => convert(input, output, opts));
}

async function convert(input: string, output: string, opts: ConvertOptions): Promise<ConvertResult> {
  const format = outputFormat(output, opts.format);
  const log = opts.log ?? (() => {});
  if (opts.type !== undefined && !(opts.type in FILE_TYPES)) throw new UsageError(`unknown --type ${opts.type}`, `types: ${Object.keys(FILE_TYPES).join(', ')}`);
  const ft = opts.type;
  // Weights stay on disk until the writer asks for them: one tensor (and its converted copy) in memory at a time.
  const m = await openModelLazy(input, { tokenizerPath: opts.tokenizerPath });
  let done = 0;
  const tick: Tick = (bytes) => {
    done += bytes;
    opts.progress?.(done, m.weightBytes);
  };
  try {
    if (format === 'gguf') {
      makeDir(dirname(output));
      return await toGguf(m, output, ft, m.tokenizerPath, log, tick, opts.signal);
    }
    return await toSafetensors(m, output, ft !== undefined ? FILE_TYPES[ft].base : undefined, m.tokenizerPath, log, tick, opts.signal);
  } finally {
    m.close();
  }
}

