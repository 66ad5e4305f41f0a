// LoRA training through the tape: the model definition (src/model/llama.ts) runs unchanged over a
// `LoraTrainBackend`, which sits ABOVE the tape and turns every matmul by an adapted weight into
// ops the tape can replay backward:
//
//   out = x Wᵀ                (W frozen: the tape passes dx = dy·W and stores no dW)
//   xd = x ⊙ mask             (dropout, training only; a fresh buffer, x is not touched)
//   xa = xd Aᵀ                (A trainable, (r, cols))
//   xs = xa · s               (s = alpha / r; a fresh buffer: the tape's contract holds)
//   out += xs Bᵀ              (B trainable, (rows, r); the tape's matmulAccumulate: neither
//                             product is kept as a (T, rows) buffer of its own while the tape lives)
//
// With B = 0, the term is exactly zero and out = x Wᵀ + 0: logits are bit-equal to the base model's.
//
// The base may be any weight type the loaders produce (F32, F16, Q8_0, Q4_0, Q4_K, Q6_K, ...): it
// is loaded frozen (TrainingBackend.loadFrozenWeight) and stays in its stored type (QLoRA): the
// forward runs the backend's quantized matmul, the backward passes only dx = dy·W through the
// stored values. On the native backend the base takes the memory of the quantized file; the js
// oracle decodes it to F32 once at load (the same values).
import type { LoadWeightOptions, Weight } from '../backend/backend.js';
import { DelegatingBackend } from '../backend/delegate.js';
import type { TrainingBackend } from '../backend/training.js';
import type { DType } from '../tensor/dtype.js';
import type { HostTensor } from '../tensor/tensor.js';
import { f32Tensor, numElements } from '../tensor/tensor.js';
import { LlamaError } from '../errors.js';
import type { LlamaConfig } from '../model/config.js';
import type { LlamaWeights } from '../model/weights.js';
import { LlamaModel, prepareParams, type LayerParams, type ModelParams } from '../model/llama.js';
import { LORA_TARGET_ALIASES, LORA_TARGET_KEYS, type LoraAdapter, type LoraPair, type LoraTargetKey } from '../model/lora.js';
import { TapeBackend, type ParamKey } from '../train/tape.js';
import type { Param } from '../train/params.js';
import type { TrainingModel } from '../train/model.js';
import { Rng } from '../train/rng.js';

export interface LoraTrainOptions {
  readonly rank: number;
  readonly alpha: number;
  /** dropout on the adapter's input (training only); 0 = none */
  readonly dropout: number;
  readonly targets: readonly LoraTargetKey[];
  /** seeds A's initialisation */
  readonly seed: number;
}

export const LORA_TRAIN_DEFAULTS: LoraTrainOptions = { rank: 8, alpha: 16, dropout: 0.05, targets: ['wq', 'wk', 'wv', 'wo', 'w1', 'w3', 'w2'], seed: 1 };

/** `q,k,v,o,gate,up,down` (or all) -> target keys, in a fixed order. */
export function parseLoraTargets(spec: string): LoraTargetKey[] {
  if (spec.trim() === 'all') return [...LORA_TARGET_KEYS];
  const out = new Set<LoraTargetKey>();
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const k = LORA_TARGET_ALIASES[part];
    if (!k) throw new LlamaError('USAGE', `--lora-targets: unknown target '${part}'`, { hint: 'use q,k,v,o,gate,up,down (or all)' });
    out.add(k);
  }
  if (out.size === 0) throw new LlamaError('USAGE', '--lora-targets is empty', { hint: 'use q,k,v,o,gate,up,down' });
  return LORA_TARGET_KEYS.filter((k) => out.has(k));
}

/** A frozen base matrix with one trainable low-rank update. */
export class LoraTrainWeight implements Weight {
  readonly type: DType;
  readonly rows: number;
  readonly cols: number;
  constructor(
    readonly base: Weight,
    readonly a: Weight,
    readonly b: Weight,
    readonly rank: number,
    readonly scale: number,
    /** which matrix, for the dropout mask's seed */
    readonly id: number,
  ) {
    this.type = base.type;
    this.rows = base.rows;
    this.cols = base.cols;
  }
}

/** Above the tape: LoraTrainWeight matmuls become tape ops; everything else goes straight through. */
export class LoraTrainBackend extends DelegatingBackend {
  /** dropout probability while training; set to 0 for evaluation */
  dropout = 0;
  /** seeds this forward pass's dropout masks (the trainer sets it per sequence: resumable) */
  dropoutSeed = 0;

  constructor(readonly tape: TapeBackend) {
    super(tape, `lora(${tape.name})`);
  }

  /** Every base weight the model loads is frozen: kept in its stored type. */
  override loadWeight(t: HostTensor, _opts?: LoadWeightOptions): Weight {
    return this.tape.loadFrozenWeight(t);
  }
  override freeWeight(w: Weight): void {
    if (w instanceof LoraTrainWeight) {
      this.tape.freeWeight(w.a);
      this.tape.freeWeight(w.b);
      return;
    }
    this.tape.freeWeight(w);
  }

  override matmul(out: Float32Array, x: Float32Array, w: Weight, T: number): void {
    if (!(w instanceof LoraTrainWeight)) return this.tape.matmul(out, x, w, T);
    const { cols, rank } = w;
    this.tape.matmul(out, x, w.base, T);
    let xd = x;
    if (this.dropout > 0) {
      const keep = 1 - this.dropout;
      const mask = new Float32Array(T * cols);
      const rng = new Rng((this.dropoutSeed * 1000003 + w.id * 7919 + 1) >>> 0);
      for (let i = 0; i < mask.length; i++) mask[i] = rng.uniform() < keep ? 1 / keep : 0;
      xd = new Float32Array(T * cols);
      this.tape.mulConst(xd, x, mask, T * cols);
    }
    const xa = new Float32Array(T * rank);
    this.tape.matmul(xa, xd, w.a, T);
    const xs = new Float32Array(T * rank);
    this.tape.mulConst(xs, xa, w.scale, T * rank);
    this.tape.matmulAccumulate(out, xs, w.b, T);
  }
}

