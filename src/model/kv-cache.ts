// Run state of one sequence: the backend's KV cache and how many positions it holds. Kept apart
// from the weights (shared by every session) and from the config.
import type { Backend, KVCache } from '../backend/backend.js';
import { DType, dtypeName } from '../tensor/dtype.js';
import { LlamaError } from '../errors.js';
import type { LlamaConfig } from './config.js';

/** Default context when the caller does not choose: the model's own, capped to keep memory sane. */
export const DEFAULT_CTX_CAP = 4096;
/** Refuse KV caches above this size (bytes); raise --ctx-size deliberately, not by accident. */
export const MAX_KV_BYTES = 16 * 1024 ** 3;

export interface SessionOptions {
  /** positions this session can hold; default min(model context, 4096) */
  ctxSize?: number;
  /** KV cache storage: DType.F32 (default) or DType.F16 */
  kvType?: DType;
}

export class Session {
  /** next position to fill = number of tokens already in the cache */
  pos = 0;
  /** the tokens at positions 0 .. pos-1 (for penalties and for rewinding) */
  readonly tokens: number[] = [];

  constructor(readonly cache: KVCache, readonly ctxSize: number) {}

  /** Forget everything (the cache contents are overwritten as new tokens arrive). */
  reset(): void {
    this.rewind(0);
  }

  /** Keep only the first `n` positions (e.g. to reuse a shared prompt prefix). */
  rewind(n: number): void {
    if (!(Number.isInteger(n) && n >= 0 && n <= this.pos)) throw new LlamaError('INTERNAL', `cannot rewind a session at position ${this.pos} to ${n}`);
    this.pos = n;
    this.tokens.length = n;
  }
}

export function kvCacheBytes(c: LlamaConfig, ctxSize: number, kvType: DType): number {
  return 2 * c.nLayers * ctxSize * c.nKvHeads * c.headDim * (kvType === DType.F16 ? 2 : 4);
}

export function createSession(backend: Backend, config: LlamaConfig, opts: SessionOptions = {}): Session {
  const ctxSize = opts.ctxSize ?? Math.min(config.contextLength, DEFAULT_CTX_CAP);
  const kvType = opts.kvType ?? DType.F32;
  if (!(Number.isInteger(ctxSize) && ctxSize > 0)) {
    throw new LlamaError('USAGE', `context size must be a positive integer, got ${ctxSize}`, { hint: 'pass --ctx-size N' });
  }
  if (kvType !== DType.F32 && kvType !== DType.F16) {
    throw new LlamaError('USAGE', `KV cache type must be F32 or F16, got ${dtypeName(kvType)}`);
  }
  const bytes = kvCacheBytes(config, ctxSize, kvType);
  if (bytes > MAX_KV_BYTES) {
    throw new LlamaError('CONTEXT_OVERFLOW', `a ${ctxSize}-position KV cache needs ${(bytes / 1024 ** 3).toFixed(1)} GiB, more than the ${MAX_KV_BYTES / 1024 ** 3} GiB limit`, {
      hint: `choose a smaller --ctx-size (the model was trained for ${config.contextLength} positions)`,
    });
  }
  return new Session(backend.createKVCache(config.nLayers, ctxSize, config.nKvHeads, config.headDim, kvType), ctxSize);
}
