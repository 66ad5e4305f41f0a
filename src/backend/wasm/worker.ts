// A worker thread of the wasm backend in Node (worker_threads); the loop is worker-loop.ts.
import { parentPort, workerData } from 'node:worker_threads';
import { serveKernelJobs, type WorkerStart } from './worker-loop.js';

serveKernelJobs(workerData as WorkerStart, () => parentPort!.postMessage('ready'));
