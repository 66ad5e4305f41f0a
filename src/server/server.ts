// `llama serve`: an OpenAI-compatible HTTP server on node:http (no framework: a dozen routes, one
// body reader, one error shape; see docs/server.md for why). It is a thin consumer of the engine:
// requests become jobs for the Scheduler (continuous batching over --parallel slots), and results
// go back as JSON or Server-Sent Events.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { LlamaError } from '../errors.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import type { ChatMessage } from '../tokenizer/chat.js';
import type { Session } from '../model/kv-cache.js';
import type { SamplerChain } from '../generate/sampler.js';
import type { Grammar } from '../generate/grammar/index.js';
import { TokenStepper, type StepToken } from '../generate/token-stepper.js';
import { logprobsOf } from '../generate/generate.js';
import { Scheduler, type BatchForward, type JobResult } from './scheduler.js';
import {
  HttpError, parseChatRequest, parseCompletionRequest, parseEmbeddingRequest, floatsToBase64, openaiFinishReason,
  type ChatRequest, type CompletionRequest, type GenerationRequest, type SamplingParams,
} from './protocol.js';
import { Metrics } from './metrics.js';
import { serveBrowserDemo } from './browser-demo.js';

/** What the server needs from a model (the engine API's Model provides it; see serve.ts). */
export interface ServerModel {
  readonly id: string;
  readonly path: string;
  readonly tokenizer: Tokenizer;
  readonly contextLength: number;
  /** the chat template's text, for /props */
  readonly chatTemplate: string | undefined;
  /** chat messages -> prompt tokens (template + generation prompt; special tokens only from the template) */
  encodeChat(messages: readonly ChatMessage[]): number[];
  /** text that ends a chat reply besides end tokens (the chat format's) */
  readonly chatStop: readonly string[];
  /** ids that end a chat reply (end-of-generation tokens, and BOS for base models) */
  readonly chatEndIds: ReadonlySet<number>;
  /** prompt text -> tokens (BOS as the tokenizer adds it) */
  encodePrompt(text: string): number[];
  readonly forwardBatch: BatchForward;
  newSession(ctxSize: number): Session;
  /** the grammar a request's `grammar` / `response_format` asks for (GRAMMAR errors are 400s), or undefined */
  compileConstraint(c: { grammar?: string | undefined; responseFormat?: GenerationRequest['responseFormat'] }): Grammar | undefined;
  /** a sampler chain for one request; the grammar (if any) goes first */
  makeSampler(p: SamplingParams, grammar: Grammar | undefined, endIds: ReadonlySet<number>): SamplerChain;
  /** embedding vectors (mean-pooled, normalized) */
  embed(inputs: readonly (string | number[])[]): Promise<Float32Array[]> | Float32Array[];
  readonly defaults: Readonly<SamplingParams>;
  dispose?(): Promise<void> | void;
}

export interface ServeOptions {
  host?: string;
  port?: number;
  parallel?: number;
  /** positions per slot */
  ctxSize?: number;
  apiKey?: string | undefined;
  /** request bodies above this many bytes get 413 */
  maxBodyBytes?: number;
  maxQueue?: number;
  prefillBudget?: number;
  /** serve the web chat page at / (default true) */
  webPage?: boolean;
}

export interface RunningServer {
  readonly server: Server;
  readonly url: string;
  readonly scheduler: Scheduler;
  /** stop accepting connections; in-flight requests finish (or are cancelled when `cancel`) */
  close(cancel?: boolean): Promise<void>;
}

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8' };
let counter = 0;
const newId = (prefix: string) => `${prefix}-${Date.now().toString(36)}${(counter++).toString(36)}${randomBytes(4).toString('hex')}`;

