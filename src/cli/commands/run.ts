// `llama run`: generate text from a prompt, streaming it to stdout as tokens are decoded. A one-line
// timing summary goes to stderr. A thin consumer of generate().
//
// Everything that can be checked without computing (options, prompt input, context fit, token ids
// against the model) is checked before the prompt is echoed, so a failing run leaves stdout empty.
import type { Command } from '../command.js';
import { bool, list, num, str } from '../args.js';
import { MODEL_OPTIONS, openModel } from '../model-args.js';
import { readStdinText, readTextFile, processEscapes, stdinIsPipedOrFile } from '../input.js';
import { onStdoutClosed, stdoutClosed, writeOut } from '../output.js';
import { FLAG_NAMES, SAMPLING_FLAGS, STRUCTURED_FLAGS, chooseSeed, grammarFromArgs, samplingFromArgs } from '../sampling-args.js';
import { LlamaError, UsageError, generation, models, type GenerateOptions } from '../../index.js';
const { generate, validateGenerateOptions, createSampler, grammarSampler, withGrammar } = generation;
const { DEFAULT_CTX_CAP } = models;

const DEFAULT_MAX_TOKENS = 256;


const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

/** The prompt text: -p, -f FILE, -f - (stdin), or text piped on stdin when neither is given. */
function readPrompt(promptArg: string | undefined, promptFile: string | undefined, escape: boolean): string {
  if (promptArg !== undefined && promptFile !== undefined) throw new UsageError('give the prompt with -p or -f, not both');
  if (promptArg !== undefined) return escape ? processEscapes(promptArg, '-p') : promptArg;
  if (promptFile !== undefined) return readTextFile(promptFile);
  if (stdinIsPipedOrFile()) {
    process.stderr.write('reading the prompt from standard input (pass -p "" to start from BOS alone)\n');
    return readStdinText();
  }
  return '';
}

