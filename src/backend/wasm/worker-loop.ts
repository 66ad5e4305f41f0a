// The job loop of a wasm kernel worker, whatever starts it (worker.ts in Node, worker-web.ts in a
// browser): its own instance of kernels-mt.wasm over the shared memory, with its own stack, serving
// jobs posted in its control block (Int32 words, CTL in ctl.ts): [0] job generation, [1]
// generation done, [2] op (0 = quit, 1 = matmul), [3..15] the op's arguments, [16] the claim word
// (the posted generation while unclaimed; the worker swaps it to its negation to take the job, the
// main thread to 0 to take it back), [17] whether the worker is awake, [18] how long it polls for
// the next job, in µs (0 while the pool backs off from late workers: polling would take a core the
// main thread needs), [19] how many times it went to sleep in Atomics.wait, [20] the last
// generation it looked at (claimed or not). No messages per job.
import { instantiate, type WasmKernels } from './module.js';
import type { WasmCompiledModule, WasmMemory } from './wasm-api.js';
import { CTL, WORKER_ASLEEP, WORKER_AWAKE } from './ctl.js';

/**
 * How long a worker polls for the next job after one before it sleeps in Atomics.wait. Decode posts
 * a matvec every few µs (waking from Atomics.wait costs 25-120 µs); between tokens and after a
 * reply the worker sleeps again within this time, so an idle model does not hold a core.
 */
export const SPIN_MS = 1;

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
  const c = new Int32Array(memory.buffer, ctl, CTL.words);
  let seen = Atomics.load(c, CTL.gen);
  Atomics.store(c, CTL.state, WORKER_ASLEEP);
  ready();
  for (;;) {
    if (Atomics.load(c, CTL.gen) === seen) {
      Atomics.store(c, CTL.state, WORKER_ASLEEP);
      Atomics.add(c, CTL.sleeps, 1);
      // the main thread notifies only a worker it saw asleep: storing the state before waiting
      // means either it sees ASLEEP or this wait sees the new generation
      Atomics.wait(c, CTL.gen, seen);
      Atomics.store(c, CTL.state, WORKER_AWAKE);
    }
    seen = Atomics.load(c, CTL.gen);
    Atomics.store(c, CTL.seen, seen);
    // the job's arguments were written before its claim word, so a won claim means they are whole;
    // a lost one means the caller took the share back (it ran it itself) and goes on to its next
    // matmul: poll for that job as after one of our own, instead of sleeping and needing a wake-up
    if (Atomics.compareExchange(c, CTL.claim, seen, -seen) === seen) {
      const op = c[CTL.op]!;
      if (op === 0) break;
      const a = CTL.args;
      if (op === 1) k.matmul(c[a]!, c[a + 1]!, c[a + 2]!, c[a + 3]!, c[a + 4]!, c[a + 5]!, c[a + 6]!, c[a + 7]!, c[a + 8]!, c[a + 9]!, c[a + 10]!, c[a + 11]!, c[a + 12]!);
      Atomics.store(c, CTL.done, seen);
      Atomics.notify(c, CTL.done);
    }
    pollForNextJob(c, seen);
  }
}

/**
 * Poll the generation word for up to CTL.spin µs after a job (a hand-off then costs ~1 µs instead
 * of a wake-up); stops at once when the pool sets CTL.spin to 0 (it backs off from late workers and
 * needs the core).
 */
function pollForNextJob(c: Int32Array, seen: number): void {
  let spinUs = Atomics.load(c, CTL.spin);
  if (spinUs <= 0) return;
  const until = performance.now() + spinUs / 1000;
  let n = 0;
  while (Atomics.load(c, CTL.gen) === seen) {
    if ((++n & 255) === 0) {
      spinUs = Atomics.load(c, CTL.spin);
      if (spinUs <= 0 || performance.now() > until) return;
    }
  }
}
