// `llama tokenize -m FILE [--no-bos] [--json] [--special] [--stdin] TEXT`: prints token ids.
import { readFileSync } from 'node:fs';
import { UsageError } from '../../errors.js';
import { tokenizerForPath } from '../../tokenizer/find.js';
import { bool, required, type CommandSpec } from '../args.js';
import type { Command } from '../command.js';

const spec: CommandSpec = {
  name: 'tokenize',
  summary: 'print the token ids of a text',
  usage: '-m FILE [--no-bos] [--eos] [--json] [--special] [--stdin | TEXT...]',
  options: {
    model: { kind: 'string', short: 'm', arg: 'FILE', help: 'model or tokenizer file (GGUF, tokenizer.model, tokenizer.json, tokenizer.bin) or model directory' },
    'no-bos': { kind: 'boolean', help: 'do not add BOS (default: as the tokenizer metadata says)' },
    eos: { kind: 'boolean', help: 'append EOS' },
    json: { kind: 'boolean', help: 'print a JSON array' },
    special: { kind: 'boolean', help: 'turn text such as <s> or <|eot_id|> into special tokens' },
    stdin: { kind: 'boolean', help: 'read the text from standard input, exactly (no newline stripped)' },
    pieces: { kind: 'boolean', help: 'print one "id<TAB>piece" line per token instead' },
  },
  details: 'examples:\n  llama tokenize -m tokenizer.model "Hello world"\n  printf "a\\nb" | llama tokenize -m model.gguf --stdin --json',
};

export const command: Command = {
  spec,
  async run(args) {
    const file = required(args, 'model', spec);
    let text: string;
    if (bool(args, 'stdin')) {
      if (args.positionals.length > 0) throw new UsageError('give the text either as arguments or with --stdin, not both');
      text = readFileSync(0, 'utf8');
    } else {
      if (args.positionals.length === 0) throw new UsageError('no text given', `usage: llama tokenize ${spec.usage}`);
      text = args.positionals.join(' ');
    }
    const tok = tokenizerForPath(file);
    const opts: { parseSpecial: boolean; addBos?: boolean; addEos?: boolean } = { parseSpecial: bool(args, 'special') };
    if (bool(args, 'no-bos')) opts.addBos = false;
    if (bool(args, 'eos')) opts.addEos = true;
    const ids = tok.encode(text, opts);
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
