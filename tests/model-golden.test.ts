// The forward pass against Meta's reference code (golden/*-tiny/golden.json): prefill logits,
// one-token-at-a-time logits through the KV cache, and 16 greedy ids.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { needsShared, sharedData } from './helpers/shared.js';
import { join } from 'node:path';
import { loadModel } from '../src/model/load.js';
import { DType } from '../src/tensor/dtype.js';
import { JsBackend } from '../src/backend/js/js-backend.js';
import { LlamaModel } from '../src/model/llama.js';
import type { Backend } from '../src/backend/backend.js';
import { fastBackends } from './helpers/backends.js';
import type { LoadedModel } from '../src/model/loaded.js';

interface Golden {
  prompt_ids: number[];
  prefill_logits: number[][];
  incremental_logits: number[][];
  greedy: { ids: number[] };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

async function checkGolden(loaded: LoadedModel, golden: Golden, backend: Backend = new JsBackend()): Promise<void> {
  const model = await LlamaModel.create(loaded, backend);
  const V = model.config.vocabSize;
  const ids = golden.prompt_ids;

  const s1 = model.newSession({ ctxSize: 64 });
  const all = model.forward(s1, ids, { allLogits: true });
  assert.equal(all.length, ids.length * V);
  for (let t = 0; t < ids.length; t++) {
    const d = maxAbsDiff(all.subarray(t * V, (t + 1) * V), golden.prefill_logits[t]!);
    assert.ok(d <= 1e-5, `prefill row ${t}: max |diff| ${d}`);
  }

  const s2 = model.newSession({ ctxSize: 64 });
  for (let t = 0; t < ids.length; t++) {
    const row = model.forward(s2, [ids[t]!]);
    const d = maxAbsDiff(row, golden.incremental_logits[t]!);
    assert.ok(d <= 1e-5, `incremental row ${t}: max |diff| ${d}`);
  }

  // a prefill in two chunks (the second starts at position 5, attending to the cached 0..4)
  const s4 = model.newSession({ ctxSize: 64 });
  model.forward(s4, ids.slice(0, 5));
  const rest = model.forward(s4, ids.slice(5), { allLogits: true });
  for (let t = 5; t < ids.length; t++) {
    const d = maxAbsDiff(rest.subarray((t - 5) * V, (t - 4) * V), golden.prefill_logits[t]!);
    assert.ok(d <= 1e-5, `chunked prefill row ${t}: max |diff| ${d}`);
  }

  // greedy continuation (Meta: prefill, then one token per call)
  const s3 = model.newSession({ ctxSize: 64 });
  let logits = model.forward(s3, ids);
  const got: number[] = [];
  for (let j = 0; j < golden.greedy.ids.length; j++) {
    const next = model.backend.argmax(logits, V);
    got.push(next);
    logits = model.forward(s3, [next]);
  }
  assert.deepEqual(got, golden.greedy.ids);
}

for (const name of ['llama1-tiny', 'llama2-gqa-tiny']) {
  const golden = (): Golden => JSON.parse(readFileSync(sharedData('golden', name, 'golden.json'), 'utf8'));
  for (const [layout, file] of [['Meta .pth', 'consolidated.00.pth'], ['HF safetensors', 'model.safetensors'], ['GGUF', 'model-f32.gguf']] as const) {
    test(`${name} (${layout}) matches Meta's logits and greedy ids`, needsShared('golden', name, file), async () => {
      const loaded = await loadModel(join(sharedData('golden', name), file));
      assert.equal(loaded.format, layout === 'Meta .pth' ? 'meta' : layout === 'GGUF' ? 'gguf' : 'safetensors');
      await checkGolden(loaded, golden());
    });
  }
  test(`${name} on the fast backends (GGUF) matches Meta's logits and greedy ids`, needsShared('golden', name), async (t) => {
    const backends = await fastBackends();
    if (backends.length === 0) t.skip('no native backend built here');
    for (const b of backends) await checkGolden(await loadModel(join(sharedData('golden', name), 'model-f32.gguf')), golden(), b);
  });
}

test('an F16 KV cache stays close to the F32 one', needsShared('golden', 'llama2-gqa-tiny'), async () => {
  const g = JSON.parse(readFileSync(sharedData('golden', 'llama2-gqa-tiny', 'golden.json'), 'utf8')) as Golden;
  const model = await LlamaModel.create(await loadModel(sharedData('golden', 'llama2-gqa-tiny', 'model-f32.gguf')), new JsBackend());
  const s = model.newSession({ ctxSize: 16, kvType: DType.F16 });
  const logits = model.forward(s, g.prompt_ids, { allLogits: true });
  const V = model.config.vocabSize;
  let max = 0;
  for (let t = 0; t < g.prompt_ids.length; t++) max = Math.max(max, maxAbsDiff(logits.subarray(t * V, (t + 1) * V), g.prefill_logits[t]!));
  // binary16 keeps 11 significant bits: k/v of size ~0.1 are off by ~5e-5, logits by about as much
  assert.ok(max > 0 && max < 2e-3, `F16 KV cache: max |diff| ${max}`);
});
