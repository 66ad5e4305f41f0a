// Embeddings: the hidden states after the final norm (no output matmul), pooled per text.
//   mean  the average over the text's rows (BOS included when the tokenizer adds it)
//   last  the last row (what a causal model has read everything by)
//   cls   the first row
// Texts go through the model together (a batched forward, each text its own KV cache), in groups
// of at most `batchTokens` rows; the result equals embedding one text at a time.
import { LlamaError } from '../errors.js';
import { nextMacrotask } from '../platform/macrotask.js';
import type { LlamaModel } from '../model/llama.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';

export const POOLING = ['mean', 'last', 'cls'] as const;
export type Pooling = (typeof POOLING)[number];

export interface EmbedOptions {
  /** default 'mean' */
  pooling?: Pooling;
  /** scale every vector to unit length (L2); default false */
  normalize?: boolean;
  /** rows per forward pass (texts are grouped up to this); default 512 */
  batchTokens?: number;
  /** prepend BOS; default: the tokenizer's default */
  addBos?: boolean;
}

export async function embedTexts(model: LlamaModel, tok: Tokenizer, texts: readonly string[], o: EmbedOptions = {}): Promise<Float32Array[]> {
  if (!Array.isArray(texts) || !texts.every((t) => typeof t === 'string')) throw new LlamaError('USAGE', 'embed needs an array of strings');
  const pooling = o.pooling ?? 'mean';
  if (!POOLING.includes(pooling)) throw new LlamaError('USAGE', `unknown pooling '${String(pooling)}'`, { hint: `choose one of: ${POOLING.join(', ')}` });
  const batchTokens = o.batchTokens ?? 512;
  if (!(Number.isSafeInteger(batchTokens) && batchTokens >= 1)) throw new LlamaError('USAGE', `batchTokens must be a whole number >= 1, got ${String(batchTokens)}`);
  const dim = model.config.dim;
  const ids = texts.map((t, i) => {
    const x = tok.encode(t, o.addBos !== undefined ? { addBos: o.addBos } : {});
    if (x.length === 0) throw new LlamaError('USAGE', `text ${i} is empty and the tokenizer adds no BOS: nothing to embed`);
    return x;
  });
  const out: Float32Array[] = new Array(texts.length);
  let i = 0;
  while (i < ids.length) {
    // a group: as many texts as fit in batchTokens rows (at least one)
    let j = i + 1;
    let rows = ids[i]!.length;
    while (j < ids.length && rows + ids[j]!.length <= batchTokens) rows += ids[j++]!.length;
    const group = ids.slice(i, j).map((tokens) => ({ session: model.newSession({ ctxSize: tokens.length }), tokens }));
    const hidden = model.forwardBatch(group, { allLogits: true, output: 'hidden' }); // per text: (T, dim)
    hidden.forEach((h, g) => {
      out[i + g] = pool(h, group[g]!.tokens.length, dim, pooling, o.normalize === true);
    });
    i = j;
    await nextMacrotask(); // let other work run between groups
  }
  return out;
}

function pool(h: Float32Array, T: number, dim: number, pooling: Pooling, normalize: boolean): Float32Array {
  const v = new Float32Array(dim);
  if (pooling === 'mean') {
    const acc = new Float64Array(dim);
    for (let t = 0; t < T; t++) for (let d = 0; d < dim; d++) acc[d]! += h[t * dim + d]!;
    for (let d = 0; d < dim; d++) v[d] = acc[d]! / T;
  } else v.set(h.subarray((pooling === 'last' ? T - 1 : 0) * dim, (pooling === 'last' ? T : 1) * dim));
  if (normalize) {
    let ss = 0;
    for (let d = 0; d < dim; d++) ss += v[d]! * v[d]!;
    const n = Math.sqrt(ss);
    if (n > 0) for (let d = 0; d < dim; d++) v[d] = v[d]! / n;
  }
  return v;
}
