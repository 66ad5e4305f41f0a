// The public API of llama-ts. The CLI uses only what is exported here.
export * from './errors.js';
// ---- start here: open a model, complete, chat, embed (src/api/) ----
export { openModel, Model, Sequence, ChatSession, CHAT_FORMATS, POOLING, commonPrefix, shiftedTokens, resolveChatFormat, generationDefaults, findTokenizerFor } from './api/index.js';
export type { OpenModelOptions, LoraSpec, CompleteOptions, SequenceOptions, ForwardBatchItem, ContextPolicy, ContextShiftOptions, ChatSessionOptions, SavedChat, Pooling, EmbedOptions, ChatFormat, ChatFormatName, GenerationDefaults } from './api/index.js';
export type { SequenceInput } from './model/batch.js';
export type { AsyncForwardOptions } from './model/llama.js';
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
export { dequantize, dequantizeRow, dequantizeTensor, quantize, DEQUANTIZABLE, QUANTIZABLE } from './tensor/quant.js';
export { writeGguf, gv } from './formats/gguf-write.js';
export type { GgufWriteInput, LazyTensor } from './formats/gguf-write.js';
export { describe, registerFormat, FORMATS } from './formats/describe.js';
export type { FileDescription, FormatDescriber, MetadataEntry, TensorEntry } from './formats/describe.js';
// model loading and conversion (every format -> LoadedModel; LoadedModel -> GGUF / HF safetensors)
export { loadModel, detectModel, openModelLazy, findModelTokenizer } from './model/load.js';
export type { LoadOptions, DetectedModel, LazyModel, LazyWeight } from './model/load.js';
export type { LoadedModel, ModelFormat } from './model/loaded.js';
export { convertModel, CONVERT_TYPES } from './model/convert.js';
export type { ConvertOptions, ConvertResult, ConvertType, ConvertFormat } from './model/convert.js';
export { unpermuteHf, permuteToHf } from './model/names.js';
export { llama3RopeFactors } from './model/rope-factors.js';
export { SafetensorsFile, SafetensorsModel, writeSafetensors, writeSafetensorsSharded } from './formats/safetensors.js';
export { PthFile } from './formats/pth.js';
export { Llama2cFile } from './formats/llama2c.js';
export type { Tokenizer, StreamDecoder, EncodeOptions } from './tokenizer/tokenizer.js';
export { SpmTokenizer, PieceType, type SpmModel } from './tokenizer/spm.js';
export { BpeTokenizer, LLAMA3_PATTERN, GPT2_PATTERN, llama3SpecialTokens, type BpeModel } from './tokenizer/bpe.js';
export {
  loadTokenizer,
  detectTokenizerKind,
  tokenizerFromGgufMetadata,
  tokenizerToGgufMetadata,
  tokenizerFromHfJson,
  parseSentencePieceModel,
  writeSentencePieceModel,
  parseLlama2cTokenizer,
  parseTiktoken,
} from './tokenizer/load.js';
export { tokenizerForPath, findTokenizerFile, TOKENIZER_FILE_NAMES } from './tokenizer/find.js';
export { trainSpmBpe, type TrainOptions, type TrainStats } from './tokenizer/train.js';
export { encodeLlama3Dialog, encodeLlama3Message, type ChatMessage } from './tokenizer/chat.js';
export { tokenizerToHfJson } from './tokenizer/hf.js';
export { selectBackend, BACKEND_NAMES } from './backend/select.js';
export type { BackendName, SelectBackendOptions } from './backend/select.js';
export { LlamaModel, prepareParams } from './model/llama.js';
export type { ModelParams, LayerParams, ForwardOptions, Allocator, ModelOptions } from './model/llama.js';
export { Session, createSession, kvCacheBytes, DEFAULT_CTX_CAP } from './model/kv-cache.js';
export type { SessionOptions } from './model/kv-cache.js';
export { ropeInvFreq, baseInvFreq, llama3ScaleFreq } from './model/rope.js';
export { generate, Generation, logprobsOf } from './generate/generate.js';
export { validateGenerateOptions } from './generate/generate.js';
export type { GenerateOptions, GeneratedToken, GenerationStats, FinishReason, TokenLogprob } from './generate/generate.js';
export { Rng } from './generate/rng.js';
export {
  SamplerChain, Candidates, createSampler, SAMPLING_DEFAULTS,
  greedy, dist, temperature, topK, topP, minP, typicalP, penalties, logitBias,
} from './generate/sampler.js';
export type { Sampler, SamplerContext, SamplingOptions, PenaltyOptions } from './generate/sampler.js';
export { validateSamplingOptions, checkLogits } from './generate/sampler.js';
export type { OptionNames } from './generate/sampler.js';
export { StopMatcher } from './generate/stop.js';
export type { StopResult } from './generate/stop.js';
export { NativeBackend, loadNativeBackend, nativeInfo, nativeUnavailableReason, defaultThreads, NATIVE_KERNEL_TYPES } from './backend/native/index.js';
export type { NativeBackendOptions, NativeInfo } from './backend/native/index.js';
export { WasmBackend, loadWasmBackend, createWasmBackend, wasmUnavailableReason, WASM_KERNEL_TYPES } from './backend/wasm/index.js';
export type { WasmBackendOptions, WasmInfo } from './backend/wasm/index.js';
export { runBench, formatTable, modelCost } from './bench/llama-bench.js';
export type { BenchResult, BenchOptions } from './bench/llama-bench.js';
export { writeSyntheticGguf, SYNTHETIC_SHAPES, SYNTHETIC_TYPES } from './bench/synthetic.js';
// training
export type { TrainingBackend, AdamWStepOptions } from './backend/training.js';
export { JsTrainingBackend } from './backend/js/js-train-ops.js';
export { TapeBackend } from './train/tape.js';
export type { ParamKey, ParamGrads } from './train/tape.js';
export { createTrainingModel, lossAndGrad, lossOnly } from './train/model.js';
export type { TrainingModel } from './train/model.js';
export { trainableParams, snapshotWeights, countParams } from './train/params.js';
export type { Param } from './train/params.js';
export { initWeights, INIT_STD } from './train/init.js';
export { AdamW, ADAMW_DEFAULTS } from './train/optimizer.js';
export type { AdamWOptions } from './train/optimizer.js';
export { learningRate } from './train/schedule.js';
export type { ScheduleOptions } from './train/schedule.js';
export { Rng as TrainRng } from './train/rng.js';
export { writeShard, readShard, prepareSource, MixtureSampler, validationWindows, unigramLoss, splitText, tokenizeText } from './train/data.js';
export type { SourceSpec, PreparedSource, Shard, Sample } from './train/data.js';
export { charTokenizer, charSpmModel } from './train/char-tokenizer.js';
export { loadTrainConfig, modelConfig, TRAIN_DEFAULTS } from './train/config.js';
export type { TrainConfig, ModelShape, TokenizerSpec } from './train/config.js';
export { train, prepareTrainingData, trainFlopsPerToken, PEAK_FLOPS_PER_THREAD } from './train/trainer.js';
export type { TrainHooks, TrainResult } from './train/trainer.js';
export { saveCheckpoint, loadCheckpoint } from './train/checkpoint.js';
export { exportGguf, exportHf, trainedModelFromCheckpoint, EXPORT_TYPES } from './train/export.js';
export type { ExportType, TrainedModel } from './train/export.js';
export { plotSvg } from './train/plot.js';
export { greedyTokens } from './train/sample.js';
export { selectTrainingBackend } from './backend/select.js';
// structured output: GBNF grammars, JSON Schema -> GBNF, grammar-constrained sampling
export {
  Grammar, GrammarError, parseGbnf, GrammarMatcher, grammarMatches, TokenTrie, TokenGrammar,
  grammarSampler, withGrammar, GrammarChain, jsonSchemaToGbnf, jsonSchemaToGrammar, jsonObjectGbnf, jsonObjectGrammar,
  responseFormatToGrammar, patternToGbnf, readGrammarFile, readJsonSchemaFile, grammarFromRequest,
} from './generate/grammar/index.js';
export type { GrammarSampler, GrammarSamplerOptions, GrammarChainOptions, ResponseFormat, TokenPosition, GrammarRequest } from './generate/grammar/index.js';
// chat templates (a model's own Jinja template or a built-in format) and chat prompt encoding
export { JinjaChatTemplate, builtinChatTemplate, BUILTIN_CHAT_FORMATS, readChatTemplateSource, resolveChatTemplate, encodeChat } from './chat/index.js';
export type { ChatTemplate, RenderedChat, ChatSegment, RenderOptions, BuiltinChatFormat } from './chat/index.js';
// load hardening: split GGUF, tokenizer/model fit, the one tokenizer finder, the one atomic write
export { openGgufModel, writeGgufSplit, splitPartPath, parseSplitPath } from './formats/gguf-split.js';
export { checkTokenizerFitsModel } from './model/tokenizer-fit.js';
export { findModelTokenizerFile } from './tokenizer/find.js';
export { writeFileAtomic } from './formats/file-io.js';
// instruction fine-tuning (LoRA through the tape; docs/finetune.md)
export { finetune, evalLoss, FINETUNE_CHECKPOINT } from './finetune/finetune.js';
export type { FinetuneOptions, FinetuneHooks, FinetuneResult } from './finetune/finetune.js';
export { createLoraTrainingModel, loadLoraValues, trainedAdapter, parseLoraTargets, LoraTrainBackend, LoraTrainWeight, LORA_TRAIN_DEFAULTS } from './finetune/lora-train.js';
export type { LoraTrainOptions, LoraTrainingModel, LoraTrainPair } from './finetune/lora-train.js';
export { loadInstructData, alpacaPrompt, alpacaExamples, chatExamples, textExamples, maskedExample, FINETUNE_FORMATS } from './finetune/data.js';
export type { Example, FinetuneFormat, InstructData, AlpacaRecord } from './finetune/data.js';
export { mergedModel, f32Weights } from './finetune/merge.js';
