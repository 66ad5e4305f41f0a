// Chat templates: a model's own Jinja template (GGUF `tokenizer.chat_template`, HF
// `tokenizer_config.json`) rendered by a real Jinja engine (@huggingface/jinja), with the context
// transformers' apply_chat_template gives it (messages, add_generation_prompt, bos_token,
// eos_token, raise_exception, strftime_now).
//
// The rendering also says which characters came from the template and which from the messages'
// content (`segments`), so that special tokens are parsed only in the template's text: a user who
// types `<|eot_id|>` or `[INST]` gets those characters, not the control tokens. To find the
// content, the template is rendered a second time with each message's content replaced by a
// private-use sentinel; the real rendering is then aligned against it (a template may strip or
// trim the content, so the aligner tries those forms too).
import { Template } from '@huggingface/jinja';
import { LlamaError } from '../errors.js';

import type { ChatMessage } from '../tokenizer/chat.js';
export type { ChatMessage };

export interface RenderOptions {
  /** end with the opening of an assistant turn (default true) */
  addGenerationPrompt?: boolean;
  bosToken?: string;
  eosToken?: string;
  /** extra template variables (e.g. date_string) */
  extra?: Readonly<Record<string, unknown>>;
}

/** A run of rendered text: `fromTemplate` false = characters of a message's content. */
export interface ChatSegment {
  text: string;
  fromTemplate: boolean;
}

export interface RenderedChat {
  text: string;
  segments: ChatSegment[];
}

export interface ChatTemplate {
  readonly name: string;
  /** the Jinja source */
  readonly source: string | undefined;
  render(messages: readonly ChatMessage[], opts?: RenderOptions): RenderedChat;
}

// Private-use code points: never produced by templates, and no tokenizer merges across them.
const SENTINEL_OPEN = '\uE000';
const SENTINEL_CLOSE = '\uE001';
const sentinel = (i: number) => `${SENTINEL_OPEN}${i}${SENTINEL_CLOSE}`;
const SENTINEL_RE = /\uE000(\d+)\uE001/g;

/** A Jinja chat template. */
export class JinjaChatTemplate implements ChatTemplate {
  private readonly tpl: Template;
  private systemSupport: boolean | undefined;

  constructor(readonly source: string, readonly name = 'jinja') {
    try {
      this.tpl = new Template(source);
    } catch (e) {
      throw new LlamaError('CHAT_TEMPLATE', `the chat template does not parse: ${(e as Error).message}`, { hint: 'check the template text (llama template --template FILE shows how it renders), or pass --chat-template with a built-in format' });
    }
  }

  /** Render to text only (no segments); throws CHAT_TEMPLATE on template errors. */
  renderText(messages: readonly ChatMessage[], opts: RenderOptions = {}): string {
    const base: Record<string, unknown> = {
      messages: messages.map((m) => ({ ...m })),
      add_generation_prompt: opts.addGenerationPrompt ?? true,
      bos_token: opts.bosToken ?? '',
      eos_token: opts.eosToken ?? '',
      // raise_exception and strftime_now are the engine's own globals (as in transformers)
      ...opts.extra,
    };
    // Tool-calling templates loop over `tools` (or read `functions`, `datetime`) that transformers
    // callers always pass; when the plain context fails, retry with those set to "no tools", as
    // llama.cpp's template runner does. The first context that renders wins, so a template that
    // works without them is never changed by them.
    let first: unknown;
    for (const extra of this.fallbackContexts) {
      try {
        return this.tpl.render({ ...extra, ...base });
      } catch (e) {
        first ??= e;
      }
    }
    throw new LlamaError('CHAT_TEMPLATE', `the chat template failed on this conversation: ${(first as Error).message}`, {
      hint: 'a template may set rules on roles and their order (e.g. user/assistant alternating); otherwise pass --chat-template with a built-in format',
    });
  }

  private readonly fallbackContexts: readonly Record<string, unknown>[] = [
    {},
    { tools: [] },
    { tools: [], functions: '', datetime: '', documents: [], builtin_tools: [], tools_in_user_message: false },
  ];

