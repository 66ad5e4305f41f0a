// LoRA training through the tape: A/B gradients against central finite differences, a frozen base
// (no gradient for it), B = 0 leaving the logits bit-equal to the base model, and masked targets.
//
// As in grad-check.test.ts's whole-model check, the model runs in f32, so the finite differences
// are of an f32 computation (~1e-7 relative noise): we compare the directional derivative along a
// random unit direction per tensor at 2e-3 relative + 1e-4 absolute (the f32 loss noise over h) (h = 1e-2 with one Richardson step), and the
// largest single entry at 2e-2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsTrainingBackend } from '../src/backend/js/js-train-ops.js';
import { JsBackend } from '../src/backend/js/js-backend.js';
import { selectTrainingBackend } from '../src/backend/select.js';
import type { TrainingBackend } from '../src/backend/training.js';
import type { LlamaConfig } from '../src/model/config.js';
import type { LlamaWeights } from '../src/model/weights.js';
import { LlamaModel, prepareParams } from '../src/model/llama.js';
import { initWeights } from '../src/train/init.js';
import { lossAndGrad, lossOnly } from '../src/train/model.js';
import { Rng } from '../src/train/rng.js';
import { createLoraTrainingModel, type LoraTrainingModel } from '../src/finetune/lora-train.js';
import { DType } from '../src/tensor/dtype.js';
import { makeTensor, asF32 } from '../src/tensor/tensor.js';
import { quantize } from '../src/tensor/quant.js';
import { assertLargestEntry } from './helpers/grad.js';

const config: LlamaConfig = {
  dim: 32, nLayers: 2, nHeads: 4, nKvHeads: 2, headDim: 8, ffnDim: 64, vocabSize: 40,
  normEps: 1e-5, ropeTheta: 10000, contextLength: 12, tiedEmbeddings: false,
};

function bigWeights(seed: number): LlamaWeights {
  const w = initWeights(config, seed);
  const rng = new Rng(seed + 1);
  const all = [w.tokEmbeddings, w.output!, ...w.layers.flatMap((l) => [l.wq, l.wk, l.wv, l.wo, l.w1, l.w2, l.w3])];
  // larger weights than the 0.02 init make every path matter
  for (const t of all) {
    const v = asF32(t);
    for (let i = 0; i < v.length; i++) v[i] = rng.normal() * 0.3;
  }
  return w;
}

/** The same weights with every layer matrix quantized (the embeddings/output stay F32). */
function quantizedWeights(w: LlamaWeights, type: DType): LlamaWeights {
  const q = (t: LlamaWeights['layers'][number]['wq']) => makeTensor(t.name, type, t.shape, quantize(type, asF32(t), t.shape[1]!));
  return { ...w, layers: w.layers.map((L) => ({ ...L, wq: q(L.wq), wk: q(L.wk), wv: q(L.wv), wo: q(L.wo), w1: q(L.w1), w2: q(L.w2), w3: q(L.w3) })) };
}

function randomizeB(tm: LoraTrainingModel, rng: Rng): void {
  for (const p of tm.pairs) {
    for (let i = 0; i < p.b.length; i++) p.b[i] = rng.normal() * 0.3;
    tm.backend.weightUpdated(p.weight.b);
  }
}

function loraGradCheck(backend: TrainingBackend, weights: LlamaWeights, dropout: number): void {
  const tm = createLoraTrainingModel(config, weights, backend, { rank: 4, alpha: 8, dropout, targets: ['wq', 'wk', 'wv', 'wo', 'w1', 'w2', 'w3'], seed: 3 });
  const rng = new Rng(21);
  randomizeB(tm, rng);
  const seq = Array.from({ length: 11 }, () => rng.int(config.vocabSize));
  const inputs = seq.slice(0, 10);
  // the first 4 targets are the "prompt": masked out
  const targets = seq.slice(1).map((t, i) => (i < 4 ? -1 : t));
  const session = tm.model.newSession({ ctxSize: 12 });
  tm.lora.dropout = dropout;
  tm.lora.dropoutSeed = 5;
  const grads = new Map();
  const { sum, count } = lossAndGrad(tm, session, inputs, targets, 1 / 6, grads);
  assert.equal(count, 6);
  const loss = () => {
    const r = lossOnly(tm, session, inputs, targets); // same dropout seed: the same masks
    return r.sum / r.count;
  };
  assert.ok(Math.abs(loss() - sum / count) < 1e-12, 'the taped forward equals the plain forward');
  // only A and B have gradients: the base is frozen
  assert.equal(grads.size, tm.params.length);
  for (const k of grads.keys()) assert.ok(tm.params.some((p) => p.key === k), 'a gradient for a non-adapter parameter');
  const h = 1e-2;
  for (const p of tm.params) {
    const g = grads.get(p.key) as Float32Array;
    assert.ok(g, `${p.name} has a gradient`);
    const d = new Float32Array(p.values.length);
    for (let i = 0; i < d.length; i++) d[i] = rng.normal();
    const norm = Math.hypot(...d);
    for (let i = 0; i < d.length; i++) d[i] = d[i]! / norm;
    const saved = Float32Array.from(p.values);
    const shift = (s: number) => { for (let i = 0; i < d.length; i++) p.values[i] = saved[i]! + s * d[i]!; tm.backend.weightUpdated(p.key as never); };
    const central = (hh: number) => {
      shift(hh); const lp = loss();
      shift(-hh); const lm = loss();
      return (lp - lm) / (2 * hh);
    };
    // Richardson: (4·D(h/2) - D(h)) / 3 cancels the O(h²) truncation term of the central difference
    const numeric = (4 * central(h / 2) - central(h)) / 3;
    p.values.set(saved);
    tm.backend.weightUpdated(p.key as never);
    let analytic = 0;
    for (let i = 0; i < d.length; i++) analytic += g[i]! * d[i]!;
    assert.ok(Math.abs(numeric - analytic) <= 2e-3 * Math.abs(analytic) + 1e-4, `${p.name}: directional derivative analytic ${analytic} vs numeric ${numeric}`);
    assertLargestEntry(p.name, p.values, g, h, loss, 2e-2, 1e-4);
  }
}

