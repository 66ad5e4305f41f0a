// golden/quant: a tied-embedding model with the real 32000-token vocabulary, quantized by
// llama.cpp. On the js backend (which dequantizes and multiplies in float64) the logits must match
// the README's independent float64 `exact_reference` within 5e-5 and its greedy ids exactly; against
// llama.cpp's own logits (which round activations too) the README's statistical bounds apply.
// The F16 file is not shipped: it is rebuilt from tiny-f32.gguf by rounding every tensor that
// llama-quantize made F16 (the golden's tensor_types) to binary16, round-to-nearest-even.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { needsShared, sharedData } from './helpers/shared.js';
import { loadModel } from '../src/model/load.js';
import { JsBackend } from '../src/backend/js/js-backend.js';
import { LlamaModel } from '../src/model/llama.js';
import { fastBackends } from './helpers/backends.js';
import type { LoadedModel } from '../src/model/loaded.js';
import { DType } from '../src/tensor/dtype.js';
import { asF32, makeTensor, type HostTensor } from '../src/tensor/tensor.js';
import { floatToHalf } from '../src/tensor/f16.js';

interface QuantGolden {
  file: string;
  tensor_types: Record<string, string>;
  prompt: { ids: number[] };
  logits: number[][];
  exact_reference: { logits: number[][]; greedy: { ids: number[] } };
}

const load = (type: string): QuantGolden => JSON.parse(gunzipSync(readFileSync(sharedData('golden', 'quant', `golden-${type}.json.gz`))).toString('utf8'));

function toF16(t: HostTensor): HostTensor {
  const v = asF32(t);
  const h = new Uint16Array(v.length);
  for (let i = 0; i < v.length; i++) h[i] = floatToHalf(v[i]!);
  return makeTensor(t.name, DType.F16, t.shape, new Uint8Array(h.buffer));
}

/** GGUF tensor name -> our weight, for rebuilding the F16 file from the F32 one. */
async function openFor(type: string, g: QuantGolden): Promise<LoadedModel> {
  if (type !== 'F16') return loadModel(sharedData('golden', 'quant', g.file));
  const f32 = await loadModel(sharedData('golden', 'quant', 'tiny-f32.gguf'));
  const half = (ggufName: string, t: HostTensor) => {
    assert.ok(ggufName in g.tensor_types, ggufName);
    return g.tensor_types[ggufName] === 'F16' ? toF16(t) : t;
  };
  const w = f32.weights;
  const weights = {
    tokEmbeddings: half('token_embd.weight', w.tokEmbeddings),
    norm: half('output_norm.weight', w.norm),
    layers: w.layers.map((L, l) => ({
      attnNorm: half(`blk.${l}.attn_norm.weight`, L.attnNorm), wq: half(`blk.${l}.attn_q.weight`, L.wq),
      wk: half(`blk.${l}.attn_k.weight`, L.wk), wv: half(`blk.${l}.attn_v.weight`, L.wv),
      wo: half(`blk.${l}.attn_output.weight`, L.wo), ffnNorm: half(`blk.${l}.ffn_norm.weight`, L.ffnNorm),
      w1: half(`blk.${l}.ffn_gate.weight`, L.w1), w2: half(`blk.${l}.ffn_down.weight`, L.w2), w3: half(`blk.${l}.ffn_up.weight`, L.w3),
    })),
  };
  return { ...f32, weights };
}

function diffStats(ours: Float32Array, ref: number[][], V: number): { max: number; mean: number } {
  let max = 0;
  let sum = 0;
  for (let t = 0; t < ref.length; t++) {
    for (let i = 0; i < V; i++) {
      const d = Math.abs(ours[t * V + i]! - ref[t]![i]!);
      max = Math.max(max, d);
      sum += d;
    }
  }
  return { max, mean: sum / (ref.length * V) };
}

for (const type of ['F32', 'F16', 'Q8_0', 'Q4_0', 'Q4_K_M', 'Q6_K']) {
  test(`golden/quant ${type}: exact_reference logits and greedy ids; llama.cpp logits within the README's bounds`, needsShared('golden', 'quant', `golden-${type}.json.gz`), async () => {
    const g = load(type);
    const loaded = await openFor(type, g);
    assert.equal(loaded.config.tiedEmbeddings, true);
    assert.equal(loaded.weights.output, undefined);
    const model = await LlamaModel.create(loaded, new JsBackend());
    const V = model.config.vocabSize;
    const ids = g.prompt.ids;

    const logits = model.forward(model.newSession({ ctxSize: 32 }), ids, { allLogits: true });
    const exact = diffStats(logits, g.exact_reference.logits, V);
    assert.ok(exact.max <= 5e-5, `vs exact_reference: max |diff| ${exact.max}`);
    const cpp = diffStats(logits, g.logits, V);
    if (type === 'F32') assert.ok(cpp.max <= 5e-5, `vs llama.cpp: max |diff| ${cpp.max}`);
    else if (type === 'F16') assert.ok(cpp.max <= 1e-2, `vs llama.cpp: max |diff| ${cpp.max}`);
    else assert.ok(cpp.max <= 0.25 && cpp.mean <= 0.03, `vs llama.cpp: max ${cpp.max}, mean ${cpp.mean}`);

    const s = model.newSession({ ctxSize: 32 });
    let row = model.forward(s, ids);
    const greedy: number[] = [];
    for (let j = 0; j < g.exact_reference.greedy.ids.length; j++) {
      greedy.push(model.backend.argmax(row, V));
      if (j + 1 < g.exact_reference.greedy.ids.length) row = model.forward(s, [greedy[j]!]);
    }
    assert.deepEqual(greedy, g.exact_reference.greedy.ids);
  });
}

test('golden/quant on the fast backends: llama.cpp logits within the README\'s bounds', needsShared('golden', 'quant'), async (t) => {
  const backends = await fastBackends();
  if (backends.length === 0) t.skip('no native backend built here');
  for (const b of backends) {
    for (const type of ['F32', 'F16', 'Q8_0', 'Q4_0', 'Q4_K_M', 'Q6_K']) {
      const g = load(type);
      const model = await LlamaModel.create(await openFor(type, g), b);
      const logits = model.forward(model.newSession({ ctxSize: 32 }), g.prompt.ids, { allLogits: true });
      const cpp = diffStats(logits, g.logits, model.config.vocabSize);
      const what = `${b.name} ${type} vs llama.cpp: max ${cpp.max}, mean ${cpp.mean}`;
      if (type === 'F32') assert.ok(cpp.max <= 5e-5, what);
      else if (type === 'F16') assert.ok(cpp.max <= 1e-2, what);
      else assert.ok(cpp.max <= 0.25 && cpp.mean <= 0.03, what);
    }
  }
});
