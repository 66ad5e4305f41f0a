import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SafetensorsFile, SafetensorsModel, writeSafetensors, writeSafetensorsSharded, SAFETENSORS_INDEX } from '../src/formats/safetensors.js';
import { DType } from '../src/tensor/dtype.js';
import { makeTensor, f32Tensor } from '../src/tensor/tensor.js';
import { floatToBf16, floatToHalf } from '../src/tensor/f16.js';
import { needsShared, sharedData } from './helpers/shared.js';
import { expectCode, tempDir, truncationPoints } from './helpers/corrupt.js';

const GOLDEN = (m: string) => sharedData('golden', m, 'model.safetensors');

/** A safetensors file from a raw header object (for hand-made broken files). */
function rawFile(header: unknown, data: Uint8Array, headerText?: string): Uint8Array {
  const h = new TextEncoder().encode(headerText ?? JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

test('safetensors: reads the golden HF file (names, shapes, dtype, metadata)', needsShared('golden/llama1-tiny'), () => {
  const f = SafetensorsFile.open(GOLDEN('llama1-tiny'));
  try {
    assert.deepEqual(f.metadata, { format: 'pt' });
    assert.equal(f.entries.size, 21); // 2 layers × 9 + embed + norm + lm_head
    const e = f.entries.get('model.layers.0.mlp.down_proj.weight')!;
    assert.equal(e.dtype, 'F32');
    assert.deepEqual(e.shape, [64, 192]);
    const t = f.readTensor('model.embed_tokens.weight');
    assert.equal(t.type, DType.F32);
    assert.deepEqual(t.shape, [256, 64]);
  } finally {
    f.close();
  }
});

test('safetensors: the writer reproduces the golden file byte for byte', needsShared('golden/llama2-gqa-tiny'), () => {
  const { dir, cleanup } = tempDir('st');
  try {
    for (const m of ['llama1-tiny', 'llama2-gqa-tiny']) {
      const f = SafetensorsFile.open(GOLDEN(m));
      const tensors = [...f.entries.keys()].reverse().map((n) => f.readTensor(n)); // order must not matter
      f.close();
      const out = join(dir, `${m}.safetensors`);
      writeSafetensors(out, tensors, { format: 'pt' });
      assert.ok(Buffer.compare(readFileSync(out), readFileSync(GOLDEN(m))) === 0, `${m}: written file differs from the Python-written one`);
    }
  } finally {
    cleanup();
  }
});

test('safetensors: F16/BF16/F32 round trip, header padded to 8 bytes with spaces', () => {
  const { dir, cleanup } = tempDir('st');
  try {
    const h = new Uint16Array([floatToHalf(1.5), floatToHalf(-2), floatToHalf(65504)]);
    const b = new Uint16Array([floatToBf16(3.25), floatToBf16(-0.5)]);
    const tensors = [
      makeTensor('half', DType.F16, [3], new Uint8Array(h.buffer)),
      makeTensor('bf', DType.BF16, [1, 2], new Uint8Array(b.buffer)),
      f32Tensor('x.y', [2, 2], new Float32Array([1, 2, 3, 4])),
    ];
    const p = join(dir, 'a.safetensors');
    writeSafetensors(p, tensors, { note: 'héllo' });
    const bytes = readFileSync(p);
    const n = Number(bytes.readBigUInt64LE(0));
    assert.equal((8 + n) % 8, 0);
    const header = bytes.subarray(8, 8 + n).toString('utf8');
    assert.match(header, /^\{"__metadata__":\{"note":"héllo"\},"bf":/); // metadata first, keys sorted
    assert.match(header.slice(header.lastIndexOf('}') + 1), /^ *$/); // padding is spaces only
    assert.ok(header.endsWith(' '), 'this header needed padding');
    const f = SafetensorsFile.open(p);
    assert.deepEqual(f.metadata, { note: 'héllo' });
    for (const t of tensors) {
      const r = f.readTensor(t.name);
      assert.equal(r.type, t.type);
      assert.deepEqual(r.shape, t.shape);
      assert.deepEqual([...r.data], [...t.data]);
    }
    f.close();
  } finally {
    cleanup();
  }
});

test('safetensors: a sharded set (2 shards + index) reads as one model', () => {
  const { dir, cleanup } = tempDir('st');
  try {
    const tensors = Array.from({ length: 5 }, (_, i) => f32Tensor(`t${i}`, [4], new Float32Array([i, i + 1, i + 2, i + 3])));
    const shards = writeSafetensorsSharded(dir, tensors, 40, { format: 'pt' });
    assert.deepEqual(shards, ['model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors']);
    const index = JSON.parse(readFileSync(join(dir, SAFETENSORS_INDEX), 'utf8'));
    assert.equal(index.metadata.total_size, 80);
    assert.equal(index.weight_map.t4, 'model-00003-of-00003.safetensors');
    for (const target of [dir, join(dir, SAFETENSORS_INDEX)]) {
      const m = SafetensorsModel.open(target);
      assert.equal(m.files.length, 3);
      assert.equal(m.entries.size, 5);
      for (const t of tensors) assert.deepEqual([...m.readTensor(t.name).data], [...t.data]);
      m.close();
    }
  } finally {
    cleanup();
  }
});

test('safetensors: unsupported dtypes are typed errors (listed, but not readable)', () => {
  const { dir, cleanup } = tempDir('st');
  try {
    const p = join(dir, 'i64.safetensors');
    writeFileSync(p, rawFile({ ids: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, new Uint8Array(16)));
    const f = SafetensorsFile.open(p);
    assert.equal(f.entries.get('ids')!.dtype, 'I64');
    expectCode(() => f.readTensor('ids'), 'TENSOR_TYPE');
    f.close();
    writeFileSync(p, rawFile({ x: { dtype: 'Q9', shape: [2], data_offsets: [0, 2] } }, new Uint8Array(2)));
    expectCode(() => SafetensorsFile.open(p), 'FORMAT_UNSUPPORTED');
  } finally {
    cleanup();
  }
});

test('safetensors: corrupted headers give typed errors', () => {
  const { dir, cleanup } = tempDir('st');
  const p = join(dir, 'bad.safetensors');
  const check = (bytes: Uint8Array, code: Parameters<typeof expectCode>[1], what: string) => {
    writeFileSync(p, bytes);
    const e = expectCode(() => SafetensorsFile.open(p), code, what);
    assert.ok(e.message.includes(p), `${what}: message names the file`);
  };
  try {
    const data = new Uint8Array(16);
    const good = { a: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] } };
    // absurd declared header length (2^60) and one larger than the file
    const huge = rawFile(good, data);
    new DataView(huge.buffer).setBigUint64(0, 1n << 60n, true);
    check(huge, 'FORMAT_LIMIT', 'huge header length');
    const over = rawFile(good, data);
    new DataView(over.buffer).setBigUint64(0, BigInt(over.length), true);
    check(over, 'FORMAT_TRUNCATED', 'header length past the end');
    check(rawFile(null, data, '{"a": {"dtype": "F32",'), 'FORMAT_CORRUPT', 'bad JSON');
    check(rawFile(null, data, '[1,2,3]'), 'FORMAT_CORRUPT', 'JSON array');
    check(rawFile({ a: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 32] } }, data), 'FORMAT_BOUNDS', 'offsets past the buffer');
    check(rawFile({ a: { dtype: 'F32', shape: [2, 2], data_offsets: [8, 4] } }, data), 'FORMAT_CORRUPT', 'reversed offsets');
    check(rawFile({ a: { dtype: 'F32', shape: [3, 2], data_offsets: [0, 16] } }, data), 'FORMAT_CORRUPT', 'size does not match shape');
    check(rawFile({ a: { dtype: 'F32', shape: [-2], data_offsets: [0, 16] } }, data), 'FORMAT_CORRUPT', 'negative dim');
    check(rawFile({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, data), 'FORMAT_CORRUPT', 'overlap');
    check(rawFile({ __metadata__: { x: 1 } }, data), 'FORMAT_CORRUPT', 'non-string metadata');
    check(new Uint8Array([1, 2, 3]), 'FORMAT_TRUNCATED', '3-byte file');
    // invalid UTF-8 in the header
    const bad = rawFile(good, data);
    bad[9] = 0xff;
    check(bad, 'FORMAT_CORRUPT', 'invalid UTF-8');
  } finally {
    cleanup();
  }
});

test('safetensors: truncations of a real file at many offsets are typed errors', needsShared('golden/llama1-tiny'), () => {
  const { dir, cleanup } = tempDir('st');
  try {
    const full = readFileSync(GOLDEN('llama1-tiny'));
    const p = join(dir, 'trunc.safetensors');
    for (const at of truncationPoints(full.length)) {
      writeFileSync(p, full.subarray(0, at));
      expectCode(() => SafetensorsModel.open(p), ['FORMAT_TRUNCATED', 'FORMAT_BOUNDS', 'FORMAT_CORRUPT'], `truncated at ${at}`);
    }
  } finally {
    cleanup();
  }
});

test('safetensors: a bad index is a typed error and cannot escape its directory', () => {
  const { dir, cleanup } = tempDir('st');
  try {
    const idx = join(dir, SAFETENSORS_INDEX);
    writeFileSync(idx, '{"weight_map": ');
    expectCode(() => SafetensorsModel.open(idx), 'FORMAT_CORRUPT', 'bad JSON');
    writeFileSync(idx, '{"metadata": {}}');
    expectCode(() => SafetensorsModel.open(idx), 'FORMAT_CORRUPT', 'no weight_map');
    writeFileSync(idx, '{"weight_map": {"a": "../etc/passwd"}}');
    expectCode(() => SafetensorsModel.open(idx), 'FORMAT_CORRUPT', 'path escape');
    writeFileSync(idx, '{"weight_map": {"a": "missing.safetensors"}}');
    expectCode(() => SafetensorsModel.open(idx), 'FILE_NOT_FOUND', 'missing shard');
    writeSafetensors(join(dir, 's.safetensors'), [f32Tensor('b', [1], new Float32Array([1]))]);
    writeFileSync(idx, '{"weight_map": {"a": "s.safetensors"}}');
    expectCode(() => SafetensorsModel.open(idx), 'TENSOR_MISSING', 'tensor not in its shard');
  } finally {
    cleanup();
  }
});
