// The public API of llama-ts. The CLI, the server and the page use only what is exported here.
//
// Start here: `openModel(path)` gives a Model that completes, chats, embeds and batches; see
// docs/api.md. Everything below the engine API is in one namespace per area (formats, models,
// tokenizers, backends, generation, chat, training, server, bench), for those who need the parts.
export * from './errors.js';

// ---- start here (src/api/) ----
export { openModel, Model, Sequence, ChatSession, CHAT_FORMATS, POOLING } from './api/index.js';
export type {
  OpenModelOptions, LoraSpec, CompleteOptions, SequenceOptions, ForwardBatchItem, ContextPolicy, ContextShiftOptions,
  ChatSessionOptions, SavedChat, Pooling, EmbedOptions, ChatFormat, ChatFormatName, GenerationDefaults,
} from './api/index.js';
export { Generation } from './generate/generate.js';
export type { GenerateOptions, GeneratedToken, GenerationStats, FinishReason, TokenLogprob } from './generate/generate.js';
export type { SamplingOptions } from './generate/sampler.js';
export type { ResponseFormat } from './generate/grammar/index.js';
export type { ChatMessage } from './tokenizer/chat.js';
export type { Tokenizer } from './tokenizer/tokenizer.js';
export type { LlamaConfig } from './model/config.js';
export type { ModelSource } from './api/model-source.js';

// ---- the parts, one namespace per area ----
export * as formats from './public/formats.js';
export * as models from './public/models.js';
export * as tokenizers from './public/tokenizers.js';
export * as backends from './public/backends.js';
export * as generation from './public/generation.js';
export * as chat from './chat/index.js';
export * as training from './public/training.js';
export * as finetune from './public/finetune.js';
export * as server from './server/index.js';
export * as bench from './public/bench.js';
export * as evaluation from './public/evaluation.js';
