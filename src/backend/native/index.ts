// The `native` backend: the Backend interface over the C addon (src/backend/native/c/). Weights
// are used in place (F32/F16/BF16/Q4_K/Q6_K: the addon keeps a reference to the tensor's bytes) or
// repacked once into native memory (Q8_0/Q4_0: quants and scales split for the SIMD kernels).
// Other quantized types take a generic path: dequantized to F32 at load (memory-hungry; those
// types are rare in LLaMA files).
//
// The addon's thread pool and kernel path are process-wide; each backend instance remembers the
// thread count (and optionally the ISA) it was made with and re-applies it before every op when
// another instance changed it (cheap compare; the pool is only rebuilt on an actual change).
import type { Backend, KVCache, LoadWeightOptions, Weight } from '../backend.js';
import { DType, dtypeName } from '../../tensor/dtype.js';
import type { HostTensor } from '../../tensor/tensor.js';
import { dequantize } from '../../tensor/quant.js';
import { assert, LlamaError } from '../../errors.js';
import { defaultThreads, loadAddon, type NativeAddon, type NativeInfo } from './addon.js';
import { NativeTrainingBackend, nativeTrainAddon } from './training.js';
import { logitStatsJs } from '../js/logit-stats.js';

export { defaultThreads } from './addon.js';
export type { NativeInfo } from './addon.js';

/** Types with a dedicated kernel; everything else is dequantized to F32 at load. */
export const NATIVE_KERNEL_TYPES: readonly DType[] = [DType.F32, DType.F16, DType.BF16, DType.Q8_0, DType.Q4_0, DType.Q4_K, DType.Q6_K];
/** types the kernels read as stored (the others are repacked), so they can be used in place */
const IN_PLACE_TYPES: readonly DType[] = [DType.F32, DType.F16, DType.BF16];

interface NativeWeight extends Weight {
  handle: object | undefined;
  /** bytes read per full pass over the weight (for bandwidth figures) */
  readonly bytes: number;
}

/** KV caches from this size on share one huge-page block (c/addon.c allocPages) */
const KV_PAGES_MIN_BYTES = 1 << 20;

interface NativeKVCache extends KVCache {
  readonly k: (Float32Array | Uint16Array)[];
  readonly v: (Float32Array | Uint16Array)[];
}

export interface NativeBackendOptions {
  /** worker threads including the caller (default: LLAMA_THREADS or physical cores) */
  threads?: number;
  /** force a kernel path (avx512 | avx2 | neon | scalar), for tests and comparisons */
  isa?: string;
}

// the addon state last applied, shared by all instances
let appliedThreads = -1;
let appliedIsa = '';

export class NativeBackend implements Backend {
  readonly name = 'native';
  readonly threads: number;
  readonly isa: string;
  private readonly a: NativeAddon;

  constructor(addon: NativeAddon, opts: NativeBackendOptions = {}) {
    this.a = addon;
    const threads = opts.threads ?? defaultThreads();
    if (!Number.isInteger(threads) || threads < 1 || threads > 256) throw new LlamaError('USAGE', `--threads must be a whole number 1..256, got ${threads}`);
    const info = addon.info();
    const isa = opts.isa ?? info.available[0]!;
    if (!info.available.includes(isa)) throw new LlamaError('BACKEND_UNAVAILABLE', `this CPU cannot run the ${isa} kernels`, { hint: `available: ${info.available.join(', ')}` });
    this.isa = isa;
    this.threads = threads;
    this.apply();
    this.threads = addon.info().threads; // the pool may have started fewer threads than asked
  }

  /** Which kernel path and pool size are in effect (proves the fast path in tests). */
  info(): NativeInfo {
    this.apply();
    return this.a.info();
  }

  private apply(): void {
    if (appliedThreads !== this.threads) {
      appliedThreads = this.a.setThreads(this.threads);
    }
    if (appliedIsa !== this.isa) {
      this.a.setIsa(this.isa);
      appliedIsa = this.isa;
    }
  }

  /** Streaming read bandwidth (GB/s per repetition) at this backend's thread count. */
  readBandwidth(bytes: number, reps: number): Float64Array {
    this.apply();
    return this.a.readBandwidth(bytes, reps);
  }

  /** FMA throughput (GFLOP/s) at this backend's thread count: the ceiling of prefill. */
  fmaPeak(iters = 20_000_000): number {
    this.apply();
    return this.a.fmaPeak(iters);
  }

