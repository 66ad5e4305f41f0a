// openModel(path, opts): one call from a path to a ready model: the weights on a backend, the
// tokenizer (found on its own), the chat format and the generation defaults.
//
//   const model = await openModel('model.gguf', { backend: 'auto', ctxSize: 2048 });
//   for await (const t of model.complete('Once upon a time', { maxTokens: 32 })) process.stdout.write(t.text);
//   await model.dispose();
import { LlamaError } from '../errors.js';
import type { Backend } from '../backend/backend.js';
import { selectBackend } from '../backend/select.js';
import { loadModel } from '../model/load.js';
import type { LoadedModel } from '../model/loaded.js';
import { LlamaModel } from '../model/llama.js';
import { DType } from '../tensor/dtype.js';
import { loadTokenizer } from '../tokenizer/load.js';
import { findModelTokenizerFile } from '../tokenizer/find.js';
import { checkTokenizerFitsModel } from '../model/tokenizer-fit.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { generationDefaults, generationDefaultsFromMetadata } from './defaults.js';
import { resolveChatFormat } from './template.js';
import { readChatTemplateSource } from '../chat/index.js';
import { Model } from './model.js';
import { attachLora } from '../model/lora.js';
import { readLoraAdapter } from '../model/lora-io.js';
import { PLATFORM } from '../platform/env.js';
import { isModelSource, type ModelSource } from './model-source.js';
import { loadModelFromSource } from './open-source.js';

export interface OpenModelOptions {
  /** 'js' | 'native' | 'auto' (default: env LLAMA_BACKEND, else auto), or a Backend object */
  backend?: string | Backend;
  /** worker threads of the native backend */
  threads?: number;
  /** positions of each sequence's KV cache (default: min(model context, 4096)) */
  ctxSize?: number;
  /** KV cache storage: 'f32' (default) or 'f16' */
  kvType?: 'f32' | 'f16';
  /** a tokenizer file instead of the one found with the model */
  tokenizer?: string;
  /**
   * LoRA adapters applied at run time (GGUF adapter files or PEFT folders): a path, `{ path, scale }`,
   * or a list of them; the base weights are shared, not merged
   */
  lora?: LoraSpec | readonly LoraSpec[];
  /** instead of the model's own chat template: a built-in format name (docs/chat.md), a Jinja file, or Jinja text */
  chatTemplate?: string;
  /** models opened from a Blob / File or URL: called as the file is read (bytes so far, in all) */
  onProgress?: (loaded: number, total: number) => void;
}

export type LoraSpec = string | { path: string; scale?: number };

const KNOWN_OPTIONS = new Set(['backend', 'threads', 'ctxSize', 'kvType', 'tokenizer', 'chatTemplate', 'lora', 'onProgress']);

function loraSpecs(lora: OpenModelOptions['lora']): { path: string; scale: number }[] {
  if (lora === undefined) return [];
  const list = (Array.isArray(lora) ? lora : [lora]) as LoraSpec[];
  return list.map((x, i) => {
    const path = typeof x === 'string' ? x : x?.path;
    const scale = typeof x === 'string' ? 1 : (x?.scale ?? 1);
    if (typeof path !== 'string' || path === '') throw new LlamaError('USAGE', `lora ${i}: needs a path (a GGUF adapter file or a PEFT folder)`);
    if (typeof scale !== 'number' || !Number.isFinite(scale)) throw new LlamaError('USAGE', `lora ${i}: scale must be a finite number, got ${String(scale)}`);
    return { path, scale };
  });
}

function validate(o: OpenModelOptions): void {
  if (o === null || typeof o !== 'object') throw new LlamaError('USAGE', 'openModel options must be an object');
  for (const k of Object.keys(o)) {
    if (!KNOWN_OPTIONS.has(k)) {
      throw new LlamaError('USAGE', `unknown openModel option '${k}'`, { hint: `options: ${[...KNOWN_OPTIONS].join(', ')}` });
    }
  }
  if (o.threads !== undefined && !(Number.isSafeInteger(o.threads) && o.threads >= 1)) throw new LlamaError('USAGE', `threads must be a whole number >= 1, got ${String(o.threads)}`);
  if (o.ctxSize !== undefined && !(Number.isSafeInteger(o.ctxSize) && o.ctxSize >= 1)) throw new LlamaError('USAGE', `ctxSize must be a whole number >= 1, got ${String(o.ctxSize)}`);
  if (o.kvType !== undefined && o.kvType !== 'f32' && o.kvType !== 'f16') throw new LlamaError('USAGE', `kvType must be 'f32' or 'f16', got ${JSON.stringify(o.kvType)}`);
  if (o.backend !== undefined && typeof o.backend !== 'string' && (typeof o.backend !== 'object' || typeof (o.backend as Backend).matmul !== 'function')) {
    throw new LlamaError('USAGE', 'backend must be a name (js, native, auto) or a Backend');
  }
}