export async function startServer(model: ServerModel, o: ServeOptions = {}): Promise<RunningServer> {
  const parallel = o.parallel ?? 1;
  const ctxSize = o.ctxSize ?? Math.min(model.contextLength, 4096);
  const scheduler = new Scheduler(model.forwardBatch, () => model.newSession(ctxSize), {
    parallel,
    maxQueue: o.maxQueue ?? Math.max(64, parallel * 16),
    prefillBudget: o.prefillBudget ?? 512,
  });
  const metrics = new Metrics(scheduler);
  const maxBody = o.maxBodyBytes ?? 8 * 1024 * 1024;
  const page = o.webPage === false ? undefined : loadPage();
  const sockets = new Set<import('node:net').Socket>();

  const server = createServer((req, res) => {
    void handle(req, res).catch((e) => sendError(res, e));
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.keepAliveTimeout = 5000;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    cors(res);
    if (req.method === 'OPTIONS') {
      res.writeHead(204).end();
      return;
    }
    // the in-browser demo (the model runs in the page): /browser/, with COOP/COEP for threads
    if (page && serveBrowserDemo(req, res, url.pathname, model.path)) return;
    const route = `${req.method} ${path}`;
    metrics.request(path);
    // the page, health and metrics are open; the API needs the key when one is set
    if (path === '/' || path === '/index.html') {
      if (req.method !== 'GET') throw new HttpError(405, `${req.method} is not allowed on ${path}`);
      if (!page) throw new HttpError(404, 'the web page is disabled');
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' }).end(page);
      return;
    }
    if (route === 'GET /health' || route === 'GET /v1/health') return sendJson(res, 200, { status: 'ok', slots_idle: parallel - scheduler.stats.slotsBusy, slots_processing: scheduler.stats.slotsBusy });
    if (route === 'GET /metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(metrics.render());
      return;
    }
    checkKey(req, o.apiKey);
    switch (route) {
      case 'GET /v1/models':
      case 'GET /models':
        return sendJson(res, 200, { object: 'list', data: [{ id: model.id, object: 'model', created: 0, owned_by: 'llama-ts', meta: { n_ctx_train: model.contextLength, n_vocab: model.tokenizer.vocabSize } }] });
      case 'GET /props':
        return sendJson(res, 200, {
          default_generation_settings: { n_ctx: ctxSize, ...snake(model.defaults) },
          total_slots: parallel,
          model_path: model.path,
          model_alias: model.id,
          chat_template: model.chatTemplate ?? null,
          n_ctx: ctxSize,
        });
      case 'POST /tokenize': {
        const b = asObj(await readJson(req, maxBody));
        if (typeof b.content !== 'string') throw new HttpError(400, 'content: must be a string', 'invalid_request_error', 'content');
        const tokens = model.tokenizer.encode(b.content, { addBos: b.add_special === true, parseSpecial: b.parse_special === true });
        if (b.with_pieces === true) return sendJson(res, 200, { tokens: tokens.map((id) => ({ id, piece: model.tokenizer.piece(id) })) });
        return sendJson(res, 200, { tokens });
      }
      case 'POST /detokenize': {
        const b = asObj(await readJson(req, maxBody));
        const t = b.tokens;
        if (!Array.isArray(t) || !t.every((x) => Number.isInteger(x) && x >= 0 && x < model.tokenizer.vocabSize)) {
          throw new HttpError(400, `tokens: must be an array of token ids in 0..${model.tokenizer.vocabSize - 1}`, 'invalid_request_error', 'tokens');
        }
        return sendJson(res, 200, { content: model.tokenizer.decode(t as number[]) });
      }
      case 'POST /v1/embeddings':
      case 'POST /embeddings': {
        const r = parseEmbeddingRequest(await readJson(req, maxBody));
        for (const x of r.inputs) if (Array.isArray(x)) checkIds(x, model.tokenizer.vocabSize, 'input');
        const vecs = await model.embed(r.inputs);
        let promptTokens = 0;
        for (const x of r.inputs) promptTokens += typeof x === 'string' ? model.encodePrompt(x).length : x.length;
        metrics.tokens(promptTokens, 0);
        return sendJson(res, 200, {
          object: 'list',
          model: r.model ?? model.id,
          data: vecs.map((v, index) => {
            const cut = r.dimensions !== undefined && r.dimensions < v.length ? renormalize(v.subarray(0, r.dimensions)) : v;
            return { object: 'embedding', index, embedding: r.encoding === 'base64' ? floatsToBase64(cut) : Array.from(cut) };
          }),
          usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
        });
      }
      case 'POST /v1/chat/completions':
      case 'POST /chat/completions':
        return generateRoute(req, res, parseChatRequest(await readJson(req, maxBody)));
      case 'POST /v1/completions':
      case 'POST /completions':
        return generateRoute(req, res, parseCompletionRequest(await readJson(req, maxBody)));
      default:
        if (['/v1/models', '/v1/chat/completions', '/v1/completions', '/v1/embeddings', '/tokenize', '/detokenize', '/props', '/health', '/metrics'].includes(path)) {
          throw new HttpError(405, `${req.method} is not allowed on ${path}`);
        }
        throw new HttpError(404, `no route ${req.method} ${path}`, 'invalid_request_error', null, 'not_found');
    }
  }

  /** Run the n choices of each prompt as scheduler jobs; answer as one JSON or an SSE stream. */
  async function generateRoute(req: IncomingMessage, res: ServerResponse, r: ChatRequest | CompletionRequest): Promise<void> {
    const vocab = model.tokenizer.vocabSize;
    const prompts: { tokens: number[]; text: string | undefined }[] =
      r.kind === 'chat'
        ? [{ tokens: model.encodeChat(r.messages), text: undefined }]
        : r.prompts.map((p) => (typeof p === 'string' ? { tokens: model.encodePrompt(p), text: p } : { tokens: checkIds(p, vocab, 'prompt'), text: undefined }));
    if (r.maxTokens !== undefined && prompts.some((p) => p.tokens.length + r.maxTokens! > scheduler.slotContext + 1)) {
      const worst = Math.max(...prompts.map((p) => p.tokens.length));
      throw new HttpError(400, `max_tokens: the prompt (${worst} tokens) plus ${r.maxTokens} tokens does not fit the ${scheduler.slotContext}-token context`, 'invalid_request_error', 'max_tokens', 'context_length_exceeded');
    }
    // the output constraint and end conditions, checked before anything is sent
    let grammar: Grammar | undefined;
    try {
      grammar = model.compileConstraint({ grammar: r.grammar, responseFormat: r.responseFormat });
    } catch (e) {
      if (e instanceof LlamaError) throw new HttpError(400, `${r.grammar !== undefined ? 'grammar' : 'response_format'}: ${e.message}${e.hint ? ` (${e.hint})` : ''}`, 'invalid_request_error', r.grammar !== undefined ? 'grammar' : 'response_format', e.code.toLowerCase());
      throw e;
    }
    const endIds: ReadonlySet<number> = r.ignoreEos ? new Set<number>() : r.kind === 'chat' ? model.chatEndIds : model.tokenizer.eogIds;
    // a chat format's stop strings end free text; a constrained reply ends where its grammar does
    const stop = r.kind === 'chat' && !grammar ? [...model.chatStop, ...r.stop] : r.stop;
    const abort = new AbortController();
    // a client that goes away frees its slot at the next step
    res.on('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    const id = newId(r.kind === 'chat' ? 'chatcmpl' : 'cmpl');
    const created = Math.floor(Date.now() / 1000);
    const object = r.kind === 'chat' ? 'chat.completion' : 'text_completion';
    const choices = prompts.flatMap((p, pi) => Array.from({ length: r.n }, (_, k) => ({ index: pi * r.n + k, prompt: p, k })));
    const sse = r.stream ? startSse(res) : undefined;
    const usage = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0, prompt_tokens_details: { cached_tokens: 0 } };
    const results = await Promise.all(
      choices.map(
        (c) =>
          new Promise<{ text: string; items: StepToken[]; result: JobResult; promptLp: PromptLogprobs | undefined; sentEcho: boolean }>((resolve, reject) => {
            let text = '';
            const items: StepToken[] = [];
            const promptLp = r.kind === 'completion' && r.echo && r.logprobs ? new PromptLogprobs(c.prompt.tokens, r.topLogprobs) : undefined;
            let first = true;
            if (sse && r.kind === 'chat') sse.send({ id, object: 'chat.completion.chunk', created, model: model.id, choices: [{ index: c.index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }], ...(r.includeUsage ? { usage: null } : {}) });
            const seed = r.sampling.seed !== undefined ? r.sampling.seed + c.k : undefined;
            const sampling = { ...model.defaults, ...r.sampling, ...(seed !== undefined ? { seed } : {}) };
            try {
              scheduler.submit({
                promptTokens: c.prompt.tokens,
                cachePrompt: r.cachePrompt,
                signal: abort.signal,
                ...(promptLp ? { onPromptLogits: (rows: Float32Array, firstPos: number, count: number) => promptLp.add(rows, firstPos, count, vocab) } : {}),
                makeStepper: (room) => {
                  const maxTokens = Math.min(r.maxTokens ?? Infinity, room + 1);
                  return new TokenStepper(model.tokenizer, {
                    sampler: model.makeSampler(sampling, grammar, endIds),
                    maxTokens,
                    cappedByContext: r.maxTokens === undefined || r.maxTokens > room + 1,
                    stop,
                    endIds,
                    logprobs: r.logprobs,
                    topLogprobs: r.topLogprobs,
                  }, c.prompt.tokens);
                },
                onToken: (item) => {
                  // a chat format leaves a space before the reply ("Assistant:" then " Hello"): drop it
                  if (r.kind === 'chat' && text === '') item.text = item.text.replace(/^\s+/, '');
                  text += item.text;
                  items.push(item);
                  if (!sse) return;
                  if (r.kind === 'chat') {
                    if (item.text === '' && item.token < 0) return;
                    sse.send({ id, object: 'chat.completion.chunk', created, model: model.id, choices: [{ index: c.index, delta: { content: item.text }, logprobs: r.logprobs && item.token >= 0 ? { content: [chatLogprob(model.tokenizer, item)] } : null, finish_reason: null }], ...(r.includeUsage ? { usage: null } : {}) });
                  } else {
                    const echo = first && r.echo ? echoText(model.tokenizer, c.prompt) : '';
                    first = false;
                    sse.send({ id, object, created, model: model.id, choices: [{ index: c.index, text: echo + item.text, logprobs: r.logprobs ? completionLogprobs(model.tokenizer, item.token >= 0 ? [item] : [], undefined, 0) : null, finish_reason: null }] });
                  }
                },
                onDone: (result) => resolve({ text, items, result, promptLp, sentEcho: !first }),
                onError: reject,
              });
            } catch (e) {
              reject(e);
            }
          }),
      ),
    ).catch((e) => {
      abort.abort();
      throw e;
    });
    if (abort.signal.aborted) return; // the client is gone; nothing to answer
    for (const [i, x] of results.entries()) {
      // n choices of one prompt share its prompt tokens: count them once (OpenAI's usage)
      if (choices[i]!.k === 0) usage.prompt_tokens += x.result.promptTokens;
      usage.prompt_tokens_details.cached_tokens += choices[i]!.k === 0 ? x.result.cachedTokens : 0;
      usage.completion_tokens += x.result.completionTokens;
    }
    usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
    metrics.tokens(usage.prompt_tokens, usage.completion_tokens, results.map((x) => x.result));
    if (sse) {
      for (const [i, x] of results.entries()) {
        const finish = openaiFinishReason(x.result.finishReason);
        if (r.kind === 'chat') sse.send({ id, object: 'chat.completion.chunk', created, model: model.id, choices: [{ index: choices[i]!.index, delta: {}, logprobs: null, finish_reason: finish }], ...(r.includeUsage ? { usage: null } : {}) });
        else sse.send({ id, object, created, model: model.id, choices: [{ index: choices[i]!.index, text: x.sentEcho || !r.echo ? '' : echoText(model.tokenizer, choices[i]!.prompt), logprobs: null, finish_reason: finish }] });
      }
      if (r.includeUsage) sse.send({ id, object: r.kind === 'chat' ? 'chat.completion.chunk' : object, created, model: model.id, choices: [], usage });
      sse.end();
      return;
    }
    const body = {
      id,
      object,
      created,
      model: model.id,
      system_fingerprint: 'llama-ts',
      choices: results.map((x, i) => {
        const c = choices[i]!;
        const finish_reason = openaiFinishReason(x.result.finishReason);
        if (r.kind === 'chat') {
          return { index: c.index, message: { role: 'assistant', content: x.text }, logprobs: r.logprobs ? { content: x.items.filter((t) => t.token >= 0).map((t) => chatLogprob(model.tokenizer, t)) } : null, finish_reason };
        }
        const echo = r.echo ? echoText(model.tokenizer, c.prompt) : '';
        const gen = x.items.filter((t) => t.token >= 0);
        return { index: c.index, text: echo + x.text, logprobs: r.logprobs ? completionLogprobs(model.tokenizer, gen, r.echo ? x.promptLp ?? PromptLogprobs.textOnly(c.prompt.tokens) : undefined, r.topLogprobs) : null, finish_reason };
      }),
      usage,
    };
    sendJson(res, 200, body);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new LlamaError('FILE_WRITE', `cannot listen on ${o.host ?? '127.0.0.1'}:${o.port ?? 8080}: ${e.code === 'EADDRINUSE' ? 'the port is in use' : e.message}`, { hint: e.code === 'EADDRINUSE' ? 'choose another --port, or stop the program using it' : 'check --host and --port' })),
    );
    server.listen(o.port ?? 8080, o.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : o.port ?? 8080;
  const host = o.host ?? '127.0.0.1';
  return {
    server,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    scheduler,
    async close(cancel = false) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections?.();
      await scheduler.close(cancel);
      // streams still open after their jobs ended get a moment to flush, then go
      setTimeout(() => {
        for (const s of sockets) s.destroy();
      }, 200).unref();
      await closed;
    },
  };
}

