// Worker threads for the wasm backend (worker_threads in Node, Web Workers in a browser, started by
// platform/kernel-worker.ts): each runs its own instance of kernels-mt.wasm over
// the shared memory (worker-loop.ts). A job is posted by writing its arguments into the worker's
// control block in that memory, then its generation into the claim word and the generation word.
// The worker claims it by swapping the claim word from the generation to its negation; the main
// thread does its own share meanwhile, then waits until every worker has stored the generation as
// done. Matmul rows are split in multiples of 4 (the Q8_0/Q4_0 row groups) and every share runs the
// same kernel on the same rows whichever thread runs it, so results do not depend on the thread
// count.
//
// Decode posts a matvec every few µs, cheaper than waking a sleeping worker (25-120 µs), so a worker
// spins for SPIN_MS after each job (and after a share the caller took back from it) before it
// sleeps again (worker-loop.ts). On a busy machine a
// spinning worker can be descheduled: if it is not asleep and has not claimed its share
// `takeBackMs` after the caller finished its own, the caller takes the share back (swapping the
// claim word to 0) and runs it itself, so 2 threads are never held up by a worker without a core.
import { startKernelWorker } from '../../platform/kernel-worker.js';
import { LlamaError } from '../../errors.js';
import type { LinearMemory } from './memory.js';
import { CTL, WORKER_ASLEEP } from './ctl.js';
import { SPIN_MS } from './worker-loop.js';
import type { WasmCompiledModule } from './wasm-api.js';

const STACK = 65536;
/** how long workers poll after a job, µs (CTL.spin) */
const SPIN_US = Math.round(SPIN_MS * 1000);
/** how long a job may take before a silent worker is reported (the first job includes its start-up) */
const TIMEOUT_MS = 60_000;
/** default: a share not claimed this long after the caller's own share is done is taken back */
export const TAKE_BACK_MS = 0.03;
/**
 * Back-off for small matmuls (decode's matvecs): when splits stop paying (another process holds the
 * cores, so a claimed share waits for its thread to be scheduled again), small matmuls run on the
 * caller alone for BACK_OFF_MS, then splitting is tried again. A split gains about the caller's own
 * share time (the worker ran a share as large) and loses what the caller then waited for the worker;
 * the pool keeps a decaying sum of gain - loss over the recent splits and backs off when it turns
 * negative. Splits that had to wake a sleeping worker are not counted (a wake-up is slow on any
 * machine and happens once per burst of jobs).
 */
export const BACK_OFF_MS = 250;
/** splits counted after a (re)start before the pool may back off */
const MIN_SPLITS = 16;
/**
 * The decaying sum's window, in splits (each split's weight decays by 1 - 1/NET_WINDOW). A worker
 * that loses its core for a few ms once (another thread of the machine ran; in a browser, the
 * page's rendering) costs those ms once; backing off costs the 2-thread gain of BACK_OFF_MS. With
 * a window of 32 splits (~0.4 decode tokens of a 110M model, ~0.6 ms of gain) one such stall
 * backed off, several times a second in Chromium; 256 splits (~5 ms of gain) absorb it, while a
 * worker that keeps losing its core (a busy process) still turns the sum negative within a few
 * tokens.
 */
