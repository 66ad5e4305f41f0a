// Model loading and conversion throughput on the files in ../shared/data.
//   npm run build && node dist/bench/loaders.js
// Prints one line per measurement: what, milliseconds, MB/s of weight bytes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertModel, type ConvertType } from '../src/model/convert.js';
import { loadModel } from '../src/model/load.js';
import { sharedData, HAVE_SHARED } from '../tests/helpers/shared.js';

async function time<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const r = await fn();
  return [r, performance.now() - t];
}

function line(what: string, ms: number, bytes: number): void {
  process.stdout.write(`${what.padEnd(52)} ${ms.toFixed(0).padStart(7)} ms  ${(bytes / 1e6 / (ms / 1000)).toFixed(1).padStart(7)} MB/s\n`);
}

async function main(): Promise<void> {
  if (!HAVE_SHARED) {
    process.stderr.write('bench/loaders: ../shared/data is absent; nothing to measure\n');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'llama-ts-bench-'));
  try {
    const src = sharedData('golden', 'quant', 'tiny-f32.gguf');
    const [m, loadMs] = await time(() => loadModel(src));
    line('loadModel tiny-f32.gguf (GGUF, 40 MB)', loadMs, m.weightBytes);
    for (const f of ['consolidated.00.pth', 'model.safetensors', 'model-f32.gguf']) {
      const p = sharedData('golden', 'llama2-gqa-tiny', f);
      const [g, ms] = await time(() => loadModel(p));
      line(`loadModel llama2-gqa-tiny/${f}`, ms, g.weightBytes);
    }
    for (const type of ['f16', 'q8_0', 'q4_0', 'q4_k', 'q6_k'] as ConvertType[]) {
      const [, ms] = await time(() => convertModel(src, join(dir, `${type}.gguf`), { type }));
      line(`convert tiny-f32.gguf --type ${type}`, ms, m.weightBytes);
    }
    const [, hfMs] = await time(() => convertModel(src, join(dir, 'hf')));
    line('convert tiny-f32.gguf -> HF safetensors (f32, q/k permuted)', hfMs, m.weightBytes);
    const [h, hfLoad] = await time(() => loadModel(join(dir, 'hf')));
    line('loadModel HF folder (q/k un-permuted)', hfLoad, h.weightBytes);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
