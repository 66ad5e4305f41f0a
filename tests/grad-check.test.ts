// Gradient checks for every training kernel of the js backend.
//
// Method: each forward op is restated here in float64 (an independent definition, not the
// backend's code). For a random projection r, L(inputs) = Σ r·op(inputs) has the gradient that the
// backward kernel computes when it is given dy = r. The reference gradient is the central finite
// difference (L(x+h) - L(x-h)) / 2h evaluated in float64 with h = 1e-5: truncation error O(h²) and
// rounding error O(1e-16/h) are both ~1e-10, far below the f32 rounding of the kernel's outputs
// (~1e-7 relative). So the tolerance is set by f32: |analytic - numeric| <= 2e-5 · (|numeric| + scale).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsTrainingBackend } from '../src/backend/js/js-train-ops.js';
import { JsBackend } from '../src/backend/js/js-backend.js';
import { DType } from '../src/tensor/dtype.js';
import { f32Tensor } from '../src/tensor/tensor.js';
import { Rng } from '../src/train/rng.js';

const be = new JsTrainingBackend();
const H = 1e-5;

function randArray(rng: Rng, n: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal() * scale;
  return a;
}

/** Central differences of f at x (mutates and restores x, a float64 copy of the f32 input). */
function numericGrad(x: Float64Array, f: () => number): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const x0 = x[i]!;
    x[i] = x0 + H;
    const fp = f();
    x[i] = x0 - H;
    const fm = f();
    x[i] = x0;
    g[i] = (fp - fm) / (2 * H);
  }
  return g;
}

function assertClose(name: string, analytic: ArrayLike<number>, numeric: ArrayLike<number>, rtol = 2e-5): void {
  assert.equal(analytic.length, numeric.length, `${name}: length`);
  let scale = 0;
  for (let i = 0; i < numeric.length; i++) scale = Math.max(scale, Math.abs(numeric[i]!));
  assert.ok(scale > 0, `${name}: the gradient is identically zero, the check would be vacuous`);
  for (let i = 0; i < numeric.length; i++) {
    const a = analytic[i]!;
    const n = numeric[i]!;
    const tol = rtol * (Math.abs(n) + scale);
    assert.ok(Math.abs(a - n) <= tol, `${name}[${i}]: analytic ${a} vs numeric ${n} (tol ${tol.toExponential(2)})`);
  }
}

const dot = (r: ArrayLike<number>, y: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += r[i]! * y[i]!;
  return s;
};

test('matmul backward: dx and dW match finite differences', () => {
  const rng = new Rng(1);
  const T = 3, rows = 5, cols = 7;
  const x32 = randArray(rng, T * cols);
  const w32 = randArray(rng, rows * cols);
  const r = randArray(rng, T * rows);
  const x = Float64Array.from(x32);
  const w = Float64Array.from(w32);
  const L = () => {
    let s = 0;
    for (let t = 0; t < T; t++) for (let o = 0; o < rows; o++) {
      let y = 0;
      for (let c = 0; c < cols; c++) y += x[t * cols + c]! * w[o * cols + c]!;
      s += r[t * rows + o]! * y;
    }
    return s;
  };
  const W = be.loadWeight(f32Tensor('w', [rows, cols], w32));
  const dx = new Float32Array(T * cols);
  const dW = new Float32Array(rows * cols);
  be.matmulBackward(dx, dW, r, x32, W, T);
  assertClose('dx', dx, numericGrad(x, L));
  assertClose('dW', dW, numericGrad(w, L));
  // accumulation: a second call adds the same again
  const dx2 = Float32Array.from(dx);
  be.matmulBackward(dx2, null, r, x32, W, T);
  for (let i = 0; i < dx.length; i++) assert.ok(Math.abs(dx2[i]! - 2 * dx[i]!) <= 1e-6 * (1 + Math.abs(dx[i]!)));
});

test('embed backward scatter-adds repeated ids', () => {
  const rng = new Rng(2);
  const vocab = 6, cols = 4;
  const ids = [2, 5, 2, 0];
  const r = randArray(rng, ids.length * cols);
  const w = Float64Array.from(randArray(rng, vocab * cols));
  const L = () => {
    let s = 0;
    ids.forEach((id, t) => { for (let c = 0; c < cols; c++) s += r[t * cols + c]! * w[id * cols + c]!; });
    return s;
  };
  const dW = new Float32Array(vocab * cols);
  be.embedBackward(dW, r, ids, cols);
  assertClose('dW', dW, numericGrad(w, L));
});

