// The few WebAssembly JS-API shapes this backend uses. The project compiles against ES2023 + Node
// types, which do not declare the WebAssembly namespace (it lives in lib.dom), so we describe what
// we call here instead of pulling the DOM library into every module.
export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  grow(pages: number): number;
}
export interface WasmGlobal {
  value: unknown;
}
/** an opaque compiled module */
export interface WasmCompiledModule {
  readonly __brand?: 'WebAssembly.Module';
}
interface WasmApi {
  Memory: new (desc: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
  Module: new (bytes: Uint8Array) => WasmCompiledModule;
  Instance: new (module: WasmCompiledModule, imports: Record<string, Record<string, unknown>>) => { exports: Record<string, unknown> };
}

/** The engine's WebAssembly object, or undefined where there is none. */
export function wasmApi(): WasmApi | undefined {
  return (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
}
