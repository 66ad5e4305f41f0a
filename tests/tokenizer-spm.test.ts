// SentencePiece BPE against llama.cpp's test vectors (ids computed by sentencepiece itself), loaded
// three ways (protobuf tokenizer.model, llama2.c tokenizer.bin, GGUF metadata), plus an
// independent naive implementation of the algorithm's definition on corpus text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadTokenizer, parseSentencePieceModel, tokenizerFromGgufMetadata, tokenizerFromHfJson, tokenizerToGgufMetadata } from '../src/tokenizer/load.js';
import { PieceType, SpmTokenizer, type SpmModel } from '../src/tokenizer/spm.js';
import type { Tokenizer } from '../src/tokenizer/tokenizer.js';
import { needsShared, sharedData } from './helpers/shared.js';

const VEC = ['tokenizer', 'llama.cpp', 'ggml-vocab-llama-spm.gguf.inp'] as const;

function vectors(): { text: string; ids: number[] }[] {
  const inp = readFileSync(sharedData('tokenizer/llama.cpp/ggml-vocab-llama-spm.gguf.inp'), 'utf8').split('\n__ggml_vocab_test__\n');
  const out = readFileSync(sharedData('tokenizer/llama.cpp/ggml-vocab-llama-spm.gguf.out'), 'utf8').split('\n');
  // the file ends with a separator: the last split element is empty and has no .out line
  if (inp.at(-1) === '') inp.pop();
  return inp.map((text, i) => ({ text, ids: out[i]!.trim() === '' ? [] : out[i]!.trim().split(/\s+/).map(Number) }));
}

const SOURCES = ['tokenizer/llama2/tokenizer.model', 'tokenizer/llama2/tokenizer.bin', 'tokenizer/llama.cpp/ggml-vocab-llama-spm.gguf'];

for (const src of SOURCES) {
  test(`llama.cpp SPM vectors: exact ids and round trip with ${src}`, needsShared(...VEC), () => {
    const tok = loadTokenizer(sharedData(src));
    assert.equal(tok.kind, 'spm');
    assert.equal(tok.vocabSize, 32000);
    const cases = vectors();
    assert.equal(cases.length, 46);
    for (const { text, ids } of cases) {
      assert.deepEqual(tok.encode(text, { addBos: false }), ids, `encode ${JSON.stringify(text)}`);
      assert.equal(tok.decode(ids), text, `decode ${JSON.stringify(text)}`);
    }
  });
}

test('the three Llama 2 sources describe the same vocabulary', needsShared('tokenizer', 'llama2'), () => {
  const [a, b, c] = SOURCES.map((s) => loadTokenizer(sharedData(s)) as SpmTokenizer);
  for (let i = 0; i < 32000; i++) {
    assert.equal(b!.piece(i), a!.piece(i));
    assert.equal(c!.piece(i), a!.piece(i));
    assert.equal(b!.model.scores[i], a!.model.scores[i]);
    assert.equal(c!.model.scores[i], a!.model.scores[i]);
    assert.equal(c!.model.types[i], a!.model.types[i]);
  }
});

test('BOS/EOS defaults and the protobuf fields of Llama 2', needsShared('tokenizer', 'llama2'), () => {
  const tok = loadTokenizer(sharedData('tokenizer/llama2/tokenizer.model')) as SpmTokenizer;
  assert.equal(tok.bosId, 1);
  assert.equal(tok.eosId, 2);
  assert.equal(tok.model.unkId, 0);
  assert.equal(tok.model.byteFallback, true);
  assert.equal(tok.model.splitDigits, true);
  assert.equal(tok.model.addDummyPrefix, true);
  assert.equal(tok.model.removeExtraWhitespaces, false);
  assert.equal(tok.addBosDefault, true);
  assert.deepEqual(tok.encode('Hello world'), [1, 15043, 3186]);
  assert.deepEqual(tok.encode('Hello world', { addEos: true }), [1, 15043, 3186, 2]);
  assert.deepEqual([...tok.eogIds], [2]);
  // control tokens are not rendered; the leading space after BOS is dropped
  assert.equal(tok.decode([1, 15043, 3186, 2]), 'Hello world');
  assert.equal(tok.decode([1, 15043, 3186, 2], { renderSpecial: true }), '<s>Hello world</s>');
  assert.equal(tok.splitMode, 'word', 'Llama 2 pieces never join a word to a following ▁');
});