// ---- helpers ----

function cors(res: ServerResponse): void {
  res.setHeader('access-control-allow-origin', '*');
  res.setHeader('access-control-allow-headers', 'authorization, content-type');
  res.setHeader('access-control-allow-methods', 'GET, POST, OPTIONS');
}

function checkKey(req: IncomingMessage, key: string | undefined): void {
  if (!key) return;
  const got = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '';
  const a = Buffer.from(got);
  const b = Buffer.from(key);
  if (a.length !== b.length || !timingSafeEqual(a, b)) throw new HttpError(401, 'invalid or missing API key (send Authorization: Bearer KEY)', 'authentication_error', null, 'invalid_api_key');
}

async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > limit) {
    req.resume();
    throw new HttpError(413, `the request body (${declared} bytes) is larger than the ${limit}-byte limit`, 'invalid_request_error', null, 'request_too_large');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > limit) {
      req.destroy();
      throw new HttpError(413, `the request body is larger than the ${limit}-byte limit`, 'invalid_request_error', null, 'request_too_large');
    }
    chunks.push(c);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw new HttpError(400, 'the request body is not valid UTF-8', 'invalid_request_error', null, 'invalid_encoding');
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new HttpError(400, `the request body is not valid JSON: ${(e as Error).message}`, 'invalid_request_error', null, 'invalid_json');
  }
}

