// The public API of llama-ts. The CLI uses only what is exported here.
export * from './errors.js';
export { DType, dtypeName, dtypeInfo, dtypeFromName } from './tensor/dtype.js';
export type { HostTensor } from './tensor/tensor.js';
export type { Backend, Weight, KVCache } from './backend/backend.js';
export { JsBackend } from './backend/js/js-backend.js';
export type { LlamaConfig } from './model/config.js';
export type { LlamaWeights, LayerWeights } from './model/weights.js';
export { ByteSource, ByteCursor, withSource } from './formats/source.js';
export { openGguf, GgufFile, GgufType, ggufValueToJson } from './formats/gguf.js';
export type { GgufValue, GgufArray, GgufTensorInfo } from './formats/gguf.js';
export * as ggufKeys from './formats/gguf-keys.js';
export { dequantize, dequantizeRow, quantize, DEQUANTIZABLE, QUANTIZABLE } from './tensor/quant.js';
export { writeGguf, gv } from './formats/gguf-write.js';
export type { GgufWriteInput, LazyTensor } from './formats/gguf-write.js';
export type { LoadedModel, ModelFormat } from './model/loaded.js';
export type { Tokenizer, StreamDecoder, EncodeOptions } from './tokenizer/tokenizer.js';
export { selectBackend, BACKEND_NAMES } from './backend/select.js';
export type { BackendName, SelectBackendOptions } from './backend/select.js';
export { LlamaModel, prepareParams } from './model/llama.js';
export type { ModelParams, LayerParams, ForwardOptions, Allocator, ModelOptions } from './model/llama.js';
export { Session, createSession, kvCacheBytes, DEFAULT_CTX_CAP } from './model/kv-cache.js';
export type { SessionOptions } from './model/kv-cache.js';
export { ropeInvFreq, baseInvFreq, llama3ScaleFreq } from './model/rope.js';
export { generate, Generation, logprobsOf } from './generate/generate.js';
export type { GenerateOptions, GeneratedToken, GenerationStats, FinishReason, TokenLogprob } from './generate/generate.js';
export { Rng } from './generate/rng.js';
export {
  SamplerChain, Candidates, createSampler, SAMPLING_DEFAULTS,
  greedy, dist, temperature, topK, topP, minP, typicalP, penalties, logitBias,
} from './generate/sampler.js';
export type { Sampler, SamplerContext, SamplingOptions, PenaltyOptions } from './generate/sampler.js';
export { StopMatcher } from './generate/stop.js';
export type { StopResult } from './generate/stop.js';
export { loadModel, detectModel } from './model/load.js';
export type { LoadOptions, DetectedModel } from './model/load.js';
export { loadTokenizer } from './tokenizer/load.js';
export { NativeBackend, loadNativeBackend, nativeInfo, nativeUnavailableReason, defaultThreads, NATIVE_KERNEL_TYPES } from './backend/native/index.js';
export type { NativeBackendOptions, NativeInfo } from './backend/native/index.js';
export { runBench, formatTable, modelCost } from './bench/llama-bench.js';
export type { BenchResult, BenchOptions } from './bench/llama-bench.js';
export { writeSyntheticGguf, SYNTHETIC_SHAPES, SYNTHETIC_TYPES } from './bench/synthetic.js';
