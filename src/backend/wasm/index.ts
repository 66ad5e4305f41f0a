// The `wasm` backend: the Backend interface over kernels compiled from C to WebAssembly with SIMD128
// (src/backend/wasm/c/kernels.c). It runs wherever WebAssembly SIMD does (Node without the native
// addon, browsers). Weights and KV caches live in the module's linear memory; activations are
// Float32Arrays in host memory (the Backend interface), copied in and out per op through a scratch
// region. See docs/wasm.md.
//
// All instances in a process share one module instance and its memory (a process holds one model
// at a time in practice, and one memory reservation is cheaper than several).
import type { Backend, KVCache, LoadWeightOptions, Weight } from '../backend.js';
import { DType, dtypeName } from '../../tensor/dtype.js';
import type { HostTensor } from '../../tensor/tensor.js';
import { dequantize } from '../../tensor/quant.js';
import { POW2_FRAC, POW2_NEG } from '../js/logit-stats.js';
import { assert, LlamaError } from '../../errors.js';
import { LinearMemory } from './memory.js';
import { instantiate, newMemory, preloadWasmModule, sharedMemoryAvailable, wasmModule, type WasmKernels, type WasmVariant } from './module.js';
import type { WasmCompiledModule } from './wasm-api.js';
import { TAKE_BACK_MS, WasmPool } from './pool.js';
import { envVar } from '../../platform/env.js';
import { canBlockThread } from '../../platform/kernel-worker.js';

/** Types with a dedicated kernel; everything else is dequantized to F32 at load (as native does). */
export const WASM_KERNEL_TYPES: readonly DType[] = [DType.F32, DType.F16, DType.BF16, DType.Q8_0, DType.Q4_0, DType.Q4_K, DType.Q6_K];
const QUANTIZED: readonly DType[] = [DType.Q8_0, DType.Q4_0, DType.Q4_K, DType.Q6_K];
/** kernels.c's flag on a Q8_0/Q4_0 type code: an inf/NaN block scale, converted the slow exact way */
const SPECIAL_SCALES = 0x100;

interface Runtime {
  k: WasmKernels;
  variant: WasmVariant;
  module: WasmCompiledModule;
  /** worker threads (mt only), started on first use */
  pool: WasmPool | undefined;
  mem: LinearMemory;
  /** kernel invocations since start (tests use it to prove the wasm path ran) */
  calls: number;
  /** the scratch region for one op's inputs and outputs (ops are synchronous: one suffices) */
  scratchOff: number;
  scratchBytes: number;
  /** byte offset of logitStats' exp tables (2^(j/32), then 2^-m), written on first use */
  expTables?: number;
  /** rope's last cos/sin table (T, headDim) and what it was made from: every layer's q and k of a token reuse it */
  ropeTable?: RopeTable;
}

interface RopeTable {
  off: number;
  bytes: number;
  /** the positions (T of them) and frequencies (headDim/2) the table was made from */
  pos: Int32Array;
  invFreq: Float32Array;
}

let runtime: Runtime | undefined;

function getRuntime(): Runtime | string {
  if (runtime) return runtime;
  // the threaded build when shared memory is possible (it runs 1 thread as fast), else the plain one
  let variant: WasmVariant = sharedMemoryAvailable() && envVar('LLAMA_WASM_VARIANT') !== 'st' ? 'mt' : 'st';
  let { module, reason } = wasmModule(variant);
  if (!module && variant === 'mt') {
    variant = 'st';
    ({ module, reason } = wasmModule(variant));
  }
  if (!module) return reason ?? 'the module did not compile';
  const memory = newMemory(variant);
  const kernels = instantiate(module, memory);
  runtime = { k: kernels, variant, module, pool: undefined, mem: new LinearMemory(memory, kernels.__heap_base.value as number), calls: 0, scratchOff: 0, scratchBytes: 0 };
  return runtime;
}


