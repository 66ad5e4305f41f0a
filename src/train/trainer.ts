// The training loop: data preparation, a fresh or resumed model, AdamW with warmup + cosine,
// gradient accumulation to a token batch size, periodic validation per source, atomic
// checkpoints, a JSONL log, and a progress line. Deterministic: the same config, seed and
// thread count give the same losses bit for bit, also across a checkpoint and resume.
import { appendFileSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { LlamaError } from '../errors.js';
import { FILE_WRITE_HINT, writeFileAtomic } from '../formats/file-io.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import type { TrainingBackend } from '../backend/training.js';
import { selectTrainingBackend } from '../backend/select.js';
import { DataParallel, shareWeights } from './parallel.js';
import type { LlamaConfig } from '../model/config.js';
import type { LlamaWeights } from '../model/weights.js';
import { modelConfig, type TrainConfig } from './config.js';
import { bigramLoss, fileExists, MixtureSampler, prepareSource, readShard, unigramLoss, validationWindows, type LoadedSource, type PreparedSource } from './data.js';
import { charTokenizer } from './char-tokenizer.js';
import { loadTokenizer, parseSentencePieceModel, writeSentencePieceModel } from '../tokenizer/load.js';
import { SpmTokenizer } from '../tokenizer/spm.js';
import { initWeights } from './init.js';
import { createTrainingModel, lossAndGrad, lossOnly, type TrainingModel } from './model.js';
import { AdamW } from './optimizer.js';
import { countParams, snapshotWeights } from './params.js';
import { learningRate } from './schedule.js';
import { Rng } from './rng.js';
import { greedyTokens } from './sample.js';
import { loadCheckpoint, saveCheckpoint, type CheckpointHeader, type LoadedCheckpoint } from './checkpoint.js';
import type { ParamGrads } from './tape.js';

/**
 * Nominal f32 FMA peak per thread in ../shared/docs/performance-facts.md (Zen 5: two 512-bit FMA
 * pipes at ~4.05 GHz). MFU is reported against the peak the backend measures at the start of the
 * run (the machine may be another: a Zen 4 core, whose AVX-512 is double-pumped, reaches about
 * half of this), and against this figure as `mfuNominal`.
 */
export const PEAK_FLOPS_PER_THREAD = 260e9;

export interface TrainHooks {
  /** progress and notices (stderr) */
  log(line: string): void;
  /** redraw the progress line in place (TTY); absent -> plain lines every logEvery steps */
  progress?(line: string): void;
  /** polled after every step: true -> save a checkpoint and stop (Ctrl-C) */
  interrupted?(): boolean;
  /** pick the backend by name (the CLI knows which ones exist) */
  backend?(name: string, threads: number): Promise<TrainingBackend> | TrainingBackend;
  /** load a tokenizer file (tokenizer.model / .json / GGUF) */
  loadTokenizer?(path: string): Promise<Tokenizer>;
}

export interface TrainResult {
  readonly step: number;
  readonly interrupted: boolean;
  /** optimizer steps this call ran (0: nothing to do, or stopped before the first) */
  readonly stepsRun: number;
  /** the last step's loss (NaN when no step ran) */
  readonly trainLoss: number;
  /** the last validation of this call, at `valStep` (empty when none ran) */
  readonly valLoss: Record<string, number>;
  readonly valStep?: number;
  readonly checkpoint: string;
  readonly tokensPerSecond: number;
  /** model FLOPs utilisation against the FMA peak measured at the start (nominal when unmeasurable) */
  readonly mfu: number;
  /** against PEAK_FLOPS_PER_THREAD x threads */
  readonly mfuNominal: number;
  /** the peak `mfu` is relative to (FLOP/s) and whether it was measured */
  readonly peakFlops: number;
  readonly peakMeasured: boolean;
  readonly tm: TrainingModel;
  readonly tokenizer: Tokenizer;
}

/** FLOPs of one token of training: 6 per matmul parameter plus causal attention (6·layers·T·dim). */
export function trainFlopsPerToken(c: LlamaConfig, seqLen: number): number {
  return 6 * countParams(c).matmul + 6 * c.nLayers * seqLen * c.nHeads * c.headDim;
}

export function checkpointPath(cfg: TrainConfig): string {
  return join(cfg.outDir, 'checkpoint.bin');
}

export interface TrainOptions {
  /** continue from OUTDIR/checkpoint.bin (OUTDIR is cfg.outDir, never the folder recorded in the checkpoint) */
  resume?: boolean;
  /** stop after this step without changing the schedule */
  stopAfter?: number;
  /** settings the user gave explicitly for a resumed run: applied and logged, or refused (RESUME_REFUSED) */
  resumeOverrides?: Partial<TrainConfig>;
  /** a fresh run may replace the run already in OUTDIR (otherwise that is refused) */
  overwrite?: boolean;
}

/** Settings a resumed run may change (logged, and recorded in the log's `resume` record). */
export const RESUME_APPLIED: ReadonlySet<keyof TrainConfig> = new Set<keyof TrainConfig>(['maxSteps', 'evalEvery', 'evalTokens', 'checkpointEvery', 'logEvery', 'keepCheckpoints', 'lr', 'warmupSteps', 'minLrRatio', 'decaySteps', 'threads', 'backend']);
/** Settings fixed by the checkpoint: changing them on resume is refused. */
export const RESUME_REFUSED: ReadonlySet<keyof TrainConfig> = new Set<keyof TrainConfig>(['seed', 'seqLen', 'batchTokens', 'model', 'tokenizer', 'beta1', 'beta2', 'eps', 'weightDecay', 'gradClip']);

const RUN_FILES = ['checkpoint.bin', 'log.jsonl'];

export async function train(cfgIn: TrainConfig, hooks: TrainHooks, opts: TrainOptions = {}): Promise<TrainResult> {
  // the output folder is the one the caller names: a resumed run reads and writes only there
  const outDir = cfgIn.outDir;
  ensureDir(outDir, 'the training output folder');
  const unlock = lockOutDir(outDir);
  try {
    return await trainLocked(cfgIn, outDir, hooks, opts);
  } finally {
    unlock();
  }
}

async function trainLocked(cfgIn: TrainConfig, outDir: string, hooks: TrainHooks, opts: TrainOptions): Promise<TrainResult> {
  let cfg = cfgIn;
  const ckptPath = join(outDir, 'checkpoint.bin');
  const logPath = join(outDir, 'log.jsonl');
  if (!opts.resume) refuseExistingRun(outDir, opts.overwrite === true);
  const resumed = opts.resume ? loadCheckpoint(ckptPath) : undefined;
  let applied: Record<string, { from: unknown; to: unknown }> = {};
  if (resumed) {
    if (resumed.unverified) hooks.log(`warning: ${ckptPath} has no checksum (written by an older llama-ts): damage to it cannot be detected`);
    ({ cfg, applied } = resumedConfig(cfgIn, resumed.header, ckptPath, opts.resumeOverrides ?? {}, hooks));
  }
  ensureDir(cfg.data.dir, 'the data folder');
  const record = (o: Record<string, unknown>) => {
    try {
      appendFileSync(logPath, JSON.stringify(o) + '\n');
    } catch (e) {
      throw new LlamaError('FILE_WRITE', `cannot append to the training log: ${(e as Error).message}`, { file: logPath, cause: e, hint: FILE_WRITE_HINT });
    }
  };
  const stopAt = Math.min(cfg.maxSteps, opts.stopAfter ?? Infinity);
  const nothingToDo = resumed !== undefined && resumed.header.step >= stopAt;
  if (nothingToDo) {
    hooks.log(`nothing to do: ${ckptPath} is already at step ${resumed.header.step}, and this run stops at step ${stopAt} (${stopAt === cfg.maxSteps ? 'max-steps' : '--stop-after'}); raise --max-steps to train further`);
  } else if (resumed) {
    // a run killed after its last checkpoint logged steps that will now be trained again: drop them
    const dropped = truncateLog(logPath, resumed.header.step);
    record({ type: 'resume', step: resumed.header.step, time: new Date().toISOString(), checkpoint: ckptPath, droppedRecords: dropped, overrides: applied });
  }

  // ---- tokenizer and data ----
  const tokenizer = await resolveTokenizer(cfg, resumed?.header.tokenizer, hooks);
  const prepared = prepareData(cfg, tokenizer, hooks);
  const sources: LoadedSource[] = prepared.map((p) => ({ name: p.name, weight: p.weight, train: readShard(p.train), val: readShard(p.val) }));

  // ---- model and optimizer ----
  const mc = resumed ? resumed.header.modelConfig : modelConfig(cfg.model, tokenizer.vocabSize, cfg.seqLen);
  if (mc.vocabSize !== tokenizer.vocabSize) throw new LlamaError('CHECKPOINT', `the checkpoint's vocabulary (${mc.vocabSize}) differs from the tokenizer's (${tokenizer.vocabSize})`, { file: ckptPath });
  let weights = resumed ? weightsFromCheckpoint(mc, resumed.tensors) : initWeights(mc, cfg.seed);
  const backend = hooks.backend ? await hooks.backend(cfg.backend, cfg.threads) : await selectTrainingBackend(cfg.backend, cfg.threads);
  // the js backend has one thread: more threads split each step's sequences over worker threads
  const dataParallel = backend.dataParallelWorkers === true && cfg.threads > 1;
  if (dataParallel) weights = shareWeights(weights);
  const tm = createTrainingModel(mc, weights, backend);
  const pool = dataParallel ? new DataParallel(tm, cfg.threads, cfg.seqLen) : undefined;
  const threads = pool ? cfg.threads : backend.threads;
  try {
    return await trainLoop({ cfg, hooks, opts, resumed, tm, backend, threads, pool, sources, tokenizer, mc, ckptPath, record, stopAt, nothingToDo });
  } finally {
    await pool?.close();
  }
}

/** mkdir -p, as a FILE_WRITE error naming the folder (before any data preparation). */
function ensureDir(dir: string, what: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new LlamaError('FILE_WRITE', `cannot create ${what}: ${(e as Error).message}`, { file: dir, cause: e, hint: `${FILE_WRITE_HINT} (choose another folder with -o / outDir)` });
  }
}

