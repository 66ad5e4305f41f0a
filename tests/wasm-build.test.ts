// The committed src/backend/wasm/kernels.wasm must be what scripts/build-wasm.js makes from the
// committed C sources (users without clang run the committed file). clang-14 is deterministic, so a
// rebuild gives the same bytes; other clang versions may not, so the test needs clang-14.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const has = (cmd: string) => {
  const r = spawnSync(cmd, ['--version'], { stdio: 'ignore' });
  return !r.error && r.status === 0;
};
const skip = has('clang-14') && has('wasm-ld-14') ? false : 'clang-14 and wasm-ld-14 are not installed';

test('the committed kernels.wasm and kernels-mt.wasm are up to date with src/backend/wasm/c (rebuilt with clang-14, byte for byte)', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'wasm-build-'));
  try {
    const r = spawnSync(process.execPath, [join(root, 'scripts', 'build-wasm.js'), '--out', dir], { env: { ...process.env, LLAMA_WASM_CC: 'clang-14', LLAMA_WASM_LD: 'wasm-ld-14' }, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    for (const file of ['kernels.wasm', 'kernels-mt.wasm']) {
      const rebuilt = readFileSync(join(dir, file)), committed = readFileSync(join(root, 'src', 'backend', 'wasm', file));
      assert.ok(rebuilt.equals(committed), `${file} is stale (${committed.length} committed vs ${rebuilt.length} rebuilt bytes): run node scripts/build-wasm.js and commit it`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the kernels modules import nothing but their memory (no libc, no host functions)', () => {
  const api = (globalThis as unknown as { WebAssembly: { Module: { new (b: Uint8Array): object; imports(m: object): { module: string; name: string; kind: string }[] } } }).WebAssembly;
  for (const file of ['kernels.wasm', 'kernels-mt.wasm']) {
    const m = new api.Module(readFileSync(join(root, 'src', 'backend', 'wasm', file)));
    assert.deepEqual(api.Module.imports(m), [{ module: 'env', name: 'memory', kind: 'memory' }], file);
  }
});
