// Kernel micro-benchmark: matrix-vector products (decode) per weight type on the native backend,
// in GB/s of weight bytes, next to the streaming read bandwidth measured in the same run at the
// same thread count. Matrices are rotated (total well above the 32 MiB L3) so caches do not help.
// Also matrix-matrix (T = 128, prefill) in GFLOP/s against the measured FMA peak.
//
//   npm run build && node dist/bench/kernels.js [--threads 1,2] [--types f32,q8_0,...] [--reps 15] [--tune q6k=0]
//     [--shape 768x768] (a 110M matrix: rows x cols; default 11008x4096) [--no-mm] (matvec only)
import { loadNativeBackend, nativeUnavailableReason } from '../src/backend/native/index.js';
import { loadAddon } from '../src/backend/native/addon.js';
import { randomMatrixBytes } from '../src/bench/synthetic.js';
import { DType, dtypeName } from '../src/tensor/dtype.js';
import { quantize } from '../src/tensor/quant.js';
import { floatToBf16 } from '../src/tensor/f16.js';
import type { Weight } from '../src/backend/backend.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const TYPES: Record<string, DType> = { f32: DType.F32, f16: DType.F16, bf16: DType.BF16, q8_0: DType.Q8_0, q4_0: DType.Q4_0, q4_k: DType.Q4_K, q6_k: DType.Q6_K };

function weightBytes(type: DType, rows: number, cols: number): Uint8Array {
  if (type === DType.F32 || type === DType.F16 || type === DType.Q8_0 || type === DType.Q4_0) return randomMatrixBytes(type, rows, cols);
  if (type === DType.BF16) {
    const v = new Float32Array(rows * cols).map(() => (Math.random() - 0.5) / 32);
    return new Uint8Array(Uint16Array.from(v, floatToBf16).buffer);
  }
  // K-quants: quantize a few rows and tile them (quantizing 45M values in JS takes too long)
  const sample = new Float32Array(16 * cols).map(() => (Math.random() - 0.5) / 32);
  const q = quantize(type, sample, cols);
  const out = new Uint8Array((q.byteLength / 16) * rows);
  for (let r = 0; r < rows; r += 16) out.set(q.subarray(0, Math.min(16, rows - r) * (q.byteLength / 16)), r * (q.byteLength / 16));
  return out;
}

async function main(): Promise<void> {
  const probe = loadNativeBackend({ threads: 1 });
  if (!probe) {
    process.stderr.write(`native backend unavailable: ${nativeUnavailableReason()}\n`);
    process.exit(1);
  }
  // --tune knob=v,knob=v: the addon's A/B switches (setTuning, see common.h), e.g. --tune q6k=0
  const tune = arg('tune', '');
  const addon = loadAddon().addon as unknown as { setTuning(name: string, v: number): void };
  for (const kv of tune ? tune.split(',') : []) {
    const [k, v] = kv.split('=');
    addon.setTuning(k!, Number(v));
  }
  const threadsList = arg('threads', '1,2').split(',').map(Number);
  const types = arg('types', 'f32,f16,bf16,q8_0,q4_0,q4_k,q6_k').split(',');
  const reps = Number(arg('reps', '15'));
  const [rows, cols] = arg('shape', '11008x4096').split('x').map(Number) as [number, number]; // default: a 7B feed-forward matrix
  const withMatmul = !process.argv.includes('--no-mm');
  // The FMA peak of each vector width: on a core with double-pumped AVX-512 (Zen 4) the 512-bit and
  // 256-bit probes give the same FLOP/s; on one with full-width 512-bit pipes (Zen 5) twice as much.
  const widths = probe.info().available.filter((isa) => isa === 'avx512' || isa === 'avx2');
  if (widths.length) {
    const peaks = widths.map((isa) => {
      const be = loadNativeBackend({ threads: 1, isa })!;
      return `${isa} ${median([be.fmaPeak(), be.fmaPeak(), be.fmaPeak()]).toFixed(0)}`;
    });
    process.stdout.write(`f32 FMA peak at 1 thread by kernel path (GFLOP/s): ${peaks.join(', ')}\n`);
  }
  process.stdout.write(`matvec ${rows}x${cols} (rotating copies to exceed the caches), isa ${probe.info().isa}\n`);
  process.stdout.write('| type | threads | matvec GB/s | read limit GB/s | % of limit | matmul T=128 GFLOP/s | FMA peak | % of peak |\n|---|--:|--:|--:|--:|--:|--:|--:|\n');
  for (const name of types) {
    const type = TYPES[name];
    if (type === undefined) throw new Error(`unknown type ${name}`);
    const bytes = weightBytes(type, rows, cols);
    const copies = Math.max(2, Math.ceil(160e6 / bytes.byteLength));
    const ws: Weight[] = [];
    for (let i = 0; i < copies; i++) ws.push(probe.loadWeight({ name: `w${i}`, type, shape: [rows, cols], data: i === 0 ? bytes : bytes.slice() }));
    const x = new Float32Array(128 * cols).map(() => Math.random() - 0.5);
    const out = new Float32Array(128 * rows);
    for (const threads of threadsList) {
      const be = loadNativeBackend({ threads })!;
      for (const w of ws) be.matmul(out, x, w, 1); // warm-up
      const speeds: number[] = [];
      const limits: number[] = [median([...be.readBandwidth(512 << 20, 3)])];
      for (let r = 0; r < reps; r++) {
        const t0 = performance.now();
        for (const w of ws) be.matmul(out, x, w, 1);
        speeds.push((bytes.byteLength * ws.length) / ((performance.now() - t0) / 1000) / 1e9);
      }
      limits.push(median([...be.readBandwidth(512 << 20, 3)]));
      const gbs = median(speeds), limit = median(limits);
      let peak = NaN, gflops = NaN;
      if (withMatmul) {
        peak = Math.max(be.fmaPeak(), be.fmaPeak());
        const t0 = performance.now();
        be.matmul(out, x, ws[0]!, 128);
        gflops = (2 * rows * cols * 128) / ((performance.now() - t0) / 1000) / 1e9;
      }
      const mm = withMatmul ? `${gflops.toFixed(0)} | ${peak.toFixed(0)} | ${((100 * gflops) / peak).toFixed(0)}%` : '– | – | –'; // --no-mm: not measured
      process.stdout.write(`| ${dtypeName(type)} | ${threads} | ${gbs.toFixed(1)} | ${limit.toFixed(1)} | ${((100 * gbs) / limit).toFixed(0)}% | ${mm} |\n`);
    }
    for (const w of ws) probe.freeWeight(w);
  }
}

await main();
