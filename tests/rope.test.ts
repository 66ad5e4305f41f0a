// Rotary frequencies from their definitions: Meta's 1/theta^(2i/d), Llama 3.1's apply_scaling,
// llama.cpp's rope_freqs divisors, linear interpolation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { baseInvFreq, llama3ScaleFreq, ropeInvFreq } from '../src/model/rope.js';
import type { LlamaConfig } from '../src/model/config.js';
import type { LoadedModel } from '../src/model/loaded.js';
import { loadModel } from '../src/model/load.js';
import { LlamaModel } from '../src/model/llama.js';
import { JsBackend } from '../src/backend/js/js-backend.js';
import { f32Tensor } from '../src/tensor/tensor.js';
import { needsShared, sharedData } from './helpers/shared.js';

const cfg = (over: Partial<LlamaConfig> = {}): LlamaConfig => ({
  dim: 4096, nLayers: 1, nHeads: 32, nKvHeads: 8, headDim: 128, ffnDim: 14336, vocabSize: 10,
  normEps: 1e-5, ropeTheta: 500000, contextLength: 8192, tiedEmbeddings: false, ...over,
});

test('base inverse frequencies: 1 / theta^(2i/d)', () => {
  const f = baseInvFreq(16, 10000);
  assert.equal(f.length, 8);
  assert.equal(f[0], 1);
  for (let i = 0; i < 8; i++) assert.ok(Math.abs(f[i]! - 10000 ** (-(2 * i) / 16)) < 1e-7 * f[i]!);
});

test('llama3 scaling (Llama 3.1 8B: factor 8, low 1, high 4, original context 8192)', () => {
  const s = { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContextLength: 8192 } as const;
  // wavelength 2π/f: < 2048 keeps f, > 8192 divides by 8, between blends
  assert.equal(llama3ScaleFreq(1, s), 1);
  assert.equal(llama3ScaleFreq(2 * Math.PI / 10000, s), 2 * Math.PI / 10000 / 8);
  const f = 2 * Math.PI / 4096; // smooth = (8192/4096 - 1) / (4 - 1) = 1/3
  assert.ok(Math.abs(llama3ScaleFreq(f, s) - ((2 / 3) * (f / 8) + (1 / 3) * f)) < 1e-15);
  const inv = ropeInvFreq(cfg({ ropeScaling: s }));
  const base = baseInvFreq(128, 500000);
  assert.equal(inv[0], Math.fround(base[0]!));
  assert.equal(inv[63], Math.fround(base[63]! / 8));
});

test('GGUF rope_freqs divide the frequencies and take precedence over the config', () => {
  const factors = new Float32Array(64).fill(2);
  factors[0] = 1;
  const inv = ropeInvFreq(cfg({ ropeScaling: { type: 'linear', factor: 4 } }), factors);
  const base = baseInvFreq(128, 500000);
  assert.equal(inv[0], Math.fround(base[0]!));
  assert.equal(inv[5], Math.fround(base[5]! / 2));
  assert.throws(() => ropeInvFreq(cfg(), new Float32Array(3)), /rope_freqs/);
});

test('linear scaling divides every frequency by the factor', () => {
  const inv = ropeInvFreq(cfg({ ropeScaling: { type: 'linear', factor: 4 }, ropeTheta: 10000 }));
  const base = baseInvFreq(128, 10000);
  for (let i = 0; i < 64; i++) assert.equal(inv[i], Math.fround(base[i]! / 4));
});

test('a llama.cpp-style rope_freqs tensor (divisors) gives the same frequencies as the llama3 config', () => {
  const s = { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContextLength: 8192 } as const;
  // llama.cpp's converter writes, per frequency: 1 (short wavelengths), factor (long ones), or
  // 1 / ((1 - smooth) / factor + smooth) in between — the model divides the frequency by it.
  const base = baseInvFreq(128, 500000);
  const factors = new Float32Array(64);
  for (let i = 0; i < 64; i++) {
    const wavelen = (2 * Math.PI) / base[i]!;
    if (wavelen < 8192 / 4) factors[i] = 1;
    else if (wavelen > 8192 / 1) factors[i] = 8;
    else {
      const smooth = (8192 / wavelen - 1) / (4 - 1);
      factors[i] = 1 / ((1 - smooth) / 8 + smooth);
    }
  }
  const fromTensor = ropeInvFreq(cfg(), factors);
  const fromConfig = ropeInvFreq(cfg({ ropeScaling: s }));
  for (let i = 0; i < 64; i++) assert.ok(Math.abs(fromTensor[i]! - fromConfig[i]!) <= 1e-6 * fromConfig[i]!, `pair ${i}`);
});

test('the model rotates by the file\'s rope_freqs: all-ones = none, all-twos = linear factor 2', needsShared('golden', 'llama2-gqa-tiny'), async () => {
  const loaded = await loadModel(sharedData('golden', 'llama2-gqa-tiny', 'model-f32.gguf'));
  const ids = [1, 5, 9, 200, 3, 77];
  const run = async (l: LoadedModel) => {
    const m = await LlamaModel.create(l, new JsBackend());
    return m.forward(m.newSession({ ctxSize: 8 }), ids, { allLogits: true });
  };
  const half = loaded.config.headDim / 2;
  const plain = await run(loaded);
  const ones = await run({ ...loaded, weights: { ...loaded.weights, ropeFreqs: f32Tensor('rope_freqs.weight', [half], new Float32Array(half).fill(1)) } });
  assert.deepEqual(ones, plain);
  const twos = await run({ ...loaded, weights: { ...loaded.weights, ropeFreqs: f32Tensor('rope_freqs.weight', [half], new Float32Array(half).fill(2)) } });
  const linear = await run({ ...loaded, config: { ...loaded.config, ropeScaling: { type: 'linear', factor: 2 } } });
  assert.deepEqual(twos, linear);
  assert.notDeepEqual(twos, plain);
});