function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * OUTDIR/train.lock holds the pid of the trainer writing the folder: a second trainer fails at
 * once; a lock left by a process that no longer exists (kill -9) is taken over.
 */
function lockOutDir(dir: string): () => void {
  const path = join(dir, 'train.lock');
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: 'wx' });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new LlamaError('FILE_WRITE', `cannot write in the training output folder: ${(e as Error).message}`, { file: dir, cause: e, hint: `${FILE_WRITE_HINT} (choose another folder with -o / outDir)` });
      }
      let pid = NaN;
      try {
        pid = Number.parseInt(readFileSync(path, 'utf8'), 10);
      } catch {
        // removed meanwhile: try again
      }
      if (pidAlive(pid) && attempt < 3) {
        throw new LlamaError('TRAIN_OUTDIR', `another llama train (pid ${pid}) is writing to this folder`, { file: dir, hint: `wait for it to finish, or train into another folder (-o); if no such process exists, delete ${path}` });
      }
      if (attempt >= 3) throw new LlamaError('TRAIN_OUTDIR', 'cannot take the training lock', { file: path, hint: 'delete the lock file if no trainer is running' });
      rmSync(path, { force: true }); // stale: its process is gone
    }
  }
  const release = () => rmSync(path, { force: true });
  process.once('exit', release);
  return () => {
    process.off('exit', release);
    release();
  };
}

