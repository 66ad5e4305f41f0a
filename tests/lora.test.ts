// LoRA adapters attached at run time: B = 0 changes nothing (bit for bit), run-time and merged
// logits agree, both file formats round-trip identical tensors, and PEFT's HF-order q/k rows are
// handled: merging a PEFT adapter by hand in HF space gives the same logits as applying it here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { needsShared, sharedData } from './helpers/shared.js';
import { tempDir } from './helpers/tmp.js';
import { fastBackends } from './helpers/backends.js';
import { loadModel } from '../src/model/load.js';
import { JsBackend } from '../src/backend/js/js-backend.js';
import type { Backend } from '../src/backend/backend.js';
import { LlamaModel } from '../src/model/llama.js';
import type { LlamaConfig } from '../src/model/config.js';
import { attachLora, mergeLora, parseLoraSpec, LORA_TARGET_KEYS, type LoraAdapter, type LoraPair, type LoraTargetKey } from '../src/model/lora.js';
import { readLoraAdapter, writeLoraGguf, writeLoraPeft, PEFT_WEIGHTS } from '../src/model/lora-io.js';
import { SafetensorsFile, writeSafetensors } from '../src/formats/safetensors.js';
import { asF32, f32Tensor, type HostTensor } from '../src/tensor/tensor.js';
import { gv, writeGguf } from '../src/formats/gguf-write.js';
import { LlamaError } from '../src/errors.js';

const GQA = 'golden/llama2-gqa-tiny';
const IDS = [1, 5, 9, 200, 31, 7, 64];

function shapeOf(c: LlamaConfig, key: LoraTargetKey): [number, number] {
  const q = c.nHeads * c.headDim;
  const kv = c.nKvHeads * c.headDim;
  return ({ wq: [q, c.dim], wk: [kv, c.dim], wv: [kv, c.dim], wo: [c.dim, q], w1: [c.ffnDim, c.dim], w2: [c.dim, c.ffnDim], w3: [c.ffnDim, c.dim] } as const)[key] as [number, number];
}

/** A deterministic adapter over every target of every layer (zeroB: the state training starts from). */
function makeAdapter(c: LlamaConfig, rank: number, opts: { zeroB?: boolean; seed?: number; alpha?: number } = {}): LoraAdapter {
  let s = opts.seed ?? 1;
  const rnd = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return ((s >>> 8) / (1 << 24) - 0.5) * 0.2;
  };
  const pairs: LoraPair[] = [];
  for (let layer = 0; layer < c.nLayers; layer++) {
    for (const key of LORA_TARGET_KEYS) {
      const [rows, cols] = shapeOf(c, key);
      const a = Float32Array.from({ length: rank * cols }, rnd);
      const b = Float32Array.from({ length: rows * rank }, () => (opts.zeroB ? 0 : rnd()));
      pairs.push({ layer, key, rank, rows, cols, a, b });
    }
  }
  return { source: 'test', alpha: opts.alpha ?? 2 * rank, pairs };
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

async function logitsOf(model: LlamaModel): Promise<Float32Array> {
  return model.forward(model.newSession({ ctxSize: 32 }), IDS, { allLogits: true });
}

async function backends(): Promise<Backend[]> {
  return [new JsBackend(), ...(await fastBackends())];
}

test('B = 0: logits with the adapter attached are bit-equal to the base model (js and native)', needsShared(GQA), async () => {
  const loaded = await loadModel(sharedData(GQA, 'model-f32.gguf'));
  for (const backend of await backends()) {
    const base = await LlamaModel.create(loaded, backend);
    const want = await logitsOf(base);
    const withLora = attachLora(base, [{ adapter: makeAdapter(base.config, 4, { zeroB: true }) }]);
    const got = await logitsOf(withLora);
    assert.deepEqual(got, want, `${backend.name}: B = 0 must not change a bit`);
    // and the base model itself is untouched by attaching
    assert.deepEqual(await logitsOf(base), want);
  }
});