export const command: Command = {
  spec: {
    name: 'run',
    summary: 'generate text from a prompt',
    usage: '[-m PATH] [-p PROMPT | -f FILE] [-n N] [--temp T] [--top-k K] [--top-p P] [--seed S] [--stop S]...',
    options: {
      ...MODEL_OPTIONS,
      prompt: { kind: 'string', short: 'p', arg: 'TEXT', once: true, help: 'the prompt (default: text piped on standard input, else empty, i.e. just BOS)' },
      file: { kind: 'string', short: 'f', arg: 'FILE', once: true, help: 'read the prompt from a UTF-8 file, exactly (- = standard input)' },
      escape: { kind: 'boolean', short: 'e', help: 'process escapes (\\n \\t \\r \\\\ \\" \\\' \\xHH) in -p and --stop; --no-escape to take them literally', default: true },
      'n-predict': { kind: 'int', short: 'n', arg: 'N', help: `tokens to generate; -1 = until an end token or the context is full (default: ${DEFAULT_MAX_TOKENS}, fewer if the context is smaller)` },
      ...SAMPLING_FLAGS,
      'no-echo': { kind: 'boolean', help: 'print only the generated text, not the prompt' },
      special: { kind: 'boolean', help: 'let the prompt spell special tokens (e.g. <s>, <|eot_id|>) instead of treating them as text' },
      interactive: { kind: 'boolean', short: 'i', help: 'chat instead (the same as `llama chat` with these options)' },
      ...STRUCTURED_FLAGS,
    },
    details: [
      'Examples:',
      '  llama run -m stories260K.bin --tokenizer tok512.bin -p "Once upon a time" -n 64 --temp 0',
      '  llama run -m model.gguf -f prompt.txt --temp 0.7 --seed 42 --stop "\\n\\n"',
      '  echo "Once upon a time" | llama run -n 32',
      '  llama run -p "Colour:" --json-schema colour.schema.json --temp 0',
      '  llama run -i               (a chat: the same as llama chat)',
      '',
      'Escapes: as in llama.cpp, -p and --stop understand \\n \\t \\r \\\\ \\" \\\' and \\xHH (one byte), so',
      '--stop "\\n\\n" stops at a blank line. --no-escape takes them literally. -f files are read exactly.',
      '',
      'llama2.c models (.bin) also stop when they sample BOS, as llama2.c\'s run.c does.',
      'Note: llama2.c\'s -n counts all positions including BOS and the prompt; here -n counts generated tokens.',
    ].join('\n'),
  },

  async run(args) {
    if (bool(args, 'interactive')) {
      if (str(args, 'prompt') !== undefined || str(args, 'file') !== undefined) {
        throw new UsageError('-i starts a chat: give no -p / -f', 'type the first message at the prompt (or pipe the turns in), and use `llama chat --system TEXT` for a system prompt');
      }
      const { command: chat } = await import('./chat.js');
      return chat.run(args);
    }
    if (args.positionals.length > 0) throw new UsageError(`unexpected argument '${args.positionals[0]}'`, 'quote the prompt and pass it with -p');
    const escape = bool(args, 'escape');
    const nPredict = num(args, 'n-predict');
    if (nPredict !== undefined && nPredict < -1) throw new UsageError(`-n must be -1 or more, got ${nPredict}`, '-n -1 generates until an end token or the context is full');
    // a seed is always chosen here, so that it can be printed and a good run repeated
    const seed = chooseSeed(args);
    const options: GenerateOptions = samplingFromArgs(args, seed, escape);
    // options first: a typo should not cost a model load
    const ctxArg = num(args, 'ctx-size');
    validateGenerateOptions({ ...options, ...(ctxArg !== undefined ? { ctxSize: ctxArg } : {}) }, FLAG_NAMES);
    const prompt = readPrompt(str(args, 'prompt'), str(args, 'file'), escape);
    const grammar = grammarFromArgs(args);

    list(args, 'lora').forEach((spec) => models.parseLoraSpec(spec)); // a bad --lora fails before the load
    const { loaded, model, tokenizer, loadMs, ctxSize, kvType } = await openModel(args, { needTokenizer: true });
    try {
      const tok = tokenizer!;
      // Ids the tokenizer cannot spell (a model with padded embeddings, or the wrong tokenizer) are
      // never sampled: they would end the run with a TOKEN_ID error after part of the text was printed.
      let logitBias: Map<number, number> | undefined;
      if (tok.vocabSize !== model.config.vocabSize) {
        process.stderr.write(`warning: the tokenizer has ${tok.vocabSize} tokens and the model ${model.config.vocabSize}: check that they belong together (--tokenizer)\n`);
        if (tok.vocabSize < model.config.vocabSize) {
          logitBias = new Map();
          for (let id = tok.vocabSize; id < model.config.vocabSize; id++) logitBias.set(id, -Infinity);
        }
      }
      const ids = tok.encode(prompt, bool(args, 'special') ? { parseSpecial: true } : {});
      const ctx = ctxSize ?? Math.min(model.config.contextLength, DEFAULT_CTX_CAP);
      // Without -n: 256 tokens, or until the context is full (reported as "context", as -n -1 is).
      const room = ctx - ids.length + 1;
      const maxTokens = nPredict === -1 ? undefined : (nPredict ?? (room > DEFAULT_MAX_TOKENS ? DEFAULT_MAX_TOKENS : undefined));
      const ac = new AbortController();
      const onSigint = () => ac.abort();
      const stopTokens = loaded.format === 'llama2c' && tok.bosId !== undefined ? [tok.bosId] : [];
      // structured output: the grammar goes first in the sampler chain
      const sampler = grammar ? withGrammar(createSampler({ ...options, ...(logitBias ? { logitBias } : {}) }), grammarSampler(grammar, tok, { endTokens: stopTokens })) : undefined;
      const gen = generate(model, tok, ids, {
        ...options,
        ...(sampler ? { sampler } : {}),
        ...(logitBias ? { logitBias } : {}),
        ...(maxTokens !== undefined ? { maxTokens } : {}),
        ctxSize: ctx,
        kvType,
        signal: ac.signal,
        // llama2.c's run.c ends a sequence when it samples BOS
        stopTokens,
      });
      gen.check(); // before anything reaches stdout
      process.once('SIGINT', onSigint);
      // `llama run ... | head`: a closed pipe ends generation quietly (the summary still goes to stderr)
      const unsubscribe = onStdoutClosed(() => ac.abort());
      let cancelled = false;
      try {
        if (!bool(args, 'no-echo')) writeOut(gen.promptText);
        for await (const { text } of gen) writeOut(text);
      } catch (e) {
        if (!(e instanceof LlamaError && e.code === 'CANCELLED')) throw e;
        cancelled = true;
      } finally {
        process.removeListener('SIGINT', onSigint);
        unsubscribe();
      }
      writeOut('\n');
      const s = gen.stats;
      if (s) {
        process.stderr.write(
          `prompt: ${plural(s.promptTokens, 'token')}, ${s.promptTokensPerSec.toFixed(1)} tok/s | ` +
            `generated: ${plural(s.generatedTokens, 'token')}, ${s.generatedTokensPerSec.toFixed(1)} tok/s | ` +
            `load: ${loadMs.toFixed(0)} ms | backend: ${model.backend.name} | seed: ${seed} | stop: ${s.finishReason}\n`,
        );
      }
      return cancelled && !stdoutClosed() ? 130 : 0;
    } finally {
      loaded.close();
    }
  },
};
