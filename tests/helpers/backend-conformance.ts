// The backend conformance suite, reusable for any Backend: every op x dtype x shape against the
// `js` oracle on fresh random data. Call `backendConformance(name, factory, variants)` from a test
// file; each variant (thread count, kernel path) gets the whole suite.
//
// Tolerances (why each bound holds):
//  - float weights (F32/F16/BF16): both sides compute the same products of the same f32 values;
//    they differ only in summation order. A sum of n products in f32 with any order has error
//    <= (n-1)·u·Σ|w·x| (u = 2^-24) in the worst case; blocked/SIMD sums of n <= ~2000 stay far
//    below 2e-5·Σ|w·x|, and the oracle sums in f64. Bound: 2e-5·Σ|w·x| + 1e-30.
//  - quantized weights: a fast backend may quantize the activations per 32-value block to int8
//    (x ≈ d·q, d = max|x|/127, q = round(x/d)), as ggml does. Two checks:
//      (a) against the oracle fed the *same* quantized activations (emulated here bit for bit in
//          f32): only summation order and the f32 scale products differ -> 2e-5·Σ|w·xq|;
//      (b) against the oracle on the raw x: |x - d·q| <= d/2 per value, so the result may move by
//          Σ_blocks (d_b/2)·Σ_{c in b}|w_c| on top of (a). A backend that does not quantize
//          passes (b) trivially; (a) is then checked with the bound of (b) as well.
//  - embed: dequantization is exact in f32 for every type -> bit-exact.
//  - elementwise ops: a few f32 roundings (exp, rsqrt, cos/sin) -> 1e-5 relative.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend } from '../../src/backend/backend.js';
import { JsBackend } from '../../src/backend/js/js-backend.js';
import { DType, dtypeName } from '../../src/tensor/dtype.js';
import { floatToBf16, floatToHalf } from '../../src/tensor/f16.js';
import { dequantize, quantize } from '../../src/tensor/quant.js';
import type { HostTensor } from '../../src/tensor/tensor.js';

export interface ConformanceVariant {
  /** label, e.g. "2 threads, avx2" */
  readonly label: string;
  readonly make: () => Backend;
}

/** Deterministic xorshift so a failure names a seed that reproduces it. */
export function rng(seed: number): () => number {
  let s = (seed >>> 0) || 0x9e3779b9;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

function randn(r: () => number, n: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (r() * 2 - 1) * scale;
  return out;
}

/** A random weight tensor of `type` (quantized with the reference quantizer). */
export function randomWeight(r: () => number, type: DType, rows: number, cols: number): HostTensor {
  const v = randn(r, rows * cols);
  let data: Uint8Array;
  if (type === DType.F32) data = new Uint8Array(v.buffer);
  else if (type === DType.F16) data = new Uint8Array(Uint16Array.from(v, floatToHalf).buffer);
  else if (type === DType.BF16) data = new Uint8Array(Uint16Array.from(v, floatToBf16).buffer);
  else data = quantize(type, v, cols);
  return { name: `w_${dtypeName(type)}_${rows}x${cols}`, type, shape: [rows, cols], data };
}

const f = Math.fround;

function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v - Math.trunc(v)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Q8 activation quantization per 32-value block, emulated in f32 exactly as the native kernels do
 * it: d = amax/127, q = round_half_even(x · (127/amax)). Returns d·q per value and d per block.
 */
export function quantizeActivations(x: Float32Array, cols: number): { xq: Float32Array; d: Float32Array } {
  const xq = new Float32Array(x.length);
  const d = new Float32Array(x.length / 32);
  for (let b = 0; b < x.length / 32; b++) {
    let amax = 0;
    for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(x[b * 32 + i]!));
    const db = f(amax / 127);
    const id = db !== 0 ? f(127 / amax) : 0;
    d[b] = db;
    for (let i = 0; i < 32; i++) xq[b * 32 + i] = f(db * roundHalfEven(f(x[b * 32 + i]! * id)));
  }
  void cols;
  return { xq, d };
}

