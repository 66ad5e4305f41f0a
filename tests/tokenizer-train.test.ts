// `llama train-tokenizer`: train on a small text, reload the written tokenizer.model with the
// loader, check round trips, split digits, byte fallback and the merge-order property.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTokenizer, parseSentencePieceModel, writeSentencePieceModel } from '../src/tokenizer/load.js';
import { PieceType, SpmTokenizer } from '../src/tokenizer/spm.js';
import { trainSpmBpe } from '../src/tokenizer/train.js';
import { runCli } from './helpers/cli.js';
import { needsShared, sharedData } from './helpers/shared.js';

const SMALL = [
  'the cat sat on the mat. the cat ate the rat.',
  'in 2023 the cat was 12 years old; the mat was 345 days old.',
  'there there, said the other cat to the thin rat',
].join('\n');

test('training on a small text: layout, scores, split digits, byte fallback, round trip', () => {
  const { model, stats } = trainSpmBpe([SMALL.repeat(3)], { vocabSize: 300 });
  assert.equal(model.pieces.length, 300);
  assert.deepEqual(model.pieces.slice(0, 3), ['<unk>', '<s>', '</s>']);
  assert.equal(model.pieces[3], '<0x00>');
  assert.equal(model.pieces[258], '<0xFF>');
  assert.ok(model.types.slice(3, 259).every((t) => t === PieceType.BYTE));
  assert.equal(new Set(model.pieces).size, model.pieces.length, 'pieces are unique');
  assert.equal(stats.merges + stats.keptChars + 259, 300);
  // the most frequent pair of this text is merged first: 'th' (36 times) beats '▁t' (34 times)
  const norm = SMALL.repeat(3).split('\n').map((l) => '▁' + l.replaceAll(' ', '▁')).join('\n');
  assert.equal(norm.split('th').length - 1, 36);
  assert.equal(norm.split('▁t').length - 1, 34);
  assert.equal(model.pieces[259], 'th');
  // merged pieces: scores strictly decreasing in merge order
  for (let i = 260; i < 259 + stats.merges; i++) assert.ok(model.scores[i]! < model.scores[i - 1]!);
  for (let i = 259; i < 300; i++) {
    const p = model.pieces[i]!;
    // '▁' only at the start of a piece (or whitespace-only pieces); digits only alone
    assert.ok(/^▁?[^▁]*$/.test(p) || /^▁+$/.test(p), `piece ${p}`);
    if (/\d/.test(p)) assert.equal([...p].length, 1, `digit piece ${p}`);
  }
  const tok = new SpmTokenizer(model);
  assert.equal(tok.splitMode, 'word');
  for (const s of ['the cat sat', 'in 2023 12345', 'Ünïcödé ☃ and 🦙', '  spaced  out  ']) {
    const ids = tok.encode(s);
    assert.equal(tok.decode(ids), s);
    // digits are single-digit pieces
    for (const id of ids) if (model.types[id] === PieceType.NORMAL && /\d/.test(tok.piece(id))) assert.match(tok.piece(id), /^\d$/);
  }
  // unseen characters fall back to their UTF-8 bytes
  const snow = tok.encode('☃', { addBos: false });
  assert.deepEqual(snow.slice(-3).map((i) => tok.piece(i)), ['<0xE2>', '<0x98>', '<0x83>']);
});

test('the written tokenizer.model reloads identically; training text encodes with the training merges', () => {
  const { model, stats } = trainSpmBpe([SMALL], { vocabSize: 320 });
  const dir = mkdtempSync(join(tmpdir(), 'llama-tok-'));
  const file = join(dir, 'tokenizer.model');
  writeFileSync(file, writeSentencePieceModel(model));
  const back = parseSentencePieceModel(new Uint8Array(readFileSync(file)), file);
  assert.deepEqual(back.pieces, model.pieces);
  assert.deepEqual(back.scores, model.scores);
  assert.deepEqual(back.types, model.types);
  assert.equal(back.byteFallback, true);
  assert.equal(back.splitDigits, true);
  assert.equal(back.addDummyPrefix, true);
  assert.equal(back.removeExtraWhitespaces, false);
  const tok = loadTokenizer(file);
  // every merged piece, written as text, encodes to that single piece (the merges replay)
  let checked = 0;
  for (let i = 259; i < 259 + stats.merges; i++) {
    const p = model.pieces[i]!;
    if (!p.startsWith('▁')) continue;
    checked++;
    assert.deepEqual(tok.encode(p.slice(1).replaceAll('▁', ' '), { addBos: false }), [i], `piece ${p}`);
  }
  assert.ok(checked > 5);
});

test('training is deterministic and rejects bad options', () => {
  const a = trainSpmBpe([SMALL], { vocabSize: 280 }).model;
  const b = trainSpmBpe([SMALL], { vocabSize: 280 }).model;
  assert.deepEqual(a.pieces, b.pieces);
  assert.throws(() => trainSpmBpe([SMALL], { vocabSize: 100 }), { code: 'USAGE' });
  assert.throws(() => trainSpmBpe([''], { vocabSize: 300 }), { code: 'DATA' });
});

test('llama train-tokenizer CLI on tinyshakespeare: writes a loadable model', needsShared('corpus', 'tinyshakespeare'), () => {
  const dir = mkdtempSync(join(tmpdir(), 'llama-tok-'));
  const out = join(dir, 'shakespeare.model');
  const r = runCli(['train-tokenizer', '-o', out, '--vocab-size', '1000', '-q', sharedData('corpus/tinyshakespeare/input.txt')]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), out);
  const tok = loadTokenizer(out);
  assert.equal(tok.vocabSize, 1000);
  const text = readFileSync(sharedData('corpus/tinyshakespeare/input.txt'), 'utf8').slice(0, 5000);
  const ids = tok.encode(text);
  assert.equal(tok.decode(ids), text);
  assert.ok(ids.length < text.length / 2, `compression ${text.length / ids.length} chars/token`);
  const t = runCli(['tokenize', '-m', out, '--no-bos', 'To be, or not to be']);
  assert.equal(t.status, 0, t.stderr);
  const d = runCli(['detokenize', '-m', out, ...t.stdout.trim().split(' ')]);
  assert.equal(d.stdout, 'To be, or not to be\n');
});