interface WasmWeight extends Weight {
  /** the type of the kernel that runs it (F32 for the generic path) */
  readonly kernelType: DType;
  /** what the kernels are called with: kernelType, plus SPECIAL_SCALES for Q8_0/Q4_0 weights with an inf/NaN scale */
  readonly kernelCode: number;
  ptr: number;
  /** binary16 block scales (Q8_0/Q4_0), else 0 */
  dptr: number;
  readonly bytes: number;
  readonly dbytes: number;
  /** inPlace: the caller's F32 values, copied in before every use */
  readonly source: Uint8Array | undefined;
  freed: boolean;
}

interface WasmKVCache extends KVCache {
  /** per layer, byte offsets of K and V */
  readonly k: number[];
  readonly v: number[];
  readonly layerBytes: number;
}

/**
 * The smallest matmul (rows x cols x T) split over worker threads by default. Waking a sleeping
 * worker (Atomics.notify -> its Atomics.wait returning) takes 25-120 us, more than a decode matvec
 * of a 110M model takes on one thread (768x768 Q8_0: ~30 us), but a worker polls for the next job a
 * while after each one (worker-loop.ts), so during decode a hand-off costs ~1 us and the 110M
 * layer matvecs (768x768 and up) are split; smaller ones (e.g. stories260K's) are not worth it.
 * See docs/wasm.md, "Threads".
 */
export const WASM_MIN_PARALLEL_WORK = 1 << 19;
/** matmuls this large are split even while the pool backs off from late workers (pool.ts) */
const LARGE_WORK = 1 << 23;
let defaultMinParallelWork = WASM_MIN_PARALLEL_WORK;

/**
 * Set the split threshold of wasm backends created from now on without `minParallelWork` (where the
 * backend is made for you, e.g. openModel in a browser; tests use 0 to make every matmul split).
 */
export function setWasmMinParallelWork(n: number): void {
  if (!(Number.isInteger(n) && n >= 0)) throw new LlamaError('USAGE', `minParallelWork must be a whole number >= 0, got ${n}`);
  defaultMinParallelWork = n;
}

export interface WasmBackendOptions {
  /** threads including the caller (default LLAMA_THREADS, else 1) */
  threads?: number;
  /** smallest rows x cols x T split over threads (default WASM_MIN_PARALLEL_WORK; tests use 0) */
  minParallelWork?: number;
  /**
   * How long (ms) an awake worker may leave its matmul share unclaimed after the caller's own share
   * is done before the caller runs it instead (default TAKE_BACK_MS). null: always wait for the
   * worker and never back off from late workers (pool.ts), so every matmul over minParallelWork is
   * split: for tests that count the shares workers ran.
   */
  takeBackMs?: number | null;
}

export interface WasmInfo {
  /** kernel calls so far in this process */
  calls: number;
  /** matmul shares run by worker threads so far */
  workerJobs: number;
  /** matmuls split over threads so far */
  splitMatmuls: number;
  /** times small matmuls went back to the caller alone because workers were late (pool.ts) */
  backOffs: number;
  /** matmul shares posted to a worker that had not claimed them in time, run by the caller */
  takenBack: number;
  /** times the workers went to sleep in Atomics.wait (a job after that had to wake them: 25-300 µs) */
  workerSleeps: number;
  /** 'mt': kernels-mt.wasm over a shared memory; 'st': kernels.wasm, one thread */
  variant: WasmVariant;
  /** bytes of linear memory reserved / in use */
  memoryBytes: number;
  usedBytes: number;
  threads: number;
}

// Frees what a weight or cache held once its object is garbage collected without freeWeight (a
// dropped KV cache has no explicit free in the Backend interface).
const reclaim = new FinalizationRegistry<{ off: number; bytes: number }[]>((blocks) => {
  if (!runtime) return;
  for (const b of blocks) if (b.off) runtime.mem.free_(b.off, b.bytes);
});

export class WasmBackend implements Backend {
  readonly name = 'wasm';
  readonly threads: number;
  private readonly rt: Runtime;
  /** smallest matmul (rows x cols x T) split over threads */
  private readonly minParallelWork: number;
  private readonly takeBackMs: number | null;