/** A fresh run must not replace an earlier one by accident. */
function refuseExistingRun(dir: string, overwrite: boolean): void {
  const present = RUN_FILES.filter((f) => existsSync(join(dir, f)));
  if (present.length === 0) return;
  if (!overwrite) {
    throw new LlamaError('TRAIN_OUTDIR', `the folder already holds a training run (${present.join(', ')})`, {
      file: dir,
      hint: 'continue it with --resume, train into another folder (-o DIR), or pass --overwrite to replace it',
    });
  }
  for (const f of readdirSync(dir)) if (f === 'log.jsonl' || /^checkpoint(-best|-\d+)?\.bin$/.test(f)) rmSync(join(dir, f), { force: true });
}

/**
 * The config of a resumed run: the checkpoint's, with the folders of this invocation, and the
 * settings the user gave explicitly applied (logged) or refused. A config file whose model does
 * not match the checkpoint is refused.
 */
function resumedConfig(cfgIn: TrainConfig, header: CheckpointHeader, ckptPath: string, overrides: Partial<TrainConfig>, hooks: Pick<TrainHooks, 'log'>): { cfg: TrainConfig; applied: Record<string, { from: unknown; to: unknown }> } {
  const saved = header.trainConfig;
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  for (const [k, v] of Object.entries(overrides)) {
    const key = k as keyof TrainConfig;
    if (v === undefined || key === 'outDir' || same(v, saved[key])) continue;
    if (!RESUME_APPLIED.has(key)) {
      throw new LlamaError('TRAIN_CONFIG', `${key} cannot change when resuming (the checkpoint has ${JSON.stringify(saved[key])}, you gave ${JSON.stringify(v)})`, {
        file: ckptPath,
        hint: `drop that setting to resume, or start a new run in another folder; a resumed run may change: ${[...RESUME_APPLIED].join(', ')}`,
      });
    }
  }
  // the model the config describes must be the checkpoint's
  const want = header.modelConfig;
  let got: LlamaConfig | undefined;
  try {
    got = modelConfig(cfgIn.model, want.vocabSize, cfgIn.seqLen);
  } catch {
    got = undefined;
  }
  const diffs = got ? (Object.keys(want) as (keyof LlamaConfig)[]).filter((k) => !same(want[k], got![k])) : ['model'];
  if (cfgIn.batchTokens !== saved.batchTokens) diffs.push('batchTokens' as keyof LlamaConfig);
  if (cfgIn.tokenizer.type !== saved.tokenizer.type) diffs.push('tokenizer' as keyof LlamaConfig);
  if (diffs.length > 0) {
    const show = (k: string) => k === 'batchTokens' ? `batchTokens ${saved.batchTokens} vs ${cfgIn.batchTokens}` : k === 'tokenizer' ? `tokenizer ${saved.tokenizer.type} vs ${cfgIn.tokenizer.type}` : got ? `${k} ${JSON.stringify(want[k as keyof LlamaConfig])} vs ${JSON.stringify(got[k as keyof LlamaConfig])}` : 'the config\'s model is invalid';
    throw new LlamaError('CHECKPOINT', `the checkpoint does not match the training config (checkpoint vs config: ${diffs.map(show).join(', ')})`, {
      file: ckptPath,
      hint: 'resume with the config the run was started with (or without --config), or start a new run in another folder (-o DIR)',
    });
  }
  const applied: Record<string, { from: unknown; to: unknown }> = {};
  const out: Record<string, unknown> = { ...saved, outDir: cfgIn.outDir, data: cfgIn.data, tokenizer: cfgIn.tokenizer };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined || k === 'outDir' || same(v, saved[k as keyof TrainConfig])) continue;
    applied[k] = { from: saved[k as keyof TrainConfig], to: v };
    out[k] = v;
    hooks.log(`resume: ${k} changed from ${JSON.stringify(saved[k as keyof TrainConfig])} to ${JSON.stringify(v)}${k === 'threads' || k === 'backend' ? ' (losses may differ in the last bits from an uninterrupted run)' : ''}`);
  }
  // a config file that differs elsewhere: say which of its settings the checkpoint overrules
  const ignored = (Object.keys(saved) as (keyof TrainConfig)[]).filter((k) => !['outDir', 'data', 'tokenizer', 'model'].includes(k) && !(k in applied) && overrides[k] === undefined && cfgIn[k] !== undefined && !same(cfgIn[k], saved[k]));
  if (ignored.length > 0) hooks.log(`resume: the checkpoint's ${ignored.map((k) => `${k} ${JSON.stringify(saved[k])}`).join(', ')} kept (the config says ${ignored.map((k) => `${k} ${JSON.stringify(cfgIn[k])}`).join(', ')}; give the flag to change it)`);
  return { cfg: out as unknown as TrainConfig, applied };
}

