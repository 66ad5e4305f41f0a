// The training ops: the backward pass of every forward op in `Backend`, plus the loss and the
// optimizer step. A backend that can train implements `TrainingBackend`; the tape in
// src/train/tape.ts records the model's forward calls and replays them backward through these.
//
// Conventions (beyond those of backend.ts):
//  - Every gradient output is ACCUMULATED (`+=`), never overwritten: a buffer read by several ops
//    receives the sum of their contributions, and weight gradients add up over micro-batches.
//  - A gradient output that is `null` is not wanted (e.g. dx of the first matmul on embeddings is
//    needed, but the gradient of a frozen input is not); the kernel skips that work.
//  - Trainable weights are F32 (a backend may refuse anything else). A FROZEN weight, loaded by
//    `loadFrozenWeight` (the base of LoRA fine-tuning), stays in its stored type (F16, Q8_0,
//    Q4_0, Q4_K, Q6_K, ...: QLoRA's memory saving). Its forward out = x·Wᵀ and its backward, the
//    input gradient only (dx = dy·W; matmulBackward gets dW = null for it), are both computed on
//    W's exactly decoded values and F32 activations (not the int8-quantized activations of the
//    inference kernels), so the gradient is the forward's gradient.
import type { Backend, Weight } from './backend.js';
import type { HostTensor } from '../tensor/tensor.js';

export interface TrainingBackend extends Backend {
  /**
   * The kernels run on one thread, so a trainer asked for more threads splits each step's
   * micro-batches over worker threads, each with its own JsTrainingBackend (the js backend).
   */
  readonly dataParallelWorkers?: boolean;
  /** dst (n) += src (n): the tape's gradient accumulation, when the backend has a faster one */
  accumulate?(dst: Float32Array, src: Float32Array, n: number): void;
  /** The f32 FMA throughput (FLOP/s) this backend's threads reach right now, when it can measure it. */
  fmaPeakFlops?(): number;
  /** The F32 values (rows, cols) of a weight this backend loaded, for the optimizer to update in place. */
  weightValues(w: Weight): Float32Array;
  /** Tell the backend that `weightValues(w)` changed (a backend holding a repacked copy refreshes it). */
  weightUpdated(w: Weight): void;
  /**
   * Load a weight that gets no gradient and no optimizer update (a frozen fine-tuning base), in
   * whatever type `t` has and without an F32 copy where the backend can compute on the stored
   * type. matmulBackward accepts it with dW = null only; weightValues may refuse it.
   */
  loadFrozenWeight(t: HostTensor): Weight;

  /**
   * Backward of out (T, rows) = x (T, cols) · Wᵀ:
   *   dx (T, cols) += dy · W        dW (rows, cols) += dyᵀ · x
   * W may be a frozen weight of any type (loadFrozenWeight): dx through its stored values, dW null.
   */
  matmulBackward(dx: Float32Array | null, dW: Float32Array | null, dy: Float32Array, x: Float32Array, w: Weight, T: number): void;
  /** Backward of embed: dW (rows, cols) row ids[t] += dy row t (a scatter-add; repeated ids add up). */
  embedBackward(dW: Float32Array, dy: Float32Array, ids: ArrayLike<number>, cols: number): void;
  /** Backward of rmsnorm (same rounding-free math in f64): dx (T, dim) += …, dg (dim) += …. */
  rmsnormBackward(dx: Float32Array | null, dg: Float32Array | null, dy: Float32Array, x: Float32Array, g: Float32Array, T: number, dim: number, eps: number): void;
  /** Backward of rope, in place over dx (T, nHeads, headDim): a rotation by the opposite angle. */
  ropeBackward(dx: Float32Array, T: number, nHeads: number, headDim: number, pos: Int32Array, invFreq: Float32Array): void;
  /** Backward of out = silu(gate) · up: dgate (n) += …, dup (n) += …. */
  swigluBackward(dgate: Float32Array, dup: Float32Array, dy: Float32Array, gate: Float32Array, up: Float32Array, n: number): void;
  /**
   * Backward of causal attention of T queries at positions pos0 .. pos0+T-1 over keys/values
   * k, v (pos0+T, nKvHeads·headDim) (the cache rows the forward pass read).
   * dq (T, nHeads, headDim) += …; dk, dv (pos0+T, nKvHeads·headDim) += … (query heads of one
   * group add into their shared KV head).
   */
  attentionBackward(
    dq: Float32Array, dk: Float32Array, dv: Float32Array, dy: Float32Array,
    q: Float32Array, k: Float32Array, v: Float32Array,
    pos0: number, T: number, nHeads: number, nKvHeads: number, headDim: number,
  ): void;
  /**
   * Softmax cross-entropy of logits (T, vocab) against targets (T); targets < 0 are ignored.
   * Returns the SUM of -log p(target) over the counted rows (as a float64 number) and the count.
   * If dlogits is given: dlogits (T, vocab) += scale · (softmax(logits) - onehot(target)) on
   * counted rows (scale = 1/total tokens of the optimizer step gives the mean's gradient).
   */
  crossEntropy(logits: Float32Array, targets: ArrayLike<number>, T: number, vocab: number, dlogits: Float32Array | null, scale: number): { sum: number; count: number };
  /**
   * One AdamW step in place over param, m, v (n): decoupled weight decay (Loshchilov & Hutter):
   *   m = β1 m + (1-β1) g;  v = β2 v + (1-β2) g²;  m̂ = m/(1-β1^t);  v̂ = v/(1-β2^t)
   *   param -= lr · (m̂ / (sqrt(v̂) + eps) + wd · param)
   * `gradScale` multiplies g first (gradient clipping folds in here). `step` counts from 1.
   */
  adamwStep(param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, n: number, opts: AdamWStepOptions): void;
  /** Σ x² over x (n), as a float64 number (for the global gradient norm). */
  sumSquares(x: Float32Array, n: number): number;
}

export interface AdamWStepOptions {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly step: number;
  readonly gradScale: number;
}