  constructor(rt: Runtime, opts: WasmBackendOptions) {
    this.rt = rt;
    this.threads = rt.variant === 'mt' ? opts.threads ?? 1 : 1;
    this.minParallelWork = opts.minParallelWork ?? defaultMinParallelWork;
    this.takeBackMs = opts.takeBackMs === undefined ? TAKE_BACK_MS : opts.takeBackMs;
  }

  /** Start this backend's worker threads (resolves when they are ready; until then it runs 1 thread). */
  async startThreads(): Promise<void> {
    if (this.threads <= 1) return;
    this.rt.pool ??= new WasmPool(this.rt.module, this.rt.mem);
    await this.rt.pool.start(this.threads - 1);
  }

  info(): WasmInfo {
    return { calls: this.rt.calls, workerJobs: this.rt.pool?.jobs ?? 0, takenBack: this.rt.pool?.takenBack ?? 0, workerSleeps: this.rt.pool?.sleeps ?? 0, splitMatmuls: this.rt.pool?.splits ?? 0, backOffs: this.rt.pool?.backOffs ?? 0, variant: this.rt.variant, memoryBytes: this.rt.mem.size, usedBytes: this.rt.mem.used, threads: this.threads };
  }

  /**
   * Streaming read bandwidth of this module on the calling thread (GB/s per repetition): a SIMD sum
   * over `bytes` of linear memory, after a warm-up pass. The bench reports wasm against this as well
   * as against native's limit, since what a wasm engine can stream may be below what native code can.
   */
  readBandwidth(bytes: number, reps: number): Float64Array {
    const n = Math.floor(bytes / 128) * 32;
    const { mem, k } = this.rt;
    const off = mem.alloc(4 * n, 'the read-bandwidth probe');
    const res = new Float64Array(reps);
    try {
      mem.f32.fill(1, off >>> 2, (off >>> 2) + n);
      k.stream_read(off, n);
      for (let r = 0; r < reps; r++) {
        const t0 = performance.now();
        k.stream_read(off, n);
        res[r] = (4 * n) / ((performance.now() - t0) / 1000) / 1e9;
      }
    } finally {
      mem.free_(off, 4 * n);
    }
    return res;
  }

  /** Offsets of consecutive 64-byte aligned regions of the given sizes in the scratch region. */
  private scratch(...sizes: number[]): number[] {
    const aligned = sizes.map((s) => Math.ceil(s / 64) * 64);
    const total = aligned.reduce((a, b) => a + b, 0);
    const rt = this.rt;
    if (total > rt.scratchBytes) {
      if (rt.scratchBytes) rt.mem.free_(rt.scratchOff, rt.scratchBytes);
      rt.scratchBytes = 0;
      const want = Math.max(total, 1 << 16);
      rt.scratchOff = rt.mem.alloc(want, 'activations');
      rt.scratchBytes = want;
    }
    const offs: number[] = [];
    let o = rt.scratchOff;
    for (const s of aligned) {
      offs.push(o);
      o += s;
    }
    return offs;
  }

  private put(off: number, x: Float32Array, n: number): void {
    this.rt.mem.f32.set(n === x.length ? x : x.subarray(0, n), off >>> 2);
  }

  private get(out: Float32Array, off: number, n: number): void {
    out.set(this.rt.mem.f32.subarray(off >>> 2, (off >>> 2) + n));
  }

