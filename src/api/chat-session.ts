// ChatSession: a conversation that keeps its KV cache between turns. Each send() renders the whole
// history in the model's chat format and evaluates only the tokens that differ from what the cache
// holds (longest common prefix), so a turn costs its new tokens, and greedy output equals what a
// fresh pass over the same history gives. When the context fills up, it shifts (keeping the system
// prompt) unless told to refuse.
import { readFileSync } from '../platform/fs.js';
import { LlamaError } from '../errors.js';
import { writeFileAtomic } from '../formats/file-io.js';
import { Generation, type GeneratedToken } from '../generate/generate.js';
import type { CompleteOptions, Model } from './model.js';
import { chatStopTokens, systemPromptTokens, validateMessages } from './model.js';
import type { Sequence } from './session.js';
import { resolveChatFormat, type ChatFormat, type ChatMessage } from './template.js';

export interface ChatSessionOptions {
  /** the system prompt (default: none) */
  system?: string;
  /** a chat template for this conversation instead of the model's: a built-in name (docs/chat.md), a Jinja file, or Jinja text */
  template?: string;
  /** KV cache positions for this conversation (default: the model's) */
  ctxSize?: number;
  /** options every send() uses unless it overrides them (sampling, maxTokens, contextShift, ...) */
  defaults?: Omit<CompleteOptions, 'sequence'>;
}

/** What save() writes and load() reads. */
export interface SavedChat {
  format: 'llama-ts-chat';
  version: 1;
  messages: ChatMessage[];
}

export class ChatSession {
  /** the conversation so far (the system prompt first, if any) */
  readonly messages: ChatMessage[] = [];
  readonly sequence: Sequence;
  /** the chat format this conversation is rendered in */
  readonly format: ChatFormat;
  private busy = false;
  private readonly defaults: Omit<CompleteOptions, 'sequence'>;

  constructor(readonly model: Model, opts: ChatSessionOptions = {}) {
    if (opts === null || typeof opts !== 'object') throw new LlamaError('USAGE', 'createChat options must be an object');
    if (opts.system !== undefined && typeof opts.system !== 'string') throw new LlamaError('USAGE', 'system must be a string');
    this.format = opts.template !== undefined ? resolveChatFormat(model.tokenizer, undefined, opts.template) : model.chatTemplate;
    this.sequence = model.createSequence(opts.ctxSize !== undefined ? { ctxSize: opts.ctxSize } : {});
    this.defaults = opts.defaults ?? {};
    if (opts.system) this.messages.push({ role: 'system', content: opts.system });
  }

  get system(): string | undefined {
    return this.messages[0]?.role === 'system' ? this.messages[0].content : undefined;
  }

  /** Replace (or with '' remove) the system prompt; the history stays. */
  setSystem(text: string): void {
    this.idle();
    if (typeof text !== 'string') throw new LlamaError('USAGE', 'the system prompt must be a string');
    if (this.messages[0]?.role === 'system') this.messages.shift();
    if (text) this.messages.unshift({ role: 'system', content: text });
  }

  /** Forget the conversation (the system prompt stays). */
  reset(): void {
    this.idle();
    this.messages.splice(this.system !== undefined ? 1 : 0);
  }

  /**
   * Add a user turn and generate the reply. The reply (what was streamed, even if the caller stopped
   * early or aborted) joins the history when the iteration ends.
   */
  send(text: string, opts: Omit<CompleteOptions, 'sequence'> = {}): Generation {
    this.idle();
    if (typeof text !== 'string') throw new LlamaError('USAGE', 'send needs the user\'s text as a string');
    const format = this.format;
    const history = [...this.messages, { role: 'user', content: text } satisfies ChatMessage];
    const ids = format.encode(history, true);
    // the system prompt's tokens are never shifted out
    const nKeep = systemPromptTokens(format, history, ids);
    const o: CompleteOptions = { nKeep, contextShift: 'shift', ...this.defaults, ...opts, sequence: this.sequence };
    // the format's stop strings end free text; structured output ends where its grammar does
    const constrained = o.grammar !== undefined || (o.responseFormat !== undefined && o.responseFormat.type !== 'text');
    o.stop = [...(constrained ? [] : format.stop), ...(this.defaults.stop ?? []), ...(opts.stop ?? [])];
    o.stopTokens = chatStopTokens(this.model, o.stopTokens);
    const gen = this.model.generateIn(ids, o, 'shift');
    this.messages.push({ role: 'user', content: text });
    this.busy = true;
    watchReply(gen, (reply, err) => {
      if (!this.busy) return;
      this.busy = false;
      // a turn that failed before producing anything (bad options, no room) leaves no trace
      const failed = err !== undefined && !(err instanceof LlamaError && err.code === 'CANCELLED');
      if (failed && reply === '') this.messages.pop();
      else this.messages.push({ role: 'assistant', content: reply.trim() });
    });
    return gen;
  }

  /** The history as JSON (what save() writes). */
  toJSON(): SavedChat {
    return { format: 'llama-ts-chat', version: 1, messages: this.messages.map((m) => ({ role: m.role, content: m.content })) };
  }

  /** Replace the history with a saved one (the cache is reused for whatever prefix still matches). */
  restore(saved: unknown): void {
    this.idle();
    const s = saved as Partial<SavedChat> | null;
    if (s === null || typeof s !== 'object' || s.format !== 'llama-ts-chat' || s.version !== 1) {
      throw new LlamaError('DATA', 'not a saved llama-ts chat (expected {"format": "llama-ts-chat", "version": 1, "messages": [...]})');
    }
    validateMessages(s.messages as ChatMessage[]);
    this.messages.splice(0, this.messages.length, ...s.messages!.map((m) => ({ role: m.role, content: m.content })));
  }

  /** Write the history to `path` (atomically: a temp file renamed over it). */
  save(path: string): void {
    writeFileAtomic(path, [Buffer.from(JSON.stringify(this.toJSON(), null, 2) + '\n', 'utf8')]);
  }

  load(path: string): void {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new LlamaError('FILE_NOT_FOUND', `cannot read the saved chat: ${(e as Error).message}`, { file: path });
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new LlamaError('DATA', `the saved chat is not JSON: ${(e as Error).message}`, { file: path });
    }
    this.restore(json);
  }

  dispose(): void {
    this.sequence.dispose();
  }

  private idle(): void {
    if (this.busy) throw new LlamaError('USAGE', 'a reply is still being generated', { hint: 'finish or stop iterating the previous send() first' });
  }
}

export type { Generation };

/**
 * Watch a reply's items: drop the whitespace a chat format leaves before the reply ("Assistant:"
 * then " Hello"), collect the text, and call `done` once when the iteration ends (finished,
 * stopped early with return(), or failed).
 */
export function watchReply(gen: Generation, done: (reply: string, err?: unknown) => void): Generation {
  const next = gen.next.bind(gen);
  const ret = gen.return.bind(gen);
  let reply = '';
  let finished = false;
  const finish = (err?: unknown) => {
    if (finished) return;
    finished = true;
    done(reply, err);
  };
  gen.next = async (): Promise<IteratorResult<GeneratedToken>> => {
    try {
      const r = await next();
      if (r.done) finish();
      else {
        if (reply === '') r.value.text = r.value.text.replace(/^\s+/, '');
        reply += r.value.text;
      }
      return r;
    } catch (e) {
      finish(e);
      throw e;
    }
  };
  gen.return = async () => {
    try {
      return await ret();
    } finally {
      finish();
    }
  };
  return gen;
}