/** Removes log records of steps after `step` (trained again after a resume); returns how many. */
function truncateLog(logPath: string, step: number): number {
  if (!existsSync(logPath)) return 0;
  const lines = readFileSync(logPath, 'utf8').split('\n').filter((l) => l.trim() !== '');
  const keep = lines.filter((l) => {
    try {
      const r = JSON.parse(l) as { step?: unknown };
      return typeof r.step !== 'number' || r.step <= step;
    } catch {
      return false; // a line torn by the kill
    }
  });
  if (keep.length !== lines.length) writeFileAtomic(logPath, keep.map((l) => l + '\n').join(''));
  return lines.length - keep.length;
}

interface LoopContext {
  readonly cfg: TrainConfig;
  readonly hooks: TrainHooks;
  readonly opts: { stopAfter?: number };
  readonly resumed: LoadedCheckpoint | undefined;
  readonly stopAt: number;
  readonly nothingToDo: boolean;
  readonly tm: TrainingModel;
  readonly backend: TrainingBackend;
  readonly threads: number;
  readonly pool: DataParallel | undefined;
  readonly sources: LoadedSource[];
  readonly tokenizer: Tokenizer;
  readonly mc: LlamaConfig;
  readonly ckptPath: string;
  record(o: Record<string, unknown>): void;
}

