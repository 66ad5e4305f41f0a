// A recording Backend: it forwards every call to a TrainingBackend and, while `recording`, writes
// the call on a tape. `backward()` walks the tape in reverse and calls the matching backward
// kernels. This keeps the model definition single (src/model/llama.ts runs unchanged for inference
// and training) — the price is one contract with the model:
//
//   every activation is a fresh buffer that no later op overwrites, except `rope`, which works in
//   place (its backward is in place too, so the pre- and post-rope versions of the buffer never
//   need to coexist), and `matmulAccumulate` (out += x·Wᵀ: no backward reads out's values, and
//   the gradient of the sum is that of both of its versions).
//
// Gradients of activations are keyed by buffer identity; when the op that WROTE a buffer is
// replayed, that buffer's gradient is complete (every reader came later on the tape and has already
// been replayed), so it is taken out of the map and pushed into the op's inputs. Gradients of
// parameters are keyed by the parameter object (a `Weight` for matrices, the Float32Array of a norm
// gain) and accumulate in a `ParamGrads` map that the trainer owns, so micro-batches add up.
import type { Backend, KVCache, LoadWeightOptions, Weight } from '../backend/backend.js';
import type { TrainingBackend } from '../backend/training.js';
import type { DType } from '../tensor/dtype.js';
import type { HostTensor } from '../tensor/tensor.js';
import { assert, LlamaError } from '../errors.js';
import { logitStatsJs } from '../backend/js/logit-stats.js';

/** A trainable parameter's identity: the backend Weight of a matrix or the gain vector of a norm. */
export type ParamKey = Weight | Float32Array;
export type ParamGrads = Map<ParamKey, Float32Array>;

type Op =
  | { kind: 'matmul'; out: Float32Array; x: Float32Array; w: Weight; T: number }
  | { kind: 'matmulAcc'; out: Float32Array; x: Float32Array; w: Weight; T: number }
  | { kind: 'embed'; out: Float32Array; w: Weight; ids: Int32Array }
  | { kind: 'rmsnorm'; out: Float32Array; x: Float32Array; g: Float32Array; T: number; dim: number; eps: number }
  | { kind: 'rope'; x: Float32Array; T: number; nHeads: number; headDim: number; pos: Int32Array; invFreq: Float32Array }
  | { kind: 'swiglu'; out: Float32Array; gate: Float32Array; up: Float32Array; n: number }
  | { kind: 'add'; out: Float32Array; a: Float32Array; b: Float32Array; n: number }
  | { kind: 'mulConst'; out: Float32Array; x: Float32Array; factor: number | Float32Array; n: number }
  | { kind: 'kvStore'; cache: KVCache; layer: number; pos0: number; T: number; k: Float32Array; v: Float32Array }
  | { kind: 'attention'; out: Float32Array; q: Float32Array; cache: KVCache; layer: number; pos0: number; T: number; nHeads: number; stores: KvStoreOp[] };

type KvStoreOp = Extract<Op, { kind: 'kvStore' }>;

export class TapeBackend implements Backend {
  readonly name: string;
  readonly threads: number;
  /** record calls (training) or only forward them (evaluation, generation) */
  recording = false;
  private ops: Op[] = [];
  /** activation gradients by buffer (live only during backward) */
  private grads = new Map<Float32Array, Float32Array>();
  /**
   * Parameters that get no gradient (fine-tuning with a frozen base: LoRA): their matmuls still
   * pass the input gradient dx = dy·W, but dW is neither computed nor stored.
   */
  frozen: ReadonlySet<ParamKey> | undefined;

  constructor(readonly inner: TrainingBackend) {
    this.name = `tape(${inner.name})`;
    this.threads = inner.threads;
  }

  /** Forget the tape (and with it every activation it kept alive). */
  clear(): void {
    this.ops = [];
    this.grads.clear();
  }

  get length(): number {
    return this.ops.length;
  }

  // ---- the forward ops: forward to the inner backend, record while recording ----

