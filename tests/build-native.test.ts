// `npm install` runs scripts/build-native.js; it must never fail the install. Checked in a scratch
// copy of the build inputs (so the real build/ is untouched) with a compiler that always fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { REPO_ROOT } from './helpers/shared.js';
import { mapFileRange } from '../src/formats/mmap.js';
import { nativeUnavailableReason } from '../src/backend/native/index.js';

function scratchCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'llama-build-'));
  mkdirSync(join(dir, 'scripts'));
  cpSync(join(REPO_ROOT, 'scripts/build-native.js'), join(dir, 'scripts/build-native.js'));
  cpSync(join(REPO_ROOT, 'binding.gyp'), join(dir, 'binding.gyp'));
  cpSync(join(REPO_ROOT, 'src/backend/native/c'), join(dir, 'src/backend/native/c'), { recursive: true });
  cpSync(join(REPO_ROOT, 'package.json'), join(dir, 'package.json'));
  return dir;
}

test('build-native: a failing compiler prints one notice and exits 0', () => {
  const dir = scratchCopy();
  try {
    const r = spawnSync(process.execPath, ['scripts/build-native.js'], { cwd: dir, env: { ...process.env, CC: '/bin/false', CXX: '/bin/false' }, encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('llama-ts:'));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /native backend was not built .*js backend will be used/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('build-native: LLAMA_SKIP_NATIVE=1 skips the build with the notice', () => {
  const dir = scratchCopy();
  try {
    const r = spawnSync(process.execPath, ['scripts/build-native.js'], { cwd: dir, env: { ...process.env, LLAMA_SKIP_NATIVE: '1' }, encoding: 'utf8' });
    assert.equal(r.status, 0);
    assert.match(r.stderr, /LLAMA_SKIP_NATIVE=1/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('mmap: mapped tensor ranges equal the file bytes, writes stay private, bad ranges are refused', { skip: nativeUnavailableReason() ?? false }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'llama-mmap-'));
  try {
    const f = join(dir, 'x.bin');
    const bytes = new Uint8Array(3 * 4096 + 123).map((_, i) => (i * 7 + 3) & 0xff);
    writeFileSync(f, bytes);
    for (const [off, len] of [[0, 10], [4095, 4097], [8192 + 5, 4096 + 100]] as const) {
      const m = mapFileRange(f, off, len)!;
      assert.ok(m, `mapped ${off}+${len}`);
      assert.deepEqual(m, bytes.subarray(off, off + len));
      m[0] = m[0]! ^ 0xff;
    }
    assert.deepEqual(new Uint8Array(readFileSync(f)), bytes, 'the file is unchanged after writing into a mapping');
    assert.equal(mapFileRange(f, 0, bytes.length + 1), undefined);
    assert.equal(mapFileRange(join(dir, 'missing'), 0, 1), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// Issue 13: the addon is split by concern; only the N-API glue may see node_api.h, so the plain-C
// parts can be compiled without Node (a later WebAssembly build reuses them).
const NATIVE_C = join(REPO_ROOT, 'src/backend/native/c');
const GLUE_FILES = new Set(['addon.c', 'napi_ops.c', 'train_ops.c']);
const NAPI_INCLUDE = /^\s*#\s*include\s*[<"](node_api\.h|napi_util\.h|napi_glue\.h)[>"]/m;

test('native sources: only the glue files include node_api.h (directly or via napi_util.h / napi_glue.h)', () => {
  const files = readdirSync(NATIVE_C).filter((f) => f.endsWith('.c') || f.endsWith('.h'));
  const plain = files.filter((f) => !GLUE_FILES.has(f) && !['napi_util.h', 'napi_glue.h'].includes(f));
  assert.ok(plain.includes('matmul.c') && plain.includes('addon_internal.h'), `plain-C files found: ${plain.join(', ')}`);
  const offenders = plain.filter((f) => NAPI_INCLUDE.test(readFileSync(join(NATIVE_C, f), 'utf8')));
  assert.deepEqual(offenders, []);
  for (const f of GLUE_FILES) assert.ok(files.includes(f), `glue file ${f} exists`);
});

test('native sources: the glue addon.c stays small (under 500 lines) and every .c file is built', () => {
  const lines = readFileSync(join(NATIVE_C, 'addon.c'), 'utf8').split('\n').length;
  assert.ok(lines < 500, `addon.c has ${lines} lines`);
  const gyp = readFileSync(join(REPO_ROOT, 'binding.gyp'), 'utf8');
  for (const f of readdirSync(NATIVE_C).filter((n) => n.endsWith('.c'))) assert.ok(gyp.includes(`src/backend/native/c/${f}`), `binding.gyp builds ${f}`);
});

test('native sources: the plain-C files compile without the Node headers', (t) => {
  const probe = spawnSync('cc', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    t.skip('no C compiler (cc) on PATH');
    return;
  }
  const plain = readdirSync(NATIVE_C).filter((f) => f.endsWith('.c') && !GLUE_FILES.has(f) && !f.startsWith('k_'));
  for (const f of plain) {
    const r = spawnSync('cc', ['-fsyntax-only', '-std=gnu11', '-Wall', '-Wno-unused-function', '-Wno-unknown-pragmas', '-Werror', join(NATIVE_C, f)], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, `${f}: ${r.stderr}`);
  }
});
