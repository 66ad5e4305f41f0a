// The OpenAI wire protocol, checked at the door: request bodies of /v1/chat/completions,
// /v1/completions and /v1/embeddings become typed, validated requests (or a 400 that names the
// field), and results become OpenAI-shaped responses. Field names and ranges follow OpenAI's API
// reference; the extra sampling fields (top_k, min_p, repeat_penalty, grammar, n_probs, ...) are
// llama.cpp server's. Nothing here knows about sockets or the model.
import type { ChatMessage } from '../tokenizer/chat.js';

/** A 4xx/5xx answer in OpenAI's error shape. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string = status === 401 ? 'authentication_error' : status >= 500 ? 'server_error' : 'invalid_request_error',
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
  }
  body(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

const bad = (param: string, message: string, code = 'invalid_value') => new HttpError(400, `${param}: ${message}`, 'invalid_request_error', param, code);

/** Limits that keep one request from asking for unbounded work. */
export const PROTOCOL_LIMITS = {
  maxN: 16,
  maxStops: 16,
  maxTopLogprobs: 20,
  maxCompletionLogprobs: 5,
  maxPrompts: 64,
  maxEmbeddingInputs: 256,
  maxLogitBias: 1024,
} as const;

export interface SamplingParams {
  temperature?: number;
  topP?: number;
  topK?: number;
  minP?: number;
  typicalP?: number;
  repeatPenalty?: number;
  penaltyWindow?: number;
  frequencyPenalty?: number;
  presencePenalty?: number;
  logitBias?: Record<number, number>;
  seed?: number;
}

export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; schema: object; name?: string };

/** What both generation endpoints share. */
export interface GenerationRequest {
  model: string | undefined;
  sampling: SamplingParams;
  maxTokens: number | undefined;
  n: number;
  stream: boolean;
  includeUsage: boolean;
  stop: string[];
  /** chat: logprobs=true; completions: logprobs=N (N alternatives) */
  logprobs: boolean;
  topLogprobs: number;
  responseFormat: ResponseFormat | undefined;
  grammar: string | undefined;
  /** reuse a slot's cached prefix (llama.cpp's cache_prompt; default true) */
  cachePrompt: boolean;
  /** llama.cpp's ignore_eos: generate through end-of-generation tokens */
  ignoreEos: boolean;
  user: string | undefined;
}

export interface ChatRequest extends GenerationRequest {
  kind: 'chat';
  messages: ChatMessage[];
}

export interface CompletionRequest extends GenerationRequest {
  kind: 'completion';
  /** each prompt gives n choices, in order (OpenAI's rule: index = prompt·n + k) */
  prompts: (string | number[])[];
  echo: boolean;
}

export interface EmbeddingRequest {
  model: string | undefined;
  inputs: (string | number[])[];
  encoding: 'float' | 'base64';
  /** OpenAI's optional truncation of the vector */
  dimensions: number | undefined;
}

type Json = Record<string, unknown>;

function asObject(body: unknown): Json {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'the request body must be a JSON object', 'invalid_request_error', null, 'invalid_json');
  return body as Json;
}

function num(o: Json, key: string, lo: number, hi: number, opts: { integer?: boolean; exclusiveLo?: boolean } = {}): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(key, `must be a number, got ${JSON.stringify(v)}`, 'invalid_type');
  if (opts.integer && !Number.isInteger(v)) throw bad(key, `must be an integer, got ${v}`, 'invalid_type');
  if (v < lo || v > hi || (opts.exclusiveLo && v === lo)) throw bad(key, `must be ${opts.exclusiveLo ? '>' : '>='} ${lo} and <= ${hi}, got ${v}`);
  return v;
}

function bool(o: Json, key: string): boolean | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw bad(key, `must be true or false, got ${JSON.stringify(v)}`, 'invalid_type');
  return v;
}

function str(o: Json, key: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw bad(key, `must be a string, got ${JSON.stringify(v)}`, 'invalid_type');
  return v;
}

function tokenArray(v: unknown, param: string): number[] | undefined {
  if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'number')) return undefined;
  for (const x of v as number[]) if (!(Number.isInteger(x) && x >= 0)) throw bad(param, `token ids must be non-negative integers, got ${x}`);
  return v as number[];
}

