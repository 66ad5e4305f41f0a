// Log-probabilities of one row of logits, computed in float64 (the logits themselves are float32).

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

/** The numbers a row's log-softmax needs: its max, first argmax and log Σ exp(row − max) (float64). */
export interface RowStats {
  max: number;
  argmax: number;
  logSum: number;
}

export function rowStats(row: ArrayLike<number>): RowStats {
  let max = row[0]!;
  let best = 0;
  for (let i = 1; i < row.length; i++) {
    if (row[i]! > max) {
      max = row[i]!;
      best = i;
    }
  }
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += expNonPositive(row[i]! - max);
  return { max, argmax: best, logSum: Math.log(sum) };
}

/** log-softmax(row)[token] and whether token is the (first) argmax, in two passes over the row */
export function tokenScore(row: ArrayLike<number>, token: number): { logprob: number; isArgmax: boolean } {
  return scoreWith(rowStats(row), row, token);
}

/** tokenScore from a row's stats (several tokens scored against one row compute them once) */
export function scoreWith(st: RowStats, row: ArrayLike<number>, token: number): { logprob: number; isArgmax: boolean } {
  return { logprob: row[token]! - st.max - st.logSum, isArgmax: st.argmax === token };
}

// exp(x) for x ≤ 0, about twice as fast as Math.exp in V8 (the sum of a scored row's vocab-size
// exponentials is most of a log-likelihood's JS time) and within 1e-15 relative of it down to −708:
// x = k·ln2/32 + r with |r| ≤ ln2/64, exp(x) = 2^-m · 2^(j/32) · e^r (k = −32m + j), tables for the
// two powers of two and a degree-6 Taylor polynomial for e^r (its error r^7/7! < 4e-18).
// ln2/32 is split as fdlibm splits ln2: HI has 32 trailing zero bits (k · HI is exact), HI + LO = ln2/32 to ~1e-27.
const LN2_32_HI = 6.93147180369123816490e-1 / 32;
const LN2_32_LO = 1.90821492927058770002e-10 / 32;
const INV_LN2_32 = 32 / Math.LN2;
const ROUND = 6755399441055744; // 1.5 · 2^52: (y + ROUND) − ROUND rounds y to an integer
const POW2_FRAC = Float64Array.from({ length: 32 }, (_, j) => 2 ** (j / 32));
const POW2_NEG = Float64Array.from({ length: 1080 }, (_, m) => 2 ** -m); // 2^-m; subnormal then 0 past 2^-1074

export function expNonPositive(x: number): number {
  if (!(x > -745)) return x === x ? 0 : NaN; // exp underflows to 0 below −745.1; NaN stays NaN
  const k = (x * INV_LN2_32 + ROUND) - ROUND; // integer, −1073 · 32 ≤ k ≤ 0
  const r = (x - k * LN2_32_HI) - k * LN2_32_LO;
  const ki = k | 0;
  const p = 1 + r * (1 + r * (0.5 + r * (1 / 6 + r * (1 / 24 + r * (1 / 120 + r * (1 / 720))))));
  return POW2_NEG[-(ki >> 5)]! * POW2_FRAC[ki & 31]! * p;
}