test('rmsnorm backward: dx and dg match finite differences', () => {
  const rng = new Rng(3);
  const T = 3, dim = 8, eps = 1e-5;
  const x32 = randArray(rng, T * dim);
  const g32 = randArray(rng, dim);
  const r = randArray(rng, T * dim);
  const x = Float64Array.from(x32);
  const g = Float64Array.from(g32);
  const L = () => {
    let s = 0;
    for (let t = 0; t < T; t++) {
      let ss = 0;
      for (let i = 0; i < dim; i++) ss += x[t * dim + i]! ** 2;
      const inv = 1 / Math.sqrt(ss / dim + eps);
      for (let i = 0; i < dim; i++) s += r[t * dim + i]! * x[t * dim + i]! * inv * g[i]!;
    }
    return s;
  };
  const dx = new Float32Array(T * dim);
  const dg = new Float32Array(dim);
  be.rmsnormBackward(dx, dg, r, x32, g32, T, dim, eps);
  assertClose('dx', dx, numericGrad(x, L));
  assertClose('dg', dg, numericGrad(g, L));
});

test('rope backward is the transpose of the rotation', () => {
  const rng = new Rng(4);
  const T = 3, nHeads = 2, headDim = 6;
  const pos = Int32Array.from([0, 4, 9]);
  const invFreq = Float32Array.from({ length: headDim / 2 }, (_, i) => 1 / 10000 ** ((2 * i) / headDim));
  const x = Float64Array.from(randArray(rng, T * nHeads * headDim));
  const r = randArray(rng, x.length);
  const L = () => {
    let s = 0;
    for (let t = 0; t < T; t++) for (let h = 0; h < nHeads; h++) for (let i = 0; i < headDim / 2; i++) {
      const o = (t * nHeads + h) * headDim + 2 * i;
      const th = pos[t]! * invFreq[i]!;
      s += r[o]! * (x[o]! * Math.cos(th) - x[o + 1]! * Math.sin(th)) + r[o + 1]! * (x[o]! * Math.sin(th) + x[o + 1]! * Math.cos(th));
    }
    return s;
  };
  const dx = Float32Array.from(r);
  be.ropeBackward(dx, T, nHeads, headDim, pos, invFreq);
  assertClose('dx', dx, numericGrad(x, L));
});

test('swiglu backward: dgate and dup match finite differences', () => {
  const rng = new Rng(5);
  const n = 12;
  const g32 = randArray(rng, n, 3);
  const u32 = randArray(rng, n);
  const r = randArray(rng, n);
  const gate = Float64Array.from(g32);
  const up = Float64Array.from(u32);
  const L = () => {
    let s = 0;
    for (let i = 0; i < n; i++) s += r[i]! * (gate[i]! / (1 + Math.exp(-gate[i]!))) * up[i]!;
    return s;
  };
  const dgate = new Float32Array(n);
  const dup = new Float32Array(n);
  be.swigluBackward(dgate, dup, r, g32, u32, n);
  assertClose('dgate', dgate, numericGrad(gate, L));
  assertClose('dup', dup, numericGrad(up, L));
});

function attentionCase(pos0: number, T: number, nHeads: number, nKvHeads: number, headDim: number, seed: number): void {
  const rng = new Rng(seed);
  const n = pos0 + T;
  const kvRow = nKvHeads * headDim;
  const q32 = randArray(rng, T * nHeads * headDim);
  const k32 = randArray(rng, n * kvRow);
  const v32 = randArray(rng, n * kvRow);
  const r = randArray(rng, q32.length);
  const q = Float64Array.from(q32), k = Float64Array.from(k32), v = Float64Array.from(v32);
  const group = nHeads / nKvHeads;
  const L = () => {
    let total = 0;
    for (let t = 0; t < T; t++) for (let h = 0; h < nHeads; h++) {
      const kh = Math.floor(h / group);
      const m = pos0 + t + 1;
      const s: number[] = [];
      for (let p = 0; p < m; p++) {
        let d = 0;
        for (let i = 0; i < headDim; i++) d += q[(t * nHeads + h) * headDim + i]! * k[p * kvRow + kh * headDim + i]!;
        s.push(d / Math.sqrt(headDim));
      }
      const mx = Math.max(...s);
      const e = s.map((x) => Math.exp(x - mx));
      const z = e.reduce((a, b) => a + b, 0);
      for (let i = 0; i < headDim; i++) {
        let y = 0;
        for (let p = 0; p < m; p++) y += (e[p]! / z) * v[p * kvRow + kh * headDim + i]!;
        total += r[(t * nHeads + h) * headDim + i]! * y;
      }
    }
    return total;
  };
  const dq = new Float32Array(q32.length), dk = new Float32Array(k32.length), dv = new Float32Array(v32.length);
  be.attentionBackward(dq, dk, dv, r, q32, k32, v32, pos0, T, nHeads, nKvHeads, headDim);
  // the kernel recomputes the f32-rounded scores of the forward pass: 1e-4 covers that rounding
  assertClose('dq', dq, numericGrad(q, L), 1e-4);
  assertClose('dk', dk, numericGrad(k, L), 1e-4);
  assertClose('dv', dv, numericGrad(v, L), 1e-4);
}

