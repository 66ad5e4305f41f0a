// The compiled kernel modules (src/backend/wasm/kernels.wasm, kernels-mt.wasm) as bytes. In Node
// they are read from the package (dist/src/platform/ -> <package>/src/backend/wasm/); the browser
// bundle (kernel-files.browser.ts) fetches them from beside the bundle.
import { readFileSync } from 'node:fs';
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
