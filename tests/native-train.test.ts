// The native training kernels (src/backend/native/c/train_ops.c) against independent references:
// the gemm against a float64 triple loop, every backward op / loss / AdamW against the js oracle
// (src/backend/js/js-train-ops.ts), at sizes that cross the kernels' tile, K-slice and chunk
// boundaries, at 1 and 2 threads; and results that do not depend on the thread count (the
// resume-exactness of training relies on it). Skips when the addon is not built.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsTrainingBackend } from '../src/backend/js/js-train-ops.js';
import { f32Tensor } from '../src/tensor/tensor.js';
import { Rng } from '../src/train/rng.js';
import { selectTrainingBackend } from '../src/backend/select.js';
import type { TrainingBackend } from '../src/backend/training.js';
import type { NativeTrainingBackend } from '../src/backend/native/training.js';

function randArray(rng: Rng, n: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (rng.uniform() * 2 - 1) * scale;
  return a;
}

async function nativeTrainer(threads: number): Promise<NativeTrainingBackend | undefined> {
  let b: TrainingBackend;
  try {
    b = await selectTrainingBackend('native', threads);
  } catch {
    return undefined;
  }
  return b.name === 'native-train' ? (b as NativeTrainingBackend) : undefined;
}

/**
 * Elementwise: |got - want| <= tol · (scale of the row's terms). For sums of K f32 products the
 * rounding error is bounded by about K·2⁻²⁴·Σ|terms| (the classic γ_K bound), so callers pass
 * a tolerance derived from K; for O(1)-term ops 1e-5 relative.
 */
function close(name: string, got: Float32Array, want: ArrayLike<number>, tol: (i: number) => number): void {
  assert.equal(got.length, want.length, `${name}: length`);
  for (let i = 0; i < want.length; i++) {
    assert.ok(Math.abs(got[i]! - want[i]!) <= tol(i), `${name}[${i}]: ${got[i]} vs ${want[i]} (tolerance ${tol(i)})`);
  }
}

function relClose(name: string, got: Float32Array, want: Float32Array, rel = 1e-5): void {
  let scale = 0;
  for (const x of want) scale = Math.max(scale, Math.abs(x));
  close(name, got, want, (i) => rel * (scale + Math.abs(want[i]!)));
}

const bitsEqual = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

test('native gemm: C += alpha·op(A)·op(B) for every transpose combination, odd sizes, strides; same bits at 1 and 2 threads', async (t) => {
  const n1 = await nativeTrainer(1), n2 = await nativeTrainer(2);
  if (!n1 || !n2) return t.skip('the native training kernels are not built here');
  const rng = new Rng(7);
  // sizes crossing the 8 x 48 register tile, the 96 x 192 task tile and the 128-deep K slice
  for (const [M, N, K] of [[1, 1, 1], [7, 49, 300], [97, 193, 5], [130, 101, 259], [3, 500, 17]] as const) {
    for (const ta of [false, true]) {
      for (const tb of [false, true]) {
        const pad = 3; // leading dimensions wider than the rows
        const lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
        const A = randArray(rng, (ta ? K : M) * lda), B = randArray(rng, (tb ? N : K) * ldb);
        const C0 = randArray(rng, M * ldc);
        const alpha = 0.75;
        const want = new Float64Array(C0);
        const bound = new Float64Array(M * ldc);
        for (let i = 0; i < M; i++) {
          for (let j = 0; j < N; j++) {
            let s = 0, abs = 0;
            for (let k = 0; k < K; k++) {
              const a = ta ? A[k * lda + i]! : A[i * lda + k]!;
              const b = tb ? B[j * ldb + k]! : B[k * ldb + j]!;
              s += alpha * a * b;
              abs += Math.abs(alpha * a * b);
            }
            want[i * ldc + j] = C0[i * ldc + j]! + s;
            bound[i * ldc + j] = (K + 2) * 2 ** -23 * (abs + Math.abs(C0[i * ldc + j]!)) + 1e-30;
          }
        }
        const c1 = Float32Array.from(C0), c2 = Float32Array.from(C0);
        n1.gemm(c1, ldc, A, lda, ta, B, ldb, tb, M, N, K, alpha);
        n2.gemm(c2, ldc, A, lda, ta, B, ldb, tb, M, N, K, alpha);
        const label = `gemm M${M} N${N} K${K} ta${+ta} tb${+tb}`;
        close(label, c1, want, (i) => bound[i]!); // the padding columns stay C0 exactly (bound 1e-30)
        assert.ok(bitsEqual(c1, c2), `${label}: 1 and 2 threads differ`);
      }
    }
  }
  // operands too short for their declared shape are refused, not read out of bounds
  assert.throws(() => n1.gemm(new Float32Array(10), 5, new Float32Array(10), 5, false, new Float32Array(10), 5, false, 3, 5, 5), /too short/);
  assert.throws(() => n1.gemm(new Float32Array(100), 2, new Float32Array(100), 5, false, new Float32Array(100), 5, false, 3, 5, 5), /leading dimension/);
});

