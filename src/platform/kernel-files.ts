// The compiled kernel modules (src/backend/wasm/kernels.wasm, kernels-mt.wasm) as bytes. In Node
// they are read from the package (dist/src/platform/ -> <package>/src/backend/wasm/); the browser
// bundle (kernel-files.browser.ts) fetches them from beside the bundle.
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { fileURLToPath } from 'node:url';

const PLACES = (file: string) => [`../../../src/backend/wasm/${file}`, `../backend/wasm/${file}`];

/** The bytes of `file`, or undefined when this installation lacks it. */
export function kernelFileSync(file: string): Uint8Array | undefined {
  for (const rel of PLACES(file)) {
    try {
      return readFileSync(fileURLToPath(new URL(rel, import.meta.url)));
    } catch {
      // try the next place
    }
  }
  return undefined;
}

/** The same, for platforms where reading is asynchronous. */
export async function kernelFile(file: string): Promise<Uint8Array | undefined> {
  return kernelFileSync(file);
}

/**
 * Ask V8 for its optimizing compiler (TurboFan) up front. By default V8 first runs wasm functions
 * through its baseline compiler (Liftoff) and re-compiles hot ones in the background; Liftoff's
 * SIMD code runs our matmuls about 2x slower, and on a busy machine the background tier-up was seen
 * to arrive only seconds into a run. The flag only changes how (not what) wasm compiles, and only
 * modules compiled after it; it is process-wide, which a process running our kernels can afford
 * (compiling kernels.wasm this way takes a few ms). Browsers have no such switch (the browser twin
 * does nothing): there the engine's own tier-up applies.
 */
export function optimizeWasmUpFront(): void {
  try {
    setFlagsFromString('--no-liftoff');
  } catch {
    // not V8, or flags are locked: the default tiering still gives the same results
  }
}
