// What the model commands share (run, logits; chat and serve through the engine API): the options that pick a model, a
// tokenizer, a backend and a context size, and turning them into a ready LlamaModel.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { OptionSpec, ParsedArgs } from './args.js';
import { list, num, str } from './args.js';
import { CHAT_FORMATS, LlamaError, UsageError, openModel as openEngineModel, backends, formats, models, tokenizers, type Model, type Tokenizer } from '../index.js';
const { selectBackend } = backends;
const { DType } = formats;
const { parseLoraSpec, loadModel, LlamaModel, checkTokenizerFitsModel, attachLora, readLoraAdapter } = models;
type LoadedModel = models.LoadedModel;
const { loadTokenizer, findModelTokenizerFile } = tokenizers;

export const MODEL_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  model: { kind: 'string', short: 'm', arg: 'PATH', help: 'model file (GGUF, safetensors, llama2.c .bin) or directory (Meta / HF); default: the embedded model' },
  tokenizer: { kind: 'string', arg: 'FILE', help: 'tokenizer file (tokenizer.model / tokenizer.json / tokenizer.bin); default: inside or beside the model' },
  backend: { kind: 'string', arg: 'NAME', help: 'js | native | wasm | auto (env LLAMA_BACKEND)' },
  threads: { kind: 'int', short: 't', arg: 'N', help: 'threads for the native backend' },
  'ctx-size': { kind: 'int', short: 'c', arg: 'N', help: 'context positions (default: min(model context, 4096)); above the model\'s trained context is allowed but untested' },
  'kv-type': { kind: 'string', arg: 'TYPE', help: 'KV cache storage: f32 or f16', default: 'f32' },
  lora: { kind: 'list', arg: 'FILE[:SCALE]', help: 'apply a LoRA adapter (GGUF adapter file or PEFT folder) at run time; repeatable' },
};

/** The model shipped inside the package (added by training), if this installation has it. */
export function defaultModelPath(): string | undefined {
  const p = fileURLToPath(new URL('../../../models/default/model.gguf', import.meta.url));
  return existsSync(p) ? p : undefined;
}

/** The instruction-tuned model shipped for `llama chat` (models/default-chat), else the embedded base model. */
export function defaultChatModelPath(): string | undefined {
  const p = fileURLToPath(new URL('../../../models/default-chat/model.gguf', import.meta.url));
  return existsSync(p) ? p : defaultModelPath();
}

export interface OpenedModel {
  loaded: LoadedModel;
  model: models.LlamaModel;
  tokenizer: Tokenizer | undefined;
  loadMs: number;
  ctxSize: number | undefined;
  kvType: formats.DType;
}

/**
 * --tokenizer, else what the loader found beside the model, else (tokenizer/find.ts) the GGUF's own
 * metadata or a tokenizer file next to a GGUF that has no vocabulary inside. Then checked against
 * the model (TOKENIZER_MISMATCH), before anything runs.
 */
function openTokenizer(explicit: string | undefined, loaded: LoadedModel): Tokenizer {
  const path = explicit ?? loaded.tokenizerPath ?? findModelTokenizerFile(loaded.path, loaded.format, loaded.config.vocabSize);
  if (path === undefined) {
    throw new LlamaError('TOKENIZER_MISSING', `no tokenizer found for ${loaded.path}`, {
      hint: 'pass --tokenizer FILE (tokenizer.model, tokenizer.json or a llama2.c tokenizer.bin)',
    });
  }
  const tokenizer = loadTokenizer(path);
  checkTokenizerFitsModel(tokenizer, loaded.config, { model: loaded.path, tokenizer: path });
  return tokenizer;
}

