// The fine-tuning loop: a base model from any file we load, LoRA adapters (or every weight with
// --full), masked instruction data, AdamW with warmup + cosine (src/train), validation loss on the
// held-out responses, a log.jsonl `llama plot` draws, atomic checkpoints (adapter/weights +
// optimizer state) and exact resume.
//
// Determinism: the example order is a seeded permutation per epoch and the dropout masks are seeded
// by the global example index, so neither needs state beyond the step number; a resumed run
// computes the same losses bit for bit as an uninterrupted one (same backend and thread count).
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LlamaError } from '../errors.js';
import { loadModel } from '../model/load.js';
import type { LoadedModel } from '../model/loaded.js';
import type { LlamaConfig } from '../model/config.js';
import { findTokenizerFor } from '../api/open.js';
import { readChatTemplateSource, resolveChatTemplate } from '../chat/index.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { selectTrainingBackend } from '../backend/select.js';
import type { TrainingBackend } from '../backend/training.js';
import { createTrainingModel, lossAndGrad, lossOnly, type TrainingModel } from '../train/model.js';
import { AdamW, ADAMW_DEFAULTS } from '../train/optimizer.js';
import { learningRate } from '../train/schedule.js';
import { snapshotWeights } from '../train/params.js';
import { exportGguf } from '../train/export.js';
import { Rng } from '../train/rng.js';
import type { ParamGrads } from '../train/tape.js';
import { writeFileAtomic } from '../formats/file-io.js';
import { f32Weights } from './merge.js';
import { dtypeName } from '../tensor/dtype.js';
import { writeLoraGguf, writeLoraPeft } from '../model/lora-io.js';
import { createLoraTrainingModel, trainedAdapter, type LoraTrainingModel, type LoraTrainOptions } from './lora-train.js';
import { loadInstructData, type Example, type FinetuneFormat, type InstructData } from './data.js';

export interface FinetuneOptions {
  readonly base: string;
  readonly data: string;
  readonly format?: FinetuneFormat | undefined;
  readonly chatTemplate?: string | undefined;
  readonly tokenizer?: string | undefined;
  readonly outDir: string;
  /** LoRA settings, or undefined for full fine-tuning */
  readonly lora: LoraTrainOptions | undefined;
  readonly epochs?: number | undefined;
  readonly steps?: number | undefined;
  readonly lr: number;
  readonly warmupSteps: number;
  /** examples per optimizer step (gradient accumulation) */
  readonly batch: number;
  readonly seqLen: number;
  readonly seed: number;
  readonly backend: string;
  readonly threads: number;
  readonly valFraction: number;
  /** validate every N steps (and at the end) */
  readonly evalEvery: number;
  /** checkpoint every N steps (and at the end) */
  readonly saveEvery: number;
  /** use only the first N records */
  readonly limit?: number | undefined;
  readonly weightDecay?: number | undefined;
}

export interface FinetuneHooks {
  log(line: string): void;
  progress?(line: string): void;
  interrupted?(): boolean;
  /** stop (as if interrupted) after this many steps of this invocation: for resume tests */
  stopAfter?: number;
}

export interface FinetuneResult {
  readonly step: number;
  readonly totalSteps: number;
  readonly interrupted: boolean;
  readonly trainLoss: number;
  /** mean loss per response token on the held-out examples, before training and now */
  readonly valLossBefore: number;
  readonly valLoss: number;
  readonly losses: number[];
  readonly tokensPerSecond: number;
  readonly outputs: string[];
  /** the trained model (its base file is closed: do not run it) */
  readonly tm: TrainingModel;
  readonly tokenizer: Tokenizer;
  readonly data: InstructData;
}

const CKPT_MAGIC = 'LLTSFT01';
export const FINETUNE_CHECKPOINT = 'finetune-checkpoint.bin';

interface CheckpointState {
  readonly step: number;
  readonly adamStep: number;
  readonly fingerprint: string;
  readonly losses: number[];
  readonly valLossBefore: number;
}

