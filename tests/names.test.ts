// The one name table against the names real files use: every tensor of the golden Meta, HF and GGUF
// files (written by torch, safetensors and gguf-py) and of stories260K.bin is named by the table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openGguf } from '../src/formats/gguf.js';
import { PthFile } from '../src/formats/pth.js';
import { SafetensorsFile } from '../src/formats/safetensors.js';
import { Llama2cFile } from '../src/formats/llama2c.js';
import { LAYER_KEYS, globalName, metaShardSplit, nameOf, type NameFormat } from '../src/model/names.js';
import { needsShared, sharedData } from './helpers/shared.js';

function tableNames(format: NameFormat, nLayers: number, withOutput: boolean): string[] {
  const names = ['tokEmbeddings', 'norm', ...(withOutput ? ['output'] : [])].map((k) => globalName(format, k as 'norm')!);
  for (let l = 0; l < nLayers; l++) for (const k of LAYER_KEYS) names.push(nameOf(format, k, l)!);
  return names.sort();
}

test('names: the table spells every tensor of the golden Meta, HF and GGUF files', needsShared('golden/llama2-gqa-tiny'), () => {
  const dir = (f: string) => sharedData('golden', 'llama2-gqa-tiny', f);
  const pth = PthFile.open(dir('consolidated.00.pth'));
  // Meta's files also carry rope.freqs, which the model does not use
  assert.deepEqual([...pth.tensors.keys()].filter((n) => n !== 'rope.freqs').sort(), tableNames('meta', 2, true));
  pth.close();
  const st = SafetensorsFile.open(dir('model.safetensors'));
  assert.deepEqual([...st.entries.keys()].sort(), tableNames('hf', 2, true));
  st.close();
  const g = openGguf(dir('model-f32.gguf'));
  assert.deepEqual(g.tensors.map((t) => t.name).sort(), tableNames('gguf', 2, true));
  g.close();
});

test('names: llama2.c tensors and the tied GGUF of golden/quant', needsShared('models/stories260K/stories260K.bin'), () => {
  const f = Llama2cFile.open(sharedData('models', 'stories260K', 'stories260K.bin'));
  assert.deepEqual([...f.tensors.keys()].sort(), tableNames('llama2c', 5, false));
  f.close();
  const g = openGguf(sharedData('golden', 'quant', 'tiny-Q4_K_M.gguf'));
  assert.deepEqual(g.tensors.map((t) => t.name).sort(), tableNames('gguf', 2, false));
  g.close();
});

test('names: Meta shard split rules (llama-recipe §1.8)', () => {
  assert.equal(metaShardSplit('layers.3.attention.wq.weight'), 0);
  assert.equal(metaShardSplit('layers.3.attention.wk.weight'), 0);
  assert.equal(metaShardSplit('layers.3.attention.wv.weight'), 0);
  assert.equal(metaShardSplit('layers.3.feed_forward.w1.weight'), 0);
  assert.equal(metaShardSplit('layers.3.feed_forward.w3.weight'), 0);
  assert.equal(metaShardSplit('output.weight'), 0);
  assert.equal(metaShardSplit('layers.3.attention.wo.weight'), 1);
  assert.equal(metaShardSplit('layers.3.feed_forward.w2.weight'), 1);
  assert.equal(metaShardSplit('tok_embeddings.weight'), 1);
  assert.equal(metaShardSplit('layers.0.attention_norm.weight'), 'replicated');
  assert.equal(metaShardSplit('norm.weight'), 'replicated');
  assert.equal(metaShardSplit('rope.freqs'), undefined);
  assert.equal(globalName('meta', 'ropeFreqs'), undefined);
  assert.equal(globalName('gguf', 'ropeFreqs'), 'rope_freqs.weight');
});