/** The optimizer steps: sample, forward + backward, clip + AdamW, log, validate, checkpoint. */
async function trainLoop(ctx: LoopContext): Promise<TrainResult> {
  const { cfg, hooks, resumed, tm, backend, threads, pool, sources, tokenizer, mc, ckptPath, record, stopAt, nothingToDo } = ctx;
  const opt = new AdamW(backend, tm.params, { beta1: cfg.beta1, beta2: cfg.beta2, eps: cfg.eps, weightDecay: cfg.weightDecay, gradClip: cfg.gradClip });
  let step = 0;
  let tokensSeen = 0;
  let elapsedBefore = 0;
  const rng = resumed ? Rng.fromState(resumed.header.rngState) : new Rng((cfg.seed ^ 0x5eed5eed) >>> 0);
  if (resumed) {
    const byName = new Map(resumed.tensors.map((t) => [t.name, t]));
    tm.params.forEach((p, i) => {
      const t = byName.get(p.name);
      if (!t || t.values.length !== p.values.length) throw new LlamaError('CHECKPOINT', `checkpoint tensor ${p.name} is missing or has the wrong size`, { file: ckptPath });
      opt.m[i]!.set(t.m);
      opt.v[i]!.set(t.v);
    });
    step = resumed.header.step;
    opt.step = step;
    tokensSeen = resumed.header.tokensSeen;
    elapsedBefore = resumed.header.elapsed;
    if (!nothingToDo) hooks.log(`resuming ${ckptPath} at step ${step}`);
  }
  const sampler = new MixtureSampler(sources, cfg.seqLen, rng);
  const accum = cfg.batchTokens / cfg.seqLen;
  const session = tm.model.newSession({ ctxSize: cfg.seqLen });
  const grads: ParamGrads = new Map();
  const flopsPerToken = trainFlopsPerToken(mc, cfg.seqLen);
  const nominalPeak = PEAK_FLOPS_PER_THREAD * threads;
  const measuredPeak = backend.fmaPeakFlops?.();
  const peak = measuredPeak ?? nominalPeak;
  const decaySteps = cfg.decaySteps ?? cfg.maxSteps;
  const { total: nParams } = countParams(mc);

  if (!resumed) {
    hooks.log(`model: dim ${mc.dim}, ${mc.nLayers} layers, ${mc.nHeads} heads (${mc.nKvHeads} KV), ffn ${mc.ffnDim}, vocab ${mc.vocabSize}, ${nParams.toLocaleString('en-US')} parameters; ${accum} x ${cfg.seqLen} tokens per step on ${backend.name} (${threads} thread${threads > 1 ? 's' : ''})`);
    record({ type: 'start', time: new Date().toISOString(), params: nParams, modelConfig: mc, batchTokens: cfg.batchTokens, seqLen: cfg.seqLen, backend: backend.name, threads, peakFlops: peak, peakMeasured: measuredPeak !== undefined });
    hooks.log(measuredPeak !== undefined
      ? `MFU is against the f32 FMA peak measured now: ${(measuredPeak / 1e9).toFixed(0)} GFLOP/s at ${threads} thread${threads > 1 ? 's' : ''} (nominal ${(nominalPeak / 1e9).toFixed(0)})`
      : `MFU is against the nominal f32 FMA peak, ${(nominalPeak / 1e9).toFixed(0)} GFLOP/s (this backend cannot measure its own)`);
    for (const s of sources) {
      const base = unigramLoss(s.train.tokens, s.val.tokens, mc.vocabSize);
      const bigram = bigramLoss(s.train.tokens, s.val.tokens, mc.vocabSize);
      record({ type: 'baseline', source: s.name, unigram: base, bigram, trainTokens: s.train.tokens.length, valTokens: s.val.tokens.length });
      hooks.log(`source ${s.name}: ${s.train.tokens.length} train / ${s.val.tokens.length} val tokens, weight ${s.weight}; validation baselines: unigram ${base.toFixed(4)}, bigram ${bigram.toFixed(4)} nats/token`);
    }
  }

  const evaluate = (): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const s of sources) {
      let sum = 0;
      let count = 0;
      for (const w of validationWindows(s.val, cfg.seqLen, cfg.evalTokens)) {
        const r = lossOnly(tm, session, w.inputs, w.targets);
        sum += r.sum;
        count += r.count;
      }
      if (count > 0) out[s.name] = sum / count;
    }
    return out;
  };
  let bestVal = resumed?.header.bestVal ?? Infinity;
  const bestPath = join(cfg.outDir, 'checkpoint-best.bin');
  const save = (elapsed: number, path = ckptPath) => {
    saveCheckpoint(
      path,
      { step, tokensSeen, rngState: rng.getState(), trainConfig: cfg, modelConfig: mc, tokenizer: tokenizerRecord(tokenizer, cfg), elapsed, bestVal: Number.isFinite(bestVal) ? bestVal : null },
      tm.params.map((p, i) => ({ name: p.name, shape: p.shape, values: p.values, m: opt.m[i]!, v: opt.v[i]! })),
    );
    if (path === ckptPath && cfg.keepCheckpoints) copyFileSync(ckptPath, join(cfg.outDir, `checkpoint-${step}.bin`));
  };
  /** validation loss of the mixture: the sources' losses weighted like the training draws */
  const mixtureLoss = (val: Record<string, number>): number => {
    let num = 0;
    let den = 0;
    for (const s of sources) if (val[s.name] !== undefined && s.weight > 0) {
      num += s.weight * val[s.name]!;
      den += s.weight;
    }
    return den > 0 ? num / den : NaN;
  };

  const t0 = performance.now();
  let lastLoss = NaN;
  let lastVal: Record<string, number> = {};
  let lastValStep: number | undefined;
  let interrupted = false;
  let stepsThisRun = 0;
  while (step < stopAt) {
    const lr = learningRate(step, { peakLr: cfg.lr, warmupSteps: cfg.warmupSteps, decaySteps, minLrRatio: cfg.minLrRatio });
    let sum = 0;
    let count = 0;
    if (pool) {
      const seqs = Array.from({ length: accum }, () => sampler.next());
      ({ sum, count } = await pool.step(session, seqs, 1 / cfg.batchTokens, grads));
    } else {
      for (let a = 0; a < accum; a++) {
        const s = sampler.next();
        const r = lossAndGrad(tm, session, s.inputs, s.targets, 1 / cfg.batchTokens, grads);
        sum += r.sum;
        count += r.count;
      }
    }
    const gradNorm = opt.update(grads, lr);
    step++;
    stepsThisRun++;
    tokensSeen += count;
    lastLoss = sum / count;
    if (!Number.isFinite(lastLoss)) {
      throw new LlamaError('TRAIN_DIVERGED', `training diverged: the loss became ${lastLoss} at step ${step} (learning rate ${lr.toExponential(2)}, peak ${cfg.lr})`, {
        hint: `lower the learning rate (--lr, e.g. ${(cfg.lr / 10).toExponential(0)}) or lengthen the warmup (--warmup-steps); resume from the last checkpoint with --resume --lr`,
      });
    }
    const secs = (performance.now() - t0) / 1000;
    const tokPerSec = (stepsThisRun * cfg.batchTokens) / secs;
    const mfu = (tokPerSec * flopsPerToken) / peak;
    record({ type: 'train', step, loss: lastLoss, lr, gradNorm, tokens: tokensSeen, tokPerSec, mfu });
    const eta = ((stopAt - step) * cfg.batchTokens) / tokPerSec;
    const line = `step ${step}/${cfg.maxSteps} | loss ${lastLoss.toFixed(4)} | lr ${lr.toExponential(2)} | ${formatRate(tokPerSec)} tok/s | MFU ${(mfu * 100).toFixed(2)}% | ETA ${formatDuration(eta)}`;
    if (hooks.progress) hooks.progress(line);
    else if (step % cfg.logEvery === 0 || step === stopAt) hooks.log(line);

    const last = step === stopAt;
    if ((cfg.evalEvery > 0 && step % cfg.evalEvery === 0) || (last && step === cfg.maxSteps)) {
      lastVal = evaluate();
      lastValStep = step;
      for (const [source, loss] of Object.entries(lastVal)) record({ type: 'val', step, source, loss });
      const mix = mixtureLoss(lastVal);
      if (sources.length > 1) record({ type: 'val', step, source: 'mixture', loss: mix });
      hooks.log(`step ${step} validation: ${Object.entries(lastVal).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(', ')} ${sources.length > 1 ? `(mixture ${mix.toFixed(4)})` : ''}`.trimEnd());
      if (mix < bestVal) {
        bestVal = mix;
        save(elapsedBefore + (performance.now() - t0) / 1000, bestPath);
        record({ type: 'checkpoint', step, path: bestPath, best: mix });
      }
      // a greedy continuation of BOS shows what the model has learnt (logged, not printed)
      if (tokenizer.bosId !== undefined) {
        const ids = greedyTokens(tm, [tokenizer.bosId], Math.min(48, cfg.seqLen - 1));
        record({ type: 'sample', step, text: tokenizer.decode(ids) });
      }
    }
    // let a pending Ctrl-C be delivered (the loop is otherwise synchronous)
    await new Promise((r) => setImmediate(r));
    interrupted = hooks.interrupted?.() ?? false;
    if (interrupted || last || (cfg.checkpointEvery > 0 && step % cfg.checkpointEvery === 0)) {
      save(elapsedBefore + secs);
      record({ type: 'checkpoint', step, path: ckptPath });
    }
    if (interrupted) {
      hooks.log(`interrupted: checkpoint saved at step ${step} (${ckptPath}); continue with --resume`);
      break;
    }
  }
  const secs = (performance.now() - t0) / 1000;
  const tokensPerSecond = stepsThisRun > 0 ? (stepsThisRun * cfg.batchTokens) / secs : 0;
  const mfu = (tokensPerSecond * flopsPerToken) / peak;
  const mfuNominal = (tokensPerSecond * flopsPerToken) / nominalPeak;
  if (!nothingToDo) {
    if (stepsThisRun === 0 && !interrupted) save(elapsedBefore);
    record({ type: 'end', step, interrupted, trainLoss: lastLoss, val: lastVal, tokPerSec: tokensPerSecond, mfu, mfuNominal, peakFlops: peak, seconds: secs });
  }
  return { step, stepsRun: stepsThisRun, interrupted, trainLoss: lastLoss, valLoss: lastVal, ...(lastValStep !== undefined ? { valStep: lastValStep } : {}), checkpoint: ckptPath, tokensPerSecond, mfu, mfuNominal, peakFlops: peak, peakMeasured: measuredPeak !== undefined, tm, tokenizer };
}

