// Training on the native backend with native backward kernels (src/backend/native/c/train_ops.c):
// the forward ops are NativeBackend's, over F32 weights it reads in place (so the optimizer's
// in-place updates are what the next step computes with); every backward op, the loss and AdamW
// run in C.
//
//   y = x Wᵀ:  dx (T, cols) += dy (T, rows) · W (rows, cols)      gemm, no transposed copies
//              dW (rows, cols) += dyᵀ (rows, T) · x (T, cols)
//   attention, per query head h of KV group g (the products through the same gemm with strides,
//   so heads are read in place; one native task per KV group):  S = Q Kᵀ, dP = dY Vᵀ,
//   P = causal softmax(scale·S), dS = scale·P ∘ (dP - rowsum(P ∘ dP)), dV += Pᵀ dY, dQ += dS K,
//   dK += dSᵀ Q
//
// A frozen weight (loadFrozenWeight: the base of LoRA fine-tuning) stays in its stored type, repacked
// as for inference (Q8_0 / Q4_0 / Q4_K / Q6_K) or held as F16 / BF16: its forward out = x·Wᵀ and
// its backward dx += dy·W (no dW) both run on F32 activations and W's decoded values, decoded
// slice by slice into a per-thread panel (train_quant.c); not through the inference kernels, which
// quantize activations to int8 (the loss would be a step function of the adapters).
//
// Every kernel's result is independent of the thread count and timing (fixed tiles and chunks;
// see train_ops.c), so a resumed run reproduces the uninterrupted one bit for bit.
import type { LoadWeightOptions, Weight } from '../backend.js';
import { DelegatingBackend } from '../delegate.js';
import type { AdamWStepOptions, TrainingBackend } from '../training.js';
import { DType, dtypeName } from '../../tensor/dtype.js';
import type { HostTensor } from '../../tensor/tensor.js';
import { f32Tensor, numElements } from '../../tensor/tensor.js';
import { dequantize } from '../../tensor/quant.js';
import { assert, LlamaError } from '../../errors.js';
import type { NativeAddon } from './addon.js';
import { loadAddon } from './addon.js';
import type { NativeBackend } from './index.js';

/** The training entry points of the addon (argument checks are repeated in C). */
export interface NativeTrainAddon {
  /** C (M, N; row stride ldc) += alpha · op(A) · op(B); op(A) (M, K), op(B) (K, N); trans flags 0/1 */
  gemm(C: Float32Array, ldc: number, A: Float32Array, lda: number, transA: number, B: Float32Array, ldb: number, transB: number, M: number, N: number, K: number, alpha: number): void;
  crossEntropy(logits: Float32Array, targets: Int32Array, T: number, vocab: number, dlogits: Float32Array | null, scale: number): [number, number];
  rmsnormBackward(dx: Float32Array | null, dg: Float32Array | null, dy: Float32Array, x: Float32Array, g: Float32Array, T: number, dim: number, eps: number): void;
  swigluBackward(dgate: Float32Array, dup: Float32Array, dy: Float32Array, gate: Float32Array, up: Float32Array, n: number): void;
  ropeBackward(dx: Float32Array, T: number, nHeads: number, headDim: number, pos: Int32Array, invFreq: Float32Array): void;
  embedBackward(dW: Float32Array, dy: Float32Array, ids: Int32Array, cols: number): void;
  attnSoftmaxBackward(S: Float32Array, dP: Float32Array, T: number, n: number, pos0: number, scale: number): void;
  /** the whole causal attention backward, one task per KV group (see train_ops.c) */
  attentionBackward(dq: Float32Array, dk: Float32Array, dv: Float32Array, dy: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array, pos0: number, T: number, nHeads: number, nKvHeads: number, headDim: number): void;
  adamwStep(param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, n: number, lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, step: number, gradScale: number): void;
  sumSquares(x: Float32Array, n: number): number;
  accumulate(dst: Float32Array, src: Float32Array, n: number): void;
  /** dx (T, cols) += dy (T, rows) · W for a weight handle of any loaded type (train_quant.c); absent in older builds */
  matmulInputBackward?(dx: Float32Array, dy: Float32Array, w: object, T: number): void;
  /** out (T, rows) = x (T, cols) · Wᵀ on F32 activations and W's decoded values (train_quant.c) */
  matmulFrozen?(out: Float32Array, x: Float32Array, w: object, T: number): void;
}

