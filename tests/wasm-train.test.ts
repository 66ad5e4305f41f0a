// Training with `--backend auto` where the native addon cannot load now runs the wasm forward
// kernels with js backward ops (HybridTrainingBackend): the loss and every gradient must match the
// js reference, also after the weights change in place (as the optimizer changes them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTrainingModel, lossAndGrad } from '../src/train/model.js';
import { initWeights } from '../src/train/init.js';
import type { LlamaConfig } from '../src/model/config.js';
import type { ParamGrads } from '../src/train/tape.js';
import { HybridTrainingBackend } from '../src/backend/hybrid-training.js';
import { JsTrainingBackend } from '../src/backend/js/js-train-ops.js';
import type { TrainingBackend } from '../src/backend/training.js';
import { loadWasmBackend, wasmUnavailableReason } from '../src/backend/wasm/index.js';

const config: LlamaConfig = {
  dim: 32, nLayers: 2, nHeads: 4, nKvHeads: 2, headDim: 8, ffnDim: 48, vocabSize: 40,
  normEps: 1e-5, ropeTheta: 10000, contextLength: 12, tiedEmbeddings: false,
};

function run(backend: TrainingBackend, bump: boolean): { loss: number; grads: Map<string, Float32Array> } {
  const tm = createTrainingModel(config, initWeights(config, 5), backend);
  if (bump) for (const p of tm.params) for (let i = 0; i < p.values.length; i++) p.values[i] = p.values[i]! * 1.5 + (i % 7) * 1e-3; // an in-place update
  const session = tm.model.newSession({ ctxSize: 12 });
  const ids = Array.from({ length: 13 }, (_, i) => (i * 7 + 3) % 40);
  const grads: ParamGrads = new Map();
  const { sum, count } = lossAndGrad(tm, session, ids.slice(0, 12), ids.slice(1), 1 / 12, grads);
  // keyed by parameter name (the keys themselves are backend-specific weight handles)
  return { loss: sum / count, grads: new Map(tm.params.map((p) => [p.name, grads.get(p.key)!])) };
}

test('training on wasm forward + js backward gives the js reference loss and gradients, before and after an in-place weight update', { skip: wasmUnavailableReason() ?? false }, () => {
  for (const bump of [false, true]) {
    const w = run(new HybridTrainingBackend(loadWasmBackend({ threads: 1 })!), bump);
    const j = run(new JsTrainingBackend(), bump);
    assert.ok(Math.abs(w.loss - j.loss) <= 1e-5 * Math.abs(j.loss), `loss ${w.loss} vs ${j.loss}`);
    assert.equal(w.grads.size, 2 + 2 * 9 + 1);
    for (const [key, gj] of j.grads) {
      const gw = w.grads.get(key)!;
      assert.ok(gw && gj && gw.length === gj.length, `${key} has a gradient on both`);
      let scale = 0;
      for (const v of gj) scale = Math.max(scale, Math.abs(v));
      for (let i = 0; i < gj.length; i++) assert.ok(Math.abs(gw[i]! - gj[i]!) <= 1e-4 * scale + 1e-9, `${key}[${i}] ${gw[i]} vs ${gj[i]} (bump ${bump})`);
    }
  }
});
