import { join, resolve } from 'node:path';
import type { Command } from '../command.js';
import { bool, num, str } from '../args.js';
import { UsageError, training } from '../../index.js';
const { loadTrainConfig, train, checkpointPath, formatDuration, prepareTrainingData, PEAK_FLOPS_PER_THREAD, loadCheckpoint } = training;
type TrainConfig = training.TrainConfig;

/** flag name -> config field; flags override the config file */
const FLAG_FIELDS: Record<string, keyof TrainConfig> = {
  'max-steps': 'maxSteps',
  'lr': 'lr',
  'seq-len': 'seqLen',
  'batch-tokens': 'batchTokens',
  'seed': 'seed',
  'warmup-steps': 'warmupSteps',
  'eval-every': 'evalEvery',
  'eval-tokens': 'evalTokens',
  'checkpoint-every': 'checkpointEvery',
  'log-every': 'logEvery',
  'threads': 'threads',
  'out': 'outDir',
  'backend': 'backend',
};
/** the smallest value each numeric flag takes (checked here, so the error names the flag, not the config file) */
const FLAG_MIN: Record<string, number> = {
  'max-steps': 1, 'lr': 0, 'seq-len': 2, 'batch-tokens': 1, 'seed': 0, 'warmup-steps': 0, 'eval-every': 0,
  'eval-tokens': 1, 'checkpoint-every': 0, 'log-every': 1, 'threads': 1, 'stop-after': 0,
};

