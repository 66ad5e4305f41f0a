import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { convertModel, compareLlamaCppNames } from '../src/model/convert.js';
import { mixType, useMoreBits } from '../src/model/quant-mix.js';
import { loadModel } from '../src/model/load.js';
import { openGguf, ggufValueToJson } from '../src/formats/gguf.js';
import { SafetensorsFile, writeSafetensorsSharded } from '../src/formats/safetensors.js';
import { DType, dtypeName } from '../src/tensor/dtype.js';
import { dequantize, quantize } from '../src/tensor/quant.js';
import { asF32, numElements } from '../src/tensor/tensor.js';
import { halfToFloat, floatToHalf } from '../src/tensor/f16.js';
import { flattenWeights, nameOf } from '../src/model/names.js';
import { llama3RopeFactors } from '../src/model/rope-factors.js';
import { needsShared, sharedData } from './helpers/shared.js';
import { tempDir } from './helpers/corrupt.js';
import { assertSameWeights } from './helpers/models.js';
import { runCli } from './helpers/cli.js';

const GOLDEN = (m: string, f = '') => sharedData('golden', m, f);
const MODELS = ['llama1-tiny', 'llama2-gqa-tiny'] as const;

function metadataOf(path: string): Record<string, unknown> {
  const g = openGguf(path);
  try {
    return Object.fromEntries([...g.metadata].map(([k, v]) => [k, ggufValueToJson(v)]));
  } finally {
    g.close();
  }
}

for (const m of MODELS) {
  test(`convert: ${m} Meta .pth and HF -> GGUF f32 read back identical, byte for byte gguf-py's file`, needsShared('golden', m), async () => {
    const { dir, cleanup } = tempDir('conv');
    try {
      const src = await loadModel(GOLDEN(m, 'consolidated.00.pth'));
      const out = join(dir, 'model.gguf');
      const r = await convertModel(GOLDEN(m, 'consolidated.00.pth'), out, { type: 'f32' });
      assert.deepEqual(r.files, [out]);
      const back = await loadModel(out);
      assert.deepEqual(back.config, src.config);
      assertSameWeights(back, src, 'gguf round trip');
      // the hyper-parameters match what llama.cpp's gguf-py wrote for the same model
      const ours = metadataOf(out);
      const theirs = metadataOf(GOLDEN(m, 'model-f32.gguf'));
      for (const k of Object.keys(theirs).filter((k) => k.startsWith('llama.'))) assert.deepEqual(ours[k], theirs[k], k);
      assert.equal(ours['general.architecture'], 'llama');
      assert.equal(ours['general.file_type'], 0);
      assert.equal(ours['tokenizer.ggml.model'], 'none');
      // and the tensors are the golden GGUF's, byte for byte, in its order and shapes
      const g = openGguf(GOLDEN(m, 'model-f32.gguf'));
      const o = openGguf(out);
      for (const info of g.tensors) assert.deepEqual(o.readTensor(info.name).data, g.readTensor(info).data, info.name);
      g.close();
      o.close();
      assert.deepEqual(readdirSync(dir), ['model.gguf']); // no temp files left behind
      // in fact the whole file is the one gguf-py wrote, from the Meta files and from the HF files
      assert.ok(Buffer.compare(readFileSync(out), readFileSync(GOLDEN(m, 'model-f32.gguf'))) === 0, 'Meta -> GGUF differs from gguf-py\'s file');
      const fromHf = join(dir, 'from-hf.gguf');
      await convertModel(GOLDEN(m), fromHf, { type: 'f32' });
      assert.ok(Buffer.compare(readFileSync(fromHf), readFileSync(GOLDEN(m, 'model-f32.gguf'))) === 0, 'HF -> GGUF differs from gguf-py\'s file');
    } finally {
      cleanup();
    }
  });

  test(`convert: ${m} -> HF safetensors reads back identical; GGUF -> HF equals the Python-written files`, needsShared('golden', m), async () => {
    const { dir, cleanup } = tempDir('conv');
    try {
      const src = await loadModel(GOLDEN(m, 'consolidated.00.pth'));
      const hfDir = join(dir, 'hf');
      await convertModel(GOLDEN(m, 'consolidated.00.pth'), hfDir);
      const back = await loadModel(hfDir);
      assert.equal(back.format, 'safetensors');
      assert.deepEqual(back.config, src.config);
      assertSameWeights(back, src, 'hf round trip');
      // from the GGUF: q/k permuted back to HF order; file identical to the golden one (safetensors' Python writer)
      const fromGguf = join(dir, 'from-gguf.safetensors');
      await convertModel(GOLDEN(m, 'model-f32.gguf'), fromGguf);
      assert.ok(Buffer.compare(readFileSync(fromGguf), readFileSync(GOLDEN(m, 'model.safetensors'))) === 0, 'model.safetensors differs from the golden file');
      const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
      assert.deepEqual(cfg, JSON.parse(readFileSync(GOLDEN(m, 'config.json'), 'utf8')));
    } finally {
      cleanup();
    }
  });
}

