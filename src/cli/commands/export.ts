import type { Command } from '../command.js';
import { str } from '../args.js';
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { LlamaError, UsageError, training, finetune, chat } from '../../index.js';
import { list } from '../args.js';
const { EXPORT_TYPES, exportGguf, exportHf, trainedModelFromCheckpoint } = training;
type ExportType = training.ExportType;

/** A GGUF file (magic "GGUF"), not a training checkpoint. */
function isGgufModel(path: string): boolean {
  if (!existsSync(path) || !statSync(path).isFile()) return false;
  const head = Buffer.alloc(4);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, 4, 0);
  } finally {
    closeSync(fd);
  }
  return head.toString('latin1') === 'GGUF';
}

export const command: Command = {
  spec: {
    name: 'export',
    summary: 'export a training checkpoint to GGUF (f32/f16/q8_0) or a Hugging Face folder',
    usage: 'CHECKPOINT.bin|MODEL.gguf -o OUT [--format gguf|hf] [--type f32|f16|q8_0] [--merge-lora ADAPTER] [--chat-template T]',
    options: {
      output: { kind: 'string', short: 'o', arg: 'PATH', help: 'GGUF file or HF folder to write' },
      format: { kind: 'string', arg: 'FMT', help: 'gguf or hf (default: gguf, or hf when -o has no .gguf extension and --type is not given)' },
      type: { kind: 'string', arg: 'TYPE', help: 'GGUF tensor type: f32, f16, q8_0 (default f32)' },
      name: { kind: 'string', help: 'general.name written into the GGUF' },
      'merge-lora': { kind: 'list', arg: 'ADAPTER[:SCALE]', help: 'merge a LoRA adapter (GGUF or PEFT folder; repeatable) into the MODEL given instead of a checkpoint' },
      tokenizer: { kind: 'string', arg: 'FILE', help: 'with --merge-lora: tokenizer file, when the model has none' },
      'chat-template': { kind: 'string', arg: 'NAME|FILE|TEXT', help: `GGUF: write tokenizer.chat_template: a built-in format (${chat.BUILTIN_CHAT_FORMATS.join(', ')}), a Jinja file or Jinja text (default: with --merge-lora the base model's own, else none)` },
    },
    details: 'Examples:\n  llama export run/checkpoint.bin -o model.gguf --type q8_0\n  llama export run/checkpoint.bin --format hf -o model-hf/\n  llama export models/default/model.gguf --merge-lora ft/adapter.gguf -o merged.gguf\n  llama export ft/model.gguf --chat-template llama-2 --type f16 -o chat.gguf',
  },
  async run(args) {
    const ckpt = args.positionals[0];
    if (!ckpt || args.positionals.length > 1) throw new UsageError('name one checkpoint file', 'usage: llama export CHECKPOINT.bin -o OUT');
    const merges = list(args, 'merge-lora');
    const out = str(args, 'output');
    if (!out) throw new UsageError('-o OUT is required');
    const type = (str(args, 'type') ?? 'f32').toLowerCase() as ExportType;
    if (!EXPORT_TYPES.includes(type)) throw new UsageError(`--type must be one of ${EXPORT_TYPES.join(', ')}, got '${type}'`);
    const format = str(args, 'format') ?? (out.endsWith('.gguf') || str(args, 'type') ? 'gguf' : 'hf');
    if (format !== 'gguf' && format !== 'hf') throw new UsageError(`--format must be gguf or hf, got '${format}'`);
    if (format === 'hf' && type !== 'f32') throw new UsageError('the Hugging Face export writes F32 safetensors; --type applies to GGUF only');
    let m: Awaited<ReturnType<typeof finetune.mergedModel>>;
    // a GGUF model (not a checkpoint) with no adapters is re-exported: another --type, or a --chat-template added
    if (merges.length || isGgufModel(ckpt)) m = await finetune.mergedModel(ckpt, merges, str(args, 'tokenizer'));
    // checked here so the message is about export (the checkpoint loader's hint speaks of training)
    else if (!existsSync(ckpt) || !statSync(ckpt).isFile()) {
      throw new LlamaError('FILE_NOT_FOUND', 'no such checkpoint file', { file: ckpt, hint: 'pass the checkpoint.bin (or checkpoint-best.bin) that llama train wrote in its -o folder' });
    }
    else m = trainedModelFromCheckpoint(ckpt);
    const template = str(args, 'chat-template');
    if (template !== undefined) {
      if (format !== 'gguf') throw new UsageError('--chat-template applies to GGUF output only');
      // resolved like `llama chat --chat-template` resolves it, so what is written is what chat would use
      const t = chat.resolveChatTemplate({ override: template, tokenizer: m.tokenizer });
      if (!(t instanceof chat.JinjaChatTemplate)) throw new UsageError(`--chat-template '${template}' is not a Jinja template`);
      m = { ...m, chatTemplate: t.source };
    }
    if (format === 'gguf') {
      const bytes = exportGguf(out, m, type, str(args, 'name'));
      process.stderr.write(`wrote ${out} (${type}, ${(bytes / 1e6).toFixed(2)} MB) ${merges.length ? `with ${merges.length} adapter(s) merged` : isGgufModel(ckpt) ? `from ${ckpt}` : `from step ${m.step}`}${m.chatTemplate !== undefined ? ', with a chat template' : ''}\n`);
    } else {
      exportHf(out, m);
      process.stderr.write(`wrote ${out}/ (model.safetensors, config.json, tokenizer.model) from step ${m.step}\n`);
    }
    return 0;
  },
};
