// A model with LoRA adapters merged into its weights (W' = W + Σ s·B·A, src/model/lora.ts's
// mergeLora in float64), as a TrainedModel the GGUF / Hugging Face writers take. Every tensor is
// F32 in the result (merging dequantizes the adapted matrices; the others are widened so the
// writers' type conversion starts from one type).
import { loadModel } from '../model/load.js';
import { mergeLora, parseLoraSpec } from '../model/lora.js';
import { readLoraAdapter } from '../model/lora-io.js';
import { findTokenizerFor } from '../api/open.js';
import { readChatTemplateSource } from '../chat/index.js';
import type { LlamaWeights } from '../model/weights.js';
import type { TrainedModel } from '../train/export.js';
import { dequantize } from '../tensor/quant.js';
import { f32Tensor, numElements, type HostTensor } from '../tensor/tensor.js';

/** Every tensor of the weights as a fresh F32 copy. */
export function f32Weights(w: LlamaWeights): LlamaWeights {
  const c = (t: HostTensor) => f32Tensor(t.name, t.shape, dequantize(t.type, t.data, numElements(t.shape)));
  return {
    ...w,
    tokEmbeddings: c(w.tokEmbeddings),
    norm: c(w.norm),
    output: w.output ? c(w.output) : undefined,
    ...(w.ropeFreqs ? { ropeFreqs: c(w.ropeFreqs) } : {}),
    layers: w.layers.map((L) => ({ attnNorm: c(L.attnNorm), wq: c(L.wq), wk: c(L.wk), wv: c(L.wv), wo: c(L.wo), ffnNorm: c(L.ffnNorm), w1: c(L.w1), w2: c(L.w2), w3: c(L.w3) })),
  };
}

/** The model at `path` with the adapters (`FILE[:SCALE]` specs) merged in; the file is closed again. */
export async function mergedModel(path: string, specs: readonly string[], tokenizerPath?: string): Promise<TrainedModel> {
  const loaded = await loadModel(path, tokenizerPath !== undefined ? { tokenizerPath } : {});
  try {
    const tokenizer = findTokenizerFor(loaded, tokenizerPath);
    const adapters = specs.map((s) => {
      const { path: p, scale } = parseLoraSpec(s);
      return { adapter: readLoraAdapter(p, loaded.config), scale };
    });
    const weights = f32Weights(mergeLora(loaded.weights, loaded.config, adapters));
    // the merged model keeps the base's chat template (the adapter was tuned on prompts it rendered)
    return { config: loaded.config, weights, tokenizer, step: 0, chatTemplate: readChatTemplateSource(path) };
  } finally {
    loaded.close();
  }
}