  /**
   * Whether the template renders a system message (llama.cpp's check): a needle in a system
   * message must appear in the output, and the template must not raise.
   */
  get supportsSystemRole(): boolean {
    if (this.systemSupport === undefined) {
      const needle = '<<system needle 7f3a>>';
      try {
        this.systemSupport = this.renderText([{ role: 'system', content: needle }, { role: 'user', content: 'x' }], { bosToken: '<s>', eosToken: '</s>' }).includes(needle);
      } catch {
        this.systemSupport = false;
      }
    }
    return this.systemSupport;
  }

  render(messages: readonly ChatMessage[], opts: RenderOptions = {}): RenderedChat {
    const msgs = this.supportsSystemRole ? messages : foldSystem(messages);
    const text = this.renderText(msgs, opts);
    const marked = this.renderText(msgs.map((m, i) => ({ ...m, content: sentinel(i) })), opts);
    return { text, segments: align(text, marked, msgs) };
  }
}

/** llama.cpp's fallback for templates without a system role: the system text opens the first user turn. */
export function foldSystem(messages: readonly ChatMessage[]): ChatMessage[] {
  const system = messages.filter((m) => m.role === 'system').map((m) => m.content);
  if (system.length === 0) return [...messages];
  const rest = messages.filter((m) => m.role !== 'system');
  const i = rest.findIndex((m) => m.role === 'user');
  const prefix = system.join('\n\n');
  if (i < 0) return [{ role: 'user', content: prefix }, ...rest];
  return rest.map((m, j) => (j === i ? { ...m, content: `${prefix}\n\n${m.content}` } : m));
}

/** The forms in which a template may write a content string. */
function variants(s: string): string[] {
  return [...new Set([s, s.trim(), s.trimStart(), s.trimEnd()])].sort((a, b) => b.length - a.length);
}

/**
 * Split the real rendering into template and content runs, using the sentinel rendering as the
 * map. Falls back to locating each content in order when the two renderings do not line up (a
 * template that branches on the content itself).
 */
function align(text: string, marked: string, msgs: readonly ChatMessage[]): ChatSegment[] {
  const parts: ({ t: string } | { i: number })[] = [];
  let last = 0;
  for (const m of marked.matchAll(SENTINEL_RE)) {
    parts.push({ t: marked.slice(last, m.index) });
    parts.push({ i: Number(m[1]) });
    last = m.index! + m[0].length;
  }
  parts.push({ t: marked.slice(last) });
  const out: ChatSegment[] = [];
  const push = (s: string, fromTemplate: boolean) => {
    if (s === '') return;
    const prev = out[out.length - 1];
    if (prev && prev.fromTemplate === fromTemplate) prev.text += s;
    else out.push({ text: s, fromTemplate });
  };
  // depth-first over the content variants, so a strip() in one place and not another still aligns
  const walk = (k: number, pos: number): boolean => {
    if (k === parts.length) return pos === text.length;
    const p = parts[k]!;
    if ('t' in p) {
      if (!text.startsWith(p.t, pos)) return false;
      const n = out.length;
      push(p.t, true);
      if (walk(k + 1, pos + p.t.length)) return true;
      out.length = n;
      return false;
    }
    const content = msgs[p.i]?.content ?? '';
    for (const v of variants(content)) {
      if (!text.startsWith(v, pos)) continue;
      const saved = out.map((s) => ({ ...s }));
      push(v, false);
      if (walk(k + 1, pos + v.length)) return true;
      out.length = 0;
      out.push(...saved);
    }
    return false;
  };
  if (walk(0, 0)) return out;
  // fallback: each message's content, in order, where it occurs
  out.length = 0;
  let pos = 0;
  for (const m of msgs) {
    for (const v of variants(m.content)) {
      if (v === '') continue;
      const at = text.indexOf(v, pos);
      if (at < 0) continue;
      push(text.slice(pos, at), true);
      push(v, false);
      pos = at + v.length;
      break;
    }
  }
  push(text.slice(pos), true);
  return out;
}
