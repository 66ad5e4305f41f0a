// kernel-worker.ts in a browser: a module Web Worker running llama-kernel-worker.js (built from
// backend/wasm/worker-web.ts beside the bundle). The module and the shared memory go over
// postMessage (both are shareable when the page is cross-origin isolated).
import { assetUrl } from './assets.js';
import type { KernelWorker, KernelWorkerData } from './kernel-worker.js';
export type { KernelWorker, KernelWorkerData } from './kernel-worker.js';

interface WebWorker {
  postMessage(data: unknown): void;
  addEventListener(type: string, fn: (e: { data?: unknown; message?: string }) => void, opts?: { once?: boolean }): void;
}

/**
 * Atomics.wait is refused on a page's main thread: there the pool cannot wait for its workers, so
 * the engine must itself run in a Worker to use threads (examples/browser does).
 */
export function canBlockThread(): boolean {
  return typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== 'undefined';
}

export function startKernelWorker(data: KernelWorkerData): KernelWorker {
  const W = (globalThis as { Worker?: new (url: URL, opts: { type: 'module' }) => WebWorker }).Worker;
  if (!W) return { ready: Promise.reject(new Error('this context cannot start Web Workers')) };
  const worker = new W(assetUrl('llama-kernel-worker.js'), { type: 'module' });
  const ready = new Promise<void>((resolve, reject) => {
    worker.addEventListener('message', () => resolve(), { once: true });
    worker.addEventListener('error', (e) => reject(new Error(e.message ?? 'the worker script failed')), { once: true });
  });
  worker.postMessage(data);
  return { ready };
}