const UNSUPPORTED = ['tools', 'tool_choice', 'functions', 'function_call', 'audio', 'modalities', 'prediction', 'suffix'] as const;

function rejectUnsupported(o: Json): void {
  for (const k of UNSUPPORTED) {
    const v = o[k];
    if (v === undefined || v === null || (Array.isArray(v) && v.length === 0) || v === 'none') continue;
    throw bad(k, 'is not supported by this server', 'unsupported_parameter');
  }
  const bestOf = o.best_of;
  if (bestOf !== undefined && bestOf !== null && bestOf !== 1 && bestOf !== o.n) throw bad('best_of', 'is not supported (only best_of = n)', 'unsupported_parameter');
}

function parseSampling(o: Json): SamplingParams {
  const s: SamplingParams = {};
  const set = <K extends keyof SamplingParams>(k: K, v: SamplingParams[K] | undefined) => {
    if (v !== undefined) s[k] = v;
  };
  set('temperature', num(o, 'temperature', 0, 2));
  set('topP', num(o, 'top_p', 0, 1, { exclusiveLo: true }));
  set('topK', num(o, 'top_k', 0, 1e9, { integer: true }));
  set('minP', num(o, 'min_p', 0, 1));
  set('typicalP', num(o, 'typical_p', 0, 1, { exclusiveLo: true }));
  set('repeatPenalty', num(o, 'repeat_penalty', 0, 100, { exclusiveLo: true }));
  set('penaltyWindow', num(o, 'repeat_last_n', -1, 1e9, { integer: true }));
  set('frequencyPenalty', num(o, 'frequency_penalty', -2, 2));
  set('presencePenalty', num(o, 'presence_penalty', -2, 2));
  set('seed', num(o, 'seed', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, { integer: true }));
  const lb = o.logit_bias;
  if (lb !== undefined && lb !== null) {
    if (typeof lb !== 'object' || Array.isArray(lb)) throw bad('logit_bias', 'must be an object mapping token ids to biases', 'invalid_type');
    const entries = Object.entries(lb as Json);
    if (entries.length > PROTOCOL_LIMITS.maxLogitBias) throw bad('logit_bias', `at most ${PROTOCOL_LIMITS.maxLogitBias} entries`);
    const out: Record<number, number> = {};
    for (const [k, v] of entries) {
      if (!/^\d+$/.test(k)) throw bad('logit_bias', `keys must be token ids, got ${JSON.stringify(k)}`);
      if (typeof v !== 'number' || !(v >= -100 && v <= 100)) throw bad('logit_bias', `biases must be numbers in [-100, 100], got ${JSON.stringify(v)}`);
      // OpenAI: -100 bans the token
      out[Number(k)] = v <= -100 ? -Infinity : v;
    }
    s.logitBias = out;
  }
  return s;
}

function parseStop(o: Json): string[] {
  const v = o.stop;
  if (v === undefined || v === null) return [];
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || !list.every((x) => typeof x === 'string')) throw bad('stop', 'must be a string or an array of strings', 'invalid_type');
  if (list.length > PROTOCOL_LIMITS.maxStops) throw bad('stop', `at most ${PROTOCOL_LIMITS.maxStops} stop strings`);
  return (list as string[]).filter((x) => x.length > 0);
}

function parseResponseFormat(o: Json): ResponseFormat | undefined {
  const rf = o.response_format;
  if (rf === undefined || rf === null) return undefined;
  if (typeof rf !== 'object' || Array.isArray(rf)) throw bad('response_format', 'must be an object', 'invalid_type');
  const r = rf as Json;
  if (r.type === 'text') return { type: 'text' };
  if (r.type === 'json_object') return { type: 'json_object' };
  if (r.type === 'json_schema') {
    const js = (r.json_schema ?? r) as Json;
    const schema = js.schema;
    if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) throw bad('response_format.json_schema.schema', 'must be a JSON Schema object');
    return { type: 'json_schema', schema: schema as object, ...(typeof js.name === 'string' ? { name: js.name } : {}) };
  }
  throw bad('response_format.type', `must be text, json_object or json_schema, got ${JSON.stringify(r.type)}`);
}

