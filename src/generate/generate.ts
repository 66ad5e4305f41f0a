// Text generation as an async iterator: prompt -> prefill -> (sample, decode, check stops, forward)*.
// The CLI (`llama run`) and the library are thin consumers of this one loop.
//
//   const gen = generate(model, tokenizer, 'Once upon a time', { maxTokens: 50, temperature: 0 });
//   for await (const { text } of gen) process.stdout.write(text);
//   console.error(gen.stats);
//
// Every yielded item is one sampled token with the text it completed. `text` may be '' (half of a
// UTF-8 character, or text held back because it could begin a stop string). End-of-generation
// tokens are not yielded. If text is still held back when generation ends, one last item with
// token -1 carries it.
//
// Errors the caller can cause (bad options, a prompt that does not fit, token ids outside the
// model's vocabulary) are found before any work: `gen.check()` throws them at once (the CLI calls it
// before echoing the prompt), otherwise the first `next()` does.
import type { LlamaModel } from '../model/llama.js';
import type { Session } from '../model/kv-cache.js';
import type { DType } from '../tensor/dtype.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { LlamaError } from '../errors.js';
import { nextMacrotask } from '../platform/macrotask.js';
import { DEFAULT_CTX_CAP } from '../model/kv-cache.js';
import { checkOption, createSampler, validateSamplingOptions, type OptionNames, type SamplerChain, type SamplingOptions } from './sampler.js';
import { TokenStepper, logprobsOf } from './token-stepper.js';

export { logprobsOf };

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

/**
 * Why generation ended: an end-of-generation token, a stop string, maxTokens, a full context,
 * `break` out of the loop or an abort ('cancelled'; an abort still throws CANCELLED), or an error.
 */
export type FinishReason = 'eos' | 'stop' | 'length' | 'context' | 'cancelled' | 'error';

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
  /** tokens to generate at most (0 = none); default (or -1): until an end token or the context is full */
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
  /**
   * Continue an existing session (chat); default: a fresh one. Every token sampled (the last one,
   * an end token, and the one that completed a stop string included) is put in the session's KV
   * cache before generation returns, so `session.tokens` holds the whole conversation, and the next
   * call continues exactly as one pass over the same tokens would. Only when the context is full
   * does the last token stay out (it has no position left).
   */
  session?: Session;
  ctxSize?: number;
  kvType?: DType;
  /** prepend BOS when the prompt is text; default: the tokenizer's own default for an empty session, false when continuing one */
  addBos?: boolean;
  logprobs?: boolean;
  /** how many alternatives to report per token (implies logprobs) */
  topLogprobs?: number;
  /** prompt tokens per forward call (the loop yields to the event loop between them); default 512 */
  prefillBatch?: number;
  /**
   * Called when the session is full and a sampled token still needs a position: it must free some
   * (a context shift, see api/session.ts), and generation goes on instead of ending with 'context'.
   * With it, maxTokens may exceed the room left (the prompt itself must still fit).
   */
  onContextFull?: (session: Session) => void | Promise<void>;
}

/**
 * Validate every generation option (the sampling ones included unless a ready `sampler` is given):
 * a USAGE error naming the option (by `names`, e.g. the CLI's flag) and its allowed range.
 */
export function validateGenerateOptions(o: GenerateOptions, names: OptionNames = {}): void {
  if (o === null || typeof o !== 'object') throw new LlamaError('USAGE', 'generate options must be an object');
  if (o.sampler === undefined) validateSamplingOptions(o, names);
  const c = (key: keyof GenerateOptions, range: string, ok: (v: number) => boolean) => checkOption(names, key, o[key], range, ok);
  c('maxTokens', 'a whole number >= 0, or -1 for no limit', (v) => Number.isSafeInteger(v) && v >= -1);
  c('ctxSize', 'a whole number >= 1', (v) => Number.isSafeInteger(v) && v >= 1);
  c('topLogprobs', 'a whole number >= 0', (v) => Number.isSafeInteger(v) && v >= 0);
  c('prefillBatch', 'a whole number >= 1', (v) => Number.isSafeInteger(v) && v >= 1);
  if (o.stop !== undefined && !(Array.isArray(o.stop) && o.stop.every((x) => typeof x === 'string'))) {
    throw new LlamaError('USAGE', `${names.stop ?? 'stop'} must be an array of strings`);
  }
  if (o.stopTokens !== undefined) {
    for (const id of o.stopTokens) {
      if (!(Number.isSafeInteger(id) && id >= 0)) throw new LlamaError('USAGE', `${names.stopTokens ?? 'stopTokens'}: ${String(id)} is not a token id`, { hint: 'token ids are whole numbers >= 0' });
    }
  }
  if (o.addBos !== undefined && typeof o.addBos !== 'boolean') throw new LlamaError('USAGE', `${names.addBos ?? 'addBos'} must be true or false`);
}

