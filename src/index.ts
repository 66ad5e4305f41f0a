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
export { dequantize, dequantizeRow, dequantizeTensor, quantize, DEQUANTIZABLE, QUANTIZABLE } from './tensor/quant.js';
export { writeGguf, gv } from './formats/gguf-write.js';
export type { GgufWriteInput, LazyTensor } from './formats/gguf-write.js';
export { describe, registerFormat, FORMATS } from './formats/describe.js';
export type { FileDescription, FormatDescriber, MetadataEntry, TensorEntry } from './formats/describe.js';
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