function parseGeneration(o: Json, maxTokensKeys: readonly string[]): GenerationRequest {
  rejectUnsupported(o);
  let maxTokens: number | undefined;
  for (const k of maxTokensKeys) {
    const v = num(o, k, 0, 1e9, { integer: true });
    if (v !== undefined) maxTokens = v;
  }
  // llama.cpp's n_predict: -1 = until the context is full
  const nPredict = num(o, 'n_predict', -1, 1e9, { integer: true });
  if (nPredict !== undefined && maxTokens === undefined && nPredict >= 0) maxTokens = nPredict;
  const n = num(o, 'n', 1, PROTOCOL_LIMITS.maxN, { integer: true }) ?? 1;
  const stream = bool(o, 'stream') ?? false;
  const so = o.stream_options;
  if (so !== undefined && so !== null && (typeof so !== 'object' || Array.isArray(so))) throw bad('stream_options', 'must be an object', 'invalid_type');
  const includeUsage = so ? bool(so as Json, 'include_usage') ?? false : false;
  const grammar = str(o, 'grammar');
  const responseFormat = parseResponseFormat(o);
  if (grammar !== undefined && responseFormat && responseFormat.type !== 'text') throw bad('grammar', 'cannot be combined with a JSON response_format');
  const nProbs = num(o, 'n_probs', 0, PROTOCOL_LIMITS.maxTopLogprobs, { integer: true });
  const model = str(o, 'model');
  return {
    model,
    sampling: parseSampling(o),
    maxTokens,
    n,
    stream,
    includeUsage,
    stop: parseStop(o),
    logprobs: nProbs !== undefined && nProbs > 0,
    topLogprobs: nProbs ?? 0,
    responseFormat,
    grammar,
    cachePrompt: bool(o, 'cache_prompt') ?? true,
    ignoreEos: bool(o, 'ignore_eos') ?? false,
    user: str(o, 'user'),
  };
}

function messageContent(v: unknown, i: number): string {
  if (typeof v === 'string') return v;
  if (v === null || v === undefined) return '';
  if (Array.isArray(v)) {
    let text = '';
    for (const [j, part] of v.entries()) {
      const p = part as Json;
      if (typeof p !== 'object' || p === null) throw bad(`messages[${i}].content[${j}]`, 'must be a content part object', 'invalid_type');
      if (p.type !== 'text' || typeof p.text !== 'string') throw bad(`messages[${i}].content[${j}].type`, `only text parts are supported, got ${JSON.stringify(p.type)}`, 'unsupported_parameter');
      text += p.text;
    }
    return text;
  }
  throw bad(`messages[${i}].content`, 'must be a string or an array of text parts', 'invalid_type');
}

export function parseChatRequest(body: unknown): ChatRequest {
  const o = asObject(body);
  const msgs = o.messages;
  if (!Array.isArray(msgs) || msgs.length === 0) throw bad('messages', 'must be a non-empty array of messages', msgs === undefined ? 'missing_required_parameter' : 'invalid_type');
  const messages: ChatMessage[] = msgs.map((m, i) => {
    if (typeof m !== 'object' || m === null || Array.isArray(m)) throw bad(`messages[${i}]`, 'must be an object', 'invalid_type');
    const mm = m as Json;
    const role = mm.role;
    if (typeof role !== 'string' || !['system', 'developer', 'user', 'assistant'].includes(role)) {
      throw bad(`messages[${i}].role`, `must be system, developer, user or assistant, got ${JSON.stringify(role)}`);
    }
    // OpenAI's newer "developer" role is the system prompt under another name
    return { role: role === 'developer' ? 'system' : role, content: messageContent(mm.content, i) };
  });
  const g = parseGeneration(o, ['max_tokens', 'max_completion_tokens']);
  const lp = bool(o, 'logprobs') ?? false;
  const top = num(o, 'top_logprobs', 0, PROTOCOL_LIMITS.maxTopLogprobs, { integer: true });
  if (top !== undefined && top > 0 && !lp) throw bad('top_logprobs', 'needs logprobs: true');
  return { ...g, kind: 'chat', messages, logprobs: lp || g.logprobs, topLogprobs: top ?? g.topLogprobs };
}

