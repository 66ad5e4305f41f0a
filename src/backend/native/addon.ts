// Loading the compiled N-API addon (build/Release/llama_native.node, built by `npm install`).
// Missing addon = undefined plus a reason; never a throw, so callers can fall back to `js`.
// The loading itself is src/platform/native-addon.ts (shared with the file mapper).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { LlamaError } from '../../errors.js';
import { loadNativeAddon, type AddonLoad } from '../../platform/native-addon.js';

export interface NativeInfo {
  /** the kernel path in use: avx512 | avx2 | neon | scalar */
  isa: string;
  /** the paths this CPU can run, fastest first */
  available: string[];
  /** the thread pool's current size */
  threads: number;
}

/** The raw addon interface (argument checks are also done in C; see c/addon.c). */
export interface NativeAddon {
  info(): NativeInfo;
  setIsa(name: string): boolean;
  setThreads(n: number): number;
  loadWeight(bytes: Uint8Array, type: number, rows: number, cols: number, inPlace: number): object;
  freeWeight(handle: object): void;
  matmul(out: Float32Array, x: Float32Array, w: object, T: number): void;
  embed(out: Float32Array, w: object, ids: Int32Array): void;
  rmsnorm(out: Float32Array, x: Float32Array, g: Float32Array, T: number, dim: number, eps: number): void;
  rope(x: Float32Array, T: number, nHeads: number, headDim: number, pos: Int32Array, invFreq: Float32Array): void;
  swiglu(out: Float32Array, gate: Float32Array, up: Float32Array, n: number): void;
  add(out: Float32Array, a: Float32Array, b: Float32Array, n: number): void;
  softmax(x: Float32Array, rows: number, cols: number): void;
  argmax(x: Float32Array, n: number): number;
  /** per row of x (rows, cols): max, first argmax, log Σ exp(x − max) in float64 (c/logit_stats.c) */
  logitStats?(x: Float32Array, rows: number, cols: number, outMax: Float32Array, outArgmax: Int32Array, outLogSum: Float64Array): void;
  kvStore(kLayer: Float32Array | Uint16Array, vLayer: Float32Array | Uint16Array, f16: number, rowLen: number, pos0: number, T: number, k: Float32Array, v: Float32Array): void;
  attention(out: Float32Array, q: Float32Array, kLayer: Float32Array | Uint16Array, vLayer: Float32Array | Uint16Array, f16: number, pos0: number, T: number, nHeads: number, nKvHeads: number, headDim: number): void;
  /** GB/s of each repetition of a streaming read of `bytes` over all pool threads */
  readBandwidth(bytes: number, reps: number): Float64Array;
  /** zeroed memory in 2 MiB-aligned, huge-page-advised blocks (undefined when it cannot be had) */
  allocPages?(bytes: number): ArrayBuffer | undefined;
  /** GFLOP/s of independent FMAs on all pool threads for `iters` rounds */
  fmaPeak(iters: number): number;
  /** the layout a weight was loaded into (c/common.h): bytes per row (codes, and the metadata when inside the row), metadata bytes per row */
  weightLayout?(w: object): { rowBytes: number; metaBytes: number; metaInRow: boolean; ownedBytes: number };
}

/** The addon, or undefined with the reason it is not available (src/platform/native-addon.ts). */
export function loadAddon(): AddonLoad<NativeAddon> {
  return loadNativeAddon<NativeAddon>();
}

/**
 * Default thread count: LLAMA_THREADS, else the number of physical cores (hyper-threads share one
 * core's load/FMA units, so decode gains nothing from them), else the logical CPU count.
 */
export function defaultThreads(): number {
  const raw = process.env.LLAMA_THREADS;
  if (raw !== undefined && raw.trim() !== '') {
    const env = Number(raw);
    if (!(Number.isInteger(env) && env >= 1 && env <= 256)) {
      throw new LlamaError('USAGE', `LLAMA_THREADS must be a whole number 1..256, got '${raw}'`, { hint: 'unset it, or set it to the number of threads to use' });
    }
    return env;
  }
  try {
    const base = '/sys/devices/system/cpu';
    const cores = new Set<string>();
    for (const d of readdirSync(base)) {
      if (!/^cpu\d+$/.test(d)) continue;
      const topo = join(base, d, 'topology');
      if (!existsSync(join(topo, 'core_id'))) continue;
      const core = readFileSync(join(topo, 'core_id'), 'utf8').trim();
      const pkg = existsSync(join(topo, 'physical_package_id')) ? readFileSync(join(topo, 'physical_package_id'), 'utf8').trim() : '0';
      cores.add(`${pkg}:${core}`);
    }
    if (cores.size > 0) return Math.min(cores.size, availableParallelism());
  } catch {
    // not Linux: fall through
  }
  return availableParallelism();
}
