// The wasm backend's thread split by default (issue 12): decode's per-layer matvecs of a 110M model
// are split (a worker polls for the next job a while, so a hand-off is cheap), smaller matvecs stay
// on the calling thread, the classifier-sized matvec and prefill matmuls are split; the split results
// are the 1-thread bits, also when the caller takes an unclaimed share back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createWasmBackend, loadWasmBackend, wasmUnavailableReason, WASM_MIN_PARALLEL_WORK } from '../src/backend/wasm/index.js';
import { randomWeight, rng } from './helpers/backend-conformance.js';
import { DType } from '../src/tensor/dtype.js';
import { WasmPool } from '../src/backend/wasm/pool.js';
import { CTL, WORKER_ASLEEP, WORKER_AWAKE } from '../src/backend/wasm/ctl.js';
import { SPIN_MS } from '../src/backend/wasm/worker-loop.js';
import type { LinearMemory } from '../src/backend/wasm/memory.js';
import type { WasmCompiledModule } from '../src/backend/wasm/wasm-api.js';

const reason = wasmUnavailableReason();

test('wasm backend, 2 threads by default: 110M decode matvecs, the classifier and prefill are split, small matvecs are not, with the 1-thread bits', { skip: reason }, async () => {
  // takeBackMs null: every split share runs on the worker, so the count below is exact
  const two = (await createWasmBackend({ threads: 2, takeBackMs: null }))!;
  const one = loadWasmBackend({ threads: 1 })!;
  assert.equal(two.threads, 2);
  assert.ok(768 * 768 >= WASM_MIN_PARALLEL_WORK, 'the smallest 110M layer matvec is over the threshold');
  assert.ok(256 * 768 < WASM_MIN_PARALLEL_WORK, 'a 256x768 matvec is below it');
  const r = rng(5);
  const cases: [rows: number, cols: number, T: number, split: boolean][] = [
    [256, 768, 1, false], // small: one thread
    [768, 768, 1, true], // attention projections
    [2048, 768, 1, true], // FFN up/gate
    [768, 2048, 1, true], // FFN down
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

test('wasm backend, 2 threads: shares the caller takes back from the worker give the same bits, and every share runs exactly once', { skip: reason }, async () => {
  // takeBackMs 0: once its own share is done the caller takes any share the worker has not claimed
  // yet, so both paths run, interleaved with the worker's polling
  const two = (await createWasmBackend({ threads: 2, minParallelWork: 0, takeBackMs: 0 }))!;
  const one = loadWasmBackend({ threads: 1 })!;
  const r = rng(9);
  const t = randomWeight(r, DType.Q8_0, 768, 768);
  const w1 = one.loadWeight(t), w2 = two.loadWeight(t);
  const n = 300;
  const before = two.info();
  for (let i = 0; i < n; i++) {
    const x = new Float32Array(768).map(() => r() * 2 - 1);
    const a = new Float32Array(768), b = new Float32Array(768).fill(NaN);
    one.matmul(a, x, w1, 1);
    two.matmul(b, x, w2, 1);
    assert.deepEqual(b, a, `matvec ${i}: same bits`);
  }
  const after = two.info();
  const splits = after.splitMatmuls - before.splitMatmuls;
  // fewer than n when the pool backed off from a late worker (a busy machine): those ran on the caller
  assert.ok(splits > 0 && splits <= n, `${splits} of ${n} matvecs split`);
  assert.equal(after.workerJobs - before.workerJobs + (after.takenBack - before.takenBack), splits, 'each split share ran once, on the worker or taken back');
  one.freeWeight!(w1);
  two.freeWeight!(w2);
});

test('wasm thread pool: small matmuls back off to the caller once recent splits cost more waiting than they saved, and not before', () => {
  // no workers are started: only the accounting is exercised
  const pool = new WasmPool({} as WasmCompiledModule, {} as LinearMemory);
  // splits that pay (own share 0.02 ms, waited 0.001 ms), then a few slow ones: the sum stays positive
  for (let i = 0; i < 40; i++) pool.recordSplit(0.02, 0.001);
  for (let i = 0; i < 3; i++) pool.recordSplit(0.02, 0.1);
  assert.equal(pool.backOffs, 0, 'a few late workers among paying splits do not stop splitting');
  assert.equal(pool.splitSmall(), true);
  // splits that keep waiting much longer than they save (a worker without a core)
  for (let i = 0; i < 16 && pool.backOffs === 0; i++) pool.recordSplit(0.02, 0.5);
  assert.equal(pool.backOffs, 1, 'backed off');
  assert.equal(pool.splitSmall(), false, 'small matmuls stay on the caller meanwhile');
});

test('wasm thread pool: one worker stall of a few ms among paying splits does not back off; stalls that keep coming do', () => {
  // Chromium on a shared 2-core machine: the worker loses its core for 2-5 ms now and then (the
  // page's rendering, another process), while splitting still pays overall. With a window of 32
  // splits one such stall backed off for BACK_OFF_MS, several times a second.
  const pool = new WasmPool({} as WasmCompiledModule, {} as LinearMemory);
  // 400 splits of a 110M model's decode matvecs on 2 threads, as measured in Chromium: the caller's
  // own share 30 µs, waited 5 µs (5 decode tokens)
  for (let i = 0; i < 400; i++) pool.recordSplit(0.03, 0.005);
  pool.recordSplit(0.03, 4); // one 4 ms stall
  for (let i = 0; i < 100; i++) pool.recordSplit(0.03, 0.005);
  assert.equal(pool.backOffs, 0, 'an isolated stall does not stop splitting');
  // a worker without a core: a 4 ms stall every 20 splits costs more than the splits save
  for (let i = 0; i < 2000 && pool.backOffs === 0; i++) pool.recordSplit(0.03, i % 20 === 0 ? 4 : 0.005);
  assert.equal(pool.backOffs, 1, 'backed off');
});

test('wasm worker: after a share the caller took back, the worker polls for the next job instead of going to sleep', { skip: reason, timeout: 60_000 }, async () => {
  const two = (await createWasmBackend({ threads: 2, minParallelWork: 0, takeBackMs: null }))!;
  const pool = (two as unknown as { rt: { pool: WasmPool } }).rt.pool;
  const w = (pool as unknown as { workers: { ctl: Int32Array; gen: number }[] }).workers[0]!;
  const c = w.ctl;
  const until = async (what: string, ok: () => boolean) => {
    for (const t0 = Date.now(); !ok(); await new Promise((r) => setTimeout(r, 1))) if (Date.now() - t0 > 20_000) assert.fail(`timed out waiting for ${what}`);
  };
  await until('the worker to sleep', () => Atomics.load(c, CTL.state) === WORKER_ASLEEP);
  const sleeps = Atomics.load(c, CTL.sleeps);
  // poll as long as the test needs (the pool's own setting is SPIN_MS); 0 below ends the poll at once
  Atomics.store(c, CTL.spin, 600_000_000);
  // a job whose share the caller has already taken back (claim word 0), posted as pool.matmul does
  w.gen = (w.gen % 0x3fffffff) + 1;
  Atomics.store(c, CTL.claim, 0);
  Atomics.store(c, CTL.gen, w.gen);
  Atomics.notify(c, CTL.gen);
  await until('the worker to see the job', () => Atomics.load(c, CTL.seen) === w.gen);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(Atomics.load(c, CTL.state), WORKER_AWAKE, 'awake, polling for the next job');
  assert.equal(Atomics.load(c, CTL.sleeps), sleeps, 'it did not go to sleep (a sleeping worker must be woken: 25 µs to ms)');
  assert.notEqual(Atomics.load(c, CTL.done), w.gen, 'and it did not run the taken-back share');
  // the pool stops the poll by setting CTL.spin to 0 (backing off): the worker sleeps right away
  Atomics.store(c, CTL.spin, 0);
  await until('the worker to sleep once told to stop polling', () => Atomics.load(c, CTL.state) === WORKER_ASLEEP);
  assert.equal(Atomics.load(c, CTL.sleeps), sleeps + 1);
  Atomics.store(c, CTL.spin, Math.round(SPIN_MS * 1000));
  // and the pool goes on as before: a split matvec gives the 1-thread bits, its share run by the worker
  const one = loadWasmBackend({ threads: 1 })!;
  const r = rng(11);
  const t = randomWeight(r, DType.Q8_0, 64, 256);
  const w1 = one.loadWeight(t), w2 = two.loadWeight(t);
  const x = new Float32Array(256).map(() => r() * 2 - 1);
  const a = new Float32Array(64), b = new Float32Array(64).fill(NaN);
  const jobs = two.info().workerJobs;
  const slept = two.info().workerSleeps; // the worker is asleep (told to stop polling above)
  assert.equal(slept, sleeps + 1, 'info() counts the sleeps');
  one.matmul(a, x, w1, 1);
  two.matmul(b, x, w2, 1);
  assert.deepEqual(b, a);
  assert.equal(two.info().workerJobs, jobs + 1);
  // woken for the job, it polls SPIN_MS and sleeps again: one more sleep
  await until('info() to count the sleep after the job', () => two.info().workerSleeps > slept);
  assert.equal(two.info().workerSleeps, slept + 1, 'one sleep after the job');
  one.freeWeight!(w1);
  two.freeWeight!(w2);
});
