// `llama logits`: run token ids through the model in one prefill and print the logits of the last
// position (or every position with --all). For researchers and for tests.
import type { Command } from '../command.js';
import { bool, str } from '../args.js';
import { MODEL_OPTIONS, openModel } from '../model-args.js';
import { LlamaError, UsageError } from '../../index.js';

/** Shortest decimal that reads back as the same float32 (9 significant digits always suffice). */
function f32String(v: number): string {
  return String(Number(v.toPrecision(9)));
}

export const command: Command = {
  spec: {
    name: 'logits',
    summary: 'print the logits of a prefill over token ids',
    usage: '[-m PATH] (--ids 1,2,3 | -p TEXT) [--all] [--json]',
    options: {
      ...MODEL_OPTIONS,
      ids: { kind: 'string', arg: 'IDS', help: 'comma-separated token ids' },
      prompt: { kind: 'string', short: 'p', arg: 'TEXT', once: true, help: 'tokenize this text instead of --ids' },
      all: { kind: 'boolean', help: 'print every position, not only the last' },
      json: { kind: 'boolean', help: 'print {"logits": [[...], ...]}, one row per position' },
    },
    details: 'Without --json: one line per position, logits separated by spaces.',
  },

  async run(args) {
    const idsArg = str(args, 'ids');
    const prompt = str(args, 'prompt');
    if ((idsArg === undefined) === (prompt === undefined)) throw new UsageError('give the tokens with --ids 1,2,3 or the text with -p');
    let ids: number[] = [];
    if (idsArg !== undefined) {
      ids = idsArg.split(',').map((s) => {
        const v = Number(s.trim());
        if (s.trim() === '' || !Number.isInteger(v) || v < 0) throw new UsageError(`--ids: '${s}' is not a token id`, 'example: --ids 1,450,4996');
        return v;
      });
    }
    const { loaded, model, tokenizer, ctxSize, kvType } = await openModel(args, { needTokenizer: prompt !== undefined });
    try {
      if (prompt !== undefined) ids = tokenizer!.encode(prompt);
      const V = model.config.vocabSize;
      for (const id of ids) if (id >= V) throw new UsageError(`--ids: token id ${id} is outside the vocabulary (0..${V - 1})`);
      if (ids.length === 0) throw new UsageError('no tokens to run');
      if (ctxSize === undefined && ids.length > model.config.contextLength) {
        throw new LlamaError('CONTEXT_OVERFLOW', `${ids.length} tokens exceed the model's ${model.config.contextLength}-position context`, { hint: 'pass --ctx-size N to go beyond it deliberately' });
      }
      const session = model.newSession({ ctxSize: ctxSize ?? ids.length, kvType });
      const all = bool(args, 'all');
      const logits = model.forward(session, ids, { allLogits: all });
      const rows: string[][] = [];
      for (let r = 0; r < logits.length / V; r++) rows.push(Array.from(logits.subarray(r * V, (r + 1) * V), f32String));
      if (bool(args, 'json')) process.stdout.write(`{"logits": [${rows.map((r) => `[${r.join(', ')}]`).join(', ')}]}\n`);
      else process.stdout.write(rows.map((r) => r.join(' ')).join('\n') + '\n');
      return 0;
    } finally {
      loaded.close();
    }
  },
};
