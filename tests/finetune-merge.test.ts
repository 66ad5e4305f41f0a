// Adapters applied at run time vs merged into the weights (`llama export --merge-lora`): the
// logits agree within float rounding; `llama run --lora` uses the adapter; the `llama finetune`
// command runs end to end (LoRA and --full) and rejects contradictory flags.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../src/model/load.js';
import { LlamaModel } from '../src/model/llama.js';
import { attachLora, type LoraAdapter } from '../src/model/lora.js';
import { writeLoraGguf, writeLoraPeft } from '../src/model/lora-io.js';
import { JsBackend } from '../src/backend/js/js-backend.js';
import { Rng } from '../src/train/rng.js';
import { REPO_ROOT } from './helpers/shared.js';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';

const BASE = join(REPO_ROOT, 'models/default/model.gguf');
const skip = existsSync(BASE) ? false : 'models/default/model.gguf is absent';
const IDS = [1, 415, 263, 931, 727, 29892, 12, 99];

function randomAdapter(c: { nLayers: number; dim: number; nHeads: number; nKvHeads: number; headDim: number; ffnDim: number }, seed: number): LoraAdapter {
  const rng = new Rng(seed);
  const rand = (n: number, s: number) => Float32Array.from({ length: n }, () => rng.normal() * s);
  const r = 4;
  const q = c.nHeads * c.headDim, kv = c.nKvHeads * c.headDim;
  const shapes = { wq: [q, c.dim], wk: [kv, c.dim], wv: [kv, c.dim], wo: [c.dim, q], w1: [c.ffnDim, c.dim], w2: [c.dim, c.ffnDim], w3: [c.ffnDim, c.dim] } as const;
  const pairs = [];
  for (let l = 0; l < c.nLayers; l++) {
    for (const key of ['wq', 'wk', 'wv', 'wo', 'w1', 'w2', 'w3'] as const) {
      const [rows, cols] = shapes[key];
      pairs.push({ layer: l, key, rank: r, rows, cols, a: rand(r * cols, 0.1), b: rand(rows * r, 0.1) });
    }
  }
  return { source: 'random', alpha: 8, pairs };
}

async function logitsOf(path: string, adapters: { adapter: LoraAdapter; scale: number }[] = []): Promise<Float32Array> {
  const loaded = await loadModel(path);
  try {
    const be = new JsBackend();
    const base = await LlamaModel.create(loaded, be);
    const m = adapters.length ? attachLora(base, adapters) : base;
    return Float32Array.from(m.forward(m.newSession({ ctxSize: 16 }), IDS.map((i) => i % base.config.vocabSize), { allLogits: true }));
  } finally {
    loaded.close();
  }
}

function maxDiff(a: Float32Array, b: Float32Array): { diff: number; scale: number } {
  assert.equal(a.length, b.length);
  let diff = 0, scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(a[i]!));
  }
  return { diff, scale };
}

test('merged (llama export --merge-lora) and run-time adapter logits agree within float rounding, GGUF and PEFT adapters', { skip }, async () => {
  const dir = tempDir('ft-merge-');
  const loaded = await loadModel(BASE);
  const config = loaded.config;
  loaded.close();
  const adapter = randomAdapter(config, 5);
  const gguf = join(dir, 'a.gguf');
  writeLoraGguf(gguf, adapter);
  const peft = join(dir, 'peft');
  writeLoraPeft(peft, adapter, config);
  const base = await logitsOf(BASE);
  for (const [spec, path, scale] of [[gguf, gguf, 1], [`${peft}:0.5`, peft, 0.5]] as const) {
    const out = join(dir, `merged-${scale}.gguf`);
    const r = runCli(['export', BASE, '--merge-lora', spec, '-o', out]);
    assert.equal(r.status, 0, r.stderr);
    const runtime = await logitsOf(BASE, [{ adapter, scale }]);
    const merged = await logitsOf(out);
    const changed = maxDiff(runtime, base);
    assert.ok(changed.diff > 1e-2, `the adapter changes the logits (by ${changed.diff})`);
    const { diff, scale: s } = maxDiff(runtime, merged);
    assert.ok(diff <= 1e-4 * Math.max(1, s), `${spec}: merged vs run-time logits differ by ${diff} (max |logit| ${s})`);
  }
});

test('llama run --lora generates with the adapter (as the merged model does)', { skip }, async () => {
  const dir = tempDir('ft-run-');
  const loaded = await loadModel(BASE);
  const config = loaded.config;
  loaded.close();
  const gguf = join(dir, 'a.gguf');
  writeLoraGguf(gguf, randomAdapter(config, 9));
  const merged = join(dir, 'merged.gguf');
  assert.equal(runCli(['export', BASE, '--merge-lora', gguf, '-o', merged]).status, 0);
  const gen = (args: string[]) => runCli(['run', ...args, '-p', 'Once upon a time', '-n', '12', '--temp', '0', '--backend', 'js']);
  const plain = gen(['-m', BASE]);
  const withLora = gen(['-m', BASE, '--lora', gguf]);
  const fromMerged = gen(['-m', merged]);
  for (const r of [plain, withLora, fromMerged]) assert.equal(r.status, 0, r.stderr);
  assert.notEqual(withLora.stdout, plain.stdout);
  assert.equal(withLora.stdout, fromMerged.stdout);
  // scale 0 is the base model
  assert.equal(gen(['-m', BASE, '--lora', `${gguf}:0`]).stdout, plain.stdout);
});

test('llama finetune runs end to end (LoRA and --full) and refuses contradictory flags', { skip }, () => {
  const dir = tempDir('ft-cli-');
  const data = join(dir, 'd.json');
  writeFileSync(data, JSON.stringify(Array.from({ length: 12 }, (_, i) => ({ instruction: `Count to ${i % 5 + 1}.`, input: '', output: Array.from({ length: i % 5 + 1 }, (_, j) => j + 1).join(' ') }))));
  const lora = runCli(['finetune', '--base', BASE, '--data', data, '--steps', '2', '--batch', '2', '--seq-len', '64', '-o', join(dir, 'lora')]);
  assert.equal(lora.status, 0, lora.stderr);
  const res = JSON.parse(lora.stdout) as { step: number; outputs: string[]; valLoss: number };
  assert.equal(res.step, 2);
  assert.ok(Number.isFinite(res.valLoss));
  for (const f of ['adapter.gguf', 'adapter/adapter_model.safetensors', 'adapter/adapter_config.json', 'log.jsonl', 'finetune-checkpoint.bin']) assert.ok(existsSync(join(dir, 'lora', f)), f);
  assert.equal(runCli(['plot', join(dir, 'lora', 'log.jsonl'), '-o', join(dir, 'loss.svg')]).status, 0);
  assert.match(readFileSync(join(dir, 'loss.svg'), 'utf8'), /<svg/);
  const full = runCli(['finetune', '--base', BASE, '--data', data, '--full', '--steps', '1', '--batch', '2', '--seq-len', '64', '-o', join(dir, 'full')]);
  assert.equal(full.status, 0, full.stderr);
  const m = runCli(['run', '-m', join(dir, 'full', 'model.gguf'), '-p', 'Count', '-n', '3', '--temp', '0']);
  assert.equal(m.status, 0, m.stderr);
  const bad = runCli(['finetune', '--base', BASE, '--data', data, '--full', '--lora-r', '4', '-o', join(dir, 'x')]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--full/);
});