export async function openModel(args: ParsedArgs, opts: { needTokenizer: boolean }): Promise<OpenedModel> {
  const t0 = performance.now();
  const path = str(args, 'model') ?? defaultModelPath();
  if (path === undefined) {
    throw new LlamaError('MODEL_NOT_FOUND', 'no model given and this installation has no embedded default model', {
      hint: 'pass one with -m PATH: a .gguf file, a llama2.c .bin, a .safetensors file, or a Meta / Hugging Face model directory',
    });
  }
  const kvName = (str(args, 'kv-type') ?? 'f32').toLowerCase();
  if (kvName !== 'f32' && kvName !== 'f16') throw new LlamaError('USAGE', `--kv-type must be f32 or f16, got '${kvName}'`);
  const threads = num(args, 'threads');
  const backend = await selectBackend(str(args, 'backend'), threads !== undefined ? { threads } : {});
  const loaded = await loadModel(path);
  try {
    const tokPath = str(args, 'tokenizer');
    let tokenizer: Tokenizer | undefined;
    if (opts.needTokenizer || tokPath !== undefined) tokenizer = openTokenizer(tokPath, loaded);
    const base = await LlamaModel.create(loaded, backend);
    // adapters apply at run time on top of the base weights (nothing merged)
    const lora = list(args, 'lora').map(parseLoraSpec);
    const model = lora.length ? attachLora(base, lora.map(({ path, scale }) => ({ adapter: readLoraAdapter(path, base.config), scale }))) : base;
    const ctxSize = num(args, 'ctx-size');
    if (ctxSize !== undefined && ctxSize > loaded.config.contextLength) {
      process.stderr.write(`warning: --ctx-size ${ctxSize} is beyond the ${loaded.config.contextLength} positions the model was trained for; output past that point may degrade\n`);
    }
    return { loaded, model, tokenizer, loadMs: performance.now() - t0, ctxSize, kvType: kvName === 'f16' ? DType.F16 : DType.F32 };
  } catch (e) {
    loaded.close();
    throw e;
  }
}

/** What commands built on the engine API add: a chat template and LoRA adapters. */
export const ENGINE_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  ...MODEL_OPTIONS,
  'chat-template': { kind: 'string', arg: 'NAME|FILE|TEXT', help: `chat format: a built-in (${CHAT_FORMATS.join(', ')}), a Jinja file, or Jinja text (default: the model's own)` },
};

/** Flags that can be checked before anything loads (so a typo fails fast, with nothing on stdout). */
export function checkEngineArgs(args: ParsedArgs): void {
  const template = str(args, 'chat-template');
  if (template !== undefined && !(CHAT_FORMATS as readonly string[]).includes(template) && !template.includes('{{') && !template.includes('{%') && !existsSync(template)) {
    throw new UsageError(`unknown chat template '${template}': not a built-in format, a file, or Jinja text`, `built-in formats: ${CHAT_FORMATS.join(', ')}`);
  }
  const kv = (str(args, 'kv-type') ?? 'f32').toLowerCase();
  if (kv !== 'f32' && kv !== 'f16') throw new UsageError(`--kv-type must be f32 or f16, got '${kv}'`);
  list(args, 'lora').map(parseLoraSpec);
}

/** openModel over the common flags (-m or the embedded model, backend, threads, context, KV type, tokenizer, template, LoRA). */
export async function openModelFromArgs(args: ParsedArgs, opts: { chat?: boolean } = {}): Promise<{ model: Model; path: string }> {
  checkEngineArgs(args);
  const path = str(args, 'model') ?? (opts.chat === true ? defaultChatModelPath() : defaultModelPath());
  if (path === undefined) {
    throw new LlamaError('MODEL_NOT_FOUND', 'no model given and this installation has no embedded default model', { hint: 'pass one with -m PATH' });
  }
  const threads = num(args, 'threads');
  const ctxSize = num(args, 'ctx-size');
  const backend = str(args, 'backend');
  const tokenizer = str(args, 'tokenizer');
  const template = str(args, 'chat-template');
  const lora = list(args, 'lora').map(parseLoraSpec);
  const model = await openEngineModel(path, {
    ...(backend !== undefined ? { backend } : {}),
    ...(threads !== undefined ? { threads } : {}),
    ...(ctxSize !== undefined ? { ctxSize } : {}),
    kvType: (str(args, 'kv-type') ?? 'f32').toLowerCase() as 'f32' | 'f16',
    ...(tokenizer !== undefined ? { tokenizer } : {}),
    ...(template !== undefined ? { chatTemplate: template } : {}),
    ...(lora.length ? { lora } : {}),
  });
  return { model, path };
}
