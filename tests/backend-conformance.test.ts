// Runs the shared conformance suite (tests/helpers/backend-conformance.ts) on the native backend:
// every kernel path this CPU can run (avx512 / avx2 / scalar, or neon) at 1 and 2 threads, and
// proves that the fastest path is the one selected by default.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { mapFileRange } from '../src/formats/mmap.js';
import { loadNativeBackend, nativeInfo, nativeUnavailableReason } from '../src/backend/native/index.js';
import { backendConformance, rng, type ConformanceVariant } from './helpers/backend-conformance.js';
import { DType } from '../src/tensor/dtype.js';
import { dequantize, quantize } from '../src/tensor/quant.js';
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

test('native thread pool: thousands of dispatches and thread-count switches give the 1-thread results exactly', { skip: reason ?? false }, () => {
  // Rows are computed independently, so any split over threads must reproduce the 1-thread bits
  // of the same call (the same T: decode sums a row in another order than the prefill tiles).
  const rows = 203, cols = 64;
  const w = new Float32Array(rows * cols).map((_, i) => Math.sin(i));
  const t = { name: 'w', type: 0, shape: [rows, cols], data: new Uint8Array(w.buffer) } as const;
  const one = loadNativeBackend({ threads: 1 })!;
  const two = loadNativeBackend({ threads: 2 })!;
  const w1 = one.loadWeight(t), w2 = two.loadWeight(t);
  const x = new Float32Array(3 * cols).map((_, i) => Math.cos(i));
  const wants = [1, 2, 3].map((T) => {
    const o = new Float32Array(T * rows);
    one.matmul(o, x, w1, T);
    return o;
  });
  const got = new Float32Array(3 * rows);
  for (let i = 0; i < 3000; i++) {
    const be = i % 500 === 499 ? one : two; // switch the pool size now and then
    const T = 1 + (i % 3), want = wants[T - 1]!;
    got.fill(NaN);
    be.matmul(got, x, be === one ? w1 : w2, T);
    for (let k = 0; k < T * rows; k++) if (got[k] !== want[k]) assert.fail(`dispatch ${i}: out[${k}] ${got[k]} != ${want[k]}`);
  }
});

test('native weight arena: weights of 64 KiB..4 MiB share huge-page chunks; freeing and reloading others keeps every result', { skip: reason ?? false }, () => {
  // 96 x 1024 Q8_0 repacks to ~100 KB (in the arena); 1200 x 2048 to ~2.5 MB, 13 per 32 MiB
  // chunk, so 30 of them (loaded twice) span several chunks and free/reuse crosses chunk limits.
  const be = loadNativeBackend({ threads: 2 })!;
  const oracle = new JsBackend();
  const r = rng(7);
  for (const [rows, cols, count] of [[96, 1024, 6], [1200, 2048, 30]] as const) {
    const distinct = Array.from({ length: 3 }, () => quantize(DType.Q8_0, new Float32Array(rows * cols).map(() => r() * 2 - 1), cols));
    const tensors = Array.from({ length: count }, (_, i) => ({ name: `w${i}`, type: DType.Q8_0, shape: [rows, cols], data: distinct[i % 3]! }) as const);
    const x = new Float32Array(cols).map(() => r() * 2 - 1);
    const want = tensors.map((t) => {
      const o = new Float32Array(rows);
      be.matmul(o, x, be.loadWeight(t), 1); // reference bits (these weights are never freed here)
      return o;
    });
    const live = tensors.map((t) => be.loadWeight(t));
    for (let round = 0; round < 3; round++) {
      // free every other weight, load them again (reusing or releasing arena chunks), recheck all
      for (let i = round % 2; i < count; i += 2) {
        be.freeWeight(live[i]!);
        live[i] = be.loadWeight(tensors[i]!);
      }
      for (let i = 0; i < count; i++) {
        const got = new Float32Array(rows).fill(NaN);
        be.matmul(got, x, live[i]!, 1);
        assert.deepEqual(got, want[i], `${rows}x${cols} weight ${i} after round ${round}`);
      }
    }
    // and the reference bits are right: weight 0 against the js oracle on the raw activations,
    // within the int8 activation rounding bound of the conformance suite (|x - d·q| <= d/2)
    const o = new Float32Array(rows);
    oracle.matmul(o, x, oracle.loadWeight(tensors[0]!), 1);
    const wf = dequantize(DType.Q8_0, tensors[0]!.data, rows * cols);
    for (let k = 0; k < rows; k++) {
      let bound = 1e-6;
      for (let b = 0; b < cols / 32; b++) {
        let amax = 0, wabs = 0;
        for (let c = 32 * b; c < 32 * b + 32; c++) {
          amax = Math.max(amax, Math.abs(x[c]!));
          wabs += Math.abs(wf[k * cols + c]!);
          bound += 2e-5 * Math.abs(wf[k * cols + c]! * x[c]!);
        }
        bound += (amax / 127 / 2) * wabs;
      }
      assert.ok(Math.abs(o[k]! - want[0]![k]!) <= bound, `${rows}x${cols} out[${k}]: ${want[0]![k]} vs ${o[k]} (bound ${bound})`);
    }
  }
});

