// The native backend's repacked row layout (src/backend/native/c/common.h): each Q4_0 / Q4_K /
// Q6_K row's scales sit inside the row, before its codes, so a matvec reads one sequential stream
// (Q8_0 too, up to 128 blocks a row), and a Q4_K row's last group of at most 8 sub-blocks keeps 20
// bytes of metadata instead of 40. These tests pin the layout (so a silent fall-back to the
// two-array layout shows) and check that no kernel reads a neighbouring row's metadata: rows whose
// scales differ by orders of magnitude must each come out right, on every ISA path, at 1 and 2
// threads, for decode and prefill.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadNativeBackend, nativeUnavailableReason, nativeInfo } from '../src/backend/native/index.js';
import { loadAddon } from '../src/backend/native/addon.js';
import { rng } from './helpers/backend-conformance.js';
import { DType, dtypeName } from '../src/tensor/dtype.js';
import { dequantize, quantize } from '../src/tensor/quant.js';

const reason = nativeUnavailableReason();

function layout(w: object): { rowBytes: number; metaBytes: number; metaInRow: boolean; ownedBytes: number } {
  const addon = loadAddon().addon!;
  assert.ok(addon.weightLayout, 'the addon exports weightLayout');
  return addon.weightLayout(w);
}

test('native Q4_0 / Q4_K / Q6_K weights, and Q8_0 rows of up to 128 blocks, keep each row\'s scales inside the row; a short last Q4_K group takes 20 bytes', { skip: reason ?? false }, () => {
  const be = loadNativeBackend({ threads: 1 })!;
  const r = rng(3);
  // [type, cols, expected row bytes, expected metadata bytes]
  const cases: [DType, number, number, number][] = [
    [DType.Q4_K, 256, 128 + 20, 20], // one super-block: a short group only
    [DType.Q4_K, 512, 256 + 40, 40], // one whole group
    [DType.Q4_K, 768, 384 + 40 + 20, 60], // a whole group + a short one (a 110M model's rows)
    [DType.Q4_K, 1280, 640 + 80 + 20, 100],
    [DType.Q4_K, 4096, 2048 + 320, 320],
    [DType.Q6_K, 768, 3 * 192 + 3 * 20, 60],
    [DType.Q6_K, 4096, 16 * 192 + 16 * 20, 320],
    // Q8_0 / Q4_0: binary16 scales zero padded to whole groups of 16 blocks
    [DType.Q8_0, 256, 256 + 32, 32],
    [DType.Q8_0, 768, 768 + 64, 64],
    [DType.Q8_0, 4096, 4096 + 256, 256],
    [DType.Q4_0, 768, 384 + 64, 64],
    [DType.Q4_0, 11008, 5504 + 704, 704],
  ];
  const rows = 5;
  for (const [type, cols, rowBytes, metaBytes] of cases) {
    const data = quantize(type, new Float32Array(rows * cols).map(() => r() * 2 - 1), cols);
    const w = be.loadWeight({ name: 'w', type, shape: [rows, cols], data });
    const l = layout((w as unknown as { handle: object }).handle);
    const label = `${dtypeName(type)} ${rows}x${cols}`;
    assert.equal(l.metaInRow, true, `${label}: scales inside the rows`);
    assert.equal(l.rowBytes, rowBytes, `${label}: bytes per row`);
    assert.equal(l.metaBytes, metaBytes, `${label}: scale bytes per row`);
    assert.equal(l.ownedBytes, rows * rowBytes, `${label}: one buffer of rows`);
    be.freeWeight(w);
  }
  // Q8_0 rows of more than 128 blocks keep their scales in a second array (measured faster there)
  const q8 = be.loadWeight({ name: 'q8', type: DType.Q8_0, shape: [rows, 11008], data: quantize(DType.Q8_0, new Float32Array(rows * 11008).map(() => r() * 2 - 1), 11008) });
  const l8 = layout((q8 as unknown as { handle: object }).handle);
  assert.equal(l8.metaInRow, false);
  assert.equal(l8.rowBytes, 344 * 32);
  assert.equal(l8.ownedBytes, rows * (344 * 32 + 352 * 2));
  be.freeWeight(q8);
});

