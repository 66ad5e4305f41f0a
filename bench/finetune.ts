// LoRA vs full fine-tuning: training tokens/s and peak RSS, on the embedded default model and on
// the random-weight 110M synthetic shape (src/bench/synthetic.ts), 1 and 2 threads:
//   lora F32      LoRA over an F32 base
//   lora <type>   LoRA over the base kept in its stored type (QLoRA-style: Q8_0, Q4_0; and the
//                 default model's own F16), computed on the stored values (train_quant.c)
//   full          full fine-tuning (F32 weights, gradients and AdamW moments)
// Each configuration runs in its own child process, so the peak RSS (process.resourceUsage().maxRSS)
// is that configuration's alone; each runs --runs times (default 3), the runs of all
// configurations interleaved (a busy machine slows them alike), and the median is reported.
//   node dist/bench/finetune.js [--models default,110m] [--threads 1,2] [--bases f32,q8_0,q4_0] [--runs 3]
//                               [--steps N] [--seq-len T] [--backend native] [--json]
// Steps are timed after one warm-up step. Sequences are random token ids (speed does not depend on
// the data). The machine may be shared: figures are noisy; compare within one run of the bench.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSyntheticGguf } from '../src/bench/synthetic.js';
import { DType } from '../src/tensor/dtype.js';
import { loadModel } from '../src/model/load.js';
import { convertModel } from '../src/model/convert.js';
import type { FileTypeName } from '../src/model/quant-mix.js';
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
  /** size of the model file the run loaded */
  fileMb: number;
  trainable: number;
  tokensPerSecond: number;
  peakRssMb: number;
}

interface Summary extends Row {
  runs: number;
  /** every run's tokens/s and peak RSS, in run order */
  tokensPerSecondRuns: number[];
  peakRssMbRuns: number[];
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

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
    model: label, mode, threads, base: mode === 'lora' ? base : 'F32', fileMb: statSync(path).size / 2 ** 20,
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
  const bases = arg('bases', 'f32,q8_0,q4_0').split(',') as FileTypeName[];
  const runs = Number(arg('runs', '3'));
  const json = process.argv.includes('--json');
  const tmp = mkdtempSync(join(tmpdir(), 'bench-ft-'));
  interface Config { model: string; mode: 'lora' | 'full'; path: string; threads: number; steps: number }
  const configs: Config[] = [];
  try {
    for (const m of models) {
      // one file per base type; full fine-tuning starts from the F32 file
      const files = new Map<string, string>();
      let steps = Number(arg('steps', '0'));
      if (m === 'default') {
        const p = join(ROOT, 'models/default/model.gguf');
        if (!existsSync(p)) continue;
        files.set('stored', p);
        for (const b of new Set<FileTypeName>(['f32', ...bases])) {
          const out = join(tmp, `default-${b}.gguf`);
          await convertModel(p, out, { type: b });
          files.set(b, out);
        }
        steps ||= 8;
      } else {
        for (const b of new Set<FileTypeName>(['f32', ...bases])) {
          const out = join(tmp, `${m}-${b}.gguf`);
          const type = ({ f32: DType.F32, f16: DType.F16, q8_0: DType.Q8_0, q4_0: DType.Q4_0, q4_k: DType.Q4_K, q6_k: DType.Q6_K } as Record<string, DType>)[b];
          if (type === undefined) throw new Error(`--bases: ${b} is not a synthetic type`);
          writeSyntheticGguf(out, m, type);
          files.set(b, out);
        }
        steps ||= 2;
      }
      for (const threads of threadsList) {
        for (const [b, path] of files) configs.push({ model: m, mode: 'lora', path, threads, steps });
        configs.push({ model: m, mode: 'full', path: files.get('f32')!, threads, steps });
      }
    }
    const results = new Map<Config, Row[]>(configs.map((c) => [c, []]));
    for (let run = 0; run < runs; run++) {
      for (const c of configs) {
        const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--one', '--path', c.path, '--label', c.model, '--mode', c.mode, '--threads', String(c.threads), '--steps', String(c.steps), '--seq-len', arg('seq-len', '128'), '--backend', arg('backend', 'auto')], { encoding: 'utf8', maxBuffer: 1 << 24 });
        if (r.status !== 0) {
          // a crash (at exit too) fails the bench; the other configurations still run and report
          process.stderr.write(`${c.model} ${c.mode} ${c.threads}t failed (${r.signal ?? r.status}): ${r.stderr}\n`);
          process.exitCode = 1;
          continue;
        }
        const row = JSON.parse(r.stdout.trim().split('\n').pop()!) as Row;
        results.get(c)!.push(row);
        process.stderr.write(`run ${run + 1}/${runs}  ${row.model.padEnd(8)} ${row.mode.padEnd(5)} base ${row.base.padEnd(5)} ${c.threads}t  trainable ${row.trainable.toLocaleString('en-US').padStart(12)}  ${row.tokensPerSecond.toFixed(0).padStart(6)} tok/s  peak RSS ${row.peakRssMb.toFixed(0)} MB\n`);
      }
    }
    const rows: Summary[] = [];
    for (const c of configs) {
      const rs = results.get(c)!;
      if (rs.length === 0) continue;
      const tps = rs.map((r) => r.tokensPerSecond), rss = rs.map((r) => r.peakRssMb);
      rows.push({ ...rs[0]!, tokensPerSecond: median(tps), peakRssMb: median(rss), runs: rs.length, tokensPerSecondRuns: tps, peakRssMbRuns: rss });
    }
    if (json) process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
    else {
      process.stdout.write(`median of ${runs} runs; ${arg('seq-len', '128')}-token sequences\n`);
      process.stdout.write('| model | mode | base | threads | file (MB) | trainable params | tokens/s | peak RSS (MB) |\n|---|---|---|---:|---:|---:|---:|---:|\n');
      for (const r of rows) process.stdout.write(`| ${r.model} | ${r.mode} | ${r.base} | ${r.threads} | ${r.fileMb.toFixed(1)} | ${r.trainable.toLocaleString('en-US')} | ${r.tokensPerSecond.toFixed(0)} | ${r.peakRssMb.toFixed(0)} |\n`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