function weightsFromCheckpoint(mc: LlamaConfig, tensors: readonly { name: string; shape: readonly number[]; values: Float32Array }[]): LlamaWeights {
  // reuse snapshotWeights' naming by presenting the tensors as params
  return snapshotWeights(tensors.map((t) => ({ name: t.name, key: t.values, values: t.values, shape: t.shape, decay: false })), mc.nLayers);
}

async function resolveTokenizer(cfg: TrainConfig, saved: unknown, hooks: TrainHooks): Promise<Tokenizer> {
  const rec = saved as { spmModel?: string; path?: string } | undefined;
  if (rec?.spmModel) return new SpmTokenizer(parseSentencePieceModel(Buffer.from(rec.spmModel, 'base64'), 'checkpoint'));
  if (cfg.tokenizer.type === 'char') {
    const saveAs = join(cfg.data.dir, 'tokenizer.model');
    if (fileExists(saveAs)) return loadTokenizer(saveAs);
    let text = '';
    for (const s of cfg.data.sources) for (const f of s.files) text += readFileSync(f, 'utf8');
    const tok = charTokenizer(text);
    writeFileAtomic(saveAs, writeSentencePieceModel(tok.model));
    return tok;
  }
  return hooks.loadTokenizer ? hooks.loadTokenizer(cfg.tokenizer.path) : loadTokenizer(cfg.tokenizer.path);
}

