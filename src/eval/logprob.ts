// Log-probabilities of one row of logits, computed in float64 (the logits themselves are float32).
import { logitStatsJs, rowStatsAt, type RowStats } from '../backend/js/logit-stats.js';
import type { Backend } from '../backend/backend.js';

/** log-softmax(row)[token] = row[token] − max − log Σ exp(row − max), summed in float64. */
export function logProbAt(row: ArrayLike<number>, token: number): number {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i]! > max) max = row[i]!;
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i]! - max);
  return row[token]! - max - Math.log(sum);
}

/** index of the largest value (first one on ties) */
export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

/** the full log-softmax of a row, float64 */
export function logSoftmax(row: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i]! > max) max = row[i]!;
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i]! - max);
  const lse = max + Math.log(sum);
  const out = new Float64Array(row.length);
  for (let i = 0; i < row.length; i++) out[i] = row[i]! - lse;
  return out;
}

export type { RowStats } from '../backend/js/logit-stats.js';
export { expNonPositive } from '../backend/js/logit-stats.js';

/** max, first argmax and log Σ exp(row − max) of one row (float64; src/backend/js/logit-stats.ts) */
export function rowStats(row: ArrayLike<number>): RowStats {
  return rowStatsAt(row, 0, row.length);
}

/** log-softmax(row)[token] and whether token is the (first) argmax, in two passes over the row */
export function tokenScore(row: ArrayLike<number>, token: number): { logprob: number; isArgmax: boolean } {
  return scoreWith(rowStats(row), row, token);
}

/** tokenScore from a row's stats (several tokens scored against one row compute them once) */
export function scoreWith(st: RowStats, row: ArrayLike<number>, token: number): { logprob: number; isArgmax: boolean } {
  return { logprob: row[token]! - st.max - st.logSum, isArgmax: st.argmax === token };
}

/**
 * The stats of many rows at once through the backend's `logitStats` op (native: vectorized and on
 * the thread pool) or, for backends without it, the same loop in JS (src/backend/js/logit-stats.ts).
 * The buffers are kept between calls.
 */
export class RowStatsBatch {
  max = new Float32Array(0);
  argmax = new Int32Array(0);
  logSum = new Float64Array(0);
  private readonly op: NonNullable<Backend['logitStats']>;

  /** backend undefined (or without the op): the JS loop */
  constructor(backend?: Backend) {
    this.op = backend?.logitStats ? backend.logitStats.bind(backend) : logitStatsJs;
  }

  /** stats of the `rows` rows of `cols` values at the start of x */
  compute(x: Float32Array, rows: number, cols: number): this {
    if (this.max.length < rows) {
      const n = Math.max(rows, 2 * this.max.length);
      this.max = new Float32Array(n);
      this.argmax = new Int32Array(n);
      this.logSum = new Float64Array(n);
    }
    if (rows > 0) this.op(x, rows, cols, this.max, this.argmax, this.logSum);
    return this;
  }

  /** log-softmax of row r of x (cols wide) at `token`, as tokenScore computes it */
  logprob(x: Float32Array, r: number, cols: number, token: number): number {
    return x[r * cols + token]! - this.max[r]! - this.logSum[r]!;
  }

  /** whether token is row r's (first) argmax */
  isArgmax(r: number, token: number): boolean {
    return this.argmax[r] === token;
  }
}
