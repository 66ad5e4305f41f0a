// Instruction data: which tokens the loss counts. Alpaca records train on output + EOS only, chat
// conversations on the last assistant turn as the template renders it, text on every token; the
// split is deterministic and disjoint.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadTokenizer } from '../src/tokenizer/load.js';
import { builtinChatTemplate } from '../src/chat/index.js';
import { alpacaExamples, alpacaPrompt, chatExamples, loadInstructData, maskedExample, parseChat, textExamples } from '../src/finetune/data.js';
import { REPO_ROOT, SHARED_DIR } from './helpers/shared.js';
import { tempDir } from './helpers/tmp.js';

const TOK = join(REPO_ROOT, 'models/default/tokenizer.model');
const skip = existsSync(TOK) ? false : 'models/default/tokenizer.model is absent';

test('maskedExample: targets before the response are -1, the rest are the next tokens', () => {
  const ex = maskedExample([1, 10, 11, 12, 20, 21, 2], 4, 100)!;
  assert.deepEqual(ex.inputs, [1, 10, 11, 12, 20, 21]);
  assert.deepEqual(ex.targets, [-1, -1, -1, 20, 21, 2]);
  // truncation keeps seqLen inputs; nothing left of the response -> no example
  assert.deepEqual(maskedExample([1, 10, 11, 12, 20, 21, 2], 4, 4)!.targets, [-1, -1, -1, 20]);
  assert.equal(maskedExample([1, 10, 11, 12, 20, 21, 2], 4, 3), undefined);
});

test('Alpaca prompt follows Stanford Alpaca, with and without input', () => {
  assert.match(alpacaPrompt({ instruction: 'Add.', input: '2 and 3' }), /paired with an input[\s\S]*### Instruction:\nAdd\.\n\n### Input:\n2 and 3\n\n### Response:\n$/);
  assert.match(alpacaPrompt({ instruction: 'Add.', input: '' }), /^Below is an instruction that describes a task\. Write[\s\S]*### Instruction:\nAdd\.\n\n### Response:\n$/);
});

test('Alpaca examples count the output and EOS only', { skip }, () => {
  const tok = loadTokenizer(TOK);
  const [ex] = alpacaExamples([{ instruction: 'Say hello.', input: '', output: 'Hello there, friend!' }], tok, 256);
  const counted = ex!.targets.filter((t) => t >= 0);
  assert.equal(counted[counted.length - 1], tok.eosId);
  assert.equal(tok.decode(counted.slice(0, -1)).trim(), 'Hello there, friend!');
  // every counted target comes after every masked one
  const firstCounted = ex!.targets.findIndex((t) => t >= 0);
  assert.ok(ex!.targets.slice(firstCounted).every((t) => t >= 0));
  assert.match(tok.decode(ex!.inputs.slice(0, firstCounted + 1)), /### Response:\s*$/);
});

test('chat examples: the last assistant turn (with its end-of-turn) is the only counted text', { skip }, () => {
  const tok = loadTokenizer(TOK);
  const convs = parseChat('x.jsonl', [
    JSON.stringify({ messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'Hello!' }, { role: 'user', content: 'name a color' }, { role: 'assistant', content: 'Blue.' }] }),
    // LLaMA-Factory's list-of-parts content
    JSON.stringify({ messages: [{ role: 'user', content: [{ type: 'text', value: 'q' }] }, { role: 'assistant', content: [{ type: 'text', value: 'Red.' }] }] }),
  ].join('\n'));
  assert.equal(convs[1]![1]!.content, 'Red.');
  const tpl = builtinChatTemplate('chatml');
  const exs = chatExamples(convs, tok, tpl, 256);
  assert.equal(exs.length, 2);
  const counted = tok.decode(exs[0]!.targets.filter((t) => t >= 0));
  assert.match(counted, /^\s*Blue\.<\|im_end\|>/);
  assert.doesNotMatch(counted, /Hello|color/);
});

test('text examples count every token; loadInstructData splits deterministically and disjointly', { skip }, () => {
  const tok = loadTokenizer(TOK);
  const exs = textExamples('The cat sat on the mat. '.repeat(20), tok, 16);
  assert.ok(exs.length > 3);
  for (const e of exs) assert.ok(e.targets.every((t) => t >= 0) && e.inputs.length <= 16);
  const dir = tempDir('ft-data-');
  const path = join(dir, 'a.json');
  writeFileSync(path, JSON.stringify(Array.from({ length: 40 }, (_, i) => ({ instruction: `Task ${i}`, input: '', output: `Answer ${i}` }))));
  const a = loadInstructData(path, { tokenizer: tok, seqLen: 128, valFraction: 0.1, seed: 4 });
  const b = loadInstructData(path, { tokenizer: tok, seqLen: 128, valFraction: 0.1, seed: 4 });
  assert.equal(a.format, 'alpaca');
  assert.equal(a.val.length, 4);
  assert.equal(a.train.length, 36);
  assert.deepEqual(a, b);
  const key = (e: { inputs: number[] }) => e.inputs.join(',');
  const trainKeys = new Set(a.train.map(key));
  assert.ok(a.val.every((e) => !trainKeys.has(key(e))));
});

test('the shared instruction sets parse (Alpaca demo, LLaMA-Factory chat JSONL)', { skip: skip || (existsSync(join(SHARED_DIR, 'data/instruct')) ? false : '../shared/data/instruct is absent') }, () => {
  const tok = loadTokenizer(TOK);
  const alpaca = loadInstructData(join(SHARED_DIR, 'data/instruct/llama-factory/alpaca_en_demo.json'), { tokenizer: tok, seqLen: 256, valFraction: 0.05, seed: 1, limit: 50 });
  assert.equal(alpaca.format, 'alpaca');
  assert.ok(alpaca.train.length >= 40);
  const chat = loadInstructData(join(SHARED_DIR, 'data/instruct/llama-factory/v1_sft_demo.jsonl'), { tokenizer: tok, template: builtinChatTemplate('chatml'), seqLen: 256, valFraction: 0.05, seed: 1, limit: 30 });
  assert.equal(chat.format, 'chat');
  assert.ok(chat.train.length >= 20);
});
