// Corrupted and truncated tokenizer files: always a typed LlamaError with a stable code, never a
// crash, a hang or an allocation sized by an unchecked length.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LlamaError } from '../src/errors.js';
import { loadTokenizer, parseLlama2cTokenizer, parseSentencePieceModel, parseTiktoken, tokenizerFromGgufMetadata, tokenizerFromHfJson, writeSentencePieceModel } from '../src/tokenizer/load.js';
import { SpmTokenizer } from '../src/tokenizer/spm.js';
import { trainSpmBpe } from '../src/tokenizer/train.js';
import { runCli } from './helpers/cli.js';
import { needsShared, sharedData } from './helpers/shared.js';

const TYPED = new Set(['FORMAT_CORRUPT', 'FORMAT_TRUNCATED', 'FORMAT_UNSUPPORTED', 'FORMAT_LIMIT', 'FORMAT_UNKNOWN', 'TOKENIZER_INVALID', 'TOKENIZER_MISSING']);

function expectTypedOrOk(fn: () => unknown, what: string): void {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof LlamaError, `${what}: not a LlamaError: ${(e as Error)?.stack}`);
    assert.ok(TYPED.has(e.code), `${what}: code ${e.code}`);
  }
}

test('sentencepiece protobuf: malformed varints and lengths are FORMAT_CORRUPT', () => {
  const bad = [
    Uint8Array.of(0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), // 11-byte varint
    Uint8Array.of(0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f), // 2^56-byte length
    Uint8Array.of(0x0a, 0x05, 0x0a, 0x03, 0x61), // piece runs past its message
    Uint8Array.of(0x0a, 0x80), // varint cut off
    Uint8Array.of(0x0b), // wire type 3 (groups)
  ];
  for (const b of bad) assert.throws(() => parseSentencePieceModel(b, 'bad.model'), { code: 'FORMAT_CORRUPT' }, `${[...b]}`);
  assert.throws(() => parseSentencePieceModel(new Uint8Array(0), 'empty.model'), { code: 'TOKENIZER_INVALID' });
});

test('sentencepiece: unsupported model kinds are named', () => {
  const { model } = trainSpmBpe(['abc abd abe'], { vocabSize: 270 });
  const bytes = writeSentencePieceModel(model);
  assert.equal(parseSentencePieceModel(bytes, 'ok.model').pieces.length, model.pieces.length);
  // flip model_type BPE (2) -> UNIGRAM (1): trainer_spec field 3 is written first in field 2
  const idx = bytes.findIndex((b, i) => b === 0x18 && bytes[i + 1] === 0x02 && bytes[i - 2] === 0x12);
  assert.ok(idx > 0);
  const uni = bytes.slice();
  uni[idx + 1] = 1;
  assert.throws(() => parseSentencePieceModel(uni, 'unigram.model'), { code: 'FORMAT_UNSUPPORTED', message: /UNIGRAM/ });
});

test('sentencepiece: truncations and byte flips never crash', () => {
  const { model } = trainSpmBpe(['the cat sat on the mat 123'], { vocabSize: 280 });
  const bytes = writeSentencePieceModel(model);
  for (let cut = 0; cut < bytes.length; cut += 7) expectTypedOrOk(() => parseSentencePieceModel(bytes.subarray(0, cut), 'cut.model'), `cut ${cut}`);
  let seed = 12345;
  const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  for (let k = 0; k < 300; k++) {
    const m = bytes.slice();
    for (let j = 0; j < 3; j++) m[Math.floor(rand() * m.length)] = Math.floor(rand() * 256);
    expectTypedOrOk(() => {
      new SpmTokenizer(parseSentencePieceModel(m, 'flip.model')).encode('the cat 42');
    }, `flip ${k}`);
  }
});

test('real files cut short give typed errors', needsShared('tokenizer', 'llama2'), () => {
  const model = new Uint8Array(readFileSync(sharedData('tokenizer/llama2/tokenizer.model')));
  for (const cut of [1, 100, 12345, 250000, model.length - 10]) {
    expectTypedOrOk(() => parseSentencePieceModel(model.subarray(0, cut), 'tokenizer.model'), `model cut ${cut}`);
  }
  assert.throws(() => parseSentencePieceModel(model.subarray(0, 250000), 'tokenizer.model'), LlamaError);
  const bin = new Uint8Array(readFileSync(sharedData('tokenizer/llama2/tokenizer.bin')));
  assert.throws(() => parseLlama2cTokenizer(bin.subarray(0, 1001), 'tokenizer.bin'), { code: 'FORMAT_TRUNCATED' });
  assert.throws(() => parseLlama2cTokenizer(bin.subarray(0, 2), 'tokenizer.bin'), { code: 'FORMAT_TRUNCATED' });
  // an absurd token length
  const huge = bin.slice(0, 64);
  new DataView(huge.buffer).setInt32(8, 0x7fffffff, true);
  assert.throws(() => parseLlama2cTokenizer(huge, 'tokenizer.bin'), { code: 'TOKENIZER_INVALID' });
  const tik = readFileSync(sharedData('tokenizer/llama3/tokenizer.model'), 'utf8');
  assert.throws(() => parseTiktoken(new TextEncoder().encode(tik.slice(0, 5000) + 'garbage!!\n'), 'tok.model'), { code: 'TOKENIZER_INVALID' });
  assert.throws(() => parseTiktoken(new TextEncoder().encode('IQ== 0\nIg== 5\n'), 'tok.model'), { code: 'TOKENIZER_INVALID', message: /consecutive/ });
});