/** What must match for a resume to be exact. */
function fingerprint(o: FinetuneOptions, totalSteps: number, nTrain: number): string {
  return JSON.stringify({ lora: o.lora ?? 'full', lr: o.lr, warmup: o.warmupSteps, batch: o.batch, seqLen: o.seqLen, seed: o.seed, totalSteps, nTrain, valFraction: o.valFraction, wd: o.weightDecay ?? null });
}

function saveState(path: string, state: CheckpointState, tm: TrainingModel, opt: AdamW): void {
  const header = new TextEncoder().encode(JSON.stringify({ ...state, params: tm.params.map((p) => ({ name: p.name, n: p.values.length })) }));
  const len = new Uint8Array(4);
  new DataView(len.buffer).setUint32(0, header.length, true);
  const chunks: Uint8Array[] = [new TextEncoder().encode(CKPT_MAGIC), len, header];
  // 4-byte alignment of the float data is not needed: the reader copies
  tm.params.forEach((p, i) => {
    for (const a of [p.values, opt.m[i]!, opt.v[i]!]) chunks.push(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  });
  writeFileAtomic(path, chunks);
}

function loadState(path: string, tm: TrainingModel, opt: AdamW): CheckpointState {
  const buf = readFileSync(path);
  if (buf.subarray(0, 8).toString('latin1') !== CKPT_MAGIC) throw new LlamaError('CHECKPOINT', 'not a fine-tuning checkpoint', { file: path });
  const hlen = buf.readUInt32LE(8);
  const header = JSON.parse(buf.subarray(12, 12 + hlen).toString('utf8')) as CheckpointState & { params: { name: string; n: number }[] };
  if (header.params.length !== tm.params.length || header.params.some((p, i) => p.name !== tm.params[i]!.name || p.n !== tm.params[i]!.values.length)) {
    throw new LlamaError('CHECKPOINT', 'the checkpoint holds other parameters than this run trains', { file: path, hint: 'resume with the same --lora-r / --lora-targets / --full and base model' });
  }
  let off = 12 + hlen;
  const read = (dst: Float32Array) => {
    const bytes = buf.subarray(off, off + dst.byteLength);
    if (bytes.length !== dst.byteLength) throw new LlamaError('CHECKPOINT', 'the checkpoint is truncated', { file: path });
    new Uint8Array(dst.buffer, dst.byteOffset, dst.byteLength).set(bytes);
    off += dst.byteLength;
  };
  tm.params.forEach((p, i) => {
    read(p.values);
    read(opt.m[i]!);
    read(opt.v[i]!);
    if (typeof p.key === 'object' && !(p.key instanceof Float32Array)) tm.backend.weightUpdated(p.key);
  });
  opt.step = header.adamStep;
  return header;
}

/** Mean loss per counted (response) token over examples, dropout off. */
export function evalLoss(tm: TrainingModel, examples: readonly Example[]): number {
  const lora = (tm as Partial<LoraTrainingModel>).lora;
  const saved = lora?.dropout ?? 0;
  if (lora) lora.dropout = 0;
  let sum = 0;
  let count = 0;
  const maxT = Math.max(1, ...examples.map((e) => e.inputs.length));
  const session = tm.model.newSession({ ctxSize: maxT });
  for (const e of examples) {
    const r = lossOnly(tm, session, e.inputs, e.targets);
    sum += r.sum;
    count += r.count;
  }
  if (lora) lora.dropout = saved;
  return count ? sum / count : NaN;
}

export interface OpenedBase {
  readonly loaded: LoadedModel;
  readonly tokenizer: Tokenizer;
  readonly config: LlamaConfig;
}

export async function finetune(o: FinetuneOptions, hooks: FinetuneHooks, resume = false): Promise<FinetuneResult> {
  const loaded = await loadModel(o.base, o.tokenizer !== undefined ? { tokenizerPath: o.tokenizer } : {});
  try {
    const tokenizer = findTokenizerFor(loaded, o.tokenizer);
    const template = resolveChatTemplate({ source: readChatTemplateSource(o.base), override: o.chatTemplate, tokenizer });
    const seqLen = Math.min(o.seqLen, loaded.config.contextLength);
    const data = loadInstructData(o.data, { format: o.format, tokenizer, template, seqLen, valFraction: o.valFraction, seed: o.seed, limit: o.limit });
    hooks.log(`data: ${data.records} records (${data.format}) -> ${data.train.length} training / ${data.val.length} validation sequences`);
    const backend: TrainingBackend = await selectTrainingBackend(o.backend, o.threads);
    const tm: TrainingModel = o.lora ? createLoraTrainingModel(loaded.config, loaded.weights, backend, o.lora) : createTrainingModel(loaded.config, f32Weights(loaded.weights), backend);
    const nTrainable = tm.params.reduce((s, p) => s + p.values.length, 0);
    // the LoRA base is frozen in its stored type (QLoRA-style for quantized files): say which
    const baseTypes = [...new Set(loaded.weights.layers.map((l) => dtypeName(l.wq.type)))].join('/');
    hooks.log(`${o.lora ? `LoRA r=${o.lora.rank} alpha=${o.lora.alpha} on ${o.lora.targets.join(',')} over the frozen ${baseTypes} base` : 'full fine-tuning'}: ${nTrainable.toLocaleString('en-US')} trainable parameters; backend ${backend.name}`);
    return await loop(o, hooks, resume, tm, tokenizer, data, seqLen);
  } finally {
    // the frozen base may be computed from in place (a file mapping): the returned `tm` is not
    // usable after this (the outputs on disk are what a run leaves)
    loaded.close();
  }
}

async function loop(o: FinetuneOptions, hooks: FinetuneHooks, resume: boolean, tm: TrainingModel, tokenizer: Tokenizer, data: InstructData, seqLen: number): Promise<FinetuneResult> {
  const N = data.train.length;
  const totalSteps = o.steps ?? Math.max(1, Math.ceil(((o.epochs ?? 1) * N) / o.batch));
  // negative: 5% of the run
  const warmupSteps = o.warmupSteps >= 0 ? o.warmupSteps : Math.max(1, Math.round(totalSteps * 0.05));
  mkdirSync(o.outDir, { recursive: true });
  const ckpt = join(o.outDir, FINETUNE_CHECKPOINT);
  const logPath = join(o.outDir, 'log.jsonl');
  const opt = new AdamW(tm.backend, tm.params, { ...ADAMW_DEFAULTS, weightDecay: o.weightDecay ?? (o.lora ? 0 : ADAMW_DEFAULTS.weightDecay) });
  const fp = fingerprint(o, totalSteps, N);
  let step = 0;
  let losses: number[] = [];
  let valLossBefore: number;
  if (resume && existsSync(ckpt)) {
    const st = loadState(ckpt, tm, opt);
    if (st.fingerprint !== fp) throw new LlamaError('CHECKPOINT', 'the checkpoint was written by a run with other settings', { file: ckpt, hint: `it was: ${st.fingerprint}` });
    step = st.step;
    losses = st.losses;
    valLossBefore = st.valLossBefore;
    hooks.log(`resuming at step ${step} of ${totalSteps}`);
  } else {
    if (!resume) writeFileSync(logPath, '');
    valLossBefore = data.val.length ? evalLoss(tm, data.val) : NaN;
    appendFileSync(logPath, JSON.stringify({ type: 'val', step: 0, source: 'response', loss: valLossBefore }) + '\n');
    hooks.log(`step 0: held-out response loss ${valLossBefore.toFixed(4)}`);
  }
  const record = (r: Record<string, unknown>) => appendFileSync(logPath, JSON.stringify(r) + '\n');
  const perms = new Map<number, Int32Array>();
  const exampleAt = (k: number): Example => {
    const epoch = Math.floor(k / N);
    let p = perms.get(epoch);
    if (!p) {
      const rng = new Rng((o.seed * 7919 + epoch * 104729 + 17) >>> 0);
      p = Int32Array.from({ length: N }, (_, i) => i);
      for (let i = N - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        [p[i], p[j]] = [p[j]!, p[i]!];
      }
      perms.clear();
      perms.set(epoch, p);
    }
    return data.train[p[k % N]!]!;
  };
  const lora = (tm as Partial<LoraTrainingModel>).lora;
  const session = tm.model.newSession({ ctxSize: seqLen });
  const grads: ParamGrads = new Map();
  const t0 = performance.now();
  let tokens = 0;
  let interrupted = false;
  let valLoss = valLossBefore;
  const save = () => saveState(ckpt, { step, adamStep: opt.step, fingerprint: fp, losses, valLossBefore }, tm, opt);
  let ranThisCall = 0;
  while (step < totalSteps) {
    const batch = Array.from({ length: o.batch }, (_, i) => ({ k: step * o.batch + i, ex: exampleAt(step * o.batch + i) }));
    const counted = batch.reduce((s, b) => s + b.ex.targets.filter((t) => t >= 0).length, 0);
    let sum = 0;
    for (const { k, ex } of batch) {
      if (lora) {
        lora.dropout = o.lora!.dropout;
        lora.dropoutSeed = k;
      }
      sum += lossAndGrad(tm, session, ex.inputs, ex.targets, 1 / Math.max(1, counted), grads).sum;
      tokens += ex.inputs.length;
    }
    const lr = learningRate(step, { peakLr: o.lr, warmupSteps, decaySteps: totalSteps, minLrRatio: 0.1 });
    const gradNorm = opt.update(grads, lr);
    const loss = sum / Math.max(1, counted);
    losses.push(loss);
    step++;
    ranThisCall++;
    record({ type: 'train', step, loss, lr, gradNorm, tokens: counted });
    const secs = (performance.now() - t0) / 1000;
    const line = `step ${step}/${totalSteps}  loss ${loss.toFixed(4)}  lr ${lr.toExponential(2)}  ${(tokens / secs).toFixed(0)} tok/s`;
    hooks.progress ? hooks.progress(line) : hooks.log(line);
    const last = step === totalSteps;
    if (data.val.length && (step % o.evalEvery === 0 || last)) {
      valLoss = evalLoss(tm, data.val);
      record({ type: 'val', step, source: 'response', loss: valLoss });
      hooks.log(`step ${step}: held-out response loss ${valLoss.toFixed(4)}`);
    }
    interrupted = !last && (hooks.interrupted?.() === true || (hooks.stopAfter !== undefined && ranThisCall >= hooks.stopAfter));
    if (last || interrupted || step % o.saveEvery === 0) save();
    if (interrupted) {
      hooks.log(`stopped at step ${step}; checkpoint ${ckpt} (continue with --resume)`);
      break;
    }
  }
  const outputs: string[] = [];
  if (!interrupted) outputs.push(...writeOutputs(o, tm, tokenizer, step));
  const secs = (performance.now() - t0) / 1000;
  return { step, totalSteps, interrupted, trainLoss: losses[losses.length - 1] ?? NaN, valLossBefore, valLoss, losses, tokensPerSecond: tokens / Math.max(secs, 1e-9), outputs, tm, tokenizer, data };
}

/** LoRA: the adapter as PEFT (adapter/) and llama.cpp GGUF (adapter.gguf). Full: model.gguf (F32). */
function writeOutputs(o: FinetuneOptions, tm: TrainingModel, tokenizer: Tokenizer, step: number): string[] {
  if (o.lora) {
    const adapter = trainedAdapter(tm as LoraTrainingModel, o.base);
    const gguf = join(o.outDir, 'adapter.gguf');
    const peft = join(o.outDir, 'adapter');
    writeLoraGguf(gguf, adapter, { name: 'llama-ts LoRA adapter' });
    writeLoraPeft(peft, { ...adapter, baseModel: o.base }, tm.config, { baseModel: o.base, dropout: o.lora.dropout });
    return [gguf, peft];
  }
  const path = join(o.outDir, 'model.gguf');
  exportGguf(path, { config: tm.config, weights: snapshotWeights(tm.params, tm.config.nLayers), tokenizer, step }, 'f32', 'llama-ts fine-tuned model');
  return [path];
}
