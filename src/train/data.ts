// Training data: text sources tokenized into binary token shards with a train/validation split,
// and a seeded sampler that draws fixed-length windows from the sources in the proportions of a
// mixture (the LLaMA paper's Table 1 idea: each source has a sampling weight).
//
// Shard file (little-endian), one per source and split:
//   0  'LTOK'   magic
//   4  u32      version (1)
//   8  u32      bytes per token (2 or 4: uint16 when vocab <= 65536)
//  12  u32      vocab size
//  16  u64      token count
//  24  tokens
import { closeSync, openSync, readFileSync, readSync, statSync, fstatSync } from 'node:fs';
import { writeFileAtomic } from '../formats/file-io.js';
import { LlamaError } from '../errors.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { Rng } from './rng.js';

const MAGIC = 0x4b4f544c; // 'LTOK' read as u32 LE
const HEADER = 24;

export function writeShard(path: string, tokens: ArrayLike<number>, vocabSize: number): void {
  const bpt = vocabSize <= 65536 ? 2 : 4;
  const buf = Buffer.alloc(HEADER + tokens.length * bpt);
  buf.writeUInt32LE(MAGIC, 0);
  buf.writeUInt32LE(1, 4);
  buf.writeUInt32LE(bpt, 8);
  buf.writeUInt32LE(vocabSize, 12);
  buf.writeBigUInt64LE(BigInt(tokens.length), 16);
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (!(t >= 0 && t < vocabSize)) throw new LlamaError('DATA', `token ${t} at ${i} is outside the vocabulary (0..${vocabSize - 1})`, { file: path });
    if (bpt === 2) buf.writeUInt16LE(t, HEADER + 2 * i);
    else buf.writeUInt32LE(t, HEADER + 4 * i);
  }
  writeFileAtomic(path, buf);
}

export interface Shard {
  readonly path: string;
  readonly vocabSize: number;
  readonly tokens: Uint16Array | Uint32Array;
}

export function readShard(path: string): Shard {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new LlamaError('FILE_NOT_FOUND', 'cannot open token shard', { file: path, hint: 'run `llama prepare` (or train with a config that prepares the data) first', cause: e });
  }
  try {
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(HEADER);
    if (size < HEADER || readSync(fd, head, 0, HEADER, 0) !== HEADER) throw new LlamaError('FORMAT_TRUNCATED', `a token shard needs a ${HEADER}-byte header; the file has ${size} bytes`, { file: path });
    if (head.readUInt32LE(0) !== MAGIC) throw new LlamaError('FORMAT_MAGIC', 'not a token shard (no LTOK magic)', { file: path });
    if (head.readUInt32LE(4) !== 1) throw new LlamaError('FORMAT_VERSION', `token shard version ${head.readUInt32LE(4)} is not supported (expected 1)`, { file: path });
    const bpt = head.readUInt32LE(8);
    if (bpt !== 2 && bpt !== 4) throw new LlamaError('FORMAT_CORRUPT', `bytes per token must be 2 or 4, got ${bpt}`, { file: path });
    const vocabSize = head.readUInt32LE(12);
    const count = head.readBigUInt64LE(16);
    // check the declared length against the file before allocating anything from it
    if (BigInt(size) !== BigInt(HEADER) + count * BigInt(bpt)) {
      throw new LlamaError('FORMAT_TRUNCATED', `header declares ${count} tokens (${BigInt(HEADER) + count * BigInt(bpt)} bytes) but the file has ${size} bytes`, { file: path });
    }
    const n = Number(count);
    const body = Buffer.alloc(n * bpt);
    if (n > 0 && readSync(fd, body, 0, body.length, HEADER) !== body.length) throw new LlamaError('FILE_READ', 'short read', { file: path });
    const tokens = bpt === 2 ? new Uint16Array(n) : new Uint32Array(n);
    for (let i = 0; i < n; i++) tokens[i] = bpt === 2 ? body.readUInt16LE(2 * i) : body.readUInt32LE(4 * i);
    for (let i = 0; i < n; i++) if (tokens[i]! >= vocabSize) throw new LlamaError('FORMAT_CORRUPT', `token ${tokens[i]} at ${i} is outside the declared vocabulary of ${vocabSize}`, { file: path });
    return { path, vocabSize, tokens };
  } finally {
    closeSync(fd);
  }
}

