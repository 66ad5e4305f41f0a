// LoRA (Hu et al. 2021) attached from outside the model: a weight W (rows, cols) gains a low-rank
// update, y = x Wᵀ + s · (x Aᵀ) Bᵀ, with A (r, cols), B (rows, r) and s = scale · alpha / r.
// The model file (llama.ts) does not change: `attachLora` hands the model a `LoraBackend` that
// wraps the real one, and replaces the adapted weights by `LoraWeight`s that the wrapper recognises
// in `matmul`. Every other op goes straight through. Several adapters stack (their updates add).
//
// Orientation: A and B are kept as the weights they multiply by (PEFT's lora_A.weight is (r, in),
// lora_B.weight is (out, r); llama.cpp's GGUF adapters store the same matrices, ne reversed).
// Rows of wq/wk's B are in Meta's interleaved rotary order, like wq/wk themselves (PEFT files are
// converted on load; see lora-io.ts).
import type { Backend, Weight } from '../backend/backend.js';
import { DelegatingBackend } from '../backend/delegate.js';
import type { DType } from '../tensor/dtype.js';
import type { HostTensor } from '../tensor/tensor.js';
import { f32Tensor, numElements } from '../tensor/tensor.js';
import { dequantize } from '../tensor/quant.js';
import { LlamaError } from '../errors.js';
import type { LlamaConfig } from './config.js';
import type { LayerWeights, LlamaWeights } from './weights.js';
import { LlamaModel, type LayerParams, type ModelParams } from './llama.js';

/** The matrices an adapter may target: every linear layer of a block, and the output head. */
export type LoraTargetKey = 'wq' | 'wk' | 'wv' | 'wo' | 'w1' | 'w2' | 'w3';
export const LORA_TARGET_KEYS: readonly LoraTargetKey[] = ['wq', 'wk', 'wv', 'wo', 'w1', 'w2', 'w3'];
/** Short names as users (and PEFT's target_modules) say them. */
export const LORA_TARGET_ALIASES: Readonly<Record<string, LoraTargetKey>> = {
  q: 'wq', k: 'wk', v: 'wv', o: 'wo', gate: 'w1', down: 'w2', up: 'w3',
  q_proj: 'wq', k_proj: 'wk', v_proj: 'wv', o_proj: 'wo', gate_proj: 'w1', down_proj: 'w2', up_proj: 'w3',
  wq: 'wq', wk: 'wk', wv: 'wv', wo: 'wo', w1: 'w1', w2: 'w2', w3: 'w3',
};

/** One adapted matrix: A (rank, cols), B (rows, rank), float32, row-major. */
export interface LoraPair {
  readonly layer: number;
  readonly key: LoraTargetKey;
  readonly rank: number;
  readonly rows: number;
  readonly cols: number;
  readonly a: Float32Array; // (rank, cols)
  readonly b: Float32Array; // (rows, rank)
}

export interface LoraAdapter {
  /** where it came from (a path, or 'trained') */
  readonly source: string;
  /**
   * s = alpha / rank per pair (llama.cpp's and PEFT's rule); undefined = no alpha, s = 1.
   * PEFT's rsLoRA (alpha / sqrt(rank)) is folded into this on load.
   */
  readonly alpha: number | undefined;
  readonly pairs: readonly LoraPair[];
  /** the base model as the adapter names it, if it does */
  readonly baseModel?: string | undefined;
}

/** The multiplier of B·A for one pair: userScale · alpha / rank (llama.cpp's llm_build_lora_mm). */
export function loraPairScale(adapter: LoraAdapter, pair: LoraPair, userScale = 1): number {
  return adapter.alpha !== undefined && adapter.alpha !== 0 ? (userScale * adapter.alpha) / pair.rank : userScale;
}

