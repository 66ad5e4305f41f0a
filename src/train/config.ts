// The training configuration: one JSON file (`llama train --config FILE.json`), every field
// overridable by a flag. Paths inside the file are relative to the file's folder.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { LlamaError } from '../errors.js';
import { metaFfnDim, validateConfig, type LlamaConfig } from '../model/config.js';
import type { SourceSpec } from './data.js';

export interface ModelShape {
  readonly dim: number;
  readonly nLayers: number;
  readonly nHeads: number;
  /** default nHeads */
  readonly nKvHeads?: number;
  /** SwiGLU hidden size; default Meta's rule round_up(int(8·dim/3), multipleOf) */
  readonly ffnDim?: number;
  readonly multipleOf?: number;
  readonly normEps?: number;
  readonly ropeTheta?: number;
  readonly tiedEmbeddings?: boolean;
}

export type TokenizerSpec =
  | { readonly type: 'char' }
  /** any tokenizer file the project loads (tokenizer.model, tokenizer.json, a GGUF) */
  | { readonly type: 'file'; readonly path: string };

export interface TrainConfig {
  readonly seed: number;
  readonly model: ModelShape;
  readonly tokenizer: TokenizerSpec;
  readonly data: { readonly dir: string; readonly sources: readonly SourceSpec[] };
  /** tokens per training sequence (= the model's context length) */
  readonly seqLen: number;
  /** tokens per optimizer step; a multiple of seqLen (gradient accumulation over batchTokens/seqLen sequences) */
  readonly batchTokens: number;
  readonly maxSteps: number;
  readonly lr: number;
  readonly warmupSteps: number;
  /** cosine floor as a fraction of lr (paper: 0.1) */
  readonly minLrRatio: number;
  /** where the cosine reaches its floor; default maxSteps */
  readonly decaySteps?: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly gradClip: number;
  /** validation every N steps (0: only at the end) */
  readonly evalEvery: number;
  /** validation tokens per source */
  readonly evalTokens: number;
  /** checkpoint every N steps (0: only at the end and on Ctrl-C) */
  readonly checkpointEvery: number;
  /** also keep a copy of every periodic checkpoint as checkpoint-STEP.bin */
  readonly keepCheckpoints: boolean;
  /** output folder: checkpoint.bin, log.jsonl */
  readonly outDir: string;
  /** plain progress line every N steps when stderr is not a TTY */
  readonly logEvery: number;
  /** 'js', 'native' or 'auto' (native when it has training kernels, else js) */
  readonly backend: string;
  readonly threads: number;
}

export const TRAIN_DEFAULTS = {
  seed: 1,
  seqLen: 128,
  batchTokens: 4096,
  maxSteps: 1000,
  lr: 1e-3,
  warmupSteps: 100,
  minLrRatio: 0.1,
  beta1: 0.9,
  beta2: 0.95,
  eps: 1e-5,
  weightDecay: 0.1,
  gradClip: 1.0,
  evalEvery: 100,
  evalTokens: 8192,
  checkpointEvery: 100,
  keepCheckpoints: false,
  logEvery: 10,
  backend: 'auto',
  threads: 1,
  tokenizer: { type: 'char' } as TokenizerSpec,
} as const;

function fail(msg: string, file: string): never {
  throw new LlamaError('TRAIN_CONFIG', msg, { file, hint: 'see `llama train --help` for the config fields' });
}

/** Read a config file, apply defaults and overrides, resolve paths, and validate. */
export function loadTrainConfig(file: string, overrides: Partial<Record<keyof TrainConfig, unknown>> = {}): TrainConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new LlamaError('FILE_NOT_FOUND', 'training config not found', { file });
    throw new LlamaError('TRAIN_CONFIG', `not valid JSON: ${(e as Error).message}`, { file });
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('the config must be a JSON object', file);
  const base = dirname(resolve(file));
  const merged: Record<string, unknown> = { ...TRAIN_DEFAULTS, ...(raw as object) };
  for (const [k, v] of Object.entries(overrides)) if (v !== undefined) merged[k] = v;
  return resolveTrainConfig(merged, base, file);
}

/** The keys a training config may hold, per object (a typo is an error, not silently ignored). */
const KNOWN_KEYS = {
  '': ['seed', 'model', 'tokenizer', 'data', 'seqLen', 'batchTokens', 'maxSteps', 'lr', 'warmupSteps', 'minLrRatio', 'decaySteps', 'beta1', 'beta2', 'eps', 'weightDecay', 'gradClip', 'evalEvery', 'evalTokens', 'checkpointEvery', 'keepCheckpoints', 'outDir', 'logEvery', 'backend', 'threads'],
  'model.': ['dim', 'nLayers', 'nHeads', 'nKvHeads', 'ffnDim', 'multipleOf', 'normEps', 'ropeTheta', 'tiedEmbeddings'],
  'tokenizer.': ['type', 'path'],
  'data.': ['dir', 'sources'],
  'data.sources[].': ['name', 'files', 'weight', 'valFraction'],
} as const;

