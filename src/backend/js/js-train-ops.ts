// The reference training kernels: the backward pass of every JsBackend op, the loss and AdamW.
// Like the forward oracle, they accumulate in float64 (JS numbers; Float64Array row scratch) and
// round once when they add into the f32 gradient buffers. Each derivative is written out next to
// its kernel; tests/grad-check.test.ts checks every one against central finite differences of a
// float64 re-statement of the forward op.
import type { KVCache, Weight } from '../backend.js';
import type { AdamWStepOptions, TrainingBackend } from '../training.js';
import { JsBackend } from './js-backend.js';
import { gemmNT, transpose } from './gemm.js';
import { DType } from '../../tensor/dtype.js';
import type { HostTensor } from '../../tensor/tensor.js';
import { assert, LlamaError } from '../../errors.js';

interface JsKVCacheView extends KVCache {
  readonly k: (Float32Array | Uint16Array)[];
  readonly v: (Float32Array | Uint16Array)[];
}

interface JsWeightView extends Weight {
  readonly values: Float32Array;
}

export class JsTrainingBackend extends JsBackend implements TrainingBackend {
  readonly dataParallelWorkers = true;

  weightValues(w: Weight): Float32Array {
    if (w.type !== DType.F32) throw new LlamaError('TENSOR_TYPE', 'training needs F32 weights', { hint: 'convert the checkpoint to F32 before training it' });
    return (w as JsWeightView).values;
  }

  weightUpdated(_w: Weight): void {
    // JsBackend keeps a view of the F32 tensor bytes: in-place updates are already visible.
  }

  // The oracle decodes a quantized weight once at load (JsBackend.loadWeight): its frozen weights
  // have the stored type's exact values, in F32 memory (the memory saving is the native backend's).
  loadFrozenWeight(t: HostTensor): Weight {
    return this.loadWeight(t);
  }

  // Attention over an F32 cache without the per-element reader of the oracle: the same operations
  // in the same order (f32 scores, the oracle's softmax, f64 weighted sum), so bit-identical.
  override attention(out: Float32Array, q: Float32Array, cache: KVCache, layer: number, pos0: number, T: number, nHeads: number): void {
    const c = cache as JsKVCacheView;
    const kd = c.k[layer]!;
    const vd = c.v[layer]!;
    if (!(kd instanceof Float32Array) || !(vd instanceof Float32Array)) return super.attention(out, q, cache, layer, pos0, T, nHeads);
    const { headDim, nKvHeads } = c;
    const kvRow = nKvHeads * headDim;
    const group = nHeads / nKvHeads;
    const scale = 1 / Math.sqrt(headDim);
    const scores = new Float32Array(pos0 + T);
    for (let t = 0; t < T; t++) {
      const n = pos0 + t + 1;
      for (let h = 0; h < nHeads; h++) {
        const qo = (t * nHeads + h) * headDim;
        const kvh = Math.floor(h / group) * headDim;
        for (let p = 0; p < n; p++) {
          const ko = p * kvRow + kvh;
          let s = 0;
          for (let d = 0; d < headDim; d++) s += q[qo + d]! * kd[ko + d]!;
          scores[p] = s * scale;
        }
        this.softmax(scores, 1, n);
        for (let d = 0; d < headDim; d++) {
          let acc = 0;
          for (let p = 0; p < n; p++) acc += scores[p]! * vd[p * kvRow + kvh + d]!;
          out[qo + d] = acc;
        }
      }
    }
  }

  // y = x Wᵀ  =>  dx = dy W,  dW = dyᵀ x. Both are written as A·Bᵀ products of contiguous rows
  // (dx = dy · (Wᵀ)ᵀ, dW = dyᵀ · (xᵀ)ᵀ) after transposing the operands once per call. For a
  // frozen non-F32 weight, `values` are its decoded values: dx is the product through them.
  matmulBackward(dx: Float32Array | null, dW: Float32Array | null, dy: Float32Array, x: Float32Array, w: Weight, T: number): void {
    const { rows, cols, values } = w as JsWeightView;
    if (dW && w.type !== DType.F32) throw new LlamaError('INTERNAL', `a ${DType[w.type]} weight is frozen: it has no weight gradient`);
    assert(dy.length >= T * rows && x.length >= T * cols, `matmulBackward shapes: dy ${dy.length}, x ${x.length}, T=${T}, W ${rows}x${cols}`);
    if (dx) gemmNT(dx, dy, transpose(values, rows, cols), T, cols, rows, true); // (T, cols)
    if (dW) gemmNT(dW, transpose(dy, T, rows), transpose(x, T, cols), rows, cols, T, true); // (rows, cols)
  }

