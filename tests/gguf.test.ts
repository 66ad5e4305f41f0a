// GGUF reader against files written by llama.cpp's gguf-py and llama-quantize (../shared), whose
// metadata and tensor offsets are recorded independently in the golden JSON files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { openGguf, ggufValueToJson, GgufType } from '../src/formats/gguf.js';
import { GENERAL, LLM, TOKENIZER, TENSOR, weightName } from '../src/formats/gguf-keys.js';
import { dtypeName } from '../src/tensor/dtype.js';
import { needsShared, sharedData } from './helpers/shared.js';
import { loadGoldenQuant, needsAll } from './helpers/golden-quant.js';

/** The golden files that have a .gguf beside them (F16's is rebuilt in quant.test.ts). */
const QUANT_FILES = ['F32', 'Q8_0', 'Q4_0', 'Q4_K_M', 'Q6_K'];

test('llama1-tiny model-f32.gguf metadata equals golden.json gguf_metadata', needsShared('golden/llama1-tiny/model-f32.gguf'), () => {
  const golden = JSON.parse(readFileSync(sharedData('golden/llama1-tiny/golden.json'), 'utf8')) as { gguf_metadata: Record<string, unknown> };
  const g = openGguf(sharedData('golden/llama1-tiny/model-f32.gguf'));
  try {
    assert.equal(g.version, 3);
    assert.equal(g.alignment, 32);
    const got = Object.fromEntries([...g.metadata].map(([k, v]) => [k, ggufValueToJson(v)]));
    assert.deepEqual(got, golden.gguf_metadata);
    // the epsilon is a float32: 1e-6 reads back as 9.99999997e-07
    assert.equal(g.metadata.get('llama.attention.layer_norm_rms_epsilon')?.type, GgufType.FLOAT32);
    assert.equal(g.getString(GENERAL.ARCHITECTURE), 'llama');
    assert.equal(g.getNumber(LLM.EMBEDDING_LENGTH('llama')), 64);
    // 21 tensors: token_embd, 9 per layer × 2, output_norm, output; ne is the torch shape reversed
    assert.equal(g.tensors.length, 21);
    const q = g.getTensorInfo(weightName(TENSOR.FFN_GATE(0)));
    assert.deepEqual(q.ne, [64, 192]);
    assert.deepEqual(q.shape, [192, 64]);
    const t = g.readTensor(weightName(TENSOR.TOKEN_EMBD));
    assert.deepEqual(t.shape, [256, 64]);
    assert.equal(t.data.byteLength, 256 * 64 * 4);
  } finally {
    g.close();
  }
});

test('llama2-gqa-tiny model-f32.gguf metadata equals golden.json gguf_metadata', needsShared('golden/llama2-gqa-tiny/model-f32.gguf'), () => {
  const golden = JSON.parse(readFileSync(sharedData('golden/llama2-gqa-tiny/golden.json'), 'utf8')) as { gguf_metadata: Record<string, unknown> };
  const g = openGguf(sharedData('golden/llama2-gqa-tiny/model-f32.gguf'));
  try {
    const got = Object.fromEntries([...g.metadata].map(([k, v]) => [k, ggufValueToJson(v)]));
    assert.deepEqual(got, golden.gguf_metadata);
    assert.deepEqual(g.getTensorInfo('blk.1.attn_k.weight').shape, [32, 128]);
  } finally {
    g.close();
  }
});

test('vocab GGUF (ggml-vocab-llama-spm.gguf) tokenizer metadata', needsAll('tokenizer/llama.cpp/ggml-vocab-llama-spm.gguf', 'golden/quant/golden-F32.json.gz'), () => {
  // The quant goldens copied their tokenizer keys unchanged from this file (golden/quant/README.md).
  const golden = loadGoldenQuant('F32');
  const g = openGguf(sharedData('tokenizer/llama.cpp/ggml-vocab-llama-spm.gguf'));
  try {
    assert.equal(g.tensors.length, 0);
    for (const [k, v] of Object.entries(golden.metadata)) {
      if (!k.startsWith('tokenizer.')) continue;
      assert.deepEqual(ggufValueToJson(g.metadata.get(k)!), v, k);
    }
    const tokens = g.getStringArray(TOKENIZER.TOKENS);
    assert.equal(tokens.length, 32000);
    assert.deepEqual(tokens.slice(0, 4), ['<unk>', '<s>', '</s>', '<0x00>']);
    assert.equal(tokens[450], '▁The'); // prompt piece from golden/quant/README.md
    assert.equal(tokens[29916], 'x');
    const scores = g.getArray(TOKENIZER.SCORES);
    assert.equal(scores.elemType, GgufType.FLOAT32);
    assert.ok(scores.values instanceof Float32Array && scores.values.length === 32000);
    const types = g.getArray(TOKENIZER.TOKEN_TYPE);
    assert.equal(types.elemType, GgufType.INT32);
    assert.deepEqual(Array.from(types.values as Int32Array).slice(0, 4), [2, 3, 3, 6]);
    assert.equal(g.getBool(TOKENIZER.ADD_BOS), true);
  } finally {
    g.close();
  }
});

for (const ftype of QUANT_FILES) {
  test(`golden/quant tiny-${ftype}.gguf: metadata, tensor types and data offsets match the JSON`, needsAll(`golden/quant/golden-${ftype}.json.gz`, `golden/quant/tiny-${ftype === 'F32' ? 'f32' : ftype}.gguf`), () => {
    const golden = loadGoldenQuant(ftype);
    const g = openGguf(sharedData('golden/quant', golden.file));
    try {
      for (const [k, v] of Object.entries(golden.metadata)) assert.deepEqual(ggufValueToJson(g.metadata.get(k)!), v, k);
      // the JSON leaves out only the three 32000-entry tokenizer arrays
      assert.equal(g.metadata.size, Object.keys(golden.metadata).length + 3);
      assert.equal(g.tensors.length, golden.tensors.length);
      golden.tensors.forEach((want, i) => {
        const t = g.tensors[i]!;
        assert.equal(t.name, want.name);
        assert.equal(dtypeName(t.type), want.type, t.name);
        assert.equal(golden.tensor_types[t.name], want.type);
        assert.deepEqual(t.ne, want.ne, t.name);
        assert.equal(t.nBytes, want.n_bytes, t.name);
        assert.equal(t.fileOffset, want.data_offset_in_file, t.name);
      });
    } finally {
      g.close();
    }
  });
}
