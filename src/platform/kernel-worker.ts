// Starting a kernel worker thread of the wasm backend (backend/wasm/pool.ts): Node worker_threads
// here, Web Workers in the browser bundle (kernel-worker.browser.ts). The worker gets the compiled
// module, the shared memory and its control block, and answers one message when it is ready.
import { Worker } from 'node:worker_threads';

export interface KernelWorkerData {
  /** a WebAssembly.Module of kernels-mt.wasm */
  module: unknown;
  /** the shared WebAssembly.Memory */
  memory: unknown;
  /** byte offset of the worker's control block */
  ctl: number;
  /** top of the worker's stack in the shared memory */
  stackTop: number;
}

export interface KernelWorker {
  /** resolves when the worker waits for jobs; rejects if it failed to start */
  readonly ready: Promise<void>;
}

/** Whether this thread may block in Atomics.wait (the pool's main thread must). */
export function canBlockThread(): boolean {
  return true;
}

export function startKernelWorker(data: KernelWorkerData): KernelWorker {
  const worker = new Worker(new URL('./kernel-worker-thread.js', import.meta.url), { workerData: data });
  worker.unref(); // an idle pool never keeps the process alive
  const ready = new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('error', (e) => reject(e));
  });
  return { ready };
}
