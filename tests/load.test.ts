import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel, detectModel, concatTensors, findModelTokenizer, openModelLazy } from '../src/model/load.js';
import { PthFile } from '../src/formats/pth.js';
import { SafetensorsFile, writeSafetensors } from '../src/formats/safetensors.js';
import { permuteToHf, unpermuteHf, metaShardSplit } from '../src/model/names.js';
import { shortestFloat32 } from '../src/model/config-sources.js';
import { openGguf, type GgufValue } from '../src/formats/gguf.js';
import { gv, writeGguf } from '../src/formats/gguf-write.js';
import { asF32, f32Tensor } from '../src/tensor/tensor.js';
import { needsShared, sharedData } from './helpers/shared.js';
import { expectCodeAsync, tempDir } from './helpers/corrupt.js';
import { runCli } from './helpers/cli.js';
import { assertSameWeights } from './helpers/models.js';
import { torchSaveContiguous } from './helpers/torch-zip.js';

const GOLDEN = (m: string, f = '') => sharedData('golden', m, f);

// The configs golden/README.md documents (params.json + the derived values in its table).
const EXPECTED = {
  'llama1-tiny': { dim: 64, nLayers: 2, nHeads: 4, nKvHeads: 4, headDim: 16, ffnDim: 192, vocabSize: 256, normEps: 1e-6, ropeTheta: 10000, contextLength: 2048, ropeScaling: undefined, tiedEmbeddings: false },
  'llama2-gqa-tiny': { dim: 128, nLayers: 2, nHeads: 8, nKvHeads: 2, headDim: 16, ffnDim: 448, vocabSize: 512, normEps: 1e-5, ropeTheta: 10000, contextLength: 4096, ropeScaling: undefined, tiedEmbeddings: false },
} as const;

for (const m of ['llama1-tiny', 'llama2-gqa-tiny'] as const) {
  test(`load: ${m} in Meta, HF and GGUF layouts gives identical configs and tensors`, needsShared('golden', m), async () => {
    // (the golden folder holds both HF and Meta files; as a directory it reads as HF)
    const meta = await loadModel(GOLDEN(m, 'consolidated.00.pth'));
    const hf = await loadModel(GOLDEN(m));
    const gguf = await loadModel(GOLDEN(m, 'model-f32.gguf'));
    const hfFile = await loadModel(GOLDEN(m, 'model.safetensors'));
    assert.equal(meta.format, 'meta');
    assert.equal(hf.format, 'safetensors');
    assert.equal(gguf.format, 'gguf');
    for (const x of [meta, hf, gguf, hfFile]) assert.deepEqual({ ...x.config }, { ...EXPECTED[m] }, `${x.format} config`);
    const n = assertSameWeights(meta, hf, 'meta vs hf');
    assertSameWeights(meta, gguf, 'meta vs gguf');
    assertSameWeights(meta, hfFile, 'meta vs hf file');
    assert.equal(n, 3 + 2 * 9);
    assert.equal(meta.weightBytes, readFileSync(GOLDEN(m, 'model.safetensors')).length - 8 - new DataView(readFileSync(GOLDEN(m, 'model.safetensors')).buffer).getUint32(0, true));
    // the HF file really is permuted: its raw q_proj differs from Meta's wq, and permuting back matches
    const st = SafetensorsFile.open(GOLDEN(m, 'model.safetensors'));
    const rawQ = st.readTensor('model.layers.0.self_attn.q_proj.weight');
    const rawK = st.readTensor('model.layers.1.self_attn.k_proj.weight');
    st.close();
    assert.notDeepEqual(rawQ.data, meta.weights.layers[0]!.wq.data);
    assert.deepEqual(permuteToHf(meta.weights.layers[0]!.wq, meta.config.nHeads).data, rawQ.data);
    assert.deepEqual(permuteToHf(meta.weights.layers[1]!.wk, meta.config.nKvHeads).data, rawK.data);
    assert.equal(meta.metadata.dim, meta.config.dim);
    assert.equal(gguf.metadata['general.architecture'], 'llama');
  });
}

