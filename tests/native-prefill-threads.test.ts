// Batched (T > 1) matmuls of the quantized types on the native backend: the thread count must not
// change a single output bit. With T >= 8 a row block's whole 16-row groups take the outer-product
// kernel for the first 8*floor(T/8) tokens; the rest go to the tile kernels, or, for a lone last
// token, to the T = 1 kernel, which sums a row in another order. A block of fewer than 16 rows
// (40 rows split over 2 threads: 32 + 8) used to run that lone token in the tile kernel while the
// 1-thread block ran it in the T = 1 kernel, so 2 threads gave other bits (Q6_K 40x2048, T = 9).
// Also: Q6_K's d, kept as binary32 in the repacked rows (src/backend/native/c/common.h), is read
// exactly at the edges of binary16 (subnormal, largest), on every ISA path; and decode attention's
// prefetch distance (knob attnahead) changes no result.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadNativeBackend, nativeUnavailableReason } from '../src/backend/native/index.js';
import { loadAddon } from '../src/backend/native/addon.js';
import { randomWeight, rng } from './helpers/backend-conformance.js';
import { DType, dtypeName } from '../src/tensor/dtype.js';
import { dequantize, quantize } from '../src/tensor/quant.js';

const reason = nativeUnavailableReason();

test('native batched matmul: 1 and 2 threads give the same bits when a thread gets a block of < 16 rows (T = 9, 10, 17, 25)', { skip: reason ?? false }, () => {
  const one = loadNativeBackend({ threads: 1 })!;
  const two = loadNativeBackend({ threads: 2 })!;
  const r = rng(29);
  const cases: [DType, number, number][] = [
    [DType.Q6_K, 40, 2048],
    [DType.Q6_K, 40, 768],
    [DType.Q4_K, 40, 2048],
    [DType.Q4_K, 40, 768],
    [DType.Q8_0, 40, 768],
    [DType.Q4_0, 40, 768],
  ];
  for (const [type, rows, cols] of cases) {
    const t = randomWeight(r, type, rows, cols);
    const w1 = one.loadWeight(t);
    const w2 = two.loadWeight(t);
    for (const T of [9, 10, 17, 25]) {
      const x = new Float32Array(T * cols).map(() => r() * 2 - 1);
      const want = new Float32Array(T * rows);
      one.matmul(want, x, w1, T);
      assert.ok(want.every(Number.isFinite), `${dtypeName(type)} ${rows}x${cols} T=${T}: finite 1-thread result`);
      const got = new Float32Array(T * rows).fill(NaN);
      two.matmul(got, x, w2, T);
      for (let i = 0; i < got.length; i++) {
        if (got[i] !== want[i]) assert.fail(`${dtypeName(type)} ${rows}x${cols} T=${T}: token ${Math.floor(i / rows)} row ${i % rows}: 2 threads ${got[i]} != 1 thread ${want[i]}`);
      }
    }
    one.freeWeight(w1);
    two.freeWeight(w2);
  }
});

test('native Q6_K: d at the edges of binary16 (subnormal 2^-24 .. 65504) is read exactly, every ISA path, T = 1 and 9', { skip: reason ?? false }, () => {
  const rows = 17, cols = 768; // 17 rows: a 16-row group + 1 (outer-product and tile kernels at T = 9)
  const r = rng(31);
  const q = quantize(DType.Q6_K, new Float32Array(rows * cols).map(() => r() * 2 - 1), cols);
  // ggml Q6_K: 210-byte super-blocks, d (binary16) at byte 208; one d per super-block, cycling
  const ds = [0x0001, 0x03ff, 0x0400, 0x7bff, 0x3c00, 0x1234];
  const view = new DataView(q.buffer, q.byteOffset, q.byteLength);
  for (let b = 0; b < q.byteLength / 210; b++) view.setUint16(b * 210 + 208, ds[b % ds.length]!, true);
  const wf = dequantize(DType.Q6_K, q, rows * cols);
  assert.ok(wf.every(Number.isFinite));
  for (const isa of loadNativeBackend({ threads: 1 })!.info().available) {
    const be = loadNativeBackend({ threads: 1, isa })!;
    const w = be.loadWeight({ name: 'w', type: DType.Q6_K, shape: [rows, cols], data: q });
    for (const T of [1, 9]) {
      const x = new Float32Array(T * cols).map(() => r() * 2 - 1);
      const got = new Float32Array(T * rows);
      be.matmul(got, x, w, T);
      for (let t = 0; t < T; t++)
        for (let i = 0; i < rows; i++) {
          // each super-block's contribution scales with its d: compare against the exact float64
          // dot with a tolerance from the activations' int8 quantization (|x| <= 1: ~1/127 per
          // value, relative to the sum of |w·x|)
          let dot = 0, mag = 0;
          for (let c = 0; c < cols; c++) {
            dot += wf[i * cols + c]! * x[t * cols + c]!;
            mag += Math.abs(wf[i * cols + c]!);
          }
          const tol = mag / 100 + 1e-30;
          const g = got[t * rows + i]!;
          if (!(Math.abs(g - dot) <= tol)) assert.fail(`${isa} T=${T} token ${t} row ${i}: ${g} vs ${dot} (tolerance ${tol})`);
        }
    }
    be.freeWeight(w);
  }
});

