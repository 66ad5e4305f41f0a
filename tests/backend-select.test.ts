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

// Environment variables are read once per process (the addon is loaded once), so each case runs
// in a child process, through the CLI as a user would meet them.
import { runCli } from './helpers/cli.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './helpers/tmp.js';

test('LLAMA_THREADS that is not a whole number 1..256 is a usage error, not silently ignored', () => {
  for (const bad of ['abc', '0', '-2', '1.5']) {
    const r = runCli(['run', '-p', 'hi', '-n', '1', '--backend', 'native'], { env: { LLAMA_THREADS: bad } });
    if (/BACKEND_UNAVAILABLE/.test(r.stderr)) return; // no native build here: nothing reads LLAMA_THREADS
    assert.equal(r.status, 2, `${bad}: ${r.stderr}`);
    assert.match(r.stderr, /LLAMA_THREADS must be a whole number/);
    assert.equal(r.stdout, '');
  }
});

test('LLAMA_NATIVE_ADDON: only a .node file is loaded, and a broken one is an error even with --backend auto', () => {
  const dir = tempDir('addon-env-');
  const text = join(dir, 'evil.js');
  writeFileSync(text, 'this is not an addon');
  const r = runCli(['run', '-p', 'hi', '-n', '1', '--backend', 'auto'], { env: { LLAMA_NATIVE_ADDON: text } });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /BACKEND_UNAVAILABLE/);
  assert.match(r.stderr, /not a compiled addon/);
  assert.doesNotMatch(r.stderr, /Unexpected token/, 'the file must not be imported');
  const fake = join(dir, 'broken.node');
  writeFileSync(fake, 'garbage');
  const b = runCli(['run', '-p', 'hi', '-n', '1'], { env: { LLAMA_NATIVE_ADDON: fake } });
  assert.equal(b.status, 1);
  assert.match(b.stderr, /failed to load/);
  assert.match(b.stderr, /hint: .*LLAMA_NATIVE_ADDON/);
  const js = runCli(['run', '-p', 'hi', '-n', '1', '--backend', 'js', '--temp', '0'], { env: { LLAMA_NATIVE_ADDON: fake } });
  assert.equal(js.status, 0, js.stderr);
});

import { readdirSync, readFileSync as readSrc } from 'node:fs';
import { REPO_ROOT } from './helpers/shared.js';
import { selectTrainingBackend } from '../src/backend/select.js';

test('training backends come from their backend folders; src/train never tests a backend\'s class, name or methods', async () => {
  const js = await selectTrainingBackend('js');
  assert.equal(js.name, 'js');
  assert.equal(js.dataParallelWorkers, true);
  try {
    const n = await selectTrainingBackend('native', 1);
    assert.equal(n.name, 'native-train');
    assert.ok(!n.dataParallelWorkers);
  } catch (e) {
    assert.ok(e instanceof LlamaError && e.code === 'BACKEND_UNAVAILABLE');
  }
  await assert.rejects(selectTrainingBackend('hybrid'), (e: unknown) => e instanceof LlamaError && e.code === 'USAGE');
  const dir = join(REPO_ROOT, 'src', 'train');
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.ts'))) {
    const src = readSrc(join(dir, f), 'utf8');
    assert.doesNotMatch(src, /instanceof \w*Backend|\.name === '(js|native)'|typeof \([^)]*as[^)]*\)\.\w+ === 'function'|Hybrid/, `src/train/${f}`);
  }
});