test('load: openModelLazy lists checked weights without reading them; reads equal loadModel', needsShared('golden/llama2-gqa-tiny'), async () => {
  for (const f of ['consolidated.00.pth', 'model.safetensors', 'model-f32.gguf']) {
    const lazy = await openModelLazy(GOLDEN('llama2-gqa-tiny', f));
    const full = await loadModel(GOLDEN('llama2-gqa-tiny', f));
    try {
      assert.deepEqual(lazy.config, full.config);
      assert.equal(lazy.weightBytes, full.weightBytes);
      assert.equal(lazy.weights.length, 3 + 2 * 9);
      assert.deepEqual(lazy.weights.slice(0, 3).map((w) => [w.key, w.layer, w.name]), [['tokEmbeddings', undefined, 'tok_embeddings.weight'], ['attnNorm', 0, 'layers.0.attention_norm.weight'], ['wq', 0, 'layers.0.attention.wq.weight']]);
      const wk = lazy.weights.find((w) => w.key === 'wk' && w.layer === 1)!;
      assert.deepEqual(wk.shape, [32, 128]);
      assert.equal(wk.bytes, 32 * 128 * 4);
      assert.deepEqual(wk.read().data, full.weights.layers[1]!.wk.data, `${f}: wk (un-permuted for HF)`);
    } finally {
      lazy.close();
    }
  }
});

test('load: GGUF hyper-parameter edge cases (linear rope scaling, yarn, other architectures, vocab mismatch, tied)', needsShared('golden/llama1-tiny'), async () => {
  const { dir, cleanup } = tempDir('gguf');
  try {
    const g = openGguf(GOLDEN('llama1-tiny', 'model-f32.gguf'));
    const tensors = g.tensors.map((t) => g.readTensor(t));
    const base = [...g.metadata];
    g.close();
    const variant = async (name: string, edit: (m: Map<string, GgufValue>) => void, drop: string[] = []) => {
      const md = new Map(base);
      edit(md);
      const p = join(dir, `${name}.gguf`);
      writeGguf(p, { metadata: md, tensors: tensors.filter((t) => !drop.includes(t.name)) });
      return p;
    };
    const lin = await loadModel(await variant('linear', (m) => { m.set('llama.rope.scaling.type', gv.str('linear')); m.set('llama.rope.scaling.factor', gv.f32(4)); }));
    assert.deepEqual(lin.config.ropeScaling, { type: 'linear', factor: 4 });
    const none = await loadModel(await variant('none', (m) => m.set('llama.rope.scaling.type', gv.str('none'))));
    assert.equal(none.config.ropeScaling, undefined);
    await expectCodeAsync(async () => loadModel(await variant('yarn', (m) => m.set('llama.rope.scaling.type', gv.str('yarn')))), 'FORMAT_UNSUPPORTED');
    await expectCodeAsync(async () => loadModel(await variant('gpt2', (m) => m.set('general.architecture', gv.str('gpt2')))), 'FORMAT_UNSUPPORTED');
    await expectCodeAsync(async () => loadModel(await variant('vocab', (m) => m.set('llama.vocab_size', gv.u32(300)))), 'MODEL_CONFIG');
    await expectCodeAsync(async () => loadModel(await variant('heads', (m) => m.set('llama.attention.head_count_kv', gv.u32(3)))), 'MODEL_CONFIG');
    await expectCodeAsync(async () => loadModel(await variant('noblocks', (m) => m.delete('llama.block_count'))), 'FORMAT_CORRUPT');
    await expectCodeAsync(async () => loadModel(await variant('missing', () => {}, ['blk.1.ffn_up.weight'])), 'TENSOR_MISSING');
    const tied = await loadModel(await variant('tied', () => {}, ['output.weight']));
    assert.equal(tied.config.tiedEmbeddings, true);
    assert.equal(tied.weights.output, undefined);
    // Llama 3.1 factors ride along as weights.ropeFreqs
    const withFreqs = join(dir, 'rf.gguf');
    writeGguf(withFreqs, { metadata: new Map(base), tensors: [...tensors, f32Tensor('rope_freqs.weight', [8], new Float32Array([1, 1, 1, 2, 4, 8, 8, 8]))] });
    const r = await loadModel(withFreqs);
    assert.deepEqual([...asF32(r.weights.ropeFreqs!)], [1, 1, 1, 2, 4, 8, 8, 8]);
    writeGguf(withFreqs, { metadata: new Map(base), tensors: [...tensors, f32Tensor('rope_freqs.weight', [7], new Float32Array(7))] });
    await expectCodeAsync(() => loadModel(withFreqs), 'TENSOR_SHAPE');
  } finally {
    cleanup();
  }
});

