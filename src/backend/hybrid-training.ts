// Training on a backend that has fast forward kernels but no backward ones (the native backend
// today): every forward op runs on that backend, the two big backward products of every matmul
// run on its matmul too, and the remaining backward ops (O(T·dim) and attention's O(T²·dim)) run
// on the js reference kernels.
//
//   y = x Wᵀ:   dx (T, cols) = dy (T, rows) · (Wᵀ)ᵀ    -> matmul(dx, dy, weight Wᵀ (cols, rows))
//               dW (rows, cols) = dyᵀ (rows, T) · (xᵀ)ᵀ -> matmul(dW, dyᵀ, weight xᵀ (cols, T))
//
// The transposed operands are loaded as temporary F32 weights (the native backend uses aligned F32
// bytes in place, so this costs one transpose, not a copy into the backend). Training weights are
// F32 and used in place too, so the optimizer's in-place updates are seen without a reload.
import type { Backend, KVCache, Weight } from './backend.js';
import type { AdamWStepOptions, TrainingBackend } from './training.js';
import { JsTrainingBackend } from './js/js-train-ops.js';
import { transpose } from './js/gemm.js';
import { DType, dtypeName } from '../tensor/dtype.js';
import { f32Tensor, type HostTensor } from '../tensor/tensor.js';
import { LlamaError } from '../errors.js';

export class HybridTrainingBackend implements TrainingBackend {
  readonly name: string;
  readonly threads: number;
  private readonly ref = new JsTrainingBackend();
  private readonly values = new WeakMap<Weight, Float32Array>();
  /** Wᵀ of each weight as a forward-backend weight, valid until the optimizer changes W */
  private readonly transposed = new Map<Weight, Weight>();

  constructor(readonly fwd: Backend) {
    this.name = `${fwd.name}+js-backward`;
    this.threads = fwd.threads;
  }

  loadWeight(t: HostTensor): Weight {
    if (t.type !== DType.F32) throw new LlamaError('TENSOR_TYPE', `training needs F32 weights; ${t.name} is ${dtypeName(t.type)}`);
    if (t.data.byteOffset % 4 !== 0) throw new LlamaError('INTERNAL', `training weight ${t.name} is not 4-byte aligned (the backend would copy it and miss the optimizer's updates)`);
    const w = this.fwd.loadWeight(t, { inPlace: true });
    this.values.set(w, new Float32Array(t.data.buffer, t.data.byteOffset, t.data.byteLength / 4));
    return w;
  }
  freeWeight(w: Weight): void {
    this.fwd.freeWeight?.(w);
  }
  weightValues(w: Weight): Float32Array {
    const v = this.values.get(w);
    if (!v) throw new LlamaError('INTERNAL', 'weight was not loaded by this training backend');
    return v;
  }
  weightUpdated(w: Weight): void {
    // F32 weights are used in place by the forward backend; only the cached transpose is stale
    const t = this.transposed.get(w);
    if (t) {
      this.fwd.freeWeight?.(t);
      this.transposed.delete(w);
    }
  }

  matmul(out: Float32Array, x: Float32Array, w: Weight, T: number): void {
    this.fwd.matmul(out, x, w, T);
  }
  embed(out: Float32Array, w: Weight, ids: ArrayLike<number>): void {
    this.fwd.embed(out, w, ids);
  }
  rmsnorm(out: Float32Array, x: Float32Array, g: Float32Array, T: number, dim: number, eps: number): void {
    this.fwd.rmsnorm(out, x, g, T, dim, eps);
  }
  rope(x: Float32Array, T: number, nHeads: number, headDim: number, pos: Int32Array, invFreq: Float32Array): void {
    this.fwd.rope(x, T, nHeads, headDim, pos, invFreq);
  }
  swiglu(out: Float32Array, gate: Float32Array, up: Float32Array, n: number): void {
    this.fwd.swiglu(out, gate, up, n);
  }
  add(out: Float32Array, a: Float32Array, b: Float32Array, n: number): void {
    this.fwd.add(out, a, b, n);
  }
  softmax(x: Float32Array, rows: number, cols: number): void {
    this.fwd.softmax(x, rows, cols);
  }
  argmax(x: Float32Array, n: number): number {
    return this.fwd.argmax(x, n);
  }
  createKVCache(nLayers: number, nCtx: number, nKvHeads: number, headDim: number, type: DType): KVCache {
    return this.fwd.createKVCache(nLayers, nCtx, nKvHeads, headDim, type);
  }
  kvStore(cache: KVCache, layer: number, pos0: number, T: number, k: Float32Array, v: Float32Array): void {
    this.fwd.kvStore(cache, layer, pos0, T, k, v);
  }
  attention(out: Float32Array, q: Float32Array, cache: KVCache, layer: number, pos0: number, T: number, nHeads: number): void {
    this.fwd.attention(out, q, cache, layer, pos0, T, nHeads);
  }

