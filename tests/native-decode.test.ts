// Decode (T = 1) on the native backend: every way of splitting the rows of a matvec or the KV heads
// of an attention between threads must give the 1-thread bits (rows and heads are computed
// independently), for the short-row kernels' shapes (Q8_0 / Q4_K / Q6_K rows of <= 1024 columns,
// activations held in registers) and the row schedulers (knob `guided`: 0 fixed blocks, 1 guided
// self-scheduling, 2 owned shares with stealing). Accuracy against the js oracle is the
// conformance suite's job (tests/helpers/backend-conformance.ts); this checks the splits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadNativeBackend, nativeUnavailableReason } from '../src/backend/native/index.js';
import { loadAddon } from '../src/backend/native/addon.js';
import { randomWeight, rng } from './helpers/backend-conformance.js';
import { DType, dtypeName } from '../src/tensor/dtype.js';

const reason = nativeUnavailableReason();

function setTuning(name: string, v: number): void {
  (loadAddon().addon as unknown as { setTuning(name: string, v: number): void }).setTuning(name, v);
}

test('native decode matvec: every row split over 2 threads (fixed, guided, owned shares + stealing) gives the 1-thread bits', { skip: reason ?? false }, () => {
  const one = loadNativeBackend({ threads: 1 })!;
  const two = loadNativeBackend({ threads: 2 })!;
  const r = rng(11);
  // 203 rows: not a multiple of 4 (the last row block is short); 1056 columns take the long-row kernels
  const cases: [DType, number[]][] = [
    [DType.Q8_0, [256, 512, 768, 1024, 1056]],
    [DType.Q4_K, [256, 512, 768, 1024, 1280]],
    [DType.Q6_K, [256, 512, 768, 1024, 1280]],
    [DType.F32, [768]],
  ];
  // small chunks and blocks, so that every scheduler hands out many pieces of these small matrices
  const schedules: [string, [string, number][]][] = [
    ['fixed blocks', [['guided', 0], ['mvblock', 4096]]],
    ['guided', [['guided', 1], ['mvblock', 4096]]],
    ['owned shares', [['guided', 2], ['mvchunk', 4096]]],
    ['owned shares, one chunk each', [['guided', 2], ['mvchunk', 1 << 30]]],
  ];
  try {
    for (const [type, colsList] of cases) {
      for (const cols of colsList) {
        const rows = 203;
        const t = randomWeight(r, type, rows, cols);
        const w1 = one.loadWeight(t);
        const x = new Float32Array(cols).map(() => r() * 2 - 1);
        const want = new Float32Array(rows);
        one.matmul(want, x, w1, 1);
        assert.ok(want.every(Number.isFinite), `${dtypeName(type)} ${rows}x${cols}: finite 1-thread result`);
        const w2 = two.loadWeight(t);
        for (const [label, knobs] of schedules) {
          for (const [k, v] of knobs) setTuning(k, v);
          for (let rep = 0; rep < 20; rep++) {
            const got = new Float32Array(rows).fill(NaN); // a row no thread computed stays NaN
            two.matmul(got, x, w2, 1);
            for (let i = 0; i < rows; i++) if (got[i] !== want[i]) assert.fail(`${dtypeName(type)} ${rows}x${cols} ${label} rep ${rep}: out[${i}] ${got[i]} != ${want[i]}`);
          }
        }
        one.freeWeight(w1);
        two.freeWeight(w2);
      }
    }
  } finally {
    setTuning('guided', 1);
    setTuning('mvblock', 128 << 10);
    setTuning('mvchunk', 32 << 10);
  }
});

test('native decode attention: KV head ranges or position chunks claimed by 2 threads give the 1-thread bits', { skip: reason ?? false }, () => {
  const one = loadNativeBackend({ threads: 1 })!;
  const two = loadNativeBackend({ threads: 2 })!;
  const r = rng(5);
  // head size 64 takes the register-resident AVX-512 kernel, 24 the generic one; 1 KV head is done
  // by the caller alone, 3 and 12 split unevenly / evenly
  // 300 positions: past 128 the span is cut into position chunks (attention.c), which 2 threads share
  for (const [nKv, group, hd, ctx] of [[1, 4, 64, 40], [2, 1, 64, 40], [3, 2, 24, 40], [12, 1, 64, 40], [4, 2, 64, 40], [2, 2, 64, 300], [3, 1, 24, 300]] as const) {
    const nh = nKv * group;
    for (const kvType of [DType.F32, DType.F16]) {
      const c1 = one.createKVCache(1, ctx, nKv, hd, kvType);
      const c2 = two.createKVCache(1, ctx, nKv, hd, kvType);
      for (let p = 0; p < ctx; p++) {
        const k = new Float32Array(nKv * hd).map(() => r() * 2 - 1), v = new Float32Array(nKv * hd).map(() => r() * 2 - 1);
        one.kvStore(c1, 0, p, 1, k, v);
        two.kvStore(c2, 0, p, 1, k, v);
        const q = new Float32Array(nh * hd).map(() => r() * 2 - 1);
        const want = new Float32Array(nh * hd), got = new Float32Array(nh * hd).fill(NaN);
        one.attention(want, q, c1, 0, p, 1, nh);
        two.attention(got, q, c2, 0, p, 1, nh);
        assert.ok(want.every(Number.isFinite), 'finite 1-thread result');
        for (let i = 0; i < got.length; i++) if (got[i] !== want[i]) assert.fail(`${nKv} KV heads x ${group}, hd ${hd}, ${dtypeName(kvType)} cache, pos ${p}: out[${i}] ${got[i]} != ${want[i]}`);
      }
    }
  }
});

test('native Q6_K decode: the compact activation record of rows longer than 4 groups (mv_q6k_long) gives the full record\'s bits (mv_q6k_3)', { skip: reason ?? false }, () => {
  const r = rng(17);
  try {
    for (const threads of [1, 2]) {
      const be = loadNativeBackend({ threads })!;
      // 5 groups (the first long shape), an odd count, 11008 columns (a 7B down projection's rows)
      // and more groups than the stack record holds (the full record's kernel then runs alone)
      for (const cols of [1280, 2304, 11008, 65792]) {
        const rows = 19;
        const w = be.loadWeight(randomWeight(r, DType.Q6_K, rows, cols));
        // mostly small activations with a few large ones, so sub-block sums reach high magnitudes
        const x = new Float32Array(cols).map(() => (r() - 0.5) * (r() < 0.02 ? 200 : 1));
        const compact = new Float32Array(rows).fill(NaN), full = new Float32Array(rows).fill(NaN);
        setTuning('q6k', 1);
        be.matmul(compact, x, w, 1);
        setTuning('q6k', 2);
        be.matmul(full, x, w, 1);
        assert.ok(full.every(Number.isFinite), 'finite results');
        for (let i = 0; i < rows; i++) if (!Object.is(compact[i], full[i])) assert.fail(`${threads} threads, ${cols} columns, row ${i}: ${compact[i]} != ${full[i]}`);
        be.freeWeight(w);
      }
    }
  } finally {
    setTuning('q6k', 1);
  }
});
