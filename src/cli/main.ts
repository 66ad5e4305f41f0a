// `llama <command> ...`: dispatches to one module per command, loaded lazily so that a command's
// start-up pays only for what it uses. Exit codes: 0 ok, 1 error, 2 usage error.
import { formatError, LlamaError, UsageError } from '../errors.js';
import { formatHelp, parseArgs } from './args.js';
import type { Command } from './command.js';

/** name -> loader. Keep sorted; add a line per command. */
const COMMANDS: Record<string, () => Promise<{ command: Command }>> = {
  bench: () => import('./commands/bench.js'),
  convert: () => import('./commands/convert.js'),
  detokenize: () => import('./commands/detokenize.js'),
  eval: () => import('./commands/eval.js'),
  export: () => import('./commands/export.js'),
  inspect: () => import('./commands/inspect.js'),
  logits: () => import('./commands/logits.js'),
  perplexity: () => import('./commands/perplexity.js'),
  plot: () => import('./commands/plot.js'),
  run: () => import('./commands/run.js'),
  tokenize: () => import('./commands/tokenize.js'),
  'train-tokenizer': () => import('./commands/train-tokenizer.js'),
  train: () => import('./commands/train.js'),
  version: () => import('./commands/version.js'),
};

function topHelp(): string {
  return [
    'llama: LLaMA-family models in TypeScript',
    '',
    'usage: llama <command> [options]     (llama <command> --help for its options)',
    '',
    'commands:',
    ...Object.keys(COMMANDS).map((c) => `  ${c}`),
    '',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(topHelp());
    return name === undefined ? 2 : 0;
  }
  const load = COMMANDS[name];
  try {
    if (!load) throw new UsageError(`unknown command '${name}'`, `commands: ${Object.keys(COMMANDS).join(', ')}`);
    const { command } = await load();
    const args = parseArgs(command.spec, rest);
    if (args.help) {
      process.stdout.write(formatHelp(command.spec));
      return 0;
    }
    return await command.run(args);
  } catch (err) {
    process.stderr.write(formatError(err) + '\n');
    return err instanceof LlamaError ? err.exitCode : 1;
  }
}
