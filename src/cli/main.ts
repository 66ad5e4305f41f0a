// `llama <command> ...`: dispatches to one module per command, loaded lazily so that a command's
// start-up pays only for what it uses. Exit codes: 0 ok (also when stdout's reader closes early,
// e.g. `| head`), 1 error, 2 usage error, 130 interrupted (Ctrl-C).
import { readFileSync } from 'node:fs';
import { formatHelp, parseArgs } from './args.js';
import type { Command } from './command.js';
import { installPipeGuards } from './output.js';
import { LlamaError, UsageError, formatError, type ErrorCode } from '../index.js';

interface CommandEntry {
  /** one line for the top-level help (the command's own --help says more) */
  readonly summary: string;
  readonly load: () => Promise<{ command: Command }>;
}

/** name -> summary and loader. Keep sorted; add a line per command. */
const COMMANDS: Record<string, CommandEntry> = {
  bench: { summary: 'measure prompt processing and generation speed', load: () => import('./commands/bench.js') },
  chat: { summary: 'chat with a model (interactive on a terminal, one turn per line from a pipe)', load: () => import('./commands/chat.js') },
  convert: { summary: 'convert a model to GGUF (optionally quantized) or HF safetensors', load: () => import('./commands/convert.js') },
  detokenize: { summary: 'print the text of token ids', load: () => import('./commands/detokenize.js') },
  eval: { summary: 'score a model on the LLaMA paper\'s benchmarks (lm-evaluation-harness protocols)', load: () => import('./commands/eval.js') },
  finetune: { summary: 'instruction-tune a model with LoRA adapters (or all weights)', load: () => import('./commands/finetune.js') },
  export: { summary: 'export a training checkpoint to GGUF or a Hugging Face folder', load: () => import('./commands/export.js') },
  inspect: { summary: 'show the format, metadata and tensors of a model file', load: () => import('./commands/inspect.js') },
  logits: { summary: 'print the logits of a prefill over token ids', load: () => import('./commands/logits.js') },
  perplexity: { summary: 'perplexity of a text as llama.cpp computes it; HellaSwag and KL divergence too', load: () => import('./commands/perplexity.js') },
  plot: { summary: 'draw the loss curves of a training log as SVG', load: () => import('./commands/plot.js') },
  run: { summary: 'generate text from a prompt', load: () => import('./commands/run.js') },
  serve: { summary: 'an OpenAI-compatible HTTP server with continuous batching, and a web chat page', load: () => import('./commands/serve.js') },
  template: { summary: 'render a conversation with a chat template, exactly as the model sees it', load: () => import('./commands/template.js') },
  tokenize: { summary: 'print the token ids of a text', load: () => import('./commands/tokenize.js') },
  'train-tokenizer': { summary: 'train a SentencePiece-style BPE tokenizer on text files', load: () => import('./commands/train-tokenizer.js') },
  train: { summary: 'train a LLaMA-architecture model (or resume a run)', load: () => import('./commands/train.js') },
  version: { summary: 'print the llama-ts version', load: () => import('./commands/version.js') },
};

function topHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    'llama: LLaMA-family models in TypeScript',
    '',
    'usage: llama <command> [options]     (llama help <command>, or llama <command> --help, for its options)',
    '',
    'commands:',
    ...Object.entries(COMMANDS).map(([c, e]) => `  ${c.padEnd(width)}  ${e.summary}`),
    '',
    'options:',
    '  -h, --help     this help',
    '  -v, --version  print the version',
    '',
    'exit status: 0 ok, 1 error, 2 usage error, 130 interrupted (Ctrl-C)',
    '',
  ].join('\n');
}

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** What to do about an error that was raised without a hint of its own. */
const DEFAULT_HINTS: Partial<Record<ErrorCode, string>> = {
  USAGE: 'see llama <command> --help',
  FILE_NOT_FOUND: 'check the path',
  FILE_READ: 'check that the path is a readable file',
  FILE_WRITE: 'check that the output folder exists, is writable and has free space',
  FORMAT_UNKNOWN: 'llama-ts reads GGUF, safetensors (HF), Meta .pth and llama2.c .bin files; see llama inspect FILE',
  FORMAT_MAGIC: 'the file is not in the format its name says; see llama inspect FILE',
  FORMAT_VERSION: 'convert the file with a current tool (e.g. llama.cpp convert_hf_to_gguf.py) and try again',
  FORMAT_TRUNCATED: 'the file is incomplete (interrupted download or copy?): fetch it again',
  FORMAT_CORRUPT: 'the file is damaged: fetch or convert it again',
  FORMAT_BOUNDS: 'the file is damaged: fetch or convert it again',
  FORMAT_LIMIT: 'the file declares sizes beyond what llama-ts accepts; it is probably damaged',
  FORMAT_UNSUPPORTED: 'llama-ts runs LLaMA-architecture models (LLaMA 1/2/3 and compatible); see llama inspect FILE',
  TENSOR_TYPE: 'convert the model to a supported weight type (llama convert --type)',
  TENSOR_SHAPE: 'the tensors do not match the model config; the file is damaged or not a LLaMA model',
  TENSOR_MISSING: 'the file does not hold a complete model (a vocab-only or split file?)',
  TOKENIZER_MISSING: 'pass the tokenizer with --tokenizer FILE',
  TOKENIZER_INVALID: 'the tokenizer file is damaged or of another kind; pass another with --tokenizer',
  TOKEN_ID: 'token ids must be below the vocabulary size: check that the tokenizer matches the model',
  MODEL_CONFIG: 'the model\'s metadata is inconsistent; the file is damaged or was converted wrongly',
  MODEL_NOT_FOUND: 'pass a model with -m PATH',
  MODEL_NUMERIC: 'the weights may be corrupt: check the file, re-download or re-convert it',
  INPUT_ENCODING: 'convert the text to UTF-8 first',
  CONTEXT_OVERFLOW: 'pass a larger --ctx-size, or shorten the prompt or -n',
  BACKEND_UNAVAILABLE: 'use --backend js',
  TRAIN_CONFIG: 'see llama train --help for the config fields',
  CHECKPOINT: 'the checkpoint is damaged or from another version; train again without --resume',
  DATA: 'check the training data path and contents',
  CANCELLED: 'the operation was interrupted',
};

/** The stderr text of an error: `error [CODE]: message` and always a hint line. */
export function errorText(err: unknown, command?: string): string {
  const text = formatError(err);
  if (err instanceof LlamaError && !err.hint) {
    const hint = err.code === 'USAGE' && command !== undefined ? `see llama ${command} --help` : (DEFAULT_HINTS[err.code] ?? 'see llama --help');
    return `${text}\n  hint: ${hint}`;
  }
  return text;
}

export async function main(argv: string[]): Promise<number> {
  installPipeGuards();
  let [name, ...rest] = argv;
  if (name === '--version' || name === '-v') name = 'version';
  if (name === 'help' && rest.length > 0) {
    // `llama help run` = `llama run --help`
    name = rest[0]!;
    rest = ['--help'];
  }
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(topHelp());
    return name === undefined ? 2 : 0;
  }
  const entry = COMMANDS[name];
  try {
    if (!entry) throw new UsageError(`unknown command '${name}'`, `commands: ${Object.keys(COMMANDS).join(', ')} (llama --help)`);
    const { command } = await entry.load();
    const args = parseArgs(command.spec, rest);
    if (args.help) {
      process.stdout.write(formatHelp(command.spec));
      return 0;
    }
    return await command.run(args);
  } catch (err) {
    process.stderr.write(errorText(err, entry ? name : undefined) + '\n');
    return err instanceof LlamaError ? err.exitCode : 1;
  }
}
