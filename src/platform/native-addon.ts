// The one loader of the compiled N-API addon (build/Release/llama_native.node, built by
// `npm install`), shared by the native backend and the file mapper. Loaded once per process.
// A missing addon is not an error here: callers fall back (js backend, plain reads) and can say
// why. LLAMA_NATIVE_ADDON may point at another build of it, and must name a `.node` file: any
// other file is refused rather than imported.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export interface AddonLoad<T> {
  addon?: T;
  /** why there is no addon */
  reason?: string;
  /** the addon was asked for explicitly (LLAMA_NATIVE_ADDON) and could not be used */
  explicitFailure?: boolean;
}

let cached: AddonLoad<unknown> | undefined;

export function loadNativeAddon<T>(): AddonLoad<T> {
  if (cached) return cached as AddonLoad<T>;
  const fromEnv = process.env.LLAMA_NATIVE_ADDON;
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!fromEnv.endsWith('.node')) {
      cached = { reason: `LLAMA_NATIVE_ADDON=${fromEnv} is not a compiled addon (a .node file)`, explicitFailure: true };
    } else if (!existsSync(fromEnv)) {
      cached = { reason: `LLAMA_NATIVE_ADDON=${fromEnv} does not exist`, explicitFailure: true };
    } else {
      cached = requireAddon(fromEnv, true);
    }
    return cached as AddonLoad<T>;
  }
  const path = [join(REPO_ROOT, 'build/Release/llama_native.node'), join(REPO_ROOT, 'build/Debug/llama_native.node')].find((p) => existsSync(p));
  cached = path ? requireAddon(path, false) : { reason: 'the native addon is not built (run `npm install` with a C compiler available)' };
  return cached as AddonLoad<T>;
}

function requireAddon(path: string, explicit: boolean): AddonLoad<unknown> {
  try {
    return { addon: createRequire(import.meta.url)(path) };
  } catch (e) {
    return { reason: `the native addon at ${path} failed to load: ${(e as Error).message}`, explicitFailure: explicit };
  }
}
