// Runs the shared conformance suite (tests/helpers/backend-conformance.ts) on the native backend:
// every kernel path this CPU can run (avx512 / avx2 / scalar, or neon) at 1 and 2 threads, and
// proves that the fastest path is the one selected by default.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadNativeBackend, nativeInfo, nativeUnavailableReason } from '../src/backend/native/index.js';
import { backendConformance, type ConformanceVariant } from './helpers/backend-conformance.js';
import { JsBackend } from '../src/backend/js/js-backend.js';

const reason = nativeUnavailableReason();

/** CPU flags from /proc/cpuinfo (Linux x86), to know which path the addon must pick. */
function cpuFlags(): Set<string> {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags'));
    return new Set(line ? line.split(':')[1]!.trim().split(/\s+/) : []);
  } catch {
    return new Set();
  }
}

test('native backend: the addon selects the fastest kernel path the CPU supports', { skip: reason ?? false }, () => {
  const info = nativeInfo()!;
  const flags = cpuFlags();
  const avx512 = ['avx512f', 'avx512bw', 'avx512vl', 'avx512dq', 'avx512_vnni', 'fma', 'f16c'].every((f) => flags.has(f));
  const avx2 = ['avx2', 'fma', 'f16c'].every((f) => flags.has(f));
  if (process.arch === 'x64') {
    assert.equal(info.available[0], avx512 ? 'avx512' : avx2 ? 'avx2' : 'scalar');
    assert.equal(loadNativeBackend({ threads: 1 })!.info().isa, info.available[0]);
  }
  assert.ok(info.available.includes('scalar'));
});

test('native backend: thread pool runs the requested number of threads', { skip: reason ?? false }, () => {
  assert.equal(loadNativeBackend({ threads: 2 })!.info().threads, 2);
  assert.equal(loadNativeBackend({ threads: 1 })!.info().threads, 1);
  assert.throws(() => loadNativeBackend({ threads: 0 }), /threads/);
});

if (reason) {
  test('native backend conformance', { skip: reason }, () => {});
} else {
  const variants: ConformanceVariant[] = [];
  for (const isa of nativeInfo()!.available)
    for (const threads of [1, 2]) variants.push({ label: `${isa}, ${threads} thread${threads > 1 ? 's' : ''}`, make: () => loadNativeBackend({ threads, isa })! });
  backendConformance('native', variants);
}

// The suite checks itself: the oracle against itself must pass (catches broken tolerances/helpers).
backendConformance('js (self-check)', [{ label: 'oracle', make: () => new JsBackend() }]);