export const NET_WINDOW = 256;

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
  /** shares posted to a worker but taken back and run by the caller */
  takenBack = 0;
  /** matmuls split over the caller and workers */
  splits = 0;
  /** times small matmuls stopped being split because workers were late */
  backOffs = 0;
  /** decaying sum of (own share time - wait for the workers) over recent splits, ms */
  private net = 0;
  private counted = 0;
  private backOffUntil = 0;

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
      const ctlOff = this.mem.alloc(4 * CTL.words, 'a worker control block');
      const stack = this.mem.alloc(STACK, 'a worker stack');
      const ctl = new Int32Array(this.mem.memory.buffer, ctlOff, CTL.words);
      ctl.fill(0);
      ctl[CTL.spin] = this.backOffUntil === 0 ? SPIN_US : 0;
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

  /** times the workers went to sleep in Atomics.wait (each later job then had to wake them) */
  get sleeps(): number {
    let n = 0;
    for (const w of this.workers) n += Atomics.load(w.ctl, CTL.sleeps);
    return n;
  }

  /** Whether a small matmul should be split now (false while backing off from late workers). */
  splitSmall(): boolean {
    if (this.backOffUntil === 0) return true;
    if (performance.now() < this.backOffUntil) return false;
    this.backOffUntil = 0;
    this.setSpin(SPIN_US);
    return true;
  }

  private setSpin(v: number): void {
    for (const w of this.workers) Atomics.store(w.ctl, CTL.spin, v);
  }

  /** Account one split: the caller's own share took `ownMs`, then it waited `waitedMs` for workers. */
  recordSplit(ownMs: number, waitedMs: number): void {
    this.net = this.net * (1 - 1 / NET_WINDOW) + (ownMs - waitedMs);
    if (++this.counted >= MIN_SPLITS && this.net < 0) {
      this.backOffUntil = performance.now() + BACK_OFF_MS;
      this.backOffs++;
      this.net = 0;
      this.counted = 0;
      this.setSpin(0);
    }
  }

  /**
   * Run matmul over rows [0, rows) on the caller and up to `nth - 1` ready workers. `args` are
   * matmul's arguments with r0 and r1 at indices 8 and 9; `runLocal(r0, r1)` runs a share on the
   * caller. `takeBackMs` (null: never) is how long an awake worker may leave its share unclaimed
   * after the caller's own share is done before the caller runs it instead.
   */
  matmul(nthWanted: number, args: number[], rows: number, runLocal: (r0: number, r1: number) => void, takeBackMs: number | null = TAKE_BACK_MS): void {
    const nth = Math.min(nthWanted, this.size + 1);
    const chunk = Math.ceil(rows / nth / 4) * 4;
    const posted: { w: PoolWorker; r0: number; r1: number }[] = [];
    /** a worker had to be woken: a slow hand-off then is the wake-up, not a busy machine */
    let woken = false;
    for (let i = 1; i < nth; i++) {
      const r0 = i * chunk, r1 = Math.min(rows, r0 + chunk);
      if (r0 >= r1) break;
      const w = this.workers[i - 1]!;
      const c = w.ctl;
      c[CTL.op] = 1;
      for (let a = 0; a < args.length; a++) c[CTL.args + a] = args[a]!;
      c[CTL.args + 8] = r0;
      c[CTL.args + 9] = r1;
      // generations stay positive (their negation marks a claim), wrapping long before 2^31
      w.gen = (w.gen % 0x3fffffff) + 1;
      Atomics.store(c, CTL.claim, w.gen);
      Atomics.store(c, CTL.gen, w.gen);
      // a spinning worker sees the generation without being woken (notify is a lock round trip)
      if (Atomics.load(c, CTL.state) === WORKER_ASLEEP) {
        Atomics.notify(c, CTL.gen);
        woken = true;
      }
      posted.push({ w, r0, r1 });
    }
    this.splits++;
    const t0 = performance.now();
    runLocal(0, Math.min(rows, chunk));
    const t1 = performance.now();
    for (const { w, r0, r1 } of posted) {
      const c = w.ctl;
      if (takeBackMs !== null && Atomics.load(c, CTL.claim) === w.gen) {
        // unclaimed: give an awake worker takeBackMs, then take the share back
        const until = performance.now() + takeBackMs;
        let n = 0;
        while (Atomics.load(c, CTL.claim) === w.gen && Atomics.load(c, CTL.state) !== WORKER_ASLEEP) {
          if ((++n & 63) === 0 && performance.now() > until) break;
        }
        if (Atomics.load(c, CTL.state) !== WORKER_ASLEEP && Atomics.compareExchange(c, CTL.claim, w.gen, 0) === w.gen) {
          runLocal(r0, r1);
          this.takenBack++;
          continue;
        }
      }
      // claimed (or the worker sleeps and is being woken): the share is short, spin before blocking
      let n = 0;
      while (Atomics.load(c, CTL.done) !== w.gen && ++n < 20000);
      const since = Date.now();
      while (Atomics.load(c, CTL.done) !== w.gen) {
        Atomics.wait(c, CTL.done, Atomics.load(c, CTL.done), 1000);
        if (Date.now() - since > TIMEOUT_MS) throw new LlamaError('INTERNAL', 'a wasm worker thread did not answer', { hint: 'run with --threads 1' });
      }
      this.jobs++;
    }
    const waited = performance.now() - t1;
    if (takeBackMs !== null && !woken) this.recordSplit(t1 - t0, waited);
  }
}
