// Every error a user can cause while reading or writing a model carries a hint (README: "followed
// by a hint"). Most throw sites give a specific one; the entry points (loadModel, openModelLazy,
// describe, loadTokenizer, convertModel, the exporters) pass what escapes through `withHint`, which
// adds the general advice for the code when the throw site gave none.
import { FormatError, LlamaError, type ErrorCode } from '../errors.js';

const DEFAULT_HINTS: Partial<Record<ErrorCode, string>> = {
  FILE_NOT_FOUND: 'check the path',
  FILE_READ: 'check that the file is readable (permissions) and is a regular file',
  FILE_WRITE: 'check that the folder exists and is writable, and that the disk has room',
  FORMAT_UNKNOWN: 'supported: GGUF (.gguf), safetensors + config.json, Meta params.json + consolidated.NN.pth, llama2.c .bin; run llama inspect on it',
  FORMAT_MAGIC: 'the file is not of the format its name suggests; run llama inspect on it',
  FORMAT_VERSION: 'convert the file again with a current converter',
  FORMAT_TRUNCATED: 'the file is truncated or corrupt (an interrupted download or copy?); download or convert it again',
  FORMAT_CORRUPT: 'the file is corrupt or was written by a broken converter; download or convert it again',
  FORMAT_BOUNDS: 'the file is corrupt (an offset points outside it); download or convert it again',
  FORMAT_LIMIT: 'the file is corrupt (a declared size is larger than the file); download or convert it again',
  FORMAT_UNSUPPORTED: 'llama-ts reads LLaMA-architecture models (LLaMA 1/2/3, Code Llama, TinyLlama, ...); convert the model with llama.cpp tools if it is one',
  TENSOR_TYPE: 'supported tensor types: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K..Q8_K; re-quantize with llama convert or llama-quantize',
  TENSOR_SHAPE: 'the weights do not match the hyper-parameters (a wrong or corrupt config?)',
  TENSOR_MISSING: 'the checkpoint is incomplete or not a LLaMA model; run llama inspect to list its tensors',
  TOKENIZER_MISSING: 'pass a tokenizer file with --tokenizer (tokenizer.model / tokenizer.json / tokenizer.bin)',
  TOKENIZER_INVALID: 'the tokenizer file is damaged or of an unsupported kind; pass another with --tokenizer',
  MODEL_CONFIG: 'the model\'s hyper-parameters are missing, inconsistent, or not a LLaMA-architecture model\'s',
  MODEL_NOT_FOUND: 'pass a .gguf / .safetensors / llama2.c .bin file, or an HF or Meta checkpoint directory',
};

/** The general advice for `code` (undefined for codes that are bugs, like INTERNAL). */
export function defaultHint(code: ErrorCode): string | undefined {
  return DEFAULT_HINTS[code];
}

/** `e` itself if it has a hint (or is not a LlamaError); else the same error with the code's default hint. */
export function withHint(e: unknown): unknown {
  if (!(e instanceof LlamaError) || e.hint) return e;
  const hint = DEFAULT_HINTS[e.code];
  if (hint === undefined) return e;
  const prefix = e.file !== undefined ? `${e.file}: ` : '';
  const raw = prefix && e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message;
  const opts = { hint, ...(e.file !== undefined ? { file: e.file } : {}), cause: e.cause ?? e };
  const out = e instanceof FormatError ? new FormatError(e.code, raw, opts) : new LlamaError(e.code, raw, opts);
  if (e.stack) out.stack = e.stack;
  return out;
}

/** Runs `fn`, rethrowing what it throws through withHint. */
export function hinted<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw withHint(e);
  }
}

/** The async form of hinted. */
export async function hintedAsync<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw withHint(e);
  }
}
