import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Llama2cFile, LLAMA2C_MAGIC, type Llama2cHeader } from '../src/formats/llama2c.js';
import { asF32 } from '../src/tensor/tensor.js';
import { needsShared, sharedData } from './helpers/shared.js';
import { expectCode, tempDir, truncationPoints } from './helpers/corrupt.js';

const STORIES = sharedData('models', 'stories260K', 'stories260K.bin');

/** Every tensor of the real model, by llama2.c name (read as raw floats straight from the file). */
function storiesTensors(): { header: Llama2cHeader; t: Map<string, Float32Array> } {
  const f = Llama2cFile.open(STORIES);
  const t = new Map<string, Float32Array>();
  for (const name of f.tensors.keys()) t.set(name, asF32(f.readTensor(name)));
  const header = f.header;
  f.close();
  return { header, t };
}

const LAYERED = ['attention.wq', 'attention.wk', 'attention.wv', 'attention.wo', 'feed_forward.w1', 'feed_forward.w2', 'feed_forward.w3'];
const stacked = (t: Map<string, Float32Array>, L: number, suffix: string) => Array.from({ length: L }, (_, l) => t.get(`layers.${l}.${suffix}`)!);

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}
const f32b = (a: Float32Array) => new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
const ints = (...v: number[]) => new Uint8Array(new Int32Array(v).buffer);

function v1v2Header(h: Llama2cHeader, version: 1 | 2, shared: boolean, groupSize = 0): Uint8Array {
  const b = new Uint8Array(256);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, LLAMA2C_MAGIC, true);
  dv.setInt32(4, version, true);
  [h.dim, h.hiddenDim, h.nLayers, h.nHeads, h.nKvHeads, h.vocabSize, h.seqLen].forEach((v, i) => dv.setInt32(8 + 4 * i, v, true));
  b[36] = shared ? 1 : 0;
  if (version === 2) dv.setInt32(37, groupSize, true);
  return b;
}

/** llama2.c export.py's quantize_q80: per group scale = max|w| / 127, q = round-half-even(w / scale). */
function q80(w: Float32Array, g: number): { q: Int8Array; s: Float32Array } {
  const q = new Int8Array(w.length);
  const s = new Float32Array(w.length / g);
  for (let i = 0; i < s.length; i++) {
    let m = 0;
    for (let j = 0; j < g; j++) m = Math.max(m, Math.abs(w[i * g + j]!));
    s[i] = m / 127;
    for (let j = 0; j < g; j++) {
      const x = Math.fround(w[i * g + j]! / s[i]!);
      const r = Math.round(x);
      q[i * g + j] = Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : r; // ties to even, as torch.round
    }
  }
  return { q, s };
}

test('llama2c: stories260K.bin loads with the header SOURCES.md documents', needsShared('models/stories260K/stories260K.bin'), () => {
  const f = Llama2cFile.open(STORIES);
  try {
    assert.deepEqual({ ...f.header }, { version: 0, dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512, seqLen: 512, sharedClassifier: true, groupSize: undefined });
    assert.deepEqual(f.tensors.get('layers.4.attention.wk')!.shape, [32, 64]); // kv_dim = 4 × 8
    assert.deepEqual(f.tensors.get('layers.0.feed_forward.w2')!.shape, [64, 172]);
    assert.equal(f.tensors.has('output'), false); // tied
    // the final norm sits right before the two freq_cis tables, which end the file
    const norm = f.tensors.get('norm')!;
    assert.equal(norm.offset + 64 * 4 + 2 * 512 * 4 * 4, readFileSync(STORIES).length);
    // RMSNorm gains of a trained model are O(1) positive numbers; embeddings are not all zero
    const g = asF32(f.readTensor('norm'));
    assert.ok(g.every((v) => Number.isFinite(v)) && g.some((v) => Math.abs(v) > 0.1));
  } finally {
    f.close();
  }
});

test('llama2c: v1 (fp32, new order) and v0 with an unshared classifier read back the same tensors', needsShared('models/stories260K/stories260K.bin'), () => {
  const { header: h, t } = storiesTensors();
  const L = h.nLayers;
  const output = t.get('tok_embeddings')!.map((v) => -v); // a distinct classifier
  const { dir, cleanup } = tempDir('l2c');
  try {
    // v1: norms first, then embeddings and weights, then the classifier (unshared)
    const v1 = concat([
      v1v2Header(h, 1, false),
      ...stacked(t, L, 'attention_norm').map(f32b), ...stacked(t, L, 'ffn_norm').map(f32b), f32b(t.get('norm')!),
      f32b(t.get('tok_embeddings')!),
      ...LAYERED.flatMap((s) => stacked(t, L, s).map(f32b)),
      f32b(output),
    ]);
    writeFileSync(join(dir, 'v1.bin'), v1);
    // v0 legacy with negative vocab: classifier after the freq_cis tables
    const freq = new Uint8Array(2 * h.seqLen * (h.dim / h.nHeads / 2) * 4);
    const v0 = concat([
      ints(h.dim, h.hiddenDim, L, h.nHeads, h.nKvHeads, -h.vocabSize, h.seqLen),
      f32b(t.get('tok_embeddings')!),
      ...stacked(t, L, 'attention_norm').map(f32b),
      ...LAYERED.slice(0, 4).flatMap((s) => stacked(t, L, s).map(f32b)),
      ...stacked(t, L, 'ffn_norm').map(f32b),
      ...LAYERED.slice(4).flatMap((s) => stacked(t, L, s).map(f32b)),
      f32b(t.get('norm')!), freq, f32b(output),
    ]);
    writeFileSync(join(dir, 'v0u.bin'), v0);
    for (const name of ['v1.bin', 'v0u.bin']) {
      const f = Llama2cFile.open(join(dir, name));
      assert.equal(f.header.sharedClassifier, false, name);
      assert.equal(f.header.vocabSize, 512, name);
      for (const [n, v] of t) assert.deepEqual(asF32(f.readTensor(n)), v, `${name} ${n}`);
      assert.deepEqual(asF32(f.readTensor('output')), output, `${name} output`);
      f.close();
    }
  } finally {
    cleanup();
  }
});