test('text that looks like a special token stays text unless parseSpecial', needsShared('tokenizer', 'llama2'), () => {
  const tok = loadTokenizer(sharedData('tokenizer/llama2/tokenizer.model'));
  const plain = tok.encode('<s>hi</s>', { addBos: false });
  assert.ok(!plain.includes(1) && !plain.includes(2), `got ${plain}`);
  assert.equal(tok.decode(plain), '<s>hi</s>');
  const parsed = tok.encode('<s>hi</s>', { addBos: false, parseSpecial: true });
  assert.equal(parsed[0], 1);
  assert.equal(parsed.at(-1), 2);
  // after a special token the text gets the dummy prefix again (as llama.cpp and separate sentencepiece calls do)
  assert.deepEqual(parsed.slice(1, -1), tok.encode('hi', { addBos: false }));
});

test('byte fallback: characters outside the vocabulary become <0xNN> pieces looked up by piece', needsShared('tokenizer', 'llama2'), () => {
  const tok = loadTokenizer(sharedData('tokenizer/llama2/tokenizer.model'));
  // U+1F999 (🦙) is not a piece: 4 byte pieces F0 9F A6 99 after the '▁' piece
  const ids = tok.encode('🦙', { addBos: false });
  assert.deepEqual(ids.slice(-4).map((i) => tok.piece(i)), ['<0xF0>', '<0x9F>', '<0xA6>', '<0x99>']);
  assert.equal(tok.decode(ids), '🦙');
});

test('streaming decoder never splits a UTF-8 character and matches decode()', needsShared('tokenizer', 'llama2'), () => {
  const tok = loadTokenizer(sharedData('tokenizer/llama2/tokenizer.model'));
  const text = 'Hi 🦙 llamas! 日本語のテキスト 𝄞 Ωμέγα — done';
  const ids = tok.encode(text);
  const sd = tok.streamDecoder();
  let acc = '';
  for (const id of ids) {
    const part = sd.push(id);
    // every emitted part is well-formed: no lone surrogates, no replacement characters
    assert.ok(!/\uFFFD/.test(part), `part ${JSON.stringify(part)}`);
    assert.ok(!/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(part), `lone surrogate in ${JSON.stringify(part)}`);
    acc += part;
  }
  acc += sd.flush();
  assert.equal(acc, text);
  assert.equal(acc, tok.decode(ids));
  // a character cut off at the end becomes U+FFFD on flush
  const sd2 = tok.streamDecoder();
  const emoji = tok.encode('🦙', { addBos: false });
  let t = '';
  for (const id of emoji.slice(0, -1)) t += sd2.push(id);
  assert.equal(t, ' '.slice(1)); // only the '▁' (stripped at start) so far: nothing
  // as sentencepiece does, each byte of the unfinished character becomes U+FFFD
  assert.equal(sd2.flush(), '\uFFFD'.repeat(3));
});

test('out-of-range ids are TOKEN_ID errors', needsShared('tokenizer', 'llama2'), () => {
  const tok = loadTokenizer(sharedData('tokenizer/llama2/tokenizer.model'));
  assert.throws(() => tok.decode([32000]), { code: 'TOKEN_ID' });
  assert.throws(() => tok.decode([-1]), { code: 'TOKEN_ID' });
  assert.throws(() => tok.piece(1.5), { code: 'TOKEN_ID' });
});

/**
 * The algorithm from its definition, independently and naively (O(n^2), strings): start from
 * characters, merge the best-scoring adjacent pair whose concatenation is a normal piece
 * (leftmost on ties) until none, then byte-fallback what is not a piece.
 */
