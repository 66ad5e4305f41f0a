// llama.cpp's KL-divergence comparison (examples/perplexity/perplexity.cpp, `--kl-divergence-base`,
// `--kl-divergence`), restated. The base file, little-endian:
//   "_logits_" (8 bytes), u32 n_ctx, i32 n_vocab, i32 n_chunk, i32 tokens[n_ctx·n_chunk], then per chunk
//   and per scored position (n_ctx − 1 − n_ctx/2 of them) one record of nv = 2·ceil(n_vocab/2) + 4
//   uint16: two float32 (scale, min_log_prob) then n_vocab quantized log-probabilities:
//   max = max logit, min = max(min logit, max − 16), lse = log Σ exp(logit − max),
//   min_log_prob = min − max − lse, scale = (max − min)/65535, q_i = round((logit_i − min)/scale) when
//   logit_i > min else 0; log p_i = scale·q_i + min_log_prob.
// Per position, against the current model's log-softmax: KL = Σ_{log p_base > −16} p_base·(log p_base −
// log q), whether the argmaxes agree, and Δp = q(token) − p_base(token). Statistics as llama.cpp
// reports them: mean ± sqrt(var/(n−1)) (0 when n ≤ 10), percentiles by linear interpolation.
import { closeSync, openSync, readFileSync, renameSync, unlinkSync, writeSync, fsyncSync } from 'node:fs';
import type { LlamaModel } from '../model/llama.js';
import type { DType } from '../tensor/dtype.js';
import { LlamaError } from '../errors.js';

const MAGIC = '_logits_';

export function recordWords(nVocab: number): number {
  return 2 * Math.floor((nVocab + 1) / 2) + 4;
}

/** one position's log-probabilities in llama.cpp's 16-bit form */
export function quantizeLogProbs(row: ArrayLike<number>, nVocab: number): Uint16Array {
  const rec = new Uint16Array(recordWords(nVocab));
  let max = row[0]!;
  let min = row[0]!;
  for (let i = 1; i < nVocab; i++) {
    if (row[i]! > max) max = row[i]!;
    if (row[i]! < min) min = row[i]!;
  }
  min = Math.max(min, max - 16);
  let sum = 0;
  for (let i = 0; i < nVocab; i++) sum += Math.exp(row[i]! - max);
  const lse = Math.fround(Math.log(sum));
  const minLogProb = Math.fround(min - max - lse);
  const scale = Math.fround((max - min) / 65535);
  const head = new Float32Array(rec.buffer, 0, 2);
  head[0] = scale;
  head[1] = minLogProb;
  if (scale) {
    const inv = 1 / scale;
    for (let i = 0; i < nVocab; i++) rec[4 + i] = row[i]! > min ? Math.round(inv * (row[i]! - min)) : 0;
  }
  return rec;
}

/** Writes the base file as the reference model's perplexity run goes (temp file + fsync + rename). */
export class KlBaseWriter {
  private readonly fd: number;
  private readonly tmp: string;
  constructor(private readonly path: string, nCtx: number, private readonly nVocab: number, nChunk: number, tokens: readonly number[]) {
    this.tmp = `${path}.tmp-${process.pid}`;
    this.fd = openSync(this.tmp, 'w');
    const head = Buffer.alloc(8 + 12);
    head.write(MAGIC, 0, 'latin1');
    head.writeUInt32LE(nCtx, 8);
    head.writeInt32LE(nVocab, 12);
    head.writeInt32LE(nChunk, 16);
    writeSync(this.fd, head);
    writeSync(this.fd, Buffer.from(Int32Array.from(tokens).buffer));
  }
  addRow(row: Float32Array): void {
    const rec = quantizeLogProbs(row, this.nVocab);
    writeSync(this.fd, Buffer.from(rec.buffer));
  }
  finish(): void {
    fsyncSync(this.fd);
    closeSync(this.fd);
    renameSync(this.tmp, this.path);
  }
  abort(): void {
    closeSync(this.fd);
    try {
      unlinkSync(this.tmp);
    } catch {
      /* already gone */
    }
  }
}

export interface KlBase {
  nCtx: number;
  nVocab: number;
  nChunk: number;
  tokens: Int32Array;
  /** all records, chunk after chunk */
  records: Uint16Array;
}

export function readKlBase(path: string): KlBase {
  const buf = readFileSync(path);
  if (buf.length < 20 || buf.toString('latin1', 0, 8) !== MAGIC) throw new LlamaError('FORMAT_MAGIC', `${path} does not look like a file containing log-probabilities`, { hint: 'write one with llama perplexity -f TEXT --kl-divergence-base FILE' });
  const nCtx = buf.readUInt32LE(8);
  const nVocab = buf.readInt32LE(12);
  const nChunk = buf.readInt32LE(16);
  const nTok = nCtx * nChunk;
  const perChunk = (nCtx - 1 - Math.floor(nCtx / 2)) * recordWords(nVocab);
  const need = 20 + 4 * nTok + 2 * perChunk * nChunk;
  if (buf.length < need) throw new LlamaError('FORMAT_TRUNCATED', `${path} has ${buf.length} bytes, ${need} expected for ${nChunk} chunks of ${nCtx} tokens`);
  const copy = new Uint8Array(buf.subarray(20, need)); // aligned copy
  return { nCtx, nVocab, nChunk, tokens: new Int32Array(copy.buffer, 0, nTok), records: new Uint16Array(copy.buffer, 4 * nTok, perChunk * nChunk) };
}

