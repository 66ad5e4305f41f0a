// `llama template`: render a conversation with a chat template and print exactly the text the
// model would see (no newline added), so that anyone can check a template against another tool.
import { readFileSync, statSync } from 'node:fs';
import type { Command } from '../command.js';
import { bool, str } from '../args.js';
import { defaultModelPath } from '../model-args.js';
import { LlamaError, UsageError, chat, tokenizers, type ChatMessage } from '../../index.js';
const { JinjaChatTemplate, readChatTemplateSource, resolveChatTemplate, specialTokenStrings, builtinChatTemplate, isBuiltinChatFormat, BUILTIN_CHAT_FORMATS } = chat;
const { tokenizerForPath } = tokenizers;

interface MessagesFile {
  messages: ChatMessage[];
  bos_token?: string;
  eos_token?: string;
  add_generation_prompt?: boolean;
}

function readMessages(path: string): MessagesFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new LlamaError('FILE_NOT_FOUND', `cannot read the messages file: ${(e as Error).message}`, { file: path, hint: 'pass --messages FILE.json holding a JSON array of {role, content}' });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${path}: not valid JSON: ${(e as Error).message}`, 'the file holds a JSON array of messages, or {messages, bos_token, eos_token, add_generation_prompt}');
  }
  const obj = (Array.isArray(json) ? { messages: json } : json) as Partial<MessagesFile>;
  const ok = typeof obj === 'object' && obj !== null && Array.isArray(obj.messages) && obj.messages.every((m) => typeof m === 'object' && m !== null && typeof m.role === 'string' && (typeof m.content === 'string' || m.content === null));
  if (!ok) throw new UsageError(`${path}: "messages" must be an array of {role, content} objects with string fields`, 'e.g. [{"role": "user", "content": "Hello"}]');
  return { ...obj, messages: obj.messages!.map((m) => ({ role: m.role, content: m.content ?? '' })) } as MessagesFile;
}

export const command: Command = {
  spec: {
    name: 'template',
    summary: 'render a conversation with a chat template, exactly as the model sees it',
    usage: '[--template FILE|NAME | -m MODEL] --messages FILE.json [--no-generation-prompt] [--bos-token S] [--eos-token S]',
    options: {
      template: { kind: 'string', arg: 'FILE|NAME', help: `a Jinja template file, or a built-in format (${BUILTIN_CHAT_FORMATS.join(', ')})` },
      model: { kind: 'string', short: 'm', arg: 'PATH', help: 'use this model\'s own template (default: the embedded model)' },
      messages: { kind: 'string', arg: 'FILE', help: 'JSON: an array of {role, content}, or {messages, bos_token, eos_token, add_generation_prompt}' },
      'no-generation-prompt': { kind: 'boolean', help: 'do not end with the opening of an assistant turn' },
      'bos-token': { kind: 'string', arg: 'S', help: 'the text of BOS (default: from the file, else the model\'s tokenizer, else empty)' },
      'eos-token': { kind: 'string', arg: 'S', help: 'the text of EOS (likewise)' },
    },
    details: 'The output is printed as rendered, with no newline added. A model with no template of its own uses the plain "User:/Assistant:" format.',
  },

  async run(args) {
    const messagesPath = str(args, 'messages');
    if (messagesPath === undefined) throw new UsageError('--messages FILE.json is required');
    if (args.positionals.length > 0) throw new UsageError(`unexpected argument '${args.positionals[0]}'`);
    const file = readMessages(messagesPath);
    const templateArg = str(args, 'template');
    let modelPath = str(args, 'model');
    if (templateArg !== undefined && modelPath !== undefined) throw new UsageError('give --template or -m, not both');
    let bos = str(args, 'bos-token') ?? file.bos_token;
    let eos = str(args, 'eos-token') ?? file.eos_token;
    let template;
    if (templateArg !== undefined) {
      if (isBuiltinChatFormat(templateArg)) template = builtinChatTemplate(templateArg);
      else {
        let src: string;
        try {
          if (statSync(templateArg).isDirectory()) throw new Error('it is a directory');
          src = readFileSync(templateArg, 'utf8');
        } catch (e) {
          throw new LlamaError('FILE_NOT_FOUND', `cannot read the template: ${(e as Error).message}`, { file: templateArg, hint: `pass a Jinja file or a built-in format (${BUILTIN_CHAT_FORMATS.join(', ')})` });
        }
        template = new JinjaChatTemplate(src, templateArg);
      }
    } else {
      modelPath ??= defaultModelPath();
      if (modelPath === undefined) throw new LlamaError('MODEL_NOT_FOUND', 'no --template, no -m and no embedded model', { hint: 'pass --template FILE or -m MODEL' });
      const tokenizer = tokenizerForPath(modelPath);
      template = resolveChatTemplate({ source: readChatTemplateSource(modelPath), tokenizer });
      const s = specialTokenStrings(tokenizer);
      bos ??= s.bosToken;
      eos ??= s.eosToken;
    }
    const addGenerationPrompt = bool(args, 'no-generation-prompt') ? false : (file.add_generation_prompt ?? true);
    const r = template.render(file.messages, { addGenerationPrompt, bosToken: bos ?? '', eosToken: eos ?? '' });
    process.stdout.write(r.text);
    return 0;
  },
};