test('attention backward (causal, GQA 4 query heads over 2 KV heads)', () => attentionCase(0, 5, 4, 2, 4, 6));
test('attention backward with earlier cache positions (pos0 = 3, MHA)', () => attentionCase(3, 2, 2, 2, 6, 7));

test('attention backward agrees with the forward kernel (outputs feed the same math)', () => {
  // guards against the f64 restatement and the js forward disagreeing on the definition
  const rng = new Rng(8);
  const T = 4, nHeads = 4, nKv = 2, hd = 4;
  const cache = be.createKVCache(1, T, nKv, hd, DType.F32);
  const q = randArray(rng, T * nHeads * hd), k = randArray(rng, T * nKv * hd), v = randArray(rng, T * nKv * hd);
  be.kvStore(cache, 0, 0, T, k, v);
  const out = new Float32Array(q.length);
  be.attention(out, q, cache, 0, 0, T, nHeads);
  // d(Σ out)/dv summed over value rows equals the number of queries per KV head (softmax rows sum to 1)
  const ones = new Float32Array(q.length).fill(1);
  const dq = new Float32Array(q.length), dk = new Float32Array(k.length), dv = new Float32Array(v.length);
  be.attentionBackward(dq, dk, dv, ones, q, k, v, 0, T, nHeads, nKv, hd);
  let total = 0;
  for (const x of dv) total += x;
  assert.ok(Math.abs(total - T * nHeads * hd) < 1e-4, `Σ dv = ${total}`);
  // the first query attends only to position 0: its output equals v row 0 of its KV head
  for (let h = 0; h < nHeads; h++) for (let d = 0; d < hd; d++) assert.equal(out[h * hd + d], v[Math.floor(h / 2) * hd + d]);
});

test('cross-entropy: loss and gradient match finite differences; ignored targets', () => {
  const rng = new Rng(9);
  const T = 4, vocab = 7;
  const z32 = randArray(rng, T * vocab, 2);
  const targets = [3, -1, 0, 6];
  const z = Float64Array.from(z32);
  const L = () => {
    let s = 0;
    targets.forEach((y, t) => {
      if (y < 0) return;
      let m = -Infinity;
      for (let i = 0; i < vocab; i++) m = Math.max(m, z[t * vocab + i]!);
      let e = 0;
      for (let i = 0; i < vocab; i++) e += Math.exp(z[t * vocab + i]! - m);
      s += m + Math.log(e) - z[t * vocab + y]!;
    });
    return s / 3;
  };
  const dz = new Float32Array(T * vocab);
  const { sum, count } = be.crossEntropy(z32, targets, T, vocab, dz, 1 / 3);
  assert.equal(count, 3);
  assert.ok(Math.abs(sum / 3 - L()) < 1e-12);
  assertClose('dlogits', dz, numericGrad(z, L));
  for (let i = 0; i < vocab; i++) assert.equal(dz[vocab + i], 0, 'ignored row has no gradient');
  // uniform logits give ln(vocab)
  const u = be.crossEntropy(new Float32Array(vocab), [2], 1, vocab, null, 1);
  assert.ok(Math.abs(u.sum - Math.log(vocab)) < 1e-12);
});