interface Sums {
  nll: number; nll2: number; nllBase: number; nllBase2: number; nllNllBase: number;
  kld: number; kld2: number; pDiff: number; pDiff2: number; pDiff4: number; maxPDiff: number; sameTop: number; count: number;
}

export interface KlSummary {
  positions: number;
  ppl: number; pplUnc: number; pplBase: number; pplBaseUnc: number;
  lnPplRatio: number; lnPplRatioUnc: number;
  meanKld: number; meanKldUnc: number; maxKld: number; medianKld: number; kld99: number; kld999: number;
  meanDeltaP: number; meanDeltaPUnc: number; rmsDeltaP: number; rmsDeltaPUnc: number; maxAbsDeltaP: number;
  sameTop: number; sameTopUnc: number;
}

export interface KlResult {
  summary: KlSummary;
}

function meanUnc(sum: number, sum2: number, n: number): [number, number] {
  if (n < 1) return [0, 0];
  const f = sum / n;
  const v = sum2 / n - f * f;
  return [f, v > 0 && n > 10 ? Math.sqrt(v / (n - 1)) : 0];
}

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  if (q <= 0) return sorted[0]!;
  if (q >= 1) return sorted[sorted.length - 1]!;
  let p = q * (sorted.length - 1);
  const ip = Math.floor(p);
  p -= ip;
  return (1 - p) * sorted[ip]! + p * sorted[Math.min(ip + 1, sorted.length - 1)]!;
}

function summarize(s: Sums, klds: Float64Array, pdiffs: Float64Array): KlSummary {
  const [lp, lpu] = meanUnc(s.nll, s.nll2, s.count);
  const [lb, lbu] = meanUnc(s.nllBase, s.nllBase2, s.count);
  const cov = s.count < 10 ? 0 : (s.nllNllBase / s.count - (s.nll / s.count) * (s.nllBase / s.count)) / (s.count - 1);
  const [k, ku] = meanUnc(s.kld, s.kld2, s.count);
  const [dp, dpu] = meanUnc(s.pDiff, s.pDiff2, s.count);
  const [mse, mseu] = meanUnc(s.pDiff2, s.pDiff4, s.count);
  const rms = Math.sqrt(mse);
  const top = s.sameTop / s.count;
  const sk = Float64Array.from(klds).sort();
  const n = sk.length;
  return {
    positions: s.count,
    ppl: Math.exp(lp), pplUnc: Math.exp(lp) * lpu, pplBase: Math.exp(lb), pplBaseUnc: Math.exp(lb) * lbu,
    lnPplRatio: lp - lb, lnPplRatioUnc: Math.sqrt(Math.max(0, lpu * lpu + lbu * lbu - 2 * cov)),
    meanKld: k, meanKldUnc: ku, maxKld: sk[n - 1] ?? NaN,
    medianKld: n % 2 === 0 ? 0.5 * (sk[n / 2]! + sk[n / 2 - 1]!) : sk[(n - 1) / 2]!,
    kld99: percentile(sk, 0.99), kld999: percentile(sk, 0.999),
    meanDeltaP: dp, meanDeltaPUnc: dpu, rmsDeltaP: rms, rmsDeltaPUnc: rms > 0 ? (0.5 / rms) * mseu : 0,
    maxAbsDeltaP: s.maxPDiff, sameTop: top, sameTopUnc: s.count > 1 ? Math.sqrt((top * (1 - top)) / (s.count - 1)) : 0,
    ...(pdiffs.length ? {} : {}),
  };
}

/** KL divergence etc. of one position; `rec` is the base record */
export function comparePosition(row: ArrayLike<number>, rec: Uint16Array, tok: number, nVocab: number, s: Sums): [number, number] {
  let max = row[0]!;
  let imax = 0;
  for (let i = 1; i < nVocab; i++) if (row[i]! > max) { max = row[i]!; imax = i; }
  let sum = 0;
  for (let i = 0; i < nVocab; i++) sum += Math.exp(row[i]! - max);
  const lse = max + Math.log(sum);
  const head = new Float32Array(rec.buffer, rec.byteOffset, 2);
  const scale = head[0]!;
  const minLogProb = head[1]!;
  const nll = lse - row[tok]!;
  const nllBase = -(scale * rec[4 + tok]! + minLogProb);
  let kld = 0;
  let imaxBase = 0;
  let best = -Infinity;
  for (let i = 0; i < nVocab; i++) {
    const lpb = scale * rec[4 + i]! + minLogProb;
    if (lpb > best) { best = lpb; imaxBase = i; }
    if (lpb > -16) kld += Math.exp(lpb) * (lpb - (row[i]! - lse));
  }
  const pDiff = Math.exp(-nll) - Math.exp(-nllBase);
  s.nll += nll; s.nll2 += nll * nll; s.nllBase += nllBase; s.nllBase2 += nllBase * nllBase; s.nllNllBase += nll * nllBase;
  s.kld += kld; s.kld2 += kld * kld; s.pDiff += pDiff; s.pDiff2 += pDiff * pDiff; s.pDiff4 += pDiff ** 4;
  s.maxPDiff = Math.max(s.maxPDiff, Math.abs(pDiff)); if (imax === imaxBase) s.sameTop++; s.count++;
  return [kld, pDiff];
}

