// Tricky texts (Unicode whitespace, contractions, CJK, emoji ZWJ sequences, digits, control
// characters, long runs, text that looks like special tokens) against ids computed by the
// reference libraries themselves: sentencepiece for Llama 2 and tiktoken (as Meta's
// tokenizer.py sets it up) for Llama 3. See scripts/gen-tokenizer-edge-cases.py.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadTokenizer } from '../src/tokenizer/load.js';
import { needsShared, REPO_ROOT, sharedData } from './helpers/shared.js';

interface EdgeCase {
  text: string;
  llama2: number[];
  llama2_decoded: string;
  llama3: number[];
}

const data = JSON.parse(readFileSync(join(REPO_ROOT, 'tests/data/tokenizer-edge-cases.json'), 'utf8')) as {
  cases: EdgeCase[];
  llama2_decode: { ids: number[]; text: string }[];
};
const cases = data.cases;

test('Llama 2 edge cases = sentencepiece (encode and decode)', needsShared('tokenizer', 'llama2'), () => {
  const tok = loadTokenizer(sharedData('tokenizer/llama2/tokenizer.model'));
  assert.ok(cases.length >= 10);
  for (const c of cases) {
    assert.deepEqual(tok.encode(c.text, { addBos: false }), c.llama2, JSON.stringify(c.text.slice(0, 40)));
    assert.equal(tok.decode(c.llama2), c.llama2_decoded, JSON.stringify(c.text.slice(0, 40)));
  }
});

test('Llama 3 edge cases = tiktoken with Meta pattern', needsShared('tokenizer', 'llama3'), () => {
  const tok = loadTokenizer(sharedData('tokenizer/llama3/tokenizer.model'));
  for (const c of cases) {
    assert.deepEqual(tok.encode(c.text, { addBos: false }), c.llama3, JSON.stringify(c.text.slice(0, 40)));
    assert.equal(tok.decode(c.llama3), c.text);
  }
});

test('Llama 2 decoding = sentencepiece: broken byte runs (U+FFFD per byte), <unk>, control pieces; streaming agrees', needsShared('tokenizer', 'llama2'), () => {
  const tok = loadTokenizer(sharedData('tokenizer/llama2/tokenizer.model'));
  assert.ok(data.llama2_decode.length >= 5);
  for (const { ids, text } of data.llama2_decode) {
    assert.equal(tok.decode(ids), text, JSON.stringify(ids));
    const sd = tok.streamDecoder();
    let streamed = '';
    for (const id of ids) streamed += sd.push(id);
    assert.equal(streamed + sd.flush(), text, `stream ${JSON.stringify(ids)}`);
  }
});