  loadWeight(t: HostTensor, opts?: LoadWeightOptions): Weight {
    return this.inner.loadWeight(t, opts);
  }
  freeWeight(w: Weight): void {
    this.inner.freeWeight?.(w);
  }
  /** A frozen weight in its stored type (see TrainingBackend.loadFrozenWeight). */
  loadFrozenWeight(t: HostTensor): Weight {
    return this.inner.loadFrozenWeight(t);
  }

  matmul(out: Float32Array, x: Float32Array, w: Weight, T: number): void {
    this.inner.matmul(out, x, w, T);
    if (this.recording) this.ops.push({ kind: 'matmul', out, x, w, T });
  }

  /**
   * out (T, rows) += x (T, cols) · Wᵀ, in place (LoRA's adapter term added onto the base product,
   * without keeping either product as a buffer of its own). Not a Backend op: the product goes
   * through a transient buffer and the backend's add, so out's values are exactly those of
   * add(out', out, x·Wᵀ) into a fresh out'.
   */
  matmulAccumulate(out: Float32Array, x: Float32Array, w: Weight, T: number): void {
    const n = T * w.rows;
    const prod = new Float32Array(n);
    this.inner.matmul(prod, x, w, T);
    this.inner.add(out, out, prod, n);
    if (this.recording) this.ops.push({ kind: 'matmulAcc', out, x, w, T });
  }

  embed(out: Float32Array, w: Weight, ids: ArrayLike<number>): void {
    this.inner.embed(out, w, ids);
    if (this.recording) this.ops.push({ kind: 'embed', out, w, ids: Int32Array.from(ids) });
  }

  rmsnorm(out: Float32Array, x: Float32Array, g: Float32Array, T: number, dim: number, eps: number): void {
    this.inner.rmsnorm(out, x, g, T, dim, eps);
    if (this.recording) this.ops.push({ kind: 'rmsnorm', out, x, g, T, dim, eps });
  }

  rope(x: Float32Array, T: number, nHeads: number, headDim: number, pos: Int32Array, invFreq: Float32Array): void {
    this.inner.rope(x, T, nHeads, headDim, pos, invFreq);
    if (this.recording) this.ops.push({ kind: 'rope', x, T, nHeads, headDim, pos: Int32Array.from(pos), invFreq });
  }

  swiglu(out: Float32Array, gate: Float32Array, up: Float32Array, n: number): void {
    this.inner.swiglu(out, gate, up, n);
    if (this.recording) this.ops.push({ kind: 'swiglu', out, gate, up, n });
  }

  add(out: Float32Array, a: Float32Array, b: Float32Array, n: number): void {
    this.inner.add(out, a, b, n);
    if (this.recording) this.ops.push({ kind: 'add', out, a, b, n });
  }

  /**
   * out (n) = x (n) · factor, factor a constant or a constant per element (a dropout mask): the op
   * LoRA's scale and dropout need without writing into a recorded buffer. Not a Backend op.
   */
  mulConst(out: Float32Array, x: Float32Array, factor: number | Float32Array, n: number): void {
    if (typeof factor === 'number') for (let i = 0; i < n; i++) out[i] = x[i]! * factor;
    else for (let i = 0; i < n; i++) out[i] = x[i]! * factor[i]!;
    if (this.recording) this.ops.push({ kind: 'mulConst', out, x, factor, n });
  }

  softmax(x: Float32Array, rows: number, cols: number): void {
    if (this.recording) throw new LlamaError('INTERNAL', 'softmax has no backward on the tape (the model does not call it; the loss has its own)');
    this.inner.softmax(x, rows, cols);
  }

  argmax(x: Float32Array, n: number): number {
    return this.inner.argmax(x, n);
  }
  // no gradient: scoring reads logits, it never feeds the tape
  logitStats(x: Float32Array, rows: number, cols: number, outMax: Float32Array, outArgmax: Int32Array, outLogSum: Float64Array): void {
    if (this.inner.logitStats) this.inner.logitStats(x, rows, cols, outMax, outArgmax, outLogSum);
    else logitStatsJs(x, rows, cols, outMax, outArgmax, outLogSum);
  }