test('adamw step matches the closed form of the first step', () => {
  // At step 1, m̂ = g and v̂ = g², so the update is lr·(g/(|g|+eps) + wd·p).
  const param = Float32Array.from([1, -2, 0.5, 0]);
  const grad = Float32Array.from([0.3, -4, 0, 2]);
  const m = new Float32Array(4), v = new Float32Array(4);
  const lr = 0.01, eps = 1e-5, wd = 0.1;
  const p0 = Array.from(param);
  be.adamwStep(param, grad, m, v, 4, { lr, beta1: 0.9, beta2: 0.95, eps, weightDecay: wd, step: 1, gradScale: 0.5 });
  for (let i = 0; i < 4; i++) {
    const g = grad[i]! * 0.5;
    const expected = p0[i]! - lr * (g / (Math.abs(g) + eps) + wd * p0[i]!);
    assert.ok(Math.abs(param[i]! - expected) < 1e-7, `param[${i}] ${param[i]} vs ${expected}`);
    assert.ok(Math.abs(m[i]! - 0.1 * g) < 1e-7 && Math.abs(v[i]! - 0.05 * g * g) < 1e-7);
  }
});

// ---- the whole model ----
//
// The model runs in f32, so here the finite differences are of an f32 computation: the loss carries
// rounding noise of ~1e-7 relative. With h = 1e-2 on weights of std 0.3 the noise contributes
// ~1e-5 to a difference quotient and truncation O(h²) ~1e-4 relative; we therefore compare the
// directional derivative along one random unit direction per tensor (a sum over all its entries,
// which is large and averages the noise) at 2e-3 relative, and single entries at a looser 2e-2.
import { createTrainingModel, lossAndGrad, lossOnly } from '../src/train/model.js';
import { initWeights } from '../src/train/init.js';
import type { LlamaConfig } from '../src/model/config.js';
import type { Backend, Weight } from '../src/backend/backend.js';
import type { TrainingBackend } from '../src/backend/training.js';
import { selectTrainingBackend } from '../src/backend/select.js';
import { selectBackend } from '../src/backend/select.js';
import { assertLargestEntry } from './helpers/grad.js';

function wholeModelCheck(backend: TrainingBackend, tiedEmbeddings = false): void {
  const config: LlamaConfig = {
    dim: 16, nLayers: 2, nHeads: 4, nKvHeads: 2, headDim: 4, ffnDim: 24, vocabSize: 32,
    normEps: 1e-5, ropeTheta: 10000, contextLength: 8, tiedEmbeddings,
  };
  const weights = initWeights(config, 11);
  const tm = createTrainingModel(config, weights, backend);
  const rng = new Rng(12);
  // larger weights than the 0.02 init make every path (attention included) matter
  for (const p of tm.params) for (let i = 0; i < p.values.length; i++) p.values[i] = p.decay ? rng.normal() * 0.3 : 1 + rng.normal() * 0.2;
  const seq = Array.from({ length: 9 }, () => rng.int(32));
  const inputs = seq.slice(0, 8), targets = seq.slice(1);
  const session = tm.model.newSession({ ctxSize: 8 });
  const grads = new Map();
  const { sum, count } = lossAndGrad(tm, session, inputs, targets, 1 / 8, grads);
  assert.equal(count, 8);
  const loss = () => {
    const r = lossOnly(tm, session, inputs, targets);
    return r.sum / r.count;
  };
  assert.ok(Math.abs(loss() - sum / count) < 1e-12, 'the taped forward equals the plain forward');
  const h = 1e-2;
  assert.equal(tm.params.length, 1 + 2 * 9 + (tiedEmbeddings ? 1 : 2));
  for (const p of tm.params) {
    const g = grads.get(p.key) as Float32Array;
    assert.ok(g, `${p.name} has a gradient`);
    // directional derivative along a random unit direction d
    const d = randArray(rng, p.values.length);
    const norm = Math.hypot(...d);
    for (let i = 0; i < d.length; i++) d[i] = d[i]! / norm;
    const saved = Float32Array.from(p.values);
    const shift = (s: number) => { for (let i = 0; i < d.length; i++) p.values[i] = saved[i]! + s * d[i]!; };
    shift(h); const lp = loss();
    shift(-h); const lm = loss();
    p.values.set(saved);
    const numeric = (lp - lm) / (2 * h);
    let analytic = 0;
    for (let i = 0; i < d.length; i++) analytic += g[i]! * d[i]!;
    assert.ok(Math.abs(numeric - analytic) <= 2e-3 * Math.abs(analytic) + 2e-5, `${p.name}: directional derivative analytic ${analytic} vs numeric ${numeric}`);
    // and the entry with the largest gradient on its own
    assertLargestEntry(p.name, p.values, g, h, loss, 2e-2, 1e-4);
  }
}

test('whole-model gradient (dim 16, 2 layers, GQA 4/2, vocab 32, seq 8) matches finite differences (js)', () => wholeModelCheck(new JsTrainingBackend()));
test('whole-model gradient with tied embeddings (lookup and output projection share one gradient)', () => wholeModelCheck(new JsTrainingBackend(), true));

