// The addon's unmapRange: a file mapping is released at once (its views become empty), but never
// while a weight loaded in place still computes from its bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './helpers/tmp.js';
import { mapFileRange, releaseMappedView, canUnmap } from '../src/formats/mmap.js';
import { fastBackends } from './helpers/backends.js';
import { f32Tensor } from '../src/tensor/tensor.js';

test('unmapRange refuses while an in-place weight uses the mapping, then releases it', async (t) => {
  const [native] = await fastBackends();
  if (!native || !canUnmap()) return t.skip('the native addon is not built here');
  const dir = tempDir('unmap-');
  const path = join(dir, 'w.bin');
  const rows = 64, cols = 64;
  writeFileSync(path, new Uint8Array(Float32Array.from({ length: rows * cols }, (_, i) => (i % 7) - 3).buffer));
  const view = mapFileRange(path, 0, rows * cols * 4)!;
  assert.ok(view);
  const w = native.loadWeight(f32Tensor('w', [rows, cols], new Float32Array(view.buffer, view.byteOffset, rows * cols)), { inPlace: true });
  assert.equal(releaseMappedView(view), false, 'an in-place weight pins the mapping');
  const out = new Float32Array(rows);
  native.matmul(out, new Float32Array(cols).fill(1), w, 1);
  assert.equal(out[0], Array.from({ length: cols }, (_, i) => (i % 7) - 3).reduce((a, b) => a + b));
  native.freeWeight!(w);
  assert.equal(releaseMappedView(view), true);
  assert.equal(view.byteLength, 0, 'the view is detached, not dangling');
  assert.equal(releaseMappedView(view), false, 'twice is a no-op');
});

test('a js-backend weight computing from a mapped file pins it: no early unmap under it', async (t) => {
  if (!canUnmap()) return t.skip('the native addon (which maps files) is not built here');
  const { JsBackend } = await import('../src/backend/js/js-backend.js');
  const dir = tempDir('unmap-js-');
  const path = join(dir, 'w.bin');
  writeFileSync(path, new Uint8Array(Float32Array.from({ length: 16 }, (_, i) => i).buffer));
  const view = mapFileRange(path, 0, 64)!;
  const js = new JsBackend();
  const w = js.loadWeight(f32Tensor('w', [4, 4], new Float32Array(view.buffer, view.byteOffset, 16)));
  assert.equal(releaseMappedView(view), false);
  const out = new Float32Array(4);
  js.matmul(out, new Float32Array([1, 1, 1, 1]), w, 1);
  assert.deepEqual([...out], [6, 22, 38, 54], 'still computes from the mapped bytes');
  js.freeWeight(w);
  assert.equal(releaseMappedView(view), true);
});
