// Choosing a compute backend by name: `js` (the reference, always there), `native` (the C addon,
// when it was built for this machine), `wasm` (the same kind of kernels compiled to WebAssembly
// SIMD128, shipped prebuilt) or `auto` (native when available, else wasm, else js, silently).
// The choice comes from the caller, else the LLAMA_BACKEND environment variable, else `auto`.
import type { Backend } from './backend.js';
import type { TrainingBackend } from './training.js';
import { JsBackend } from './js/js-backend.js';
import { JsTrainingBackend } from './js/js-train-ops.js';
import { LlamaError } from '../errors.js';
import { envVar, PLATFORM } from '../platform/env.js';

export const BACKEND_NAMES = ['js', 'native', 'wasm', 'auto'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

export interface SelectBackendOptions {
  /** worker threads for backends that have them; default: the backend's choice */
  threads?: number;
}

interface NativeModule {
  loadNativeBackend(opts?: { threads?: number }): Backend | undefined;
  loadNativeTrainingBackend?(opts?: { threads?: number }): TrainingBackend | undefined;
  nativeUnavailableReason?(): string | undefined;
  nativeExplicitlyBroken?(): boolean;
}

// A computed specifier: the native module is optional (and built by another part of the project).
const NATIVE_SPEC = './native/index.js';

/** The native backend, or why it is unavailable (its addon is missing or cannot run here). */
async function tryNative(threads?: number): Promise<Backend | string> {
  return (await tryNativeWithCause(threads)).result;
}

/** The native backend or why not, and whether the addon was one the user named (LLAMA_NATIVE_ADDON). */
async function tryNativeWithCause(threads?: number): Promise<{ result: Backend | string; explicit: boolean }> {
  // a browser has no N-API addon (and the bundle holds no native module to fetch)
  if (PLATFORM === 'browser') return { result: 'there is no native addon in a browser', explicit: false };
  let mod: NativeModule;
  try {
    mod = (await import(NATIVE_SPEC)) as NativeModule;
  } catch {
    return { result: 'its module is not part of this build', explicit: false };
  }
  if (typeof mod.loadNativeBackend !== 'function') return { result: 'its module has no loadNativeBackend', explicit: false };
  const b = mod.loadNativeBackend(threads !== undefined ? { threads } : {});
  return { result: b ?? mod.nativeUnavailableReason?.() ?? 'the addon did not load', explicit: mod.nativeExplicitlyBroken?.() === true };
}

interface WasmModule {
  createWasmBackend(opts?: { threads?: number }): Promise<Backend | undefined>;
  wasmUnavailableReason(): string | undefined;
}

/** The wasm backend, or why it is unavailable (no kernels.wasm, no WebAssembly SIMD here). */
async function tryWasm(threads?: number): Promise<Backend | string> {
  let mod: WasmModule;
  try {
    mod = (await import('./wasm/index.js')) as WasmModule;
  } catch (e) {
    return `its module did not load: ${(e as Error).message}`;
  }
  const b = await mod.createWasmBackend(threads !== undefined ? { threads } : {});
  return b ?? mod.wasmUnavailableReason() ?? 'the module did not load';
}

export async function selectBackend(name?: string, opts: SelectBackendOptions = {}): Promise<Backend> {
  const chosen = (name ?? envVar('LLAMA_BACKEND') ?? 'auto').toLowerCase();
  switch (chosen) {
    case 'js':
      return new JsBackend();
    case 'native': {
      const b = await tryNative(opts.threads);
      if (typeof b === 'string') {
        throw new LlamaError('BACKEND_UNAVAILABLE', `the native backend is not available in this installation: ${b}`, {
          hint: 'it needs the C addon built at `npm install` (a C compiler); use --backend js or --backend auto',
        });
      }
      return b;
    }
    case 'wasm': {
      const b = await tryWasm(opts.threads);
      if (typeof b === 'string') {
        throw new LlamaError('BACKEND_UNAVAILABLE', `the wasm backend is not available here: ${b}`, {
          hint: 'it needs src/backend/wasm/kernels.wasm and a JavaScript engine with WebAssembly SIMD128 (Node >= 16.4); use --backend js',
        });
      }
      return b;
    }
    case 'auto': {
      const { result: b, explicit } = await tryNativeWithCause(opts.threads);
      // a build the user pointed at (LLAMA_NATIVE_ADDON) that cannot run is an error, not a quiet fallback
      if (typeof b === 'string' && explicit) {
        throw new LlamaError('BACKEND_UNAVAILABLE', `the native backend is not available: ${b}`, { hint: 'fix or unset LLAMA_NATIVE_ADDON (it must name a built llama_native.node), or pass --backend js' });
      }
      if (typeof b !== 'string') return b;
      const w = await tryWasm(opts.threads);
      return typeof w === 'string' ? new JsBackend() : w;
    }
    default:
      throw new LlamaError('USAGE', `unknown backend '${chosen}'${name === undefined ? ' (from LLAMA_BACKEND)' : ''}`, { hint: `choose one of: ${BACKEND_NAMES.join(', ')}` });
  }
}

/**
 * The training counterpart of a backend: each backend folder provides its own (js:
 * JsTrainingBackend, native: NativeTrainingBackend over the addon's train_ops.c). `auto` prefers
 * native, as for inference.
 */
export async function selectTrainingBackend(name: string | undefined, threads?: number): Promise<TrainingBackend> {
  const chosen = (name ?? envVar('LLAMA_BACKEND') ?? 'auto').toLowerCase();
  if (chosen === 'js') return new JsTrainingBackend();
  if (chosen !== 'native' && chosen !== 'auto') {
    throw new LlamaError('USAGE', `unknown backend '${chosen}'`, { hint: 'choose js, native or auto' });
  }
  const { result, explicit } = await tryNativeWithCause(threads);
  if (typeof result === 'string') {
    if (chosen === 'auto' && !explicit) return new JsTrainingBackend();
    throw new LlamaError('BACKEND_UNAVAILABLE', `the native backend is not available in this installation: ${result}`, {
      hint: 'it needs the C addon built at `npm install` (a C compiler); use --backend js',
    });
  }
  const mod = (await import(NATIVE_SPEC)) as NativeModule;
  const t = mod.loadNativeTrainingBackend?.(threads !== undefined ? { threads } : {});
  if (!t) throw new LlamaError('BACKEND_UNAVAILABLE', 'the native addon of this installation has no training kernels', { hint: 'rebuild it (npm install), or use --backend js' });
  return t;
}