  // out[t] = W[ids[t]]  =>  dW[ids[t]] += dy[t]
  embedBackward(dW: Float32Array, dy: Float32Array, ids: ArrayLike<number>, cols: number): void {
    for (let t = 0; t < ids.length; t++) {
      const o = ids[t]! * cols;
      for (let c = 0; c < cols; c++) dW[o + c]! += dy[t * cols + c]!;
    }
  }

  // y_i = x_i s g_i with s = (mean(x²) + eps)^(-1/2); ds/dx_j = -s³ x_j / dim, so
  //   dx_j = s g_j dy_j - (s³/dim) x_j Σ_i dy_i g_i x_i,   dg_i = Σ_t dy_i x_i s
  // (the forward's f32 rounding of x·s is treated as exact).
  rmsnormBackward(dx: Float32Array | null, dg: Float32Array | null, dy: Float32Array, x: Float32Array, g: Float32Array, T: number, dim: number, eps: number): void {
    const dgAcc = dg ? new Float64Array(dim) : null;
    for (let t = 0; t < T; t++) {
      const o = t * dim;
      let ss = 0;
      for (let i = 0; i < dim; i++) ss += x[o + i]! * x[o + i]!;
      const s = 1 / Math.sqrt(ss / dim + eps);
      if (dgAcc) for (let i = 0; i < dim; i++) dgAcc[i]! += dy[o + i]! * x[o + i]! * s;
      if (dx) {
        let dot = 0;
        for (let i = 0; i < dim; i++) dot += dy[o + i]! * g[i]! * x[o + i]!;
        const k = (s * s * s * dot) / dim;
        for (let i = 0; i < dim; i++) dx[o + i]! += s * g[i]! * dy[o + i]! - k * x[o + i]!;
      }
    }
    if (dg && dgAcc) for (let i = 0; i < dim; i++) dg[i]! += dgAcc[i]!;
  }

  // The forward rotation R(θ) is orthogonal, so the backward is R(θ)ᵀ = R(-θ).
  ropeBackward(dx: Float32Array, T: number, nHeads: number, headDim: number, pos: Int32Array, invFreq: Float32Array): void {
    const half = headDim / 2;
    for (let t = 0; t < T; t++) {
      const p = pos[t]!;
      for (let i = 0; i < half; i++) {
        const angle = p * invFreq[i]!;
        const c = Math.cos(angle);
        const s = Math.sin(angle);
        for (let h = 0; h < nHeads; h++) {
          const o = (t * nHeads + h) * headDim + 2 * i;
          const a = dx[o]!;
          const b = dx[o + 1]!;
          dx[o] = a * c + b * s;
          dx[o + 1] = -a * s + b * c;
        }
      }
    }
  }

  // out = silu(g) u, silu(g) = g σ(g), silu'(g) = σ(g) (1 + g (1 - σ(g)))
  swigluBackward(dgate: Float32Array, dup: Float32Array, dy: Float32Array, gate: Float32Array, up: Float32Array, n: number): void {
    for (let i = 0; i < n; i++) {
      const g = gate[i]!;
      const sig = 1 / (1 + Math.exp(-g));
      dgate[i]! += dy[i]! * up[i]! * sig * (1 + g * (1 - sig));
      dup[i]! += dy[i]! * g * sig;
    }
  }