test('run-time LoRA equals the merged model within float rounding; the scale multiplies the update', needsShared(GQA), async () => {
  const loaded = await loadModel(sharedData(GQA, 'model-f32.gguf'));
  const adapter = makeAdapter(loaded.config, 4, { seed: 7 });
  for (const backend of await backends()) {
    const base = await LlamaModel.create(loaded, backend);
    const baseLogits = await logitsOf(base);
    const runtime = await logitsOf(attachLora(base, [{ adapter, scale: 0.5 }]));
    const merged = await logitsOf(await LlamaModel.create({ ...loaded, weights: mergeLora(loaded.weights, loaded.config, [{ adapter, scale: 0.5 }]) }, backend));
    const d = maxDiff(runtime, merged);
    assert.ok(d < 1e-4, `${backend.name}: run-time vs merged max |diff| ${d}`);
    assert.ok(maxDiff(runtime, baseLogits) > 1e-3, 'the adapter must actually change the logits');
    // two half-scale copies of an adapter = one at full scale
    const twice = await logitsOf(attachLora(base, [{ adapter, scale: 0.5 }, { adapter, scale: 0.5 }]));
    const once = await logitsOf(attachLora(base, [{ adapter, scale: 1 }]));
    assert.ok(maxDiff(twice, once) < 1e-4);
  }
});

test('GGUF and PEFT adapters round-trip identical tensors', needsShared(GQA), async () => {
  const loaded = await loadModel(sharedData(GQA, 'model-f32.gguf'));
  const c = loaded.config;
  const adapter = makeAdapter(c, 3, { seed: 3, alpha: 5 });
  const dir = tempDir('lora-rt-');
  writeLoraGguf(join(dir, 'a.gguf'), adapter);
  writeLoraPeft(join(dir, 'peft'), adapter, c, { baseModel: 'tiny' });
  for (const path of [join(dir, 'a.gguf'), join(dir, 'peft'), join(dir, 'peft', PEFT_WEIGHTS)]) {
    const back = readLoraAdapter(path, c);
    assert.equal(back.alpha, 5, path);
    assert.equal(back.pairs.length, adapter.pairs.length);
    for (let i = 0; i < adapter.pairs.length; i++) {
      const p = adapter.pairs[i]!;
      const q = back.pairs[i]!;
      assert.equal(`${q.layer}.${q.key}.${q.rank}`, `${p.layer}.${p.key}.${p.rank}`);
      assert.deepEqual(q.a, p.a, `${path} ${p.layer}.${p.key} A`);
      assert.deepEqual(q.b, p.b, `${path} ${p.layer}.${p.key} B`);
    }
  }
  const cfg = JSON.parse(readFileSync(join(dir, 'peft', 'adapter_config.json'), 'utf8'));
  assert.equal(cfg.r, 3);
  assert.equal(cfg.lora_alpha, 5);
  assert.deepEqual(cfg.target_modules, ['down_proj', 'gate_proj', 'k_proj', 'o_proj', 'q_proj', 'up_proj', 'v_proj']);
});

test('a PEFT adapter (HF rotary order) gives the logits of merging it by hand into the HF weights', needsShared(GQA), async () => {
  const hfDir = sharedData(GQA);
  const c = (await loadModel(join(hfDir, 'model.safetensors'))).config;
  const adapter = makeAdapter(c, 4, { seed: 11, alpha: 8 });
  const dir = tempDir('lora-peft-');
  writeLoraPeft(join(dir, 'peft'), adapter, c);
  // Merge in HF space straight from the PEFT file (no code of ours between its B and the weights).
  const peft = SafetensorsFile.open(join(dir, 'peft', PEFT_WEIGHTS));
  const base = SafetensorsFile.open(join(hfDir, 'model.safetensors'));
  const out: HostTensor[] = [];
  for (const name of base.entries.keys()) {
    const t = base.readTensor(name);
    const stem = name.replace(/\.weight$/, '');
    const aName = `base_model.model.${stem}.lora_A.weight`;
    if (!peft.entries.has(aName)) {
      out.push(f32Tensor(name, t.shape, asF32(t).slice()));
      continue;
    }
    const A = asF32(peft.readTensor(aName));
    const B = asF32(peft.readTensor(`base_model.model.${stem}.lora_B.weight`));
    const [rows, cols] = t.shape as [number, number];
    const W = asF32(t).slice();
    const s = 8 / 4;
    for (let i = 0; i < rows; i++) for (let k = 0; k < 4; k++) for (let j = 0; j < cols; j++) W[i * cols + j]! += s * B[i * 4 + k]! * A[k * cols + j]!;
    out.push(f32Tensor(name, t.shape, W));
  }
  peft.close();
  base.close();
  mkdirSync(join(dir, 'merged'));
  writeSafetensors(join(dir, 'merged', 'model.safetensors'), out);
  copyFileSync(join(hfDir, 'config.json'), join(dir, 'merged', 'config.json'));

  const js = new JsBackend();
  const mergedByHand = await logitsOf(await LlamaModel.create(await loadModel(join(dir, 'merged')), js));
  const baseModel = await LlamaModel.create(await loadModel(join(hfDir, 'model.safetensors')), js);
  const applied = await logitsOf(attachLora(baseModel, [{ adapter: readLoraAdapter(join(dir, 'peft'), c) }]));
  const d = maxDiff(applied, mergedByHand);
  assert.ok(d < 1e-4, `max |diff| ${d}`);
});

