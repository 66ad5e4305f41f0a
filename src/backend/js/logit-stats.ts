// The log-softmax statistics of rows of logits in float64: the `js` backend's logitStats (the
// oracle of the native and wasm ones) and src/eval/logprob.ts's rowStats share this one loop.

/** The numbers a row's log-softmax needs: its max, first argmax and log Σ exp(row − max) (float64). */
export interface RowStats {
  max: number;
  argmax: number;
  logSum: number;
}

/**
 * Stats of the n values x[off .. off+n): max = x[argmax] with argmax the first index of the
 * largest value (strict >, so NaN entries never win unless the first value is NaN), logSum in
 * float64 (NaN when any x − max is NaN).
 */
export function rowStatsAt(x: ArrayLike<number>, off: number, n: number): RowStats {
  let max = x[off]!;
  let best = 0;
  for (let i = 1; i < n; i++) {
    if (x[off + i]! > max) {
      max = x[off + i]!;
      best = i;
    }
  }
  let sum = 0;
  for (let i = 0; i < n; i++) sum += expNonPositive(x[off + i]! - max);
  return { max, argmax: best, logSum: Math.log(sum) };
}

/** rowStatsAt for each of `rows` rows of `cols` values (the Backend op's contract, src/backend/backend.ts) */
export function logitStatsJs(x: Float32Array, rows: number, cols: number, outMax: Float32Array, outArgmax: Int32Array, outLogSum: Float64Array): void {
  for (let r = 0; r < rows; r++) {
    const s = rowStatsAt(x, r * cols, cols);
    outMax[r] = s.max;
    outArgmax[r] = s.argmax;
    outLogSum[r] = s.logSum;
  }
}

// exp(x) for x ≤ 0, about twice as fast as Math.exp in V8 (the sum of a scored row's vocab-size
// exponentials is most of a log-likelihood's JS time) and within 1e-15 relative of it down to −708:
// x = k·ln2/32 + r with |r| ≤ ln2/64, exp(x) = 2^-m · 2^(j/32) · e^r (k = −32m + j), tables for the
// two powers of two and a degree-6 Taylor polynomial for e^r (its error r^7/7! < 4e-18).
// ln2/32 is split as fdlibm splits ln2: HI has 32 trailing zero bits (k · HI is exact), HI + LO = ln2/32 to ~1e-27.
// (src/backend/native/c/logit_stats.c computes the same exp, 8 or 4 lanes at a time.)
const LN2_32_HI = 6.93147180369123816490e-1 / 32;
const LN2_32_LO = 1.90821492927058770002e-10 / 32;
const INV_LN2_32 = 32 / Math.LN2;
const ROUND = 6755399441055744; // 1.5 · 2^52: (y + ROUND) − ROUND rounds y to an integer
export const POW2_FRAC = Float64Array.from({ length: 32 }, (_, j) => 2 ** (j / 32));
export const POW2_NEG = Float64Array.from({ length: 1080 }, (_, m) => 2 ** -m); // 2^-m; subnormal then 0 past 2^-1074

export function expNonPositive(x: number): number {
  if (!(x > -745)) return x === x ? 0 : NaN; // exp underflows to 0 below −745.1; NaN stays NaN
  const k = (x * INV_LN2_32 + ROUND) - ROUND; // integer, −1073 · 32 ≤ k ≤ 0
  const r = (x - k * LN2_32_HI) - k * LN2_32_LO;
  const ki = k | 0;
  const p = 1 + r * (1 + r * (0.5 + r * (1 / 6 + r * (1 / 24 + r * (1 / 120 + r * (1 / 720))))));
  return POW2_NEG[-(ki >> 5)]! * POW2_FRAC[ki & 31]! * p;
}