test('llama2c: v2 (int8 groups + f32 scales) dequantizes to exactly q·scale', needsShared('models/stories260K/stories260K.bin'), () => {
  const { header: h, t } = storiesTensors();
  const L = h.nLayers;
  const g = 32; // export.py halves 64 until it divides dim; dim 64 keeps 64, we use 32 to test the field
  const quantized = [t.get('tok_embeddings')!, ...LAYERED.flatMap((s) => stacked(t, L, s))];
  const qs = quantized.map((w) => q80(w, g));
  const bytes = concat([
    v1v2Header(h, 2, true, g),
    ...stacked(t, L, 'attention_norm').map(f32b), ...stacked(t, L, 'ffn_norm').map(f32b), f32b(t.get('norm')!),
    ...qs.flatMap(({ q, s }) => [new Uint8Array(q.buffer), f32b(s)]),
  ]);
  const { dir, cleanup } = tempDir('l2c');
  try {
    writeFileSync(join(dir, 'v2.bin'), bytes);
    const f = Llama2cFile.open(join(dir, 'v2.bin'));
    assert.equal(f.header.version, 2);
    assert.equal(f.header.groupSize, g);
    assert.deepEqual(asF32(f.readTensor('layers.2.ffn_norm')), t.get('layers.2.ffn_norm'));
    const names = ['tok_embeddings', ...LAYERED.flatMap((s) => Array.from({ length: L }, (_, l) => `layers.${l}.${s}`))];
    let maxErr = 0;
    names.forEach((n, k) => {
      const got = asF32(f.readTensor(n));
      const { q, s } = qs[k]!;
      const w = quantized[k]!;
      for (let i = 0; i < got.length; i++) {
        const scale = s[Math.floor(i / g)]!;
        assert.equal(got[i], Math.fround(q[i]! * scale), `${n}[${i}]`);
        maxErr = Math.max(maxErr, Math.abs(got[i]! - w[i]!) / (scale || 1));
      }
    });
    assert.ok(maxErr <= 0.5 + 1e-5, `dequantized within half a step (max ${maxErr})`);
    f.close();
  } finally {
    cleanup();
  }
});

test('llama2c: bad headers and truncations are typed errors', needsShared('models/stories260K/stories260K.bin'), () => {
  const full = new Uint8Array(readFileSync(STORIES));
  const { dir, cleanup } = tempDir('l2c');
  const p = join(dir, 'bad.bin');
  const check = (bytes: Uint8Array, codes: Parameters<typeof expectCode>[1], what: string) => {
    writeFileSync(p, bytes);
    const e = expectCode(() => Llama2cFile.open(p), codes, what);
    assert.ok(e.message.includes(p), `${what}: message names the file`);
  };
  try {
    for (const at of truncationPoints(full.length)) check(full.subarray(0, at), ['FORMAT_TRUNCATED', 'FORMAT_CORRUPT'], `truncated at ${at}`);
    const patch = (i: number, v: number) => { const b = full.slice(); new DataView(b.buffer).setInt32(i * 4, v, true); return b; };
    check(patch(0, 0), 'FORMAT_CORRUPT', 'dim 0');
    check(patch(0, 1 << 30), 'FORMAT_CORRUPT', 'absurd dim');
    check(patch(2, 2_000_000_000), 'FORMAT_CORRUPT', 'absurd layers');
    check(patch(4, 3), 'FORMAT_CORRUPT', 'heads not a multiple of kv heads');
    check(patch(5, -512), 'FORMAT_TRUNCATED', 'unshared classifier that is not there');
    check(patch(1, 171), 'FORMAT_CORRUPT', 'wrong hidden dim: size mismatch');
    check(concat([full, new Uint8Array(4)]), 'FORMAT_CORRUPT', 'trailing bytes');
    const v9 = v1v2Header({ version: 1, dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512, seqLen: 512, sharedClassifier: true }, 1, true);
    new DataView(v9.buffer).setInt32(4, 9, true);
    check(v9, 'FORMAT_VERSION', 'version 9');
  } finally {
    cleanup();
  }
});
