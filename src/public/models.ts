// Models below the engine API (llama-ts's `models` namespace): loading every format into named
// tensors, the transformer itself, KV sessions, conversion, LoRA adapters.
export type { LlamaConfig } from '../model/config.js';
export type { LlamaWeights, LayerWeights } from '../model/weights.js';
export { loadModel, detectModel, openModelLazy, findModelTokenizer } from '../model/load.js';
export type { LoadOptions, DetectedModel, LazyModel, LazyWeight } from '../model/load.js';
export type { LoadedModel, ModelFormat } from '../model/loaded.js';
export { convertModel, CONVERT_TYPES } from '../model/convert.js';
export type { ConvertOptions, ConvertResult, ConvertType, ConvertFormat } from '../model/convert.js';
export { unpermuteHf, permuteToHf } from '../model/names.js';
export { llama3RopeFactors } from '../model/rope-factors.js';
export { LlamaModel, prepareParams } from '../model/llama.js';
export type { ModelParams, LayerParams, ForwardOptions, Allocator, ModelOptions, AsyncForwardOptions } from '../model/llama.js';
export type { SequenceInput } from '../model/batch.js';
export { Session, createSession, kvCacheBytes, DEFAULT_CTX_CAP } from '../model/kv-cache.js';
export type { SessionOptions } from '../model/kv-cache.js';
export { ropeInvFreq, baseInvFreq, llama3ScaleFreq } from '../model/rope.js';
export { checkTokenizerFitsModel } from '../model/tokenizer-fit.js';
export { attachLora, detachLora, mergeLora, parseLoraSpec, LoraBackend, LoraWeight, LORA_TARGET_KEYS, LORA_TARGET_ALIASES, loraPairScale, checkLoraFits } from '../model/lora.js';
export type { LoraAdapter, LoraPair, LoraTargetKey, AttachedAdapter } from '../model/lora.js';
export { readLoraAdapter, writeLoraGguf, writeLoraPeft, detectLoraFormat, PEFT_CONFIG, PEFT_WEIGHTS } from '../model/lora-io.js';
