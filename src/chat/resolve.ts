// Where a model's chat template comes from, and which template a conversation uses.
//
//  - the model's own: GGUF `tokenizer.chat_template`; beside a Hugging Face model, the
//    `chat_template` of tokenizer_config.json (a string, or a list of named templates: "default"),
//    or a `chat_template.jinja` file;
//  - an override (`--chat-template`): a built-in name, Jinja text, or a file holding Jinja;
//  - neither: the plain "User:/Assistant:" transcript for base models.
// A model's own template is swapped for a built-in only when both render identically on a set of
// probe conversations (node-llama-cpp's rule), so the built-in's stop strings can apply.
import { existsSync, readFileSync, statSync } from '../platform/fs.js';
import { readFileHead } from '../formats/file-io.js';
import { dirname, join } from '../platform/path.js';
import { LlamaError } from '../errors.js';
import { openGguf, looksLikeGguf } from '../formats/gguf.js';
import { TOKENIZER } from '../formats/gguf-keys.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { JinjaChatTemplate, type ChatMessage, type ChatTemplate } from './template.js';
import { BUILTIN_CHAT_FORMATS, builtinChatTemplate, isBuiltinChatFormat } from './builtin.js';


/** The model's own template text, if it has one. */
export function readChatTemplateSource(modelPath: string): string | undefined {
  const exists = existsSync(modelPath);
  const isDir = exists && statSync(modelPath).isDirectory();
  if (exists && !isDir && looksLikeGguf(readFileHead(modelPath, 8))) {
    const g = openGguf(modelPath);
    try {
      const v = g.metadata.get(TOKENIZER.CHAT_TEMPLATE);
      return v && typeof v.value === 'string' ? v.value : undefined;
    } finally {
      g.close();
    }
  }
  const dir = isDir ? modelPath : dirname(modelPath);
  if (!existsSync(dir)) return undefined;
  const jinja = join(dir, 'chat_template.jinja');
  if (existsSync(jinja)) return readFileSync(jinja, 'utf8');
  const cfgPath = join(dir, 'tokenizer_config.json');
  if (!existsSync(cfgPath)) return undefined;
  let cfg: { chat_template?: unknown };
  try {
    cfg = JSON.parse(readFileSync(cfgPath, 'utf8')) as { chat_template?: unknown };
  } catch (e) {
    throw new LlamaError('CHAT_TEMPLATE', `tokenizer_config.json is not valid JSON: ${(e as Error).message}`, { file: cfgPath, hint: 'fix the file, or pass --chat-template' });
  }
  const t = cfg.chat_template;
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) {
    const named = t as { name?: unknown; template?: unknown }[];
    const def = named.find((x) => x.name === 'default') ?? named[0];
    return typeof def?.template === 'string' ? def.template : undefined;
  }
  return undefined;
}

/** The BOS/EOS strings a template writes, from the tokenizer's own pieces. */
export function specialTokenStrings(tokenizer: Tokenizer): { bosToken: string; eosToken: string } {
  return {
    bosToken: tokenizer.bosId !== undefined ? tokenizer.piece(tokenizer.bosId) : '',
    eosToken: tokenizer.eosId !== undefined ? tokenizer.piece(tokenizer.eosId) : '',
  };
}

const PROBES: ChatMessage[][] = [
  [{ role: 'user', content: 'Hello there' }],
  [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello! How can I help?' }, { role: 'user', content: ' Tell me a joke. ' }],
  [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'Why?' }, { role: 'assistant', content: 'Because.' }, { role: 'user', content: 'OK' }],
];

/** True when `a` and `b` render every probe conversation identically (with and without the generation prompt). */
export function rendersLike(a: JinjaChatTemplate, b: JinjaChatTemplate, tokens: { bosToken: string; eosToken: string }): boolean {
  for (const msgs of PROBES) {
    for (const addGenerationPrompt of [true, false]) {
      let x: string | undefined;
      let y: string | undefined;
      try {
        x = a.renderText(msgs, { ...tokens, addGenerationPrompt });
      } catch {
        x = undefined;
      }
      try {
        y = b.renderText(msgs, { ...tokens, addGenerationPrompt });
      } catch {
        y = undefined;
      }
      if (x !== y) return false;
    }
  }
  return true;
}

export interface ResolveOptions {
  /** the model's own template text */
  source?: string | undefined;
  /** --chat-template: a built-in name, Jinja text, or a file of Jinja */
  override?: string | undefined;
  tokenizer: Tokenizer;
}

/** The template a conversation uses; `stop` holds extra stop strings (built-ins only). */
export function resolveChatTemplate(o: ResolveOptions): ChatTemplate & { readonly stop: readonly string[] } {
  if (o.override !== undefined) {
    const v = o.override;
    if (isBuiltinChatFormat(v)) return builtinChatTemplate(v);
    if (v.includes('{{') || v.includes('{%')) return Object.assign(new JinjaChatTemplate(v, 'custom'), { stop: [] as string[] });
    if (existsSync(v) && statSync(v).isFile()) return Object.assign(new JinjaChatTemplate(readFileSync(v, 'utf8'), v), { stop: [] as string[] });
    throw new LlamaError('USAGE', `--chat-template '${v}' is neither a built-in format, a template, nor a file`, { hint: `built-in formats: ${BUILTIN_CHAT_FORMATS.join(', ')}` });
  }
  if (o.source === undefined || o.source.trim() === '') return builtinChatTemplate('plain');
  const own = new JinjaChatTemplate(o.source, 'model');
  const tokens = specialTokenStrings(o.tokenizer);
  for (const name of BUILTIN_CHAT_FORMATS) {
    if (name === 'plain') continue;
    const b = builtinChatTemplate(name);
    if (rendersLike(own, b, tokens)) return b;
  }
  return Object.assign(own, { stop: [] as string[] });
}