/** Write a file as a whole or not at all: temporary file in the same folder, then rename. */
export interface SourceSpec {
  readonly name: string;
  /** text files, concatenated in this order */
  readonly files: readonly string[];
  /** sampling weight in the mixture (need not sum to 1) */
  readonly weight: number;
  /** fraction of the text (from its end) kept for validation; default 0.1 */
  readonly valFraction?: number;
}

export interface PreparedSource {
  readonly name: string;
  readonly weight: number;
  readonly train: string;
  readonly val: string;
  readonly trainTokens: number;
  readonly valTokens: number;
}

/**
 * Split a text into train and validation parts at a line boundary: the last `valFraction` of the
 * characters (moved forward to the next newline) is validation. Deterministic, no shuffling, so
 * the validation text is a contiguous unseen stretch.
 */
export function splitText(text: string, valFraction: number): { train: string; val: string } {
  if (!(valFraction > 0 && valFraction < 1)) throw new LlamaError('TRAIN_CONFIG', `valFraction must be in (0, 1), got ${valFraction}`);
  let cut = Math.floor(text.length * (1 - valFraction));
  const nl = text.indexOf('\n', cut);
  if (nl >= 0) cut = nl + 1;
  return { train: text.slice(0, cut), val: text.slice(cut) };
}

/**
 * Tokenize a text as documents separated by blank lines, each starting with BOS. Blank-line
 * paragraphs keep SentencePiece's per-segment dummy prefix sensible and give the model the
 * document starts it sees at generation time (a prompt starts with BOS).
 */
export function tokenizeText(tok: Tokenizer, text: string): number[] {
  const out: number[] = [];
  for (const para of text.split(/\n\s*\n/)) {
    const p = para.replace(/^\n+|\n+$/g, '');
    if (p.length === 0) continue;
    const ids = tok.encode(p, { addBos: true, addEos: false });
    for (const id of ids) out.push(id);
  }
  return out;
}

export function prepareSource(spec: SourceSpec, tok: Tokenizer, outPrefix: string): PreparedSource {
  let text = '';
  for (const f of spec.files) {
    try {
      text += readFileSync(f, 'utf8');
    } catch (e) {
      throw new LlamaError('FILE_NOT_FOUND', `cannot read text of source '${spec.name}'`, { file: f, cause: e });
    }
    if (!text.endsWith('\n')) text += '\n';
  }
  const { train, val } = splitText(text, spec.valFraction ?? 0.1);
  const trainIds = tokenizeText(tok, train);
  const valIds = tokenizeText(tok, val);
  const trainPath = `${outPrefix}${spec.name}.train.bin`;
  const valPath = `${outPrefix}${spec.name}.val.bin`;
  writeShard(trainPath, trainIds, tok.vocabSize);
  writeShard(valPath, valIds, tok.vocabSize);
  return { name: spec.name, weight: spec.weight, train: trainPath, val: valPath, trainTokens: trainIds.length, valTokens: valIds.length };
}

export interface LoadedSource {
  readonly name: string;
  readonly weight: number;
  readonly train: Shard;
  readonly val: Shard;
}

/** A window of seqLen+1 tokens: inputs are the first seqLen, targets the last seqLen. */
export interface Sample {
  readonly source: number;
  readonly inputs: number[];
  readonly targets: number[];
}

/**
 * Draws training windows: a source with probability proportional to its weight, then a uniformly
 * random start. All randomness comes from one seeded Rng whose state is the data position saved in
 * checkpoints.
 */
export class MixtureSampler {
  private readonly cumulative: number[];

