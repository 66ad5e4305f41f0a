// The wasm backend's thread split by default (issue 12): decode's per-layer matvecs of a 110M model
// stay on the calling thread (waking a worker costs more than they take, which made 2-thread decode
// slower than 1 thread), while the classifier-sized matvec and prefill matmuls are split; the split
// results are the 1-thread bits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createWasmBackend, loadWasmBackend, wasmUnavailableReason, WASM_MIN_PARALLEL_WORK } from '../src/backend/wasm/index.js';
import { randomWeight, rng } from './helpers/backend-conformance.js';
import { DType } from '../src/tensor/dtype.js';

const reason = wasmUnavailableReason();

test('wasm backend, 2 threads by default: 110M decode matvecs stay on one thread, the classifier and prefill are split, with the 1-thread bits', { skip: reason }, async () => {
  const two = (await createWasmBackend({ threads: 2 }))!;
  const one = loadWasmBackend({ threads: 1 })!;
  assert.equal(two.threads, 2);
  assert.ok(768 * 2048 * 4 < WASM_MIN_PARALLEL_WORK, 'a 110M layer matvec (even of 4 tokens) is below the threshold');
  const r = rng(5);
  const cases: [rows: number, cols: number, T: number, split: boolean][] = [
    [768, 768, 1, false], // attention projections
    [2048, 768, 1, false], // FFN up/gate
    [768, 2048, 1, false], // FFN down
    [12000, 768, 1, true], // classifier-sized (rows x cols over the threshold)
    [768, 768, 16, true], // prefill
  ];
  for (const [rows, cols, T, split] of cases) {
    const t = randomWeight(r, DType.Q8_0, rows, cols);
    const w1 = one.loadWeight(t), w2 = two.loadWeight(t);
    const x = new Float32Array(T * cols).map(() => r() * 2 - 1);
    const a = new Float32Array(T * rows), b = new Float32Array(T * rows).fill(NaN);
    one.matmul(a, x, w1, T);
    const jobs = two.info().workerJobs;
    two.matmul(b, x, w2, T);
    assert.equal(two.info().workerJobs - jobs, split ? 1 : 0, `${rows}x${cols} T=${T}: ${split ? 'split' : 'one thread'}`);
    assert.deepEqual(b, a, `${rows}x${cols} T=${T}: same bits`);
    one.freeWeight!(w1);
    two.freeWeight!(w2);
  }
});
