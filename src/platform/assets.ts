// Where the browser bundle finds its companion files (kernels.wasm, kernels-mt.wasm,
// llama-kernel-worker.js): beside the bundle itself unless the page says otherwise. Unused in Node.
let base: string | URL = new URL('./', import.meta.url);

/** Point the bundle at another folder (a URL) holding its .wasm files and kernel worker. */
export function setAssetBase(url: string | URL): void {
  base = url;
}

export function assetUrl(file: string): URL {
  return new URL(file, base);
}
