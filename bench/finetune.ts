// LoRA vs full fine-tuning: training tokens/s and peak RSS, on the embedded default model and on
// the random-weight 110M synthetic shape (src/bench/synthetic.ts; Q8_0 base for LoRA = QLoRA-style,
// F32 for full), 1 and 2 threads. Each configuration runs in its own child process, so the peak RSS
// (process.resourceUsage().maxRSS) is that configuration's alone.
//   node dist/bench/finetune.js [--models default,110m] [--threads 1,2] [--steps N] [--seq-len T] [--backend native] [--json]
// Steps are timed after one warm-up step. Sequences are random token ids (speed does not depend on
// the data). The machine may be shared: figures are noisy.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSyntheticGguf } from '../src/bench/synthetic.js';
import { DType } from '../src/tensor/dtype.js';
import { loadModel } from '../src/model/load.js';
import { selectTrainingBackend } from '../src/backend/select.js';
import { createTrainingModel, lossAndGrad } from '../src/train/model.js';
import { AdamW, ADAMW_DEFAULTS } from '../src/train/optimizer.js';
import { createLoraTrainingModel, LORA_TRAIN_DEFAULTS } from '../src/finetune/lora-train.js';
import { f32Weights } from '../src/finetune/merge.js';
import { Rng } from '../src/train/rng.js';

const here = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(here, '../..');

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

interface Row {
  model: string;
  mode: 'lora' | 'full';
  threads: number;
  base: string;
  trainable: number;
  tokensPerSecond: number;
  peakRssMb: number;
}

async function one(path: string, label: string, mode: 'lora' | 'full', threads: number, steps: number, seqLen: number, backendName: string): Promise<Row> {
  const loaded = await loadModel(path);
  const backend = await selectTrainingBackend(backendName, threads);
  const tm = mode === 'lora'
    ? createLoraTrainingModel(loaded.config, loaded.weights, backend, { ...LORA_TRAIN_DEFAULTS, dropout: 0 })
    : createTrainingModel(loaded.config, f32Weights(loaded.weights), backend);
  const opt = new AdamW(backend, tm.params, ADAMW_DEFAULTS);
  const rng = new Rng(1);
  const session = tm.model.newSession({ ctxSize: seqLen });
  const grads = new Map();
  const step = () => {
    const seq = Array.from({ length: seqLen + 1 }, () => rng.int(loaded.config.vocabSize));
    lossAndGrad(tm, session, seq.slice(0, -1), seq.slice(1), 1 / seqLen, grads);
    opt.update(grads, 1e-4);
  };
  step(); // warm-up
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) step();
  const secs = (performance.now() - t0) / 1000;
  const base = [...new Set(loaded.weights.layers.map((l) => DType[l.wq.type]))].join('/');
  return {
    model: label, mode, threads, base: mode === 'lora' ? base : 'F32',
    trainable: tm.params.reduce((s, p) => s + p.values.length, 0),
    tokensPerSecond: (steps * seqLen) / secs,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
  };
}

async function main(): Promise<void> {
  if (process.argv.includes('--one')) {
    const row = await one(arg('path', ''), arg('label', ''), arg('mode', 'lora') as 'lora' | 'full', Number(arg('threads', '1')), Number(arg('steps', '3')), Number(arg('seq-len', '128')), arg('backend', 'auto'));
    process.stdout.write(JSON.stringify(row) + '\n');
    return;
  }
  const models = arg('models', 'default,110m').split(',');
  const threadsList = arg('threads', '1,2').split(',').map(Number);
  const json = process.argv.includes('--json');
  const tmp = mkdtempSync(join(tmpdir(), 'bench-ft-'));
  const rows: Row[] = [];
  try {
    for (const m of models) {
      const paths: Record<'lora' | 'full', string> = { lora: '', full: '' };
      let steps = Number(arg('steps', '0'));
      if (m === 'default') {
        const p = join(ROOT, 'models/default/model.gguf');
        if (!existsSync(p)) continue;
        paths.lora = paths.full = p;
        steps ||= 8;
      } else {
        // QLoRA-style: LoRA over a Q8_0 base; full fine-tuning needs F32 weights anyway
        paths.lora = join(tmp, `${m}-q8_0.gguf`);
        writeSyntheticGguf(paths.lora, m, DType.Q8_0);
        paths.full = join(tmp, `${m}-f32.gguf`);
        writeSyntheticGguf(paths.full, m, DType.F32);
        steps ||= 2;
      }
      for (const threads of threadsList) {
        for (const mode of ['lora', 'full'] as const) {
          const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--one', '--path', paths[mode], '--label', m, '--mode', mode, '--threads', String(threads), '--steps', String(steps), '--seq-len', arg('seq-len', '128'), '--backend', arg('backend', 'auto')], { encoding: 'utf8', maxBuffer: 1 << 24 });
          if (r.status !== 0) {
            process.stderr.write(`${m} ${mode} ${threads}t failed: ${r.stderr}\n`);
            continue;
          }
          const row = JSON.parse(r.stdout.trim().split('\n').pop()!) as Row;
          rows.push(row);
          if (!json) process.stderr.write(`${row.model.padEnd(8)} ${row.mode.padEnd(5)} base ${row.base.padEnd(5)} ${threads}t  trainable ${row.trainable.toLocaleString('en-US').padStart(12)}  ${row.tokensPerSecond.toFixed(0).padStart(6)} tok/s  peak RSS ${row.peakRssMb.toFixed(0)} MB\n`);
        }
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  if (json) process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
  else {
    process.stdout.write('| model | mode | base | threads | trainable params | tokens/s | peak RSS (MB) |\n|---|---|---|---:|---:|---:|---:|\n');
    for (const r of rows) process.stdout.write(`| ${r.model} | ${r.mode} | ${r.base} | ${r.threads} | ${r.trainable.toLocaleString('en-US')} | ${r.tokensPerSecond.toFixed(0)} | ${r.peakRssMb.toFixed(0)} |\n`);
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
