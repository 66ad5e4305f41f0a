// The trainable parameters of a LlamaModel, named as in Meta's checkpoints, and the way back from
// the live training state to `LlamaWeights` (for export and checkpoints).
import type { LlamaModel } from '../model/llama.js';
import type { LlamaWeights } from '../model/weights.js';
import type { TrainingBackend } from '../backend/training.js';
import { f32Tensor } from '../tensor/tensor.js';
import type { ParamKey } from './tape.js';

export interface Param {
  /** Meta checkpoint name, e.g. layers.0.attention.wq.weight */
  readonly name: string;
  /** the gradient key on the tape */
  readonly key: ParamKey;
  /** the live values the model computes with (updated in place by the optimizer) */
  readonly values: Float32Array;
  /** [rows, cols] for matrices, [n] for norm gains */
  readonly shape: readonly number[];
  /** AdamW weight decay applies to matrices and embeddings, not to norm gains */
  readonly decay: boolean;
}

export function trainableParams(model: LlamaModel, backend: TrainingBackend): Param[] {
  const P = model.params;
  const out: Param[] = [];
  const matrix = (name: string, w: import('../backend/backend.js').Weight) => {
    out.push({ name, key: w, values: backend.weightValues(w), shape: [w.rows, w.cols], decay: true });
  };
  const vector = (name: string, g: Float32Array) => out.push({ name, key: g, values: g, shape: [g.length], decay: false });
  matrix('tok_embeddings.weight', P.tokEmbeddings);
  P.layers.forEach((L, l) => {
    const p = `layers.${l}.`;
    vector(`${p}attention_norm.weight`, L.attnNorm);
    matrix(`${p}attention.wq.weight`, L.wq);
    matrix(`${p}attention.wk.weight`, L.wk);
    matrix(`${p}attention.wv.weight`, L.wv);
    matrix(`${p}attention.wo.weight`, L.wo);
    vector(`${p}ffn_norm.weight`, L.ffnNorm);
    matrix(`${p}feed_forward.w1.weight`, L.w1);
    matrix(`${p}feed_forward.w2.weight`, L.w2);
    matrix(`${p}feed_forward.w3.weight`, L.w3);
  });
  vector('norm.weight', P.norm);
  // tied embeddings: `output` is the same Weight as the embedding and shares its gradient key
  if (P.output !== P.tokEmbeddings) matrix('output.weight', P.output);
  return out;
}

/** A copy of the current values as F32 LlamaWeights (safe to write while training continues). */
export function snapshotWeights(params: readonly Param[], nLayers: number): LlamaWeights {
  const byName = new Map(params.map((p) => [p.name, f32Tensor(p.name, p.shape, Float32Array.from(p.values))]));
  const get = (n: string) => {
    const t = byName.get(n);
    if (!t) throw new Error(`missing parameter ${n}`);
    return t;
  };
  const layers = Array.from({ length: nLayers }, (_, l) => {
    const p = `layers.${l}.`;
    return {
      attnNorm: get(`${p}attention_norm.weight`),
      wq: get(`${p}attention.wq.weight`),
      wk: get(`${p}attention.wk.weight`),
      wv: get(`${p}attention.wv.weight`),
      wo: get(`${p}attention.wo.weight`),
      ffnNorm: get(`${p}ffn_norm.weight`),
      w1: get(`${p}feed_forward.w1.weight`),
      w2: get(`${p}feed_forward.w2.weight`),
      w3: get(`${p}feed_forward.w3.weight`),
    };
  });
  return { tokEmbeddings: get('tok_embeddings.weight'), layers, norm: get('norm.weight'), output: byName.get('output.weight') };
}

/** Parameter count of a config (embeddings included; the output counted once when tied). */
export function countParams(c: import('../model/config.js').LlamaConfig): { total: number; matmul: number } {
  const qDim = c.nHeads * c.headDim;
  const kvDim = c.nKvHeads * c.headDim;
  const perLayer = c.dim * qDim + 2 * c.dim * kvDim + qDim * c.dim + 3 * c.dim * c.ffnDim;
  const emb = c.vocabSize * c.dim;
  const matmul = c.nLayers * perLayer + emb; // the output projection is a matmul; the embedding lookup is not
  const total = c.nLayers * (perLayer + 2 * c.dim) + c.dim + emb + (c.tiedEmbeddings ? 0 : emb);
  return { total, matmul };
}
