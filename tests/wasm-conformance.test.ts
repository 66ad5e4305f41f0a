// The shared conformance suite (tests/helpers/backend-conformance.ts) on the wasm backend: every
// op x dtype x odd shape against the js oracle, and proof that the wasm kernels actually ran.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadWasmBackend, wasmUnavailableReason } from '../src/backend/wasm/index.js';
import { backendConformance } from './helpers/backend-conformance.js';
import { DType } from '../src/tensor/dtype.js';

const reason = wasmUnavailableReason();

if (reason) {
  test('wasm backend conformance', { skip: reason }, () => {});
} else {
  backendConformance('wasm', [{ label: '1 thread, simd128', make: () => loadWasmBackend()! }]);

  test('wasm backend: the ops run in the module (kernel calls are counted), not in a js fallback', () => {
    const be = loadWasmBackend()!;
    const before = be.info().calls;
    const w = be.loadWeight({ name: 'w', type: DType.F32, shape: [2, 4], data: new Uint8Array(new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]).buffer) });
    const out = new Float32Array(2);
    be.matmul(out, new Float32Array([1, 1, 1, 1]), w, 1);
    assert.deepEqual(out, new Float32Array([10, 26]));
    assert.equal(be.argmax(out, 2), 1);
    assert.equal(be.info().calls, before + 2);
    assert.equal(be.name, 'wasm');
  });
}
