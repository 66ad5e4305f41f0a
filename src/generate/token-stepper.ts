// One generated sequence as a step machine: given the logits that follow the tokens so far, pick
// the next token, decode its text, check end tokens, stop strings and the token budget, and say
// whether the sequence goes on. It owns no model and no KV cache, so a scheduler can drive many of
// them with one batched forward per step (the server), and a single loop can drive one (generate).
//
//   const s = new TokenStepper(tokenizer, { sampler, maxTokens, stop, endIds, ... }, promptTokens);
//   for (;;) { const r = s.step(logitsRow); emit(r.item); if (r.finished) break; forward([r.token]); }
import type { Tokenizer, StreamDecoder } from '../tokenizer/tokenizer.js';
import type { SamplerChain } from './sampler.js';
import { StopMatcher } from './stop.js';
import { LlamaError } from '../errors.js';

export interface StepToken {
  /** the sampled id (-1 for a final item that only flushes held-back text) */
  token: number;
  text: string;
  logprob?: number;
  topLogprobs?: { token: number; logprob: number }[];
}

export type StepFinish = 'eos' | 'stop' | 'length' | 'context';

export interface StepperOptions {
  sampler: SamplerChain;
  /** tokens to generate at most (already capped by the room left in the context) */
  maxTokens: number;
  /** true when maxTokens was capped by the context rather than asked for */
  cappedByContext?: boolean;
  stop?: readonly string[];
  endIds: ReadonlySet<number>;
  logprobs?: boolean;
  topLogprobs?: number;
  /** a decoder that has already read the prompt (generate() decoded it to echo it); default: a fresh one primed here */
  decoder?: StreamDecoder;
}

export interface StepResult {
  /** what to emit (undefined: nothing this step, e.g. an end token) */
  item: StepToken | undefined;
  /** the sampled token: forward it next unless finished */
  token: number;
  finished: StepFinish | undefined;
}

export class TokenStepper {
  generated = 0;
  finishReason: StepFinish | undefined;
  private readonly decoder: StreamDecoder;
  private readonly stops: StopMatcher;

  constructor(tokenizer: Tokenizer, private readonly o: StepperOptions, promptTokens: readonly number[]) {
    this.stops = new StopMatcher(o.stop ?? []);
    for (const id of promptTokens) o.sampler.accept(id);
    if (o.decoder) this.decoder = o.decoder;
    else {
      // The decoder reads the prompt first, so the first generated token decodes as a continuation
      // (SentencePiece drops a leading space only at the start of a text).
      this.decoder = tokenizer.streamDecoder();
      for (const id of promptTokens) this.decoder.push(id);
      this.decoder.flush();
    }
    if (o.maxTokens <= 0) this.finishReason = o.cappedByContext ? 'context' : 'length';
  }

  get done(): boolean {
    return this.finishReason !== undefined;
  }

  /** One step from the logits row (vocab) that follows the sequence so far. */
  step(row: Float32Array): StepResult {
    if (this.finishReason !== undefined) throw new LlamaError('INTERNAL', 'step() after the sequence finished');
    const token = this.o.sampler.sample(row);
    this.generated++;
    this.o.sampler.accept(token);
    if (this.o.endIds.has(token)) {
      this.finishReason = 'eos';
      const rest = this.flush();
      return { item: rest ? { token: -1, text: rest } : undefined, token, finished: 'eos' };
    }
    const item: StepToken = { token, text: '' };
    if (this.o.logprobs || (this.o.topLogprobs ?? 0) > 0) Object.assign(item, logprobsOf(row, token, this.o.topLogprobs ?? 0));
    const r = this.stops.push(this.decoder.push(token));
    item.text = r.text;
    if (r.stopped) {
      this.finishReason = 'stop';
      return { item, token, finished: 'stop' };
    }
    if (this.generated >= this.o.maxTokens) {
      this.finishReason = this.o.cappedByContext ? 'context' : 'length';
      item.text += this.flush();
      return { item, token, finished: this.finishReason };
    }
    return { item, token, finished: undefined };
  }

  /** End early (cancelled by the caller); returns held-back text, if any. */
  private flush(): string {
    return this.stops.push(this.decoder.flush()).text + this.stops.flush();
  }
}

/** log-softmax of one row of logits at `token`, and the `top` best alternatives. */
export function logprobsOf(logits: ArrayLike<number>, token: number, top: number): { logprob: number; topLogprobs?: { token: number; logprob: number }[] } {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! - max);
  const logZ = max + Math.log(sum);
  const out: { logprob: number; topLogprobs?: { token: number; logprob: number }[] } = { logprob: logits[token]! - logZ };
  if (top > 0) {
    const best: { token: number; logprob: number }[] = [];
    for (let i = 0; i < logits.length; i++) {
      const lp = logits[i]! - logZ;
      if (best.length < top || lp > best[best.length - 1]!.logprob) {
        best.push({ token: i, logprob: lp });
        best.sort((a, b) => b.logprob - a.logprob || a.token - b.token);
        if (best.length > top) best.pop();
      }
    }
    out.topLogprobs = best;
  }
  return out;
}
