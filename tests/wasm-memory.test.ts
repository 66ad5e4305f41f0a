// The wasm backend's linear-memory allocator and its 4 GiB limit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LinearMemory } from '../src/backend/wasm/memory.js';
import type { WasmMemory } from '../src/backend/wasm/wasm-api.js';
import { loadWasmBackend, wasmUnavailableReason } from '../src/backend/wasm/index.js';
import { LlamaError } from '../src/errors.js';
import { DType } from '../src/tensor/dtype.js';

const newMemory = (): WasmMemory => new (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number; maximum: number }) => WasmMemory } }).WebAssembly.Memory({ initial: 1, maximum: 65536 });

test('wasm memory: freed blocks are reused first-fit and coalesced; freeing everything returns to the heap base', () => {
  const m = new LinearMemory(newMemory(), 1000);
  const a = m.alloc(100), b = m.alloc(200), c = m.alloc(64);
  assert.equal(a, 1024, 'aligned up from the heap base');
  assert.equal(b, a + 128);
  assert.equal(c, b + 256);
  m.free_(a, 100);
  assert.equal(m.alloc(64), a, 'a freed block is reused');
  m.free_(a, 64);
  m.free_(b, 200); // coalesces with a's block: 384 bytes from a
  assert.equal(m.alloc(384), a);
  m.free_(a, 384);
  m.free_(c, 64);
  assert.equal(m.used, 1024, 'only the space below the heap base is in use');
  assert.equal(m.alloc(1), 1024);
});

test('wasm memory: grows on demand and keeps what was written; past 4 GiB is BACKEND_UNAVAILABLE with a hint', () => {
  const m = new LinearMemory(newMemory(), 0);
  const a = m.alloc(16);
  m.u8.set([1, 2, 3], a);
  const big = m.alloc(3 << 20);
  assert.ok(m.size >= big + (3 << 20));
  assert.deepEqual([...m.u8.subarray(a, a + 3)], [1, 2, 3], 'the views follow the grown buffer');
  const before = m.size;
  assert.throws(() => m.alloc(5 * 2 ** 30, 'weight x'), (e: unknown) => e instanceof LlamaError && e.code === 'BACKEND_UNAVAILABLE' && /4 GiB/.test(e.message) && /weight x/.test(e.message) && /native/.test(e.hint ?? ''));
  assert.equal(m.size, before, 'nothing was grown for the failed allocation');
});

test('wasm backend: a KV cache past the 4 GiB of wasm32 is a typed error, and the backend still works after it', { skip: wasmUnavailableReason() ?? false }, () => {
  const be = loadWasmBackend()!;
  assert.throws(() => be.createKVCache(32, 1_000_000, 8, 128, DType.F32), (e: unknown) => e instanceof LlamaError && e.code === 'BACKEND_UNAVAILABLE');
  const c = be.createKVCache(1, 4, 1, 4, DType.F32);
  const kv = new Float32Array([1, 2, 3, 4]);
  be.kvStore(c, 0, 0, 1, kv, kv);
  const out = new Float32Array(4);
  be.attention(out, new Float32Array(4), c, 0, 0, 1, 1);
  assert.deepEqual(out, kv, 'one position: attention returns its value row');
});

test('wasm backend: the read-bandwidth probe gives one positive rate per repetition and gives its buffer back', { skip: wasmUnavailableReason() ?? false }, () => {
  const be = loadWasmBackend({ threads: 1 })!;
  const used = be.info().usedBytes;
  const calls = be.info().calls;
  const rates = be.readBandwidth(4 * 1024 * 1024, 3);
  assert.equal(rates.length, 3);
  for (const r of rates) assert.ok(Number.isFinite(r) && r > 0, `rate ${r}`);
  assert.equal(be.info().usedBytes, used, 'the probe buffer is freed');
  assert.equal(be.info().calls, calls, 'the probe is not counted as a kernel call of the model');
});