test('load: HF rotary permutation moves Meta row 2i+c of each head to c·hd/2+i, and back', () => {
  // 2 heads of head_dim 4, 1 column: Meta rows [h0: 0 1 2 3 | h1: 4 5 6 7]
  const t = f32Tensor('q', [8, 1], new Float32Array([0, 1, 2, 3, 4, 5, 6, 7]));
  const hf = permuteToHf(t, 2);
  assert.deepEqual([...asF32(hf)], [0, 2, 1, 3, 4, 6, 5, 7]);
  assert.deepEqual([...asF32(unpermuteHf(hf, 2))], [0, 1, 2, 3, 4, 5, 6, 7]);
  // head_dim 6: pairs (0,1)(2,3)(4,5) -> reals 0 2 4 then imaginaries 1 3 5
  assert.deepEqual([...asF32(permuteToHf(f32Tensor('k', [6, 1], new Float32Array([0, 1, 2, 3, 4, 5])), 1))], [0, 2, 4, 1, 3, 5]);
});

test('load: stories260K.bin gives the config in SOURCES.md and finds tok512.bin', needsShared('models/stories260K/stories260K.bin'), async () => {
  const m = await loadModel(sharedData('models', 'stories260K', 'stories260K.bin'));
  assert.equal(m.format, 'llama2c');
  assert.deepEqual({ ...m.config }, { dim: 64, nLayers: 5, nHeads: 8, nKvHeads: 4, headDim: 8, ffnDim: 172, vocabSize: 512, normEps: 1e-5, ropeTheta: 10000, contextLength: 512, ropeScaling: undefined, tiedEmbeddings: true });
  assert.equal(m.weights.output, undefined);
  assert.equal(m.tokenizerPath, sharedData('models', 'stories260K', 'tok512.bin'));
  assert.equal(m.weightBytes, 1_056_540 - 28 - 2 * 512 * 4 * 4);
});

test('load: the tokenizer beside a model is found without loading it, and llama tokenize -m MODEL uses it', needsShared('models/stories260K/stories260K.bin'), () => {
  const bin = sharedData('models', 'stories260K', 'stories260K.bin');
  assert.equal(findModelTokenizer(bin), sharedData('models', 'stories260K', 'tok512.bin'));
  assert.equal(findModelTokenizer(GOLDEN('llama1-tiny', 'model-f32.gguf')), undefined);
  const viaModel = runCli(['tokenize', '-m', bin, 'Once upon a time']);
  const viaTok = runCli(['tokenize', '-m', sharedData('models', 'stories260K', 'tok512.bin'), 'Once upon a time']);
  assert.equal(viaModel.status, 0, viaModel.stderr);
  assert.equal(viaModel.stdout, viaTok.stdout);
});

for (const embSplit of [1, 0] as const) {
  test(`load: a 2-shard Meta checkpoint merges back into the original (embedding split on dim ${embSplit}${embSplit === 0 ? ', Llama 3 style' : ''})`, needsShared('golden/llama2-gqa-tiny'), async () => {
    const { dir, cleanup } = tempDir('meta');
    try {
      const src = PthFile.open(GOLDEN('llama2-gqa-tiny', 'consolidated.00.pth'));
      const shards: { name: string; storageType: 'FloatStorage'; shape: number[]; data: Uint8Array }[][] = [[], []];
      for (const name of src.tensors.keys()) {
        const t = src.readTensor(name);
        const split = name === 'rope.freqs' ? 'replicated' : name === 'tok_embeddings.weight' ? embSplit : metaShardSplit(name);
        assert.ok(split !== undefined, name);
        const f = asF32(t);
        for (let s = 0; s < 2; s++) {
          let shape = [...t.shape];
          let part: Float32Array;
          if (split === 'replicated') part = f;
          else if (split === 0) {
            shape = [t.shape[0]! / 2, t.shape[1]!];
            part = f.slice(s * f.length / 2, (s + 1) * f.length / 2);
          } else {
            const [rows, cols] = t.shape as [number, number];
            shape = [rows, cols / 2];
            part = new Float32Array(rows * cols / 2);
            for (let r = 0; r < rows; r++) part.set(f.subarray(r * cols + s * cols / 2, r * cols + (s + 1) * cols / 2), r * cols / 2);
          }
          shards[s]!.push({ name, storageType: 'FloatStorage', shape, data: new Uint8Array(part.buffer.slice(part.byteOffset, part.byteOffset + part.byteLength)) });
        }
      }
      src.close();
      shards.forEach((sh, s) => writeFileSync(join(dir, `consolidated.0${s}.pth`), torchSaveContiguous(`consolidated.0${s}`, sh)));
      copyFileSync(GOLDEN('llama2-gqa-tiny', 'params.json'), join(dir, 'params.json'));
      const merged = await loadModel(dir);
      const original = await loadModel(GOLDEN('llama2-gqa-tiny', 'consolidated.00.pth'));
      assert.deepEqual(merged.config, original.config);
      assertSameWeights(merged, original, 'merged shards vs original');
      assert.deepEqual(detectModel(join(dir, 'consolidated.01.pth')).files.length, 2);
    } finally {
      cleanup();
    }
  });
}

