// Seeded initialisation of a fresh model. The LLaMA paper publishes no scheme (Meta's code has
// `init_method=lambda x: x`), so we use GPT-2's, as llama2.c's train.py and nanoGPT do:
//
//   - every linear weight and the token embedding: N(0, 0.02²);
//   - the two projections that write into the residual stream, attention `wo` and FFN `w2`
//     (down): N(0, (0.02/sqrt(2·nLayers))²), so the residual stream's variance does not grow with
//     depth (each layer adds two such outputs);
//   - RMSNorm gains: 1.
//
// llama2.c scales `wo` and `w3` instead; w3 is SwiGLU's *up* projection, which feeds the gate
// product rather than the residual stream, so we scale w2 (the down projection, the one actually
// adding into the residual) as GPT-2's rationale asks.
import type { LlamaConfig } from '../model/config.js';
import type { LayerWeights, LlamaWeights } from '../model/weights.js';
import { f32Tensor, type HostTensor } from '../tensor/tensor.js';
import { Rng } from './rng.js';

export const INIT_STD = 0.02;

export function initWeights(c: LlamaConfig, seed: number): LlamaWeights {
  const rng = new Rng(seed);
  const residualStd = INIT_STD / Math.sqrt(2 * c.nLayers);
  const normal = (name: string, shape: [number, number], std: number): HostTensor => {
    const v = new Float32Array(shape[0] * shape[1]);
    for (let i = 0; i < v.length; i++) v[i] = rng.normal() * std;
    return f32Tensor(name, shape, v);
  };
  const ones = (name: string): HostTensor => f32Tensor(name, [c.dim], new Float32Array(c.dim).fill(1));
  const qDim = c.nHeads * c.headDim;
  const kvDim = c.nKvHeads * c.headDim;
  const tokEmbeddings = normal('tok_embeddings.weight', [c.vocabSize, c.dim], INIT_STD);
  const layers: LayerWeights[] = [];
  for (let l = 0; l < c.nLayers; l++) {
    const p = `layers.${l}.`;
    layers.push({
      attnNorm: ones(`${p}attention_norm.weight`),
      wq: normal(`${p}attention.wq.weight`, [qDim, c.dim], INIT_STD),
      wk: normal(`${p}attention.wk.weight`, [kvDim, c.dim], INIT_STD),
      wv: normal(`${p}attention.wv.weight`, [kvDim, c.dim], INIT_STD),
      wo: normal(`${p}attention.wo.weight`, [c.dim, qDim], residualStd),
      ffnNorm: ones(`${p}ffn_norm.weight`),
      w1: normal(`${p}feed_forward.w1.weight`, [c.ffnDim, c.dim], INIT_STD),
      w2: normal(`${p}feed_forward.w2.weight`, [c.dim, c.ffnDim], residualStd),
      w3: normal(`${p}feed_forward.w3.weight`, [c.ffnDim, c.dim], INIT_STD),
    });
  }
  const norm = ones('norm.weight');
  const output = c.tiedEmbeddings ? undefined : normal('output.weight', [c.vocabSize, c.dim], INIT_STD);
  return { tokEmbeddings, layers, norm, output };
}
