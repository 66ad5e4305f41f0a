// Perplexity exactly as llama.cpp's `llama-perplexity` computes it (examples/perplexity/perplexity.cpp,
// function `perplexity`), restated:
//   - the whole text is tokenized once, with BOS in front when the vocabulary says add_bos;
//   - it needs at least 2·n_ctx tokens; it is cut into floor(n_tokens / n_ctx) chunks of n_ctx tokens
//     (--chunks N keeps the first N); the tail that does not fill a chunk is dropped;
//   - each chunk is evaluated from an empty KV cache in batches of n_batch tokens; when add_bos, the
//     chunk's first token is *replaced* by BOS (the chunk keeps n_ctx tokens);
//   - only the second half is scored: with first = floor(n_ctx/2), logits rows first .. n_ctx-2 predict
//     tokens first+1 .. n_ctx-1 of the chunk (n_ctx − first − 1 tokens per chunk);
//   - after each chunk it prints `[i]exp(nll/count),` (4 decimals), and at the end
//     `Final estimate: PPL = exp(mean) +/- ppl·sqrt((mean(nll²) − mean²)/(count−1))` (4 and 5 decimals).
import type { LlamaModel } from '../model/llama.js';
import type { DType } from '../tensor/dtype.js';
import { LlamaError } from '../errors.js';
import { RowStatsBatch } from './logprob.js';

export interface PerplexityOptions {
  /** tokens per chunk (llama.cpp -c) */
  nCtx: number;
  /** tokens per forward call (llama.cpp -b); default n_ctx */
  nBatch?: number;
  /** evaluate at most this many chunks (llama.cpp --chunks); default all */
  nChunks?: number;
  /** replace each chunk's first token by this id (llama.cpp: when the vocabulary's add_bos is set) */
  bosId?: number;
  kvType?: DType;
  /** called after each chunk with the running perplexity */
  onChunk?: (chunk: number, runningPpl: number) => void;
  /** called with each scored position's full logits row (for --kl-divergence-base) */
  onScoredRow?: (row: Float32Array, target: number) => void;
}

export interface PerplexityResult {
  ppl: number;
  /** llama.cpp's `+/-` figure: ppl times the standard error of the mean negative log-likelihood */
  pplError: number;
  /** mean negative log-likelihood (nats per token) */
  meanNll: number;
  /** number of scored tokens */
  count: number;
  chunks: number;
  /** running perplexity after each chunk */
  running: number[];
}

export function minTokensFor(nCtx: number): number {
  return 2 * nCtx;
}

export function computePerplexity(model: LlamaModel, tokens: readonly number[], o: PerplexityOptions): PerplexityResult {
  const nCtx = o.nCtx;
  if (!(Number.isInteger(nCtx) && nCtx >= 2)) throw new LlamaError('USAGE', `the context size must be an integer ≥ 2, got ${nCtx}`);
  if (tokens.length < minTokensFor(nCtx)) {
    throw new LlamaError('DATA', `you need at least ${2 * nCtx} tokens to evaluate perplexity with a context of ${nCtx}; the text tokenizes to only ${tokens.length}`, {
      hint: 'give a longer text or a smaller -c',
    });
  }
  const nBatch = Math.max(1, Math.min(o.nBatch ?? nCtx, nCtx));
  const nChunkMax = Math.floor(tokens.length / nCtx);
  const nChunk = o.nChunks !== undefined && o.nChunks >= 0 ? Math.min(o.nChunks, nChunkMax) : nChunkMax;
  const V = model.config.vocabSize;
  const first = Math.floor(nCtx / 2);
  const session = model.newSession({ ctxSize: nCtx, ...(o.kvType !== undefined ? { kvType: o.kvType } : {}) });
  let nll = 0;
  let nll2 = 0;
  let count = 0;
  const running: number[] = [];
  const stats = new RowStatsBatch(model.backend); // the scored rows' log-softmax stats, one backend call per pass
  for (let i = 0; i < nChunk; i++) {
    const start = i * nCtx;
    const chunk = tokens.slice(start, start + nCtx);
    if (o.bosId !== undefined) chunk[0] = o.bosId;
    session.reset();
    for (let b = 0; b < nCtx; b += nBatch) {
      const part = chunk.slice(b, b + nBatch);
      const logits = model.forward(session, part, { allLogits: true }); // (part.length, V)
      // rows whose position p satisfies first <= p <= nCtx-2 predict chunk[p+1]: rows r0 .. r1-1
      const r0 = Math.max(0, first - b), r1 = Math.min(part.length, nCtx - 1 - b);
      if (r1 <= r0) continue;
      stats.compute(logits.subarray(r0 * V, r1 * V), r1 - r0, V);
      for (let r = r0; r < r1; r++) {
        const p = b + r;
        const row = logits.subarray(r * V, (r + 1) * V);
        const target = chunk[p + 1]!;
        const v = -(row[target]! - stats.max[r - r0]! - stats.logSum[r - r0]!);
        nll += v;
        nll2 += v * v;
        count++;
        o.onScoredRow?.(row, target);
      }
    }
    const ppl = Math.exp(nll / count);
    running.push(ppl);
    o.onChunk?.(i + 1, ppl);
  }
  const mean = nll / count;
  const ppl = Math.exp(mean);
  const variance = nll2 / count - mean * mean;
  const pplError = variance > 0 ? Math.sqrt(variance / (count - 1)) * ppl : NaN;
  return { ppl, pplError, meanNll: mean, count, chunks: nChunk, running };
}

/** llama.cpp's `-f` reading: the file's text with one trailing newline removed. */
export function promptFromFile(text: string): string {
  return text.endsWith('\n') ? text.slice(0, -1) : text;
}