/** Levenshtein distance, case-insensitive (for "did you mean"). */
function editDistance(a: string, b: string): number {
  a = a.toLowerCase();
  b = b.toLowerCase();
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

function checkKeys(obj: unknown, where: keyof typeof KNOWN_KEYS, file: string, path = where as string): void {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return;
  const known: readonly string[] = KNOWN_KEYS[where];
  for (const k of Object.keys(obj)) {
    if (known.includes(k)) continue;
    const near = known.map((c) => [c, editDistance(k, c)] as const).sort((a, b) => a[1] - b[1])[0]!;
    const suggestion = near[1] <= Math.max(2, Math.floor(k.length / 3)) ? `did you mean "${path}${near[0]}"? ` : '';
    throw new LlamaError('TRAIN_CONFIG', `unknown config field "${path}${k}"`, { file, hint: `${suggestion}the fields of ${path ? `"${path.replace(/\.$/, '')}"` : 'the config'} are: ${known.join(', ')}` });
  }
}

export function resolveTrainConfig(m: Record<string, unknown>, baseDir: string, file: string): TrainConfig {
  checkKeys(m, '', file);
  checkKeys(m.model, 'model.', file);
  checkKeys(m.tokenizer, 'tokenizer.', file);
  checkKeys(m.data, 'data.', file);
  const dataSources = (m.data as { sources?: unknown } | undefined)?.sources;
  if (Array.isArray(dataSources)) dataSources.forEach((src, i) => checkKeys(src, 'data.sources[].', file, `data.sources[${i}].`));
  const rel = (p: unknown, what: string): string => {
    if (typeof p !== 'string' || p === '') fail(`${what} must be a path`, file);
    return isAbsolute(p) ? p : resolve(baseDir, p);
  };
  const num = (k: string, min: number, int = false): number => {
    const v = m[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || (int && !Number.isInteger(v))) fail(`${k} must be ${int ? 'an integer' : 'a number'} >= ${min}, got ${JSON.stringify(v)}`, file);
    return v;
  };
  const model = m.model as ModelShape | undefined;
  if (!model || typeof model !== 'object') fail('model {dim, nLayers, nHeads, ...} is required', file);
  const data = m.data as { dir?: unknown; sources?: unknown } | undefined;
  if (!data || typeof data !== 'object' || !Array.isArray(data.sources) || data.sources.length === 0) fail('data {dir, sources: [{name, files, weight}]} is required', file);
  const sources: SourceSpec[] = (data.sources as Record<string, unknown>[]).map((s, i) => {
    if (typeof s.name !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(s.name)) fail(`data.sources[${i}].name must be a simple name`, file);
    if (!Array.isArray(s.files) || s.files.length === 0) fail(`data.sources[${i}].files must list text files`, file);
    const weight = s.weight ?? 1;
    if (typeof weight !== 'number' || !(weight >= 0)) fail(`data.sources[${i}].weight must be >= 0`, file);
    const valFraction = s.valFraction ?? 0.1;
    if (typeof valFraction !== 'number' || !(valFraction > 0 && valFraction < 1)) fail(`data.sources[${i}].valFraction must be in (0, 1)`, file);
    return { name: s.name, files: (s.files as unknown[]).map((f) => rel(f, `data.sources[${i}].files`)), weight, valFraction };
  });
  const tokRaw = (m.tokenizer ?? { type: 'char' }) as { type?: unknown; path?: unknown };
  const tokenizer: TokenizerSpec = tokRaw.type === 'char' ? { type: 'char' } : tokRaw.type === 'file' ? { type: 'file', path: rel(tokRaw.path, 'tokenizer.path') } : fail('tokenizer.type must be "char" or "file"', file);
  const seqLen = num('seqLen', 2, true);
  const batchTokens = num('batchTokens', 1, true);
  if (batchTokens % seqLen !== 0) fail(`batchTokens ${batchTokens} must be a multiple of seqLen ${seqLen}`, file);
  const maxSteps = num('maxSteps', 1, true);
  const cfg: TrainConfig = {
    seed: num('seed', 0, true),
    model,
    tokenizer,
    data: { dir: rel(data.dir ?? 'data', 'data.dir'), sources },
    seqLen,
    batchTokens,
    maxSteps,
    lr: num('lr', 0),
    warmupSteps: num('warmupSteps', 0, true),
    minLrRatio: num('minLrRatio', 0),
    decaySteps: m.decaySteps === undefined ? undefined : num('decaySteps', 1, true),
    beta1: num('beta1', 0),
    beta2: num('beta2', 0),
    eps: num('eps', 0),
    weightDecay: num('weightDecay', 0),
    gradClip: num('gradClip', 0),
    evalEvery: num('evalEvery', 0, true),
    evalTokens: num('evalTokens', 1, true),
    checkpointEvery: num('checkpointEvery', 0, true),
    keepCheckpoints: m.keepCheckpoints === true,
    outDir: rel(m.outDir ?? 'run', 'outDir'),
    logEvery: num('logEvery', 1, true),
    backend: typeof m.backend === 'string' ? m.backend : 'auto',
    threads: num('threads', 1, true),
  };
  if (cfg.beta1 >= 1 || cfg.beta2 >= 1) fail('beta1 and beta2 must be < 1', file);
  return cfg;
}

/** The model hyper-parameters of a run (vocab from the tokenizer, context = seqLen). */
export function modelConfig(shape: ModelShape, vocabSize: number, seqLen: number, file = 'training config'): LlamaConfig {
  const nKvHeads = shape.nKvHeads ?? shape.nHeads;
  const c: LlamaConfig = {
    dim: shape.dim,
    nLayers: shape.nLayers,
    nHeads: shape.nHeads,
    nKvHeads,
    headDim: shape.dim / shape.nHeads,
    ffnDim: shape.ffnDim ?? metaFfnDim(shape.dim, shape.multipleOf ?? 32),
    vocabSize,
    normEps: shape.normEps ?? 1e-5,
    ropeTheta: shape.ropeTheta ?? 10000,
    contextLength: seqLen,
    tiedEmbeddings: shape.tiedEmbeddings ?? false,
  };
  if (!Number.isInteger(c.headDim)) throw new LlamaError('TRAIN_CONFIG', `model.dim ${shape.dim} is not a multiple of nHeads ${shape.nHeads}`, { file });
  return validateConfig(c, file);
}
