// A Backend that passes every call to another one. Wrappers that add something to a backend — LoRA
// adapters (model/lora.ts), the native training backend's weight bookkeeping — extend it and
// override only what they change.
import type { Backend, KVCache, LoadWeightOptions, Weight } from './backend.js';
import type { DType } from '../tensor/dtype.js';
import type { HostTensor } from '../tensor/tensor.js';
import { logitStatsJs } from './js/logit-stats.js';

export class DelegatingBackend implements Backend {
  readonly name: string;
  readonly threads: number;

  constructor(readonly inner: Backend, name = inner.name) {
    this.name = name;
    this.threads = inner.threads;
  }

  loadWeight(t: HostTensor, opts?: LoadWeightOptions): Weight {
    return this.inner.loadWeight(t, opts);
  }
  freeWeight(w: Weight): void {
    this.inner.freeWeight?.(w);
  }
  matmul(out: Float32Array, x: Float32Array, w: Weight, T: number): void {
    this.inner.matmul(out, x, w, T);
  }
  embed(out: Float32Array, w: Weight, ids: ArrayLike<number>): void {
    this.inner.embed(out, w, ids);
  }
  rmsnorm(out: Float32Array, x: Float32Array, g: Float32Array, T: number, dim: number, eps: number): void {
    this.inner.rmsnorm(out, x, g, T, dim, eps);
  }
  rope(x: Float32Array, T: number, nHeads: number, headDim: number, pos: Int32Array, invFreq: Float32Array): void {
    this.inner.rope(x, T, nHeads, headDim, pos, invFreq);
  }
  swiglu(out: Float32Array, gate: Float32Array, up: Float32Array, n: number): void {
    this.inner.swiglu(out, gate, up, n);
  }
  add(out: Float32Array, a: Float32Array, b: Float32Array, n: number): void {
    this.inner.add(out, a, b, n);
  }
  softmax(x: Float32Array, rows: number, cols: number): void {
    this.inner.softmax(x, rows, cols);
  }
  argmax(x: Float32Array, n: number): number {
    return this.inner.argmax(x, n);
  }
  logitStats(x: Float32Array, rows: number, cols: number, outMax: Float32Array, outArgmax: Int32Array, outLogSum: Float64Array): void {
    if (this.inner.logitStats) this.inner.logitStats(x, rows, cols, outMax, outArgmax, outLogSum);
    else logitStatsJs(x, rows, cols, outMax, outArgmax, outLogSum);
  }
  createKVCache(nLayers: number, nCtx: number, nKvHeads: number, headDim: number, type: DType): KVCache {
    return this.inner.createKVCache(nLayers, nCtx, nKvHeads, headDim, type);
  }
  kvStore(cache: KVCache, layer: number, pos0: number, T: number, k: Float32Array, v: Float32Array): void {
    this.inner.kvStore(cache, layer, pos0, T, k, v);
  }
  attention(out: Float32Array, q: Float32Array, cache: KVCache, layer: number, pos0: number, T: number, nHeads: number): void {
    this.inner.attention(out, q, cache, layer, pos0, T, nHeads);
  }
}
