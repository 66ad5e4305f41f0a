// Fine-tuning end to end on the embedded default model (models/default/model.gguf, F16): a short
// LoRA run lowers the held-out RESPONSE loss by >= 30%, a run stopped and resumed gives the same
// losses bit for bit, and the adapter written as GGUF and PEFT loads back with identical tensors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { finetune, type FinetuneOptions } from '../src/finetune/finetune.js';
import { trainedAdapter, type LoraTrainingModel } from '../src/finetune/lora-train.js';
import { readLoraAdapter } from '../src/model/lora-io.js';
import { tempDir } from './helpers/tmp.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BASE = join(ROOT, 'models/default/model.gguf');

// A small instruction task the 4-layer default model can learn in a few dozen steps: repeat a word
// three times. Held-out examples use the same words in other instructions, so the task (copying
// the word), not the examples, has to be learned.
const WORDS = ['cat', 'dog', 'sun', 'tree', 'ball', 'fish', 'bird', 'cake', 'milk', 'rain', 'boat', 'frog', 'hat', 'star', 'moon', 'book', 'cup', 'car', 'bed', 'toy'];
function writeTask(dir: string): string {
  const rows = [];
  for (const w of WORDS) {
    rows.push({ instruction: `Say the word "${w}" three times.`, input: '', output: `${w} ${w} ${w}` });
    rows.push({ instruction: `Repeat "${w}" three times.`, input: '', output: `${w} ${w} ${w}` });
    rows.push({ instruction: `Write "${w}" three times, please.`, input: '', output: `${w} ${w} ${w}` });
  }
  const path = join(dir, 'task.json');
  writeFileSync(path, JSON.stringify(rows));
  return path;
}

function options(dir: string, data: string, extra: Partial<FinetuneOptions> = {}): FinetuneOptions {
  return {
    base: BASE, data, outDir: dir, format: 'alpaca',
    lora: { rank: 8, alpha: 16, dropout: 0.05, targets: ['wq', 'wk', 'wv', 'wo', 'w1', 'w2', 'w3'], seed: 3 },
    steps: 40, lr: 3e-3, warmupSteps: 2, batch: 6, seqLen: 96, seed: 3, backend: 'auto', threads: 1,
    valFraction: 0.15, evalEvery: 1000, saveEvery: 1000,
    ...extra,
  };
}

const quiet = { log: () => {} };

test('a short LoRA fine-tune lowers the held-out response loss by at least 30%, and both adapter files hold the trained tensors', { skip: existsSync(BASE) ? false : 'models/default/model.gguf is absent' }, async () => {
  const dir = tempDir('ft-train-');
  const r = await finetune(options(dir, writeTask(dir)), quiet);
  assert.equal(r.step, 40);
  assert.ok(r.data.val.length >= 5);
  assert.ok(r.valLoss <= 0.7 * r.valLossBefore, `held-out response loss ${r.valLossBefore} -> ${r.valLoss}`);
  // the log `llama plot` reads
  const log = readFileSync(join(dir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; step: number });
  assert.equal(log.filter((l) => l.type === 'train').length, 40);
  assert.ok(log.some((l) => l.type === 'val' && l.step === 40));
  // the adapter files: GGUF and PEFT load back to the trained values exactly
  const trained = trainedAdapter(r.tm as LoraTrainingModel);
  assert.ok(trained.pairs.every((p) => p.b.some((x) => x !== 0)), 'B was trained');
  const fromGguf = readLoraAdapter(join(dir, 'adapter.gguf'), r.tm.config);
  const fromPeft = readLoraAdapter(join(dir, 'adapter'), r.tm.config);
  for (const loaded of [fromGguf, fromPeft]) {
    assert.equal(loaded.alpha, 16);
    assert.equal(loaded.pairs.length, trained.pairs.length);
    for (const p of trained.pairs) {
      const q = loaded.pairs.find((x) => x.layer === p.layer && x.key === p.key);
      assert.ok(q, `${loaded.source}: layer ${p.layer} ${p.key}`);
      assert.equal(q.rank, p.rank);
      assert.deepEqual(Array.from(q.a), Array.from(p.a), `${loaded.source}: A of ${p.layer}.${p.key}`);
      assert.deepEqual(Array.from(q.b), Array.from(p.b), `${loaded.source}: B of ${p.layer}.${p.key}`);
    }
  }
});

test('a fine-tune stopped and resumed gives bit-identical losses and adapter', { skip: existsSync(BASE) ? false : 'models/default/model.gguf is absent' }, async () => {
  const dir = tempDir('ft-resume-');
  const data = writeTask(dir);
  const short = { steps: 8, saveEvery: 3 };
  const whole = await finetune(options(join(dir, 'a'), data, short), quiet);
  const first = await finetune(options(join(dir, 'b'), data, short), { ...quiet, stopAfter: 5 });
  assert.equal(first.interrupted, true);
  assert.equal(first.step, 5);
  const rest = await finetune(options(join(dir, 'b'), data, short), quiet, true);
  assert.equal(rest.step, 8);
  assert.deepEqual(rest.losses, whole.losses);
  assert.equal(rest.valLoss, whole.valLoss);
  const a = trainedAdapter(whole.tm as LoraTrainingModel);
  const b = trainedAdapter(rest.tm as LoraTrainingModel);
  a.pairs.forEach((p, i) => {
    assert.deepEqual(Array.from(b.pairs[i]!.a), Array.from(p.a));
    assert.deepEqual(Array.from(b.pairs[i]!.b), Array.from(p.b));
  });
  // a resume with other settings is refused rather than silently diverging
  await assert.rejects(finetune(options(join(dir, 'b'), data, { ...short, lr: 1e-3 }), quiet, true), /other settings/);
});
