// The native prefill matmul for float weights with short rows (src/backend/native/c/gemm_panel.c,
// AVX-512, T >= max(24, cols/4), cols <= 512): outer products on f32 panels of 32 weight rows.
// Checked against the js oracle with the conformance suite's bound for float weights
// (2e-5·Σ|w·x|: only the summation order differs), on row counts around the 16/32-row panel
// halves, token counts around the 12-token tile, columns around the 16-column transposes; and its
// promise that a row's result does not depend on the batch it is in (T, thread count) bit for bit
// while both calls take this path (below the T threshold the tile kernels sum in another order).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadNativeBackend, nativeInfo, nativeUnavailableReason } from '../src/backend/native/index.js';
import { loadAddon } from '../src/backend/native/addon.js';
import { JsBackend } from '../src/backend/js/js-backend.js';
import { DType, dtypeName } from '../src/tensor/dtype.js';
import { dequantize } from '../src/tensor/quant.js';
import { randomWeight, rng } from './helpers/backend-conformance.js';

const reason = nativeUnavailableReason() ?? (nativeInfo()?.available.includes('avx512') ? undefined : 'the panel kernels are AVX-512 only');
const tuning = () => loadAddon().addon as unknown as { setTuning(name: string, v: number): void };

test('native panel matmul (F32/F16/BF16, <= 512 columns, T >= max(24, cols/4)): the js oracle within the float-weight bound; rows independent of T and threads bit for bit', { skip: reason ?? false }, () => {
  const oracle = new JsBackend();
  const one = loadNativeBackend({ threads: 1, isa: 'avx512' })!, two = loadNativeBackend({ threads: 2, isa: 'avx512' })!;
  const r = rng(77);
  const shapes: [number, number, number][] = [[1, 1, 24], [15, 17, 25], [16, 128, 37], [17, 128, 32], [33, 130, 48], [37, 100, 100], [70, 352, 88], [64, 512, 130], [5, 31, 200]];
  for (const type of [DType.F32, DType.F16, DType.BF16])
    for (const [rows, cols, T] of shapes) {
      const t = randomWeight(r, type, rows, cols);
      const wf = dequantize(type, t.data, rows * cols);
      const wo = oracle.loadWeight(t), w1 = one.loadWeight(t), w2 = two.loadWeight(t);
      const Tbig = T + 13;
      const x = Float32Array.from({ length: Tbig * cols }, () => r() * 2 - 1);
      const want = new Float32Array(Tbig * rows), got1 = new Float32Array(Tbig * rows).fill(NaN), got2 = new Float32Array(Tbig * rows).fill(NaN), small = new Float32Array(T * rows).fill(NaN);
      oracle.matmul(want, x, wo, Tbig);
      one.matmul(got1, x, w1, Tbig);
      two.matmul(got2, x, w2, Tbig);
      one.matmul(small, x, w1, T);
      const where = `${dtypeName(type)} ${rows}x${cols} T=${Tbig}`;
      for (let tk = 0; tk < Tbig; tk++)
        for (let i = 0; i < rows; i++) {
          let bound = 0;
          for (let k = 0; k < cols; k++) bound += Math.abs(wf[i * cols + k]! * x[tk * cols + k]!);
          const at = tk * rows + i;
          assert.ok(Math.abs(got1[at]! - want[at]!) <= 2e-5 * bound + 1e-30, `${where} token ${tk} row ${i}: ${got1[at]} vs ${want[at]}`);
          assert.equal(got2[at], got1[at], `${where} token ${tk} row ${i}: 2 threads give the 1-thread bits`);
          if (tk < T) assert.equal(small[at], got1[at], `${where} token ${tk} row ${i}: T=${T} gives the T=${Tbig} bits`);
        }
      for (const w of [w1, w2]) one.freeWeight(w);
    }
});

test('native panel matmul is the path taken for T >= 24 at 128 columns (its sums differ in order from the tile kernels\'), and the knob switches it off', { skip: reason ?? false }, () => {
  const be = loadNativeBackend({ threads: 1, isa: 'avx512' })!;
  const r = rng(5);
  const [rows, cols, T] = [64, 128, 64];
  const w = be.loadWeight(randomWeight(r, DType.F16, rows, cols));
  const x = Float32Array.from({ length: T * cols }, () => r() * 2 - 1);
  const panel = new Float32Array(T * rows), tile = new Float32Array(T * rows), again = new Float32Array(T * rows);
  be.matmul(panel, x, w, T);
  try {
    tuning().setTuning('panel', 0);
    be.matmul(tile, x, w, T);
  } finally {
    tuning().setTuning('panel', 24);
  }
  be.matmul(again, x, w, T);
  assert.deepEqual(again, panel);
  let differ = 0;
  for (let i = 0; i < panel.length; i++) if (panel[i] !== tile[i]) differ++;
  assert.ok(differ > 0, 'the panel kernel ran (otherwise both calls took the tile kernels)');
});