// The native backend (when built) at 1 and 2 threads — with its own training kernels if it has
// them, else as HybridTrainingBackend (native forward ops and matmul-based backward products, js
// for the rest): the same whole-model check, and each backward kernel against the js reference.
for (const threads of [1, 2]) {
  test(`native training backend at ${threads} thread(s): whole-model gradient and kernel conformance`, async (t) => {
    let b: Backend | undefined;
    try {
      b = await selectBackend('native', { threads });
    } catch {
      b = undefined;
    }
    if (!b) {
      t.skip('the native backend is not built here');
      return;
    }
    const tb = await selectTrainingBackend('native', threads);
    assert.equal(tb.threads, threads);
    wholeModelCheck(tb);
    wholeModelCheck(tb, true);
    kernelConformance(tb, new JsTrainingBackend());
  });
}

/** Every backward kernel of `b` against the js reference, on odd sizes, at f32 tolerance. */
function kernelConformance(b: TrainingBackend, ref: TrainingBackend): void {
  const rng = new Rng(99);
  const close = (name: string, got: Float32Array, want: Float32Array) => {
    let scale = 0;
    for (const x of want) scale = Math.max(scale, Math.abs(x));
    for (let i = 0; i < want.length; i++) {
      assert.ok(Math.abs(got[i]! - want[i]!) <= 1e-4 * (scale + Math.abs(want[i]!)), `${b.name} ${name}[${i}]: ${got[i]} vs ${want[i]}`);
    }
  };
  const T = 7, rows = 37, cols = 19;
  const x = randArray(rng, T * cols), w32 = randArray(rng, rows * cols), dy = randArray(rng, T * rows);
  const t = f32Tensor('w', [rows, cols], w32);
  const wb = b.loadWeight(t), wr = ref.loadWeight(t);
  const run = (be: TrainingBackend, w: Weight) => {
    const dx = new Float32Array(T * cols).fill(0.5), dW = new Float32Array(rows * cols).fill(-0.25);
    be.matmulBackward(dx, dW, dy, x, w, T);
    return [dx, dW] as const;
  };
  const [dxb, dWb] = run(b, wb);
  const [dxr, dWr] = run(ref, wr);
  close('matmul dx', dxb, dxr);
  close('matmul dW', dWb, dWr);
  const dim = 24, g = randArray(rng, dim), xn = randArray(rng, T * dim), dyn = randArray(rng, T * dim);
  const nb = [new Float32Array(T * dim), new Float32Array(dim)] as const, nr = [new Float32Array(T * dim), new Float32Array(dim)] as const;
  b.rmsnormBackward(nb[0], nb[1], dyn, xn, g, T, dim, 1e-5);
  ref.rmsnormBackward(nr[0], nr[1], dyn, xn, g, T, dim, 1e-5);
  close('rmsnorm dx', nb[0], nr[0]);
  close('rmsnorm dg', nb[1], nr[1]);
  const nH = 4, nKv = 2, hd = 6;
  const q = randArray(rng, T * nH * hd), k = randArray(rng, T * nKv * hd), v = randArray(rng, T * nKv * hd), da = randArray(rng, q.length);
  const ab = [new Float32Array(q.length), new Float32Array(k.length), new Float32Array(v.length)] as const;
  const ar = [new Float32Array(q.length), new Float32Array(k.length), new Float32Array(v.length)] as const;
  b.attentionBackward(ab[0], ab[1], ab[2], da, q, k, v, 0, T, nH, nKv, hd);
  ref.attentionBackward(ar[0], ar[1], ar[2], da, q, k, v, 0, T, nH, nKv, hd);
  close('attention dq', ab[0], ar[0]);
  close('attention dk', ab[1], ar[1]);
  close('attention dv', ab[2], ar[2]);
  // with earlier cache rows (pos0 = 2): keys/values have pos0 + T rows
  const P0 = 2;
  const k2 = randArray(rng, (P0 + T) * nKv * hd), v2 = randArray(rng, (P0 + T) * nKv * hd);
  const cb2 = [new Float32Array(q.length), new Float32Array(k2.length), new Float32Array(v2.length)] as const;
  const cr2 = [new Float32Array(q.length), new Float32Array(k2.length), new Float32Array(v2.length)] as const;
  b.attentionBackward(cb2[0], cb2[1], cb2[2], da, q, k2, v2, P0, T, nH, nKv, hd);
  ref.attentionBackward(cr2[0], cr2[1], cr2[2], da, q, k2, v2, P0, T, nH, nKv, hd);
  close('attention dq (pos0 2)', cb2[0], cr2[0]);
  close('attention dk (pos0 2)', cb2[1], cr2[1]);
  close('attention dv (pos0 2)', cb2[2], cr2[2]);
  const n = 53, gate = randArray(rng, n, 3), up = randArray(rng, n), ds = randArray(rng, n);
  const sb = [new Float32Array(n), new Float32Array(n)] as const, sr = [new Float32Array(n), new Float32Array(n)] as const;
  b.swigluBackward(sb[0], sb[1], ds, gate, up, n);
  ref.swigluBackward(sr[0], sr[1], ds, gate, up, n);
  close('swiglu dgate', sb[0], sr[0]);
  close('swiglu dup', sb[1], sr[1]);
  const pos = Int32Array.from({ length: T }, (_, i) => i * 3);
  const invFreq = Float32Array.from({ length: hd / 2 }, (_, i) => 1 / 10000 ** ((2 * i) / hd));
  const rb = Float32Array.from(q), rr = Float32Array.from(q);
  b.ropeBackward(rb, T, nH, hd, pos, invFreq);
  ref.ropeBackward(rr, T, nH, hd, pos, invFreq);
  close('rope', rb, rr);
  const V = 41, logits = randArray(rng, T * V, 2), targets = Array.from({ length: T }, (_, i) => (i * 7) % V);
  const cb = new Float32Array(T * V), cr = new Float32Array(T * V);
  const lb = b.crossEntropy(logits, targets, T, V, cb, 0.1), lr = ref.crossEntropy(logits, targets, T, V, cr, 0.1);
  assert.ok(Math.abs(lb.sum - lr.sum) < 1e-4 * lr.sum, `crossEntropy ${lb.sum} vs ${lr.sum}`);
  close('crossEntropy', cb, cr);
  const eb = new Float32Array(rows * cols), er = new Float32Array(rows * cols);
  const ids = [3, 0, 3, 36, 5, 3, 1];
  b.embedBackward(eb, dy.subarray(0, T * cols), ids, cols);
  ref.embedBackward(er, dy.subarray(0, T * cols), ids, cols);
  close('embed', eb, er);
  const p0 = randArray(rng, 100), g0 = randArray(rng, 100);
  const pb = Float32Array.from(p0), pr = Float32Array.from(p0);
  const mb = new Float32Array(100).fill(0.01), mr = new Float32Array(100).fill(0.01), vb = new Float32Array(100).fill(0.02), vr = new Float32Array(100).fill(0.02);
  const o = { lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-5, weightDecay: 0.1, step: 3, gradScale: 0.7 };
  b.adamwStep(pb, g0, mb, vb, 100, o);
  ref.adamwStep(pr, g0, mr, vr, 100, o);
  close('adamw param', pb, pr);
  close('adamw m', mb, mr);
  close('adamw v', vb, vr);
}

