// Builds the `wasm` backend's modules from src/backend/wasm/c/kernels.c with clang and lld for
// wasm32 + SIMD128, no libc:
//   kernels.wasm     one thread, a plain (unshared) memory: runs everywhere
//   kernels-mt.wasm  the same kernels over a shared memory (atomics), for worker threads
// The .wasm files are committed, so an install without clang keeps them; a failed build never
// fails the install.
//
//   node scripts/build-wasm.js              build in place (quietly skipped without clang)
//   node scripts/build-wasm.js --out DIR    build into DIR (the up-to-date test compares them)
//
// Compilers: LLAMA_WASM_CC / LLAMA_WASM_LD, else clang-14 / wasm-ld-14 (the versions the committed
// file was built with, so a rebuild gives the same bytes), else clang / wasm-ld.
import { existsSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { tmpdir } from 'node:os';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src', 'backend', 'wasm', 'c', 'kernels.c');
const outArg = process.argv.indexOf('--out');
const outDir = outArg > 0 ? process.argv[outArg + 1] : join(root, 'src', 'backend', 'wasm');

export const CFLAGS = ['--target=wasm32', '-msimd128', '-mbulk-memory', '-O3', '-nostdlib', '-ffreestanding', '-fno-exceptions', '-Wall', '-Werror'];
// memory comes from the host (so that it can be shared with workers later); 64 KiB of stack first
export const LDFLAGS = ['--no-entry', '--import-memory', '--stack-first', '-z', 'stack-size=65536', '--export=__heap_base', '--strip-all'];
// the threaded build: a shared memory of up to 4 GiB; each instance moves its own stack pointer
const VARIANTS = [
  { file: 'kernels.wasm', cflags: [], ldflags: [] },
  { file: 'kernels-mt.wasm', cflags: ['-matomics', '-mmutable-globals'], ldflags: ['--shared-memory', '--max-memory=4294967296', '--export=__stack_pointer'] },
];

function found(cmd) {
  const r = spawnSync(cmd, ['--version'], { stdio: 'ignore' });
  return !r.error && r.status === 0;
}

function pick(envName, names) {
  const fromEnv = process.env[envName];
  if (fromEnv) return fromEnv;
  return names.find(found);
}

function skip(why, loud = false) {
  if (outArg > 0 || loud) {
    process.stderr.write(`build-wasm: ${why}\n`);
    process.exit(outArg > 0 ? 2 : 0);
  }
  if (process.env.LLAMA_WASM_VERBOSE === '1') process.stderr.write(`llama-ts: the wasm module was not rebuilt (${why}); the committed one is used.\n`);
  process.exit(0);
}

try {
  if (!existsSync(src)) process.exit(0);
  const cc = pick('LLAMA_WASM_CC', ['clang-14', 'clang']);
  const ld = pick('LLAMA_WASM_LD', ['wasm-ld-14', 'wasm-ld']);
  if (!cc || !ld) skip('clang and wasm-ld not found');
  const dir = mkdtempSync(join(tmpdir(), 'llama-wasm-'));
  try {
    const built = [];
    for (const v of VARIANTS) {
      const obj = join(dir, v.file + '.o'), wasm = join(dir, v.file);
      let r = spawnSync(cc, [...CFLAGS, ...v.cflags, '-c', src, '-o', obj], { stdio: ['ignore', 'ignore', 'pipe'] });
      // with a compiler present a failure is worth saying (the committed module is then stale)
      if (r.error || r.status !== 0) skip(`compile failed: ${(r.stderr ?? '').toString().trim().slice(0, 400)}`, true);
      r = spawnSync(ld, [...LDFLAGS, ...v.ldflags, obj, '-o', wasm], { stdio: ['ignore', 'ignore', 'pipe'] });
      if (r.error || r.status !== 0) skip(`link failed: ${(r.stderr ?? '').toString().trim().slice(0, 400)}`, true);
      built.push(v.file);
    }
    for (const f of built) renameSync(join(dir, f), join(outDir, f));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
} catch (e) {
  skip(String(e && e.message ? e.message : e));
}
process.exit(0);
