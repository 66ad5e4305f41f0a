// Instruction-tuning data: Alpaca JSON (instruction / input / output), chat JSONL (`messages`)
// and plain text, turned into training sequences whose prompt tokens are masked (target -1, which
// crossEntropy ignores), so the loss — and with it the gradient — comes from the responses only.
//
// Batching is padding-free: each example is its own sequence (the model runs any length, so no
// pad tokens and no attention mask are needed), truncated to the sequence length; several
// examples make one optimizer step by gradient accumulation. Plain text is cut into windows.
import { readFileSync } from 'node:fs';
import { LlamaError } from '../errors.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import type { ChatMessage, ChatTemplate } from '../chat/index.js';
import { encodeChat } from '../chat/index.js';
import { Rng } from '../train/rng.js';

export type FinetuneFormat = 'alpaca' | 'chat' | 'text';
export const FINETUNE_FORMATS: readonly FinetuneFormat[] = ['alpaca', 'chat', 'text'];

export interface AlpacaRecord {
  readonly instruction: string;
  readonly input?: string;
  readonly output: string;
}

/** One training sequence: inputs (T) and targets (T), -1 where the loss does not count. */
export interface Example {
  readonly inputs: number[];
  readonly targets: number[];
}

// Stanford Alpaca's prompt (tatsu-lab/stanford_alpaca, train.py PROMPT_DICT), for base models.
const ALPACA_WITH_INPUT =
  'Below is an instruction that describes a task, paired with an input that provides further context. ' +
  'Write a response that appropriately completes the request.\n\n### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n';
const ALPACA_NO_INPUT =
  'Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n' +
  '### Instruction:\n{instruction}\n\n### Response:\n';

/** The Alpaca prompt of a record (without the response). */
export function alpacaPrompt(r: Pick<AlpacaRecord, 'instruction' | 'input'>): string {
  const tpl = r.input && r.input.trim() !== '' ? ALPACA_WITH_INPUT : ALPACA_NO_INPUT;
  return tpl.replace('{instruction}', r.instruction).replace('{input}', r.input ?? '');
}

/** Guess the format from the file name / first character. */
export function detectFormat(path: string, text: string): FinetuneFormat {
  if (/\.txt$/i.test(path)) return 'text';
  const t = text.trimStart();
  if (t.startsWith('{') && /"messages"\s*:/.test(t.slice(0, 2000))) return 'chat';
  if (t.startsWith('[') || t.startsWith('{')) {
    if (/"messages"\s*:/.test(t.slice(0, 2000))) return 'chat';
    return 'alpaca';
  }
  return 'text';
}

/** JSON array or JSON lines, whichever the file is. */
function readJsonRecords(path: string, text: string): unknown[] {
  const t = text.trim();
  if (t.startsWith('[')) {
    try {
      return JSON.parse(t) as unknown[];
    } catch (e) {
      throw new LlamaError('FORMAT_CORRUPT', `not valid JSON: ${(e as Error).message}`, { file: path, hint: 'Alpaca data is a JSON array of {instruction, input, output}' });
    }
  }
  return t.split('\n').map((line, i) => {
    try {
      return JSON.parse(line) as unknown;
    } catch {
      throw new LlamaError('FORMAT_CORRUPT', `line ${i + 1} is not JSON`, { file: path, hint: 'one JSON object per line (JSONL)' });
    }
  }).filter((x) => x !== null);
}

export function parseAlpaca(path: string, text: string): AlpacaRecord[] {
  return readJsonRecords(path, text).map((r, i) => {
    const o = r as Record<string, unknown>;
    if (typeof o.instruction !== 'string' || typeof o.output !== 'string' || (o.input !== undefined && typeof o.input !== 'string')) {
      throw new LlamaError('FORMAT_CORRUPT', `record ${i + 1} is not {instruction, input?, output} strings`, { file: path, hint: 'use --format chat for {messages} data, --format text for plain text' });
    }
    return { instruction: o.instruction, input: (o.input as string | undefined) ?? '', output: o.output };
  });
}

/** Message content as a string (also LLaMA-Factory's [{type: 'text', value}] parts). */
function contentText(c: unknown): string | undefined {
  if (typeof c === 'string') return c;
  if (Array.isArray(c)) {
    const parts = c.map((p) => (p && typeof p === 'object' ? ((p as Record<string, unknown>).value ?? (p as Record<string, unknown>).text) : undefined));
    if (parts.every((p) => typeof p === 'string')) return parts.join('');
  }
  return undefined;
}

export function parseChat(path: string, text: string): ChatMessage[][] {
  return readJsonRecords(path, text).map((r, i) => {
    const msgs = (r as Record<string, unknown>).messages;
    if (!Array.isArray(msgs) || msgs.length === 0) throw new LlamaError('FORMAT_CORRUPT', `record ${i + 1} has no messages array`, { file: path, hint: 'chat data: one {"messages": [{"role": ..., "content": ...}]} per line' });
    return msgs.map((m, j) => {
      const o = m as Record<string, unknown>;
      const content = contentText(o.content);
      if (typeof o.role !== 'string' || content === undefined) throw new LlamaError('FORMAT_CORRUPT', `record ${i + 1} message ${j + 1} needs a role and text content`, { file: path });
      return { role: o.role, content } as ChatMessage;
    });
  });
}

/** Length of the common prefix of two token lists. */
function commonPrefix(a: readonly number[], b: readonly number[]): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