/** One trained pair as the optimizer and the writers see it. */
export interface LoraTrainPair {
  readonly layer: number;
  readonly key: LoraTargetKey;
  readonly weight: LoraTrainWeight;
  /** live values (updated in place by AdamW) */
  readonly a: Float32Array;
  readonly b: Float32Array;
}

export interface LoraTrainingModel extends TrainingModel {
  readonly lora: LoraTrainBackend;
  readonly pairs: readonly LoraTrainPair[];
  readonly options: LoraTrainOptions;
}

/**
 * The base model with trainable adapters on `opts.targets` of every layer: A ~ U(-1/√cols, 1/√cols)
 * (PEFT's Kaiming-uniform bound), B = 0. `initial` (a saved adapter) replaces that initialisation.
 * Returns a TrainingModel whose `params` are the A and B matrices only (for AdamW), and whose tape
 * has the whole base frozen (embeddings, norms and matrices get no gradient).
 */
export function createLoraTrainingModel(config: LlamaConfig, weights: LlamaWeights, backend: TrainingBackend, opts: LoraTrainOptions): LoraTrainingModel {
  if (!(Number.isInteger(opts.rank) && opts.rank > 0)) throw new LlamaError('USAGE', `--lora-r must be a positive integer, got ${opts.rank}`);
  if (!(opts.dropout >= 0 && opts.dropout < 1)) throw new LlamaError('USAGE', `--lora-dropout must be in [0, 1), got ${opts.dropout}`);
  const tape = new TapeBackend(backend);
  const lora = new LoraTrainBackend(tape);
  const base = prepareParams(lora, config, weights);
  const rng = new Rng(opts.seed);
  const scale = opts.alpha / opts.rank;
  const pairs: LoraTrainPair[] = [];
  const params: Param[] = [];
  const frozen = new Set<ParamKey>([base.tokEmbeddings, base.output, base.norm]);
  const layers: LayerParams[] = base.layers.map((L, l) => {
    frozen.add(L.attnNorm);
    frozen.add(L.ffnNorm);
    const patched: Record<string, unknown> = { ...L };
    for (const key of LORA_TARGET_KEYS) {
      const W = L[key];
      frozen.add(W);
      if (!opts.targets.includes(key)) continue;
      const bound = 1 / Math.sqrt(W.cols);
      const aInit = new Float32Array(opts.rank * W.cols);
      for (let i = 0; i < aInit.length; i++) aInit[i] = (2 * rng.uniform() - 1) * bound;
      const a = tape.loadWeight(f32Tensor(`lora.${l}.${key}.a`, [opts.rank, W.cols], aInit));
      const b = tape.loadWeight(f32Tensor(`lora.${l}.${key}.b`, [W.rows, opts.rank], new Float32Array(W.rows * opts.rank)));
      const weight = new LoraTrainWeight(W, a, b, opts.rank, scale, l * LORA_TARGET_KEYS.length + LORA_TARGET_KEYS.indexOf(key));
      patched[key] = weight;
      const pair: LoraTrainPair = { layer: l, key, weight, a: backend.weightValues(a), b: backend.weightValues(b) };
      pairs.push(pair);
      // LoRA is usually trained without weight decay on A/B (PEFT's default optimizer setup)
      params.push({ name: `lora.${l}.${key}.a`, key: a, values: pair.a, shape: [opts.rank, W.cols], decay: false });
      params.push({ name: `lora.${l}.${key}.b`, key: b, values: pair.b, shape: [W.rows, opts.rank], decay: false });
    }
    return patched as unknown as LayerParams;
  });
  tape.frozen = frozen;
  const mp: ModelParams = { ...base, layers };
  // the tape keeps every activation until the backward pass: fresh buffers, never reused ones
  const model = new LlamaModel(config, lora, mp, undefined, { alloc: (n) => new Float32Array(n) });
  return { model, tape, backend, config, params, lora, pairs, options: opts };
}

/** Copy adapter values (e.g. from a checkpoint or a saved adapter) into the live pairs. */
export function loadLoraValues(tm: LoraTrainingModel, adapter: LoraAdapter): void {
  const byId = new Map(adapter.pairs.map((p) => [`${p.layer}.${p.key}`, p]));
  for (const p of tm.pairs) {
    const src = byId.get(`${p.layer}.${p.key}`);
    if (!src || src.a.length !== p.a.length || src.b.length !== p.b.length) throw new LlamaError('LORA', `the adapter has no matching layer ${p.layer} ${p.key} (rank ${tm.options.rank})`, { hint: 'resume with the same --lora-r and --lora-targets' });
    p.a.set(src.a);
    p.b.set(src.b);
    tm.backend.weightUpdated(p.weight.a);
    tm.backend.weightUpdated(p.weight.b);
  }
}

/** The trained adapter (copies of the live values), ready for the PEFT / GGUF writers. */
export function trainedAdapter(tm: LoraTrainingModel, source = 'trained'): LoraAdapter {
  const pairs: LoraPair[] = tm.pairs.map((p) => ({
    layer: p.layer,
    key: p.key,
    rank: p.weight.rank,
    rows: p.weight.rows,
    cols: p.weight.cols,
    a: Float32Array.from(p.a),
    b: Float32Array.from(p.b),
  }));
  return { source, alpha: tm.options.alpha, pairs };
}