test('native decode attention: the prefetch distance (knob attnahead: 0, 1, 6, 64 rows) never changes a bit', { skip: reason ?? false }, () => {
  const setTuning = (loadAddon().addon as unknown as { setTuning(name: string, v: number): void }).setTuning;
  const be = loadNativeBackend({ threads: 1 })!;
  const r = rng(37);
  const nKv = 12, hd = 64, ctx = 40; // head size 64: the AVX-512 kernel that prefetches
  try {
    for (const kvType of [DType.F32, DType.F16]) {
      const c = be.createKVCache(1, ctx, nKv, hd, kvType);
      const k = new Float32Array(ctx * nKv * hd).map(() => r() * 2 - 1), v = k.map(() => r() * 2 - 1);
      be.kvStore(c, 0, 0, ctx, k, v);
      const q = new Float32Array(nKv * hd).map(() => r() * 2 - 1);
      for (const p of [0, 5, 6, 7, 39]) {
        setTuning('attnahead', 6);
        const want = new Float32Array(nKv * hd);
        be.attention(want, q, c, 0, p, 1, nKv);
        assert.ok(want.every(Number.isFinite), 'finite result');
        for (const ahead of [0, 1, 64]) {
          setTuning('attnahead', ahead);
          const got = new Float32Array(nKv * hd).fill(NaN);
          be.attention(got, q, c, 0, p, 1, nKv);
          for (let i = 0; i < got.length; i++) if (got[i] !== want[i]) assert.fail(`${dtypeName(kvType)} cache, pos ${p}, attnahead ${ahead}: out[${i}] ${got[i]} != ${want[i]}`);
        }
      }
    }
  } finally {
    setTuning('attnahead', 6);
  }
});

// Prefill-sized elementwise ops run split over the pool (src/backend/native/c/ops.c, from 64K
// elements of work): every element and row must come out as on one thread. The outputs start as
// NaN, so a chunk that no thread ran shows too.
test('native prefill-sized rmsnorm, rope, swiglu and add: 2 threads give the bits of 1 thread (and write every element)', { skip: reason ?? false }, () => {
  const one = loadNativeBackend({ threads: 1 })!;
  const two = loadNativeBackend({ threads: 2 })!;
  const r = rng(31);
  const nh = 12, hd = 64, dim = nh * hd;
  const inv = new Float32Array(hd / 2).map((_, i) => Math.pow(10000, (-2 * i) / hd));
  // T = 130: 99,840 values (over the threshold, not a multiple of the chunking); T = 600: a rope
  // table too large to cache (computed per token instead)
  for (const T of [130, 600]) {
    const x = new Float32Array(T * dim).map(() => r() * 4 - 2);
    const y = new Float32Array(T * dim).map(() => r() * 4 - 2);
    const g = new Float32Array(dim).map(() => r() + 0.5);
    const pos = Int32Array.from({ length: T }, (_, t) => 3 + 7 * t);
    const run = (be: NonNullable<ReturnType<typeof loadNativeBackend>>) => {
      const norm = new Float32Array(T * dim).fill(NaN);
      be.rmsnorm(norm, x, g, T, dim, 1e-5);
      const roped = Float32Array.from(x);
      be.rope(roped, T, nh, hd, pos, inv);
      const act = new Float32Array(T * dim).fill(NaN);
      be.swiglu(act, x, y, T * dim);
      const sum = new Float32Array(T * dim).fill(NaN);
      be.add(sum, x, y, T * dim);
      return { norm, roped, act, sum };
    };
    const a = run(one), b = run(two);
    for (const k of ['norm', 'roped', 'act', 'sum'] as const) {
      assert.ok(a[k].every(Number.isFinite), `${k} T=${T}: every element written (1 thread)`);
      for (let i = 0; i < a[k].length; i++) if (!Object.is(a[k][i], b[k][i])) assert.fail(`${k} T=${T} [${i}]: ${a[k][i]} at 1 thread, ${b[k][i]} at 2`);
    }
  }
});
