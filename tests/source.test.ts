// ByteSource / ByteCursor: the bounds-checked byte access every format reader is built on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ByteCursor, ByteSource, withSource } from '../src/formats/source.js';
import { openGguf } from '../src/formats/gguf.js';
import { LlamaError } from '../src/errors.js';
import { dequantizeTensor } from '../src/tensor/quant.js';
import { asF32 } from '../src/tensor/tensor.js';
import { needsShared, sharedData } from './helpers/shared.js';

const isCode = (code: string, name?: string) => (e: unknown) => e instanceof LlamaError && e.code === code && (name === undefined || e.message.includes(name));

test('file source: reads by offset, refuses to read past EOF with FORMAT_TRUNCATED naming the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'llama-ts-src-'));
  try {
    const path = join(dir, 'x.bin');
    writeFileSync(path, Uint8Array.from({ length: 100 }, (_, i) => i));
    withSource(path, (src) => {
      assert.equal(src.size, 100);
      assert.deepEqual([...src.read(95, 5)], [95, 96, 97, 98, 99]);
      assert.throws(() => src.read(96, 5), isCode('FORMAT_TRUNCATED', path));
      assert.throws(() => src.read(-1, 1), isCode('FORMAT_BOUNDS', path));
      assert.throws(() => src.read(0, 2 ** 40), isCode('FORMAT_TRUNCATED', path));
      assert.throws(() => src.read(0, 2 ** 60), isCode('FORMAT_BOUNDS', path)); // not a safe integer
      const cur = new ByteCursor(src, 96);
      assert.equal(cur.u32(), 0x63626160);
      assert.throws(() => cur.u8('tail byte'), isCode('FORMAT_TRUNCATED', 'tail byte'));
      assert.throws(() => cur.checkCount(2 ** 50, 8, 'thing'), isCode('FORMAT_LIMIT'));
    });
    assert.throws(() => ByteSource.open(join(dir, 'missing.bin')), isCode('FILE_NOT_FOUND'));
    const src = ByteSource.open(path);
    src.close();
    assert.ok(src.closed);
    assert.throws(() => src.read(0, 1), isCode('INTERNAL'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('cursor: little-endian fields, u64 beyond 2^53 is FORMAT_LIMIT, UTF-8 keeps a leading BOM', () => {
  const b = new Uint8Array(64);
  const dv = new DataView(b.buffer);
  dv.setInt16(0, -2, true);
  dv.setFloat32(2, 1.5, true);
  dv.setBigUint64(6, 2n ** 53n + 1n, true);
  dv.setBigUint64(14, 2n ** 53n - 1n, true);
  b.set([0xef, 0xbb, 0xbf, 0x41], 22);
  const cur = new ByteCursor(ByteSource.fromBytes(b, 'mem.bin'));
  assert.equal(cur.i16(), -2);
  assert.equal(cur.f32(), 1.5);
  assert.throws(() => cur.u64('count'), isCode('FORMAT_LIMIT', 'mem.bin'));
  assert.equal(cur.u64(), 2 ** 53 - 1);
  assert.equal(cur.utf8(4), '\uFEFFA');
  assert.equal(cur.pos, 26);
  assert.equal(cur.remaining, 38);
});

test('in-memory source: openGguf over bytes equals the file; readTensorF32 / dequantizeTensor', needsShared('golden/llama1-tiny/model-f32.gguf'), () => {
  const path = sharedData('golden/llama1-tiny/model-f32.gguf');
  const bytes = new Uint8Array(readFileSync(path));
  const mem = openGguf(ByteSource.fromBytes(bytes, 'mem:model-f32.gguf'));
  const file = openGguf(path);
  try {
    assert.equal(mem.path, 'mem:model-f32.gguf');
    assert.deepEqual([...mem.metadata], [...file.metadata]);
    assert.deepEqual(mem.tensors, file.tensors);
    const t = file.readTensor('blk.0.attn_q.weight');
    const { shape, values } = mem.readTensorF32('blk.0.attn_q.weight');
    assert.deepEqual(shape, [64, 64]);
    assert.deepEqual(values, asF32(t));
    assert.deepEqual(dequantizeTensor(t), values);
  } finally {
    mem.close();
    file.close();
  }
  // cut inside the tensor infos: the 21 declared infos no longer fit
  assert.throws(() => openGguf(ByteSource.fromBytes(bytes.subarray(0, 500), 'mem:cut.gguf')), isCode('FORMAT_LIMIT', 'mem:cut.gguf'));
  assert.throws(() => openGguf(ByteSource.fromBytes(bytes.subarray(0, 1500), 'mem:cut.gguf')), isCode('FORMAT_TRUNCATED', 'mem:cut.gguf'));
});