test('convert: quantized GGUF holds exactly the reference quantizer blocks; norms stay F32', needsShared('golden/llama2-gqa-tiny'), async () => {
  const { dir, cleanup } = tempDir('conv');
  try {
    const src = await loadModel(GOLDEN('llama2-gqa-tiny', 'model-f32.gguf'));
    for (const [type, dt] of [['q8_0', DType.Q8_0], ['q4_0', DType.Q4_0]] as const) {
      const out = join(dir, `${type}.gguf`);
      await convertModel(GOLDEN('llama2-gqa-tiny', 'model-f32.gguf'), out, { type });
      const back = await loadModel(out);
      assert.deepEqual(back.config, src.config);
      const a = flattenWeights(src.weights);
      const b = flattenWeights(back.weights);
      for (let i = 0; i < a.length; i++) {
        const s = a[i]!.tensor;
        const t = b[i]!.tensor;
        if (s.shape.length === 1) {
          assert.equal(t.type, DType.F32, `${t.name} stays F32`);
          assert.deepEqual(t.data, s.data);
          continue;
        }
        // below 8 bits the output matrix gets Q6_K, which falls back to Q8_0 on these 128-wide rows
        const want = dt === DType.Q4_0 && t.name === 'output.weight' ? DType.Q8_0 : dt;
        assert.equal(t.type, want, t.name);
        assert.deepEqual(t.data, quantize(want, asF32(s), s.shape[1]!), `${t.name}: blocks`);
      }
      assert.equal(metadataOf(out)['general.quantization_version'], 2);
    }
    // Q6_K needs 256-value rows: this model's 128-wide rows fall back to Q8_0, with a notice
    const notes: string[] = [];
    const r = await convertModel(GOLDEN('llama2-gqa-tiny', 'model-f32.gguf'), join(dir, 'q6k.gguf'), { type: 'q6_k', log: (s) => notes.push(s) });
    assert.ok(r.tensors.filter((t) => t.shape.length === 2).every((t) => t.type === 'Q8_0'));
    assert.ok(notes.some((s) => /blk\.0\.attn_q\.weight: rows of 128 .* Q6_K.*using Q8_0/.test(s)), notes.join('\n'));
    // converting the quantized file onward keeps its blocks (no requantization)
    await convertModel(join(dir, 'q8_0.gguf'), join(dir, 'again.gguf'));
    assertSameWeights(await loadModel(join(dir, 'again.gguf')), await loadModel(join(dir, 'q8_0.gguf')), 'q8_0 copy');
  } finally {
    cleanup();
  }
});

test('convert: tiny-f32.gguf -> q8_0 / q4_0 / q4_k_m / q6_k / f16 is byte-identical to llama-quantize\'s files', needsShared('golden/quant/tiny-f32.gguf'), async () => {
  const { dir, cleanup } = tempDir('conv');
  try {
    for (const [type, ref] of [['q8_0', 'tiny-Q8_0.gguf'], ['q4_0', 'tiny-Q4_0.gguf'], ['q4_k_m', 'tiny-Q4_K_M.gguf'], ['q6_k', 'tiny-Q6_K.gguf']] as const) {
      const out = join(dir, ref);
      await convertModel(sharedData('golden', 'quant', 'tiny-f32.gguf'), out, { type });
      const a = readFileSync(out);
      const b = readFileSync(sharedData('golden', 'quant', ref));
      if (Buffer.compare(a, b) === 0) continue;
      // say where they differ: which tensor or key
      const x = openGguf(out);
      const y = openGguf(sharedData('golden', 'quant', ref));
      try {
        for (const t of y.tensors) {
          const u = x.readTensor(t.name);
          assert.equal(dtypeName(u.type), dtypeName(t.type), `${ref} ${t.name} type`);
          assert.ok(Buffer.compare(Buffer.from(u.data), Buffer.from(y.readTensor(t).data)) === 0, `${ref} ${t.name} bytes`);
        }
        assert.deepEqual([...x.metadata.keys()], [...y.metadata.keys()], `${ref} metadata keys and order`);
        assert.deepEqual(x.tensors.map((t) => t.name), y.tensors.map((t) => t.name), `${ref} tensor order`);
      } finally {
        x.close();
        y.close();
      }
      assert.fail(`${ref}: files differ (size ${a.length} vs ${b.length})`);
    }
    // tiny-F16.gguf is not shipped; golden/quant/README.md gives its size and SHA-256
    const f16 = join(dir, 'tiny-F16.gguf');
    await convertModel(sharedData('golden', 'quant', 'tiny-f32.gguf'), f16, { type: 'f16' });
    const bytes = readFileSync(f16);
    assert.equal(bytes.length, 20_522_176);
    assert.equal(createHash('sha256').update(bytes).digest('hex'), 'b0fb9081c0f91c7874961f77058fd32c23449d30a37852ce58b46b968c631f55');
  } finally {
    cleanup();
  }
});