const nextTick = nextMacrotask;

export class Generation implements AsyncIterableIterator<GeneratedToken> {
  /** the prompt's token ids */
  readonly promptTokens: readonly number[];
  /** the prompt decoded the way the output will be (for echoing it) */
  readonly promptText: string;
  /** set once the iteration has finished */
  stats: GenerationStats | undefined;
  private readonly it: AsyncGenerator<GeneratedToken, void, undefined>;
  /** what the up-front checks found wrong (thrown by check() and by the first next()) */
  private readonly setupError: unknown;

  constructor(model: LlamaModel, tokenizer: Tokenizer, prompt: string | readonly number[], opts: GenerateOptions) {
    let setupError: unknown;
    let ids: number[] = [];
    try {
      validateGenerateOptions(opts);
      // Continuing a session: the prompt goes after what is there, so no BOS in the middle.
      const addBos = opts.addBos ?? (opts.session !== undefined && opts.session.pos > 0 ? false : undefined);
      ids = typeof prompt === 'string' ? tokenizer.encode(prompt, addBos !== undefined ? { addBos } : {}) : [...prompt];
      checkPrompt(model, ids, opts);
    } catch (e) {
      setupError = e;
    }
    this.setupError = setupError;
    this.promptTokens = ids;
    const decoder = tokenizer.streamDecoder();
    this.promptText = setupError === undefined ? ids.map((id) => decoder.push(id)).join('') : '';
    this.it = this.run(model, tokenizer, decoder, opts);
  }

  /** Throw now what would make the generation fail before its first token (bad options, prompt too long, ...). */
  check(): this {
    if (this.setupError !== undefined) throw this.setupError;
    return this;
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
    this.check();
    const checkAbort = () => {
      if (o.signal?.aborted) throw new LlamaError('CANCELLED', 'generation was cancelled');
    };
    const session = o.session ?? model.newSession({ ...(o.ctxSize !== undefined ? { ctxSize: o.ctxSize } : {}), ...(o.kvType !== undefined ? { kvType: o.kvType } : {}) });
    const prompt = this.promptTokens;
    const V = model.config.vocabSize;
    // Generating N tokens forwards N-1 of them: the last one sampled never needs a position.
    const room = session.ctxSize - session.pos - prompt.length + 1;
    const limit = o.maxTokens === undefined || o.maxTokens < 0 ? undefined : o.maxTokens;
    const maxTokens = o.onContextFull ? (limit ?? Infinity) : Math.min(limit ?? Infinity, room);
    const ownSampler = o.sampler === undefined;
    const sampler = o.sampler ?? createSampler(o);
    const endIds = new Set<number>(o.ignoreEog ? [] : [...tokenizer.eogIds, ...(o.stopTokens ?? [])]);
    const wantLogprobs = o.logprobs === true || (o.topLogprobs ?? 0) > 0;

    // prefill
    checkAbort();
    const t0 = performance.now();
    const batch = Math.max(1, o.prefillBatch ?? 512);
    let logits: Float32Array = new Float32Array(0);
    // penalties see the conversation so far, as they would in one pass over it
    if (ownSampler) for (const id of session.tokens) sampler.accept(id);
    try {
      for (let i = 0; i < prompt.length; i += batch) {
        // with a signal, the pass itself yields between layers: Ctrl-C stops a long prefill promptly
        if (o.signal) logits = await model.forwardAsync(session, prompt.slice(i, i + batch), { signal: o.signal });
        else logits = model.forward(session, prompt.slice(i, i + batch));
        await nextTick();
        checkAbort();
      }
    } catch (e) {
      // stopped (or failed) in the prefill: the stats still say so
      const now = performance.now();
      this.finish(prompt.length, 0, t0, now, now, e instanceof LlamaError && e.code === 'CANCELLED' ? 'cancelled' : 'error');
      throw e;
    }
    // one sequence's sampling, stop strings and budget: the step machine the server drives too
    const stepper = new TokenStepper(tokenizer, { sampler, maxTokens, cappedByContext: maxTokens !== limit, stop: o.stop ?? [], endIds, logprobs: wantLogprobs, topLogprobs: o.topLogprobs ?? 0, decoder }, prompt);
    const t1 = performance.now();

    /** the last sampled token while it is not yet in the KV cache */
    let unforwarded: number | undefined;
    // Each decode step's logits go into this one row: the step machine has consumed the row (the
    // sampler copies it) before the next step writes it, and a fresh vocabulary-wide array every
    // token (128-512 KB, zero-filled, then garbage) cost a golden tiny model 3-10% of its decode.
    const row = new Float32Array(V);
    let failed = false;
    try {
      while (!stepper.done) {
        const r = stepper.step(logits.subarray(0, V)); // (vocab)
        unforwarded = r.token;
        if (r.item) yield r.item;
        if (r.finished) break;
        checkAbort();
        if (session.pos >= session.ctxSize && o.onContextFull) {
          await o.onContextFull(session);
          if (session.pos >= session.ctxSize) throw new LlamaError('INTERNAL', 'onContextFull freed no position');
        }
        logits = model.forward(session, [r.token], { into: row });
        unforwarded = undefined;
        await nextTick();
        checkAbort();
      }
    } catch (e) {
      if (!(e instanceof LlamaError && e.code === 'CANCELLED')) failed = true;
      throw e;
    } finally {
      // no reason decided: the consumer broke out of the loop, or the signal aborted it
      this.finish(prompt.length, stepper.generated, t0, t1, performance.now(), failed ? 'error' : stepper.finishReason ?? 'cancelled');
      // A caller's session holds every token sampled, so that it can be continued (see `session`).
      if (o.session !== undefined && unforwarded !== undefined && !failed && session.pos < session.ctxSize) model.forward(session, [unforwarded]);
    }
  }

