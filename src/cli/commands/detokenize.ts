// `llama detokenize -m FILE IDS...`: prints the text of token ids.
import { bool, str, type CommandSpec } from '../args.js';
import { modelOrDefault } from './tokenize.js';
import type { Command } from '../command.js';
import { UsageError, tokenizers } from '../../index.js';
const { tokenizerForPath } = tokenizers;

const spec: CommandSpec = {
  name: 'detokenize',
  summary: 'print the text of token ids',
  usage: '[-m FILE] [--special] [--no-newline] IDS...',
  options: {
    model: { kind: 'string', short: 'm', arg: 'FILE', help: 'model or tokenizer file (GGUF, tokenizer.model, tokenizer.json, tokenizer.bin) or model directory; default: the embedded model' },
    special: { kind: 'boolean', help: 'render special tokens such as <s> as text' },
    'no-newline': { kind: 'boolean', help: 'do not end the output with a newline' },
  },
  details: 'IDS may be separate arguments, or one argument of ids separated by spaces or commas (a JSON array works too).\nexample:\n  llama detokenize -m tokenizer.model 1 15043 3186',
};

export function parseIds(words: readonly string[]): number[] {
  const ids: number[] = [];
  for (const w of words) {
    for (const part of w.split(/[\s,[\]]+/)) {
      if (part === '') continue;
      if (!/^\d+$/.test(part)) throw new UsageError(`'${part}' is not a token id`, 'token ids are non-negative integers');
      ids.push(Number(part));
    }
  }
  return ids;
}

export const command: Command = {
  spec,
  async run(args) {
    const file = modelOrDefault(str(args, 'model'));
    const ids = parseIds(args.positionals);
    if (ids.length === 0) throw new UsageError('no token ids given', `usage: llama detokenize ${spec.usage}`);
    const tok = tokenizerForPath(file);
    const text = tok.decode(ids, { renderSpecial: bool(args, 'special') });
    process.stdout.write(bool(args, 'no-newline') ? text : text + '\n');
    return 0;
  },
};