  constructor(readonly sources: readonly LoadedSource[], readonly seqLen: number, readonly rng: Rng) {
    let acc = 0;
    const total = sources.reduce((s, x) => s + x.weight, 0);
    if (!(total > 0)) throw new LlamaError('TRAIN_CONFIG', 'the data mixture needs at least one source with a positive weight');
    this.cumulative = sources.map((s) => (acc += s.weight / total));
    for (const s of sources) {
      if (s.weight > 0 && s.train.tokens.length < seqLen + 1) {
        throw new LlamaError('DATA', `source '${s.name}' has ${s.train.tokens.length} training tokens, fewer than one window of ${seqLen + 1}`, { file: s.train.path, hint: 'use a shorter seqLen or more text' });
      }
    }
  }

  next(): Sample {
    const u = this.rng.uniform();
    let si = this.cumulative.findIndex((c) => u < c);
    if (si < 0) si = this.sources.length - 1;
    while (this.sources[si]!.weight <= 0) si--; // float edge: never pick a zero-weight source
    const toks = this.sources[si]!.train.tokens;
    const start = this.rng.int(toks.length - this.seqLen);
    const w = Array.from(toks.subarray(start, start + this.seqLen + 1));
    return { source: si, inputs: w.slice(0, this.seqLen), targets: w.slice(1) };
  }
}

/** Consecutive non-overlapping validation windows of a shard, at most maxTokens targets in all. */
export function validationWindows(shard: Shard, seqLen: number, maxTokens: number): { inputs: number[]; targets: number[] }[] {
  const out: { inputs: number[]; targets: number[] }[] = [];
  const toks = shard.tokens;
  for (let s = 0; s + seqLen + 1 <= toks.length && (out.length + 1) * seqLen <= maxTokens; s += seqLen) {
    const w = Array.from(toks.subarray(s, s + seqLen + 1));
    out.push({ inputs: w.slice(0, seqLen), targets: w.slice(1) });
  }
  return out;
}

/** Unigram baseline: cross-entropy (nats/token) of the training split's token frequencies on `evalTokens`. */
export function unigramLoss(trainTokens: ArrayLike<number>, evalTokens: ArrayLike<number>, vocabSize: number): number {
  const counts = new Float64Array(vocabSize);
  for (let i = 0; i < trainTokens.length; i++) counts[trainTokens[i]!]!++;
  // add-one smoothing so unseen tokens have finite loss
  const total = trainTokens.length + vocabSize;
  let nll = 0;
  for (let i = 0; i < evalTokens.length; i++) nll -= Math.log((counts[evalTokens[i]!]! + 1) / total);
  return nll / evalTokens.length;
}

/**
 * Bigram baseline: cross-entropy (nats/token) of P(b | a) = (count(a b) + α·P_uni(b)) / (count(a) + α)
 * estimated on the training split (Dirichlet smoothing towards the add-one unigram, α = 1, fixed in
 * advance, not tuned on the evaluation text). The first evaluation token is scored by the unigram.
 */
export function bigramLoss(trainTokens: ArrayLike<number>, evalTokens: ArrayLike<number>, vocabSize: number, alpha = 1): number {
  const uni = new Float64Array(vocabSize);
  for (let i = 0; i < trainTokens.length; i++) uni[trainTokens[i]!]!++;
  const total = trainTokens.length + vocabSize;
  const pUni = (b: number) => (uni[b]! + 1) / total;
  const pairs = new Map<number, number>();
  const ctx = new Float64Array(vocabSize);
  for (let i = 0; i + 1 < trainTokens.length; i++) {
    const key = trainTokens[i]! * vocabSize + trainTokens[i + 1]!;
    pairs.set(key, (pairs.get(key) ?? 0) + 1);
    ctx[trainTokens[i]!]!++;
  }
  let nll = evalTokens.length > 0 ? -Math.log(pUni(evalTokens[0]!)) : 0;
  for (let i = 1; i < evalTokens.length; i++) {
    const a = evalTokens[i - 1]!, b = evalTokens[i]!;
    nll -= Math.log(((pairs.get(a * vocabSize + b) ?? 0) + alpha * pUni(b)) / (ctx[a]! + alpha));
  }
  return nll / evalTokens.length;
}

export function fileExists(p: string): boolean {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
}
