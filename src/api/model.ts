// Model: what openModel returns, the one object the CLI, the server and the evaluator use. It holds
// the weights on a backend, the tokenizer, the chat format and the generation defaults, and hands
// out Sequences (KV caches). Generation is generate()'s loop over a Sequence; this file only
// decides which tokens go in and which options apply.
import { LlamaError } from '../errors.js';
import type { LlamaModel, ForwardOptions } from '../model/llama.js';
import type { LoadedModel } from '../model/loaded.js';
import type { LlamaConfig } from '../model/config.js';
import { DEFAULT_CTX_CAP } from '../model/kv-cache.js';
import type { DType } from '../tensor/dtype.js';
import type { Tokenizer, EncodeOptions } from '../tokenizer/tokenizer.js';
import { generate, type Generation, type GenerateOptions } from '../generate/generate.js';
import { createSampler } from '../generate/sampler.js';
import { grammarSampler, parseGbnf, responseFormatToGrammar, withGrammar, type Grammar, type ResponseFormat } from '../generate/grammar/index.js';
import { Sequence, commonPrefix, type ContextShiftOptions } from './session.js';
import type { ChatFormat, ChatMessage } from './template.js';
import type { GenerationDefaults } from './defaults.js';
import { ChatSession, watchReply, type ChatSessionOptions } from './chat-session.js';
import { embedTexts, type EmbedOptions } from './embed.js';
import { detachLora } from '../model/lora.js';

export interface SequenceOptions {
  /** positions (default: the model's ctxSize option, else min(model context, 4096)) */
  ctxSize?: number;
  kvType?: DType;
}

/** complete()/chat() options: generate()'s, plus structured output and what to do when the context is full. */
export interface CompleteOptions extends Omit<GenerateOptions, 'session' | 'ctxSize' | 'kvType' | 'onContextFull'>, ContextShiftOptions {
  /** continue in this sequence, reusing its cache for the longest common prefix of the prompt */
  sequence?: Sequence;
  /** a GBNF grammar (text or parsed) the output must match */
  grammar?: string | Grammar;
  /** structured output: { type: 'json_schema', schema } or { type: 'json_object' } */
  responseFormat?: ResponseFormat;
}

export interface ForwardBatchItem {
  readonly sequence: Sequence;
  readonly tokens: readonly number[];
  /** every row's output for this item, not only the last (default: the call's allLogits) */
  readonly allLogits?: boolean;
}

export interface ModelParts {
  path: string;
  loaded: LoadedModel;
  /** the model every forward pass uses (the base model, or the base with LoRA adapters attached) */
  llama: LlamaModel;
  /** the base model when adapters are attached (its weights are what dispose frees) */
  base?: LlamaModel;
  tokenizer: Tokenizer;
  chatFormat: ChatFormat;
  defaults: GenerationDefaults;
  ctxSize?: number;
  kvType: DType;
}

export class Model {
  readonly path: string;
  readonly tokenizer: Tokenizer;
  readonly chatTemplate: ChatFormat;
  readonly defaults: GenerationDefaults;
  /** the transformer itself (forward passes); shared by every sequence */
  readonly llama: LlamaModel;
  private readonly loaded: LoadedModel;
  private readonly base: LlamaModel;
  private readonly ctxSize: number;
  private readonly kvType: DType;
  private disposed = false;

  constructor(p: ModelParts) {
    this.path = p.path;
    this.loaded = p.loaded;
    this.llama = p.llama;
    this.base = p.base ?? p.llama;
    this.tokenizer = p.tokenizer;
    this.chatTemplate = p.chatFormat;
    this.defaults = p.defaults;
    this.ctxSize = p.ctxSize ?? Math.min(p.llama.config.contextLength, DEFAULT_CTX_CAP);
    this.kvType = p.kvType;
  }

  get config(): LlamaConfig {
    return this.llama.config;
  }
  get format(): string {
    return this.loaded.format;
  }
  get backendName(): string {
    return this.llama.backend.name;
  }
  /** GGUF metadata, config.json, params.json or the llama2.c header */
  get metadata(): Readonly<Record<string, unknown>> {
    return this.loaded.metadata;
  }

  /** @internal throws once the model was disposed */
  live(): void {
    if (this.disposed) throw new LlamaError('USAGE', 'this model was disposed', { hint: 'open it again with openModel' });
  }