  loadWeight(t: HostTensor, opts: LoadWeightOptions = {}): Weight {
    if (t.shape.length !== 2) throw new LlamaError('TENSOR_SHAPE', `weight ${t.name} must be 2-D, got [${t.shape.join(', ')}]`);
    const [rows, cols] = t.shape as [number, number];
    if (opts.inPlace && t.type !== DType.F32) throw new LlamaError('INTERNAL', `the wasm backend cannot use ${dtypeName(t.type)} weights in place`);
    let kernelType = t.type;
    let bytes = t.data;
    if (!WASM_KERNEL_TYPES.includes(kernelType)) {
      const f = dequantize(kernelType, t.data, rows * cols);
      bytes = new Uint8Array(f.buffer, f.byteOffset, f.byteLength);
      kernelType = DType.F32;
    }
    const { mem, k } = this.rt;
    const what = `weight ${t.name} (${dtypeName(t.type)} [${rows}, ${cols}])`;
    let ptr = 0, dptr = 0, size = bytes.byteLength, dsize = 0, kernelCode: number = kernelType;
    if (kernelType === DType.Q8_0 || kernelType === DType.Q4_0) {
      // repacked: codes and binary16 block scales apart, each interleaved by groups of 4 rows (see
      // kernels.c; a last partial group is zero padded); the raw blocks pass through a temporary buffer
      const nb = cols / 32, units = Math.ceil(rows / 4) * 4 * nb;
      size = kernelType === DType.Q8_0 ? units * 32 : units * 16;
      dsize = units * 2;
      ptr = mem.alloc(size, what);
      dptr = mem.alloc(dsize, what);
      mem.u8.fill(0, ptr, ptr + size);
      mem.u8.fill(0, dptr, dptr + dsize);
      const src = mem.alloc(bytes.byteLength, what);
      try {
        mem.u8.set(bytes, src);
        this.rt.calls++;
        const special = kernelType === DType.Q8_0 ? k.repack_q8_0(src, rows, nb, ptr, dptr) : k.repack_q4_0(src, rows, nb, ptr, dptr);
        if (special > 0) kernelCode |= SPECIAL_SCALES;
      } finally {
        mem.free_(src, bytes.byteLength);
      }
    } else {
      ptr = mem.alloc(size, what);
      mem.u8.set(bytes, ptr);
    }
    const w: WasmWeight = { type: t.type, rows, cols, kernelType, kernelCode, ptr, dptr, bytes: size, dbytes: dsize, source: opts.inPlace ? t.data : undefined, freed: false };
    reclaim.register(w, [{ off: ptr, bytes: size }, { off: dptr, bytes: dsize }], w);
    return w;
  }

  freeWeight(w: Weight): void {
    const ww = w as WasmWeight;
    if (ww.freed) return;
    ww.freed = true;
    reclaim.unregister(ww);
    this.rt.mem.free_(ww.ptr, ww.bytes);
    if (ww.dptr) this.rt.mem.free_(ww.dptr, ww.dbytes);
  }

  private live(w: Weight): WasmWeight {
    const ww = w as WasmWeight;
    if (ww.ptr === undefined || ww.kernelType === undefined) throw new LlamaError('INTERNAL', 'weight was not loaded by the wasm backend');
    if (ww.freed) throw new LlamaError('INTERNAL', 'weight was freed');
    if (ww.source) this.rt.mem.u8.set(ww.source, ww.ptr);
    return ww;
  }

  matmul(out: Float32Array, x: Float32Array, w: Weight, T: number): void {
    assert(x.length >= T * w.cols && out.length >= T * w.rows, `matmul shapes: x ${x.length} (T=${T}, cols=${w.cols}), out ${out.length} (rows=${w.rows})`);
    const ww = this.live(w);
    const { rows, cols } = ww;
    const quant = QUANTIZED.includes(ww.kernelType);
    const nb = quant ? (T * cols) / 32 : 0;
    const [xo, oo, qo, xdo, xso] = this.scratch(4 * T * cols, 4 * T * rows, quant ? 2 * T * cols : 0, 4 * nb, 4 * nb);
    this.put(xo!, x, T * cols);
    const k = this.rt.k;
    if (quant) k.quant_act(xo!, T, cols, qo!, xdo!, xso!);
    // threads split the rows when there is enough work to pay for waking them (tens of µs)
    const nth = Math.min(this.threads, Math.ceil(rows / 4));
    const pool = this.rt.pool;
    const work = rows * cols * T;
    if (nth > 1 && pool && pool.size > 0 && work >= this.minParallelWork && (work >= LARGE_WORK || this.takeBackMs === null || pool.splitSmall())) {
      const args = [ww.kernelCode, oo!, xo!, ww.ptr, ww.dptr, rows, cols, T, 0, rows, qo!, xdo!, xso!];
      pool.matmul(nth, args, rows, (r0, r1) => k.matmul(ww.kernelCode, oo!, xo!, ww.ptr, ww.dptr, rows, cols, T, r0, r1, qo!, xdo!, xso!), this.takeBackMs);
    } else {
      k.matmul(ww.kernelCode, oo!, xo!, ww.ptr, ww.dptr, rows, cols, T, 0, rows, qo!, xdo!, xso!);
    }
    this.rt.calls++;
    this.get(out, oo!, T * rows);
  }