test('CLI: a corrupted tokenizer.model exits 1 with the code and the file name', needsShared('tokenizer', 'llama2'), () => {
  const dir = mkdtempSync(join(tmpdir(), 'llama-badtok-'));
  const f = join(dir, 'tokenizer.model');
  writeFileSync(f, readFileSync(sharedData('tokenizer/llama2/tokenizer.model')).subarray(0, 4321));
  const r = runCli(['tokenize', '-m', f, 'x']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /FORMAT_CORRUPT/);
  assert.ok(r.stderr.includes(f));
  const g = join(mkdtempSync(join(tmpdir(), 'llama-junk-')), 'junk.bin');
  writeFileSync(g, 'this is not a tokenizer at all');
  const r2 = runCli(['tokenize', '-m', g, 'x']);
  assert.equal(r2.status, 1);
  assert.match(r2.stderr, /TOKENIZER_MISSING/);
});

/** A minimal GGUF v3 with only string metadata and no tensors. */
function ggufWithStrings(kv: Record<string, string>): Uint8Array {
  const parts: Buffer[] = [Buffer.from('GGUF')];
  const u32 = (x: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(x);
    return b;
  };
  const u64 = (x: number) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(x));
    return b;
  };
  const str = (s: string) => Buffer.concat([u64(Buffer.byteLength(s)), Buffer.from(s)]);
  parts.push(u32(3), u64(0), u64(Object.keys(kv).length));
  for (const [k, v] of Object.entries(kv)) parts.push(str(k), u32(8), str(v));
  return new Uint8Array(Buffer.concat(parts));
}

test('GGUF without a vocabulary: TOKENIZER_MISSING', () => {
  const dir = mkdtempSync(join(tmpdir(), 'llama-novocab-'));
  const f = join(dir, 'novocab.gguf');
  writeFileSync(f, ggufWithStrings({ 'general.architecture': 'llama', 'tokenizer.ggml.model': 'none' }));
  assert.throws(() => loadTokenizer(f), { code: 'TOKENIZER_MISSING' });
  const r = runCli(['tokenize', '-m', f, 'x']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /TOKENIZER_MISSING/);
  writeFileSync(f, ggufWithStrings({ 'general.architecture': 'llama' }));
  assert.throws(() => loadTokenizer(f), { code: 'TOKENIZER_MISSING' });
  writeFileSync(f, ggufWithStrings({ 'tokenizer.ggml.model': 'rwkv' }));
  assert.throws(() => loadTokenizer(f), { code: 'TOKENIZER_INVALID' }); // no tokens
});

test('GGUF metadata and tokenizer.json: inconsistent contents are TOKENIZER_INVALID', () => {
  const base = { 'tokenizer.ggml.model': 'llama', 'tokenizer.ggml.tokens': ['<unk>', '<s>', '</s>', 'a'] };
  assert.throws(() => tokenizerFromGgufMetadata({ ...base, 'tokenizer.ggml.scores': [0, 0] }), { code: 'TOKENIZER_INVALID', message: /2 entries for 4 tokens/ });
  assert.throws(() => tokenizerFromGgufMetadata({ 'tokenizer.ggml.model': 'llama', 'tokenizer.ggml.tokens': [1, 2] }), { code: 'TOKENIZER_INVALID' });
  assert.throws(() => tokenizerFromGgufMetadata({ 'tokenizer.ggml.model': 'bert', 'tokenizer.ggml.tokens': ['a'] }), { code: 'FORMAT_UNSUPPORTED' });
  const ok = tokenizerFromGgufMetadata({ ...base, 'tokenizer.ggml.scores': [0, 0, 0, -1] });
  // '▁' is not a piece and there are no byte pieces: the dummy prefix becomes <unk>
  assert.deepEqual(ok.encode('a', { addBos: false }), [0, 3]);
  const noPrefix = tokenizerFromGgufMetadata({ ...base, 'tokenizer.ggml.add_space_prefix': false });
  assert.deepEqual(noPrefix.encode('a', { addBos: false }), [3]);
  const enc = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));
  assert.throws(() => tokenizerFromHfJson(new TextEncoder().encode('{"model": '), 'tokenizer.json'), { code: 'TOKENIZER_INVALID' });
  assert.throws(() => tokenizerFromHfJson(enc({ model: { type: 'Unigram' } }), 'tokenizer.json'), { code: 'FORMAT_UNSUPPORTED' });
  assert.throws(() => tokenizerFromHfJson(enc({ model: { type: 'BPE', vocab: { a: 0, b: 2 }, merges: [] } }), 'tokenizer.json'), { code: 'TOKENIZER_INVALID', message: /id 1/ });
});

test('a tokenizer written into a GGUF file by writeGguf loads back with the same ids', needsShared('tokenizer', 'llama2'), async () => {
  const { writeGguf } = await import('../src/formats/gguf-write.js');
  const { tokenizerToGgufMetadata } = await import('../src/tokenizer/load.js');
  const dir = mkdtempSync(join(tmpdir(), 'llama-tokgguf-'));
  for (const src of ['tokenizer/llama2/tokenizer.model', 'models/stories260K/tok512.bin']) {
    const tok = loadTokenizer(sharedData(src));
    const f = join(dir, 'vocab.gguf');
    writeGguf(f, { metadata: tokenizerToGgufMetadata(tok), tensors: [] });
    const back = loadTokenizer(f);
    for (const s of ['Hello world', ' leading space', 'naïve 🦙 1234', '']) assert.deepEqual(back.encode(s), tok.encode(s), `${src}: ${s}`);
    assert.equal(back.vocabSize, tok.vocabSize);
  }
});
