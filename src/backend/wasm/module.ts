// Loading the kernels module (src/backend/wasm/kernels.wasm, built from c/kernels.c by
// scripts/build-wasm.js and committed). The module imports only its memory and exports functions
// whose pointer arguments are byte offsets into it.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { wasmApi, type WasmCompiledModule, type WasmGlobal, type WasmMemory } from './wasm-api.js';

/** The functions exported by kernels.c (pointers are i32 byte offsets). */
export interface WasmKernels {
  quant_act(x: number, T: number, cols: number, q: number, d: number, s: number): void;
  repack_q8_0(src: number, rows: number, nb: number, qs: number, d: number): void;
  repack_q4_0(src: number, rows: number, nb: number, qs: number, d: number): void;
  matmul(type: number, out: number, x: number, w: number, wd: number, rows: number, cols: number, T: number, r0: number, r1: number, q: number, xd: number, xs: number): void;
  embed(type: number, out: number, w: number, wd: number, cols: number, ids: number, n: number): void;
  rmsnorm(out: number, x: number, g: number, T: number, dim: number, eps: number): void;
  rope(x: number, T: number, nh: number, hd: number, cs: number): void;
  swiglu(out: number, g: number, u: number, n: number): void;
  add(out: number, a: number, b: number, n: number): void;
  softmax(x: number, rows: number, cols: number): void;
  argmax(x: number, n: number): number;
  kv_store(kc: number, vc: number, f16: number, rowLen: number, pos0: number, T: number, k: number, v: number): void;
  attention(out: number, q: number, kc: number, vc: number, f16: number, pos0: number, T: number, nh: number, nkv: number, hd: number, h0: number, h1: number, scores: number): void;
  __heap_base: WasmGlobal;
}

// dist/src/backend/wasm/module.js -> <package>/src/backend/wasm/kernels.wasm; or next to this file
const CANDIDATES = ['../../../../src/backend/wasm/kernels.wasm', './kernels.wasm'];

let compiled: { module?: WasmCompiledModule; reason?: string } | undefined;

/** The compiled module, or why it cannot be had (file missing, no SIMD128 in this engine). */
export function wasmModule(): { module?: WasmCompiledModule; reason?: string } {
  if (compiled) return compiled;
  let bytes: Uint8Array | undefined;
  for (const rel of CANDIDATES) {
    try {
      bytes = readFileSync(fileURLToPath(new URL(rel, import.meta.url)));
      break;
    } catch {
      // try the next place
    }
  }
  if (!bytes) return (compiled = { reason: 'kernels.wasm is missing from this installation' });
  const api = wasmApi();
  if (!api) return (compiled = { reason: 'this JavaScript engine has no WebAssembly' });
  try {
    compiled = { module: new api.Module(bytes) };
  } catch (e) {
    compiled = { reason: `this JavaScript engine cannot compile the module (it needs WebAssembly SIMD128): ${(e as Error).message}` };
  }
  return compiled;
}

/** A fresh instance over a fresh memory (each backend instance has its own). */
export function instantiate(module: WasmCompiledModule): { kernels: WasmKernels; memory: WasmMemory } {
  const api = wasmApi()!;
  const memory = new api.Memory({ initial: 32, maximum: 65536 });
  const instance = new api.Instance(module, { env: { memory } });
  return { kernels: instance.exports as unknown as WasmKernels, memory };
}
