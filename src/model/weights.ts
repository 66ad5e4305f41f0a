// The model's weights under the model's own names, in Meta's layout: linear weights are
// [outFeatures, inFeatures]; wq/wk rows are in Meta's interleaved rotary order (HF checkpoints are
// un-permuted by their loader). Every format's loader produces exactly this.
import type { HostTensor } from '../tensor/tensor.js';

export interface LayerWeights {
  readonly attnNorm: HostTensor; // (dim)
  readonly wq: HostTensor; // (nHeads·headDim, dim)
  readonly wk: HostTensor; // (nKvHeads·headDim, dim)
  readonly wv: HostTensor; // (nKvHeads·headDim, dim)
  readonly wo: HostTensor; // (dim, nHeads·headDim)
  readonly ffnNorm: HostTensor; // (dim)
  readonly w1: HostTensor; // gate (ffnDim, dim)
  readonly w2: HostTensor; // down (dim, ffnDim)
  readonly w3: HostTensor; // up (ffnDim, dim)
}

export interface LlamaWeights {
  readonly tokEmbeddings: HostTensor; // (vocab, dim)
  readonly layers: readonly LayerWeights[];
  readonly norm: HostTensor; // (dim)
  /** absent when the embeddings are tied */
  readonly output?: HostTensor | undefined; // (vocab, dim)
  /** Llama 3.1 rope frequency factors, GGUF `rope_freqs.weight` (headDim/2) */
  readonly ropeFreqs?: HostTensor | undefined;
}