test('native loadWeight: a copy by default (later changes to the bytes are not seen), inPlace reads the caller\'s F32 values on every use', { skip: reason ?? false }, () => {
  const be = loadNativeBackend({ threads: 1 })!;
  const rows = 3, cols = 40;
  const values = new Float32Array(rows * cols).map((_, i) => Math.sin(i));
  const t = { name: 'w', type: DType.F32, shape: [rows, cols], data: new Uint8Array(values.buffer) } as const;
  const copied = be.loadWeight(t), inPlace = be.loadWeight(t, { inPlace: true });
  const x = new Float32Array(cols).fill(1);
  const before = new Float32Array(rows), a = new Float32Array(rows), b = new Float32Array(rows);
  be.matmul(before, x, copied, 1);
  values.fill(0); // an optimizer step, say
  be.matmul(a, x, copied, 1);
  be.matmul(b, x, inPlace, 1);
  assert.deepEqual(a, before);
  assert.deepEqual(b, new Float32Array(rows));
  assert.throws(() => be.loadWeight({ ...t, type: DType.Q8_0, shape: [1, 32], data: new Uint8Array(34) }, { inPlace: true }), /in place/);
});

test('native loadWeight from a file mapping: the copy drops the mapped pages (weights resident once) and the view still reads the file\'s bytes', { skip: reason ?? (process.platform !== 'linux' ? 'resident memory is read from /proc (Linux)' : false) }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'mapped-'));
  const rows = 4096, cols = 4096; // 32 MiB of F16
  const bytes = new Uint8Array(rows * cols * 2);
  for (let i = 0; i < bytes.length; i += 2) bytes[i + 1] = 0x3c - ((i >> 1) % 3); // 1, 0.875, 0.75, ...
  writeFileSync(join(dir, 'w.bin'), bytes);
  const hash = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
  const want = hash(bytes);
  const view = mapFileRange(join(dir, 'w.bin'), 0, bytes.length);
  if (!view) assert.fail('mmapRange returned nothing although the addon is built');
  const rssMiB = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 1024;
  assert.equal(hash(view), want); // touches every mapped page
  const before = rssMiB();
  const be = loadNativeBackend({ threads: 2 })!;
  const w = be.loadWeight({ name: 'w', type: DType.F16, shape: [rows, cols], data: view });
  const grown = rssMiB() - before;
  // the native copy adds 32 MiB and the dropped mapped pages give 32 back (without the drop: +32)
  assert.ok(grown < 16, `resident memory grew by ${grown.toFixed(1)} MiB for a 32 MiB weight`);
  assert.equal(hash(view), want, 'the view re-reads the file after its pages were dropped');
  const out = new Float32Array(rows), x = new Float32Array(cols).fill(1);
  be.matmul(out, x, w, 1);
  const row0 = dequantize(DType.F16, bytes.subarray(0, cols * 2), cols).reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(out[0]! - row0) < 1e-3 * row0, `${out[0]} vs ${row0}`);
  be.freeWeight(w);
  rmSync(dir, { recursive: true });
});
