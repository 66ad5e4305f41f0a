import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { Command } from '../command.js';
import { str } from '../args.js';
import { LlamaError, UsageError, formats, training } from '../../index.js';
const { plotSvg } = training;
const { writeFileAtomic } = formats;

export const command: Command = {
  spec: {
    name: 'plot',
    summary: 'draw train/validation loss and learning rate of a training log as SVG',
    usage: 'LOG.jsonl [-o loss.svg]',
    options: {
      output: { kind: 'string', short: 'o', arg: 'FILE', help: 'SVG file to write (default: stdout)' },
      title: { kind: 'string', help: 'chart title' },
    },
  },
  async run(args) {
    const file = args.positionals[0];
    if (!file || args.positionals.length > 1) throw new UsageError('name one training log', 'usage: llama plot LOG.jsonl -o loss.svg');
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new LlamaError('FILE_NOT_FOUND', 'cannot read the training log', { file, cause: e });
    }
    const svg = plotSvg(text, file, str(args, 'title') ?? basename(file));
    const out = str(args, 'output');
    if (out) {
      writeFileAtomic(out, [new TextEncoder().encode(svg)]);
      process.stderr.write(`wrote ${out}\n`);
    } else process.stdout.write(svg);
    return 0;
  },
};