test('load: a Meta checkpoint without output.weight is read as tied', needsShared('golden/llama1-tiny'), async () => {
  const { dir, cleanup } = tempDir('meta');
  try {
    const src = PthFile.open(GOLDEN('llama1-tiny', 'consolidated.00.pth'));
    const tensors = [...src.tensors.keys()].filter((n) => n !== 'output.weight').map((n) => {
      const t = src.readTensor(n);
      return { name: n, storageType: 'FloatStorage' as const, shape: [...t.shape], data: t.data };
    });
    src.close();
    writeFileSync(join(dir, 'consolidated.00.pth'), torchSaveContiguous('consolidated.00', tensors));
    copyFileSync(GOLDEN('llama1-tiny', 'params.json'), join(dir, 'params.json'));
    const m = await loadModel(dir);
    assert.equal(m.config.tiedEmbeddings, true);
    assert.equal(m.weights.output, undefined);
  } finally {
    cleanup();
  }
});

test('load: concatTensors joins along dim 0 and dim 1', () => {
  const a = f32Tensor('a', [2, 2], new Float32Array([1, 2, 3, 4]));
  const b = f32Tensor('b', [2, 1], new Float32Array([5, 6]));
  assert.deepEqual([...asF32(concatTensors('x', [a, b], 1))], [1, 2, 5, 3, 4, 6]);
  const c = f32Tensor('c', [1, 2], new Float32Array([7, 8]));
  const r = concatTensors('y', [a, c], 0);
  assert.deepEqual(r.shape, [3, 2]);
  assert.deepEqual([...asF32(r)], [1, 2, 3, 4, 7, 8]);
});

test('load: GGUF float32 hyper-parameters are read back as the decimals they came from', () => {
  assert.equal(shortestFloat32(Math.fround(1e-6)), 1e-6);
  assert.equal(shortestFloat32(Math.fround(1e-5)), 1e-5);
  assert.equal(shortestFloat32(Math.fround(500000)), 500000);
  assert.equal(shortestFloat32(Math.fround(0.1)), 0.1);
});