function asObj(b: unknown): Record<string, unknown> {
  if (typeof b !== 'object' || b === null || Array.isArray(b)) throw new HttpError(400, 'the request body must be a JSON object', 'invalid_request_error', null, 'invalid_json');
  return b as Record<string, unknown>;
}

function checkIds(ids: number[], vocab: number, param: string): number[] {
  for (const x of ids) if (x >= vocab) throw new HttpError(400, `${param}: token id ${x} is outside the vocabulary (0..${vocab - 1})`, 'invalid_request_error', param);
  return ids;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  res.writeHead(status, JSON_HEADERS).end(JSON.stringify(body));
}

function sendError(res: ServerResponse, e: unknown): void {
  let err: HttpError;
  if (e instanceof HttpError) err = e;
  else if (e instanceof LlamaError) {
    const status = e.code === 'CONTEXT_OVERFLOW' || e.code === 'USAGE' ? 400 : e.httpStatus;
    err = new HttpError(status, e.hint ? `${e.message} (${e.hint})` : e.message, undefined, null, e.code.toLowerCase());
  } else {
    // a bug: say so without a stack trace on the wire (it goes to stderr)
    process.stderr.write(`serve: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
    err = new HttpError(500, 'internal server error', 'server_error', null, 'internal');
  }
  if (res.headersSent) {
    // mid-stream: an SSE error event, then the end
    if (!res.writableEnded) {
      res.write(`data: ${JSON.stringify(err.body())}\n\n`);
      res.end();
    }
    return;
  }
  res.writeHead(err.status, JSON_HEADERS).end(JSON.stringify(err.body()));
}

function startSse(res: ServerResponse): { send(obj: unknown): void; end(): void } {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
  res.flushHeaders();
  return {
    send(obj) {
      if (!res.writableEnded && !res.destroyed) res.write(`data: ${JSON.stringify(obj)}\n\n`);
    },
    end() {
      if (!res.writableEnded && !res.destroyed) res.end('data: [DONE]\n\n');
    },
  };
}

function tokenText(tok: Tokenizer, id: number): string {
  return Buffer.from(tok.tokenBytes(id)).toString('utf8');
}

function chatLogprob(tok: Tokenizer, t: StepToken) {
  const entry = (id: number, logprob: number) => ({ token: tokenText(tok, id), logprob, bytes: Array.from(tok.tokenBytes(id)) });
  return { ...entry(t.token, t.logprob ?? 0), top_logprobs: (t.topLogprobs ?? []).map((a) => entry(a.token, a.logprob)) };
}

/** Logprobs of every prompt token after the first (echo + logprobs), from the rows of a prefill. */
class PromptLogprobs {
  readonly lp: (number | null)[];
  readonly top: (Record<string, number> | null)[];
  constructor(readonly tokens: readonly number[], readonly k: number) {
    this.lp = tokens.map(() => null);
    this.top = tokens.map(() => null);
  }
  static textOnly(tokens: readonly number[]): PromptLogprobs {
    return new PromptLogprobs(tokens, 0);
  }
  /** rows (count, vocab) follow prompt positions first .. first+count-1 and predict the next token */
  add(rows: Float32Array, first: number, count: number, vocab: number): void {
    for (let i = 0; i < count; i++) {
      const p = first + i + 1;
      if (p >= this.tokens.length) break;
      const row = rows.subarray(i * vocab, (i + 1) * vocab);
      // the same log-softmax (float64) and best-k selection as generated tokens get
      const r = logprobsOf(row, this.tokens[p]!, this.k);
      this.lp[p] = r.logprob;
      if (r.topLogprobs) this.top[p] = Object.fromEntries(r.topLogprobs.map((t) => [String(t.token), t.logprob]));
    }
  }
}

function echoText(tok: Tokenizer, p: { tokens: readonly number[]; text: string | undefined }): string {
  return p.text ?? tok.decode(p.tokens);
}

/** The legacy completions logprobs object: tokens, token_logprobs, top_logprobs, text_offset. */
function completionLogprobs(tok: Tokenizer, gen: readonly StepToken[], prompt: PromptLogprobs | undefined, k: number) {
  const tokens: string[] = [];
  const token_logprobs: (number | null)[] = [];
  const top_logprobs: (Record<string, number> | null)[] = [];
  const text_offset: number[] = [];
  let offset = 0;
  const push = (id: number, lp: number | null, top: Record<string, number> | null) => {
    const s = tokenText(tok, id);
    tokens.push(s);
    token_logprobs.push(lp);
    top_logprobs.push(top);
    text_offset.push(offset);
    offset += s.length;
  };
  if (prompt) {
    prompt.tokens.forEach((id, i) => {
      if (tok.isSpecial(id) && i === 0) {
        // BOS renders as no text; it still counts as a token (its logprob is null, as OpenAI's first)
        tokens.push('');
        token_logprobs.push(null);
        top_logprobs.push(null);
        text_offset.push(offset);
        return;
      }
      const top = prompt.top[i];
      push(id, prompt.lp[i] ?? null, top ? Object.fromEntries(Object.entries(top).map(([id2, v]) => [tokenText(tok, Number(id2)), v])) : null);
    });
  }
  for (const t of gen) push(t.token, t.logprob ?? null, k > 0 ? Object.fromEntries((t.topLogprobs ?? []).map((a) => [tokenText(tok, a.token), a.logprob])) : null);
  return { tokens, token_logprobs, top_logprobs, text_offset };
}

function renormalize(v: Float32Array): Float32Array {
  let s = 0;
  for (const x of v) s += x * x;
  const n = Math.sqrt(s) || 1;
  return v.map((x) => x / n);
}

function snake(p: Readonly<SamplingParams>): Record<string, unknown> {
  const map: Record<string, string> = { temperature: 'temperature', topP: 'top_p', topK: 'top_k', minP: 'min_p', typicalP: 'typical_p', repeatPenalty: 'repeat_penalty', penaltyWindow: 'repeat_last_n', frequencyPenalty: 'frequency_penalty', presencePenalty: 'presence_penalty', seed: 'seed' };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(p)) if (map[k]) out[map[k]!] = v;
  return out;
}

function loadPage(): string {
  const url = new URL('../../../src/server/public/index.html', import.meta.url);
  try {
    return readFileSync(url, 'utf8');
  } catch {
    return '<!doctype html><title>llama.ts</title><p>The web page is missing from this build.</p>';
  }
}