  embed(out: Float32Array, w: Weight, ids: ArrayLike<number>): void {
    const ww = this.live(w);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (!(Number.isInteger(id) && id >= 0 && id < ww.rows)) throw new LlamaError('TOKEN_ID', `token id ${id} is outside the vocabulary (0..${ww.rows - 1})`);
    }
    const n = ids.length;
    const [io, oo] = this.scratch(4 * n, 4 * n * ww.cols);
    this.rt.mem.i32.set(ids, io! >>> 2);
    this.rt.k.embed(ww.kernelCode, oo!, ww.ptr, ww.dptr, ww.cols, io!, n);
    this.rt.calls++;
    this.get(out, oo!, n * ww.cols);
  }

  rmsnorm(out: Float32Array, x: Float32Array, g: Float32Array, T: number, dim: number, eps: number): void {
    assert(x.length >= T * dim && out.length >= T * dim && g.length >= dim, 'rmsnorm: bad shapes');
    const [xo, go, oo] = this.scratch(4 * T * dim, 4 * dim, 4 * T * dim);
    this.put(xo!, x, T * dim);
    this.put(go!, g, dim);
    this.rt.k.rmsnorm(oo!, xo!, go!, T, dim, eps);
    this.rt.calls++;
    this.get(out, oo!, T * dim);
  }

  rope(x: Float32Array, T: number, nHeads: number, headDim: number, pos: Int32Array, invFreq: Float32Array): void {
    assert(headDim % 2 === 0 && x.length >= T * nHeads * headDim && pos.length >= T && invFreq.length >= headDim / 2, 'rope: bad shapes');
    const n = T * nHeads * headDim;
    const [xo] = this.scratch(4 * n);
    const co = this.ropeTable(T, headDim, pos, invFreq);
    this.put(xo!, x, n);
    this.rt.k.rope(xo!, T, nHeads, headDim, co);
    this.rt.calls++;
    this.get(x, xo!, n);
  }

  /**
   * The cos/sin table (T, headDim) of rope for these positions, in module memory: cos and sin in
   * double precision on the host (the module has no libm), as the other backends do. A token's q
   * and k in every layer rotate by the same angles, so the last table is kept and reused while the
   * positions and frequencies are the same (compared by value: 24 trig tables a token became one).
   */
  private ropeTable(T: number, headDim: number, pos: Int32Array, invFreq: Float32Array): number {
    const half = headDim / 2;
    const rt = this.rt;
    const last = rt.ropeTable;
    if (last && last.pos.length === T && last.invFreq.length === half) {
      let same = true;
      for (let t = 0; t < T && same; t++) same = last.pos[t] === pos[t];
      for (let i = 0; i < half && same; i++) same = Object.is(last.invFreq[i], invFreq[i]);
      if (same) return last.off;
    }
    const bytes = Math.max(4 * T * headDim, 1024);
    if (last && last.bytes < bytes) {
      rt.mem.free_(last.off, last.bytes);
      rt.ropeTable = undefined;
    }
    const off = rt.ropeTable?.off ?? rt.mem.alloc(bytes, 'the rope table');
    const table: RopeTable = { off, bytes: rt.ropeTable?.bytes ?? bytes, pos: pos.slice(0, T), invFreq: invFreq.slice(0, half) };
    rt.ropeTable = table;
    const f32 = rt.mem.f32;
    const cs = table.off >>> 2;
    for (let t = 0; t < T; t++)
      for (let i = 0; i < half; i++) {
        const angle = pos[t]! * invFreq[i]!;
        f32[cs + t * headDim + 2 * i] = Math.cos(angle);
        f32[cs + t * headDim + 2 * i + 1] = Math.sin(angle);
      }
    return table.off;
  }

  swiglu(out: Float32Array, gate: Float32Array, up: Float32Array, n: number): void {
    const [go, uo, oo] = this.scratch(4 * n, 4 * n, 4 * n);
    this.put(go!, gate, n);
    this.put(uo!, up, n);
    this.rt.k.swiglu(oo!, go!, uo!, n);
    this.rt.calls++;
    this.get(out, oo!, n);
  }

  add(out: Float32Array, a: Float32Array, b: Float32Array, n: number): void {
    const [ao, bo] = this.scratch(4 * n, 4 * n);
    this.put(ao!, a, n);
    this.put(bo!, b, n);
    this.rt.k.add(ao!, ao!, bo!, n);
    this.rt.calls++;
    this.get(out, ao!, n);
  }

  softmax(x: Float32Array, rows: number, cols: number): void {
    const n = rows * cols;
    const [xo] = this.scratch(4 * n);
    this.put(xo!, x, n);
    this.rt.k.softmax(xo!, rows, cols);
    this.rt.calls++;
    this.get(x, xo!, n);
  }

  argmax(x: Float32Array, n: number): number {
    const [xo] = this.scratch(4 * n);
    this.put(xo!, x, n);
    this.rt.calls++;
    return this.rt.k.argmax(xo!, n);
  }

  logitStats(x: Float32Array, rows: number, cols: number, outMax: Float32Array, outArgmax: Int32Array, outLogSum: Float64Array): void {
    assert(Number.isInteger(rows) && rows >= 0 && Number.isInteger(cols) && cols > 0, `logitStats: rows ${rows}, cols ${cols}`);
    assert(x.length >= rows * cols && outMax.length >= rows && outArgmax.length >= rows && outLogSum.length >= rows, `logitStats shapes: x ${x.length} (rows=${rows}, cols=${cols}), outputs ${outMax.length}/${outArgmax.length}/${outLogSum.length}`);
    if (rows === 0) return;
    const rt = this.rt;
    // the oracle's exp tables, written once into the module's memory (the very same float64 values)
    if (!rt.expTables) {
      const off = rt.mem.alloc(8 * (POW2_FRAC.length + POW2_NEG.length), 'the exp tables');
      const f64 = new Float64Array(rt.mem.u8.buffer, off, POW2_FRAC.length + POW2_NEG.length);
      f64.set(POW2_FRAC);
      f64.set(POW2_NEG, POW2_FRAC.length);
      rt.expTables = off;
    }
    const [xo, mo, ao, so] = this.scratch(4 * rows * cols, 4 * rows, 4 * rows, 8 * rows);
    this.put(xo!, x, rows * cols);
    rt.k.logit_stats(xo!, rows, cols, mo!, ao!, so!, rt.expTables, rt.expTables + 8 * POW2_FRAC.length);
    rt.calls++;
    const buf = rt.mem.u8.buffer;
    outMax.set(new Float32Array(buf, mo!, rows));
    outArgmax.set(new Int32Array(buf, ao!, rows));
    const sums = new Float64Array(buf, so!, rows);
    for (let r = 0; r < rows; r++) outLogSum[r] = Math.log(sums[r]!);
  }

  createKVCache(nLayers: number, nCtx: number, nKvHeads: number, headDim: number, type: DType): KVCache {
    if (type !== DType.F32 && type !== DType.F16) throw new LlamaError('TENSOR_TYPE', 'the KV cache stores F32 or F16');
    const layerBytes = nCtx * nKvHeads * headDim * (type === DType.F32 ? 4 : 2);
    const k: number[] = [], v: number[] = [];
    const blocks: { off: number; bytes: number }[] = [];
    try {
      for (let l = 0; l < nLayers; l++) {
        k.push(this.rt.mem.alloc(layerBytes, `the KV cache (${nLayers} layers x ${nCtx} positions)`));
        blocks.push({ off: k[l]!, bytes: layerBytes });
        v.push(this.rt.mem.alloc(layerBytes, `the KV cache (${nLayers} layers x ${nCtx} positions)`));
        blocks.push({ off: v[l]!, bytes: layerBytes });
      }
    } catch (e) {
      for (const b of blocks) this.rt.mem.free_(b.off, b.bytes);
      throw e;
    }
    const cache: WasmKVCache = { nLayers, nCtx, nKvHeads, headDim, type, k, v, layerBytes };
    reclaim.register(cache, blocks);
    return cache;
  }

  kvStore(cache: KVCache, layer: number, pos0: number, T: number, k: Float32Array, v: Float32Array): void {
    const c = cache as WasmKVCache;
    assert(layer >= 0 && layer < c.nLayers, `kvStore: layer ${layer} outside 0..${c.nLayers - 1}`);
    assert(pos0 >= 0 && pos0 + T <= c.nCtx, `kvStore past the cache: ${pos0}+${T} > ${c.nCtx}`);
    const rowLen = c.nKvHeads * c.headDim, n = T * rowLen;
    const [ko, vo] = this.scratch(4 * n, 4 * n);
    this.put(ko!, k, n);
    this.put(vo!, v, n);
    this.rt.k.kv_store(c.k[layer]!, c.v[layer]!, c.type === DType.F16 ? 1 : 0, rowLen, pos0, T, ko!, vo!);
    this.rt.calls++;
  }

  attention(out: Float32Array, q: Float32Array, cache: KVCache, layer: number, pos0: number, T: number, nHeads: number): void {
    const c = cache as WasmKVCache;
    assert(layer >= 0 && layer < c.nLayers, `attention: layer ${layer} outside 0..${c.nLayers - 1}`);
    assert(pos0 >= 0 && pos0 + T <= c.nCtx, `attention past the cache: ${pos0}+${T} > ${c.nCtx}`);
    assert(nHeads % c.nKvHeads === 0, `attention: ${nHeads} query heads do not group over ${c.nKvHeads} KV heads`);
    const n = T * nHeads * c.headDim;
    // scores: one row of pos0+T (prefill, a head at a time), or every head's pos0+1 (decode)
    const [qo, oo, so] = this.scratch(4 * n, 4 * n, 4 * (T === 1 ? nHeads * (pos0 + 1) : pos0 + T));
    this.put(qo!, q, n);
    this.rt.k.attention(oo!, qo!, c.k[layer]!, c.v[layer]!, c.type === DType.F16 ? 1 : 0, pos0, T, nHeads, c.nKvHeads, c.headDim, 0, nHeads, so!);
    this.rt.calls++;
    this.get(out, oo!, n);
  }
}

