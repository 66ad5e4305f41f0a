// A Sequence: one conversation's run state (a Session's KV cache) that knows which tokens it holds,
// so that a new prompt only evaluates what differs from them (the longest common prefix is kept),
// and that can make room when the context is full (a context shift, as llama.cpp does it).
//
// Context shift: keep the first nKeep tokens (a system prompt, or just BOS), drop half of the rest,
// move the remainder down. Our KV cache stores keys already rotated by their position (RoPE), so
// moved tokens must be re-rotated; we re-evaluate them instead (exact: the cache then holds exactly
// what a fresh pass over the kept tokens gives, and no backend op is needed). It costs one prefill
// of about half a context per shift; llama.cpp's in-place K rotation is cheaper but approximates
// what a fresh pass would compute.
import { LlamaError } from '../errors.js';
import type { LlamaModel } from '../model/llama.js';
import type { Session } from '../model/kv-cache.js';

export type ContextPolicy = 'shift' | 'refuse';

export interface ContextShiftOptions {
  /** 'shift' (drop tokens after the first nKeep) or 'refuse' (CONTEXT_OVERFLOW / finish 'context') */
  contextShift?: ContextPolicy;
  /** tokens never dropped by a shift (default: BOS, i.e. 1 when the sequence starts with it, else 0) */
  nKeep?: number;
}

/** Length of the longest common prefix of two token lists. */
export function commonPrefix(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/** Which of `tokens` survive a shift: the first nKeep, then all but the first half of the rest. */
export function shiftedTokens(tokens: readonly number[], nKeep: number): number[] {
  const keep = Math.min(Math.max(0, nKeep), tokens.length);
  const discard = Math.max(1, Math.floor((tokens.length - keep) / 2));
  return [...tokens.slice(0, keep), ...tokens.slice(keep + discard)];
}

export class Sequence {
  private disposed = false;
  /** context shifts done so far during generation (for stats and tests) */
  shifts = 0;
  /** prompts shortened by fit() so far */
  fits = 0;

  constructor(readonly model: LlamaModel, readonly session: Session) {}

  /** the tokens in the KV cache, in order */
  get tokens(): readonly number[] {
    return this.session.tokens;
  }
  get pos(): number {
    return this.session.pos;
  }
  get ctxSize(): number {
    return this.session.ctxSize;
  }

  private live(): void {
    if (this.disposed) throw new LlamaError('USAGE', 'this sequence was disposed');
  }

  /**
   * Make the cache hold a prefix of `tokens` as long as possible, and return the rest, still to be
   * evaluated. At least one token is always returned (its logits are what the caller wants next).
   */
  prepare(tokens: readonly number[]): number[] {
    this.live();
    if (tokens.length === 0) throw new LlamaError('USAGE', 'a sequence needs at least one token to evaluate');
    const keep = Math.min(commonPrefix(this.session.tokens, tokens), tokens.length - 1);
    this.session.rewind(keep);
    return tokens.slice(keep);
  }

  /** Evaluate `tokens` (the whole text so far; only what differs from the cache is computed). Returns the last row's logits. */
  async evaluate(tokens: readonly number[], opts: { signal?: AbortSignal } = {}): Promise<Float32Array> {
    const rest = this.prepare(tokens);
    return this.model.forwardAsync(this.session, rest, opts.signal ? { signal: opts.signal } : {});
  }

  /**
   * Fit `tokens` plus `reserve` more positions in the context by dropping tokens after the first
   * nKeep (halving what follows, as often as needed). Returns the tokens to use instead.
   */
  fit(tokens: readonly number[], reserve: number, nKeep: number): number[] {
    let t = [...tokens];
    const max = this.ctxSize - reserve;
    if (nKeep + 1 > max) {
      throw new LlamaError('CONTEXT_OVERFLOW', `the ${nKeep} kept tokens leave no room in the ${this.ctxSize}-position context`, {
        hint: 'use a larger context size, or keep fewer tokens (a shorter system prompt / nKeep)',
      });
    }
    if (t.length > max) this.fits++;
    while (t.length > max) t = shiftedTokens(t, nKeep);
    return t;
  }

  /**
   * A context shift now: drop half of the tokens after nKeep and re-evaluate the rest at their new
   * positions (abortable with `signal`; an aborted shift leaves the cache holding the first nKeep).
   */
  async shift(nKeep: number, signal?: AbortSignal): Promise<void> {
    this.live();
    const kept = shiftedTokens(this.session.tokens, nKeep);
    const same = Math.min(Math.max(0, nKeep), kept.length);
    this.session.rewind(same);
    if (kept.length > same) await this.model.forwardAsync(this.session, kept.slice(same), signal ? { signal } : {});
    this.shifts++;
  }

  reset(): void {
    this.live();
    this.session.reset();
  }

  /** Forget the cache (the backend's memory goes with the last reference). */
  dispose(): void {
    if (this.disposed) return;
    this.session.reset();
    this.disposed = true;
  }
}
