// The wasm backend against native and the machine's read bandwidth, in one process run:
// decode (tg) and prefill (pp) tok/s through the real forward pass (src/bench/llama-bench.ts, the
// engine of `llama bench`), on the 110M synthetic Q8_0 and F32 models and the default model.
// The limits (read bandwidth for tg, FMA peak for pp) are measured with the native addon's probes
// right before every repetition, at the same thread count.
//   node dist/bench/wasm.js [--threads 1[,2]] [-p 64] [-n 32] [-r 3] [--json]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { formatTable, runBench, type BenchResult } from '../src/bench/llama-bench.js';
import { writeSyntheticGguf } from '../src/bench/synthetic.js';
import { loadModel } from '../src/model/load.js';
import { DType } from '../src/tensor/dtype.js';
import { nativeUnavailableReason } from '../src/backend/native/index.js';

const { values } = parseArgs({
  options: {
    threads: { type: 'string', default: '1' },
    p: { type: 'string', default: '64' },
    n: { type: 'string', default: '32' },
    r: { type: 'string', default: '3' },
    json: { type: 'boolean', default: false },
  },
});
const threads = values.threads!.split(',').map(Number);
const prompt = Number(values.p), gen = Number(values.n), reps = Number(values.r);
const log = (line: string) => process.stderr.write(line + '\n');
const root = fileURLToPath(new URL('../../', import.meta.url));
const backends = nativeUnavailableReason() ? ['wasm'] : ['native', 'wasm'];

const dir = mkdtempSync(join(tmpdir(), 'bench-wasm-'));
const all: BenchResult[] = [];
try {
  const models: [string, string][] = [];
  for (const [name, type] of [['q8_0', DType.Q8_0], ['f32', DType.F32]] as const) {
    const path = join(dir, `synthetic-110m-${name}.gguf`);
    log(`writing the 110m ${name} synthetic model...`);
    writeSyntheticGguf(path, '110m', type);
    models.push([`synthetic-110m`, path]);
  }
  models.push(['default', join(root, 'models', 'default', 'model.gguf')]);
  for (const [label, path] of models)
    for (const backend of backends) {
      const holder = { loaded: await loadModel(path) };
      all.push(...(await runBench(holder, { prompt, gen, threads, reps, backend, modelName: label, log })));
    }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

if (values.json) process.stdout.write(JSON.stringify(all, null, 2) + '\n');
else {
  process.stdout.write(formatTable(all));
  // wasm as a fraction of native, per model, type, test and thread count
  process.stdout.write('\n| model | type | test | threads | wasm / native |\n|---|---|---|--:|--:|\n');
  for (const w of all.filter((r) => r.backend === 'wasm')) {
    const n = all.find((r) => r.backend.startsWith('native') && r.model === w.model && r.type === w.type && r.test === w.test && r.threads === w.threads);
    if (n) process.stdout.write(`| ${w.model} | ${w.type} | ${w.test} | ${w.threads} | ${(w.tokens_per_second / n.tokens_per_second).toFixed(2)}x |\n`);
  }
}