export function compareWithBase(model: LlamaModel, base: KlBase, o: { kvType?: DType; bosId?: number; onChunk?: (line: string) => void } = {}): KlResult {
  const { nCtx, nVocab, nChunk } = base;
  const V = model.config.vocabSize;
  const first = Math.floor(nCtx / 2);
  const nScored = nCtx - 1 - first;
  const words = recordWords(nVocab);
  const s: Sums = { nll: 0, nll2: 0, nllBase: 0, nllBase2: 0, nllNllBase: 0, kld: 0, kld2: 0, pDiff: 0, pDiff2: 0, pDiff4: 0, maxPDiff: 0, sameTop: 0, count: 0 };
  const klds = new Float64Array(nScored * nChunk);
  const pdiffs = new Float64Array(nScored * nChunk);
  const session = model.newSession({ ctxSize: nCtx, ...(o.kvType !== undefined ? { kvType: o.kvType } : {}) });
  o.onChunk?.('chunk             PPL               ln(PPL(Q)/PPL(base))          KL Divergence              Δp RMS            Same top p\n');
  for (let c = 0; c < nChunk; c++) {
    // the saved tokens already carry what the base run fed (its chunk starts were replaced by BOS)
    const chunk = Array.from(base.tokens.subarray(c * nCtx, (c + 1) * nCtx));
    if (o.bosId !== undefined) chunk[0] = o.bosId;
    session.reset();
    const logits = model.forward(session, chunk, { allLogits: true });
    for (let j = 0; j < nScored; j++) {
      const p = first + j;
      const rec = base.records.subarray((c * nScored + j) * words, (c * nScored + j + 1) * words);
      const [k, d] = comparePosition(logits.subarray(p * V, (p + 1) * V), rec, chunk[p + 1]!, nVocab, s);
      klds[c * nScored + j] = k;
      pdiffs[c * nScored + j] = d;
    }
    const m = summarize(s, klds.subarray(0, (c + 1) * nScored), pdiffs);
    o.onChunk?.(`${String(c + 1).padStart(4)}    ${m.ppl.toFixed(4).padStart(9)} ± ${m.pplUnc.toFixed(4).padStart(9)}    ${m.lnPplRatio.toFixed(5).padStart(10)} ± ${m.lnPplRatioUnc.toFixed(5).padStart(10)}    ${m.meanKld.toFixed(5).padStart(10)} ± ${m.meanKldUnc.toFixed(5).padStart(10)}    ${(100 * m.rmsDeltaP).toFixed(3).padStart(6)} ± ${(100 * m.rmsDeltaPUnc).toFixed(3).padStart(6)} %    ${(100 * m.sameTop).toFixed(3).padStart(6)} ± ${(100 * m.sameTopUnc).toFixed(3).padStart(6)} %\n`);
  }
  return { summary: summarize(s, klds, pdiffs) };
}

export function formatKlReport(r: KlResult): string {
  const m = r.summary;
  const f = (v: number) => v.toFixed(6).padStart(10);
  return [
    '',
    '====== Perplexity statistics ======',
    `Mean PPL(Q)                   : ${f(m.ppl)} ± ${f(m.pplUnc)}`,
    `Mean PPL(base)                : ${f(m.pplBase)} ± ${f(m.pplBaseUnc)}`,
    `Mean ln(PPL(Q)/PPL(base))     : ${f(m.lnPplRatio)} ± ${f(m.lnPplRatioUnc)}`,
    '',
    '====== KL divergence statistics ======',
    `Mean    KLD: ${f(m.meanKld)} ± ${f(m.meanKldUnc)}`,
    `Maximum KLD: ${f(m.maxKld)}`,
    `99.9%   KLD: ${f(m.kld999)}`,
    `99.0%   KLD: ${f(m.kld99)}`,
    `Median  KLD: ${f(m.medianKld)}`,
    '',
    '====== Token probability statistics ======',
    `Mean    Δp: ${(100 * m.meanDeltaP).toFixed(3).padStart(6)} ± ${(100 * m.meanDeltaPUnc).toFixed(3)} %`,
    `Maximum |Δp|: ${(100 * m.maxAbsDeltaP).toFixed(3)}%`,
    `RMS Δp    : ${(100 * m.rmsDeltaP).toFixed(3).padStart(6)} ± ${(100 * m.rmsDeltaPUnc).toFixed(3)} %`,
    `Same top p: ${(100 * m.sameTop).toFixed(3).padStart(6)} ± ${(100 * m.sameTopUnc).toFixed(3)} %`,
    '',
  ].join('\n');
}
