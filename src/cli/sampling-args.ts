// The sampling and structured-output flags `llama run` and `llama chat` share, and turning them
// into generation options.
import type { OptionSpec, ParsedArgs } from './args.js';
import { bool, list, num, str } from './args.js';
import { processEscapes } from './input.js';
import { LlamaError, generation, type GenerateOptions } from '../index.js';
const { SAMPLING_DEFAULTS, readGrammarFile, readJsonSchemaFile } = generation;
type Grammar = generation.Grammar;
type OptionNames = generation.OptionNames;

export const SAMPLING_FLAGS: Readonly<Record<string, OptionSpec>> = {
  temp: { kind: 'number', arg: 'T', help: 'temperature; 0 = greedy', default: SAMPLING_DEFAULTS.temperature },
  'top-k': { kind: 'int', arg: 'K', help: 'keep the K most likely tokens; 0 = off', default: SAMPLING_DEFAULTS.topK },
  'top-p': { kind: 'number', arg: 'P', help: 'nucleus sampling; 1 = off', default: SAMPLING_DEFAULTS.topP },
  'min-p': { kind: 'number', arg: 'P', help: 'drop tokens below P x the best one\'s probability; 0 = off', default: SAMPLING_DEFAULTS.minP },
  'typical-p': { kind: 'number', arg: 'P', help: 'locally typical sampling; 1 = off', default: SAMPLING_DEFAULTS.typicalP },
  'repeat-penalty': { kind: 'number', arg: 'R', help: 'penalise tokens seen in the last --repeat-last-n; 1 = off', default: SAMPLING_DEFAULTS.repeatPenalty },
  'repeat-last-n': { kind: 'int', arg: 'N', help: 'window of the penalties; 0 = off, -1 = the whole context', default: SAMPLING_DEFAULTS.penaltyWindow },
  'frequency-penalty': { kind: 'number', arg: 'F', help: 'subtract F x count for tokens in the window', default: 0 },
  'presence-penalty': { kind: 'number', arg: 'P', help: 'subtract P for tokens in the window', default: 0 },
  seed: { kind: 'int', short: 's', arg: 'S', help: 'random seed, a whole number (default: random, printed on stderr)' },
  stop: { kind: 'list', arg: 'TEXT', help: 'stop before this text (repeatable); it is not printed' },
  'ignore-eos': { kind: 'boolean', help: 'keep generating through end-of-sequence tokens' },
};

export const STRUCTURED_FLAGS: Readonly<Record<string, OptionSpec>> = {
  'json-schema': { kind: 'string', arg: 'FILE', once: true, help: 'constrain the output to JSON matching this JSON Schema file' },
  grammar: { kind: 'string', arg: 'FILE', once: true, help: 'constrain the output to this GBNF grammar file (.gbnf)' },
};

/** Library option -> flag, so that errors name what the user typed. */
export const FLAG_NAMES: OptionNames = {
  maxTokens: '-n', temperature: '--temp', topK: '--top-k', topP: '--top-p', minP: '--min-p', typicalP: '--typical-p',
  repeatPenalty: '--repeat-penalty', penaltyWindow: '--repeat-last-n', frequencyPenalty: '--frequency-penalty',
  presencePenalty: '--presence-penalty', seed: '--seed', ctxSize: '--ctx-size', stop: '--stop',
};

/** A seed to use and print when the user gave none (so that a good run can be repeated). */
export function chooseSeed(args: ParsedArgs): number {
  return num(args, 'seed') ?? Math.floor(Math.random() * 0x7fffffff);
}

/** The sampling options from the flags (escapes processed in --stop when `escape`). */
export function samplingFromArgs(args: ParsedArgs, seed: number, escape = true): GenerateOptions {
  return {
    temperature: num(args, 'temp')!,
    topK: num(args, 'top-k')!,
    topP: num(args, 'top-p')!,
    minP: num(args, 'min-p')!,
    typicalP: num(args, 'typical-p')!,
    repeatPenalty: num(args, 'repeat-penalty')!,
    penaltyWindow: num(args, 'repeat-last-n')!,
    frequencyPenalty: num(args, 'frequency-penalty')!,
    presencePenalty: num(args, 'presence-penalty')!,
    seed,
    stop: list(args, 'stop').map((s) => (escape ? processEscapes(s, '--stop') : s)),
    ignoreEog: bool(args, 'ignore-eos'),
  };
}

/** The grammar of --json-schema / --grammar, parsed now (before the model loads), or undefined. */
export function grammarFromArgs(args: ParsedArgs): Grammar | undefined {
  const schemaFile = str(args, 'json-schema');
  const gbnfFile = str(args, 'grammar');
  if (schemaFile !== undefined && gbnfFile !== undefined) throw new LlamaError('USAGE', 'give --json-schema or --grammar, not both');
  if (gbnfFile !== undefined) return readGrammarFile(gbnfFile);
  return schemaFile !== undefined ? readJsonSchemaFile(schemaFile) : undefined;
}