/** Check an adapter's shapes against a model config; throws LORA with what does not fit. */
export function checkLoraFits(adapter: LoraAdapter, c: LlamaConfig): void {
  const shapes: Record<LoraTargetKey, [number, number]> = {
    wq: [c.nHeads * c.headDim, c.dim],
    wk: [c.nKvHeads * c.headDim, c.dim],
    wv: [c.nKvHeads * c.headDim, c.dim],
    wo: [c.dim, c.nHeads * c.headDim],
    w1: [c.ffnDim, c.dim],
    w2: [c.dim, c.ffnDim],
    w3: [c.ffnDim, c.dim],
  };
  const seen = new Set<string>();
  for (const p of adapter.pairs) {
    const where = `layer ${p.layer} ${p.key}`;
    if (!(Number.isInteger(p.layer) && p.layer >= 0 && p.layer < c.nLayers)) {
      throw new LlamaError('LORA', `${adapter.source}: the adapter has a ${where} but the model has ${c.nLayers} layers`, { hint: 'the adapter was trained for a different base model' });
    }
    const [rows, cols] = shapes[p.key];
    if (p.rows !== rows || p.cols !== cols) {
      throw new LlamaError('LORA', `${adapter.source}: ${where} adapts a (${p.rows}, ${p.cols}) matrix but the model's is (${rows}, ${cols})`, { hint: 'the adapter was trained for a different base model' });
    }
    if (!(p.rank > 0) || p.a.length !== p.rank * cols || p.b.length !== rows * p.rank) {
      throw new LlamaError('LORA', `${adapter.source}: ${where}: A/B sizes do not match rank ${p.rank}`, { hint: 'the adapter file is damaged' });
    }
    const id = `${p.layer}.${p.key}`;
    if (seen.has(id)) throw new LlamaError('LORA', `${adapter.source}: ${where} appears twice`, { hint: 'the adapter file is damaged' });
    seen.add(id);
  }
}

/** A base weight plus low-rank updates; only a LoraBackend knows how to multiply by it. */
export class LoraWeight implements Weight {
  readonly type: DType;
  readonly rows: number;
  readonly cols: number;
  constructor(
    readonly base: Weight,
    readonly deltas: readonly { readonly a: Weight; readonly b: Weight; readonly rank: number; readonly scale: number }[],
  ) {
    this.type = base.type;
    this.rows = base.rows;
    this.cols = base.cols;
  }
}

/** A Backend that adds the low-rank updates of LoraWeights to matmul; every other call passes through. */
export class LoraBackend extends DelegatingBackend {
  constructor(inner: Backend) {
    super(inner, `${inner.name}+lora`);
  }
  override freeWeight(w: Weight): void {
    if (w instanceof LoraWeight) {
      for (const d of w.deltas) {
        this.inner.freeWeight?.(d.a);
        this.inner.freeWeight?.(d.b);
      }
      return; // the base belongs to the model the adapter was attached to
    }
    this.inner.freeWeight?.(w);
  }
  override matmul(out: Float32Array, x: Float32Array, w: Weight, T: number): void {
    if (!(w instanceof LoraWeight)) return this.inner.matmul(out, x, w, T);
    this.inner.matmul(out, x, w.base, T); // (T, rows)
    for (const d of w.deltas) {
      const xa = new Float32Array(T * d.rank); // (T, rank)
      this.inner.matmul(xa, x, d.a, T);
      for (let i = 0; i < xa.length; i++) xa[i]! *= d.scale;
      const delta = new Float32Array(T * w.rows); // (T, rows)
      this.inner.matmul(delta, xa, d.b, T);
      this.inner.add(out, out, delta, T * w.rows);
    }
  }
  override embed(out: Float32Array, w: Weight, ids: ArrayLike<number>): void {
    this.inner.embed(out, w instanceof LoraWeight ? w.base : w, ids);
  }
}

export interface AttachedAdapter {
  readonly adapter: LoraAdapter;
  /** the user's multiplier (`--lora FILE:SCALE`); default 1 */
  readonly scale?: number;
}

/**
 * A model that computes with `adapters` applied at run time, sharing the base model's weights
 * (nothing is merged or copied; the base model keeps working unchanged). Dispose the result's
 * adapter weights with `detachLora`.
 */
