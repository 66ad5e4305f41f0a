// The job loop of a wasm kernel worker, whatever starts it (worker.ts in Node, worker-web.ts in a
// browser): its own instance of kernels-mt.wasm over the shared memory, with its own stack, serving
// jobs posted in its control block (Int32 words, see pool.ts): [0] job generation, [1] generation
// done, [2] op (0 = quit, 1 = matmul), [3..15] the op's arguments. The main thread blocks on [1]; no
// messages are exchanged per job.
import { instantiate, type WasmKernels } from './module.js';
import type { WasmCompiledModule, WasmMemory } from './wasm-api.js';

export interface WorkerStart {
  module: WasmCompiledModule;
  memory: WasmMemory;
  ctl: number;
  stackTop: number;
}

/** Serve jobs until told to quit; `ready()` is called once the instance waits for its first job. */
export function serveKernelJobs({ module, memory, ctl, stackTop }: WorkerStart, ready: () => void): void {
  const k: WasmKernels = instantiate(module, memory);
  k.__stack_pointer!.value = stackTop;
  const c = new Int32Array(memory.buffer, ctl, 16);
  let seen = Atomics.load(c, 0);
  ready();
  for (;;) {
    Atomics.wait(c, 0, seen);
    seen = Atomics.load(c, 0);
    const op = c[2]!;
    if (op === 0) break;
    if (op === 1) k.matmul(c[3]!, c[4]!, c[5]!, c[6]!, c[7]!, c[8]!, c[9]!, c[10]!, c[11]!, c[12]!, c[13]!, c[14]!, c[15]!);
    Atomics.store(c, 1, seen);
    Atomics.notify(c, 1);
  }
}
