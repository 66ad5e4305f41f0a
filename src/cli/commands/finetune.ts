// `llama finetune`: instruction fine-tuning of a model file with LoRA (default) or all weights.
// Progress on stderr (a redrawn line on a terminal, plain lines otherwise), the result as one JSON
// line on stdout, outputs in -o DIR: log.jsonl (llama plot), finetune-checkpoint.bin (resume),
// adapter.gguf + adapter/ (PEFT) for LoRA, model.gguf for --full.
import type { Command } from '../command.js';
import { bool, num, required, str } from '../args.js';
import { UsageError, finetune as ft } from '../../index.js';
const { finetune, FINETUNE_FORMATS, LORA_TRAIN_DEFAULTS, parseLoraTargets } = ft;
type FinetuneOptions = ft.FinetuneOptions;
type FinetuneFormat = ft.FinetuneFormat;

const spec = {
    name: 'finetune',
    summary: 'instruction-tune a model with LoRA (or --full), masked prompt loss',
    usage: '--base MODEL --data FILE -o DIR [options]',
    options: {
      base: { kind: 'string', short: 'm', arg: 'MODEL', help: 'the model to fine-tune (any format we load; quantized bases stay frozen)' },
      data: { kind: 'string', arg: 'FILE', help: 'Alpaca JSON, chat JSONL ({"messages": [...]}) or a text file' },
      format: { kind: 'string', arg: 'F', help: `${FINETUNE_FORMATS.join(' | ')} (default: guessed from the file)` },
      'chat-template': { kind: 'string', arg: 'T', help: 'for chat data: a built-in format name, Jinja text or a file (default: the model\'s)' },
      tokenizer: { kind: 'string', arg: 'FILE', help: 'tokenizer file, when the model has none' },
      'lora-r': { kind: 'int', arg: 'R', help: `adapter rank (default ${LORA_TRAIN_DEFAULTS.rank})` },
      'lora-alpha': { kind: 'number', help: `adapter alpha; the update is scaled by alpha/r (default ${LORA_TRAIN_DEFAULTS.alpha})` },
      'lora-dropout': { kind: 'number', help: `dropout on the adapter input (default ${LORA_TRAIN_DEFAULTS.dropout})` },
      'lora-targets': { kind: 'string', arg: 'LIST', help: 'q,k,v,o,gate,up,down or all (default all)' },
      full: { kind: 'boolean', help: 'train every weight instead of an adapter (writes model.gguf)' },
      epochs: { kind: 'number', help: 'passes over the training examples (default 1)' },
      steps: { kind: 'int', arg: 'N', help: 'optimizer steps (instead of --epochs)' },
      lr: { kind: 'number', help: 'peak learning rate (default 2e-4 LoRA, 2e-5 full)' },
      'warmup-steps': { kind: 'int', arg: 'N', help: 'linear warmup steps (default 5% of the steps)' },
      batch: { kind: 'int', arg: 'N', help: 'examples per optimizer step (default 8)' },
      'seq-len': { kind: 'int', arg: 'T', help: 'longest sequence; longer examples are truncated (default: the model context, at most 512)' },
      'val-fraction': { kind: 'number', help: 'share of the examples held out for validation (default 0.05)' },
      'eval-every': { kind: 'int', arg: 'N', help: 'validation every N steps (default 50)' },
      'checkpoint-every': { kind: 'int', arg: 'N', help: 'checkpoint every N steps (default 50)' },
      limit: { kind: 'int', arg: 'N', help: 'use only the first N records' },
      seed: { kind: 'int', help: 'seed for the adapter init, data order, split and dropout (default 1)' },
      backend: { kind: 'string', help: 'js | native | auto' },
      threads: { kind: 'int', help: 'threads (native backend)' },
      resume: { kind: 'boolean', help: 'continue from DIR/finetune-checkpoint.bin (same settings: bit-identical losses)' },
      'stop-after': { kind: 'int', arg: 'N', help: 'stop after N steps of this invocation (checkpoint written)' },
      out: { kind: 'string', short: 'o', arg: 'DIR', help: 'output folder' },
    },
    details: 'example: llama finetune --base models/default/model.gguf --data alpaca.json --steps 200 -o ft\n         llama run -m models/default/model.gguf --lora ft/adapter.gguf -p "..."',
} satisfies Command['spec'];

