// kernel-files.ts in a browser: the .wasm files sit beside the bundle (dist/browser/), fetched once.
// Reading synchronously is impossible here: the wasm backend preloads them (createWasmBackend).

import { assetUrl } from './assets.js';

export function kernelFileSync(_file: string): Uint8Array | undefined {
  return undefined;
}

export async function kernelFile(file: string): Promise<Uint8Array | undefined> {
  try {
    const res = await fetch(assetUrl(file));
    if (!res.ok) return undefined;
    return new Uint8Array(await res.arrayBuffer());
  } catch {
    return undefined;
  }
}

/** V8's flags are not ours to set in a browser: the engine's own wasm tier-up applies. */
export function optimizeWasmUpFront(): void {}
