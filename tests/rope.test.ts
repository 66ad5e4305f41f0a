// Rotary frequencies from their definitions: Meta's 1/theta^(2i/d), Llama 3.1's apply_scaling,
// llama.cpp's rope_freqs divisors, linear interpolation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { baseInvFreq, llama3ScaleFreq, ropeInvFreq } from '../src/model/rope.js';
import type { LlamaConfig } from '../src/model/config.js';

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