/** The addon's training kernels, or undefined when the built addon predates them. */
export function nativeTrainAddon(): (NativeAddon & NativeTrainAddon) | undefined {
  const a = loadAddon().addon as (NativeAddon & Partial<NativeTrainAddon>) | undefined;
  return a && typeof a.gemm === 'function' && typeof a.adamwStep === 'function' ? (a as NativeAddon & NativeTrainAddon) : undefined;
}

const asInt32 = (a: ArrayLike<number>): Int32Array => (a instanceof Int32Array ? a : Int32Array.from(a));

export class NativeTrainingBackend extends DelegatingBackend implements TrainingBackend {
  /** the F32 values of each weight, which the forward kernels read in place */
  private readonly values = new WeakMap<Weight, Float32Array>();
  /** frozen weights kept in their stored (non-F32) type: computed by train_quant.c */
  private readonly stored = new WeakSet<Weight>();

  constructor(private readonly fwd: NativeBackend, private readonly k: NativeTrainAddon) {
    super(fwd, `${fwd.name}-train`);
  }

  override loadWeight(t: HostTensor, _opts?: LoadWeightOptions): Weight {
    if (t.type !== DType.F32) throw new LlamaError('TENSOR_TYPE', `training needs F32 weights; ${t.name} is ${dtypeName(t.type)}`, { hint: 'start from an F32 checkpoint' });
    if (t.data.byteOffset % 4 !== 0) throw new LlamaError('INTERNAL', `training weight ${t.name} is not 4-byte aligned (the backend would copy it and miss the optimizer's updates)`);
    const w = this.fwd.loadWeight(t, { inPlace: true });
    this.values.set(w, new Float32Array(t.data.buffer, t.data.byteOffset, t.data.byteLength / 4));
    return w;
  }
  /**
   * F32 (aligned): read in place, exactly as a trainable weight. Any other type: kept as the
   * forward kernels hold it (no F32 copy), when the addon has the kernel for its input gradient;
   * an older addon gets the decoded F32 values (correct, without the memory saving).
   */
  loadFrozenWeight(t: HostTensor): Weight {
    if (t.type === DType.F32 && t.data.byteOffset % 4 === 0) return this.loadWeight(t);
    if (typeof this.k.matmulInputBackward !== 'function' || typeof this.k.matmulFrozen !== 'function') return this.loadWeight(f32Tensor(t.name, t.shape, dequantize(t.type, t.data, numElements(t.shape))));
    const w = this.fwd.loadWeight(t);
    this.stored.add(w);
    return w;
  }

  override matmul(out: Float32Array, x: Float32Array, w: Weight, T: number): void {
    if (!this.stored.has(w)) return this.fwd.matmul(out, x, w, T);
    assert(x.length >= T * w.cols && out.length >= T * w.rows, `matmul shapes: x ${x.length} (T=${T}, cols=${w.cols}), out ${out.length} (rows=${w.rows})`);
    this.pool().matmulFrozen!(out, x, this.storedHandle(w), T);
  }

  private storedHandle(w: Weight): object {
    const handle = (w as Weight & { handle?: object }).handle;
    if (!handle) throw new LlamaError('INTERNAL', 'weight was freed or not loaded by the native backend');
    return handle;
  }
  weightValues(w: Weight): Float32Array {
    const v = this.values.get(w);
    if (!v) throw new LlamaError('INTERNAL', w.type === DType.F32 ? 'weight was not loaded by this training backend' : `a frozen ${dtypeName(w.type)} weight has no F32 values`);
    return v;
  }
  weightUpdated(_w: Weight): void {
    // the forward kernels read the F32 values in place: the update is already what they see
  }

  // ---- backward, loss and optimizer: the addon's training kernels ----

  /** FMA throughput at this backend's thread count, best of two short probes (FLOP/s). */
  fmaPeakFlops(): number {
    return 1e9 * Math.max(this.fwd.fmaPeak(5_000_000), this.fwd.fmaPeak(5_000_000));
  }

