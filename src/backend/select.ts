// Choosing a compute backend by name: `js` (the reference, always there), `native` (the C addon,
// when it was built for this machine) or `auto` (native when available, else js, silently).
// The choice comes from the caller, else the LLAMA_BACKEND environment variable, else `auto`.
import type { Backend } from './backend.js';
import { JsBackend } from './js/js-backend.js';
import { LlamaError } from '../errors.js';

export const BACKEND_NAMES = ['js', 'native', 'auto'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

export interface SelectBackendOptions {
  /** worker threads for backends that have them; default: the backend's choice */
  threads?: number;
}

interface NativeModule {
  loadNativeBackend(threads?: number): Backend | undefined;
}

/** The native backend, or undefined when its addon is missing or cannot run here. */
async function tryNative(threads?: number): Promise<Backend | undefined> {
  // A computed specifier: the native module is optional (and built by another part of the project).
  const spec = './native/index.js';
  let mod: NativeModule;
  try {
    mod = (await import(spec)) as NativeModule;
  } catch {
    return undefined;
  }
  try {
    return typeof mod.loadNativeBackend === 'function' ? mod.loadNativeBackend(threads) : undefined;
  } catch {
    return undefined;
  }
}

export async function selectBackend(name?: string, opts: SelectBackendOptions = {}): Promise<Backend> {
  const chosen = (name ?? process.env.LLAMA_BACKEND ?? 'auto').toLowerCase();
  switch (chosen) {
    case 'js':
      return new JsBackend();
    case 'native': {
      const b = await tryNative(opts.threads);
      if (!b) {
        throw new LlamaError('BACKEND_UNAVAILABLE', 'the native backend is not available in this installation', {
          hint: 'it needs the C addon built at `npm install` (a C compiler); use --backend js or --backend auto',
        });
      }
      return b;
    }
    case 'auto':
      return (await tryNative(opts.threads)) ?? new JsBackend();
    default:
      throw new LlamaError('USAGE', `unknown backend '${chosen}'${name === undefined ? ' (from LLAMA_BACKEND)' : ''}`, { hint: `choose one of: ${BACKEND_NAMES.join(', ')}` });
  }
}
