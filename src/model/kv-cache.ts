// Run state of one sequence: the backend's KV cache and how many positions it holds. Kept apart
// from the weights (shared by every session) and from the config.
import type { Backend, KVCache } from '../backend/backend.js';
import { DType, dtypeName } from '../tensor/dtype.js';
import { envVar, totalMemoryBytes } from '../platform/env.js';

/** The machine's RAM; a browser does not say, and a wasm memory holds at most 4 GiB anyway. */
const totalmem = (): number => totalMemoryBytes() ?? 4 * 1024 ** 3;
import { LlamaError } from '../errors.js';
import type { LlamaConfig } from './config.js';

/** Default context when the caller does not choose: the model's own, capped to keep memory sane. */
export const DEFAULT_CTX_CAP = 4096;
/**
 * The largest KV cache a session may allocate (bytes): 90% of this machine's RAM (a larger cache
 * could only swap or be killed), unless LLAMA_MAX_KV_GIB sets it (e.g. 64, or 0.5). Past it,
 * createSession refuses with CONTEXT_OVERFLOW instead of letting the allocation take the machine down.
 * SessionOptions.maxKvBytes overrides it per session.
 */
export function maxKvBytes(env: Readonly<Record<string, string | undefined>> = { LLAMA_MAX_KV_GIB: envVar('LLAMA_MAX_KV_GIB') }): number {
  const v = env.LLAMA_MAX_KV_GIB;
  if (v !== undefined && v !== '') {
    const gib = Number(v);
    if (!(Number.isFinite(gib) && gib > 0)) throw new LlamaError('USAGE', `LLAMA_MAX_KV_GIB must be a positive number of GiB, got '${v}'`, { hint: 'unset it to use 90% of the RAM, or set e.g. LLAMA_MAX_KV_GIB=64' });
    return Math.floor(gib * 1024 ** 3);
  }
  return Math.floor(totalmem() * 0.9);
}

/** The default limit when this module was loaded (see maxKvBytes). */
export const MAX_KV_BYTES = maxKvBytes({});

export interface SessionOptions {
  /** positions this session can hold; default min(model context, 4096) */
  ctxSize?: number;
  /** KV cache storage: DType.F32 (default) or DType.F16 */
  kvType?: DType;
  /** refuse a KV cache larger than this many bytes (default: maxKvBytes(), 90% of the RAM or LLAMA_MAX_KV_GIB) */
  maxKvBytes?: number;
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
  const limit = opts.maxKvBytes ?? maxKvBytes();
  if (bytes > limit) {
    const gib = (n: number) => (n / 1024 ** 3).toFixed(1);
    const from = opts.maxKvBytes !== undefined ? 'the maxKvBytes option' : envVar('LLAMA_MAX_KV_GIB') ? 'LLAMA_MAX_KV_GIB' : `90% of this machine's ${gib(totalmem())} GiB of RAM`;
    throw new LlamaError('CONTEXT_OVERFLOW', `a ${ctxSize}-position ${dtypeName(kvType)} KV cache needs ${gib(bytes)} GiB, more than the ${gib(limit)} GiB limit (${from})`, {
      hint: `choose a smaller --ctx-size (the model was trained for ${config.contextLength} positions)${kvType === DType.F32 ? ', use --kv-type f16 (half the size)' : ''}, or raise the limit with LLAMA_MAX_KV_GIB`,
    });
  }
  return new Session(backend.createKVCache(config.nLayers, ctxSize, config.nKvHeads, config.headDim, kvType), ctxSize);
}