  /** The pool is process-wide: make it ours (cheap when it already is) before a native call. */
  private pool(): NativeTrainAddon {
    this.fwd.info();
    return this.k;
  }

  matmulBackward(dx: Float32Array | null, dW: Float32Array | null, dy: Float32Array, x: Float32Array, w: Weight, T: number): void {
    const { rows, cols } = w;
    const W = this.values.get(w); // (rows, cols)
    const k = this.pool();
    if (!W) {
      // a frozen weight in its stored type: the input gradient only
      if (!this.stored.has(w)) throw new LlamaError('INTERNAL', 'weight was not loaded by this training backend');
      if (dW) throw new LlamaError('INTERNAL', `a frozen ${dtypeName(w.type)} weight has no weight gradient`);
      if (dx) k.matmulInputBackward!(dx, dy, this.storedHandle(w), T);
      return;
    }
    if (dx) k.gemm(dx, cols, dy, rows, 0, W, cols, 0, T, cols, rows, 1); // (T, cols) += (T, rows)·(rows, cols)
    if (dW) k.gemm(dW, cols, dy, rows, 1, x, cols, 0, rows, cols, T, 1); // (rows, cols) += (T, rows)ᵀ·(T, cols)
  }

  embedBackward(dW: Float32Array, dy: Float32Array, ids: ArrayLike<number>, cols: number): void {
    this.pool().embedBackward(dW, dy, asInt32(ids), cols);
  }

  rmsnormBackward(dx: Float32Array | null, dg: Float32Array | null, dy: Float32Array, x: Float32Array, g: Float32Array, T: number, dim: number, eps: number): void {
    this.pool().rmsnormBackward(dx, dg, dy, x, g, T, dim, eps);
  }

  ropeBackward(dx: Float32Array, T: number, nHeads: number, headDim: number, pos: Int32Array, invFreq: Float32Array): void {
    this.pool().ropeBackward(dx, T, nHeads, headDim, pos, invFreq);
  }

  swigluBackward(dgate: Float32Array, dup: Float32Array, dy: Float32Array, gate: Float32Array, up: Float32Array, n: number): void {
    this.pool().swigluBackward(dgate, dup, dy, gate, up, n);
  }

  attentionBackward(dq: Float32Array, dk: Float32Array, dv: Float32Array, dy: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array, pos0: number, T: number, nHeads: number, nKvHeads: number, headDim: number): void {
    this.pool().attentionBackward(dq, dk, dv, dy, q, k, v, pos0, T, nHeads, nKvHeads, headDim);
  }

  crossEntropy(logits: Float32Array, targets: ArrayLike<number>, T: number, vocab: number, dlogits: Float32Array | null, scale: number): { sum: number; count: number } {
    const ids = asInt32(targets);
    for (let t = 0; t < T; t++) {
      const y = targets[t]!;
      if (!(y < vocab)) throw new LlamaError('TOKEN_ID', `target id ${y} is outside the vocabulary (0..${vocab - 1})`);
    }
    const [sum, count] = this.pool().crossEntropy(logits, ids, T, vocab, dlogits, scale);
    return { sum, count };
  }

  adamwStep(param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, n: number, o: AdamWStepOptions): void {
    this.pool().adamwStep(param, grad, m, v, n, o.lr, o.beta1, o.beta2, o.eps, o.weightDecay, o.step, o.gradScale);
  }

  sumSquares(x: Float32Array, n: number): number {
    return this.pool().sumSquares(x, n);
  }

  /** C (M, N; row stride ldc) += alpha · op(A) · op(B) on this backend's threads (see NativeTrainAddon.gemm) */
  gemm(C: Float32Array, ldc: number, A: Float32Array, lda: number, transA: boolean, B: Float32Array, ldb: number, transB: boolean, M: number, N: number, K: number, alpha = 1): void {
    this.pool().gemm(C, ldc, A, lda, transA ? 1 : 0, B, ldb, transB ? 1 : 0, M, N, K, alpha);
  }

  /** dst (n) += src (n) (gradient accumulation of the tape) */
  accumulate(dst: Float32Array, src: Float32Array, n: number): void {
    this.pool().accumulate(dst, src, n);
  }
}