/** What a checkpoint keeps of the tokenizer: a SentencePiece model in full, else the file's path. */
function tokenizerRecord(tok: Tokenizer, cfg: TrainConfig): unknown {
  if (tok instanceof SpmTokenizer) return { spmModel: Buffer.from(writeSentencePieceModel(tok.model)).toString('base64') };
  return { path: cfg.tokenizer.type === 'file' ? cfg.tokenizer.path : undefined };
}

/** The tokenizer saved in a checkpoint. */
export function checkpointTokenizer(saved: unknown): Tokenizer {
  const rec = saved as { spmModel?: string; path?: string } | undefined;
  if (rec?.spmModel) return new SpmTokenizer(parseSentencePieceModel(Buffer.from(rec.spmModel, 'base64'), 'checkpoint'));
  if (rec?.path) return loadTokenizer(rec.path);
  throw new LlamaError('CHECKPOINT', 'the checkpoint names no tokenizer');
}

/**
 * The data step alone (`llama train --prepare-only`): tokenizer, token shards, and per source the
 * token counts and the unigram baseline on the validation split.
 */
export async function prepareTrainingData(cfg: TrainConfig, hooks: TrainHooks): Promise<{ vocabSize: number; sources: (PreparedSource & { unigram: number; bigram: number })[] }> {
  ensureDir(cfg.data.dir, 'the data folder');
  const tokenizer = await resolveTokenizer(cfg, undefined, hooks);
  const prepared = prepareData(cfg, tokenizer, hooks);
  return {
    vocabSize: tokenizer.vocabSize,
    sources: prepared.map((p) => {
      const tr = readShard(p.train).tokens, va = readShard(p.val).tokens;
      return { ...p, unigram: unigramLoss(tr, va, tokenizer.vocabSize), bigram: bigramLoss(tr, va, tokenizer.vocabSize) };
    }),
  };
}

