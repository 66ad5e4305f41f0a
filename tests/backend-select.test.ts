import { test } from 'node:test';
import assert from 'node:assert/strict';
import { selectBackend } from '../src/backend/select.js';
import { LlamaError } from '../src/errors.js';

test('backend selection: js, auto falls back silently (native, else wasm, else js), native and wasm are available or a BACKEND_UNAVAILABLE error, unknown names are usage errors', async () => {
  assert.equal((await selectBackend('js')).name, 'js');
  const auto = await selectBackend('auto');
  let native: string | undefined;
  try {
    native = (await selectBackend('native')).name;
  } catch (e) {
    assert.ok(e instanceof LlamaError && e.code === 'BACKEND_UNAVAILABLE', String(e));
  }
  let wasm: string | undefined;
  try {
    wasm = (await selectBackend('wasm')).name;
    assert.equal(wasm, 'wasm');
  } catch (e) {
    assert.ok(e instanceof LlamaError && e.code === 'BACKEND_UNAVAILABLE', String(e));
  }
  assert.equal(auto.name, native ?? wasm ?? 'js');
  await assert.rejects(selectBackend('cuda'), (e: unknown) => e instanceof LlamaError && e.code === 'USAGE');
  const saved = process.env.LLAMA_BACKEND;
  process.env.LLAMA_BACKEND = 'js';
  try {
    assert.equal((await selectBackend()).name, 'js');
  } finally {
    if (saved === undefined) delete process.env.LLAMA_BACKEND;
    else process.env.LLAMA_BACKEND = saved;
  }
});