  tokenize(text: string, opts: EncodeOptions = {}): number[] {
    this.live();
    if (typeof text !== 'string') throw new LlamaError('USAGE', 'tokenize needs a string');
    return this.tokenizer.encode(text, opts);
  }

  detokenize(ids: readonly number[], opts: { renderSpecial?: boolean } = {}): string {
    this.live();
    for (const id of ids) {
      if (!(Number.isSafeInteger(id) && id >= 0 && id < this.tokenizer.vocabSize)) throw new LlamaError('TOKEN_ID', `token id ${id} is outside the vocabulary (0..${this.tokenizer.vocabSize - 1})`);
    }
    return this.tokenizer.decode(ids, opts);
  }

  /** A new KV cache (one conversation / one server slot). */
  createSequence(opts: SequenceOptions = {}): Sequence {
    this.live();
    return new Sequence(this.llama, this.llama.newSession({ ctxSize: opts.ctxSize ?? this.ctxSize, kvType: opts.kvType ?? this.kvType }));
  }

  /** One forward pass over several sequences at once (see LlamaModel.forwardBatch); one result per item. */
  forwardBatch(items: readonly ForwardBatchItem[], opts: ForwardOptions = {}): Float32Array[] {
    this.live();
    if (!Array.isArray(items)) throw new LlamaError('USAGE', 'forwardBatch needs an array of { sequence, tokens }');
    for (const it of items) {
      if (!(it?.sequence instanceof Sequence && it.sequence.model === this.llama)) throw new LlamaError('USAGE', 'forwardBatch: every sequence must come from this model\'s createSequence()');
      if (!Array.isArray(it.tokens)) throw new LlamaError('USAGE', 'forwardBatch: tokens must be an array of token ids');
    }
    return this.llama.forwardBatch(items.map((it) => ({ session: it.sequence.session, tokens: it.tokens, ...(it.allLogits !== undefined ? { allLogits: it.allLogits } : {}) })), opts);
  }

  /**
   * Generate a continuation of `prompt` (text, or token ids used as they are). With `sequence`, the
   * prompt is the whole text of that sequence: only what differs from its cache is evaluated.
   * When the context is full: 'refuse' (the default here; CONTEXT_OVERFLOW for a prompt that does
   * not fit, finish reason 'context' when the output fills it) or 'shift'.
   */
  complete(prompt: string | readonly number[], opts: CompleteOptions = {}): Generation {
    this.live();
    const ids = typeof prompt === 'string' ? this.tokenize(prompt, opts.addBos !== undefined ? { addBos: opts.addBos } : {}) : [...prompt];
    return this.generateIn(ids, opts, 'refuse');
  }

  /** Reply to a conversation in the model's chat format (a fresh sequence unless `sequence` is given). */
  chat(messages: readonly ChatMessage[], opts: CompleteOptions = {}): Generation {
    this.live();
    validateMessages(messages);
    const ids = this.chatTemplate.encode(messages, true);
    const system = systemPromptTokens(this.chatTemplate, messages, ids);
    // the format's stop strings end free text; structured output ends where its grammar does
    const constrained = opts.grammar !== undefined || (opts.responseFormat !== undefined && opts.responseFormat.type !== 'text');
    const stop = [...(constrained ? [] : this.chatTemplate.stop), ...(opts.stop ?? [])];
    return watchReply(this.generateIn(ids, { ...opts, nKeep: opts.nKeep ?? system, stop, stopTokens: chatStopTokens(this, opts.stopTokens) }, 'shift'), () => {});
  }

  /** A conversation that keeps its KV cache between turns (each turn evaluates only its new tokens). */
  createChat(opts: ChatSessionOptions = {}): ChatSession {
    this.live();
    return new ChatSession(this, opts);
  }

  /** Hidden states after the final norm, pooled per text (batched; equal to one text at a time). */
  async embed(texts: readonly string[], opts: EmbedOptions = {}): Promise<Float32Array[]> {
    this.live();
    return embedTexts(this.llama, this.tokenizer, texts, opts);
  }

