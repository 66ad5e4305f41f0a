// What a model loader returns, whatever the file format: the config, the weights under the model's
// names (Meta layout), the raw metadata, and where a tokenizer can be found.
import type { LlamaConfig } from './config.js';
import type { LlamaWeights } from './weights.js';

export type ModelFormat = 'gguf' | 'safetensors' | 'meta' | 'llama2c';

export interface LoadedModel {
  readonly format: ModelFormat;
  /** the file or directory the user named */
  readonly path: string;
  readonly config: LlamaConfig;
  readonly weights: LlamaWeights;
  /** format-specific key/values (GGUF metadata, config.json, params.json, llama2.c header) */
  readonly metadata: Readonly<Record<string, unknown>>;
  /** a tokenizer file found beside the model (tokenizer.model / tokenizer.json / tokenizer.bin), if any */
  readonly tokenizerPath?: string | undefined;
  /** weight bytes on disk (for bandwidth figures) */
  readonly weightBytes: number;
  /** true once close() / dispose() ran */
  readonly closed?: boolean;
  /**
   * Release file handles / mappings and drop the references to the weights (idempotent; `weights`
   * throws afterwards). Where the native addon can unmap, the mappings go at once: close a model
   * only when the LlamaModel built from it is done too (the JS backend reads the weights in place).
   */
  close(): void;
  /** the same as close() */
  dispose(): void;
  /** the same as close(), for `using loaded = await loadModel(...)` */
  [Symbol.dispose](): void;
}
