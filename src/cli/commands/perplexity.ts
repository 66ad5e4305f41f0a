// `llama perplexity`: llama.cpp's perplexity tool, number for number (see src/eval/perplexity.ts),
// plus its HellaSwag scorer (--hellaswag) and its KL-divergence comparison of two models
// (--kl-divergence-base FILE to save the reference, --kl-divergence to compare against it).
// Results (the running `[i]ppl,` values, the final estimate, the HellaSwag lines) go to stdout like
// llama.cpp's LOG(); progress and set-up notes go to stderr.
import { readFileSync } from 'node:fs';
import type { Command } from '../command.js';
import { bool, num, str } from '../args.js';
import { MODEL_OPTIONS, openModel } from '../model-args.js';
import { LlamaError, UsageError, evaluation } from '../../index.js';

const { computePerplexity, promptFromFile, hellaswagLlamaCpp, parseHellaswagLlamaCpp, KlBaseWriter, readKlBase, compareWithBase, formatKlReport } = evaluation;

export const command: Command = {
  spec: {
    name: 'perplexity',
    summary: 'perplexity of a text the way llama.cpp computes it; also --hellaswag and --kl-divergence',
    usage: '-m MODEL -f TEXT [-c N] [-b N] [--chunks N] | --hellaswag -f FILE [--hellaswag-tasks N] | --kl-divergence-base FILE [--kl-divergence]',
    options: {
      ...MODEL_OPTIONS,
      file: { kind: 'string', short: 'f', arg: 'FILE', help: 'text file (one trailing newline is dropped, as llama.cpp does)' },
      batch: { kind: 'int', short: 'b', arg: 'N', help: 'tokens per forward call (default: -c)' },
      chunks: { kind: 'int', arg: 'N', help: 'evaluate only the first N chunks' },
      hellaswag: { kind: 'boolean', help: 'score HellaSwag in llama.cpp\'s 6-lines-per-task text format' },
      'hellaswag-tasks': { kind: 'int', arg: 'N', help: 'number of HellaSwag tasks (default: all)' },
      seed: { kind: 'int', arg: 'S', help: 'seed of the HellaSwag task shuffle (llama.cpp draws a random one)', default: 1 },
      'no-shuffle': { kind: 'boolean', help: 'HellaSwag: take the first N tasks in file order' },
      'kl-divergence-base': { kind: 'string', arg: 'FILE', help: 'logits file: written by a plain run, read with --kl-divergence' },
      'kl-divergence': { kind: 'boolean', help: 'compare this model against the logits saved in --kl-divergence-base' },
      json: { kind: 'boolean', help: 'also print the result as one JSON line at the end' },
    },
    details: [
      'examples:',
      '  llama perplexity -m model.gguf -f wiki.test.raw -c 512',
      '  llama perplexity -m model.gguf --hellaswag -f hellaswag_val_llamacpp_format.txt --hellaswag-tasks 400',
      '  llama perplexity -m f16.gguf -f text.txt -c 256 --kl-divergence-base base.kld',
      '  llama perplexity -m q8_0.gguf --kl-divergence-base base.kld --kl-divergence',
    ].join('\n'),
  },

  async run(args) {
    const file = str(args, 'file');
    const klBase = str(args, 'kl-divergence-base');
    const klCompare = bool(args, 'kl-divergence');
    if (klCompare && klBase === undefined) throw new UsageError('--kl-divergence needs --kl-divergence-base FILE (the logits saved by a run of the reference model)');
    if (file === undefined && !klCompare) throw new UsageError('give the text with -f FILE', 'usage: llama perplexity -m MODEL -f TEXT [-c N]');
    const { loaded, model, tokenizer, ctxSize, kvType } = await openModel(args, { needTokenizer: true });
    const tok = tokenizer!;
    const out = (s: string) => process.stdout.write(s);
    try {
      if (bool(args, 'hellaswag')) {
        const tasks = parseHellaswagLlamaCpp(readFileSync(file!, 'utf8'));
        const n = num(args, 'hellaswag-tasks');
        process.stderr.write(`hellaswag: loaded ${tasks.length} tasks\n`);
        const r = hellaswagLlamaCpp(model, tok, tasks, {
          ...(n !== undefined ? { nTasks: n } : {}),
          shuffle: !bool(args, 'no-shuffle'),
          seed: num(args, 'seed') ?? 1,
          ...(ctxSize !== undefined ? { ctxSize } : {}),
          onHeader: () => out('\ntask\tacc_norm\n'),
          onTask: (i, acc) => out(`${i}\t${acc.toFixed(8)}\n`),
        });
        out('\n');
        if (bool(args, 'json')) out(JSON.stringify({ hellaswag: { tasks: r.tasks, acc_norm: r.accNorm, acc_norm_stderr: r.stderr } }) + '\n');
        return 0;
      }

      if (klCompare) {
        const base = readKlBase(klBase!);
        if (base.nVocab !== model.config.vocabSize) throw new LlamaError('DATA', `the base logits have a ${base.nVocab}-token vocabulary, this model has ${model.config.vocabSize}`);
        process.stderr.write(`kl-divergence: ${base.nChunk} chunks of ${base.nCtx} tokens from ${klBase}\n`);
        const bos = tok.addBosDefault && tok.bosId !== undefined ? { bosId: tok.bosId } : {};
        const r = compareWithBase(model, base, { ...bos, ...(kvType !== undefined ? { kvType } : {}), onChunk: (line) => out(line) });
        out(formatKlReport(r));
        if (bool(args, 'json')) out(JSON.stringify({ kl_divergence: r.summary }) + '\n');
        return 0;
      }

      const text = promptFromFile(readFileSync(file!, 'utf8'));
      const tokens = tok.encode(text); // BOS per the vocabulary's add_bos, like common_tokenize(..., true)
      const nCtx = ctxSize ?? Math.min(512, model.config.contextLength);
      const nBatch = num(args, 'batch') ?? nCtx;
      const nChunks = num(args, 'chunks');
      const addBos = tok.addBosDefault && tok.bosId !== undefined;
      const nChunkAll = Math.floor(tokens.length / nCtx);
      const nChunk = nChunks !== undefined && nChunks >= 0 ? Math.min(nChunks, nChunkAll) : nChunkAll;
      process.stderr.write(`perplexity: ${tokens.length} tokens; calculating perplexity over ${nChunk} chunks, n_ctx=${nCtx}, batch_size=${Math.min(nBatch, nCtx)}\n`);
      const writer = klBase !== undefined ? new KlBaseWriter(klBase, nCtx, model.config.vocabSize, nChunk, tokens.slice(0, nChunk * nCtx)) : undefined;
      const t0 = performance.now();
      let r;
      try {
        r = computePerplexity(model, tokens, {
          nCtx,
          nBatch,
          ...(nChunks !== undefined ? { nChunks } : {}),
          ...(addBos ? { bosId: tok.bosId! } : {}),
          ...(kvType !== undefined ? { kvType } : {}),
          onChunk: (i, ppl) => {
            if (i === 1) process.stderr.write(`perplexity: ${((performance.now() - t0) / 1000).toFixed(2)} seconds per pass\n`);
            out(`[${i}]${ppl.toFixed(4)},`);
          },
          ...(writer ? { onScoredRow: (row: Float32Array) => writer.addRow(row) } : {}),
        });
      } catch (e) {
        writer?.abort();
        throw e;
      }
      out('\n');
      if (writer) {
        writer.finish();
        process.stderr.write(`perplexity: saved the logits of ${r.count} positions to ${klBase}\n`);
      }
      if (Number.isFinite(r.pplError)) out(`Final estimate: PPL = ${r.ppl.toFixed(4)} +/- ${r.pplError.toFixed(5)}\n`);
      else process.stderr.write('Unexpected negative standard deviation of log(prob)\n');
      if (bool(args, 'json')) out(JSON.stringify({ ppl: r.ppl, ppl_error: r.pplError, mean_nll: r.meanNll, tokens: tokens.length, scored: r.count, chunks: r.chunks, n_ctx: nCtx }) + '\n');
      return 0;
    } finally {
      loaded.close();
    }
  },
};