  createKVCache(nLayers: number, nCtx: number, nKvHeads: number, headDim: number, type: DType): KVCache {
    return this.inner.createKVCache(nLayers, nCtx, nKvHeads, headDim, type);
  }

  kvStore(cache: KVCache, layer: number, pos0: number, T: number, k: Float32Array, v: Float32Array): void {
    this.inner.kvStore(cache, layer, pos0, T, k, v);
    if (this.recording) this.ops.push({ kind: 'kvStore', cache, layer, pos0, T, k, v });
  }

  attention(out: Float32Array, q: Float32Array, cache: KVCache, layer: number, pos0: number, T: number, nHeads: number): void {
    this.inner.attention(out, q, cache, layer, pos0, T, nHeads);
    if (!this.recording) return;
    // The cache rows this attention read must all have been stored on this tape, so that their
    // values (the k, v buffers) and their gradients (into those buffers) are known.
    const stores: KvStoreOp[] = [];
    let covered = 0;
    for (const op of this.ops) {
      if (op.kind === 'kvStore' && op.cache === cache && op.layer === layer && op.pos0 === covered) {
        stores.push(op);
        covered += op.T;
      }
    }
    if (covered < pos0 + T) {
      throw new LlamaError('INTERNAL', `training attention at layer ${layer} reads cache rows 0..${pos0 + T - 1}, but only 0..${covered - 1} were stored while recording`, {
        hint: 'start training sequences from an empty session (pos 0)',
      });
    }
    this.ops.push({ kind: 'attention', out, q, cache, layer, pos0, T, nHeads, stores });
  }

  // ---- backward ----

