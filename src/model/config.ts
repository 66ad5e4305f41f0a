// Hyper-parameters of a LLaMA-architecture model, whatever file they came from. Loaders map
// GGUF metadata, HF config.json, Meta params.json and the llama2.c header onto this one shape.
import { LlamaError } from '../errors.js';

/** Llama 3.1 "llama3" rope frequency scaling (Meta's apply_scaling). */
export interface Llama3RopeScaling {
  readonly type: 'llama3';
  readonly factor: number;
  readonly lowFreqFactor: number;
  readonly highFreqFactor: number;
  readonly originalContextLength: number;
}

/** Plain linear position interpolation (rope.scaling.type = linear). */
export interface LinearRopeScaling {
  readonly type: 'linear';
  readonly factor: number;
}

export interface LlamaConfig {
  readonly dim: number;
  readonly nLayers: number;
  readonly nHeads: number;
  /** = nHeads without grouped-query attention */
  readonly nKvHeads: number;
  /** usually dim / nHeads */
  readonly headDim: number;
  /** SwiGLU hidden size */
  readonly ffnDim: number;
  readonly vocabSize: number;
  readonly normEps: number;
  readonly ropeTheta: number;
  /** the context the model was trained for (positions beyond it need --ctx-size and are the user's choice) */
  readonly contextLength: number;
  readonly ropeScaling?: Llama3RopeScaling | LinearRopeScaling | undefined;
  /** output projection shares the token embedding (llama2.c, Llama 3.2 1B/3B, tied GGUFs) */
  readonly tiedEmbeddings: boolean;
}

/** Meta's FeedForward hidden size rule (model.py): round_up(int(mult · int(8·dim/3)), multiple_of). */
export function metaFfnDim(dim: number, multipleOf: number, ffnDimMultiplier?: number | null): number {
  let h = Math.floor((2 * 4 * dim) / 3);
  if (ffnDimMultiplier != null) h = Math.floor(ffnDimMultiplier * h);
  return multipleOf * Math.ceil(h / multipleOf);
}

/** Reject configs that cannot describe a real model before anything is allocated from them. */
export function validateConfig(c: LlamaConfig, source: string): LlamaConfig {
  const bad = (what: string) => {
    throw new LlamaError('MODEL_CONFIG', `${what} (in ${source})`, { hint: 'the file\'s hyper-parameters are inconsistent; it may be corrupt or not a LLaMA-architecture model' });
  };
  const posInt = (v: number, name: string, max = 1 << 24) => {
    if (!Number.isInteger(v) || v <= 0 || v > max) bad(`${name} must be a positive integer up to ${max}, got ${v}`);
  };
  posInt(c.dim, 'dim');
  posInt(c.nLayers, 'n_layers', 4096);
  posInt(c.nHeads, 'n_heads', 4096);
  posInt(c.nKvHeads, 'n_kv_heads', 4096);
  posInt(c.headDim, 'head_dim', 65536);
  posInt(c.ffnDim, 'ffn_dim');
  posInt(c.vocabSize, 'vocab_size', 1 << 26);
  posInt(c.contextLength, 'context_length', 1 << 30);
  if (c.nHeads % c.nKvHeads !== 0) bad(`n_heads ${c.nHeads} is not a multiple of n_kv_heads ${c.nKvHeads}`);
  if (c.headDim % 2 !== 0) bad(`head_dim ${c.headDim} must be even for rotary embeddings`);
  if (!(c.normEps > 0 && c.normEps < 1)) bad(`norm eps must be in (0, 1), got ${c.normEps}`);
  if (!(c.ropeTheta > 0)) bad(`rope theta must be positive, got ${c.ropeTheta}`);
  return c;
}