/** Tokenize the sources once; a manifest records what was prepared so a changed config re-prepares. */
export function prepareData(cfg: TrainConfig, tok: Tokenizer, hooks: Pick<TrainHooks, 'log'>): PreparedSource[] {
  const manifestPath = join(cfg.data.dir, 'data.json');
  // the tokenizer's content is part of the fingerprint: a retrained tokenizer of the same size re-prepares
  const tokHash = tok instanceof SpmTokenizer ? createHash('sha256').update(writeSentencePieceModel(tok.model)).digest('hex') : '';
  const fingerprint = JSON.stringify({ sources: cfg.data.sources, vocab: tok.vocabSize, tokenizer: cfg.tokenizer, tokHash });
  if (fileExists(manifestPath)) {
    try {
      const m = JSON.parse(readFileSync(manifestPath, 'utf8')) as { fingerprint: string; sources: PreparedSource[] };
      if (m.fingerprint === fingerprint && m.sources.every((s) => fileExists(s.train) && fileExists(s.val))) return m.sources;
    } catch {
      // a damaged manifest is simply rebuilt
    }
  }
  const out: PreparedSource[] = [];
  for (const s of cfg.data.sources) {
    hooks.log(`preparing ${s.name} (${s.files.length} file${s.files.length > 1 ? 's' : ''})`);
    out.push(prepareSource(s, tok, join(cfg.data.dir, '/')));
  }
  writeFileAtomic(manifestPath, JSON.stringify({ fingerprint, sources: out }, null, 1));
  return out;
}

function formatRate(x: number): string {
  return x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : x >= 1e3 ? `${(x / 1e3).toFixed(1)}k` : x.toFixed(0);
}

export function formatDuration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  s = Math.round(s);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

