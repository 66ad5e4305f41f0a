// Llama 3's chat format (Meta's llama/tokenizer.py ChatFormat):
//   <|begin_of_text|> then per message
//   <|start_header_id|>{role}<|end_header_id|>\n\n{content.strip()}<|eot_id|>
// and, for a prompt, an open assistant header at the end.
import { LlamaError } from '../errors.js';
import type { Tokenizer } from './tokenizer.js';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | (string & {});
  content: string;
}

function special(tok: Tokenizer, name: string): number {
  const ids = tok.encode(name, { addBos: false, parseSpecial: true });
  if (ids.length !== 1 || !tok.isSpecial(ids[0]!)) {
    throw new LlamaError('TOKENIZER_INVALID', `the tokenizer has no ${name} token; it is not a Llama 3 chat tokenizer`);
  }
  return ids[0]!;
}

function header(tok: Tokenizer, role: string): number[] {
  return [
    special(tok, '<|start_header_id|>'),
    ...tok.encode(role, { addBos: false, addEos: false }),
    special(tok, '<|end_header_id|>'),
    ...tok.encode('\n\n', { addBos: false, addEos: false }),
  ];
}

/** One message: header, stripped content, <|eot_id|>. */
export function encodeLlama3Message(tok: Tokenizer, m: ChatMessage): number[] {
  return [...header(tok, m.role), ...tok.encode(m.content.trim(), { addBos: false, addEos: false }), special(tok, '<|eot_id|>')];
}

/** A whole dialog as a prompt: BOS, every message, then the assistant header to complete. */
export function encodeLlama3Dialog(tok: Tokenizer, dialog: readonly ChatMessage[]): number[] {
  const out = [special(tok, '<|begin_of_text|>')];
  for (const m of dialog) out.push(...encodeLlama3Message(tok, m));
  out.push(...header(tok, 'assistant'));
  return out;
}
