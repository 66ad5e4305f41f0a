// The engine API: what the CLI, the server, the evaluator and the browser use.
export { openModel, findTokenizerFor, type OpenModelOptions, type LoraSpec } from './open.js';
export { loadModelFromSource, type SourceLoadOptions, type SourceModel } from './open-source.js';
export type { ModelSource } from './model-source.js';
export { Model, type CompleteOptions, type SequenceOptions, type ForwardBatchItem } from './model.js';
export { Sequence, commonPrefix, shiftedTokens, type ContextPolicy, type ContextShiftOptions } from './session.js';
export { ChatSession, type ChatSessionOptions, type SavedChat } from './chat-session.js';
export { POOLING, type Pooling, type EmbedOptions } from './embed.js';
export { CHAT_FORMATS, resolveChatFormat, type ChatFormat, type ChatFormatName } from './template.js';
export { generationDefaults, type GenerationDefaults } from './defaults.js';
