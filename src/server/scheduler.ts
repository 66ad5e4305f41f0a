// Continuous batching (llama.cpp server's model): `parallel` slots, each with its own KV cache.
// Every step gathers the work of all busy slots — a chunk of prompt for a slot still reading its
// prompt, one token for a slot that is generating — into ONE batched forward, so the weights are
// read once per step for every sequence. New requests take a free slot between steps; a slot whose
// client went away is freed at the next step boundary.
//
// A request's prompt reuses the longest prefix a free slot already holds (cache_prompt): only the
// rest is evaluated. Sampling state (seeded RNG, penalties, grammar) belongs to the request, so the
// same seed gives the same text whichever slot or batch it runs in (up to float summation order,
// which a batched forward may change on the native backend).
import type { Session } from '../model/kv-cache.js';
import { LlamaError } from '../errors.js';
import type { StepToken, StepFinish, TokenStepper } from '../generate/token-stepper.js';

/**
 * One batched forward: per item, the logits of its last row (vocab), or of every row (T, vocab)
 * when `allLogits` is set.
 */
export type BatchForward = (items: readonly { session: Session; tokens: readonly number[]; allLogits?: boolean }[]) => Float32Array[];

export interface Job {
  readonly promptTokens: readonly number[];
  /** built by the caller once the room left in the context is known */
  makeStepper(room: number): TokenStepper;
  readonly cachePrompt: boolean;
  /**
   * Wants the logits of every prompt position (completions with echo + logprobs): called with the
   * rows (count, vocab) that follow prompt positions first .. first+count-1. Prefix reuse is off
   * for such a job (a cached prefix has no logits).
   */
  readonly onPromptLogits?: ((rows: Float32Array, first: number, count: number) => void) | undefined;
  readonly signal?: AbortSignal | undefined;
  onToken(item: StepToken): void;
  onDone(result: JobResult): void;
  onError(err: unknown): void;
}

export interface JobResult {
  finishReason: StepFinish | 'cancelled';
  promptTokens: number;
  cachedTokens: number;
  completionTokens: number;
  promptMs: number;
  generateMs: number;
}

interface Slot {
  readonly id: number;
  readonly session: Session;
  job: Job | undefined;
  stepper: TokenStepper | undefined;
  /** prompt tokens not yet evaluated */
  pending: number[];
  /** the sampled token still to be forwarded */
  next: number | undefined;
  cached: number;
  tStart: number;
  tFirst: number;
}

export interface SchedulerOptions {
  parallel: number;
  /** requests waiting for a slot before new ones get 503 */
  maxQueue: number;
  /** prompt tokens evaluated per step over all slots (keeps generating slots streaming) */
  prefillBudget: number;
}

export interface SchedulerStats {
  slotsBusy: number;
  slots: number;
  queue: number;
  steps: number;
  promptTokens: number;
  generatedTokens: number;
}

export class Scheduler {
  private readonly slots: Slot[];
  private readonly queue: Job[] = [];
  private running = false;
  private closed = false;
  readonly stats: SchedulerStats;

  constructor(
    private readonly forward: BatchForward,
    newSession: () => Session,
    private readonly opts: SchedulerOptions,
  ) {
    this.slots = Array.from({ length: opts.parallel }, (_, id) => ({ id, session: newSession(), job: undefined, stepper: undefined, pending: [], next: undefined, cached: 0, tStart: 0, tFirst: 0 }));
    this.stats = { slotsBusy: 0, slots: opts.parallel, queue: 0, steps: 0, promptTokens: 0, generatedTokens: 0 };
  }

  /** Context positions each slot holds. */
  get slotContext(): number {
    return this.slots[0]!.session.ctxSize;
  }

  /** Queue a job; throws QUEUE_FULL when the queue is full (the server answers 503). */
  submit(job: Job): void {
    if (this.closed) throw new LlamaError('SERVER_BUSY', 'the server is shutting down', { hint: 'retry against a running server' });
    if (job.promptTokens.length === 0) throw new LlamaError('USAGE', 'the prompt is empty', { hint: 'send a non-empty prompt' });
    if (job.promptTokens.length >= this.slotContext) {
      throw new LlamaError('CONTEXT_OVERFLOW', `the prompt has ${job.promptTokens.length} tokens; a slot's context holds ${this.slotContext}`, { hint: 'shorten the prompt, or start the server with a larger --ctx-size' });
    }
    if (this.queue.length >= this.opts.maxQueue) throw new LlamaError('SERVER_BUSY', `all ${this.slots.length} slots are busy and ${this.queue.length} requests are waiting`, { hint: 'retry later, or start the server with a larger --parallel' });
    this.queue.push(job);
    this.stats.queue = this.queue.length;
    if (!this.running) void this.loop();
  }

  /** Stop taking work; cancel what waits; let running jobs finish (or cancel them with `cancelAll`). */
  close(cancelAll = false): Promise<void> {
    this.closed = true;
    for (const j of this.queue.splice(0)) j.onDone(emptyResult('cancelled', j.promptTokens.length));
    if (cancelAll) for (const s of this.slots) if (s.job) this.finish(s, 'cancelled');
    return new Promise((resolve) => {
      const check = () => (this.slots.some((s) => s.job) ? setTimeout(check, 5) : resolve());
      check();
    });
  }

