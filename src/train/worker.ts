// A data-parallel training worker (see parallel.ts): the same model over shared weights, its own
// tape and gradient buffers.
import { parentPort, workerData } from 'node:worker_threads';
import { JsTrainingBackend } from '../backend/js/js-train-ops.js';
import { f32Tensor } from '../tensor/tensor.js';
import type { HostTensor } from '../tensor/tensor.js';
import { createTrainingModel, lossAndGrad } from './model.js';
import type { ParamGrads } from './tape.js';
import type { WorkerInit, WorkerStep } from './parallel.js';

const init = workerData as WorkerInit;
const byName = new Map<string, HostTensor>(init.tensors.map((t) => [t.name, f32Tensor(t.name, t.shape, t.values)]));
const get = (n: string) => byName.get(n)!;
const weights = {
  tokEmbeddings: get('tok_embeddings.weight'),
  layers: Array.from({ length: init.config.nLayers }, (_, l) => {
    const p = `layers.${l}.`;
    return {
      attnNorm: get(`${p}attention_norm.weight`), wq: get(`${p}attention.wq.weight`), wk: get(`${p}attention.wk.weight`),
      wv: get(`${p}attention.wv.weight`), wo: get(`${p}attention.wo.weight`), ffnNorm: get(`${p}ffn_norm.weight`),
      w1: get(`${p}feed_forward.w1.weight`), w2: get(`${p}feed_forward.w2.weight`), w3: get(`${p}feed_forward.w3.weight`),
    };
  }),
  norm: get('norm.weight'),
  output: byName.get('output.weight'),
};
const tm = createTrainingModel(init.config, weights, new JsTrainingBackend());
const gradByName = new Map(init.grads.map((g) => [g.name, g.values]));
const grads: ParamGrads = new Map(tm.params.map((p) => [p.key, gradByName.get(p.name)!]));
const paramByName = new Map(tm.params.map((p) => [p.name, p]));
const session = tm.model.newSession({ ctxSize: init.seqLen });

parentPort!.on('message', (m: WorkerStep) => {
  try {
    for (const n of m.norms) paramByName.get(n.name)!.values.set(n.values);
    for (const g of grads.values()) g.fill(0);
    let sum = 0;
    let count = 0;
    for (const s of m.seqs) {
      const r = lossAndGrad(tm, session, s.inputs, s.targets, m.scale, grads);
      sum += r.sum;
      count += r.count;
    }
    parentPort!.postMessage({ sum, count });
  } catch (e) {
    parentPort!.postMessage({ error: (e as Error).stack ?? String(e) });
  }
});