  /**
   * Replay the tape backwards from `seed` (buffer -> its gradient, e.g. logits -> dlogits), adding
   * every parameter's gradient into `paramGrads`. Clears the tape afterwards.
   */
  backward(seed: ReadonlyMap<Float32Array, Float32Array>, paramGrads: ParamGrads): void {
    const B = this.inner;
    // a backend may add gradients natively (NativeTrainingBackend.accumulate); same sums either way
    const fast = B.accumulate?.bind(B);
    const addInto = fast ? (dst: Float32Array, src: Float32Array, n: number) => {
      assert(dst.length >= n && src.length >= n, `gradient add: ${dst.length}, ${src.length} < ${n}`);
      fast(dst, src, n);
    } : addIntoJs;
    this.grads = new Map(seed);
    const paramGrad = (key: ParamKey, n: number): Float32Array => {
      let g = paramGrads.get(key);
      if (!g) {
        g = new Float32Array(n);
        paramGrads.set(key, g);
      }
      return g;
    };
    for (let i = this.ops.length - 1; i >= 0; i--) {
      const op = this.ops[i]!;
      switch (op.kind) {
        case 'matmul': {
          const dy = this.take(op.out);
          if (!dy) break;
          const dW = this.frozen?.has(op.w) ? null : paramGrad(op.w, op.w.rows * op.w.cols);
          B.matmulBackward(this.gradOf(op.x), dW, dy, op.x, op.w, op.T);
          break;
        }
        case 'matmulAcc': {
          // out = out_before + x·Wᵀ: out's gradient is also out_before's, so it is read here and
          // taken by the op that wrote out_before
          const dy = this.grads.get(op.out);
          if (!dy) break;
          const dW = this.frozen?.has(op.w) ? null : paramGrad(op.w, op.w.rows * op.w.cols);
          B.matmulBackward(this.gradOf(op.x), dW, dy, op.x, op.w, op.T);
          break;
        }
        case 'embed': {
          const dy = this.take(op.out);
          if (!dy || this.frozen?.has(op.w)) break;
          B.embedBackward(paramGrad(op.w, op.w.rows * op.w.cols), dy, op.ids, op.w.cols);
          break;
        }
        case 'rmsnorm': {
          const dy = this.take(op.out);
          if (!dy) break;
          B.rmsnormBackward(this.gradOf(op.x), this.frozen?.has(op.g) ? null : paramGrad(op.g, op.dim), dy, op.x, op.g, op.T, op.dim, op.eps);
          break;
        }
        case 'rope': {
          // in place: the gradient w.r.t. the rotated buffer becomes that w.r.t. the unrotated one
          const dx = this.grads.get(op.x);
          if (dx) B.ropeBackward(dx, op.T, op.nHeads, op.headDim, op.pos, op.invFreq);
          break;
        }
        case 'swiglu': {
          const dy = this.take(op.out);
          if (!dy) break;
          B.swigluBackward(this.gradOf(op.gate), this.gradOf(op.up), dy, op.gate, op.up, op.n);
          break;
        }
        case 'add': {
          const dy = this.take(op.out);
          if (!dy) break;
          addInto(this.gradOf(op.a), dy, op.n);
          addInto(this.gradOf(op.b), dy, op.n);
          break;
        }
        case 'attention': {
          const dy = this.take(op.out);
          if (!dy) break;
          const { nKvHeads, headDim } = op.cache;
          const kvRow = nKvHeads * headDim;
          const n = op.pos0 + op.T;
          // gather the rows the forward read (they sit in the kvStore buffers)
          const k = new Float32Array(n * kvRow); // (n, nKvHeads·headDim)
          const v = new Float32Array(n * kvRow);
          for (const s of op.stores) {
            const rows = Math.min(s.T, n - s.pos0);
            if (rows <= 0) continue;
            k.set(s.k.subarray(0, rows * kvRow), s.pos0 * kvRow);
            v.set(s.v.subarray(0, rows * kvRow), s.pos0 * kvRow);
          }
          const dk = new Float32Array(n * kvRow);
          const dv = new Float32Array(n * kvRow);
          B.attentionBackward(this.gradOf(op.q), dk, dv, dy, op.q, k, v, op.pos0, op.T, op.nHeads, nKvHeads, headDim);
          // scatter the row gradients back to the buffers that were stored (kvStore's backward)
          for (const s of op.stores) {
            const rows = Math.min(s.T, n - s.pos0);
            if (rows <= 0) continue;
            addInto(this.gradOf(s.k), dk.subarray(s.pos0 * kvRow), rows * kvRow);
            addInto(this.gradOf(s.v), dv.subarray(s.pos0 * kvRow), rows * kvRow);
          }
          break;
        }
        case 'mulConst': {
          const dy = this.take(op.out);
          if (!dy) break;
          const dx = this.gradOf(op.x);
          const f = op.factor;
          if (typeof f === 'number') for (let j = 0; j < op.n; j++) dx[j]! += dy[j]! * f;
          else for (let j = 0; j < op.n; j++) dx[j]! += dy[j]! * f[j]!;
          break;
        }
        case 'kvStore':
          break; // handled by the attention ops that read these rows
      }
    }
    this.clear();
  }

  /** Remove and return the finished gradient of a buffer whose writer is being replayed. */
  private take(buf: Float32Array): Float32Array | undefined {
    const g = this.grads.get(buf);
    this.grads.delete(buf);
    return g;
  }

  /** The gradient accumulator of an activation buffer (zeros at first). */
  private gradOf(buf: Float32Array): Float32Array {
    let g = this.grads.get(buf);
    if (!g) {
      g = new Float32Array(buf.length);
      this.grads.set(buf, g);
    }
    return g;
  }
}

function addIntoJs(dst: Float32Array, src: Float32Array, n: number): void {
  assert(dst.length >= n && src.length >= n, `gradient add: ${dst.length}, ${src.length} < ${n}`);
  for (let i = 0; i < n; i++) dst[i]! += src[i]!;
}
