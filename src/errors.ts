// Typed errors with stable codes. Every failure a user can cause (bad file, bad flag, context too
// long) is a LlamaError; anything else reaching the CLI is a bug and is reported as INTERNAL.
//
// `code` is stable: scripts and tests may match on it. `message` says what is wrong (naming the
// file when there is one); `hint` says what to do about it.

/** Every code, with the CLI exit status and the HTTP status a server would answer with. */
export const ERROR_CODES = {
  USAGE: { exit: 2, http: 400 },
  FILE_NOT_FOUND: { exit: 1, http: 404 },
  FILE_READ: { exit: 1, http: 500 },
  FILE_WRITE: { exit: 1, http: 500 },
  FORMAT_UNKNOWN: { exit: 1, http: 400 },
  FORMAT_MAGIC: { exit: 1, http: 400 },
  FORMAT_VERSION: { exit: 1, http: 400 },
  FORMAT_TRUNCATED: { exit: 1, http: 400 },
  FORMAT_CORRUPT: { exit: 1, http: 400 },
  FORMAT_BOUNDS: { exit: 1, http: 400 },
  FORMAT_LIMIT: { exit: 1, http: 400 },
  FORMAT_UNSUPPORTED: { exit: 1, http: 400 },
  TENSOR_TYPE: { exit: 1, http: 400 },
  TENSOR_SHAPE: { exit: 1, http: 400 },
  TENSOR_MISSING: { exit: 1, http: 400 },
  TOKENIZER_MISSING: { exit: 1, http: 400 },
  TOKENIZER_INVALID: { exit: 1, http: 400 },
  TOKENIZER_MISMATCH: { exit: 1, http: 400 },
  TOKEN_ID: { exit: 1, http: 400 },
  MODEL_CONFIG: { exit: 1, http: 400 },
  MODEL_NOT_FOUND: { exit: 1, http: 404 },
  CONTEXT_OVERFLOW: { exit: 1, http: 400 },
  BACKEND_UNAVAILABLE: { exit: 1, http: 500 },
  TRAIN_CONFIG: { exit: 1, http: 400 },
  CHECKPOINT: { exit: 1, http: 500 },
  DATA: { exit: 1, http: 400 },
  CANCELLED: { exit: 1, http: 499 },
  SERVER_BUSY: { exit: 1, http: 503 },
  /** a grammar or JSON Schema that cannot be parsed or used for constrained sampling */
  GRAMMAR: { exit: 1, http: 400 },
  /** a chat template that does not parse or refuses a conversation */
  CHAT_TEMPLATE: { exit: 1, http: 400 },
  /** the model produced NaN/Infinity logits (damaged or mis-converted weights) */
  MODEL_NUMERIC: { exit: 1, http: 500 },
  /** input text that is not valid UTF-8 */
  INPUT_ENCODING: { exit: 1, http: 400 },
  LORA: { exit: 1, http: 400 },
  /** a training checkpoint whose checksum does not match its contents (damaged on disk) */
  CHECKPOINT_CORRUPT: { exit: 1, http: 500 },
  /** the training loss became NaN or Infinity (learning rate too high, bad data) */
  TRAIN_DIVERGED: { exit: 1, http: 500 },
  /** the training output folder already holds a run, or another trainer is writing to it */
  TRAIN_OUTDIR: { exit: 1, http: 409 },
  INTERNAL: { exit: 1, http: 500 },
} as const satisfies Record<string, { exit: number; http: number }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface LlamaErrorOptions {
  hint?: string;
  file?: string;
  cause?: unknown;
}

export class LlamaError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly file: string | undefined;

  constructor(code: ErrorCode, message: string, opts: LlamaErrorOptions = {}) {
    super(opts.file !== undefined ? `${opts.file}: ${message}` : message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = 'LlamaError';
    this.code = code;
    this.hint = opts.hint;
    this.file = opts.file;
  }

  get exitCode(): number {
    return ERROR_CODES[this.code].exit;
  }

  get httpStatus(): number {
    return ERROR_CODES[this.code].http;
  }
}

/** Bad command-line use: exit status 2. */
export class UsageError extends LlamaError {
  constructor(message: string, hint?: string) {
    super('USAGE', message, hint !== undefined ? { hint } : {});
    this.name = 'UsageError';
  }
}

/** A file that is not what it claims to be (bad magic, truncated, out-of-bounds offsets, ...). */
export class FormatError extends LlamaError {
  constructor(code: ErrorCode, message: string, opts: LlamaErrorOptions = {}) {
    super(code, message, opts);
    this.name = 'FormatError';
  }
}

/** Asserts inside the math: shape and invariant checks that only a bug can trip. */
export function assert(cond: unknown, message: string): asserts cond {
  if (!cond) throw new LlamaError('INTERNAL', `assertion failed: ${message}`);
}

/** One line for stderr: `error [CODE]: message` plus the hint on its own line. */
export function formatError(err: unknown): string {
  if (err instanceof LlamaError) {
    return `error [${err.code}]: ${err.message}` + (err.hint ? `\n  hint: ${err.hint}` : '');
  }
  const e = err as Error;
  return `error [INTERNAL]: ${e?.stack ?? String(err)}\n  hint: this is a bug in llama-ts; please report it with the command you ran.`;
}
