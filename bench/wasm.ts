// The wasm backend against native and the machine's read bandwidth, in one process run:
// decode (tg) and prefill (pp) tok/s through the real forward pass (src/bench/llama-bench.ts, the
// engine of `llama bench`), on the 110M synthetic Q8_0 and F32 models and the default model.
//
// Limits, measured in this run:
//  - native's read bandwidth (tg) and FMA peak (pp), at the same thread count, right before every
//    repetition (runBench);
//  - wasm's own streaming read bandwidth (a SIMD sum over 256 MiB of the module's memory, one
//    thread), right before every wasm round: what a wasm engine can stream may be below native's.
// The machine is shared, so native and wasm alternate: every round runs both backends on a model
// (the order flips each round), and a figure is the median over rounds of each round's median.
//   node dist/bench/wasm.js [--threads 1[,2]] [-p 64] [-n 32] [-r 3] [--rounds 3]
//                           [--models q8_0,f32,default] [--json]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { median, runBench, type BenchResult } from '../src/bench/llama-bench.js';
import { writeSyntheticGguf } from '../src/bench/synthetic.js';
import { loadModel } from '../src/model/load.js';
import { DType } from '../src/tensor/dtype.js';
import { nativeUnavailableReason } from '../src/backend/native/index.js';
import { loadWasmBackend } from '../src/backend/wasm/index.js';

const USAGE = 'usage: node dist/bench/wasm.js [--threads 1[,2]] [-p 64] [-n 32] [-r 3] [--rounds 3] [--models q8_0,f32,default] [--json]';
let parsed;
try {
  parsed = parseArgs({
  options: {
    help: { type: 'boolean', short: 'h', default: false },
    threads: { type: 'string', default: '1' },
    p: { type: 'string', default: '64' },
    n: { type: 'string', default: '32' },
    r: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    models: { type: 'string', default: 'q8_0,f32,default' },
    json: { type: 'boolean', default: false },
  },
  });
} catch (e) {
  process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
  process.exit(2);
}
const { values } = parsed;
if (values.help) {
  process.stdout.write(USAGE + '\n');
  process.exit(0);
}
const threads = values.threads!.split(',').map(Number);
const prompt = Number(values.p), gen = Number(values.n), reps = Number(values.r), rounds = Number(values.rounds);
const wanted = values.models!.split(',');
const log = (line: string) => process.stderr.write(line + '\n');
const root = fileURLToPath(new URL('../../', import.meta.url));
const backends = nativeUnavailableReason() ? ['wasm'] : ['native', 'wasm'];

/** wasm's own streaming read bandwidth on one thread (GB/s, median of 3 passes over 256 MiB) */
function wasmStream(): number {
  return median([...loadWasmBackend({ threads: 1 })!.readBandwidth(256 * 1024 * 1024, 3)]);
}

interface Row {
  model: string;
  type: string;
  backend: string;
  threads: number;
  test: string;
  /** per round */
  tps: number[];
  limit: number[];
  percent: number[];
  /** tg: weight GB/s per round */
  gbs: number[];
  /** wasm tg: wasm's own stream (GB/s) measured before the round */
  wasmLimit: number[];
}

const dir = mkdtempSync(join(tmpdir(), 'bench-wasm-'));
const rows = new Map<string, Row>();
const raw: (BenchResult & { round: number; wasm_stream_gbs: number | null })[] = [];
try {
  const models: [string, string][] = [];
  for (const [name, type] of [['q8_0', DType.Q8_0], ['f32', DType.F32]] as const) {
    if (!wanted.includes(name)) continue;
    const path = join(dir, `synthetic-110m-${name}.gguf`);
    log(`writing the 110m ${name} synthetic model...`);
    writeSyntheticGguf(path, '110m', type);
    models.push([`synthetic-110m`, path]);
  }
  if (wanted.includes('default')) models.push(['default', join(root, 'models', 'default', 'model.gguf')]);
  for (const [label, path] of models)
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 ? [...backends].reverse() : backends;
      for (const backend of order) {
        const stream = backend === 'wasm' ? wasmStream() : null;
        if (stream !== null) log(`wasm stream: ${stream.toFixed(1)} GB/s`);
        const holder = { loaded: await loadModel(path) };
        for (const r of await runBench(holder, { prompt, gen, threads, reps, backend, modelName: label, log })) {
          raw.push({ ...r, round, wasm_stream_gbs: stream });
          const kind = r.backend.startsWith('native') ? 'native' : r.backend;
          const key = [r.model, r.type, kind, r.threads, r.test].join('|');
          let row = rows.get(key);
          if (!row) rows.set(key, (row = { model: r.model, type: r.type, backend: r.backend, threads: r.threads, test: r.test, tps: [], limit: [], percent: [], gbs: [], wasmLimit: [] }));
          row.tps.push(r.tokens_per_second);
          if (r.percent_of_limit !== null) row.percent.push(r.percent_of_limit);
          const lim = r.limit_gbs ?? r.peak_gflops;
          if (lim !== null) row.limit.push(lim);
          if (r.gbs !== null) row.gbs.push(r.gbs);
          if (stream !== null && r.gbs !== null) row.wasmLimit.push(stream);
        }
        if (backend === 'wasm' && threads.some((t) => t > 1)) {
          // the thread pool's counters so far (shared by every wasm backend of the process)
          const i = loadWasmBackend({ threads: 1 })!.info();
          log(`wasm pool so far: ${i.splitMatmuls} split matmuls, ${i.workerJobs} worker shares, ${i.takenBack} taken back, ${i.backOffs} back-offs, ${i.workerSleeps} worker sleeps`);
        }
      }
    }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const med = (xs: number[]) => (xs.length ? median(xs) : NaN);
const fmt = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '');
if (values.json) process.stdout.write(JSON.stringify(raw, null, 2) + '\n');
else {
  const all = [...rows.values()];
  const out: string[] = [];
  out.push(`rounds: ${rounds} (native and wasm alternating), ${reps} repetitions each; figures are medians over rounds`);
  out.push('');
  out.push('| model | type | test | threads | backend | tok/s (median) | min | max | weights GB/s | native limit | % of native limit | wasm stream GB/s | % of wasm stream | wasm / native |');
  out.push('|---|---|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
  for (const r of all) {
    const tps = med(r.tps);
    const tg = r.test.startsWith('tg');
    const native = all.find((n) => n.backend.startsWith('native') && n.model === r.model && n.type === r.type && n.test === r.test && n.threads === r.threads);
    const wasmLim = med(r.wasmLimit);
    out.push(
      `| ${r.model} | ${r.type} | ${r.test} | ${r.threads} | ${r.backend} | ${fmt(tps, 2)} | ${fmt(Math.min(...r.tps), 2)} | ${fmt(Math.max(...r.tps), 2)} | ${tg ? fmt(med(r.gbs)) : ''} | ` +
        `${fmt(med(r.limit))}${tg ? ' GB/s' : ' GFLOP/s'} | ${fmt(med(r.percent))}% | ${tg ? fmt(wasmLim) : ''} | ${tg && Number.isFinite(wasmLim) ? fmt((100 * med(r.gbs)) / wasmLim) + '%' : ''} | ` +
        `${r.backend === 'wasm' && native ? (tps / med(native.tps)).toFixed(2) + 'x' : ''} |`,
    );
  }
  out.push('');
  out.push('wasm stream: one thread (at 2 threads the native limit is the one given).');
  process.stdout.write(out.join('\n') + '\n');
}
