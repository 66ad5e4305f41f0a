// `llama inspect` on the non-GGUF model files in ../shared/data (safetensors, HF folders, Meta
// .pth, llama2.c .bin), run as a user runs it, checked against the readers' own view of each file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from './helpers/cli.js';
import { needsShared, sharedData } from './helpers/shared.js';
import { tempDir } from './helpers/corrupt.js';
import { torchSaveContiguous } from './helpers/torch-zip.js';

interface InspectJson {
  format: string;
  version: number | null;
  metadata: Record<string, unknown>;
  tensors: { name: string; type: string; shape: number[]; bytes: number }[];
  total_tensor_bytes: number;
}

function inspectJson(path: string): InspectJson {
  const r = runCli(['inspect', path, '--json']);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as InspectJson;
}

for (const m of ['llama1-tiny', 'llama2-gqa-tiny']) {
  test(`llama inspect: ${m} safetensors file and HF folder`, needsShared('golden', m), () => {
    for (const p of [sharedData('golden', m, 'model.safetensors'), sharedData('golden', m)]) {
      const j = inspectJson(p);
      assert.equal(j.format, 'safetensors');
      assert.equal(j.tensors.length, 21);
      assert.equal(j.metadata['__metadata__.format'], 'pt');
      assert.equal(j.metadata['config.json.model_type'], 'llama');
      const down = j.tensors.find((t) => t.name === 'model.layers.0.mlp.down_proj.weight')!;
      assert.deepEqual(down, { ...down, type: 'F32', shape: m === 'llama1-tiny' ? [64, 192] : [128, 448] });
      // header (8 + N) + data = file size
      const size = readFileSync(sharedData('golden', m, 'model.safetensors')).length;
      assert.ok(j.total_tensor_bytes < size && j.total_tensor_bytes > size - 4096);
    }
  });

  test(`llama inspect: ${m} consolidated.00.pth`, needsShared('golden', m), () => {
    const j = inspectJson(sharedData('golden', m, 'consolidated.00.pth'));
    assert.equal(j.format, 'pth');
    assert.equal(j.tensors.length, 22);
    assert.ok(j.tensors.every((t) => t.type === 'F32'));
    assert.deepEqual(j.tensors.find((t) => t.name === 'rope.freqs')!.shape, [8]);
    assert.equal(j.metadata['params.json.n_layers'], 2);
  });
}

test('llama inspect: stories260K.bin (llama2.c v0)', needsShared('models/stories260K/stories260K.bin'), () => {
  const j = inspectJson(sharedData('models', 'stories260K', 'stories260K.bin'));
  assert.equal(j.format, 'llama2c');
  assert.equal(j.version, 0);
  assert.deepEqual(j.metadata, { dim: 64, hidden_dim: 172, n_layers: 5, n_heads: 8, n_kv_heads: 4, vocab_size: 512, seq_len: 512, shared_classifier: true });
  assert.equal(j.tensors.length, 1 + 5 * 9 + 1);
  assert.equal(j.total_tensor_bytes, 1_056_540 - 28 - 2 * 512 * 4 * 4);
  const text = runCli(['inspect', sharedData('models', 'stories260K', 'stories260K.bin')]);
  assert.equal(text.status, 0);
  assert.match(text.stdout, /format: +llama2c v0/);
  assert.match(text.stdout, /layers\.4\.feed_forward\.w2 +F32 +\[64, 172\] +44032/);
});

test('llama inspect: damaged non-GGUF files fail with typed errors', needsShared('golden/llama1-tiny'), () => {
  const { dir, cleanup } = tempDir('insp');
  try {
    const cases: [string, Uint8Array, RegExp][] = [
      ['cut.safetensors', readFileSync(sharedData('golden', 'llama1-tiny', 'model.safetensors')).subarray(0, 3000), /FORMAT_BOUNDS|FORMAT_TRUNCATED/],
      ['cut.pth', readFileSync(sharedData('golden', 'llama1-tiny', 'consolidated.00.pth')).subarray(0, 100_000), /FORMAT_MAGIC/],
      ['cut.bin', readFileSync(sharedData('models', 'stories260K', 'stories260K.bin')).subarray(0, 50_000), /FORMAT_TRUNCATED/],
    ];
    for (const [name, bytes, code] of cases) {
      const p = join(dir, name);
      writeFileSync(p, bytes);
      const r = runCli(['inspect', p]);
      assert.equal(r.status, 1, name);
      assert.match(r.stderr, code, name);
      assert.ok(r.stderr.includes(p), `${name}: the error names the file`);
      assert.equal(r.stdout, '', `${name}: nothing on stdout`);
    }
  } finally {
    cleanup();
  }
});

test('llama inspect: a Meta folder lists every shard\'s tensors', () => {
  const { dir, cleanup } = tempDir('insp');
  try {
    const t = (v: number[]) => new Uint8Array(new Float32Array(v).buffer);
    for (let s = 0; s < 2; s++) {
      writeFileSync(join(dir, `consolidated.0${s}.pth`), torchSaveContiguous(`consolidated.0${s}`, [
        { name: 'norm.weight', storageType: 'FloatStorage', shape: [2], data: t([1, 2]) },
        { name: 'output.weight', storageType: 'FloatStorage', shape: [1, 2], data: t([s, s]) },
      ]));
    }
    writeFileSync(join(dir, 'params.json'), JSON.stringify({ dim: 2, n_layers: 0 }));
    const j = inspectJson(dir);
    assert.equal(j.format, 'pth');
    assert.deepEqual(j.tensors.map((x) => x.name), ['consolidated.00.pth:norm.weight', 'consolidated.00.pth:output.weight', 'consolidated.01.pth:norm.weight', 'consolidated.01.pth:output.weight']);
    assert.equal(j.metadata['params.json.dim'], 2);
  } finally {
    cleanup();
  }
});

for (const [file, vocab, kind] of [
  ['tokenizer/llama2/tokenizer.model', 32000, 'sentencepiece model (protobuf)'],
  ['tokenizer/llama2/tokenizer.bin', 32000, 'llama2.c tokenizer.bin'],
  ['tokenizer/llama3/tokenizer.model', 128256, 'tiktoken BPE ranks'],
  ['models/stories260K/tok512.bin', 512, 'llama2.c tokenizer.bin'],
] as const) {
  test(`llama inspect: tokenizer file ${file}`, needsShared(file), () => {
    const r = runCli(['inspect', sharedData(file), '--json']);
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { format: string; kind: string; metadata: Record<string, unknown>; tensors: unknown[] };
    assert.equal(j.format, 'tokenizer');
    assert.equal(j.kind, kind);
    assert.equal(j.metadata.vocab_size, vocab);
    assert.deepEqual((j.metadata.tokens as { length: number }).length, vocab);
    assert.equal(j.tensors.length, 0);
  });
}