  loadWeight(t: HostTensor, opts: LoadWeightOptions = {}): Weight {
    if (t.shape.length !== 2) throw new LlamaError('TENSOR_SHAPE', `weight ${t.name} must be 2-D, got [${t.shape.join(', ')}]`);
    const [rows, cols] = t.shape as [number, number];
    this.apply();
    if (opts.inPlace && !IN_PLACE_TYPES.includes(t.type)) throw new LlamaError('INTERNAL', `the native backend cannot use ${dtypeName(t.type)} weights in place`);
    let type = t.type;
    let bytes = t.data;
    if (!NATIVE_KERNEL_TYPES.includes(type)) {
      // generic path: no kernel for this type yet
      const f = dequantize(type, t.data, rows * cols);
      bytes = new Uint8Array(f.buffer, f.byteOffset, f.byteLength);
      type = DType.F32;
    }
    let handle: object;
    try {
      handle = this.a.loadWeight(bytes, type, rows, cols, opts.inPlace ? 1 : 0);
    } catch (e) {
      throw new LlamaError('TENSOR_TYPE', `native backend cannot load ${t.name} (${dtypeName(t.type)} [${rows}, ${cols}]): ${(e as Error).message}`);
    }
    const w: NativeWeight = { type: t.type, rows, cols, handle, bytes: bytes.byteLength };
    return w;
  }

  freeWeight(w: Weight): void {
    const nw = w as NativeWeight;
    if (nw.handle) this.a.freeWeight(nw.handle);
    nw.handle = undefined;
  }

  private handle(w: Weight): object {
    const h = (w as NativeWeight).handle;
    if (!h) throw new LlamaError('INTERNAL', 'weight was freed or not loaded by the native backend');
    return h;
  }

  matmul(out: Float32Array, x: Float32Array, w: Weight, T: number): void {
    // (the message is built only on failure: a template literal per call cost ~1% of a 110M decode token)
    if (!(x.length >= T * w.cols && out.length >= T * w.rows)) assert(false, `matmul shapes: x ${x.length} (T=${T}, cols=${w.cols}), out ${out.length} (rows=${w.rows})`);
    this.apply();
    this.a.matmul(out, x, this.handle(w), T);
  }

  embed(out: Float32Array, w: Weight, ids: ArrayLike<number>): void {
    const idArr = ids instanceof Int32Array ? ids : Int32Array.from(ids);
    for (let i = 0; i < idArr.length; i++) {
      const id = idArr[i]!;
      if (!(id >= 0 && id < w.rows) || id !== ids[i]) throw new LlamaError('TOKEN_ID', `token id ${ids[i]} is outside the vocabulary (0..${w.rows - 1})`);
    }
    this.a.embed(out, this.handle(w), idArr);
  }

  rmsnorm(out: Float32Array, x: Float32Array, g: Float32Array, T: number, dim: number, eps: number): void {
    this.apply(); // kernel path, and the pool that prefill-sized calls split over
    this.a.rmsnorm(out, x, g, T, dim, eps);
  }

  rope(x: Float32Array, T: number, nHeads: number, headDim: number, pos: Int32Array, invFreq: Float32Array): void {
    this.apply();
    this.a.rope(x, T, nHeads, headDim, pos, invFreq);
  }

  swiglu(out: Float32Array, gate: Float32Array, up: Float32Array, n: number): void {
    this.apply();
    this.a.swiglu(out, gate, up, n);
  }

  add(out: Float32Array, a: Float32Array, b: Float32Array, n: number): void {
    this.apply();
    this.a.add(out, a, b, n);
  }

  softmax(x: Float32Array, rows: number, cols: number): void {
    this.apply();
    this.a.softmax(x, rows, cols);
  }

  argmax(x: Float32Array, n: number): number {
    return this.a.argmax(x, n);
  }

  logitStats(x: Float32Array, rows: number, cols: number, outMax: Float32Array, outArgmax: Int32Array, outLogSum: Float64Array): void {
    assert(Number.isInteger(rows) && rows >= 0 && Number.isInteger(cols) && cols > 0, `logitStats: rows ${rows}, cols ${cols}`);
    assert(x.length >= rows * cols && outMax.length >= rows && outArgmax.length >= rows && outLogSum.length >= rows, `logitStats shapes: x ${x.length} (rows=${rows}, cols=${cols}), outputs ${outMax.length}/${outArgmax.length}/${outLogSum.length}`);
    if (rows === 0) return;
    this.apply(); // the ISA path and pool size this backend was made with
    if (this.a.logitStats) this.a.logitStats(x, rows, cols, outMax, outArgmax, outLogSum);
    else logitStatsJs(x, rows, cols, outMax, outArgmax, outLogSum); // an addon built before the op
  }