export const command: Command = {
  spec: {
    name: 'train',
    summary: 'train a LLaMA-architecture model from scratch (or resume a run)',
    usage: '--config FILE.json [--resume] [overrides]',
    options: {
      config: { kind: 'string', arg: 'FILE', help: 'training config (JSON); paths inside are relative to it' },
      // -c is --ctx-size in run/logits: here it is refused rather than meaning something else
      'ctx-size': { kind: 'string', short: 'c', arg: 'N', help: 'not a training flag (-c is --ctx-size in llama run); give the config with --config FILE' },
      overwrite: { kind: 'boolean', help: 'replace the run already in OUTDIR (without it, a fresh run into a folder holding checkpoint.bin or log.jsonl is refused)' },
      'prepare-only': { kind: 'boolean', help: 'only tokenize the sources into shards (prints token counts and unigram/bigram baselines)' },
      resume: { kind: 'boolean', help: 'continue from OUTDIR/checkpoint.bin exactly where it stopped' },
      'max-steps': { kind: 'int', arg: 'N', help: 'optimizer steps in the run (sets the cosine length)' },
      'stop-after': { kind: 'int', arg: 'N', help: 'stop after step N without changing the schedule (checkpoint written)' },
      lr: { kind: 'number', help: 'peak learning rate' },
      'seq-len': { kind: 'int', arg: 'T', help: 'tokens per sequence (the model context)' },
      'batch-tokens': { kind: 'int', arg: 'N', help: 'tokens per optimizer step (multiple of seq-len)' },
      seed: { kind: 'int', help: 'seed for initialisation and data sampling' },
      'warmup-steps': { kind: 'int', arg: 'N', help: 'linear warmup steps' },
      'eval-every': { kind: 'int', arg: 'N', help: 'validation every N steps' },
      'eval-tokens': { kind: 'int', arg: 'N', help: 'validation tokens per source' },
      'checkpoint-every': { kind: 'int', arg: 'N', help: 'checkpoint every N steps' },
      'log-every': { kind: 'int', arg: 'N', help: 'plain progress line every N steps (non-TTY)' },
      threads: { kind: 'int', short: 't', help: 'threads (js: data-parallel workers; losses are reproducible for a given count)' },
      backend: { kind: 'string', help: 'js | native | auto (native when it has training kernels)' },
      out: { kind: 'string', short: 'o', arg: 'DIR', help: 'output folder (checkpoint.bin, checkpoint-best.bin, log.jsonl)' },
    },
    details: [
      'config fields: seed, model {dim, nLayers, nHeads, nKvHeads, ffnDim|multipleOf, normEps, ropeTheta, tiedEmbeddings},',
      '  tokenizer {type: "char"} | {type: "file", path}, data {dir, sources: [{name, files, weight, valFraction}]},',
      '  seqLen, batchTokens, maxSteps, lr, warmupSteps, minLrRatio (0.1), decaySteps, beta1 (0.9), beta2 (0.95),',
      '  eps (1e-5), weightDecay (0.1), gradClip (1.0), evalEvery, evalTokens, checkpointEvery, keepCheckpoints, outDir, logEvery',
      'Ctrl-C saves a checkpoint and exits with status 130; --resume continues it bit-exactly (same seed and threads).',
      '--resume reads and writes only OUTDIR. On resume, --lr, --threads, --backend, --max-steps, --warmup-steps, --eval-*,',
      '  --checkpoint-every and --log-every are applied (and logged); --seed, --seq-len, --batch-tokens and a config whose model',
      '  differs from the checkpoint are refused. A second trainer on the same OUTDIR fails (OUTDIR/train.lock).',
      'Writes OUTDIR/log.jsonl (plot it with `llama plot`).',
    ].join('\n'),
  },
  async run(args) {
    if (args.values['ctx-size'] !== undefined) throw new UsageError('-c is not a flag of llama train (in llama run it is --ctx-size)', 'give the training config with --config FILE.json');
    const configFile = str(args, 'config');
    const overrides: Partial<Record<keyof TrainConfig, unknown>> = {};
    for (const [flag, min] of Object.entries(FLAG_MIN)) {
      const v = args.values[flag];
      if (v !== undefined && !((v as number) >= min)) throw new UsageError(`--${flag} must be >= ${min}, got ${String(v)}`);
    }
    for (const [flag, field] of Object.entries(FLAG_FIELDS)) {
      const v = args.values[flag];
      if (v !== undefined) overrides[field] = flag === 'out' ? resolve(v as string) : v;
    }
    const resume = bool(args, 'resume');
    const overwrite = bool(args, 'overwrite');
    if (resume && overwrite) throw new UsageError('--resume and --overwrite exclude each other');
    let cfg: TrainConfig;
    if (configFile) cfg = loadTrainConfig(configFile, overrides);
    // without a config: the run in OUTDIR, continued there (never the folder its checkpoint names)
    else if (resume && overrides.outDir) cfg = { ...loadCheckpoint(join(overrides.outDir as string, 'checkpoint.bin')).header.trainConfig, outDir: overrides.outDir as string };
    else throw new UsageError('--config FILE.json is required (or --resume --out DIR)', 'run `llama train --help`');
    if (bool(args, 'prepare-only')) {
      const r = await prepareTrainingData(cfg, { log: (l) => process.stderr.write(l + '\n') });
      for (const s of r.sources) process.stderr.write(`${s.name}: ${s.trainTokens} train / ${s.valTokens} val tokens, validation baselines: unigram ${s.unigram.toFixed(4)}, bigram ${s.bigram.toFixed(4)} nats/token\n`);
      process.stdout.write(JSON.stringify(r) + '\n');
      return 0;
    }
    // every flag given on resume is applied (and logged) or refused by the trainer, never dropped
    const resumeOverrides: Partial<TrainConfig> = {};
    for (const [k, v] of Object.entries(overrides)) if (k !== 'outDir') (resumeOverrides as Record<string, unknown>)[k] = v;

    let interruptedCount = 0;
    const onSigint = () => {
      interruptedCount++;
      if (interruptedCount > 1) process.exit(130); // a second Ctrl-C does not wait for the checkpoint
      process.stderr.write('\ninterrupt: finishing this step and saving a checkpoint (Ctrl-C again to quit at once)\n');
    };
    process.on('SIGINT', onSigint);
    const tty = process.stderr.isTTY === true;
    let progressShown = false;
    try {
      const r = await train(cfg, {
        log: (line) => {
          if (progressShown) process.stderr.write('\n');
          progressShown = false;
          process.stderr.write(line + '\n');
        },
        progress: tty ? (line) => {
          process.stderr.write(`\r${line}\x1b[K`);
          progressShown = true;
        } : undefined,
        interrupted: () => interruptedCount > 0,
      }, { resume, stopAfter: num(args, 'stop-after'), resumeOverrides, overwrite });
      if (progressShown) process.stderr.write('\n');
      if (r.stepsRun === 0 && resume) {
        // the trainer said why (nothing to do); no summary of a run that did not happen
        process.stdout.write(JSON.stringify({ step: r.step, stepsRun: 0, checkpoint: r.checkpoint, interrupted: r.interrupted }) + '\n');
        return 0;
      }
      const val = Object.entries(r.valLoss).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(', ');
      // a validation from before the last step is labelled with its step, not shown as current
      const valText = !val ? '' : r.valStep === r.step ? `, validation ${val}` : `, last validation (step ${r.valStep}) ${val}`;
      const lossText = r.stepsRun > 0 ? `train loss ${r.trainLoss.toFixed(4)}` : 'no training step run';
      process.stderr.write(
        `${r.interrupted || r.stepsRun === 0 ? 'stopped' : 'done'} at step ${r.step}: ${lossText}${valText}; ` +
        `${r.tokensPerSecond.toFixed(0)} tok/s, MFU ${(r.mfu * 100).toFixed(2)}% of the ${(r.peakFlops / 1e9).toFixed(0)} GFLOP/s f32 FMA peak ${r.peakMeasured ? 'measured at the start' : '(nominal)'}` +
        `${r.peakMeasured ? ` (${(r.mfuNominal * 100).toFixed(2)}% of the nominal ${((PEAK_FLOPS_PER_THREAD * r.tm.backend.threads) / 1e9).toFixed(0)})` : ''}; checkpoint ${r.checkpoint}\n`,
      );
      process.stdout.write(JSON.stringify({ step: r.step, stepsRun: r.stepsRun, trainLoss: r.stepsRun > 0 ? r.trainLoss : null, valLoss: r.valLoss, valStep: r.valStep ?? null, tokensPerSecond: r.tokensPerSecond, mfu: r.mfu, mfuNominal: r.mfuNominal, peakGflops: r.peakFlops / 1e9, peakMeasured: r.peakMeasured, checkpoint: r.checkpoint, interrupted: r.interrupted }) + '\n');
      return r.interrupted ? 130 : 0;
    } finally {
      process.off('SIGINT', onSigint);
    }
  },
};

export { checkpointPath, formatDuration };
