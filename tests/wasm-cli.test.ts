// `--backend wasm` through the CLI, and `auto` falling back to wasm in an installation without the
// native addon.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './helpers/cli.js';
import { REPO_ROOT } from './helpers/shared.js';
import { wasmUnavailableReason } from '../src/backend/wasm/index.js';

const skip = wasmUnavailableReason() ?? false;
const greedy = ['run', '-p', 'Once upon a time', '-n', '24', '--temp', '0'];

test('llama run --backend wasm prints the same greedy text as the js backend and says it ran on wasm', { skip }, () => {
  const w = runCli([...greedy, '--backend', 'wasm']);
  assert.equal(w.status, 0, w.stderr);
  assert.match(w.stderr, /backend: wasm/);
  const j = runCli([...greedy, '--backend', 'js']);
  assert.equal(j.status, 0, j.stderr);
  assert.ok(w.stdout.length > 'Once upon a time'.length + 10, w.stdout);
  assert.equal(w.stdout, j.stdout);
});

test('the plain build (kernels.wasm, no shared memory) and 2 worker threads print the same greedy text', { skip }, () => {
  const base = runCli([...greedy, '--backend', 'wasm']);
  assert.equal(base.status, 0, base.stderr);
  const plain = runCli([...greedy, '--backend', 'wasm'], { env: { LLAMA_WASM_VARIANT: 'st' } });
  assert.equal(plain.status, 0, plain.stderr);
  assert.equal(plain.stdout, base.stdout);
  const threaded = runCli([...greedy, '--backend', 'wasm', '-t', '2']);
  assert.equal(threaded.status, 0, threaded.stderr);
  assert.equal(threaded.stdout, base.stdout);
});

test('auto falls back to wasm (not js) in an installation without the native addon; --backend native there is BACKEND_UNAVAILABLE', { skip }, () => {
  // a scratch installation: the compiled package without build/ (as after an install without a C compiler)
  const dir = mkdtempSync(join(tmpdir(), 'no-addon-'));
  try {
    for (const p of ['bin', 'dist', 'package.json', 'models/default/model.gguf', 'models/default/tokenizer.model', 'src/backend/wasm/kernels.wasm', 'src/backend/wasm/kernels-mt.wasm']) {
      cpSync(join(REPO_ROOT, p), join(dir, p), { recursive: true });
    }
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'));
    const env = { ...process.env };
    delete env.LLAMA_BACKEND;
    delete env.LLAMA_NATIVE_ADDON;
    const cli = (args: string[]) => spawnSync(process.execPath, [join(dir, 'bin', 'llama.js'), ...args], { encoding: 'utf8', env, timeout: 120_000 });
    const auto = cli([...greedy]);
    assert.equal(auto.status, 0, auto.stderr);
    assert.match(auto.stderr, /backend: wasm/);
    const here = runCli([...greedy, '--backend', 'wasm']);
    assert.equal(auto.stdout, here.stdout);
    const native = cli([...greedy, '--backend', 'native']);
    assert.equal(native.status, 1);
    assert.match(native.stderr, /BACKEND_UNAVAILABLE/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('llama logits and llama bench accept --backend wasm', { skip }, () => {
  const l = runCli(['logits', '--backend', 'wasm', '-p', 'Hello']);
  assert.equal(l.status, 0, l.stderr);
  const lj = runCli(['logits', '--backend', 'js', '-p', 'Hello']);
  const a = l.stdout.trim().split(/\s+/).map(Number), b = lj.stdout.trim().split(/\s+/).map(Number);
  assert.equal(a.length, b.length);
  assert.ok(a.length > 100);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) <= 1e-3 * (1 + Math.abs(b[i]!)), `logit ${i}: ${a[i]} vs ${b[i]}`);
  const bench = runCli(['bench', '-m', join(REPO_ROOT, 'models', 'default', 'model.gguf'), '--backend', 'wasm', '-p', '8', '-n', '4', '-r', '1', '-t', '1', '--json']);
  assert.equal(bench.status, 0, bench.stderr);
  const rows = JSON.parse(bench.stdout) as { backend: string; tokens_per_second: number }[];
  assert.deepEqual(rows.map((r) => r.backend), ['wasm', 'wasm']);
  assert.ok(rows.every((r) => r.tokens_per_second > 0));
});