test('the conformance harness itself runs (js against js)', () => kernelConformance(new JsTrainingBackend(), new JsTrainingBackend()));

test('the training backend\'s blocked matmul and F32 attention are bit-identical to the js oracle', () => {
  const rng = new Rng(21);
  const oracle = new JsBackend();
  const fast = new JsTrainingBackend();
  for (const [T, rows, cols] of [[1, 5, 3], [7, 9, 13], [8, 16, 32], [5, 4, 4]] as const) {
    const x = randArray(rng, T * cols);
    const t = f32Tensor('w', [rows, cols], randArray(rng, rows * cols));
    const a = new Float32Array(T * rows), b = new Float32Array(T * rows);
    oracle.matmul(a, x, oracle.loadWeight(t), T);
    fast.matmul(b, x, fast.loadWeight(t), T);
    assert.deepEqual(b, a, `matmul ${T}x${rows}x${cols}`);
  }
  const T = 6, nH = 4, nKv = 2, hd = 8, pos0 = 3;
  const k = randArray(rng, (pos0 + T) * nKv * hd), v = randArray(rng, k.length), q = randArray(rng, T * nH * hd);
  const outs = [oracle, fast].map((be) => {
    const cache = be.createKVCache(1, pos0 + T, nKv, hd, DType.F32);
    be.kvStore(cache, 0, 0, pos0 + T, k, v);
    const out = new Float32Array(q.length);
    be.attention(out, q, cache, 0, pos0, T, nH);
    return out;
  });
  assert.deepEqual(outs[1], outs[0]);
});
