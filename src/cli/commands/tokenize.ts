// `llama tokenize -m FILE [--no-bos] [--json] [--special] [--stdin] TEXT`: prints token ids.
import { bool, str, type CommandSpec } from '../args.js';
import type { Command } from '../command.js';
import { readStdinText } from '../input.js';
import { defaultModelPath } from '../model-args.js';
import { LlamaError, UsageError, tokenizers } from '../../index.js';
const { tokenizerForPath } = tokenizers;

/** -m, else the embedded default model (as run and logits do). */
export function modelOrDefault(path: string | undefined): string {
  const p = path ?? defaultModelPath();
  if (p === undefined) {
    throw new LlamaError('MODEL_NOT_FOUND', 'no -m given and this installation has no embedded default model', { hint: 'pass a model or tokenizer file with -m FILE' });
  }
  return p;
}

const spec: CommandSpec = {
  name: 'tokenize',
  summary: 'print the token ids of a text',
  usage: '[-m FILE] [--no-bos] [--eos] [--json] [--special] [--stdin | TEXT...]',
  options: {
    model: { kind: 'string', short: 'm', arg: 'FILE', help: 'model or tokenizer file (GGUF, tokenizer.model, tokenizer.json, tokenizer.bin) or model directory; default: the embedded model' },
    'no-bos': { kind: 'boolean', help: 'do not add BOS (default: as the tokenizer metadata says)' },
    eos: { kind: 'boolean', help: 'append EOS' },
    json: { kind: 'boolean', help: 'print a JSON array' },
    special: { kind: 'boolean', help: 'turn text such as <s> or <|eot_id|> into special tokens' },
    stdin: { kind: 'boolean', help: 'read the text from standard input, exactly (no newline stripped; it must be UTF-8)' },
    pieces: { kind: 'boolean', help: 'print one "id<TAB>piece" line per token instead' },
  },
  details: 'examples:\n  llama tokenize -m tokenizer.model "Hello world"\n  printf "a\\nb" | llama tokenize -m model.gguf --stdin --json',
};

export const command: Command = {
  spec,
  async run(args) {
    const file = modelOrDefault(str(args, 'model'));
    let text: string;
    if (bool(args, 'stdin')) {
      if (args.positionals.length > 0) throw new UsageError('give the text either as arguments or with --stdin, not both');
      text = readStdinText();
    } else {
      if (args.positionals.length === 0) throw new UsageError('no text given', `usage: llama tokenize ${spec.usage}`);
      text = args.positionals.join(' ');
    }
    const tok = tokenizerForPath(file);
    const opts: { parseSpecial: boolean; addBos?: boolean; addEos?: boolean } = { parseSpecial: bool(args, 'special') };
    if (bool(args, 'no-bos')) opts.addBos = false;
    if (bool(args, 'eos')) opts.addEos = true;
    let ids = tok.encode(text, opts);
    // "<s>hi" with --special already starts with BOS: adding one more would double it
    if (opts.parseSpecial && opts.addBos !== false && tok.bosId !== undefined && ids[0] === tok.bosId && ids[1] === tok.bosId && tok.encode(text, { ...opts, addBos: false })[0] === tok.bosId) {
      process.stderr.write('warning: the text already starts with BOS; not adding another (--no-bos silences this)\n');
      ids = ids.slice(1);
    }
    if (bool(args, 'pieces')) {
      process.stdout.write(ids.map((id) => `${id}\t${JSON.stringify(tok.piece(id))}\n`).join(''));
    } else if (bool(args, 'json')) {
      process.stdout.write(JSON.stringify(ids) + '\n');
    } else {
      process.stdout.write(ids.join(' ') + '\n');
    }
    return 0;
  },
};
