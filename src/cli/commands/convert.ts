// `llama convert IN OUT [--type T] [--format gguf|safetensors] [--tokenizer FILE]`
import { str, type CommandSpec } from '../args.js';
import type { Command } from '../command.js';
import { LlamaError, UsageError, models } from '../../index.js';
const { convertModel, CONVERT_TYPES } = models;
type ConvertFormat = models.ConvertFormat;
type ConvertType = models.ConvertType;

const spec: CommandSpec = {
  name: 'convert',
  summary: 'convert a model to GGUF (optionally quantized) or to Hugging Face safetensors',
  usage: 'IN OUT [--type f32|f16|bf16|q8_0|q4_0|q4_k|q4_k_m|q6_k] [--format gguf|safetensors] [--tokenizer FILE]',
  options: {
    type: { kind: 'string', arg: 'TYPE', help: `type of the 2-D weights: ${Object.keys(CONVERT_TYPES).join(', ')} (default: keep each tensor's type)` },
    format: { kind: 'string', arg: 'FMT', help: 'gguf or safetensors (default: from OUT: *.gguf -> gguf, *.safetensors or a directory -> safetensors)' },
    tokenizer: { kind: 'string', arg: 'FILE', help: 'tokenizer file to carry along (default: the one beside the model)' },
  },
  details: [
    'IN: a .gguf file, an HF folder (config.json + model.safetensors[.index.json]), a Meta folder',
    '(params.json + consolidated.NN.pth) or a llama2.c .bin. Quantized types follow llama-quantize\'s',
    'per-tensor rules (q4_k = its Q4_K_S mix, q4_k_m = Q4_K_M; the output matrix gets Q6_K below 8',
    'bits). Norms stay F32; a type whose blocks do not divide a row falls back (Q4_K -> Q5_0,',
    'Q6_K -> Q8_0, then F16) with a notice.',
    '',
    'examples:',
    '  llama convert Llama-2-7b/ llama-2-7b-q8_0.gguf --type q8_0',
    '  llama convert model.gguf hf-out/ --type bf16',
  ].join('\n'),
};

export const command: Command = {
  spec,
  async run(args) {
    const [input, output, ...extra] = args.positionals;
    if (input === undefined || output === undefined || extra.length > 0) throw new UsageError('convert needs IN and OUT', `usage: llama convert ${spec.usage}`);
    const type = str(args, 'type')?.toLowerCase();
    if (type !== undefined && !(type in CONVERT_TYPES)) throw new UsageError(`unknown --type ${type}`, `types: ${Object.keys(CONVERT_TYPES).join(', ')}`);
    const format = str(args, 'format');
    if (format !== undefined && format !== 'gguf' && format !== 'safetensors') throw new UsageError(`unknown --format ${format}`, 'formats: gguf, safetensors');
    const tty = process.stderr.isTTY === true;
    // Ctrl-C: the writer stops between tensors, removes its temp file, and we exit 130
    const ac = new AbortController();
    const onSigint = () => {
      if (ac.signal.aborted) process.exit(130); // a second Ctrl-C does not wait (the exit hook still removes the temp file)
      ac.abort();
    };
    process.on('SIGINT', onSigint);
    let r;
    try {
      r = await convertModel(input, output, {
      signal: ac.signal,
      type: type as ConvertType | undefined,
      format: format as ConvertFormat | undefined,
      tokenizerPath: str(args, 'tokenizer'),
      log: (m) => process.stderr.write(`${tty ? '\r\x1b[K' : ''}convert: ${m}\n`),
      // a progress line only when stderr is a terminal
      progress: tty ? (done, total) => process.stderr.write(`\r\x1b[Kconvert: ${((100 * done) / Math.max(total, 1)).toFixed(0)}% of ${(total / 1e6).toFixed(0)} MB`) : undefined,
      });
    } catch (e) {
      if (e instanceof LlamaError && e.code === 'CANCELLED') {
        process.stderr.write(`${tty ? '\r\x1b[K' : ''}convert: interrupted; ${output} was not written (the partial file was removed)\n`);
        return 130;
      }
      throw e;
    } finally {
      process.off('SIGINT', onSigint);
    }
    if (tty) process.stderr.write('\r\x1b[K');
    const counts = new Map<string, number>();
    for (const t of r.tensors) counts.set(t.type, (counts.get(t.type) ?? 0) + 1);
    process.stderr.write(`convert: ${r.tensors.length} tensors (${[...counts].map(([k, v]) => `${v} ${k}`).join(', ')}), ${r.bytes} bytes of ${r.format}\n`);
    for (const f of r.files) process.stdout.write(`${f}\n`);
    return 0;
  },
};
