// The CLI's input helpers: llama.cpp-style escapes, and the UTF-8 check that reports the offset of
// the first bad byte (checked against the platform's own strict decoder on random bytes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { processEscapes } from '../src/cli/input.js';
import { decodeUtf8Strict, firstInvalidUtf8 } from '../src/formats/text-file.js';
import { LlamaError } from '../src/errors.js';

test('processEscapes: \\n \\t \\r \\\\ \\" \\\' \\xHH; unknown escapes and a trailing backslash stay', () => {
  const cases: [string, string][] = [
    ['a\\nb', 'a\nb'],
    ['\\n\\n', '\n\n'],
    ['\\t\\r\\\\\\"\\\'', '\t\r\\"\''],
    ['\\x41\\x7a', 'Az'],
    ['\\xc3\\xa9t\\xc3\\xa9', 'été'],
    ['\\q\\x4', '\\q\\x4'],
    ['\\xZZ', '\\xZZ'],
    ['end\\', 'end\\'],
    ['\\\\n', '\\n'],
    ['naïve \\u00e9', 'naïve \\u00e9'],
    ['no escapes', 'no escapes'],
  ];
  for (const [inp, want] of cases) assert.equal(processEscapes(inp, '-p'), want, JSON.stringify(inp));
  assert.throws(() => processEscapes('\\xff', '--stop'), (e: unknown) => e instanceof LlamaError && e.code === 'USAGE' && /--stop/.test(e.message));
});

test('firstInvalidUtf8 agrees with a fatal TextDecoder on random bytes, and the prefix before it decodes', () => {
  let s = 12345;
  const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
  const strict = new TextDecoder('utf-8', { fatal: true });
  const valid = (b: Uint8Array) => {
    try {
      strict.decode(b);
      return true;
    } catch {
      return false;
    }
  };
  let invalid = 0;
  for (let n = 0; n < 5000; n++) {
    const len = 1 + (rnd() % 12);
    // mostly UTF-8-looking bytes so that both outcomes are common
    const b = Uint8Array.from({ length: len }, () => (rnd() < 128 ? rnd() & 0x7f : 0x80 + (rnd() & 0x7f)));
    const at = firstInvalidUtf8(b);
    assert.equal(at === -1, valid(b), `[${[...b].join(',')}]`);
    if (at >= 0) {
      invalid++;
      assert.ok(valid(b.subarray(0, at)), `prefix of [${[...b].join(',')}] up to ${at}`);
    }
  }
  assert.ok(invalid > 500 && invalid < 4500);
  // surrogates, overlongs and code points above U+10FFFF are refused
  for (const bad of [[0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xe0, 0x80, 0xaf], [0xf4, 0x90, 0x80, 0x80], [0xf5, 0x80, 0x80, 0x80]]) assert.equal(firstInvalidUtf8(Uint8Array.from(bad)), 0);
  assert.throws(() => decodeUtf8Strict(Uint8Array.from([0x61, 0xe9, 0x62]), 'x.txt'), (e: unknown) => e instanceof LlamaError && e.code === 'INPUT_ENCODING' && /offset 1/.test(e.message));
  // a byte order mark is kept: the input is taken exactly
  assert.equal(decodeUtf8Strict(Uint8Array.from([0xef, 0xbb, 0xbf, 0x61]), 'x'), '\ufeffa');
});