test('LoRA A/B gradients match finite differences (js, F32 base)', () => {
  loraGradCheck(new JsTrainingBackend(), bigWeights(1), 0);
});

test('LoRA A/B gradients match finite differences with dropout (js)', () => {
  loraGradCheck(new JsTrainingBackend(), bigWeights(2), 0.3);
});

test('LoRA A/B gradients match finite differences over a frozen Q8_0 and Q4_0 base (js)', () => {
  loraGradCheck(new JsTrainingBackend(), quantizedWeights(bigWeights(3), DType.Q8_0), 0);
  loraGradCheck(new JsTrainingBackend(), quantizedWeights(bigWeights(4), DType.Q4_0), 0);
});

test('LoRA A/B gradients match finite differences on the native training backend (Q4_K base)', async (t) => {
  let be: TrainingBackend;
  try {
    be = await selectTrainingBackend('native', 1);
  } catch (e) {
    t.skip(`native training backend unavailable: ${(e as Error).message}`);
    return;
  }
  // Q4_K needs rows of 256: a wider model
  const wide: LlamaConfig = { ...config, dim: 256, ffnDim: 256, headDim: 64 };
  const w = initWeights(wide, 9);
  const q = (x: typeof w.layers[number]['wq']) => makeTensor(x.name, DType.Q4_K, x.shape, quantize(DType.Q4_K, asF32(x), x.shape[1]!));
  const qw = { ...w, layers: w.layers.map((L) => ({ ...L, wq: q(L.wq), wk: q(L.wk), wv: q(L.wv), w1: q(L.w1), w3: q(L.w3) })) };
  const tm = createLoraTrainingModel(wide, qw, be, { rank: 2, alpha: 4, dropout: 0, targets: ['wq', 'wv', 'w1'], seed: 3 });
  const rng = new Rng(4);
  randomizeB(tm, rng);
  const seq = Array.from({ length: 7 }, () => rng.int(wide.vocabSize));
  const inputs = seq.slice(0, 6), targets = seq.slice(1);
  const session = tm.model.newSession({ ctxSize: 8 });
  const grads = new Map();
  lossAndGrad(tm, session, inputs, targets, 1 / 6, grads);
  assert.equal(grads.size, tm.params.length);
  const loss = () => { const r = lossOnly(tm, session, inputs, targets); return r.sum / r.count; };
  const h = 1e-2;
  for (const p of tm.params) {
    const g = grads.get(p.key) as Float32Array;
    assertLargestEntry(p.name, p.values, g, h, loss, 3e-2, 2e-4);
  }
});

test('B = 0 gives logits bit-equal to the base model', () => {
  for (const w of [bigWeights(5), quantizedWeights(bigWeights(6), DType.Q8_0)]) {
    const tm = createLoraTrainingModel(config, w, new JsTrainingBackend(), { rank: 4, alpha: 16, dropout: 0, targets: ['wq', 'wk', 'wv', 'wo', 'w1', 'w2', 'w3'], seed: 1 });
    const plainBe = new JsBackend();
    const plain = new LlamaModel(config, plainBe, prepareParams(plainBe, config, w));
    const ids = [1, 5, 9, 2, 33, 7];
    const a = tm.model.forward(tm.model.newSession({ ctxSize: 12 }), ids, { allLogits: true });
    const b = plain.forward(plain.newSession({ ctxSize: 12 }), ids, { allLogits: true });
    assert.equal(a.length, b.length);
    assert.deepEqual(Array.from(a), Array.from(b.subarray(0, a.length)));
    assert.ok(tm.pairs.every((p) => p.a.some((x) => x !== 0)), 'A is initialised (non-zero)');
  }
});

test('masked (prompt) targets contribute no loss and no gradient', () => {
  const tm = createLoraTrainingModel(config, bigWeights(7), new JsTrainingBackend(), { rank: 4, alpha: 8, dropout: 0, targets: ['wq', 'wv'], seed: 1 });
  randomizeB(tm, new Rng(8));
  const inputs = [3, 4, 5, 6, 7, 8];
  const run = (targets: number[]) => {
    const grads = new Map();
    const r = lossAndGrad(tm, tm.model.newSession({ ctxSize: 12 }), inputs, targets, 1, grads);
    return { r, grads: tm.params.map((p) => Array.from(grads.get(p.key) as Float32Array)) };
  };
  const masked = run([-1, -1, -1, 10, 11, 12]);
  const onlyResponse = run([-1, -1, -1, 10, 11, 12]);
  assert.equal(masked.r.count, 3);
  // the loss of the response alone, and the same gradients, whatever the prompt's tokens would be
  const full = run([20, 21, 22, 10, 11, 12]);
  assert.equal(full.r.count, 6);
  assert.ok(full.r.sum > masked.r.sum);
  assert.deepEqual(masked.grads, onlyResponse.grads);
  assert.notDeepEqual(full.grads, masked.grads);
  // and a fully masked sequence gives zero gradient
  const none = run([-1, -1, -1, -1, -1, -1]);
  assert.equal(none.r.count, 0);
  for (const g of none.grads) assert.ok(g.every((x) => x === 0));
});
