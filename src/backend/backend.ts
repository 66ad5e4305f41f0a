// The one seam every FLOP goes through. The model, generation and training call only these
// methods; the `js` backend is the readable oracle and every other backend is tested against it
// by the conformance suite (test/backend-conformance.test.ts).
//
// Conventions, the same for every op:
//  - Activations are Float32Array in host memory, row-major, the last dimension contiguous. Shapes
//    are given in the comments as (rows, cols).
//  - Ops never allocate their outputs; the caller passes `out`. `out` may not alias an input
//    unless the op says "in place".
//  - A weight matrix W has shape (rows, cols) = (outFeatures, inFeatures), as PyTorch stores
//    nn.Linear weights; y = x Wᵀ. Quantized weights stay in their block layout (blocks run along
//    `cols`).
import type { DType } from '../tensor/dtype.js';
import type { HostTensor } from '../tensor/tensor.js';

/** A weight matrix prepared by a backend (possibly repacked). Opaque beyond its shape and type. */
export interface Weight {
  readonly type: DType;
  readonly rows: number;
  readonly cols: number;
}

/** Per-layer key/value storage for causal attention. Layout per layer: (nCtx, nKvHeads, headDim). */
export interface KVCache {
  readonly nLayers: number;
  readonly nCtx: number;
  readonly nKvHeads: number;
  readonly headDim: number;
  /** DType.F32 or DType.F16 */
  readonly type: DType;
}

export interface LoadWeightOptions {
  /** read the caller's F32 values on every use (a training optimizer updates them in place) */
  inPlace?: boolean;
}

export interface Backend {
  readonly name: string;
  /** Worker threads used by this backend (1 for js). */
  readonly threads: number;

  /**
   * Prepare a 2-D weight for matmul/embed. `t.shape` is [rows, cols]. A backend may keep a view of
   * `t.data` or a copy in its own layout, so the caller must not mutate `t.data` afterwards, unless
   * it asks for `inPlace` (F32 only): then the backend reads `t.data` itself on every use.
   */
  loadWeight(t: HostTensor, opts?: LoadWeightOptions): Weight;
  /** Release memory held for a weight (optional for garbage-collected backends). */
  freeWeight?(w: Weight): void;

  /** out (T, W.rows) = x (T, W.cols) · Wᵀ */
  matmul(out: Float32Array, x: Float32Array, w: Weight, T: number): void;
  /** out (ids.length, W.cols) = rows `ids` of W, dequantized */
  embed(out: Float32Array, w: Weight, ids: ArrayLike<number>): void;
  /** out (T, dim) = x / sqrt(mean(x²) + eps) * g, per row; g (dim) */
  rmsnorm(out: Float32Array, x: Float32Array, g: Float32Array, T: number, dim: number, eps: number): void;
  /**
   * In place over x (T, nHeads, headDim): rotate adjacent pairs (x[2i], x[2i+1]) of every head by
   * angle pos[t] · invFreq[i] (Meta's interleaved complex convention). invFreq (headDim/2).
   */
  rope(x: Float32Array, T: number, nHeads: number, headDim: number, pos: Int32Array, invFreq: Float32Array): void;
  /** out (n) = silu(gate) * up */
  swiglu(out: Float32Array, gate: Float32Array, up: Float32Array, n: number): void;
  /** out (n) = a + b (out may alias a) */
  add(out: Float32Array, a: Float32Array, b: Float32Array, n: number): void;
  /** In place: softmax over each of `rows` rows of `cols` values. */
  softmax(x: Float32Array, rows: number, cols: number): void;
  /** Index of the largest of x[0..n) (the lowest index on ties). */
  argmax(x: Float32Array, n: number): number;
  /**
   * Optional: the log-softmax statistics of each of `rows` rows of `cols` logits x (rows, cols), what
   * scoring a token against a row needs (log p = x[token] − max − logSum): outMax[r] = the row's
   * largest value, outArgmax[r] = the first index holding it (+0 and −0 tie; NaN entries never win
   * unless the row starts with NaN, then max is that NaN and argmax 0), outLogSum[r] =
   * log Σ exp(x − max) summed in float64 (NaN when any x − max is NaN). The js backend's loop
   * (src/backend/js/logit-stats.ts) is the oracle; others may sum in another order (~1e-15
   * relative). Callers fall back to that loop when a backend lacks the op.
   */
  logitStats?(x: Float32Array, rows: number, cols: number, outMax: Float32Array, outArgmax: Int32Array, outLogSum: Float64Array): void;

  createKVCache(nLayers: number, nCtx: number, nKvHeads: number, headDim: number, type: DType): KVCache;
  /** Write k, v (T, nKvHeads·headDim) at positions pos0 .. pos0+T-1 of `layer`. */
  kvStore(cache: KVCache, layer: number, pos0: number, T: number, k: Float32Array, v: Float32Array): void;
  /**
   * Causal attention for T queries at positions pos0 .. pos0+T-1 over cache positions 0 .. pos0+T-1
   * of `layer`. q (T, nHeads, headDim) -> out (T, nHeads, headDim). Query head h reads KV head
   * floor(h / (nHeads / nKvHeads)). Scores are scaled by 1/sqrt(headDim); softmax in f32.
   */
  attention(out: Float32Array, q: Float32Array, cache: KVCache, layer: number, pos0: number, T: number, nHeads: number): void;
}
