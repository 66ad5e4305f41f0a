// Compute backends (llama-ts's `backends` namespace): the Backend interface, js (the oracle),
// native (the C addon), wasm (WebAssembly SIMD128), and their training counterparts.
export type { Backend, Weight, KVCache, LoadWeightOptions } from '../backend/backend.js';
export type { TrainingBackend, AdamWStepOptions } from '../backend/training.js';
export { selectBackend, selectTrainingBackend, BACKEND_NAMES } from '../backend/select.js';
export type { BackendName, SelectBackendOptions } from '../backend/select.js';
export { JsBackend } from '../backend/js/js-backend.js';
export { JsTrainingBackend } from '../backend/js/js-train-ops.js';
export { NativeBackend, loadNativeBackend, loadNativeTrainingBackend, nativeInfo, nativeUnavailableReason, defaultThreads, NATIVE_KERNEL_TYPES } from '../backend/native/index.js';
export type { NativeBackendOptions, NativeInfo } from '../backend/native/index.js';
export { WasmBackend, loadWasmBackend, createWasmBackend, wasmUnavailableReason, WASM_KERNEL_TYPES } from '../backend/wasm/index.js';
export type { WasmBackendOptions, WasmInfo } from '../backend/wasm/index.js';
