// Worker threads for the wasm backend (worker_threads in Node, Web Workers in a browser, started by
// platform/kernel-worker.ts): each runs its own instance of kernels-mt.wasm over
// the shared memory (worker.ts). A job is posted by writing its arguments into the worker's
// control block in that memory and bumping a generation word; the main thread then does its own
// share and blocks (Atomics.wait) until every worker has stored the generation as done. Matmul
// rows are split in multiples of 4 (the Q8_0/Q4_0 row groups), so results do not depend on the
// thread count.
import { startKernelWorker } from '../../platform/kernel-worker.js';
import { LlamaError } from '../../errors.js';
import type { LinearMemory } from './memory.js';
import type { WasmCompiledModule } from './wasm-api.js';

const STACK = 65536;
/** how long a job may take before a silent worker is reported (the first job includes its start-up) */
const TIMEOUT_MS = 60_000;

interface PoolWorker {
  ctl: Int32Array;
  gen: number;
  /** set once the worker has its instance and waits for jobs (before that, jobs would block the
   * main thread while Node needs it to start the worker) */
  ready: Promise<void>;
  isReady: boolean;
}

export class WasmPool {
  private readonly workers: PoolWorker[] = [];
  /** jobs run by workers so far (tests use it to prove the threads ran) */
  jobs = 0;

  constructor(private readonly module: WasmCompiledModule, private readonly mem: LinearMemory) {}

  /** workers ready for jobs */
  get size(): number {
    let n = 0;
    while (n < this.workers.length && this.workers[n]!.isReady) n++;
    return n;
  }

  /** Start workers until there are `n`, resolving once all of them are ready. */
  start(n: number): Promise<void> {
    this.ensure(n);
    return Promise.all(this.workers.slice(0, n).map((w) => w.ready)).then(() => undefined);
  }

  private ensure(n: number): void {
    while (this.workers.length < n) {
      const ctlOff = this.mem.alloc(64, 'a worker control block');
      const stack = this.mem.alloc(STACK, 'a worker stack');
      const ctl = new Int32Array(this.mem.memory.buffer, ctlOff, 16);
      ctl.fill(0);
      const started = startKernelWorker({ module: this.module, memory: this.mem.memory, ctl: ctlOff, stackTop: stack + STACK });
      const pw: PoolWorker = { ctl, gen: 0, isReady: false, ready: Promise.resolve() };
      pw.ready = started.ready.then(
        () => {
          pw.isReady = true;
        },
        (e: Error) => {
          throw new LlamaError('BACKEND_UNAVAILABLE', `a wasm worker thread failed to start: ${e.message}`, { hint: 'use --threads 1' });
        },
      );
      this.workers.push(pw);
    }
  }

  /**
   * Run matmul over rows [0, rows) on the caller and up to `nth - 1` ready workers. `args` are
   * matmul's arguments with r0 and r1 at indices 8 and 9; `runLocal(r0, r1)` runs the caller's share.
   */
  matmul(nthWanted: number, args: number[], rows: number, runLocal: (r0: number, r1: number) => void): void {
    const nth = Math.min(nthWanted, this.size + 1);
    const chunk = Math.ceil(rows / nth / 4) * 4;
    const posted: PoolWorker[] = [];
    for (let i = 1; i < nth; i++) {
      const r0 = i * chunk, r1 = Math.min(rows, r0 + chunk);
      if (r0 >= r1) break;
      const w = this.workers[i - 1]!;
      const c = w.ctl;
      c[2] = 1;
      for (let a = 0; a < args.length; a++) c[3 + a] = args[a]!;
      c[3 + 8] = r0;
      c[3 + 9] = r1;
      w.gen++;
      Atomics.store(c, 0, w.gen);
      Atomics.notify(c, 0);
      posted.push(w);
    }
    runLocal(0, Math.min(rows, chunk));
    for (const w of posted) {
      const t0 = Date.now();
      while (Atomics.load(w.ctl, 1) !== w.gen) {
        Atomics.wait(w.ctl, 1, Atomics.load(w.ctl, 1), 1000);
        if (Date.now() - t0 > TIMEOUT_MS) throw new LlamaError('INTERNAL', 'a wasm worker thread did not answer', { hint: 'run with --threads 1' });
      }
      this.jobs++;
    }
  }
}
