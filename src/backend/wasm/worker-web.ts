// A worker of the wasm backend in a browser (a module Web Worker, bundled as
// dist/browser/llama-kernel-worker.js): the start message carries the module and shared memory,
// then the loop of worker-loop.ts runs (it blocks in Atomics.wait, which workers may do).
import { serveKernelJobs, type WorkerStart } from './worker-loop.js';

const scope = globalThis as unknown as {
  addEventListener(type: 'message', fn: (e: { data: WorkerStart }) => void, opts?: { once?: boolean }): void;
  postMessage(msg: unknown): void;
};
scope.addEventListener('message', (e) => serveKernelJobs(e.data, () => scope.postMessage('ready')), { once: true });