  // Per query (t, h): s_p = scale q·k_p (p ≤ pos0+t), P = softmax(s), y = Σ_p P_p v_p.
  //   dv_p += P_p dy;  dP_p = dy·v_p;  ds_p = P_p (dP_p - Σ_j P_j dP_j);
  //   dq += scale Σ_p ds_p k_p;  dk_p += scale ds_p q
  attentionBackward(
    dq: Float32Array, dk: Float32Array, dv: Float32Array, dy: Float32Array,
    q: Float32Array, k: Float32Array, v: Float32Array,
    pos0: number, T: number, nHeads: number, nKvHeads: number, headDim: number,
  ): void {
    const kvRow = nKvHeads * headDim;
    const group = nHeads / nKvHeads;
    const scale = 1 / Math.sqrt(headDim);
    const nMax = pos0 + T;
    const P = new Float64Array(nMax);
    const dS = new Float64Array(nMax);
    const dqAcc = new Float64Array(headDim);
    for (let t = 0; t < T; t++) {
      const n = pos0 + t + 1;
      for (let h = 0; h < nHeads; h++) {
        const qo = (t * nHeads + h) * headDim;
        const kvh = Math.floor(h / group) * headDim;
        // recompute the probabilities exactly as the forward did (f32 scores, f64 softmax)
        let max = -Infinity;
        for (let p = 0; p < n; p++) {
          let s = 0;
          for (let d = 0; d < headDim; d++) s += q[qo + d]! * k[p * kvRow + kvh + d]!;
          const sc = Math.fround(s * scale);
          P[p] = sc;
          if (sc > max) max = sc;
        }
        let sum = 0;
        for (let p = 0; p < n; p++) {
          P[p] = Math.exp(P[p]! - max);
          sum += P[p]!;
        }
        let dot = 0;
        for (let p = 0; p < n; p++) {
          P[p] = P[p]! / sum;
          let dP = 0;
          for (let d = 0; d < headDim; d++) dP += dy[qo + d]! * v[p * kvRow + kvh + d]!;
          dS[p] = dP;
          dot += P[p]! * dP;
        }
        dqAcc.fill(0);
        for (let p = 0; p < n; p++) {
          const ds = P[p]! * (dS[p]! - dot) * scale;
          const ko = p * kvRow + kvh;
          const pp = P[p]!;
          for (let d = 0; d < headDim; d++) {
            dqAcc[d]! += ds * k[ko + d]!;
            dk[ko + d]! += ds * q[qo + d]!;
            dv[ko + d]! += pp * dy[qo + d]!;
          }
        }
        for (let d = 0; d < headDim; d++) dq[qo + d]! += dqAcc[d]!;
      }
    }
  }

  // loss_t = logsumexp(z_t) - z_t[target];  dz = softmax(z) - onehot(target)
  crossEntropy(logits: Float32Array, targets: ArrayLike<number>, T: number, vocab: number, dlogits: Float32Array | null, scale: number): { sum: number; count: number } {
    let sum = 0;
    let count = 0;
    for (let t = 0; t < T; t++) {
      const y = targets[t]!;
      if (y < 0) continue;
      if (!(y < vocab)) throw new LlamaError('TOKEN_ID', `target id ${y} is outside the vocabulary (0..${vocab - 1})`);
      const o = t * vocab;
      let max = -Infinity;
      for (let i = 0; i < vocab; i++) if (logits[o + i]! > max) max = logits[o + i]!;
      let z = 0;
      for (let i = 0; i < vocab; i++) z += Math.exp(logits[o + i]! - max);
      const lse = max + Math.log(z);
      sum += lse - logits[o + y]!;
      count++;
      if (dlogits) {
        for (let i = 0; i < vocab; i++) dlogits[o + i]! += scale * Math.exp(logits[o + i]! - lse);
        dlogits[o + y]! -= scale;
      }
    }
    return { sum, count };
  }

  adamwStep(param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, n: number, o: AdamWStepOptions): void {
    const bc1 = 1 - Math.pow(o.beta1, o.step);
    const bc2 = 1 - Math.pow(o.beta2, o.step);
    for (let i = 0; i < n; i++) {
      const g = grad[i]! * o.gradScale;
      const mi = o.beta1 * m[i]! + (1 - o.beta1) * g;
      const vi = o.beta2 * v[i]! + (1 - o.beta2) * g * g;
      m[i] = mi;
      v[i] = vi;
      const p = param[i]!;
      param[i] = p - o.lr * (mi / bc1 / (Math.sqrt(vi / bc2) + o.eps) + o.weightDecay * p);
    }
  }

  sumSquares(x: Float32Array, n: number): number {
    let s = 0;
    for (let i = 0; i < n; i++) s += x[i]! * x[i]!;
    return s;
  }
}
