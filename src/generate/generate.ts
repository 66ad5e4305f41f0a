// Text generation as an async iterator: prompt -> prefill -> (sample, decode, check stops, forward)*.
// The CLI, the server and the library are thin consumers of this one loop.
//
//   const gen = generate(model, tokenizer, 'Once upon a time', { maxTokens: 50, temperature: 0 });
//   for await (const { text } of gen) process.stdout.write(text);
//   console.error(gen.stats);
//
// Every yielded item is one sampled token with the text it completed. `text` may be '' (half of a
// UTF-8 character, or text held back because it could begin a stop string). End-of-generation
// tokens are not yielded. If text is still held back when generation ends, one last item with
// token -1 carries it.
import type { LlamaModel } from '../model/llama.js';
import type { Session } from '../model/kv-cache.js';
import type { DType } from '../tensor/dtype.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { LlamaError } from '../errors.js';
import { createSampler, type SamplerChain, type SamplingOptions } from './sampler.js';
import { StopMatcher } from './stop.js';

export interface TokenLogprob {
  token: number;
  logprob: number;
}

export interface GeneratedToken {
  /** the sampled id (-1 for a final item that only flushes held-back text) */
  token: number;
  text: string;
  /** log-probability of `token` under the model (log-softmax of the raw logits, before sampling steps) */
  logprob?: number;
  /** the most likely alternatives under the model, best first */
  topLogprobs?: TokenLogprob[];
}

export type FinishReason = 'eos' | 'stop' | 'length' | 'context';

export interface GenerationStats {
  promptTokens: number;
  promptMs: number;
  promptTokensPerSec: number;
  generatedTokens: number;
  generateMs: number;
  generatedTokensPerSec: number;
  finishReason: FinishReason;
}

export interface GenerateOptions extends SamplingOptions {
  /** tokens to generate at most; default: until an end token or the context is full */
  maxTokens?: number;
  /** a ready sampler chain (then the sampling options are ignored) */
  sampler?: SamplerChain;
  /** stop strings: generation ends before them and they are not emitted */
  stop?: readonly string[];
  /** extra ids that end generation besides tokenizer.eogIds (e.g. BOS for llama2.c models) */
  stopTokens?: Iterable<number>;
  /** keep going through end-of-generation tokens */
  ignoreEog?: boolean;
  signal?: AbortSignal;
  /** continue an existing session (chat); default: a fresh one */
  session?: Session;
  ctxSize?: number;
  kvType?: DType;
  /** prepend BOS when the prompt is text; default: the tokenizer's own default */
  addBos?: boolean;
  logprobs?: boolean;
  /** how many alternatives to report per token (implies logprobs) */
  topLogprobs?: number;
  /** prompt tokens per forward call (the loop yields to the event loop between them); default 512 */
  prefillBatch?: number;
}

const nextTick = () => new Promise<void>((resolve) => setImmediate(resolve));

export class Generation implements AsyncIterableIterator<GeneratedToken> {
  /** the prompt's token ids */
  readonly promptTokens: readonly number[];
  /** the prompt decoded the way the output will be (for echoing it) */
  readonly promptText: string;
  /** set once the iteration has finished */
  stats: GenerationStats | undefined;
  private readonly it: AsyncGenerator<GeneratedToken, void, undefined>;

  constructor(model: LlamaModel, tokenizer: Tokenizer, prompt: string | readonly number[], opts: GenerateOptions) {
    const ids = typeof prompt === 'string' ? tokenizer.encode(prompt, opts.addBos !== undefined ? { addBos: opts.addBos } : {}) : [...prompt];
    this.promptTokens = ids;
    const decoder = tokenizer.streamDecoder();
    this.promptText = ids.map((id) => decoder.push(id)).join('');
    this.it = this.run(model, tokenizer, decoder, opts);
  }

  next(): Promise<IteratorResult<GeneratedToken>> {
    return this.it.next();
  }

