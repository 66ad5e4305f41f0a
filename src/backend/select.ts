// Choosing a compute backend by name: `js` (the reference, always there), `native` (the C addon,
// when it was built for this machine), `wasm` (the same kind of kernels compiled to WebAssembly
// SIMD128, shipped prebuilt) or `auto` (native when available, else wasm, else js, silently).
// The choice comes from the caller, else the LLAMA_BACKEND environment variable, else `auto`.
import type { Backend } from './backend.js';
import { JsBackend } from './js/js-backend.js';
import { LlamaError } from '../errors.js';

export const BACKEND_NAMES = ['js', 'native', 'wasm', 'auto'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

export interface SelectBackendOptions {
  /** worker threads for backends that have them; default: the backend's choice */
  threads?: number;
}

interface NativeModule {
  loadNativeBackend(opts?: { threads?: number }): Backend | undefined;
  nativeUnavailableReason?(): string | undefined;
}

/** The native backend, or why it is unavailable (its addon is missing or cannot run here). */
async function tryNative(threads?: number): Promise<Backend | string> {
  // A computed specifier: the native module is optional (and built by another part of the project).
  const spec = './native/index.js';
  let mod: NativeModule;
  try {
    mod = (await import(spec)) as NativeModule;
  } catch {
    return 'its module is not part of this build';
  }
  if (typeof mod.loadNativeBackend !== 'function') return 'its module has no loadNativeBackend';
  const b = mod.loadNativeBackend(threads !== undefined ? { threads } : {});
  return b ?? mod.nativeUnavailableReason?.() ?? 'the addon did not load';
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
  const chosen = (name ?? process.env.LLAMA_BACKEND ?? 'auto').toLowerCase();
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
      const b = await tryNative(opts.threads);
      if (typeof b !== 'string') return b;
      const w = await tryWasm(opts.threads);
      return typeof w === 'string' ? new JsBackend() : w;
    }
    default:
      throw new LlamaError('USAGE', `unknown backend '${chosen}'${name === undefined ? ' (from LLAMA_BACKEND)' : ''}`, { hint: `choose one of: ${BACKEND_NAMES.join(', ')}` });
  }
}
