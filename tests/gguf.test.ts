// GGUF reader against files written by llama.cpp's gguf-py and llama-quantize (../shared), whose
// metadata and tensor offsets are recorded independently in the golden JSON files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, ftruncateSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openGguf, ggufValueToJson, GgufType } from '../src/formats/gguf.js';
import { ATTENTION, GENERAL, LLM, ROPE, TOKENIZER, TENSOR, weightName } from '../src/formats/gguf-keys.js';
import { DType, dtypeName, dtypeFromName } from '../src/tensor/dtype.js';
import { gv, planGguf, writeGguf, type LazyTensor } from '../src/formats/gguf-write.js';
import { dequantize, quantize } from '../src/tensor/quant.js';
import { makeTensor } from '../src/tensor/tensor.js';
import { LlamaError } from '../src/errors.js';
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
    // a token that is just U+FEFF: a UTF-8 decoder that strips BOMs would lose it
    assert.equal(tokens[30143], '\uFEFF');
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

// ---- writer ----

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'llama-ts-gguf-'));
}

test('writer round trip: every metadata value type, nested arrays, several tensor types', () => {
  const dir = tempDir();
  try {
    const path = join(dir, 'rt.gguf');
    const metadata = new Map([
      ['general.architecture', gv.str('llama')],
      ['t.u8', gv.u8(255)],
      ['t.i8', gv.i8(-128)],
      ['t.u16', gv.u16(65535)],
      ['t.i16', gv.i16(-32768)],
      ['t.u32', gv.u32(0xffffffff)],
      ['t.i32', gv.i32(-0x80000000)],
      ['t.f32', gv.f32(Math.fround(1e-5))],
      ['t.f64', gv.f64(Math.PI)],
      ['t.u64', gv.u64(2n ** 64n - 1n)],
      ['t.i64', gv.i64(-(2n ** 63n))],
      ['t.bool', gv.bool(true)],
      ['t.str', gv.str('héllo ▁world \uFEFF 🦙')],
      ['t.empty', gv.str('')],
      ['t.arr.str', gv.arr(GgufType.STRING, ['<unk>', '', '\uFEFF', '▁the'])],
      ['t.arr.f32', gv.arr(GgufType.FLOAT32, new Float32Array([0, -1.5, 3.25]))],
      ['t.arr.i32', gv.arr(GgufType.INT32, new Int32Array([1, -2, 3]))],
      ['t.arr.u8', gv.arr(GgufType.UINT8, new Uint8Array([1, 2, 255]))],
      ['t.arr.u64', gv.arr(GgufType.UINT64, new BigUint64Array([0n, 2n ** 63n]))],
      ['t.arr.bool', gv.arr(GgufType.BOOL, [true, false])],
      ['t.arr.empty', gv.arr(GgufType.INT32, new Int32Array(0))],
      ['t.arr.nested', gv.arr(GgufType.ARRAY, [{ elemType: GgufType.STRING, values: ['a', 'b'] }, { elemType: GgufType.INT16, values: new Int16Array([-7]) }])],
    ] as const);
    const x = new Float32Array(2 * 256).map((_, i) => Math.sin(i) * 0.1);
    const tensors = [
      makeTensor('a.f32', DType.F32, [3], new Uint8Array(new Float32Array([1, 2, 3]).buffer)),
      makeTensor('b.f16', DType.F16, [2, 256], quantize(DType.F16, x, 256)),
      makeTensor('c.q8_0', DType.Q8_0, [2, 256], quantize(DType.Q8_0, x, 256)),
      makeTensor('d.q4_k', DType.Q4_K, [2, 256], quantize(DType.Q4_K, x, 256)),
      makeTensor('e.q6_k', DType.Q6_K, [1, 2, 256], quantize(DType.Q6_K, x, 256)),
      makeTensor('f.bf16', DType.BF16, [512], quantize(DType.BF16, x, 512)),
    ];
    const written = writeGguf(path, { metadata, tensors });
    assert.equal(readdirSync(dir).length, 1, 'no temporary file left behind');
    const g = openGguf(path);
    try {
      assert.equal(g.version, 3);
      assert.equal(g.fileSize, written);
      assert.equal(g.fileSize % 32, 0);
      assert.deepEqual([...g.metadata.keys()], [...metadata.keys()]);
      for (const [k, v] of metadata) {
        const got = g.metadata.get(k)!;
        assert.equal(got.type, v.type, k);
        assert.deepEqual(ggufValueToJson(got), ggufValueToJson(v), k);
      }
      assert.equal(g.getArray('t.arr.f32').values.constructor, Float32Array);
      tensors.forEach((t, i) => {
        const info = g.tensors[i]!;
        assert.equal(info.name, t.name);
        assert.equal(info.type, t.type);
        assert.deepEqual(info.shape, t.shape);
        assert.deepEqual(info.ne, [...t.shape].reverse());
        assert.equal(info.fileOffset % 32, 0);
        assert.deepEqual(g.readTensor(info).data, t.data);
      });
    } finally {
      g.close();
    }
    // a custom alignment from general.alignment
    const p64 = join(dir, 'a64.gguf');
    writeGguf(p64, { metadata: [['general.alignment', gv.u32(64)]], tensors });
    const g64 = openGguf(p64);
    try {
      assert.equal(g64.alignment, 64);
      for (const t of g64.tensors) assert.equal(t.fileOffset % 64, 0);
      assert.deepEqual(g64.readTensor('d.q4_k').data, tensors[3]!.data);
    } finally {
      g64.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('writer rejects bad metadata and tensors with typed errors, leaving no file', () => {
  const dir = tempDir();
  try {
    const path = join(dir, 'bad.gguf');
    const isCode = (code: string) => (e: unknown) => e instanceof LlamaError && e.code === code;
    assert.throws(() => writeGguf(path, { metadata: [['x', gv.u8(256)]], tensors: [] }), isCode('FILE_WRITE'));
    assert.throws(() => writeGguf(path, { metadata: [['x', gv.u32(-1)]], tensors: [] }), isCode('FILE_WRITE'));
    assert.throws(() => writeGguf(path, { metadata: [['general.alignment', gv.u32(48)]], tensors: [] }), isCode('FILE_WRITE'));
    const lazy: LazyTensor = { name: 'w', type: DType.F32, shape: [4], read: () => new Uint8Array(12) };
    assert.throws(() => writeGguf(path, { metadata: [], tensors: [lazy] }), isCode('TENSOR_SHAPE'));
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * Rebuilds a whole llama-quantize output from tiny-f32.gguf with our quantizers and writer: same
 * metadata (taken from `metadataFrom`), the JSON's tensor order and types. Byte identity of the whole
 * file checks the writer's layout and padding as well as the quantized blocks.
 */
function rebuild(ftype: string, metadataFrom: string, fileType: number, dir: string): string {
  const golden = loadGoldenQuant(ftype);
  const f32 = openGguf(sharedData('golden/quant/tiny-f32.gguf'));
  const model = openGguf(sharedData('golden/quant', metadataFrom));
  try {
    const metadata = new Map(model.metadata);
    metadata.set(GENERAL.FILE_TYPE, gv.u32(fileType));
    const tensors: LazyTensor[] = golden.tensors.map((t) => ({
      name: t.name,
      type: dtypeFromName(t.type)!,
      shape: [...t.ne].reverse(),
      read() {
        const info = f32.getTensorInfo(t.name);
        return quantize(this.type, dequantize(DType.F32, f32.readTensor(info).data, info.nElements), info.ne[0]!);
      },
    }));
    const path = join(dir, `tiny-${ftype}.gguf`);
    writeGguf(path, { metadata, tensors });
    return path;
  } finally {
    f32.close();
    model.close();
  }
}

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

test('writer + quantizers rebuild tiny-F16.gguf bit for bit (SHA-256 from golden/quant/README.md)', needsAll('golden/quant/golden-F16.json.gz', 'golden/quant/tiny-f32.gguf', 'golden/quant/tiny-Q8_0.gguf'), () => {
  const dir = tempDir();
  try {
    // F16's metadata is Q8_0's with general.file_type 1 (the key order llama-quantize leaves)
    const path = rebuild('F16', 'tiny-Q8_0.gguf', 1, dir);
    const golden = loadGoldenQuant('F16');
    const g = openGguf(path);
    try {
      golden.tensors.forEach((want, i) => assert.equal(g.tensors[i]!.fileOffset, want.data_offset_in_file, want.name));
    } finally {
      g.close();
    }
    assert.equal(sha256(path), 'b0fb9081c0f91c7874961f77058fd32c23449d30a37852ce58b46b968c631f55');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('writer + quantizers rebuild tiny-Q4_K_M.gguf bit for bit', needsAll('golden/quant/golden-Q4_K_M.json.gz', 'golden/quant/tiny-f32.gguf', 'golden/quant/tiny-Q4_K_M.gguf'), () => {
  const dir = tempDir();
  try {
    const path = rebuild('Q4_K_M', 'tiny-Q4_K_M.gguf', 15, dir);
    assert.equal(sha256(path), sha256(sharedData('golden/quant/tiny-Q4_K_M.gguf')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a GGUF larger than 2 GiB opens lazily and reads a tensor stored past 2^31 (sparse file)', () => {
  const dir = tempDir();
  try {
    const path = join(dir, 'big.gguf');
    const small = new Float32Array([1.5, -2, 3, 4, 5, 6, 7, 8]);
    const tensors: LazyTensor[] = [
      // 20480 × 32768 F32 = 2.5 GiB of zeros, never materialised: the file is sparse
      { name: 'big', type: DType.F32, shape: [20480, 32768], read: () => assert.fail('not read') },
      { name: 'small', type: DType.F32, shape: [8], read: () => new Uint8Array(small.buffer) },
    ];
    const layout = planGguf({ metadata: [['general.architecture', gv.str('llama')]], tensors });
    const fd = openSync(path, 'w');
    try {
      writeSync(fd, layout.header, 0, layout.header.byteLength, 0);
      writeSync(fd, new Uint8Array(small.buffer), 0, 32, layout.dataStart + layout.offsets[1]!);
      ftruncateSync(fd, layout.fileSize);
    } finally {
      closeSync(fd);
    }
    const g = openGguf(path);
    try {
      assert.equal(g.fileSize, layout.fileSize);
      assert.ok(g.fileSize > 2 ** 31 + 2 ** 29);
      const info = g.getTensorInfo('small');
      assert.ok(info.fileOffset > 2 ** 31);
      assert.deepEqual(new Float32Array(g.readTensor(info).data.buffer), small);
      const bigInfo = g.getTensorInfo('big');
      assert.equal(bigInfo.nBytes, 20480 * 32768 * 4);
      assert.deepEqual(g.readTensorBytes(bigInfo, 2 ** 31 + 12, 8), new Uint8Array(8));
    } finally {
      g.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('GGUF v2 (same layout as v3 for little-endian files) reads identically', needsShared('golden/llama1-tiny/model-f32.gguf'), () => {
  const dir = tempDir();
  try {
    const buf = readFileSync(sharedData('golden/llama1-tiny/model-f32.gguf'));
    buf.writeUInt32LE(2, 4);
    const path = join(dir, 'v2.gguf');
    writeFileSync(path, buf);
    const v2 = openGguf(path);
    const v3 = openGguf(sharedData('golden/llama1-tiny/model-f32.gguf'));
    try {
      assert.equal(v2.version, 2);
      assert.deepEqual([...v2.metadata], [...v3.metadata]);
      assert.deepEqual(v2.tensors, v3.tensors);
      assert.deepEqual(v2.readTensor('output.weight').data, v3.readTensor('output.weight').data);
    } finally {
      v2.close();
      v3.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('typed metadata getters: wrong type and missing key are FORMAT_CORRUPT, missing tensor TENSOR_MISSING', needsShared('golden/llama1-tiny/model-f32.gguf'), () => {
  const g = openGguf(sharedData('golden/llama1-tiny/model-f32.gguf'));
  try {
    const code = (c: string) => (e: unknown) => e instanceof LlamaError && e.code === c && e.message.includes('model-f32.gguf');
    assert.throws(() => g.getNumber(GENERAL.ARCHITECTURE), code('FORMAT_CORRUPT'));
    assert.throws(() => g.getString(LLM.BLOCK_COUNT('llama')), code('FORMAT_CORRUPT'));
    assert.throws(() => g.getString('no.such.key'), code('FORMAT_CORRUPT'));
    assert.equal(g.optString('no.such.key'), undefined);
    assert.equal(g.optNumber(LLM.BLOCK_COUNT('llama')), 2);
    assert.throws(() => g.getTensorInfo('nope.weight'), code('TENSOR_MISSING'));
  } finally {
    g.close();
  }
});

test('gguf-keys covers every key and tensor name in the llama.cpp-written files', needsAll('golden/quant/tiny-Q4_K_M.gguf', 'golden/llama1-tiny/model-f32.gguf', 'tokenizer/llama.cpp/ggml-vocab-llama-spm.gguf'), () => {
  const keys = new Set<string>([
    ...Object.values(GENERAL),
    ...Object.values(TOKENIZER),
    ...[LLM, ATTENTION, ROPE].flatMap((group) => Object.values(group).map((k) => k('llama'))),
  ]);
  const names = new Set<string>([TENSOR.TOKEN_EMBD, TENSOR.OUTPUT_NORM, TENSOR.OUTPUT].map(weightName));
  for (let b = 0; b < 2; b++) {
    for (const k of ['ATTN_NORM', 'ATTN_Q', 'ATTN_K', 'ATTN_V', 'ATTN_OUT', 'FFN_NORM', 'FFN_GATE', 'FFN_DOWN', 'FFN_UP'] as const) names.add(weightName(TENSOR[k](b)));
  }
  for (const file of ['golden/quant/tiny-Q4_K_M.gguf', 'golden/llama1-tiny/model-f32.gguf', 'tokenizer/llama.cpp/ggml-vocab-llama-spm.gguf']) {
    const g = openGguf(sharedData(file));
    try {
      for (const k of g.metadata.keys()) assert.ok(keys.has(k), `${file}: key ${k} is not in gguf-keys.ts`);
      for (const t of g.tensors) assert.ok(names.has(t.name), `${file}: tensor ${t.name} is not in gguf-keys.ts`);
    } finally {
      g.close();
    }
  }
});