test('convert: f16 safetensors holds the RNE-rounded halves', needsShared('golden/llama1-tiny'), async () => {
  const { dir, cleanup } = tempDir('conv');
  try {
    await convertModel(GOLDEN('llama1-tiny', 'model-f32.gguf'), join(dir, 'hf16'), { type: 'f16' });
    const st = SafetensorsFile.open(join(dir, 'hf16', 'model.safetensors'));
    const src = await loadModel(GOLDEN('llama1-tiny', 'model-f32.gguf'));
    const t = st.readTensor('model.layers.1.mlp.up_proj.weight');
    assert.equal(t.type, DType.F16);
    const want = asF32(src.weights.layers[1]!.w3);
    const got = new Uint16Array(t.data.slice().buffer);
    for (let i = 0; i < want.length; i++) assert.equal(got[i], floatToHalf(want[i]!));
    assert.ok(Math.abs(halfToFloat(got[0]!) - want[0]!) < 1e-3);
    st.close();
    const cfg = JSON.parse(readFileSync(join(dir, 'hf16', 'config.json'), 'utf8'));
    assert.equal(cfg.torch_dtype, 'float16');
    const back = await loadModel(join(dir, 'hf16'));
    assert.equal(back.weights.layers[0]!.wq.type, DType.F16);
    // q/k un-permuted on the way back: equal to Meta's wq rounded to half
    const wq = dequantize(DType.F16, back.weights.layers[0]!.wq.data, numElements(back.weights.layers[0]!.wq.shape));
    const srcWq = asF32(src.weights.layers[0]!.wq);
    for (let i = 0; i < wq.length; i++) assert.equal(wq[i], halfToFloat(floatToHalf(srcWq[i]!)));
  } finally {
    cleanup();
  }
});

test('convert: a sharded HF checkpoint (2 shards + index) loads like the single file', needsShared('golden/llama2-gqa-tiny'), async () => {
  const { dir, cleanup } = tempDir('conv');
  try {
    const st = SafetensorsFile.open(GOLDEN('llama2-gqa-tiny', 'model.safetensors'));
    const tensors = [...st.entries.keys()].map((n) => st.readTensor(n));
    st.close();
    const total = tensors.reduce((a, t) => a + t.data.byteLength, 0);
    const largest = Math.max(...tensors.map((t) => t.data.byteLength));
    const shards = writeSafetensorsSharded(dir, tensors, Math.ceil(total / 2) + largest, { format: 'pt' });
    assert.equal(shards.length, 2);
    copyFileSync(GOLDEN('llama2-gqa-tiny', 'config.json'), join(dir, 'config.json'));
    const sharded = await loadModel(dir);
    const single = await loadModel(GOLDEN('llama2-gqa-tiny', 'model.safetensors'));
    assert.deepEqual(sharded.config, single.config);
    assertSameWeights(sharded, single, 'sharded vs single');
  } finally {
    cleanup();
  }
});

