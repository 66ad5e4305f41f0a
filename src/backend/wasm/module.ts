// Loading the kernels module (src/backend/wasm/kernels.wasm, built from c/kernels.c by
// scripts/build-wasm.js and committed). The module imports only its memory and exports functions
// whose pointer arguments are byte offsets into it.
import { kernelFile, kernelFileSync, optimizeWasmUpFront } from '../../platform/kernel-files.js';
import { wasmApi, type WasmCompiledModule, type WasmGlobal, type WasmMemory } from './wasm-api.js';

/** The functions exported by kernels.c (pointers are i32 byte offsets). */
export interface WasmKernels {
  quant_act(x: number, T: number, cols: number, q: number, d: number, s: number): void;
  /** returns how many block scales are inf or NaN */
  repack_q8_0(src: number, rows: number, nb: number, qs: number, d: number): number;
  repack_q4_0(src: number, rows: number, nb: number, qs: number, d: number): number;
  matmul(type: number, out: number, x: number, w: number, wd: number, rows: number, cols: number, T: number, r0: number, r1: number, q: number, xd: number, xs: number): void;
  embed(type: number, out: number, w: number, wd: number, cols: number, ids: number, n: number): void;
  rmsnorm(out: number, x: number, g: number, T: number, dim: number, eps: number): void;
  rope(x: number, T: number, nh: number, hd: number, cs: number): void;
  swiglu(out: number, g: number, u: number, n: number): void;
  add(out: number, a: number, b: number, n: number): void;
  softmax(x: number, rows: number, cols: number): void;
  argmax(x: number, n: number): number;
  logit_stats(x: number, rows: number, cols: number, omax: number, oargmax: number, osum: number, frac: number, neg: number): void;
  kv_store(kc: number, vc: number, f16: number, rowLen: number, pos0: number, T: number, k: number, v: number): void;
  attention(out: number, q: number, kc: number, vc: number, f16: number, pos0: number, T: number, nh: number, nkv: number, hd: number, h0: number, h1: number, scores: number): void;
  stream_read(p: number, n: number): number;
  __heap_base: WasmGlobal;
  /** kernels-mt.wasm only: each thread's instance moves it to its own stack */
  __stack_pointer?: WasmGlobal;
}

/** `st`: kernels.wasm over a plain memory; `mt`: kernels-mt.wasm over a shared memory (threads). */
export type WasmVariant = 'st' | 'mt';

/** The threaded build needs shared memory: SharedArrayBuffer (Node; browsers when cross-origin isolated). */
export function sharedMemoryAvailable(): boolean {
  const g = globalThis as { SharedArrayBuffer?: unknown; crossOriginIsolated?: boolean };
  return typeof g.SharedArrayBuffer === 'function' && g.crossOriginIsolated !== false;
}

const compiled = new Map<WasmVariant, { module?: WasmCompiledModule; reason?: string }>();

const fileOf = (variant: WasmVariant) => (variant === 'mt' ? 'kernels-mt.wasm' : 'kernels.wasm');

function compile(variant: WasmVariant, bytes: Uint8Array | undefined): { module?: WasmCompiledModule; reason?: string } {
  const file = fileOf(variant);
  const api = wasmApi();
  if (!bytes) return { reason: `${file} is missing from this installation` };
  if (!api) return { reason: 'this JavaScript engine has no WebAssembly' };
  try {
    optimizeWasmUpFront();
    return { module: new api.Module(bytes) };
  } catch (e) {
    return { reason: `this JavaScript engine cannot compile ${file} (it needs WebAssembly SIMD128${variant === 'mt' ? ' and threads' : ''}): ${(e as Error).message}` };
  }
}

/**
 * The compiled module, or why it cannot be had (file missing, no SIMD128 in this engine). Where
 * files can only be read asynchronously (browsers), call preloadWasmModule first.
 */
export function wasmModule(variant: WasmVariant = 'st'): { module?: WasmCompiledModule; reason?: string } {
  const have = compiled.get(variant);
  if (have) return have;
  const bytes = kernelFileSync(fileOf(variant));
  // not cached when unread: a browser reads asynchronously (preloadWasmModule) and may do so later
  if (!bytes) return compile(variant, bytes);
  const result = compile(variant, bytes);
  compiled.set(variant, result);
  return result;
}

/** Fetch and compile a variant where reading is asynchronous; afterwards wasmModule answers at once. */
export async function preloadWasmModule(variant: WasmVariant): Promise<void> {
  if (compiled.has(variant)) return;
  const bytes = await kernelFile(fileOf(variant));
  if (!compiled.has(variant)) compiled.set(variant, compile(variant, bytes));
}

/** A fresh memory for a variant: shared (up to 4 GiB) for `mt`. */
export function newMemory(variant: WasmVariant): WasmMemory {
  return new (wasmApi()!).Memory({ initial: 32, maximum: 65536, ...(variant === 'mt' ? { shared: true } : {}) });
}

/** An instance of `module` over `memory`. */
export function instantiate(module: WasmCompiledModule, memory: WasmMemory): WasmKernels {
  const instance = new (wasmApi()!).Instance(module, { env: { memory } });
  return instance.exports as unknown as WasmKernels;
}