/** Why the wasm backend is unavailable here, or undefined when it is available. */
export function wasmUnavailableReason(): string | undefined {
  const r = getRuntime();
  return typeof r === 'string' ? r : undefined;
}

/**
 * The wasm backend, or undefined (never a throw) when the module is missing or cannot compile.
 * `threads` (default LLAMA_THREADS, else 1) > 1 splits matmul rows over worker threads once
 * `startThreads()` has resolved (createWasmBackend does both); that needs the shared-memory build
 * (Node here; a browser would need cross-origin isolation), else it runs 1 thread.
 */
export function loadWasmBackend(opts: WasmBackendOptions = {}): WasmBackend | undefined {
  const envThreads = Number(envVar('LLAMA_THREADS'));
  const threads = opts.threads ?? (Number.isInteger(envThreads) && envThreads >= 1 ? envThreads : 1);
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) {
    throw new LlamaError('USAGE', `--threads must be a whole number 1..256, got ${threads}`);
  }
  const r = getRuntime();
  // a page's main thread may not block in Atomics.wait: threads need the engine in a Worker there
  return typeof r === 'string' ? undefined : new WasmBackend(r, { ...opts, threads: canBlockThread() ? threads : 1 });
}

/** loadWasmBackend with its worker threads started. */
export async function createWasmBackend(opts: WasmBackendOptions = {}): Promise<WasmBackend | undefined> {
  if (!runtime) {
    // browsers fetch the modules (no synchronous reads there); in Node this reads the files
    if (sharedMemoryAvailable()) await preloadWasmModule('mt');
    await preloadWasmModule('st');
  }
  const b = loadWasmBackend(opts);
  await b?.startThreads();
  return b;
}
