// TEMPORARY: GGUF -> LoadedModel for LLaMA files, via the formats reader, until the loaders branch
// provides loadModel. `override` replaces tensors (used to rebuild an F16 file by rounding).
import { openGguf } from '../../src/formats/gguf.js';
import type { HostTensor } from '../../src/tensor/tensor.js';
import type { LoadedModel } from '../../src/model/loaded.js';
import type { LlamaConfig } from '../../src/model/config.js';

export function loadTinyGguf(path: string, override: (t: HostTensor) => HostTensor = (t) => t): LoadedModel {
  const f = openGguf(path);
  const n = (k: string) => f.getNumber(`llama.${k}`);
  const get = (name: string) => override(f.readTensor(name));
  const nHeads = n('attention.head_count');
  const dim = n('embedding_length');
  const tied = !f.hasTensor('output.weight');
  const emb = f.getTensorInfo('token_embd.weight');
  const config: LlamaConfig = {
    dim, nLayers: n('block_count'), nHeads, nKvHeads: f.optNumber('llama.attention.head_count_kv') ?? nHeads,
    headDim: dim / nHeads, ffnDim: n('feed_forward_length'), vocabSize: emb.shape[0]!,
    normEps: n('attention.layer_norm_rms_epsilon'), ropeTheta: f.optNumber('llama.rope.freq_base') ?? 10000,
    contextLength: n('context_length'), tiedEmbeddings: tied,
  };
  const layers = Array.from({ length: config.nLayers }, (_, l) => {
    const p = `blk.${l}.`;
    return {
      attnNorm: get(p + 'attn_norm.weight'), wq: get(p + 'attn_q.weight'), wk: get(p + 'attn_k.weight'),
      wv: get(p + 'attn_v.weight'), wo: get(p + 'attn_output.weight'), ffnNorm: get(p + 'ffn_norm.weight'),
      w1: get(p + 'ffn_gate.weight'), w2: get(p + 'ffn_down.weight'), w3: get(p + 'ffn_up.weight'),
    };
  });
  const weights = { tokEmbeddings: get('token_embd.weight'), layers, norm: get('output_norm.weight'), output: tied ? undefined : get('output.weight') };
  f.close();
  return { format: 'gguf', path, config, weights, metadata: {}, weightBytes: f.fileSize, close() {} };
}
