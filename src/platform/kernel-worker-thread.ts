// A worker thread of the wasm backend in Node (worker_threads; started by kernel-worker.ts). The
// job loop itself is platform-free: backend/wasm/worker-loop.ts (worker-web.ts is the browser's entry).
import { parentPort, workerData } from 'node:worker_threads';
import { serveKernelJobs, type WorkerStart } from '../backend/wasm/worker-loop.js';

serveKernelJobs(workerData as WorkerStart, () => parentPort!.postMessage('ready'));
