// The one table of tensor names: for each model weight, what Meta (.pth), Hugging Face
// (safetensors), GGUF and llama2.c call it, and how Meta's model-parallel shards split it.
// Sources: Meta llama/model.py module names; transformers convert_llama_weights_to_hf.py;
// gguf-py constants.py (via gguf-keys.ts); llama2.c export.py. See docs llama-recipe.md §1.8.
//
// Also here: the Hugging Face q/k rotary permutation. HF checkpoints store wq/wk with the rows of
// each head reordered so that rotate_half RoPE (pairs i, i+hd/2) computes what Meta's interleaved
// RoPE (pairs 2i, 2i+1) computes. Our model uses Meta's convention, so HF q/k are un-permuted on
// load and permuted again when writing HF.
import { LlamaError } from '../errors.js';
import { byteSize } from '../tensor/dtype.js';
import { makeTensor, type HostTensor } from '../tensor/tensor.js';
import { TENSOR, weightName } from '../formats/gguf-keys.js';
import type { LayerWeights, LlamaWeights } from './weights.js';

export type NameFormat = 'meta' | 'hf' | 'gguf' | 'llama2c';
export type GlobalKey = 'tokEmbeddings' | 'norm' | 'output' | 'ropeFreqs';
export type LayerKey = keyof LayerWeights;

/**
 * How Meta's model-parallel shards split a tensor: concatenated along dim 0 (column-parallel:
 * wq, wk, wv, w1, w3, output), dim 1 (row-parallel: wo, w2; and the parallel embedding), or
 * replicated in every shard (norms).
 */
export type ShardSplit = 0 | 1 | 'replicated';

interface Row<K> {
  readonly key: K;
  readonly meta: string;
  readonly hf: string | undefined;
  readonly gguf: string;
  readonly llama2c: string | undefined;
  readonly split: ShardSplit;
}

const GLOBAL_ROWS: readonly Row<GlobalKey>[] = [
  { key: 'tokEmbeddings', meta: 'tok_embeddings.weight', hf: 'model.embed_tokens.weight', gguf: weightName(TENSOR.TOKEN_EMBD), llama2c: 'tok_embeddings', split: 1 },
  { key: 'norm', meta: 'norm.weight', hf: 'model.norm.weight', gguf: weightName(TENSOR.OUTPUT_NORM), llama2c: 'norm', split: 'replicated' },
  { key: 'output', meta: 'output.weight', hf: 'lm_head.weight', gguf: weightName(TENSOR.OUTPUT), llama2c: 'output', split: 0 },
  // Llama 3.1 rope scaling factors exist only in GGUF; Meta's `rope.freqs` is a different thing
  // (the plain inverse frequencies, ignored as Meta's loader ignores it), so there is no Meta name.
  { key: 'ropeFreqs', meta: '', hf: undefined, gguf: weightName(TENSOR.ROPE_FREQS), llama2c: undefined, split: 'replicated' },
];

const LAYER_ROWS: readonly ((l: number) => Row<LayerKey>)[] = [
  (l) => ({ key: 'attnNorm', meta: `layers.${l}.attention_norm.weight`, hf: `model.layers.${l}.input_layernorm.weight`, gguf: weightName(TENSOR.ATTN_NORM(l)), llama2c: `layers.${l}.attention_norm`, split: 'replicated' }),
  (l) => ({ key: 'wq', meta: `layers.${l}.attention.wq.weight`, hf: `model.layers.${l}.self_attn.q_proj.weight`, gguf: weightName(TENSOR.ATTN_Q(l)), llama2c: `layers.${l}.attention.wq`, split: 0 }),
  (l) => ({ key: 'wk', meta: `layers.${l}.attention.wk.weight`, hf: `model.layers.${l}.self_attn.k_proj.weight`, gguf: weightName(TENSOR.ATTN_K(l)), llama2c: `layers.${l}.attention.wk`, split: 0 }),
  (l) => ({ key: 'wv', meta: `layers.${l}.attention.wv.weight`, hf: `model.layers.${l}.self_attn.v_proj.weight`, gguf: weightName(TENSOR.ATTN_V(l)), llama2c: `layers.${l}.attention.wv`, split: 0 }),
  (l) => ({ key: 'wo', meta: `layers.${l}.attention.wo.weight`, hf: `model.layers.${l}.self_attn.o_proj.weight`, gguf: weightName(TENSOR.ATTN_OUT(l)), llama2c: `layers.${l}.attention.wo`, split: 1 }),
  (l) => ({ key: 'ffnNorm', meta: `layers.${l}.ffn_norm.weight`, hf: `model.layers.${l}.post_attention_layernorm.weight`, gguf: weightName(TENSOR.FFN_NORM(l)), llama2c: `layers.${l}.ffn_norm`, split: 'replicated' }),
  (l) => ({ key: 'w1', meta: `layers.${l}.feed_forward.w1.weight`, hf: `model.layers.${l}.mlp.gate_proj.weight`, gguf: weightName(TENSOR.FFN_GATE(l)), llama2c: `layers.${l}.feed_forward.w1`, split: 0 }),
  (l) => ({ key: 'w2', meta: `layers.${l}.feed_forward.w2.weight`, hf: `model.layers.${l}.mlp.down_proj.weight`, gguf: weightName(TENSOR.FFN_DOWN(l)), llama2c: `layers.${l}.feed_forward.w2`, split: 1 }),
  (l) => ({ key: 'w3', meta: `layers.${l}.feed_forward.w3.weight`, hf: `model.layers.${l}.mlp.up_proj.weight`, gguf: weightName(TENSOR.FFN_UP(l)), llama2c: `layers.${l}.feed_forward.w3`, split: 0 }),
];