  return(): Promise<IteratorResult<GeneratedToken>> {
    return this.it.return(undefined);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Run to the end and return the generated text. */
  async text(): Promise<string> {
    let s = '';
    for await (const t of this) s += t.text;
    return s;
  }

  private async *run(model: LlamaModel, tokenizer: Tokenizer, decoder: ReturnType<Tokenizer['streamDecoder']>, o: GenerateOptions): AsyncGenerator<GeneratedToken, void, undefined> {
    const checkAbort = () => {
      if (o.signal?.aborted) throw new LlamaError('CANCELLED', 'generation was cancelled');
    };
    const session = o.session ?? model.newSession({ ...(o.ctxSize !== undefined ? { ctxSize: o.ctxSize } : {}), ...(o.kvType !== undefined ? { kvType: o.kvType } : {}) });
    const prompt = this.promptTokens;
    const V = model.config.vocabSize;
    if (prompt.length === 0) throw new LlamaError('USAGE', 'the prompt is empty and the tokenizer adds no BOS', { hint: 'give a prompt, or let the tokenizer add BOS' });
    // Generating N tokens forwards N-1 of them: the last one sampled never needs a position.
    const room = session.ctxSize - session.pos - prompt.length + 1;
    if (room < 1 || (o.maxTokens !== undefined && o.maxTokens > room)) {
      const want = session.pos + prompt.length + (o.maxTokens ?? 1) - 1;
      throw new LlamaError('CONTEXT_OVERFLOW', `the prompt (${prompt.length} tokens${session.pos ? ` after ${session.pos} already in the session` : ''}) plus ${o.maxTokens ?? 1} generated tokens needs ${want} positions, the context has ${session.ctxSize}`, {
        hint: `pass a larger --ctx-size (the model was trained for ${model.config.contextLength} positions), or shorten the prompt or -n`,
      });
    }
    const maxTokens = Math.min(o.maxTokens ?? Infinity, room);
    const sampler = o.sampler ?? createSampler(o);
    const endIds = new Set<number>(o.ignoreEog ? [] : [...tokenizer.eogIds, ...(o.stopTokens ?? [])]);
    const stops = new StopMatcher(o.stop ?? []);
    const wantLogprobs = o.logprobs === true || (o.topLogprobs ?? 0) > 0;

    // prefill
    checkAbort();
    const t0 = performance.now();
    const batch = Math.max(1, o.prefillBatch ?? 512);
    let logits: Float32Array = new Float32Array(0);
    for (let i = 0; i < prompt.length; i += batch) {
      logits = model.forward(session, prompt.slice(i, i + batch));
      await nextTick();
      checkAbort();
    }
    for (const id of prompt) sampler.accept(id);
    const t1 = performance.now();

    let generated = 0;
    let finishReason: FinishReason = 'length';
    const finish = (t2: number) => {
      const promptMs = t1 - t0;
      const generateMs = t2 - t1;
      this.stats = {
        promptTokens: prompt.length,
        promptMs,
        promptTokensPerSec: promptMs > 0 ? (prompt.length * 1000) / promptMs : 0,
        generatedTokens: generated,
        generateMs,
        generatedTokensPerSec: generateMs > 0 ? (generated * 1000) / generateMs : 0,
        finishReason,
      };
    };
    try {
      while (generated < maxTokens) {
        const row = logits.subarray(0, V); // (vocab)
        const token = sampler.sample(row);
        generated++;
        sampler.accept(token);
        if (endIds.has(token)) {
          finishReason = 'eos';
          break;
        }
        const item: GeneratedToken = { token, text: '' };
        if (wantLogprobs) Object.assign(item, logprobsOf(row, token, o.topLogprobs ?? 0));
        const r = stops.push(decoder.push(token));
        item.text = r.text;
        if (r.stopped) {
          finishReason = 'stop';
          yield item;
          break;
        }
        const last = generated === maxTokens;
        if (last) {
          finishReason = maxTokens === o.maxTokens ? 'length' : 'context';
          item.text += stops.push(decoder.flush()).text + stops.flush();
        }
        yield item;
        if (last) break;
        checkAbort();
        logits = model.forward(session, [token]);
        await nextTick();
        checkAbort();
      }
      if (finishReason === 'eos') {
        const rest = stops.push(decoder.flush()).text + stops.flush();
        if (rest) yield { token: -1, text: rest };
      }
    } finally {
      finish(performance.now());
    }
  }
}

/** Generate from `prompt` (text, or token ids used as they are). */
export function generate(model: LlamaModel, tokenizer: Tokenizer, prompt: string | readonly number[], opts: GenerateOptions = {}): Generation {
  return new Generation(model, tokenizer, prompt, opts);
}

/** log-softmax of one row of logits at `token`, and the `top` best alternatives. */
export function logprobsOf(logits: ArrayLike<number>, token: number, top: number): { logprob: number; topLogprobs?: TokenLogprob[] } {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! - max);
  const logZ = max + Math.log(sum);
  const out: { logprob: number; topLogprobs?: TokenLogprob[] } = { logprob: logits[token]! - logZ };
  if (top > 0) {
    const best: TokenLogprob[] = [];
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
