// The shared conformance suite (tests/helpers/backend-conformance.ts) on the wasm backend: every
// op x dtype x odd shape against the js oracle, and proof that the wasm kernels actually ran.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createWasmBackend, loadWasmBackend, wasmUnavailableReason } from '../src/backend/wasm/index.js';
import { backendConformance, randomWeight, rng } from './helpers/backend-conformance.js';
import { DType } from '../src/tensor/dtype.js';
import { halfToFloat } from '../src/tensor/f16.js';
import { JsBackend } from '../src/backend/js/js-backend.js';
import { dequantize } from '../src/tensor/quant.js';

const reason = wasmUnavailableReason();

/** NaN where the reference is NaN, the same infinity where it is infinite, else within `tol` */
function assertLike(got: number, want: number, tol: number, where: string): void {
  if (Number.isNaN(want)) assert.ok(Number.isNaN(got), where);
  else if (!Number.isFinite(want)) assert.equal(got, want, where);
  else assert.ok(Math.abs(got - want) <= tol, where);
}

if (reason) {
  test('wasm backend conformance', { skip: reason }, () => {});
} else {
  // 2 threads split every matmul, however small (minParallelWork 0), so the suite covers the split;
  // the caller always waits for the worker (takeBackMs null), so every share runs on the worker
  const two = (await createWasmBackend({ threads: 2, minParallelWork: 0, takeBackMs: null }))!;
  backendConformance('wasm', [
    { label: '1 thread, simd128', make: () => loadWasmBackend({ threads: 1 })! },
    { label: '2 threads, simd128', make: () => two },
  ]);

  test('wasm backend, 2 threads: worker threads run shares of the matmuls and give the 1-thread bits exactly', () => {
    const one = loadWasmBackend({ threads: 1 })!;
    assert.equal(two.threads, 2);
    assert.equal(two.info().variant, 'mt');
    for (const type of [DType.F32, DType.Q8_0, DType.Q4_0, DType.Q4_K, DType.Q6_K]) {
      const rows = 203, cols = 512;
      const r = rng(type + 11);
      const t = randomWeight(r, type, rows, cols);
      const w1 = one.loadWeight(t), w2 = two.loadWeight(t);
      for (const T of [1, 3]) {
        const x = new Float32Array(T * cols).map(() => r() * 2 - 1);
        const a = new Float32Array(T * rows), b = new Float32Array(T * rows).fill(NaN);
        one.matmul(a, x, w1, T);
        const jobs = two.info().workerJobs;
        two.matmul(b, x, w2, T);
        assert.equal(two.info().workerJobs, jobs + 1, 'one share went to the worker');
        assert.deepEqual(b, a, `type ${type} T=${T}`);
      }
    }
  });

  test('wasm backend: F16 matmul reads every binary16 exactly (subnormals, extremes, and rows with infinities or NaN that take the exact conversion)', () => {
    const be = loadWasmBackend({ threads: 1 })!;
    const rows = 5, cols = 27; // a tile of 4 rows and one more; 3 vectors of 8 and a tail of 3
    const special = [0x0001, 0x03ff, 0x8001, 0x0400, 0x7bff, 0xfbff, 0x0000, 0x8000, 0x3c00, 0xbc00, 0x3555, 0x1234];
    const h = new Uint16Array(rows * cols);
    for (let i = 0; i < h.length; i++) h[i] = special[(i * 7) % special.length]!;
    h[1 * cols + 5] = 0x7c00; // +inf in a vector
    h[2 * cols + 10] = 0x7e01; // NaN
    h[3 * cols + 17] = 0xfc00; // -inf
    h[4 * cols + 25] = 0x7c00; // +inf in the tail
    const t = { name: 'w', type: DType.F16, shape: [rows, cols], data: new Uint8Array(h.buffer) };
    const w = be.loadWeight(t);
    for (const T of [1, 2, 3]) {
      const x = new Float32Array(T * cols).map((_, i) => 0.25 + ((i * 13) % 17) / 8);
      const got = new Float32Array(T * rows).fill(12345);
      be.matmul(got, x, w, T);
      for (let tt = 0; tt < T; tt++)
        for (let r = 0; r < rows; r++) {
          let want = 0, mag = 0;
          for (let c = 0; c < cols; c++) {
            const p = halfToFloat(h[r * cols + c]!) * x[tt * cols + c]!;
            want += p;
            mag += Math.abs(p);
          }
          const g = got[tt * rows + r]!;
          const where = `T=${T} token ${tt} row ${r}: ${g} vs ${want}`;
          assertLike(g, want, 2e-5 * mag + 1e-30, where);
        }
    }
  });

  test('wasm backend: Q8_0/Q4_0 block scales are read from binary16 exactly (subnormals, extremes, ±0), and an inf/NaN scale gives a non-finite result, never a finite wrong one', () => {
    // Activations are integers with |x| = 127 somewhere in every block, so their quantization is
    // exact (d = 1, q = x): each result is Σ_b scale_b · (integer dot of block b), computable exactly.
    const rows = 9, cols = 96, nb = cols / 32; // two groups of 4 rows and a partial one; 3 blocks
    const scales = [0x0001, 0x03ff, 0x8001, 0x0400, 0x7bff, 0xfbff, 0x0000, 0x8000, 0x3c00, 0xbc00, 0x3555, 0x1234, 0x8400];
    const code = (r: number, b: number, i: number) => (((r * 31 + b * 17 + i * 5) % 15) - 7); // -7..7: Q8_0 and Q4_0 alike
    const make = (type: DType, scaleOf: (r: number, b: number) => number) => {
      const bs = type === DType.Q8_0 ? 34 : 18;
      const data = new Uint8Array(rows * nb * bs);
      const dv = new DataView(data.buffer);
      for (let r = 0; r < rows; r++)
        for (let b = 0; b < nb; b++) {
          const o = (r * nb + b) * bs;
          dv.setUint16(o, scaleOf(r, b), true);
          for (let i = 0; i < 32; i++) {
            if (type === DType.Q8_0) dv.setInt8(o + 2 + i, code(r, b, i));
            else if (i < 16) data[o + 2 + i] = (code(r, b, i) + 8) | ((code(r, b, i + 16) + 8) << 4);
          }
        }
      return { name: 'w', type, shape: [rows, cols], data };
    };
    const x = (T: number) => new Float32Array(T * cols).map((_, i) => (i % 32 === 3 ? 127 : ((i * 37) % 255) - 127));
    const check = (be: ReturnType<typeof loadWasmBackend> & object, type: DType, scaleOf: (r: number, b: number) => number, label: string) => {
      const w = be.loadWeight(make(type, scaleOf));
      for (const T of [1, 2, 3]) {
        const xs = x(T);
        const got = new Float32Array(T * rows).fill(12345);
        be.matmul(got, xs, w, T);
        for (let t = 0; t < T; t++)
          for (let r = 0; r < rows; r++) {
            let want = 0, mag = 0;
            for (let b = 0; b < nb; b++) {
              let dot = 0;
              for (let i = 0; i < 32; i++) dot += code(r, b, i) * xs[t * cols + 32 * b + i]!;
              const d = halfToFloat(scaleOf(r, b));
              want += dot === 0 ? 0 * d : dot * d; // 0 · inf is NaN, as in the kernel
              mag += Math.abs(dot * d);
            }
            const g = got[t * rows + r]!;
            const where = `${label} T=${T} token ${t} row ${r}: ${g} vs ${want}`;
            assertLike(g, want, 2e-6 * mag, where);
          }
      }
    };
    const finite = (r: number, b: number) => scales[(r * nb + b) % scales.length]!;
    // row 1 block 0: +inf; row 5 block 2: NaN; row 8 (the partial group) block 1: -inf
    const special = (r: number, b: number) => (r === 1 && b === 0 ? 0x7c00 : r === 5 && b === 2 ? 0x7e01 : r === 8 && b === 1 ? 0xfc00 : finite(r, b));
    for (const be of [loadWasmBackend({ threads: 1 })!, two])
      for (const type of [DType.Q8_0, DType.Q4_0]) {
        check(be, type, finite, `${be.threads}T type ${type} finite scales`);
        check(be, type, special, `${be.threads}T type ${type} inf/NaN scales`);
      }
  });

  test('wasm backend: activation blocks with NaN, infinities or tiny values (the quantizer\'s general path) give non-finite or oracle results, never wrong finite ones', () => {
    const be = loadWasmBackend({ threads: 1 })!;
    const oracle = new JsBackend();
    const rows = 6, cols = 256; // 8 blocks (one K-quant super-block)
    const r = rng(77);
    for (const type of [DType.Q8_0, DType.Q4_0, DType.Q4_K, DType.Q6_K]) {
      const t = randomWeight(r, type, rows, cols);
      const w = be.loadWeight(t), wo = oracle.loadWeight(t);
      const wf = dequantize(type, t.data, rows * cols);
      const x = new Float32Array(4 * cols).map(() => r() * 2 - 1);
      x[0 * cols + 40] = NaN; // token 0, block 1
      x[1 * cols + 70] = Infinity; // token 1, block 2
      x[2 * cols + 5] = -Infinity; // token 2, block 0
      for (let i = 32; i < 64; i++) x[3 * cols + i] = (i % 3) * 1e-40; // token 3, block 1: 127/amax overflows
      const got = new Float32Array(4 * rows).fill(12345), want = new Float32Array(4 * rows);
      be.matmul(got, x, w, 4);
      oracle.matmul(want, x, wo, 4);
      for (let o = 0; o < rows; o++) {
        assert.ok(Number.isNaN(got[o]!), `a NaN activation: row ${o} is NaN, got ${got[o]}`);
        assert.ok(!Number.isFinite(got[rows + o]!), `+inf activation: row ${o} is not finite, got ${got[rows + o]}`);
        assert.ok(!Number.isFinite(got[2 * rows + o]!), `-inf activation: row ${o} is not finite, got ${got[2 * rows + o]}`);
        // the activation-quantization bound of the conformance suite: Σ|w|·d/2 + 2e-5·Σ|w·x|
        let bound = 1e-30;
        for (let c = 0; c < cols; c++) {
          const xv = x[3 * cols + c]!, wv = Math.abs(wf[o * cols + c]!);
          let amax = 0;
          for (let i = c & ~31; i < (c & ~31) + 32; i++) amax = Math.max(amax, Math.abs(x[3 * cols + i]!));
          bound += wv * (amax / 127 / 2) + 2e-5 * wv * Math.abs(xv);
        }
        assert.ok(Math.abs(got[3 * rows + o]! - want[3 * rows + o]!) <= bound, `a block of values near 1e-40: row ${o} ${got[3 * rows + o]} vs oracle ${want[3 * rows + o]} (bound ${bound})`);
      }
    }
  });

  test('wasm backend: rope reuses its cos/sin table only for the same positions and frequencies (by value), and matches the oracle each time', () => {
    const be = loadWasmBackend({ threads: 1 })!;
    const oracle = new JsBackend();
    const nh = 3, hd = 16;
    const invFreq = new Float32Array(hd / 2).map((_, i) => Math.pow(10000, (-2 * i) / hd));
    const r = rng(91);
    const check = (T: number, pos: Int32Array, freq: Float32Array, what: string, hd = 2 * freq.length) => {
      const x = new Float32Array(T * nh * hd).map(() => r() * 2 - 1);
      const got = x.slice(), want = x.slice();
      be.rope(got, T, nh, hd, pos, freq);
      oracle.rope(want, T, nh, hd, pos, freq);
      // f32 rounding apart (the oracle rotates in double); a stale table is off by O(1)
      for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i]! - want[i]!) <= 1e-6, `${what}: [${i}] ${got[i]} vs ${want[i]}`);
    };
    check(1, Int32Array.of(5), invFreq, 'position 5');
    check(1, Int32Array.of(5), invFreq, 'position 5 again (the kept table)');
    check(1, Int32Array.of(6), invFreq, 'position 6');
    const pos = Int32Array.of(7);
    check(1, pos, invFreq, 'position 7');
    pos[0] = 8; // the same array, changed in place
    check(1, pos, invFreq, 'position 8 in the same array');
    invFreq[3] = 0.5; // the frequencies changed in place
    check(1, pos, invFreq, 'changed frequencies');
    check(4, Int32Array.of(8, 9, 10, 11), invFreq, 'four tokens');
    check(4, Int32Array.of(8, 9, 10, 12), invFreq, 'four tokens, the last position different');
    check(1, Int32Array.of(8), new Float32Array(hd / 4).fill(0.25), 'another head size');
  });

  test('wasm backend: the ops run in the module (kernel calls are counted), not in a js fallback', () => {
    const be = loadWasmBackend()!;
    const before = be.info().calls;
    const w = be.loadWeight({ name: 'w', type: DType.F32, shape: [2, 4], data: new Uint8Array(new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]).buffer) });
    const out = new Float32Array(2);
    be.matmul(out, new Float32Array([1, 1, 1, 1]), w, 1);
    assert.deepEqual(out, new Float32Array([10, 26]));
    assert.equal(be.argmax(out, 2), 1);
    assert.equal(be.info().calls, before + 2);
    assert.equal(be.name, 'wasm');
  });
}