export const LAYER_KEYS: readonly LayerKey[] = LAYER_ROWS.map((r) => r(0).key);

function pick<K>(row: Row<K>, format: NameFormat): string | undefined {
  const n = row[format];
  return n === '' ? undefined : n;
}

/** The file's name for a global weight (undefined when that format has no such tensor). */
export function globalName(format: NameFormat, key: GlobalKey): string | undefined {
  return pick(GLOBAL_ROWS.find((r) => r.key === key)!, format);
}

/** The file's name for a per-layer weight. */
export function layerName(format: NameFormat, key: LayerKey, layer: number): string {
  const row = LAYER_ROWS.find((r) => r(0).key === key)!(layer);
  return pick(row, format)!;
}

/** How a Meta tensor is split across model-parallel shards; undefined for names not in the table. */
export function metaShardSplit(metaName: string): ShardSplit | undefined {
  for (const r of GLOBAL_ROWS) if (r.meta === metaName && r.meta !== '') return r.split;
  const m = /^layers\.(\d+)\./.exec(metaName);
  if (m) {
    const l = Number(m[1]);
    for (const f of LAYER_ROWS) {
      const r = f(l);
      if (r.meta === metaName) return r.split;
    }
  }
  return undefined;
}

/** Model weights as a flat list of (Meta name, tensor), for writers. */
export function flattenWeights(w: LlamaWeights): { key: GlobalKey | LayerKey; layer: number | undefined; tensor: HostTensor }[] {
  const out: { key: GlobalKey | LayerKey; layer: number | undefined; tensor: HostTensor }[] = [];
  out.push({ key: 'tokEmbeddings', layer: undefined, tensor: w.tokEmbeddings });
  w.layers.forEach((lw, l) => {
    for (const k of LAYER_KEYS) out.push({ key: k, layer: l, tensor: lw[k] });
  });
  out.push({ key: 'norm', layer: undefined, tensor: w.norm });
  if (w.output) out.push({ key: 'output', layer: undefined, tensor: w.output });
  if (w.ropeFreqs) out.push({ key: 'ropeFreqs', layer: undefined, tensor: w.ropeFreqs });
  return out;
}

/** The name of one flattened weight in `format`. */
export function nameOf(format: NameFormat, key: GlobalKey | LayerKey, layer: number | undefined): string | undefined {
  return layer === undefined ? globalName(format, key as GlobalKey) : layerName(format, key as LayerKey, layer);
}

/**
 * Reorder the rows inside each of `nHeads` heads. `toHf` = true applies the HF converter's
 * `permute` (Meta row 2i+c -> HF row c·hd/2+i); false applies its inverse (HF -> Meta). Rows are
 * moved whole, so this works for any tensor type, quantized ones included.
 */
function permuteRows(t: HostTensor, nHeads: number, toHf: boolean, name: string): HostTensor {
  if (t.shape.length !== 2) throw new LlamaError('TENSOR_SHAPE', `${t.name}: rotary permutation needs a matrix, got [${t.shape.join(', ')}]`);
  const [rows, cols] = t.shape as [number, number];
  if (rows % nHeads !== 0 || (rows / nHeads) % 2 !== 0) {
    throw new LlamaError('TENSOR_SHAPE', `${t.name}: ${rows} rows do not split into ${nHeads} heads of even size`);
  }
  const hd = rows / nHeads;
  const half = hd / 2;
  const rowBytes = byteSize(t.type, cols);
  const out = new Uint8Array(t.data.byteLength);
  for (let h = 0; h < nHeads; h++) {
    for (let i = 0; i < half; i++) {
      for (let c = 0; c < 2; c++) {
        const meta = h * hd + 2 * i + c;
        const hf = h * hd + c * half + i;
        const [from, to] = toHf ? [meta, hf] : [hf, meta];
        out.set(t.data.subarray(from * rowBytes, (from + 1) * rowBytes), to * rowBytes);
      }
    }
  }
  return makeTensor(name, t.type, t.shape, out);
}

/** HF q_proj/k_proj -> Meta wq/wk (inverse of the converter's permute). nHeads: n_heads for q, n_kv_heads for k. */
export function unpermuteHf(t: HostTensor, nHeads: number, name = t.name): HostTensor {
  return permuteRows(t, nHeads, false, name);
}

/** Meta wq/wk -> HF q_proj/k_proj (the converter's permute). */
export function permuteToHf(t: HostTensor, nHeads: number, name = t.name): HostTensor {
  return permuteRows(t, nHeads, true, name);
}