test('native training ops match the js oracle at tile/chunk-crossing sizes, with the same bits at 1 and 2 threads', async (t) => {
  const n1 = await nativeTrainer(1), n2 = await nativeTrainer(2);
  if (!n1 || !n2) return t.skip('the native training kernels are not built here');
  const ref = new JsTrainingBackend();
  const rng = new Rng(11);
  const results: Float32Array[][] = [];
  for (const b of [n1, n2]) {
    const out: Float32Array[] = [];
    const r = new Rng(12); // same inputs for both thread counts
    // matmul backward: dx (T, cols) += dy·W, dW += dyᵀ·x
    const T = 70, rows = 130, cols = 101;
    const x = randArray(r, T * cols), W = randArray(r, rows * cols), dy = randArray(r, T * rows);
    const wt = f32Tensor('w', [rows, cols], W);
    const wb = b.loadWeight(wt), wr = ref.loadWeight(wt);
    const dx = new Float32Array(T * cols).fill(0.5), dW = new Float32Array(rows * cols).fill(-0.25);
    const dxr = Float32Array.from(dx), dWr = Float32Array.from(dW);
    b.matmulBackward(dx, dW, dy, x, wb, T);
    ref.matmulBackward(dxr, dWr, dy, x, wr, T);
    relClose('matmul dx', dx, dxr, 1e-5);
    relClose('matmul dW', dW, dWr, 1e-5);
    out.push(dx, dW);
    // attention backward, GQA, with earlier cache rows
    const nH = 4, nKv = 2, hd = 16, Ta = 150, P0 = 5, n = P0 + Ta; // 3 blocks of 64 query rows
    const q = randArray(r, Ta * nH * hd), k = randArray(r, n * nKv * hd), v = randArray(r, n * nKv * hd), da = randArray(r, q.length);
    const ab = [new Float32Array(q.length), new Float32Array(k.length), new Float32Array(v.length)];
    const ar = [new Float32Array(q.length), new Float32Array(k.length), new Float32Array(v.length)];
    b.attentionBackward(ab[0]!, ab[1]!, ab[2]!, da, q, k, v, P0, Ta, nH, nKv, hd);
    ref.attentionBackward(ar[0]!, ar[1]!, ar[2]!, da, q, k, v, P0, Ta, nH, nKv, hd);
    ['dq', 'dk', 'dv'].forEach((nm, i) => relClose(`attention ${nm}`, ab[i]!, ar[i]!, 1e-5));
    out.push(...ab);
    // cross-entropy over a vocabulary, one ignored target
    const V = 8000, Tc = 9; // T·V large enough for the threaded path
    const logits = randArray(r, Tc * V, 4), targets = [5, -1, 7999, 0, 17, 17, 400, 3, 998];
    const cb = new Float32Array(Tc * V), cr = new Float32Array(Tc * V);
    const lb = b.crossEntropy(logits, targets, Tc, V, cb, 1 / 8), lr = ref.crossEntropy(logits, targets, Tc, V, cr, 1 / 8);
    assert.equal(lb.count, lr.count);
    // f32 exp in the kernel, f64 in the oracle: ~1e-7 absolute per row on a loss of ~ln(V)
    assert.ok(Math.abs(lb.sum - lr.sum) <= 1e-6 * lr.sum, `crossEntropy sum ${lb.sum} vs ${lr.sum}`);
    relClose('crossEntropy dlogits', cb, cr, 1e-6);
    out.push(cb, Float32Array.of(lb.sum));
    assert.throws(() => b.crossEntropy(logits, [V], 1, V, null, 1), /outside the vocabulary/);
    // rmsnorm backward over several 16-row chunks (threaded: T·dim above the serial threshold)
    const Tn = 70, dim = 1000, g = randArray(r, dim), xn = randArray(r, Tn * dim), dyn = randArray(r, Tn * dim);
    const nb = [new Float32Array(Tn * dim), new Float32Array(dim).fill(1)], nr = [new Float32Array(Tn * dim), new Float32Array(dim).fill(1)];
    b.rmsnormBackward(nb[0]!, nb[1]!, dyn, xn, g, Tn, dim, 1e-5);
    ref.rmsnormBackward(nr[0]!, nr[1]!, dyn, xn, g, Tn, dim, 1e-5);
    relClose('rmsnorm dx', nb[0]!, nr[0]!, 1e-6);
    relClose('rmsnorm dg', nb[1]!, nr[1]!, 1e-6);
    out.push(...nb);
    // swiglu over more than one 16 Ki chunk
    const ns = 40000, gate = randArray(r, ns, 4), up = randArray(r, ns), ds = randArray(r, ns);
    const sb = [new Float32Array(ns), new Float32Array(ns)], sr = [new Float32Array(ns), new Float32Array(ns)];
    b.swigluBackward(sb[0]!, sb[1]!, ds, gate, up, ns);
    ref.swigluBackward(sr[0]!, sr[1]!, ds, gate, up, ns);
    relClose('swiglu dgate', sb[0]!, sr[0]!, 1e-6);
    relClose('swiglu dup', sb[1]!, sr[1]!, 1e-6);
    out.push(...sb);
    // AdamW over more than one 64 Ki chunk with a 16-lane tail; f32 arithmetic vs the f64 oracle
    const na = 140007, p0 = randArray(r, na), g0 = randArray(r, na), m0 = randArray(r, na, 0.01), v0 = randArray(r, na, 0.01).map(Math.abs);
    const pb = Float32Array.from(p0), mb = Float32Array.from(m0), vb = Float32Array.from(v0);
    const pr = Float32Array.from(p0), mr = Float32Array.from(m0), vr = Float32Array.from(v0);
    const o = { lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step: 7, gradScale: 0.7 };
    b.adamwStep(pb, g0, mb, vb, na, o);
    ref.adamwStep(pr, g0, mr, vr, na, o);
    relClose('adamw m', mb, mr, 1e-6);
    relClose('adamw v', vb, vr, 1e-6);
    // the parameter moves by at most lr·(|m̂/√v̂| + wd|p|): compare the update, not the parameter
    const upd = (p: Float32Array) => p.map((x, i) => x - p0[i]!);
    relClose('adamw param update', upd(pb), upd(pr), 1e-4);
    out.push(pb, mb, vb);
    // sum of squares over several 64 Ki chunks
    const xs = randArray(r, 300001);
    const ssb = b.sumSquares(xs, xs.length), ssr = ref.sumSquares(xs, xs.length);
    assert.ok(Math.abs(ssb - ssr) <= 1e-12 * ssr, `sumSquares ${ssb} vs ${ssr}`);
    out.push(Float32Array.of(ssb));
    results.push(out);
    void rng;
  }
  for (let i = 0; i < results[0]!.length; i++) assert.ok(bitsEqual(results[0]![i]!, results[1]![i]!), `result ${i}: 1 and 2 threads differ`);
});
