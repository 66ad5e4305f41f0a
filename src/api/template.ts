// The chat format a model speaks, as the API needs it: messages -> prompt tokens, plus the stop
// strings that end a reply. This file is the only place the API touches chat templates, so that
// the full Jinja implementation (src/chat/, another branch) can replace the interim formats below
// without changing anything else.
//
// Interim formats (chosen by name, or by recognising the model's template text):
//   plain   base models: "{system}\n\nUser: {text}\nAssistant: {reply}\n" (one line per turn; stops at
//           a newline, so every reply is one line)
//   llama2  "<s>[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST] {reply} </s><s>[INST] ..."
//   llama3  Meta's ChatFormat (tokenizer/chat.ts)
//   chatml  "<|im_start|>{role}\n{content}<|im_end|>\n" ... "<|im_start|>assistant\n"
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { LlamaError } from '../errors.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { encodeLlama3Dialog, type ChatMessage } from '../tokenizer/chat.js';

export type { ChatMessage };

export const CHAT_FORMATS = ['plain', 'llama2', 'llama3', 'chatml'] as const;
export type ChatFormatName = (typeof CHAT_FORMATS)[number];

export interface ChatFormat {
  readonly name: string;
  /** the whole conversation as prompt tokens, ending with an open assistant turn when `addGenerationPrompt` */
  encode(messages: readonly ChatMessage[], addGenerationPrompt: boolean): number[];
  /** strings that end a reply besides the tokenizer's end tokens */
  readonly stop: readonly string[];
}

/** The template text shipped with a model: GGUF tokenizer.chat_template, else tokenizer_config.json beside it. */
export function readChatTemplateSource(modelPath: string, metadata: Readonly<Record<string, unknown>>): string | undefined {
  const inGguf = metadata['tokenizer.chat_template'];
  if (typeof inGguf === 'string') return inGguf;
  const dir = existsSync(join(modelPath, 'tokenizer_config.json')) ? modelPath : dirname(modelPath);
  const cfg = join(dir, 'tokenizer_config.json');
  if (!existsSync(cfg)) return undefined;
  try {
    const t = (JSON.parse(readFileSync(cfg, 'utf8')) as { chat_template?: unknown }).chat_template;
    return typeof t === 'string' ? t : undefined;
  } catch {
    return undefined;
  }
}

/** Which interim format a template text stands for. */
function recognise(source: string | undefined): ChatFormatName {
  if (source === undefined) return 'plain';
  if (source.includes('<|start_header_id|>')) return 'llama3';
  if (source.includes('<|im_start|>')) return 'chatml';
  if (source.includes('[INST]')) return 'llama2';
  return 'plain';
}

/** The chat format: `override` (a format name) if given, else the one the model's template text stands for. */
export function resolveChatFormat(tokenizer: Tokenizer, source: string | undefined, override?: string): ChatFormat {
  let name: ChatFormatName;
  if (override !== undefined) {
    if (!(CHAT_FORMATS as readonly string[]).includes(override)) {
      throw new LlamaError('USAGE', `unknown chat template '${override}'`, { hint: `choose one of: ${CHAT_FORMATS.join(', ')}` });
    }
    name = override as ChatFormatName;
  } else name = recognise(source);
  return FORMATS[name](tokenizer);
}

const text = (tok: Tokenizer, s: string) => tok.encode(s, { addBos: false, addEos: false });
const bos = (tok: Tokenizer) => (tok.bosId !== undefined && tok.addBosDefault ? [tok.bosId] : []);

const FORMATS: Record<ChatFormatName, (tok: Tokenizer) => ChatFormat> = {
  plain: (tok) => ({
    name: 'plain',
    stop: ['\n'],
    encode(messages, addGenerationPrompt) {
      let s = '';
      for (const m of messages) {
        if (m.role === 'system') s += `${m.content}\n\n`;
        else s += `${m.role === 'user' ? 'User' : 'Assistant'}: ${m.content}\n`;
      }
      if (addGenerationPrompt) s += 'Assistant:';
      return [...bos(tok), ...text(tok, s)];
    },
  }),
  llama2: (tok) => ({
    name: 'llama2',
    stop: [],
    encode(messages, addGenerationPrompt) {
      // Meta's llama/generation.py chat_completion: the system prompt folds into the first user turn
      const out: number[] = [];
      let system = '';
      let pendingUser: string | undefined;
      const flush = (reply: string | undefined) => {
        if (pendingUser === undefined) return;
        const u = system ? `<<SYS>>\n${system}\n<</SYS>>\n\n${pendingUser}` : pendingUser;
        system = '';
        if (tok.bosId !== undefined) out.push(tok.bosId);
        out.push(...text(tok, `[INST] ${u.trim()} [/INST]`));
        if (reply !== undefined) {
          out.push(...text(tok, ` ${reply.trim()} `));
          if (tok.eosId !== undefined) out.push(tok.eosId);
        }
        pendingUser = undefined;
      };
      for (const m of messages) {
        if (m.role === 'system') system = m.content;
        else if (m.role === 'user') {
          flush('');
          pendingUser = m.content;
        } else flush(m.content);
      }
      if (addGenerationPrompt) flush(undefined);
      return out;
    },
  }),
  llama3: (tok) => ({
    name: 'llama3',
    stop: [],
    encode(messages, addGenerationPrompt) {
      const ids = encodeLlama3Dialog(tok, messages);
      if (addGenerationPrompt) return ids;
      // without the open assistant header: drop it (start_header, 'assistant', end_header, '\n\n')
      const header = encodeLlama3Dialog(tok, []).length - 1;
      return ids.slice(0, ids.length - header);
    },
  }),
  chatml: (tok) => ({
    name: 'chatml',
    stop: ['<|im_end|>'],
    encode(messages, addGenerationPrompt) {
      let s = '';
      for (const m of messages) s += `<|im_start|>${m.role}\n${m.content}<|im_end|>\n`;
      if (addGenerationPrompt) s += '<|im_start|>assistant\n';
      return [...bos(tok), ...tok.encode(s, { addBos: false, addEos: false, parseSpecial: true })];
    },
  }),
};