const FLOAT_TYPES = [DType.F32, DType.F16, DType.BF16];
const QUANT_TYPES = [DType.Q8_0, DType.Q4_0, DType.Q4_K, DType.Q6_K];
/** a type without a dedicated native kernel (exercises the generic path) */
const GENERIC_TYPES = [DType.Q5_K, DType.Q4_1];

function shapesFor(type: DType): [number, number][] {
  if (FLOAT_TYPES.includes(type)) return [[1, 1], [1, 17], [7, 37], [5, 16], [13, 100], [9, 257]];
  // 37 rows x T >= 8 reach the outer-product prefill kernels (16-row x 8-token groups) and their
  // row/token remainders. Q8_0/Q4_0 rows are cut into 16-block groups (AVX2: two halves of 8):
  // 416 and 768 columns end in partial groups of 13 and 8 blocks.
  if (type === DType.Q8_0 || type === DType.Q4_0 || type === DType.Q4_1) return [[1, 32], [5, 96], [13, 64], [6, 544], [3, 1056], [37, 160], [21, 544], [9, 416], [2, 768]];
  // 37 rows x T >= 8 also reach Q4_K's and Q6_K's outer-product prefill kernels and their
  // remainders; 33 x 1280 (5 super-blocks, 2 row groups + 1 row) and 48 x 256 (whole row groups,
  // one super-block) are the odd and even edges of the Q6_K packing. Q4_K decode keeps rows of up
  // to 1024 columns in registers: 256 (half a group, 256-bit tail), 512 (one whole group), 768 (a
  // group + a 256-bit tail), 1024 (two whole groups); 1280 takes the general kernel.
  return [[1, 256], [7, 512], [5, 768], [37, 512], [33, 1280], [48, 256], [6, 1024]];
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

export function backendConformance(name: string, variants: ConformanceVariant[]): void {
  const oracle = new JsBackend();
  let seed = 1;
  for (const variant of variants) {
    const label = `${name} [${variant.label}]`;

    test(`${label}: matmul, float weights (F32/F16/BF16), odd shapes, T = 1..9`, () => {
      const be = variant.make();
      for (const type of FLOAT_TYPES)
        for (const [rows, cols] of shapesFor(type)) {
          const s = seed++;
          const r = rng(s);
          const t = randomWeight(r, type, rows, cols);
          const wo = oracle.loadWeight(t), wb = be.loadWeight(t);
          const wf = dequantize(type, t.data, rows * cols);
          for (const T of [1, 2, 5, 9]) {
            const x = randn(r, T * cols);
            const want = new Float32Array(T * rows), got = new Float32Array(T * rows).fill(NaN);
            oracle.matmul(want, x, wo, T);
            be.matmul(got, x, wb, T);
            for (let tt = 0; tt < T; tt++)
              for (let o = 0; o < rows; o++) {
                let mag = 0;
                for (let c = 0; c < cols; c++) mag += Math.abs(wf[o * cols + c]! * x[tt * cols + c]!);
                const i = tt * rows + o;
                assert.ok(Math.abs(got[i]! - want[i]!) <= 2e-5 * mag + 1e-30, `${dtypeName(type)} ${rows}x${cols} T=${T} seed ${s} out[${tt},${o}]: ${got[i]} vs ${want[i]} (Σ|wx| ${mag})`);
              }
          }
          be.freeWeight?.(wb);
        }
    });

    test(`${label}: matmul, quantized weights (Q8_0/Q4_0/Q4_K/Q6_K and the generic path), T = 1..9`, () => {
      const be = variant.make();
      for (const type of [...QUANT_TYPES, ...GENERIC_TYPES])
        for (const [rows, cols] of shapesFor(type)) {
          const s = seed++;
          const r = rng(s);
          const t = randomWeight(r, type, rows, cols);
          const wo = oracle.loadWeight(t), wb = be.loadWeight(t);
          const wf = dequantize(type, t.data, rows * cols);
          for (const T of [1, 3, 4, 9, 20]) {
            const x = randn(r, T * cols);
            const { xq, d } = quantizeActivations(x, cols);
            const got = new Float32Array(T * rows).fill(NaN), wantQ = new Float32Array(T * rows), wantX = new Float32Array(T * rows);
            be.matmul(got, x, wb, T);
            oracle.matmul(wantQ, xq, wo, T);
            oracle.matmul(wantX, x, wo, T);
            for (let tt = 0; tt < T; tt++)
              for (let o = 0; o < rows; o++) {
                let mag = 0, magQ = 0, actErr = 0;
                for (let c = 0; c < cols; c++) {
                  const w = Math.abs(wf[o * cols + c]!);
                  mag += w * Math.abs(x[tt * cols + c]!);
                  magQ += w * Math.abs(xq[tt * cols + c]!);
                  actErr += w * (d[(tt * cols + c) >> 5]! / 2);
                }
                const i = tt * rows + o;
                const tolA = 2e-5 * magQ + 1e-30, tolB = actErr + 2e-5 * mag + 1e-30;
                const g = got[i]!;
                const where = `${dtypeName(type)} ${rows}x${cols} T=${T} seed ${s} out[${tt},${o}]`;
                assert.ok(Math.abs(g - wantX[i]!) <= tolB, `${where}: ${g} vs oracle ${wantX[i]} beyond the activation-quantization bound ${tolB}`);
                assert.ok(Math.abs(g - wantQ[i]!) <= tolA || Math.abs(g - wantX[i]!) <= 2e-5 * mag, `${where}: ${g} vs oracle-on-quantized-x ${wantQ[i]} (tol ${tolA})`);
              }
          }
          be.freeWeight?.(wb);
        }
    });

    test(`${label}: embed is bit-exact for every type`, () => {
      const be = variant.make();
      for (const type of [...FLOAT_TYPES, ...QUANT_TYPES, ...GENERIC_TYPES]) {
        const [rows, cols] = shapesFor(type)[1]!;
        const r = rng(seed++);
        const t = randomWeight(r, type, rows, cols);
        const wo = oracle.loadWeight(t), wb = be.loadWeight(t);
        const ids = [rows - 1, 0, Math.floor(rows / 2), 0];
        const want = new Float32Array(ids.length * cols), got = new Float32Array(ids.length * cols).fill(NaN);
        oracle.embed(want, wo, ids);
        be.embed(got, wb, ids);
        assert.deepEqual(got, want, `embed ${dtypeName(type)}`);
        assert.throws(() => be.embed(got, wb, [rows]), /outside the vocabulary/);
      }
    });

    test(`${label}: rmsnorm, rope, swiglu, add, softmax, argmax`, () => {
      const be = variant.make();
      const r = rng(seed++);
      for (const [T, dim] of [[1, 1], [1, 7], [3, 64], [2, 100], [5, 4096]] as const) {
        const x = randn(r, T * dim, 3), g = randn(r, dim);
        const want = new Float32Array(T * dim), got = new Float32Array(T * dim).fill(NaN);
        oracle.rmsnorm(want, x, g, T, dim, 1e-5);
        be.rmsnorm(got, x, g, T, dim, 1e-5);
        for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i]! - want[i]!) <= 1e-5 * Math.abs(want[i]!) + 1e-7, `rmsnorm T=${T} dim=${dim} [${i}] ${got[i]} vs ${want[i]}`);
      }
      for (const [T, nh, hd] of [[1, 1, 2], [3, 4, 8], [2, 3, 64]] as const) {
        const x = randn(r, T * nh * hd);
        const pos = Int32Array.from({ length: T }, (_, i) => i * 97 + 3);
        const inv = Float32Array.from({ length: hd / 2 }, (_, i) => Math.pow(10000, (-2 * i) / hd));
        const want = x.slice(), got = x.slice();
        oracle.rope(want, T, nh, hd, pos, inv);
        be.rope(got, T, nh, hd, pos, inv);
        assert.ok(maxAbsDiff(got, want) <= 1e-5, `rope T=${T} heads=${nh} headDim=${hd}: ${maxAbsDiff(got, want)}`);
      }
      {
        // calls in a row, as a forward pass makes them: a backend that keeps the last positions'
        // cos/sin table must see a change of any position or frequency, and tables too large to keep
        const nh = 2, hd = 64;
        const inv = Float32Array.from({ length: hd / 2 }, (_, i) => Math.pow(10000, (-2 * i) / hd));
        const inv4 = inv.map((f) => f / 4);
        const from = (T: number, p0: number) => Int32Array.from({ length: T }, (_, i) => p0 + i);
        const moved = from(8, 0);
        moved[5] = 40;
        const calls: [Int32Array, Float32Array][] = [[from(8, 0), inv], [from(8, 0), inv], [from(8, 0), inv4], [moved, inv4], [from(1, 7), inv], [from(1, 7), inv4], [from(600, 3), inv], [from(600, 3), inv]];
        for (const [k, [pos, fr]] of calls.entries()) {
          const x = randn(r, pos.length * nh * hd);
          const want = x.slice(), got = x.slice();
          oracle.rope(want, pos.length, nh, hd, pos, fr);
          be.rope(got, pos.length, nh, hd, pos, fr);
          assert.ok(maxAbsDiff(got, want) <= 1e-5, `rope call ${k} (T=${pos.length}): ${maxAbsDiff(got, want)}`);
        }
      }
      for (const n of [1, 15, 1000, 20]) {
        const a = randn(r, n, 8), b = randn(r, n, 8);
        // the tails of exp: gates far past the float range of e^-g, zero, subnormal
        if (n === 20) a.set([-200, -104, -89, -88, -30, 0, 1e-40, 30, 88, 89, 104, 200, -1e30, 1e30]);
        const want = new Float32Array(n), got = new Float32Array(n).fill(NaN);
        oracle.swiglu(want, a, b, n);
        be.swiglu(got, a, b, n);
        for (let i = 0; i < n; i++) assert.ok(Math.abs(got[i]! - want[i]!) <= 1e-5 * Math.abs(want[i]!) + 1e-6, `swiglu n=${n} [${i}]`);
        oracle.add(want, a, b, n);
        be.add(got, a, b, n);
        assert.deepEqual(got, want, 'add is exact');
        const inPlace = a.slice();
        be.add(inPlace, inPlace, b, n);
        assert.deepEqual(inPlace, want, 'add with out aliasing a');
      }
      for (const [rows, cols] of [[1, 1], [3, 17], [2, 1000]] as const) {
        const x = randn(r, rows * cols, 20);
        const want = x.slice(), got = x.slice();
        oracle.softmax(want, rows, cols);
        be.softmax(got, rows, cols);
        for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i]! - want[i]!) <= 1e-6 * Math.max(1e-3, want[i]!), `softmax ${rows}x${cols} [${i}]: ${got[i]} vs ${want[i]}`);
      }
      for (const n of [1, 2, 33, 32000]) {
        const x = randn(r, n);
        const k = Math.floor(r() * n);
        x[k] = 5;
        if (n > 2) x[n - 1] = 5; // a tie: the lowest index wins
        assert.equal(be.argmax(x, n), oracle.argmax(x, n), `argmax n=${n}`);
      }
    });

    // Optional op. max and argmax are exact (the same comparisons); logSum may be summed in
    // another order: 1e-12 relative, plus 1e-14 absolute where the sum is within a hair of 1
    // (logSum ≈ 0, when every other value is far below the max: relative error means nothing there).
    test(`${label}: logitStats (optional) equals the js oracle: ties, ±0, ±Infinity, NaN, huge/tiny values, odd widths`, { skip: variant.make().logitStats ? false : 'this backend has no logitStats (callers use the js loop)' }, () => {
      const be = variant.make();
      const r = rng(seed++);
      const cases: { rows: number; cols: number; x: Float32Array; what: string }[] = [];
      for (const [rows, cols] of [[1, 1], [1, 7], [2, 15], [3, 16], [1, 17], [4, 31], [2, 33], [5, 100], [1, 4096], [3, 4099], [70, 4096], [17, 4099]] as const)
        cases.push({ rows, cols, x: randn(r, rows * cols, 20), what: 'random' });
      const row = (vals: number[], what: string) => cases.push({ rows: 1, cols: vals.length, x: Float32Array.from(vals), what });
      const wide = (cols: number, fill: (i: number) => number, what: string) => cases.push({ rows: 1, cols, x: Float32Array.from({ length: cols }, (_, i) => fill(i)), what });
      wide(100, (i) => (i % 37 === 5 ? 3 : -1), 'ties: the first of several maxima');
      wide(40, (i) => (i === 3 ? -0 : i === 20 ? 0 : -2), '-0 before +0: they tie, max is -0');
      wide(40, (i) => (i === 3 ? 0 : i === 20 ? -0 : -2), '+0 before -0');
      wide(50, (i) => (i % 3 ? -Infinity : i / 7), '-Infinity entries');
      wide(33, () => -Infinity, 'all -Infinity (logSum NaN)');
      wide(33, (i) => (i === 9 ? Infinity : 1), '+Infinity (logSum NaN)');
      wide(45, (i) => (i === 0 ? NaN : i), 'NaN first (max NaN, argmax 0)');
      wide(45, (i) => (i === 30 ? NaN : i % 11), 'NaN inside (max of the rest, logSum NaN)');
      wide(64, (i) => (i % 2 ? 3e38 : -3e38), 'huge magnitudes (differences past -745)');
      wide(64, (i) => (i - 32) * 1e-30, 'tiny magnitudes');
      wide(70, (i) => -i * 11, 'differences through -708..-745 (exp tails, subnormal terms)');
      wide(4096, (i) => (i === 1234 ? 50 : -20 + (i % 9)), 'one dominant value (sum within 1e-12 of 1)');
      row([5], 'one value');
      for (const { rows, cols, x, what } of cases) {
        const want = { max: new Float32Array(rows), argmax: new Int32Array(rows), logSum: new Float64Array(rows) };
        const got = { max: new Float32Array(rows).fill(7), argmax: new Int32Array(rows).fill(-1), logSum: new Float64Array(rows).fill(7) };
        oracle.logitStats!(x, rows, cols, want.max, want.argmax, want.logSum);
        be.logitStats!(x, rows, cols, got.max, got.argmax, got.logSum);
        for (let i = 0; i < rows; i++) {
          const at = `${what}, ${rows}x${cols} row ${i}`;
          assert.equal(got.argmax[i], want.argmax[i], `argmax: ${at}`);
          assert.equal(got.max[i], want.max[i], `max (Object.is): ${at}`);
          const g = got.logSum[i]!, w = want.logSum[i]!;
          if (Number.isNaN(w)) assert.ok(Number.isNaN(g), `logSum NaN like the oracle: ${at}, got ${g}`);
          else assert.ok(Math.abs(g - w) <= 1e-12 * Math.abs(w) + 1e-14, `logSum ${at}: ${g} vs ${w}`);
        }
      }
      be.logitStats!(new Float32Array(0), 0, 8, new Float32Array(0), new Int32Array(0), new Float64Array(0)); // no rows: nothing to do, no throw
    });

    test(`${label}: KV cache store + causal attention (F32 and F16 caches, grouped heads)`, () => {
      const be = variant.make();
      const r = rng(seed++);
      for (const type of [DType.F32, DType.F16])
        for (const [nh, nkv, hd] of [[4, 4, 8], [4, 2, 16], [6, 1, 6], [2, 2, 64], [2, 1, 80], [1, 1, 128], [1, 1, 256]] as const) {
          const nCtx = 19, nLayers = 2;
          const co = oracle.createKVCache(nLayers, nCtx, nkv, hd, type), cb = be.createKVCache(nLayers, nCtx, nkv, hd, type);
          let pos = 0;
          for (const T of [5, 1, 4, 9]) {
            const k = randn(r, T * nkv * hd, 2), v = randn(r, T * nkv * hd, 2), q = randn(r, T * nh * hd, 2);
            for (const layer of [0, 1]) {
              oracle.kvStore(co, layer, pos, T, k, v);
              be.kvStore(cb, layer, pos, T, k, v);
            }
            const want = new Float32Array(T * nh * hd), got = new Float32Array(T * nh * hd).fill(NaN);
            oracle.attention(want, q, co, 1, pos, T, nh);
            be.attention(got, q, cb, 1, pos, T, nh);
            assert.ok(maxAbsDiff(got, want) <= 2e-5, `attention ${dtypeName(type)} heads ${nh}/${nkv} hd ${hd} pos0=${pos} T=${T}: ${maxAbsDiff(got, want)}`);
            pos += T;
          }
        }
    });

    test(`${label}: decode attention over spans longer than one chunk (128 positions) equals the oracle`, () => {
      const be = variant.make();
      const r = rng(seed++);
      for (const type of [DType.F32, DType.F16])
        for (const [nh, nkv, hd] of [[4, 4, 8], [4, 2, 16], [6, 1, 6], [2, 2, 64], [2, 1, 80], [1, 1, 128]] as const) {
          const nCtx = 300;
          const co = oracle.createKVCache(1, nCtx, nkv, hd, type), cb = be.createKVCache(1, nCtx, nkv, hd, type);
          // keys of positions 128-255 are 4x larger: that chunk's scores dominate the others', so a
          // combination that mis-weighs the chunks' partial sums is far off
          const k = randn(r, nCtx * nkv * hd, 1), v = randn(r, nCtx * nkv * hd, 2);
          for (let i = 128 * nkv * hd; i < 256 * nkv * hd; i++) k[i]! *= 4;
          oracle.kvStore(co, 0, 0, nCtx, k, v);
          be.kvStore(cb, 0, 0, nCtx, k, v);
          for (const pos of [127, 128, 129, 255, 256, 299]) {
            const q = randn(r, nh * hd, 1);
            const want = new Float32Array(nh * hd), got = new Float32Array(nh * hd).fill(NaN);
            oracle.attention(want, q, co, 0, pos, 1, nh);
            be.attention(got, q, cb, 0, pos, 1, nh);
            assert.ok(maxAbsDiff(got, want) <= 2e-5, `attention ${dtypeName(type)} heads ${nh}/${nkv} hd ${hd} at position ${pos}: ${maxAbsDiff(got, want)}`);
          }
        }
    });

    test(`${label}: a KV cache of megabytes (one shared block in the native backend) keeps every layer's K and V apart and starts zeroed`, () => {
      const be = variant.make();
      const r = rng(seed++);
      for (const type of [DType.F32, DType.F16]) {
        const nLayers = 3, nCtx = 700, nh = 4, nkv = 2, hd = 64; // 2.2 MB in F32, 1.1 MB in F16
        const co = oracle.createKVCache(nLayers, nCtx, nkv, hd, type), cb = be.createKVCache(nLayers, nCtx, nkv, hd, type);
        // every layer gets its own rows at the start and at the very end of the cache; the rows
        // between are never written and must read as zeros, as the oracle's do
        for (const [pos, T] of [[0, 40], [nCtx - 30, 30]] as const)
          for (let layer = 0; layer < nLayers; layer++) {
            const k = randn(r, T * nkv * hd, 2), v = randn(r, T * nkv * hd, 2);
            oracle.kvStore(co, layer, pos, T, k, v);
            be.kvStore(cb, layer, pos, T, k, v);
          }
        for (let layer = 0; layer < nLayers; layer++) {
          const q = randn(r, nh * hd, 2);
          const want = new Float32Array(nh * hd), got = new Float32Array(nh * hd).fill(NaN);
          oracle.attention(want, q, co, layer, nCtx - 1, 1, nh);
          be.attention(got, q, cb, layer, nCtx - 1, 1, nh);
          assert.ok(maxAbsDiff(got, want) <= 2e-5, `attention ${dtypeName(type)} layer ${layer} over ${nCtx} positions: ${maxAbsDiff(got, want)}`);
        }
      }
    });
  }
}