export function parseCompletionRequest(body: unknown): CompletionRequest {
  const o = asObject(body);
  const p = o.prompt;
  let prompts: (string | number[])[];
  if (typeof p === 'string') prompts = [p];
  else if (tokenArray(p, 'prompt')) prompts = [p as number[]];
  else if (Array.isArray(p) && p.length > 0 && p.every((x) => typeof x === 'string')) prompts = p as string[];
  else if (Array.isArray(p) && p.length > 0 && p.every((x, i) => tokenArray(x, `prompt[${i}]`))) prompts = p as number[][];
  else throw bad('prompt', 'must be a string, an array of strings, an array of token ids, or an array of such arrays', p === undefined ? 'missing_required_parameter' : 'invalid_type');
  if (prompts.length > PROTOCOL_LIMITS.maxPrompts) throw bad('prompt', `at most ${PROTOCOL_LIMITS.maxPrompts} prompts per request`);
  const g = parseGeneration(o, ['max_tokens']);
  // OpenAI's legacy completions: logprobs is an integer 0..5 (the number of alternatives)
  const lpv = o.logprobs;
  let logprobs = g.logprobs;
  let topLogprobs = g.topLogprobs;
  if (lpv !== undefined && lpv !== null) {
    if (typeof lpv === 'boolean') logprobs = lpv;
    else {
      const k = num(o, 'logprobs', 0, PROTOCOL_LIMITS.maxCompletionLogprobs, { integer: true })!;
      logprobs = true;
      topLogprobs = k;
    }
  }
  if (prompts.length * g.n > PROTOCOL_LIMITS.maxPrompts) throw bad('n', `prompts × n must be at most ${PROTOCOL_LIMITS.maxPrompts}`);
  // OpenAI's default for the legacy endpoint is 16 tokens
  return { ...g, kind: 'completion', prompts, echo: bool(o, 'echo') ?? false, logprobs, topLogprobs, maxTokens: g.maxTokens ?? 16 };
}

export function parseEmbeddingRequest(body: unknown): EmbeddingRequest {
  const o = asObject(body);
  const inp = o.input ?? o.content;
  let inputs: (string | number[])[];
  if (typeof inp === 'string') inputs = [inp];
  else if (tokenArray(inp, 'input')) inputs = [inp as number[]];
  else if (Array.isArray(inp) && inp.length > 0 && inp.every((x) => typeof x === 'string')) inputs = inp as string[];
  else if (Array.isArray(inp) && inp.length > 0 && inp.every((x, i) => tokenArray(x, `input[${i}]`))) inputs = inp as number[][];
  else throw bad('input', 'must be a string, an array of strings, or token ids', inp === undefined ? 'missing_required_parameter' : 'invalid_type');
  if (inputs.length > PROTOCOL_LIMITS.maxEmbeddingInputs) throw bad('input', `at most ${PROTOCOL_LIMITS.maxEmbeddingInputs} inputs per request`);
  if (inputs.some((x) => x.length === 0)) throw bad('input', 'inputs must not be empty');
  const enc = str(o, 'encoding_format') ?? 'float';
  if (enc !== 'float' && enc !== 'base64') throw bad('encoding_format', `must be float or base64, got ${JSON.stringify(enc)}`);
  return { model: str(o, 'model'), inputs, encoding: enc, dimensions: num(o, 'dimensions', 1, 1e6, { integer: true }) };
}

/** A float vector as OpenAI's base64 encoding: the little-endian float32 bytes. */
export function floatsToBase64(v: Float32Array): string {
  const bytes = new Uint8Array(v.length * 4);
  const dv = new DataView(bytes.buffer);
  for (let i = 0; i < v.length; i++) dv.setFloat32(i * 4, v[i]!, true);
  return Buffer.from(bytes).toString('base64');
}

/** OpenAI's finish_reason for ours ('eos' and 'stop' are both "stop"; a full context is "length"). */
export function openaiFinishReason(r: string | undefined): 'stop' | 'length' | null {
  if (r === undefined) return null;
  return r === 'eos' || r === 'stop' ? 'stop' : 'length';
}