  private assign(): void {
    while (this.queue.length > 0) {
      const free = this.slots.filter((s) => !s.job);
      if (free.length === 0) break;
      const job = this.queue.shift()!;
      if (job.signal?.aborted) {
        job.onDone(emptyResult('cancelled', job.promptTokens.length));
        continue;
      }
      // the free slot holding the longest prefix of this prompt (the lowest id on ties)
      let best = free[0]!;
      let bestLen = -1;
      for (const s of free) {
        const n = job.cachePrompt && !job.onPromptLogits ? commonPrefix(s.session.tokens, job.promptTokens) : 0;
        if (n > bestLen) {
          best = s;
          bestLen = n;
        }
      }
      // at least one prompt token is evaluated: its logits start the generation
      const reuse = Math.min(bestLen, job.promptTokens.length - 1);
      best.session.rewind(reuse);
      best.job = job;
      best.cached = reuse;
      best.pending = job.promptTokens.slice(reuse);
      best.next = undefined;
      best.tStart = performance.now();
      best.tFirst = 0;
      try {
        best.stepper = job.makeStepper(best.session.ctxSize - job.promptTokens.length);
      } catch (e) {
        best.job = undefined;
        job.onError(e);
      }
    }
    this.stats.queue = this.queue.length;
    this.stats.slotsBusy = this.slots.filter((s) => s.job).length;
  }

  private async loop(): Promise<void> {
    this.running = true;
    try {
      for (;;) {
        this.assign();
        for (const s of this.slots) if (s.job?.signal?.aborted) this.finish(s, 'cancelled');
        const busy = this.slots.filter((s) => s.job);
        if (busy.length === 0) break;
        this.step(busy);
        // let sockets be read and written (and aborts arrive) between steps
        await new Promise<void>((r) => setImmediate(r));
      }
    } finally {
      this.running = false;
      this.stats.slotsBusy = this.slots.filter((s) => s.job).length;
    }
  }

  private step(busy: Slot[]): void {
    const items: { slot: Slot; tokens: number[]; last: boolean; all: boolean; first: number }[] = [];
    let budget = this.opts.prefillBudget;
    for (const s of busy) {
      if (s.next !== undefined) {
        items.push({ slot: s, tokens: [s.next], last: true, all: false, first: 0 });
      } else if (s.pending.length > 0 && budget > 0) {
        const n = Math.min(s.pending.length, budget);
        budget -= n;
        const first = s.session.pos;
        items.push({ slot: s, tokens: s.pending.splice(0, n), last: s.pending.length === 0, all: !!s.job!.onPromptLogits, first });
      }
    }
    if (items.length === 0) return;
    let logits: Float32Array[];
    try {
      logits = this.forward(items.map((it) => ({ session: it.slot.session, tokens: it.tokens, ...(it.all ? { allLogits: true } : {}) })));
    } catch (e) {
      for (const it of items) this.fail(it.slot, e);
      return;
    }
    this.stats.steps++;
    items.forEach((it, i) => {
      const s = it.slot;
      if (s.next === undefined) this.stats.promptTokens += it.tokens.length;
      s.next = undefined;
      let row = logits[i]!;
      try {
        if (it.all) {
          s.job!.onPromptLogits!(row, it.first, it.tokens.length);
          row = row.subarray(row.length - row.length / it.tokens.length);
        }
      } catch (e) {
        this.fail(s, e);
        return;
      }
      if (!it.last) return; // still reading its prompt
      if (s.tFirst === 0) s.tFirst = performance.now();
      if (s.stepper!.done) {
        this.finish(s, s.stepper!.finishReason!); // max_tokens 0: the prompt was all it wanted
        return;
      }
      try {
        const r = s.stepper!.step(row);
        this.stats.generatedTokens++;
        if (r.item) s.job!.onToken(r.item);
        if (r.finished) this.finish(s, r.finished);
        else s.next = r.token;
      } catch (e) {
        this.fail(s, e);
      }
    });
  }

  private finish(s: Slot, reason: StepFinish | 'cancelled'): void {
    const job = s.job!;
    const now = performance.now();
    const first = s.tFirst || now;
    s.job = undefined;
    s.next = undefined;
    s.pending = [];
    // The KV cache keeps what it holds for prefix reuse; a generated token that was sampled but
    // never forwarded is not in it, and session.tokens says exactly what is.
    job.onDone({
      finishReason: reason,
      promptTokens: job.promptTokens.length,
      cachedTokens: s.cached,
      completionTokens: s.stepper?.generated ?? 0,
      promptMs: first - s.tStart,
      generateMs: now - first,
    });
    s.stepper = undefined;
    this.stats.slotsBusy = this.slots.filter((x) => x.job).length;
  }

  private fail(s: Slot, e: unknown): void {
    const job = s.job!;
    s.job = undefined;
    s.stepper = undefined;
    s.next = undefined;
    s.pending = [];
    s.session.reset();
    job.onError(e);
    this.stats.slotsBusy = this.slots.filter((x) => x.job).length;
  }
}

function commonPrefix(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

function emptyResult(reason: 'cancelled', promptTokens: number): JobResult {
  return { finishReason: reason, promptTokens, cachedTokens: 0, completionTokens: 0, promptMs: 0, generateMs: 0 };
}