/**
 * The tokenizer: `explicit`, else the one the loader found, else the one finder's conventions
 * (tokenizer/find.ts: a GGUF's own vocabulary, tokenizer.model / tokenizer.json / tokenizer.bin
 * beside the weights, ...). It must fit the model's embedding table (TOKENIZER_MISMATCH otherwise).
 */
export function findTokenizerFor(loaded: LoadedModel, explicit?: string): Tokenizer {
  const path = explicit ?? loaded.tokenizerPath ?? findModelTokenizerFile(loaded.path, loaded.format, loaded.config.vocabSize);
  if (path === undefined) {
    throw new LlamaError('TOKENIZER_MISSING', `no tokenizer found for ${loaded.path}`, {
      hint: 'pass one (tokenizer.model, tokenizer.json or a llama2.c tokenizer.bin): { tokenizer: FILE } or --tokenizer FILE',
    });
  }
  const tokenizer = loadTokenizer(path);
  checkTokenizerFitsModel(tokenizer, loaded.config, { model: loaded.path, tokenizer: path });
  return tokenizer;
}

/**
 * Open any model we read (GGUF, safetensors, Meta .pth, llama2.c .bin; a file or a directory), or a
 * GGUF model from an ArrayBuffer, a Blob / File or a URL (fetched with Range requests). A string
 * that starts with http:// or https:// is a URL; in a browser every string is (relative to the page).
 */
export async function openModel(path: string | ModelSource, opts: OpenModelOptions = {}): Promise<Model> {
  validate(opts);
  if (opts.onProgress !== undefined && typeof opts.onProgress !== 'function') throw new LlamaError('USAGE', 'onProgress must be a function');
  if (PLATFORM === 'browser' && typeof path === 'string' && path !== '') {
    const here = (globalThis as { location?: { href: string } }).location?.href;
    return openModelFromSource(new URL(path, here), opts);
  }
  if (isModelSource(path)) return openModelFromSource(path, opts);
  // an http(s) URL given as text (llama run -m https://...) is a URL in Node too
  if (typeof path === 'string' && /^https?:\/\//i.test(path)) return openModelFromSource(new URL(path), opts);
  const adapters = loraSpecs(opts.lora);
  if (typeof path !== 'string' || path === '') throw new LlamaError('USAGE', 'openModel needs the path of a model file or directory, a URL, a Blob / File or an ArrayBuffer');
  const backend = typeof opts.backend === 'object' ? opts.backend : await selectBackend(opts.backend, opts.threads !== undefined ? { threads: opts.threads } : {});
  const loaded = await loadModel(path, opts.tokenizer !== undefined ? { tokenizerPath: opts.tokenizer } : {});
  try {
    const tokenizer = findTokenizerFor(loaded, opts.tokenizer);
    const chatFormat = resolveChatFormat(tokenizer, readChatTemplateSource(path), opts.chatTemplate);
    const base = await LlamaModel.create(loaded, backend);
    const llama = adapters.length ? attachLora(base, adapters.map(({ path: p, scale }) => ({ adapter: readLoraAdapter(p, base.config), scale }))) : base;
    return new Model({
      base,
      path,
      loaded,
      llama,
      tokenizer,
      chatFormat,
      defaults: generationDefaults(path, loaded.format, loaded.metadata),
      ...(opts.ctxSize !== undefined ? { ctxSize: opts.ctxSize } : {}),
      kvType: opts.kvType === 'f16' ? DType.F16 : DType.F32,
    });
  } catch (e) {
    loaded.close();
    throw e;
  }
}

/** openModel for a source that is not a path (GGUF only; no LoRA files, no tokenizer files: no paths). */
async function openModelFromSource(source: ModelSource, opts: OpenModelOptions): Promise<Model> {
  if (opts.lora !== undefined || opts.tokenizer !== undefined) {
    throw new LlamaError('USAGE', `${opts.lora !== undefined ? 'lora' : 'tokenizer'} files cannot be used with a model opened from bytes, a Blob or a URL`, {
      hint: 'the GGUF file carries its own tokenizer; merge adapters into the model (llama export-lora) to use them here',
    });
  }
  const backend = typeof opts.backend === 'object' ? opts.backend : await selectBackend(opts.backend, opts.threads !== undefined ? { threads: opts.threads } : {});
  const { loaded, tokenizer, chatTemplateSource } = await loadModelFromSource(source, opts.onProgress ? { onProgress: opts.onProgress } : {});
  try {
    const chatFormat = resolveChatFormat(tokenizer, chatTemplateSource, opts.chatTemplate);
    const base = await LlamaModel.create(loaded, backend);
    return new Model({
      base,
      path: loaded.path,
      loaded,
      llama: base,
      tokenizer,
      chatFormat,
      defaults: generationDefaultsFromMetadata(loaded.format, loaded.metadata),
      ...(opts.ctxSize !== undefined ? { ctxSize: opts.ctxSize } : {}),
      kvType: opts.kvType === 'f16' ? DType.F16 : DType.F32,
    });
  } catch (e) {
    loaded.close();
    throw e;
  }
}