export const command: Command = {
  spec,
  async run(args) {
    const base = required(args, 'base', spec);
    const data = required(args, 'data', spec);
    const outDir = required(args, 'out', spec);
    const format = str(args, 'format');
    if (format !== undefined && !FINETUNE_FORMATS.includes(format as FinetuneFormat)) throw new UsageError(`--format must be one of ${FINETUNE_FORMATS.join(', ')}`, 'alpaca: JSON [{instruction, input, output}]; chat: JSONL {messages}; text: plain text');
    const full = bool(args, 'full');
    const loraFlags = ['lora-r', 'lora-alpha', 'lora-dropout', 'lora-targets'].filter((k) => args.values[k] !== undefined);
    if (full && loraFlags.length) throw new UsageError(`--full trains every weight: --${loraFlags[0]} does not apply`, 'drop --full to train a LoRA adapter');
    const steps = num(args, 'steps');
    const epochs = num(args, 'epochs');
    if (steps !== undefined && epochs !== undefined) throw new UsageError('give --epochs or --steps, not both');
    const pos = (name: string, v: number | undefined, def: number) => {
      const x = v ?? def;
      if (!(x > 0) || !Number.isFinite(x)) throw new UsageError(`--${name} must be a positive number, got ${x}`);
      return x;
    };
    const rank = pos('lora-r', num(args, 'lora-r'), LORA_TRAIN_DEFAULTS.rank);
    const seed = num(args, 'seed') ?? 1;
    const stepsOrUndef = steps !== undefined ? pos('steps', steps, 1) : undefined;
    const o: FinetuneOptions = {
      base, data, outDir,
      format: format as FinetuneFormat | undefined,
      chatTemplate: str(args, 'chat-template'),
      tokenizer: str(args, 'tokenizer'),
      lora: full ? undefined : {
        rank,
        alpha: pos('lora-alpha', num(args, 'lora-alpha'), LORA_TRAIN_DEFAULTS.alpha),
        dropout: num(args, 'lora-dropout') ?? LORA_TRAIN_DEFAULTS.dropout,
        targets: str(args, 'lora-targets') !== undefined ? parseLoraTargets(str(args, 'lora-targets')!) : LORA_TRAIN_DEFAULTS.targets,
        seed,
      },
      steps: stepsOrUndef,
      epochs: stepsOrUndef === undefined ? pos('epochs', epochs, 1) : undefined,
      lr: pos('lr', num(args, 'lr'), full ? 2e-5 : 2e-4),
      warmupSteps: num(args, 'warmup-steps') ?? -1,
      batch: pos('batch', num(args, 'batch'), 8),
      seqLen: pos('seq-len', num(args, 'seq-len'), 512),
      seed,
      backend: str(args, 'backend') ?? 'auto',
      threads: num(args, 'threads') ?? 1,
      valFraction: num(args, 'val-fraction') ?? 0.05,
      evalEvery: pos('eval-every', num(args, 'eval-every'), 50),
      saveEvery: pos('checkpoint-every', num(args, 'checkpoint-every'), 50),
      limit: num(args, 'limit'),
    };
    let interruptedCount = 0;
    const onSigint = () => {
      interruptedCount++;
      if (interruptedCount > 1) process.exit(130);
      process.stderr.write('\ninterrupt: finishing this step and saving a checkpoint (Ctrl-C again to quit at once)\n');
    };
    process.on('SIGINT', onSigint);
    const tty = process.stderr.isTTY === true;
    let progressShown = false;
    try {
      const stopAfter = num(args, 'stop-after');
      const r = await finetune(o, {
        log: (line) => {
          if (progressShown) process.stderr.write('\n');
          progressShown = false;
          process.stderr.write(line + '\n');
        },
        ...(tty ? { progress: (line: string) => { process.stderr.write(`\r${line}\x1b[K`); progressShown = true; } } : {}),
        interrupted: () => interruptedCount > 0,
        ...(stopAfter !== undefined ? { stopAfter } : {}),
      }, bool(args, 'resume'));
      if (progressShown) process.stderr.write('\n');
      process.stderr.write(`${r.interrupted ? 'stopped' : 'done'} at step ${r.step}/${r.totalSteps}: train loss ${r.trainLoss.toFixed(4)}, held-out response loss ${r.valLossBefore.toFixed(4)} -> ${r.valLoss.toFixed(4)}; ${r.tokensPerSecond.toFixed(0)} tok/s${r.outputs.length ? `; wrote ${r.outputs.join(', ')}` : ''}\n`);
      process.stdout.write(JSON.stringify({ step: r.step, totalSteps: r.totalSteps, trainLoss: r.trainLoss, valLossBefore: r.valLossBefore, valLoss: r.valLoss, tokensPerSecond: r.tokensPerSecond, outputs: r.outputs, interrupted: r.interrupted }) + '\n');
      return r.interrupted ? 130 : 0;
    } finally {
      process.off('SIGINT', onSigint);
    }
  },
};