test('load: wrong shapes, missing tensors, bad configs and unknown files are typed errors', needsShared('golden/llama1-tiny'), async () => {
  const { dir, cleanup } = tempDir('load');
  try {
    const hf = join(dir, 'hf');
    mkdirSync(hf);
    copyFileSync(GOLDEN('llama1-tiny', 'model.safetensors'), join(hf, 'model.safetensors'));
    const cfg = JSON.parse(readFileSync(GOLDEN('llama1-tiny', 'config.json'), 'utf8'));
    writeFileSync(join(hf, 'config.json'), JSON.stringify({ ...cfg, intermediate_size: 256 }));
    let e = await expectCodeAsync(() => loadModel(hf), 'TENSOR_SHAPE');
    assert.match(e.message, /model\.layers\.0\.mlp\.(gate|up|down)_proj\.weight has shape/);
    writeFileSync(join(hf, 'config.json'), JSON.stringify({ ...cfg, num_hidden_layers: 3 }));
    e = await expectCodeAsync(() => loadModel(hf), 'TENSOR_MISSING');
    assert.match(e.message, /model\.layers\.2\./);
    writeFileSync(join(hf, 'config.json'), JSON.stringify({ ...cfg, num_key_value_heads: 3 }));
    await expectCodeAsync(() => loadModel(hf), 'MODEL_CONFIG');
    writeFileSync(join(hf, 'config.json'), JSON.stringify({ ...cfg, hidden_size: 'big' }));
    await expectCodeAsync(() => loadModel(hf), 'MODEL_CONFIG');
    writeFileSync(join(hf, 'config.json'), '{"hidden_size": 64,');
    await expectCodeAsync(() => loadModel(hf), 'FORMAT_CORRUPT');
    writeFileSync(join(hf, 'config.json'), JSON.stringify({ ...cfg, model_type: 'gpt2' }));
    await expectCodeAsync(() => loadModel(hf), 'FORMAT_UNSUPPORTED');
    // tied embeddings: lm_head is ignored and output is absent
    writeFileSync(join(hf, 'config.json'), JSON.stringify({ ...cfg, tie_word_embeddings: true }));
    const tied = await loadModel(hf);
    assert.equal(tied.config.tiedEmbeddings, true);
    assert.equal(tied.weights.output, undefined);
    // llama3 rope scaling is mapped
    writeFileSync(join(hf, 'config.json'), JSON.stringify({ ...cfg, rope_theta: 500000, rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 } }));
    const l3 = await loadModel(hf);
    assert.deepEqual(l3.config.ropeScaling, { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContextLength: 8192 });
    assert.equal(l3.config.ropeTheta, 500000);
    // a tokenizer beside the model is found
    writeFileSync(join(hf, 'tokenizer.json'), '{}');
    assert.equal((await loadModel(hf)).tokenizerPath, join(hf, 'tokenizer.json'));
    // safetensors without config.json
    const bare = join(dir, 'bare');
    mkdirSync(bare);
    writeSafetensors(join(bare, 'x.safetensors'), [f32Tensor('a', [1], new Float32Array([1]))]);
    await expectCodeAsync(() => loadModel(join(bare, 'x.safetensors')), 'MODEL_CONFIG');
    // Meta: params.json with vocab_size -1 takes the vocabulary from tok_embeddings; use_scaled_rope -> llama3
    const meta = join(dir, 'meta');
    mkdirSync(meta);
    copyFileSync(GOLDEN('llama1-tiny', 'consolidated.00.pth'), join(meta, 'consolidated.00.pth'));
    writeFileSync(join(meta, 'params.json'), JSON.stringify({ dim: 64, multiple_of: 32, n_heads: 4, n_layers: 2, norm_eps: 1e-6, vocab_size: -1, rope_theta: 500000, use_scaled_rope: true }));
    writeFileSync(join(dir, 'tokenizer.model'), 'x');
    const m = await loadModel(meta);
    assert.equal(m.config.vocabSize, 256);
    assert.equal(m.config.ropeTheta, 500000);
    assert.equal(m.config.contextLength, 131072);
    assert.deepEqual(m.config.ropeScaling, { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContextLength: 8192 });
    assert.equal(m.tokenizerPath, join(dir, 'tokenizer.model')); // LLaMA 1 layout: one level up
    writeFileSync(join(meta, 'params.json'), JSON.stringify({ dim: 64, multiple_of: 100, n_heads: 4, n_layers: 2, vocab_size: -1 }));
    await expectCodeAsync(() => loadModel(meta), 'TENSOR_SHAPE'); // ffn rounds 170 up to 200, the file has 192
  } finally {
    cleanup();
  }
});

test('load: paths that are not models', async () => {
  const { dir, cleanup } = tempDir('load');
  try {
    await expectCodeAsync(() => loadModel(join(dir, 'nope.gguf')), 'MODEL_NOT_FOUND');
    await expectCodeAsync(() => loadModel(dir), 'MODEL_NOT_FOUND');
    writeFileSync(join(dir, 'notes.txt'), 'hello world, not a model');
    await expectCodeAsync(() => loadModel(join(dir, 'notes.txt')), 'FORMAT_UNKNOWN');
    writeFileSync(join(dir, 'pytorch_model.bin'), torchSaveContiguous('archive', []));
    await expectCodeAsync(() => loadModel(join(dir, 'pytorch_model.bin')), 'FORMAT_UNSUPPORTED');
    writeFileSync(join(dir, 'lonely.pth'), torchSaveContiguous('archive', []));
    await expectCodeAsync(() => loadModel(join(dir, 'lonely.pth')), 'MODEL_CONFIG'); // no params.json beside it
  } finally {
    cleanup();
  }
});