test('adapters that do not fit, or are not adapters, are LORA errors with a hint', needsShared(GQA), async () => {
  const loaded = await loadModel(sharedData(GQA, 'model-f32.gguf'));
  const c = loaded.config;
  const dir = tempDir('lora-bad-');
  const wrongShape = makeAdapter({ ...c, dim: c.dim * 2 }, 2);
  writeLoraGguf(join(dir, 'wide.gguf'), wrongShape);
  const expectLora = (fn: () => unknown, re: RegExp) =>
    assert.throws(fn, (e: unknown) => e instanceof LlamaError && e.code === 'LORA' && re.test(e.message) && !!e.hint);
  expectLora(() => readLoraAdapter(join(dir, 'wide.gguf'), c), /matrix but the model's is/);
  const deep = makeAdapter({ ...c, nLayers: c.nLayers + 1 }, 2);
  writeLoraGguf(join(dir, 'deep.gguf'), deep);
  expectLora(() => readLoraAdapter(join(dir, 'deep.gguf'), c), /cannot adapt|layers/);
  // a model file passed as an adapter
  expectLora(() => readLoraAdapter(sharedData(GQA, 'model-f32.gguf'), c), /not a LoRA adapter/);
  // an adapter of another kind
  writeGguf(join(dir, 'cvec.gguf'), { metadata: [['general.architecture', gv.str('llama')], ['general.type', gv.str('adapter')], ['adapter.type', gv.str('control_vector')]], tensors: [] });
  expectLora(() => readLoraAdapter(join(dir, 'cvec.gguf'), c), /only "lora"/);
  // a PEFT folder whose method is not LoRA
  mkdirSync(join(dir, 'ia3'));
  writeFileSync(join(dir, 'ia3', 'adapter_config.json'), JSON.stringify({ peft_type: 'IA3' }));
  writeSafetensors(join(dir, 'ia3', PEFT_WEIGHTS), []);
  expectLora(() => readLoraAdapter(join(dir, 'ia3'), c), /IA3/);
  assert.throws(() => readLoraAdapter(join(dir, 'missing.gguf'), c), (e: unknown) => e instanceof LlamaError && e.code === 'FILE_NOT_FOUND');
});

test('--lora FILE[:SCALE] parsing', () => {
  assert.deepEqual(parseLoraSpec('a.gguf'), { path: 'a.gguf', scale: 1 });
  assert.deepEqual(parseLoraSpec('a.gguf:0.5'), { path: 'a.gguf', scale: 0.5 });
  assert.deepEqual(parseLoraSpec('/x/y:z/a.gguf:-1'), { path: '/x/y:z/a.gguf', scale: -1 });
  assert.deepEqual(parseLoraSpec('C:dir'), { path: 'C:dir', scale: 1 });
  assert.throws(() => parseLoraSpec(''), (e: unknown) => e instanceof LlamaError && e.code === 'USAGE');
});

test('--lora FILE[:SCALE] on the model commands (here llama logits): scale 0 is the base, the adapter changes the logits', needsShared(GQA), async () => {
  const { runCli } = await import('./helpers/cli.js');
  const loaded = await loadModel(sharedData(GQA, 'model-f32.gguf'));
  const dir = tempDir('lora-cli-');
  const adapterPath = join(dir, 'a.gguf');
  writeLoraGguf(adapterPath, makeAdapter(loaded.config, 2, { seed: 5 }));
  const logits = (extra: string[]) => {
    const r = runCli(['logits', '-m', sharedData(GQA, 'model-f32.gguf'), '--ids', '1,5,9', '--json', '--backend', 'js', ...extra]);
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };
  const base = logits([]);
  assert.equal(logits(['--lora', `${adapterPath}:0`]), base);
  assert.notEqual(logits(['--lora', adapterPath]), base);
  const missing = runCli(['run', '-p', 'hi', '-n', '1', '--lora', join(dir, 'none.gguf')]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /FILE_NOT_FOUND|LoRA adapter not found/);
});
