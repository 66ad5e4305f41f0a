// The chat format a model speaks, as the API needs it: messages -> prompt tokens, plus the stop
// strings that end a reply. The templates themselves (a model's own Jinja template, or a built-in
// format) live in src/chat/; this adapter fixes the BOS/EOS strings and the tokenizer once, so
// that ChatSession and Model.chat only ask for tokens.
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { BUILTIN_CHAT_FORMATS, encodeChat, resolveChatTemplate, type ChatMessage, type ChatTemplate } from '../chat/index.js';
import { specialTokenStrings } from '../chat/resolve.js';

export type { ChatMessage };

/** The built-in format names (besides these, --chat-template takes a Jinja file or Jinja text). */
export const CHAT_FORMATS = BUILTIN_CHAT_FORMATS;
export type ChatFormatName = (typeof CHAT_FORMATS)[number];

export interface ChatFormat {
  /** the built-in format's name, 'model' for the model's own template, or the override's */
  readonly name: string;
  /** the underlying template (renders text) */
  readonly template: ChatTemplate;
  /** the whole conversation as prompt tokens, ending with an open assistant turn when `addGenerationPrompt` */
  encode(messages: readonly ChatMessage[], addGenerationPrompt: boolean): number[];
  /** strings that end a reply besides the tokenizer's end tokens */
  readonly stop: readonly string[];
  /** the tokenizer's BOS id (what a context shift keeps when there is no system prompt) */
  readonly bosId: number | undefined;
}

/**
 * The chat format for a model: `override` (a built-in name, a Jinja file or Jinja text) if given,
 * else the model's own template `source`, else the plain transcript format.
 */
export function resolveChatFormat(tokenizer: Tokenizer, source: string | undefined, override?: string): ChatFormat {
  const template = resolveChatTemplate({ source, override, tokenizer });
  const tokens = specialTokenStrings(tokenizer);
  return {
    name: template.name,
    template,
    stop: template.stop,
    bosId: tokenizer.bosId,
    encode: (messages, addGenerationPrompt) => encodeChat(tokenizer, template.render(messages, { ...tokens, addGenerationPrompt })),
  };
}