/**
 * A sequence from `full` tokens of which the first `promptLen` are prompt: targets before the
 * response are -1. Truncated to seqLen inputs. undefined when no response token is left.
 */
export function maskedExample(full: readonly number[], promptLen: number, seqLen: number): Example | undefined {
  const toks = full.slice(0, seqLen + 1);
  if (toks.length < 2) return undefined;
  const inputs = toks.slice(0, -1);
  // target i predicts token i+1: it counts when token i+1 belongs to the response
  const targets = toks.slice(1).map((t, i) => (i + 1 >= promptLen ? t : -1));
  return targets.some((t) => t >= 0) ? { inputs, targets } : undefined;
}

/** Alpaca records -> masked examples (prompt + output + EOS; the mask covers the prompt). */
export function alpacaExamples(records: readonly AlpacaRecord[], tok: Tokenizer, seqLen: number): Example[] {
  const out: Example[] = [];
  for (const r of records) {
    const prompt = alpacaPrompt(r);
    const promptToks = tok.encode(prompt, { addBos: true });
    const full = tok.encode(prompt + r.output, { addBos: true });
    if (tok.eosId !== undefined) full.push(tok.eosId);
    // tokenizing the whole text keeps the response's first token what inference would produce;
    // the prompt ends where the two encodings part
    const ex = maskedExample(full, commonPrefix(promptToks, full), seqLen);
    if (ex) out.push(ex);
  }
  return out;
}

/**
 * Conversations -> masked examples with the chat template: the loss counts on the LAST assistant
 * message (and the end-of-turn the template writes after it); everything before is prompt.
 */
export function chatExamples(convs: readonly ChatMessage[][], tok: Tokenizer, template: ChatTemplate, seqLen: number): Example[] {
  const out: Example[] = [];
  const special = { bosToken: tok.bosId !== undefined ? tok.piece(tok.bosId) : '', eosToken: tok.eosId !== undefined ? tok.piece(tok.eosId) : '' };
  for (const msgs of convs) {
    let last = msgs.length - 1;
    while (last >= 0 && msgs[last]!.role !== 'assistant') last--;
    if (last < 0) continue;
    const conv = msgs.slice(0, last + 1);
    const full = encodeChat(tok, template.render(conv, { addGenerationPrompt: false, ...special }));
    const prompt = encodeChat(tok, template.render(conv.slice(0, -1), { addGenerationPrompt: true, ...special }));
    const ex = maskedExample(full, commonPrefix(prompt, full), seqLen);
    if (ex) out.push(ex);
  }
  return out;
}

/** Plain text -> windows of seqLen (every target counts). */
export function textExamples(text: string, tok: Tokenizer, seqLen: number): Example[] {
  const toks = tok.encode(text, { addBos: true });
  const out: Example[] = [];
  for (let s = 0; s + 1 < toks.length; s += seqLen) {
    const w = toks.slice(s, s + seqLen + 1);
    if (w.length < 2) break;
    out.push({ inputs: w.slice(0, -1), targets: w.slice(1) });
  }
  return out;
}

export interface InstructData {
  readonly format: FinetuneFormat;
  readonly train: Example[];
  readonly val: Example[];
  /** records read, and examples dropped (nothing to learn after truncation) */
  readonly records: number;
}

/**
 * Read, encode and split: a seeded shuffle, then `valFraction` of the examples (at least one when
 * there are two or more) held out for validation.
 */
export function loadInstructData(path: string, opts: { format?: FinetuneFormat | undefined; tokenizer: Tokenizer; template?: ChatTemplate | undefined; seqLen: number; valFraction: number; seed: number; limit?: number | undefined }): InstructData {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new LlamaError('FILE_NOT_FOUND', `cannot read the data: ${(e as Error).message}`, { file: path, hint: 'pass --data with an Alpaca JSON, chat JSONL or text file' });
  }
  const format = opts.format ?? detectFormat(path, text);
  let examples: Example[];
  let records: number;
  if (format === 'alpaca') {
    let r = parseAlpaca(path, text);
    if (opts.limit !== undefined) r = r.slice(0, opts.limit);
    records = r.length;
    examples = alpacaExamples(r, opts.tokenizer, opts.seqLen);
  } else if (format === 'chat') {
    if (!opts.template) throw new LlamaError('INTERNAL', 'chat data needs a chat template');
    let c = parseChat(path, text);
    if (opts.limit !== undefined) c = c.slice(0, opts.limit);
    records = c.length;
    examples = chatExamples(c, opts.tokenizer, opts.template, opts.seqLen);
  } else {
    examples = textExamples(text, opts.tokenizer, opts.seqLen);
    if (opts.limit !== undefined) examples = examples.slice(0, opts.limit);
    records = examples.length;
  }
  if (examples.length === 0) throw new LlamaError('USAGE', `no training examples in ${path} (format ${format})`, { file: path, hint: 'check --format and --seq-len (a prompt longer than --seq-len leaves no response to learn)' });
  const rng = new Rng(opts.seed ^ 0x5eed);
  for (let i = examples.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [examples[i], examples[j]] = [examples[j]!, examples[i]!];
  }
  const nVal = examples.length < 2 || opts.valFraction <= 0 ? 0 : Math.max(1, Math.round(examples.length * opts.valFraction));
  return { format, train: examples.slice(0, examples.length - nVal), val: examples.slice(examples.length - nVal), records };
}