test('convert: stories260K.bin -> GGUF embeds its tokenizer and reads back identical', needsShared('models/stories260K'), async () => {
  const { dir, cleanup } = tempDir('conv');
  try {
    const bin = sharedData('models', 'stories260K', 'stories260K.bin');
    const out = join(dir, 'stories.gguf');
    const ticks: [number, number][] = [];
    await convertModel(bin, out, { progress: (d, t) => ticks.push([d, t]) });
    assert.equal(ticks.length, 1 + 5 * 9 + 1); // one per tensor
    assert.deepEqual(ticks[ticks.length - 1], [1_056_540 - 28 - 2 * 512 * 4 * 4, 1_056_540 - 28 - 2 * 512 * 4 * 4]);
    assert.ok(ticks.every(([d], i) => i === 0 || d > ticks[i - 1]![0]));
    const src = await loadModel(bin);
    const back = await loadModel(out);
    assert.deepEqual(back.config, src.config);
    assert.equal(back.config.tiedEmbeddings, true);
    assertSameWeights(back, src, 'llama2.c -> gguf');
    const md = metadataOf(out);
    assert.equal(md['tokenizer.ggml.model'], 'llama');
    const tokens = md['tokenizer.ggml.tokens'] as string[];
    assert.equal(tokens.length, 512);
    assert.equal(tokens[1], '<s>');
    // and onward to HF: tied, no lm_head, tokenizer not an HF file (so not copied)
    const notes: string[] = [];
    await convertModel(out, join(dir, 'hf'), { log: (s) => notes.push(s) });
    const hf = await loadModel(join(dir, 'hf'));
    assert.equal(hf.config.tiedEmbeddings, true);
    assertSameWeights(hf, src, 'gguf -> hf');
    assert.ok(notes.some((s) => /tokenizer/.test(s)));
  } finally {
    cleanup();
  }
});

test('convert: Llama 3.1 rope scaling becomes rope_freqs.weight in GGUF and rope_scaling again in HF', needsShared('golden/llama1-tiny'), async () => {
  const { dir, cleanup } = tempDir('conv');
  try {
    const hf = join(dir, 'hf');
    await convertModel(GOLDEN('llama1-tiny', 'model-f32.gguf'), hf);
    const cfgPath = join(hf, 'config.json');
    const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
    const scaling = { factor: 8, high_freq_factor: 4, low_freq_factor: 1, original_max_position_embeddings: 8192, rope_type: 'llama3' };
    writeFileSync(cfgPath, JSON.stringify({ ...cfg, rope_theta: 500000, rope_scaling: scaling }));
    const out = join(dir, 'l3.gguf');
    await convertModel(hf, out);
    const g = await loadModel(out);
    assert.ok(g.weights.ropeFreqs);
    const factors = asF32(g.weights.ropeFreqs);
    assert.deepEqual(factors, llama3RopeFactors(16, 500000, { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContextLength: 8192 }));
    // head_dim 16, theta 5e5: the highest frequency (i = 0, wavelength 2π) is kept, the lowest is scaled by 8
    assert.equal(factors[0], 1);
    assert.equal(factors[7], 8);
    assert.equal(nameOf('gguf', 'ropeFreqs', undefined), 'rope_freqs.weight');
    await convertModel(out, join(dir, 'hf2'));
    const cfg2 = JSON.parse(readFileSync(join(dir, 'hf2', 'config.json'), 'utf8'));
    assert.deepEqual(cfg2.rope_scaling, scaling);
  } finally {
    cleanup();
  }
});

test('convert: CLI writes atomically and reports usage errors', needsShared('golden/llama1-tiny'), () => {
  const { dir, cleanup } = tempDir('conv');
  try {
    const out = join(dir, 'cli.gguf');
    const r = runCli(['convert', GOLDEN('llama1-tiny', 'model-f32.gguf'), out, '--type', 'q8_0']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), out);
    assert.match(r.stderr, /16 Q8_0, 5 F32/);
    assert.equal(runCli(['convert', GOLDEN('llama1-tiny', 'model-f32.gguf'), out, '--type', 'q3_x']).status, 2);
    assert.equal(runCli(['convert', GOLDEN('llama1-tiny', 'model-f32.gguf')]).status, 2);
    assert.equal(runCli(['convert', GOLDEN('llama1-tiny', 'model-f32.gguf'), join(dir, 'x.safetensors'), '--type', 'q8_0']).status, 2);
    const blocker = join(dir, 'a-file');
    writeFileSync(blocker, 'x');
    const blocked = runCli(['convert', GOLDEN('llama1-tiny', 'model-f32.gguf'), join(blocker, 'sub', 'm.gguf')]);
    assert.equal(blocked.status, 1);
    assert.match(blocked.stderr, /FILE_WRITE.*cannot create the output folder/);
    const missing = runCli(['convert', join(dir, 'nope.gguf'), join(dir, 'y.gguf')]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /MODEL_NOT_FOUND/);
  } finally {
    cleanup();
  }
});