  createKVCache(nLayers: number, nCtx: number, nKvHeads: number, headDim: number, type: DType): KVCache {
    if (type !== DType.F32 && type !== DType.F16) throw new LlamaError('TENSOR_TYPE', 'the KV cache stores F32 or F16');
    const n = nCtx * nKvHeads * headDim;
    let make = () => (type === DType.F32 ? new Float32Array(n) : new Uint16Array(n));
    // One block for every layer's K and V, in huge pages: attention reads a layer's rows a whole
    // token after they were last touched, and in 4 KiB pages each page costs a TLB miss and a
    // restart of the hardware prefetcher (see allocPages in c/addon.c). Small caches keep their
    // own arrays (a 2 MiB page each would waste memory when many sessions are open).
    const esz = type === DType.F32 ? 4 : 2;
    const slot = Math.ceil((n * esz) / 4096) * 4096;
    const block = 2 * nLayers * slot >= KV_PAGES_MIN_BYTES ? this.a.allocPages?.(2 * nLayers * slot) : undefined;
    if (block) {
      let at = 0;
      make = () => {
        const view = type === DType.F32 ? new Float32Array(block, at, n) : new Uint16Array(block, at, n);
        at += slot;
        return view;
      };
    }
    const cache: NativeKVCache = {
      nLayers, nCtx, nKvHeads, headDim, type,
      k: Array.from({ length: nLayers }, make),
      v: Array.from({ length: nLayers }, make),
    };
    return cache;
  }

  kvStore(cache: KVCache, layer: number, pos0: number, T: number, k: Float32Array, v: Float32Array): void {
    const c = cache as NativeKVCache;
    if (!(layer >= 0 && layer < c.nLayers)) assert(false, `kvStore: layer ${layer} outside 0..${c.nLayers - 1}`);
    if (!(pos0 + T <= c.nCtx)) assert(false, `kvStore past the cache: ${pos0}+${T} > ${c.nCtx}`);
    this.a.kvStore(c.k[layer]!, c.v[layer]!, c.type === DType.F16 ? 1 : 0, c.nKvHeads * c.headDim, pos0, T, k, v);
  }

  attention(out: Float32Array, q: Float32Array, cache: KVCache, layer: number, pos0: number, T: number, nHeads: number): void {
    const c = cache as NativeKVCache;
    if (!(layer >= 0 && layer < c.nLayers)) assert(false, `attention: layer ${layer} outside 0..${c.nLayers - 1}`);
    if (!(pos0 + T <= c.nCtx)) assert(false, `attention past the cache: ${pos0}+${T} > ${c.nCtx}`);
    if (nHeads % c.nKvHeads !== 0) assert(false, `attention: ${nHeads} query heads do not group over ${c.nKvHeads} KV heads`);
    this.apply();
    this.a.attention(out, q, c.k[layer]!, c.v[layer]!, c.type === DType.F16 ? 1 : 0, pos0, T, nHeads, c.nKvHeads, c.headDim);
  }
}

/** Why the native backend is unavailable, or undefined when it is available. */
export function nativeUnavailableReason(): string | undefined {
  return loadAddon().reason;
}

/** True when LLAMA_NATIVE_ADDON named an addon that cannot be used (then `auto` must not fall back quietly). */
export function nativeExplicitlyBroken(): boolean {
  return loadAddon().explicitFailure === true;
}

/** Raw addon info (kernel path, available paths, pool size), or undefined when not built. */
export function nativeInfo(): NativeInfo | undefined {
  return loadAddon().addon?.info();
}

/**
 * The native backend, or undefined (never a throw) when the addon is not built or cannot load, so
 * that backend selection can fall back to `js`. Invalid options still throw.
 */
export function loadNativeBackend(opts: NativeBackendOptions = {}): NativeBackend | undefined {
  const { addon } = loadAddon();
  if (!addon) return undefined;
  return new NativeBackend(addon, opts);
}

/** The native training backend (forward kernels + train_ops.c), or undefined without the addon or its training kernels. */
export function loadNativeTrainingBackend(opts: NativeBackendOptions = {}): NativeTrainingBackend | undefined {
  const kernels = nativeTrainAddon();
  const fwd = loadNativeBackend(opts);
  return kernels && fwd ? new NativeTrainingBackend(fwd, kernels) : undefined;
}