test('native Q8_0 / Q4_0 / Q4_K / Q6_K rows with scales 1e-3..1e3 apart each match the dequantized product (no row reads its neighbour\'s metadata), every ISA path, 1 and 2 threads, T = 1, 3, 9', { skip: reason ?? false }, () => {
  const isas = nativeInfo()!.available;
  const r = rng(17);
  for (const type of [DType.Q8_0, DType.Q4_0, DType.Q4_K, DType.Q6_K]) {
    // 37 rows: not a multiple of 4 or 16 (the prefill tiles' and outer kernels' edges)
    // Q8_0 4608: more than 128 blocks a row, the layout with the scales apart
    for (const cols of type === DType.Q8_0 ? [256, 768, 1280, 2048, 4608] : [256, 768, 1280, 2048]) {
      const rows = 37;
      const v = new Float32Array(rows * cols);
      for (let i = 0; i < rows; i++) {
        const scale = 10 ** ((i % 7) - 3); // neighbours differ by 10x, the whole range by 1e6
        for (let c = 0; c < cols; c++) v[i * cols + c] = (r() * 2 - 1) * scale;
      }
      const data = quantize(type, v, cols);
      const wf = dequantize(type, data, rows * cols);
      for (const T of [1, 3, 9]) {
        const x = new Float32Array(T * cols).map(() => r() * 2 - 1);
        for (const isa of isas) {
          for (const threads of [1, 2]) {
            const be = loadNativeBackend({ threads, isa })!;
            const w = be.loadWeight({ name: 'w', type, shape: [rows, cols], data });
            const out = new Float32Array(T * rows).fill(NaN);
            be.matmul(out, x, w, T);
            for (let t = 0; t < T; t++)
              for (let o = 0; o < rows; o++) {
                let want = 0, mag = 0;
                for (let c = 0; c < cols; c++) {
                  want += wf[o * cols + c]! * x[t * cols + c]!;
                  mag += Math.abs(wf[o * cols + c]! * x[t * cols + c]!);
                }
                // int8 activations per 32 values: at most half a step (amax/254) per term, so
                // well under 1% of Σ|w·x|; a neighbour's scale would be off by 10x or more
                const got = out[t * rows + o]!;
                if (!(Math.abs(got - want) <= 0.01 * mag)) assert.fail(`${dtypeName(type)} ${rows}x${cols} ${isa} ${threads}T T=${T} out[${t},${o}]: ${got} vs ${want} (Σ|wx| ${mag})`);
              }
            be.freeWeight(w);
          }
        }
      }
    }
  }
});

// (not a K-quant matter, but the same round's decode work: src/backend/native/c/ops.c caches the
// last position's cos/sin table for single-token rope calls)
test('native rope: the single-token cos/sin cache gives the bits of the uncached (multi-token) path, and recomputes on a new position or changed frequencies', { skip: reason ?? false }, () => {
  const be = loadNativeBackend({ threads: 1 })!;
  const r = rng(29);
  const nh = 3, hd = 64, half = hd / 2;
  const inv = new Float32Array(half).map((_, i) => Math.pow(10000, (-2 * i) / hd));
  const check = (pos: number, label: string) => {
    const x = new Float32Array(nh * hd).map(() => r() * 2 - 1);
    const one = Float32Array.from(x);
    be.rope(one, 1, nh, hd, Int32Array.of(pos), inv); // cached path
    const two = new Float32Array(2 * nh * hd);
    two.set(x, 0);
    two.set(x, nh * hd);
    be.rope(two, 2, nh, hd, Int32Array.of(pos, pos), inv); // computed per call
    for (let i = 0; i < nh * hd; i++) if (one[i] !== two[i]) assert.fail(`${label}: x[${i}] ${one[i]} vs ${two[i]}`);
  };
  check(7, 'first call at 7');
  check(7, 'second call at 7 (a cache hit)');
  check(8, 'a new position');
  // the same buffer with other values: the cache is keyed by values, not by address
  for (let i = 0; i < half; i++) inv[i] = Math.pow(500000, (-2 * i) / hd);
  check(8, 'changed frequencies at the same position');
  check(123456, 'a large position');
});
