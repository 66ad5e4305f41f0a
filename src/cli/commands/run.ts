// `llama run`: generate text from a prompt, streaming it to stdout as tokens are decoded. A one-line
// timing summary goes to stderr. A thin consumer of generate().
import { readFileSync } from 'node:fs';
import type { Command } from '../command.js';
import { bool, list, num, str } from '../args.js';
import { MODEL_OPTIONS, openModel } from '../model-args.js';
import { generate, LlamaError, SAMPLING_DEFAULTS, UsageError } from '../../index.js';

const DEFAULT_MAX_TOKENS = 256;

export const command: Command = {
  spec: {
    name: 'run',
    summary: 'generate text from a prompt',
    usage: '[-m PATH] [-p PROMPT | -f FILE] [-n N] [--temp T] [--top-k K] [--top-p P] [--seed S] [--stop S]...',
    options: {
      ...MODEL_OPTIONS,
      prompt: { kind: 'string', short: 'p', arg: 'TEXT', help: 'the prompt (default: empty, i.e. just BOS)' },
      file: { kind: 'string', short: 'f', arg: 'FILE', help: 'read the prompt from a file' },
      'n-predict': { kind: 'int', short: 'n', arg: 'N', help: `tokens to generate; -1 = until an end token or the context is full (default: ${DEFAULT_MAX_TOKENS}, fewer if the context is smaller)` },
      temp: { kind: 'number', arg: 'T', help: 'temperature; 0 = greedy', default: SAMPLING_DEFAULTS.temperature },
      'top-k': { kind: 'int', arg: 'K', help: 'keep the K most likely tokens; 0 = off', default: SAMPLING_DEFAULTS.topK },
      'top-p': { kind: 'number', arg: 'P', help: 'nucleus sampling; 1 = off', default: SAMPLING_DEFAULTS.topP },
      'min-p': { kind: 'number', arg: 'P', help: 'drop tokens below P x the best one\'s probability; 0 = off', default: SAMPLING_DEFAULTS.minP },
      'typical-p': { kind: 'number', arg: 'P', help: 'locally typical sampling; 1 = off', default: SAMPLING_DEFAULTS.typicalP },
      'repeat-penalty': { kind: 'number', arg: 'R', help: 'penalise tokens seen in the last --repeat-last-n; 1 = off', default: SAMPLING_DEFAULTS.repeatPenalty },
      'repeat-last-n': { kind: 'int', arg: 'N', help: 'window of the penalties', default: SAMPLING_DEFAULTS.penaltyWindow },
      'frequency-penalty': { kind: 'number', arg: 'F', help: 'subtract F x count for tokens in the window', default: 0 },
      'presence-penalty': { kind: 'number', arg: 'P', help: 'subtract P for tokens in the window', default: 0 },
      seed: { kind: 'int', short: 's', arg: 'S', help: 'random seed (default: random)' },
      stop: { kind: 'list', arg: 'TEXT', help: 'stop before this text (repeatable); it is not printed' },
      'ignore-eos': { kind: 'boolean', help: 'keep generating through end-of-sequence tokens' },
      'no-echo': { kind: 'boolean', help: 'print only the generated text, not the prompt' },
    },
    details: [
      'Examples:',
      '  llama run -m stories260K.bin --tokenizer tok512.bin -p "Once upon a time" -n 64 --temp 0',
      '  llama run -m model.gguf -f prompt.txt --temp 0.7 --seed 42 --stop "\\n\\n"',
      '',
      'llama2.c models (.bin) also stop when they sample BOS, as llama2.c\'s run.c does.',
      'Note: llama2.c\'s -n counts all positions including BOS and the prompt; here -n counts generated tokens.',
    ].join('\n'),
  },

  async run(args) {
    if (args.positionals.length > 0) throw new UsageError(`unexpected argument '${args.positionals[0]}'`, 'quote the prompt and pass it with -p');
    const promptArg = str(args, 'prompt');
    const promptFile = str(args, 'file');
    if (promptArg !== undefined && promptFile !== undefined) throw new UsageError('give the prompt with -p or -f, not both');
    let prompt = promptArg ?? '';
    if (promptFile !== undefined) {
      try {
        prompt = readFileSync(promptFile, 'utf8');
      } catch (e) {
        throw new LlamaError('FILE_NOT_FOUND', `cannot read the prompt file: ${(e as Error).message}`, { file: promptFile });
      }
    }
    const nPredict = num(args, 'n-predict');
    if (nPredict !== undefined && nPredict < -1) throw new UsageError(`-n must be -1 or more, got ${nPredict}`);

    const { loaded, model, tokenizer, loadMs, ctxSize, kvType } = await openModel(args, { needTokenizer: true });
    try {
      const tok = tokenizer!;
      const ids = tok.encode(prompt);
      const session = model.newSession({ ...(ctxSize !== undefined ? { ctxSize } : {}), kvType });
      // Without -n: 256 tokens, or as many as the context holds (the last token needs no position).
      const room = session.ctxSize - ids.length + 1;
      const maxTokens = nPredict === -1 ? undefined : (nPredict ?? Math.max(1, Math.min(DEFAULT_MAX_TOKENS, room)));
      const seed = num(args, 'seed');
      const ac = new AbortController();
      const onSigint = () => ac.abort();
      process.once('SIGINT', onSigint);
      // `llama run ... | head`: a closed pipe ends generation quietly
      let stdoutClosed = false;
      const onStdoutError = (e: NodeJS.ErrnoException) => {
        if (e.code !== 'EPIPE') throw e;
        stdoutClosed = true;
        ac.abort();
      };
      process.stdout.on('error', onStdoutError);
      const write = (text: string) => {
        if (!stdoutClosed && text) process.stdout.write(text);
      };
      const gen = generate(model, tok, ids, {
        ...(maxTokens !== undefined ? { maxTokens } : {}),
        session,
        signal: ac.signal,
        temperature: num(args, 'temp')!,
        topK: num(args, 'top-k')!,
        topP: num(args, 'top-p')!,
        minP: num(args, 'min-p')!,
        typicalP: num(args, 'typical-p')!,
        repeatPenalty: num(args, 'repeat-penalty')!,
        penaltyWindow: num(args, 'repeat-last-n')!,
        frequencyPenalty: num(args, 'frequency-penalty')!,
        presencePenalty: num(args, 'presence-penalty')!,
        ...(seed !== undefined ? { seed } : {}),
        stop: list(args, 'stop'),
        ignoreEog: bool(args, 'ignore-eos'),
        // llama2.c's run.c ends a sequence when it samples BOS
        stopTokens: loaded.format === 'llama2c' && tok.bosId !== undefined ? [tok.bosId] : [],
      });
      let cancelled = false;
      try {
        if (!bool(args, 'no-echo')) write(gen.promptText);
        for await (const { text } of gen) write(text);
      } catch (e) {
        if (!(e instanceof LlamaError && e.code === 'CANCELLED')) throw e;
        cancelled = true;
      } finally {
        process.removeListener('SIGINT', onSigint);
      }
      write('\n');
      const s = gen.stats;
      if (s) {
        process.stderr.write(
          `prompt: ${s.promptTokens} tokens, ${s.promptTokensPerSec.toFixed(1)} tok/s | ` +
            `generated: ${s.generatedTokens} tokens, ${s.generatedTokensPerSec.toFixed(1)} tok/s | ` +
            `load: ${loadMs.toFixed(0)} ms | backend: ${model.backend.name} | stop: ${cancelled ? 'cancelled' : s.finishReason}\n`,
        );
      }
      return cancelled && !stdoutClosed ? 130 : 0;
    } finally {
      loaded.close();
    }
  },
};
