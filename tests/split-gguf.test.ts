// Split GGUF (llama.cpp gguf-split: NAME-0000i-of-0000n.gguf, keys split.no / split.count /
// split.tensors.count; each part lists its own tensors with offsets into its own data section).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, rmSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { openGguf } from '../src/formats/gguf.js';
import { openGgufModel, splitPartPath, writeGgufSplit } from '../src/formats/gguf-split.js';
import { writeGguf } from '../src/formats/gguf-write.js';
import { loadModel } from '../src/model/load.js';
import { loadTokenizer } from '../src/tokenizer/load.js';
import { LlamaError } from '../src/errors.js';
import { assertSameWeights } from './helpers/models.js';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';
import { tinyLlama } from './helpers/tiny-gguf.js';

function setup(maxTensors = 8): { dir: string; whole: string; parts: string[] } {
  const dir = tempDir('llama-split-');
  const input = tinyLlama({ nLayers: 2 });
  const whole = join(dir, 'whole.gguf');
  writeGguf(whole, input);
  const parts = writeGgufSplit(join(dir, 'tiny'), input, maxTensors);
  return { dir, whole, parts };
}

test('split GGUF: the parts carry gguf-split keys; the first holds the metadata, each its own tensors', () => {
  const { parts } = setup();
  assert.equal(parts.length, 3); // 21 tensors, 8 per part
  assert.equal(parts[1], splitPartPath(parts[0]!.replace(/-00001-of-00003\.gguf$/, ''), 1, 3));
  const infos = parts.map((p) => {
    const g = openGguf(p);
    try {
      return { split: g.split, n: g.tensors.length, keys: g.metadata.size, firstOffset: g.tensors[0]!.offset };
    } finally {
      g.close();
    }
  });
  assert.deepEqual(infos.map((i) => i.split), [0, 1, 2].map((no) => ({ no, count: 3, tensorsCount: 21 })));
  assert.deepEqual(infos.map((i) => i.n), [8, 8, 5]);
  assert.equal(infos[1]!.keys, 3); // only split.* keys after the first part
  assert.ok(infos.every((i) => i.firstOffset === 0), 'offsets count from each part\'s own data section');
});

test('split GGUF: opening the first part or any other loads all parts, same weights as the unsplit file', async () => {
  const { whole, parts } = setup();
  const ref = await loadModel(whole);
  for (const p of [parts[0]!, parts[2]!]) {
    const m = await loadModel(p);
    assert.deepEqual(m.config, ref.config);
    assert.equal(assertSameWeights(m, ref, p), 21);
    m.close();
  }
  // the tokenizer too, from any part (its metadata is in the first)
  assert.equal(loadTokenizer(parts[1]!).vocabSize, 300);
  const g = openGgufModel(parts[1]!);
  try {
    assert.deepEqual(g.partPaths, parts);
    assert.equal(g.tensors.length, 21);
  } finally {
    g.close();
  }
});

test('split GGUF: a missing part is FILE_NOT_FOUND naming it ("part 2 of 3 missing")', async () => {
  const { parts } = setup();
  rmSync(parts[1]!);
  await assert.rejects(loadModel(parts[0]!), (e: unknown) => {
    assert.ok(e instanceof LlamaError);
    assert.equal(e.code, 'FILE_NOT_FOUND');
    assert.ok(e.message.includes(`part 2 of 3 missing: ${parts[1]}`), e.message);
    assert.ok(e.hint && /parts/.test(e.hint), String(e.hint));
    return true;
  });
});

test('split GGUF: a renamed part says it is part 1 of 3 (not a bare TENSOR_MISSING)', async () => {
  const { dir, parts } = setup();
  const renamed = join(dir, 'renamed.gguf');
  renameSync(parts[0]!, renamed);
  await assert.rejects(loadModel(renamed), (e: unknown) => {
    assert.ok(e instanceof LlamaError);
    assert.equal(e.code, 'TENSOR_MISSING');
    assert.match(e.message, /part 1 of 3 of a split GGUF/);
    assert.ok(e.hint);
    return true;
  });
});

test('split GGUF: parts of two different splits are refused', async () => {
  const a = setup();
  const b = tempDir('llama-split-b-');
  const other = writeGgufSplit(join(b, 'tiny'), tinyLlama({ nLayers: 3 }), 8); // 30 tensors: 4 parts
  assert.equal(other.length, 4);
  // a part with the right name but from another split (different count)
  renameSync(writeGgufSplit(join(b, 'x'), tinyLlama({ nLayers: 4 }), 13)[1]!, a.parts[2]!);
  await assert.rejects(loadModel(a.parts[0]!), (e: unknown) => e instanceof LlamaError && e.code === 'FORMAT_CORRUPT' && !!e.hint);
});

test('split GGUF: llama inspect shows which part it is; -m DIR with the parts loads the model', () => {
  const { dir, whole, parts } = setup();
  rmSync(whole);
  const r = runCli(['inspect', parts[1]!]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /split:\s+part 2 of 3 \(8 of 21 tensors here/);
  const j = runCli(['inspect', parts[0]!, '--json']);
  assert.match(JSON.parse(j.stdout).split, /^part 1 of 3/);
  assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.gguf')).length, 3);
  const t = runCli(['tokenize', '-m', dir, 'p5']);
  assert.equal(t.status, 0, t.stderr);
});