  matmulBackward(dx: Float32Array | null, dW: Float32Array | null, dy: Float32Array, x: Float32Array, w: Weight, T: number): void {
    const { rows, cols } = w;
    const W = this.weightValues(w); // (rows, cols)
    if (dx) {
      let wT = this.transposed.get(w);
      if (!wT) {
        wT = this.fwd.loadWeight(f32Tensor('Wᵀ', [cols, rows], transpose(W, rows, cols)), { inPlace: true });
        this.transposed.set(w, wT);
      }
      const tmp = new Float32Array(T * cols); // (T, cols)
      this.fwd.matmul(tmp, dy, wT, T);
      for (let i = 0; i < T * cols; i++) dx[i]! += tmp[i]!;
    }
    if (dW) {
      const xT = this.fwd.loadWeight(f32Tensor('xᵀ', [cols, T], transpose(x, T, cols)), { inPlace: true }); // temporary: no copy
      const tmp = new Float32Array(rows * cols); // (rows, cols)
      this.fwd.matmul(tmp, transpose(dy, T, rows), xT, rows);
      this.fwd.freeWeight?.(xT);
      for (let i = 0; i < rows * cols; i++) dW[i]! += tmp[i]!;
    }
  }
  embedBackward(dW: Float32Array, dy: Float32Array, ids: ArrayLike<number>, cols: number): void {
    this.ref.embedBackward(dW, dy, ids, cols);
  }
  rmsnormBackward(dx: Float32Array | null, dg: Float32Array | null, dy: Float32Array, x: Float32Array, g: Float32Array, T: number, dim: number, eps: number): void {
    this.ref.rmsnormBackward(dx, dg, dy, x, g, T, dim, eps);
  }
  ropeBackward(dx: Float32Array, T: number, nHeads: number, headDim: number, pos: Int32Array, invFreq: Float32Array): void {
    this.ref.ropeBackward(dx, T, nHeads, headDim, pos, invFreq);
  }
  swigluBackward(dgate: Float32Array, dup: Float32Array, dy: Float32Array, gate: Float32Array, up: Float32Array, n: number): void {
    this.ref.swigluBackward(dgate, dup, dy, gate, up, n);
  }
  // Per query head, as five matrix products on the fast backend plus O(T·n) glue in js
  // (n = pos0 + T keys; same math as JsTrainingBackend.attentionBackward):
  //   S = scale·Q Kᵀ, P = causal softmax(S), dV += Pᵀ dY, dP = dY Vᵀ,
  //   dS = P ∘ (dP - rowsum(P ∘ dP)), dQ += scale·dS K, dK += scale·dSᵀ Q
  attentionBackward(dq: Float32Array, dk: Float32Array, dv: Float32Array, dy: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array, pos0: number, T: number, nHeads: number, nKvHeads: number, headDim: number): void {
    const n = pos0 + T;
    const hd = headDim;
    const kvRow = nKvHeads * hd;
    const group = nHeads / nKvHeads;
    const scale = 1 / Math.sqrt(hd);
    const F = this.fwd;
    const mm = (out: Float32Array, x: Float32Array, rowsX: number, w: Float32Array, wRows: number, wCols: number) => {
      const wt = F.loadWeight(f32Tensor('attn', [wRows, wCols], w), { inPlace: true }); // temporary: no copy
      F.matmul(out, x, wt, rowsX);
      F.freeWeight?.(wt);
    };
    const Qh = new Float32Array(T * hd); // (T, hd)
    const dYh = new Float32Array(T * hd); // (T, hd)
    const S = new Float32Array(T * n); // (T, n), then P
    const dP = new Float32Array(T * n); // (T, n), then dS
    const tmpTd = new Float32Array(T * hd);
    const tmpNd = new Float32Array(n * hd);
    for (let g = 0; g < nKvHeads; g++) {
      const Kg = new Float32Array(n * hd); // (n, hd)
      const Vg = new Float32Array(n * hd);
      for (let p = 0; p < n; p++) {
        Kg.set(k.subarray(p * kvRow + g * hd, p * kvRow + (g + 1) * hd), p * hd);
        Vg.set(v.subarray(p * kvRow + g * hd, p * kvRow + (g + 1) * hd), p * hd);
      }
      const KgT = transpose(Kg, n, hd); // (hd, n)
      for (let h = g * group; h < (g + 1) * group; h++) {
        for (let t = 0; t < T; t++) {
          const o = (t * nHeads + h) * hd;
          Qh.set(q.subarray(o, o + hd), t * hd);
          dYh.set(dy.subarray(o, o + hd), t * hd);
        }
        mm(S, Qh, T, Kg, n, hd); // S = Q Kᵀ
        mm(dP, dYh, T, Vg, n, hd); // dP = dY Vᵀ
        for (let t = 0; t < T; t++) {
          const o = t * n;
          const m = pos0 + t + 1; // causal: keys 0 .. pos0+t
          let max = -Infinity;
          for (let p = 0; p < m; p++) {
            const sc = Math.fround(S[o + p]! * scale);
            S[o + p] = sc;
            if (sc > max) max = sc;
          }
          let sum = 0;
          for (let p = 0; p < m; p++) {
            const e = Math.exp(S[o + p]! - max);
            S[o + p] = e;
            sum += e;
          }
          let dot = 0;
          for (let p = 0; p < m; p++) {
            S[o + p] = S[o + p]! / sum;
            dot += S[o + p]! * dP[o + p]!;
          }
          for (let p = 0; p < m; p++) dP[o + p] = S[o + p]! * (dP[o + p]! - dot) * scale; // dS·scale
          for (let p = m; p < n; p++) {
            S[o + p] = 0;
            dP[o + p] = 0;
          }
        }
        mm(tmpNd, transpose(S, T, n), n, transpose(dYh, T, hd), hd, T); // Pᵀ dY (n, hd)
        for (let p = 0; p < n; p++) for (let d = 0; d < hd; d++) dv[p * kvRow + g * hd + d]! += tmpNd[p * hd + d]!;
        mm(tmpTd, dP, T, KgT, hd, n); // dS K (T, hd)
        for (let t = 0; t < T; t++) for (let d = 0; d < hd; d++) dq[(t * nHeads + h) * hd + d]! += tmpTd[t * hd + d]!;
        mm(tmpNd, transpose(dP, T, n), n, transpose(Qh, T, hd), hd, T); // dSᵀ Q (n, hd)
        for (let p = 0; p < n; p++) for (let d = 0; d < hd; d++) dk[p * kvRow + g * hd + d]! += tmpNd[p * hd + d]!;
      }
    }
  }
  crossEntropy(logits: Float32Array, targets: ArrayLike<number>, T: number, vocab: number, dlogits: Float32Array | null, scale: number): { sum: number; count: number } {
    return this.ref.crossEntropy(logits, targets, T, vocab, dlogits, scale);
  }
  adamwStep(param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, n: number, opts: AdamWStepOptions): void {
    this.ref.adamwStep(param, grad, m, v, n, opts);
  }
  sumSquares(x: Float32Array, n: number): number {
    return this.ref.sumSquares(x, n);
  }
}
