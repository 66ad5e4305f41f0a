// Finite-difference checks shared by the gradient tests.
import assert from 'node:assert/strict';

/**
 * The entry with the largest analytic gradient, checked on its own by a central difference of
 * step h: |numeric - g[j]| <= rel·|g[j]| + abs. `values` is restored before the assertion.
 */
export function assertLargestEntry(
  name: string, values: Float32Array, g: Float32Array, h: number, loss: () => number, rel: number, abs: number,
): void {
  let j = 0;
  for (let i = 1; i < g.length; i++) if (Math.abs(g[i]!) > Math.abs(g[j]!)) j = i;
  const saved = values[j]!;
  values[j] = saved + h; const ep = loss();
  values[j] = saved - h; const em = loss();
  values[j] = saved;
  const numeric = (ep - em) / (2 * h);
  assert.ok(Math.abs(numeric - g[j]!) <= rel * Math.abs(g[j]!) + abs, `${name}[${j}]: analytic ${g[j]} vs numeric ${numeric}`);
}