  /** @internal the generation behind complete(), chat() and ChatSession.send() */
  generateIn(ids: number[], opts: CompleteOptions, defaultPolicy: 'shift' | 'refuse'): Generation {
    if (opts === null || typeof opts !== 'object') throw new LlamaError('USAGE', 'options must be an object');
    const { sequence, grammar, responseFormat, contextShift, nKeep: nKeepOpt, ...rest } = opts;
    const policy = contextShift ?? defaultPolicy;
    if (policy !== 'shift' && policy !== 'refuse') throw new LlamaError('USAGE', `contextShift must be 'shift' or 'refuse', got ${JSON.stringify(policy)}`);
    if (nKeepOpt !== undefined && !(Number.isSafeInteger(nKeepOpt) && nKeepOpt >= 0)) throw new LlamaError('USAGE', `nKeep must be a whole number >= 0, got ${String(nKeepOpt)}`);
    if (sequence !== undefined && !(sequence instanceof Sequence && sequence.model === this.llama)) throw new LlamaError('USAGE', 'sequence must come from this model\'s createSequence()');
    const seq = sequence ?? this.createSequence();
    const nKeep = nKeepOpt ?? (ids[0] !== undefined && ids[0] === this.tokenizer.bosId ? 1 : 0);
    let tokens = ids;
    if (policy === 'shift' && tokens.length + 1 > seq.ctxSize) tokens = seq.fit(tokens, Math.min(seq.ctxSize >> 2, 256), nKeep);
    const options: GenerateOptions = { ...this.defaults, ...rest, session: seq.session };
    delete (options as { source?: string }).source;
    const g = grammar !== undefined ? (typeof grammar === 'string' ? parseGbnf(grammar) : grammar) : responseFormatToGrammar(responseFormat);
    const evaluate = seq.prepare(tokens);
    if (g !== undefined && rest.sampler === undefined) {
      const chain = withGrammar(createSampler(options), grammarSampler(g, this.tokenizer, { endTokens: rest.stopTokens ?? [] }));
      for (const id of seq.tokens) chain.accept(id); // penalties see the history, as generate() does for its own chain
      options.sampler = chain;
    }
    if (policy === 'shift') options.onContextFull = () => seq.shift(nKeep, rest.signal);
    return generate(this.llama, this.tokenizer, evaluate, options);
  }

  /** Free the weights and close the files; every later call throws USAGE. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    if (this.base !== this.llama) detachLora(this.llama); // the adapters' weights
    const B = this.base.backend;
    if (B.freeWeight) {
      const P = this.base.params;
      const seen = new Set([P.tokEmbeddings, P.output, ...P.layers.flatMap((L) => [L.wq, L.wk, L.wv, L.wo, L.w1, L.w2, L.w3])]);
      for (const w of seen) B.freeWeight(w);
    }
    this.loaded.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}

export function validateMessages(messages: readonly ChatMessage[]): void {
  if (!Array.isArray(messages)) throw new LlamaError('USAGE', 'messages must be an array of { role, content }');
  messages.forEach((m, i) => {
    if (m === null || typeof m !== 'object' || typeof m.role !== 'string' || typeof m.content !== 'string') {
      throw new LlamaError('USAGE', `message ${i} must be { role: string, content: string }`);
    }
    if (!['system', 'user', 'assistant'].includes(m.role)) throw new LlamaError('USAGE', `message ${i} has role '${m.role}'`, { hint: 'roles: system, user, assistant' });
  });
}

/**
 * A reply also ends at BOS: a base model trained on documents separated by BOS samples it to start
 * a new document, which in a chat means the turn is over (llama2.c's run.c stops there too).
 */
export function chatStopTokens(model: Model, extra: Iterable<number> | undefined): number[] {
  const ids = [...(extra ?? [])];
  const bos = model.tokenizer.bosId;
  if (bos !== undefined && !model.tokenizer.eogIds.has(bos)) ids.push(bos);
  return ids;
}

/**
 * How many of `ids` (the rendered conversation) belong to its system prompt: the tokens a context
 * shift keeps. A template that cannot render the system message alone keeps just what it shares
 * with the conversation's start, i.e. at least nothing is assumed.
 */
export function systemPromptTokens(format: ChatFormat, messages: readonly ChatMessage[], ids: readonly number[]): number {
  if (messages[0]?.role !== 'system') return ids[0] !== undefined && ids[0] === format.bosId ? 1 : 0;
  try {
    return commonPrefix(format.encode([messages[0]], false), ids);
  } catch {
    return ids[0] !== undefined && ids[0] === format.bosId ? 1 : 0; // e.g. a template that insists on a user turn
  }
}
