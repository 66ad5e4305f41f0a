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

/** log-softmax(row)[token] and whether token is the (first) argmax, in two passes over the row */
export function tokenScore(row: ArrayLike<number>, token: number): { logprob: number; isArgmax: boolean } {
  let max = row[0]!;
  let best = 0;
  for (let i = 1; i < row.length; i++) {
    if (row[i]! > max) {
      max = row[i]!;
      best = i;
    }
  }
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i]! - max);
  return { logprob: row[token]! - max - Math.log(sum), isArgmax: best === token };
}
