// Tokenizers (llama-ts's `tokenizers` namespace): SentencePiece BPE, Llama 3 byte-level BPE, their
// loaders and writers, the one tokenizer finder, and the tokenizer trainer.
export type { Tokenizer, StreamDecoder, EncodeOptions } from '../tokenizer/tokenizer.js';
export { SpmTokenizer, PieceType, type SpmModel } from '../tokenizer/spm.js';
export { BpeTokenizer, LLAMA3_PATTERN, GPT2_PATTERN, llama3SpecialTokens, type BpeModel } from '../tokenizer/bpe.js';
export {
  loadTokenizer, detectTokenizerKind, tokenizerFromGgufMetadata, tokenizerToGgufMetadata, tokenizerFromHfJson,
  parseSentencePieceModel, writeSentencePieceModel, parseLlama2cTokenizer, parseTiktoken,
} from '../tokenizer/load.js';
export { tokenizerForPath, findTokenizerFile, findModelTokenizerFile, TOKENIZER_FILE_NAMES } from '../tokenizer/find.js';
export { trainSpmBpe, type TrainOptions, type TrainStats } from '../tokenizer/train.js';
export { encodeLlama3Dialog, encodeLlama3Message } from '../tokenizer/chat.js';
export { tokenizerToHfJson } from '../tokenizer/hf.js';