function naiveSpm(m: SpmModel, text: string): number[] {
  if (text === '') return [];
  const ids = new Map<string, number>();
  m.pieces.forEach((p, i) => {
    if (m.types[i] === PieceType.NORMAL && !ids.has(p)) ids.set(p, i);
  });
  const syms = [...(' ' + text).replaceAll(' ', '▁')];
  for (;;) {
    let best = -1;
    let bestScore = -Infinity;
    for (let i = 0; i + 1 < syms.length; i++) {
      const id = ids.get(syms[i]! + syms[i + 1]!);
      if (id !== undefined && m.scores[id]! > bestScore) {
        best = i;
        bestScore = m.scores[id]!;
      }
    }
    if (best < 0) break;
    syms.splice(best, 2, syms[best]! + syms[best + 1]!);
  }
  const out: number[] = [];
  for (const s of syms) {
    const id = ids.get(s);
    if (id !== undefined) out.push(id);
    else for (const b of new TextEncoder().encode(s)) out.push(m.pieces.indexOf(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`));
  }
  return out;
}

test('heap merge = naive definition, with and without the word split, on corpus text', needsShared('tokenizer', 'llama2'), () => {
  const model = parseSentencePieceModel(new Uint8Array(readFileSync(sharedData('tokenizer/llama2/tokenizer.model'))), 'tokenizer.model');
  const fast = new SpmTokenizer(model);
  const whole = new SpmTokenizer(model, { split: 'none' });
  const bigram = new SpmTokenizer(model, { split: 'bigram' });
  assert.deepEqual([fast.splitMode, whole.splitMode, bigram.splitMode], ['word', 'none', 'bigram']);
  const samples: string[] = [];
  for (const f of ['corpus/tinyshakespeare/input.txt', 'corpus/wikitext-2/valid.txt', 'corpus/tinystories/tinystories_train_head.txt']) {
    const t = readFileSync(sharedData(f), 'utf8');
    for (let k = 0; k < 8; k++) {
      const at = Math.floor(((k * 7919) % 97) / 97 * (t.length - 400));
      samples.push(t.slice(at, at + 150 + k * 30));
    }
  }
  samples.push('   leading and trailing   ', '\t\ttabs\nand\n\nnewlines', 'x'.repeat(300), '▁▁ already ▁ escaped', '1234567890 3.14159', 'naïve café Ünïcödé 𝔘𝔫𝔦', '');
  for (const s of samples) {
    const want = naiveSpm(model, s);
    assert.deepEqual(whole.encode(s, { addBos: false }), want, `whole ${JSON.stringify(s.slice(0, 40))}`);
    assert.deepEqual(fast.encode(s, { addBos: false }), want, `fast ${JSON.stringify(s.slice(0, 40))}`);
    assert.deepEqual(bigram.encode(s, { addBos: false }), want, `bigram ${JSON.stringify(s.slice(0, 40))}`);
  }
});

test('long inputs: one string of 200k characters encodes like its words (no quadratic path)', needsShared('tokenizer', 'llama2'), () => {
  const model = parseSentencePieceModel(new Uint8Array(readFileSync(sharedData('tokenizer/llama2/tokenizer.model'))), 'tokenizer.model');
  const whole = new SpmTokenizer(model, { split: 'none' });
  const fast = new SpmTokenizer(model);
  const bigram = new SpmTokenizer(model, { split: 'bigram' });
  const text = readFileSync(sharedData('corpus/tinyshakespeare/input.txt'), 'utf8').slice(0, 200_000);
  const want = whole.encode(text);
  assert.deepEqual(fast.encode(text), want);
  assert.deepEqual(bigram.encode(text), want);
  // a single 100k-character "word" goes through the heap too
  const blob = 'ab'.repeat(50_000);
  assert.deepEqual(fast.encode(blob), whole.encode(blob));
  assert.deepEqual(bigram.encode(blob), whole.encode(blob));
});

test('models/stories260K/tok512.bin loads and encodes', needsShared('models', 'stories260K', 'tok512.bin'), () => {
  const tok: Tokenizer = loadTokenizer(sharedData('models/stories260K/tok512.bin'));
  assert.equal(tok.kind, 'spm');
  assert.equal(tok.vocabSize, 512);
  assert.equal(tok.piece(3), '<0x00>');
  const text = 'Once upon a time, there was a little girl named Lily.';
  const ids = tok.encode(text);
  assert.equal(ids[0], 1);
  assert.ok(ids.length > 5 && ids.length < text.length, `${ids.length} tokens`);
  assert.ok(ids.every((i) => i >= 0 && i < 512));
  assert.equal(tok.decode(ids), text);
});

test('SPM -> GGUF metadata -> SPM keeps every id (what llama convert embeds)', needsShared(...VEC), () => {
  const tok = loadTokenizer(sharedData('tokenizer/llama2/tokenizer.model'));
  const meta = tokenizerToGgufMetadata(tok);
  assert.equal(meta.get('tokenizer.ggml.model')?.value, 'llama');
  const back = tokenizerFromGgufMetadata(meta);
  for (const { text, ids } of vectors()) assert.deepEqual(back.encode(text, { addBos: false }), ids);
  assert.equal(back.addBosDefault, true);
});

test("Llama 2 as HF tokenizer.json (SPM pieces as BPE merges, byte fallback) gives sentencepiece's ids", needsShared(...VEC), () => {
  const tok = loadTokenizer(sharedData('tokenizer/llama2/tokenizer.model')) as SpmTokenizer;
  const m = tok.model;
  // merges as HF's Llama converter derives them: every split of a piece into two pieces,
  // ordered by the piece's score (best first)
  const vocab: Record<string, number> = {};
  m.pieces.forEach((p, i) => (vocab[p] = i));
  const merges: [string, string, number][] = [];
  m.pieces.forEach((p, i) => {
    if (m.types[i] !== PieceType.NORMAL) return;
    const chars = [...p];
    for (let k = 1; k < chars.length; k++) {
      const a = chars.slice(0, k).join('');
      const b = chars.slice(k).join('');
      if (vocab[a] !== undefined && vocab[b] !== undefined) merges.push([a, b, m.scores[i]!]);
    }
  });
  merges.sort((x, y) => y[2] - x[2]);
  const json = {
    added_tokens: [
      { id: 0, content: '<unk>', special: true },
      { id: 1, content: '<s>', special: true },
      { id: 2, content: '</s>', special: true },
    ],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
    pre_tokenizer: null,
    post_processor: { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }], pair: [] },
    model: { type: 'BPE', unk_token: '<unk>', byte_fallback: true, vocab, merges: merges.map(([a, b]) => `${a} ${b}`) },
  };
  const hf = tokenizerFromHfJson(new TextEncoder().encode(JSON.stringify(json)), 'tokenizer.json');
  assert.equal(hf.kind, 'spm');
  assert.equal(hf.addBosDefault, true);
  for (const { text, ids } of vectors()) {
    assert.deepEqual(hf.encode(text, { addBos: false }), ids, JSON.stringify(text));
    assert.equal(hf.decode(ids), text);
  }
});

test('user-defined pieces are atomic (as in sentencepiece); control pieces only with parseSpecial', () => {
  const pieces = ['<unk>', '<s>', '</s>', '<sep>', '[TOOL]', '▁', 'a', 'b', '▁a', 'ab', '▁ab'];
  const types = [2, 3, 3, 3, 4, 1, 1, 1, 1, 1, 1];
  const scores = [0, 0, 0, 0, 0, -9, -9, -9, -1, -2, -3];
  const tok = new SpmTokenizer({
    pieces,
    scores: Float32Array.from(scores),
    types: Uint8Array.from(types),
    unkId: 0,
    bosId: 1,
    eosId: 2,
    padId: -1,
    addDummyPrefix: true,
    removeExtraWhitespaces: false,
    escapeWhitespaces: true,
    byteFallback: false,
    addBos: false,
    addEos: false,
  });
  assert.deepEqual(tok.encode('ab'), [10]);
  // '[TOOL]' is user-defined: always one piece, and the text after it gets the dummy prefix
  assert.deepEqual(tok.encode('ab[TOOL]ab'), [10, 4, 10]);
  // '<sep>' is a control piece: text unless parseSpecial ('<', 's', ... are unknown here)
  assert.ok(!tok.encode('a<sep>b').includes(3));
  assert.deepEqual(tok.encode('a<sep>b', { parseSpecial: true }), [8, 3, 5, 7]);
  // no byte fallback: unknown characters are <unk>, rendered as sentencepiece does
  assert.deepEqual(tok.encode('a☃'), [8, 0]);
  assert.equal(tok.decode([8, 0]), 'a \u2047 ');
  assert.ok(tok.isSpecial(4) && tok.isSpecial(3) && !tok.isSpecial(9));
});

test('a vocabulary with pieces across word boundaries falls back to the exact character-pair cut', needsShared('tokenizer', 'llama2'), () => {
  const m = parseSentencePieceModel(new Uint8Array(readFileSync(sharedData('tokenizer/llama2/tokenizer.model'))), 'tokenizer.model');
  // add 'e▁t' ('the table' -> ...e▁t...) with a high score: words are no longer independent
  const model: SpmModel = { ...m, pieces: [...m.pieces, 'e▁t'], scores: Float32Array.from([...m.scores, 1]), types: Uint8Array.from([...m.types, PieceType.NORMAL]) };
  const tok = new SpmTokenizer(model);
  assert.equal(tok.splitMode, 'bigram');
  const text = 'the table, the tree and the theatre: one tea at the time';
  const ids = tok.encode(text, { addBos: false });
  assert.ok(ids.includes(32000), 'the new piece is used');
  assert.deepEqual(ids, naiveSpm(model, text));
  assert.equal(tok.decode(ids), text);
});