export function attachLora(model: LlamaModel, adapters: readonly AttachedAdapter[]): LlamaModel {
  const backend = new LoraBackend(model.backend);
  const byWeight = new Map<string, { a: Weight; b: Weight; rank: number; scale: number }[]>();
  for (const { adapter, scale } of adapters) {
    checkLoraFits(adapter, model.config);
    for (const p of adapter.pairs) {
      const a = model.backend.loadWeight(f32Tensor(`lora.${p.layer}.${p.key}.a`, [p.rank, p.cols], p.a));
      const b = model.backend.loadWeight(f32Tensor(`lora.${p.layer}.${p.key}.b`, [p.rows, p.rank], p.b));
      const id = `${p.layer}.${p.key}`;
      const list = byWeight.get(id) ?? [];
      list.push({ a, b, rank: p.rank, scale: loraPairScale(adapter, p, scale ?? 1) });
      byWeight.set(id, list);
    }
  }
  const P = model.params;
  const layers: LayerParams[] = P.layers.map((L, l) => {
    const patched: Record<string, unknown> = { ...L };
    for (const key of LORA_TARGET_KEYS) {
      const deltas = byWeight.get(`${l}.${key}`);
      if (deltas) patched[key] = new LoraWeight(L[key], deltas);
    }
    return patched as unknown as LayerParams;
  });
  const params: ModelParams = { ...P, layers };
  return new LlamaModel(model.config, backend, params, model.ropeFreqs);
}

/** Free the adapter weights a model from `attachLora` holds (the base weights stay). */
export function detachLora(model: LlamaModel): void {
  if (!(model.backend instanceof LoraBackend)) return;
  for (const L of model.params.layers) for (const key of LORA_TARGET_KEYS) model.backend.freeWeight(L[key]);
}

/**
 * Weights with the adapters merged in: W' = W + Σ s·B·A, computed in float64 and stored as F32
 * (quantized or half bases are dequantized first; requantize with the converter if wanted).
 * Untouched tensors are returned as they are.
 */
export function mergeLora(weights: LlamaWeights, config: LlamaConfig, adapters: readonly AttachedAdapter[]): LlamaWeights {
  const byWeight = new Map<string, { pair: LoraPair; scale: number }[]>();
  for (const { adapter, scale } of adapters) {
    checkLoraFits(adapter, config);
    for (const p of adapter.pairs) {
      const id = `${p.layer}.${p.key}`;
      const list = byWeight.get(id) ?? [];
      list.push({ pair: p, scale: loraPairScale(adapter, p, scale ?? 1) });
      byWeight.set(id, list);
    }
  }
  const layers = weights.layers.map((L, l) => {
    const out: Record<string, HostTensor> = { ...L };
    for (const key of LORA_TARGET_KEYS) {
      const list = byWeight.get(`${l}.${key}`);
      if (list) out[key] = mergeOne(L[key], list);
    }
    return out as unknown as LayerWeights;
  });
  return { ...weights, layers };
}

function mergeOne(t: HostTensor, list: readonly { pair: LoraPair; scale: number }[]): HostTensor {
  const [rows, cols] = t.shape as [number, number];
  const base = dequantize(t.type, t.data, numElements(t.shape));
  const out = new Float32Array(rows * cols);
  const acc = new Float64Array(cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) acc[j] = base[i * cols + j]!;
    for (const { pair: p, scale } of list) {
      for (let k = 0; k < p.rank; k++) {
        const bik = scale * p.b[i * p.rank + k]!;
        if (bik === 0) continue;
        const arow = k * cols;
        for (let j = 0; j < cols; j++) acc[j]! += bik * p.a[arow + j]!;
      }
    }
    for (let j = 0; j < cols; j++) out[i * cols + j] = acc[j]!;
  }
  return f32Tensor(t.name, t.shape, out);
}

/** Parse `FILE[:SCALE]` as the CLI's --lora flag takes it. */
export function parseLoraSpec(spec: string): { path: string; scale: number } {
  const m = /^(.*):(-?(?:\d+\.?\d*|\.\d+)(?:e-?\d+)?)$/i.exec(spec);
  if (m && m[1]) {
    const scale = Number(m[2]);
    if (!Number.isFinite(scale)) throw new LlamaError('USAGE', `--lora ${spec}: the scale must be a finite number`, { hint: 'use --lora FILE or --lora FILE:SCALE, e.g. adapter.gguf:0.5' });
    return { path: m[1], scale };
  }
  if (spec === '') throw new LlamaError('USAGE', '--lora needs a file', { hint: 'use --lora FILE or --lora FILE:SCALE' });
  return { path: spec, scale: 1 };
}