  private finish(promptTokens: number, generated: number, t0: number, t1: number, t2: number, finishReason: FinishReason): void {
    const promptMs = t1 - t0;
    const generateMs = t2 - t1;
    this.stats = {
      promptTokens,
      promptMs,
      promptTokensPerSec: promptMs > 0 ? (promptTokens * 1000) / promptMs : 0,
      generatedTokens: generated,
      generateMs,
      generatedTokensPerSec: generateMs > 0 ? (generated * 1000) / generateMs : 0,
      finishReason,
    };
  }
}

/** The checks that need no computation: a non-empty prompt of known token ids that fits the context. */
function checkPrompt(model: LlamaModel, ids: readonly number[], o: GenerateOptions): void {
  if (ids.length === 0) throw new LlamaError('USAGE', 'the prompt is empty and the tokenizer adds no BOS', { hint: 'give a prompt, or let the tokenizer add BOS' });
  const V = model.config.vocabSize;
  for (const id of ids) {
    if (!(Number.isInteger(id) && id >= 0 && id < V)) {
      throw new LlamaError('TOKEN_ID', `prompt token id ${id} is outside the model's vocabulary (0..${V - 1})`, {
        hint: 'the tokenizer does not match this model: pass the tokenizer the model was trained with (--tokenizer), or check the token ids',
      });
    }
  }
  const session = o.session;
  const ctxSize = session?.ctxSize ?? o.ctxSize ?? Math.min(model.config.contextLength, DEFAULT_CTX_CAP);
  const pos = session?.pos ?? 0;
  const limit = o.maxTokens === undefined || o.maxTokens < 0 ? undefined : o.maxTokens;
  // Generating N tokens forwards N-1 of them: the last one sampled never needs a position.
  const room = ctxSize - pos - ids.length + 1;
  if (room < 1 || (limit !== undefined && limit > room && !o.onContextFull)) {
    const want = pos + ids.length + Math.max(limit ?? 1, 1) - 1;
    throw new LlamaError('CONTEXT_OVERFLOW', `the prompt (${ids.length} tokens${pos ? ` after ${pos} already in the session` : ''}) plus ${limit ?? 1} generated tokens needs ${want} positions, the context has ${ctxSize}`, {
      hint: `pass a larger --ctx-size (the model was trained for ${model.config.contextLength} positions), or shorten the prompt or -n`,
    });
  }
}

/** Generate from `prompt` (text, or token ids used as they are). */
export function generate(model: LlamaModel, tokenizer: Tokenizer, prompt: string | readonly number[], opts: GenerateOptions = {}): Generation {
  return new Generation(model, tokenizer, prompt, opts);
}
