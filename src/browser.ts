// The browser build's entry (bundled by scripts/build-browser.js to dist/browser/llama.js): the
// engine API of src/index.ts that runs in a page or a Web Worker, on the wasm backend (threads over
// Web Workers when the page is cross-origin isolated and the engine runs in a Worker; one thread
// otherwise) or the js backend. Models come from a URL, a File / Blob or an ArrayBuffer:
//
//   import { openModel } from './llama.js';
//   const model = await openModel('model.gguf', { backend: 'wasm', threads: 2 });
//   for await (const t of model.complete('Once upon a time', { maxTokens: 32, temperature: 0 })) out.textContent += t.text;
//
// The bundle's .wasm files and kernel worker sit beside it; setAssetBase(url) points elsewhere.
export * from './errors.js';
export { openModel, Model, Sequence, ChatSession, CHAT_FORMATS } from './api/index.js';
export type { OpenModelOptions, CompleteOptions, SequenceOptions, ChatSessionOptions, ChatFormat, GenerationDefaults } from './api/index.js';
export type { ModelSource } from './api/model-source.js';
export { loadModelFromSource, type SourceLoadOptions } from './api/open-source.js';
export { Generation } from './generate/generate.js';
export type { GenerateOptions, GeneratedToken, GenerationStats, FinishReason } from './generate/generate.js';
export type { SamplingOptions } from './generate/sampler.js';
export type { ChatMessage } from './tokenizer/chat.js';
export type { Tokenizer } from './tokenizer/tokenizer.js';
export type { LlamaConfig } from './model/config.js';
export type { Backend } from './backend/backend.js';
export { selectBackend } from './backend/select.js';
export { JsBackend } from './backend/js/js-backend.js';
export { WasmBackend, createWasmBackend, wasmUnavailableReason } from './backend/wasm/index.js';
export { setWasmMinParallelWork } from './backend/wasm/index.js';
export type { WasmInfo } from './backend/wasm/index.js';
export { sharedMemoryAvailable } from './backend/wasm/module.js';
export { setAssetBase } from './platform/assets.js';
export { PLATFORM } from './platform/env.js';