test('convert: a tokenizer.model beside an HF model becomes the same GGUF vocabulary llama.cpp wrote, and is copied to HF', needsShared('tokenizer/llama2/tokenizer.model'), async () => {
  const { dir, cleanup } = tempDir('conv');
  try {
    const hf = join(dir, 'hf');
    await convertModel(GOLDEN('llama1-tiny', 'model-f32.gguf'), hf);
    copyFileSync(sharedData('tokenizer', 'llama2', 'tokenizer.model'), join(hf, 'tokenizer.model'));
    const notes: string[] = [];
    const out = join(dir, 'with-vocab.gguf');
    await convertModel(hf, out, { log: (s) => notes.push(s) });
    assert.ok(notes.some((s) => /32000 tokens but the model has 256/.test(s)), notes.join('\n'));
    const ours = metadataOf(out);
    const ref = metadataOf(sharedData('tokenizer', 'llama.cpp', 'ggml-vocab-llama-spm.gguf'));
    for (const k of ['tokenizer.ggml.model', 'tokenizer.ggml.tokens', 'tokenizer.ggml.scores', 'tokenizer.ggml.token_type', 'tokenizer.ggml.bos_token_id', 'tokenizer.ggml.eos_token_id', 'tokenizer.ggml.unknown_token_id']) {
      assert.deepEqual(ours[k], ref[k], k);
    }
    // GGUF -> HF again: no tokenizer file to copy (it lives in the metadata) unless one is given
    const hf2 = join(dir, 'hf2');
    const r = await convertModel(out, hf2, { tokenizerPath: join(hf, 'tokenizer.model') });
    assert.ok(r.files.includes(join(hf2, 'tokenizer.model')));
    assert.ok(Buffer.compare(readFileSync(join(hf2, 'tokenizer.model')), readFileSync(sharedData('tokenizer', 'llama2', 'tokenizer.model'))) === 0);
  } finally {
    cleanup();
  }
});

test('convert: llama-quantize mix rules for a 32-layer model', () => {
  // use_more_bits(i, 32): the first 4, the last 4, and every third layer from 6 on
  const more = Array.from({ length: 32 }, (_, i) => i).filter((i) => useMoreBits(i, 32));
  assert.deepEqual(more, [0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31]);
  const c = { dim: 4096, nLayers: 32, nHeads: 32, nKvHeads: 32, headDim: 128, ffnDim: 11008, vocabSize: 32000, normEps: 1e-5, ropeTheta: 10000, contextLength: 4096, tiedEmbeddings: false };
  assert.equal(mixType('q4_k_m', 'wv', 6, c), DType.Q6_K);
  assert.equal(mixType('q4_k_m', 'wv', 7, c), DType.Q4_K);
  assert.equal(mixType('q4_k_m', 'w2', 31, c), DType.Q6_K);
  assert.equal(mixType('q4_k_m', 'wq', 0, c), DType.Q4_K);
  assert.equal(mixType('q4_k_m', 'output', undefined, c), DType.Q6_K);
  assert.equal(mixType('q4_k_m', 'tokEmbeddings', undefined, c), DType.Q4_K); // untied: the embedding is not the output
  assert.equal(mixType('q4_k', 'wv', 3, c), DType.Q5_K);
  assert.equal(mixType('q4_k', 'wv', 4, c), DType.Q4_K);
  assert.equal(mixType('q4_k', 'w2', 3, c), DType.Q5_K);
  assert.equal(mixType('q4_k', 'w2', 4, c), DType.Q4_K);
  assert.equal(mixType('q8_0', 'output', undefined, c), DType.Q8_0);
  assert.equal(mixType('f16', 'output', undefined, c), DType.F16);
  // Llama 2 70B (80 layers, GQA): attn_v gets at least Q5_K
  const c70 = { ...c, nLayers: 80, nHeads: 64, nKvHeads: 8, dim: 8192 };
  assert.equal(mixType('q4_k_m', 'wv', 11, c70), DType.Q5_K); // layer 11 of 80 is not a "more bits" layer: Q4_K, raised to Q5_K
  assert.equal(mixType('q4_k_m', 'wv', 7, c70), DType.Q6_K);
  assert.equal(mixType('q4_0', 'wv', 7, c70), DType.Q4_0);
  assert.deepEqual([compareLlamaCppNames('output_norm.weight', 'blk.0.attn_q.weight') < 0, compareLlamaCppNames('blk.2.ffn_up.weight', 'blk.10.attn_k.weight') < 0], [true, true]);
});
