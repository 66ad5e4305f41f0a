import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PthFile } from '../src/formats/pth.js';
import { unpickle, PickleDict } from '../src/formats/pickle.js';
import { SafetensorsFile } from '../src/formats/safetensors.js';
import { DType } from '../src/tensor/dtype.js';
import { asF32 } from '../src/tensor/tensor.js';
import { floatToHalf, halfToFloat, floatToBf16, bf16ToFloat } from '../src/tensor/f16.js';
import { needsShared, sharedData } from './helpers/shared.js';
import { expectCode, tempDir, truncationPoints } from './helpers/corrupt.js';
import { pickleStateDict, torchSave, torchSaveContiguous, zipStored, type TorchTensorSpec } from './helpers/torch-zip.js';

const PTH = (m: string) => sharedData('golden', m, 'consolidated.00.pth');

test('pth: reads the golden torch.save checkpoint', needsShared('golden/llama2-gqa-tiny'), () => {
  const f = PthFile.open(PTH('llama2-gqa-tiny'));
  try {
    assert.equal(f.prefix, 'consolidated.00');
    assert.equal(f.tensors.size, 22); // 2 × 9 layer tensors + tok_embeddings, norm, output, rope.freqs
    const wk = f.tensors.get('layers.1.attention.wk.weight')!;
    assert.deepEqual(wk.shape, [32, 128]);
    assert.deepEqual(wk.stride, [128, 1]);
    assert.equal(wk.storageType, 'FloatStorage');
    assert.ok(wk.contiguous);
    // rope.freqs is Meta's 1/theta^(2i/head_dim) table: an independent check of the bytes we read
    const freqs = asF32(f.readTensor('rope.freqs'));
    assert.equal(freqs.length, 8);
    for (let i = 0; i < 8; i++) assert.ok(Math.abs(freqs[i]! - 1 / 10000 ** ((2 * i) / 16)) < 1e-6 * Math.max(1, freqs[i]!), `freq ${i}`);
  } finally {
    f.close();
  }
});

test('pth: tensors equal the HF safetensors copies (v, o, ffn, norms are not permuted)', needsShared('golden/llama1-tiny'), () => {
  const f = PthFile.open(PTH('llama1-tiny'));
  const s = SafetensorsFile.open(sharedData('golden', 'llama1-tiny', 'model.safetensors'));
  try {
    const pairs: [string, string][] = [
      ['tok_embeddings.weight', 'model.embed_tokens.weight'],
      ['layers.1.attention.wv.weight', 'model.layers.1.self_attn.v_proj.weight'],
      ['layers.0.feed_forward.w2.weight', 'model.layers.0.mlp.down_proj.weight'],
      ['norm.weight', 'model.norm.weight'],
      ['output.weight', 'lm_head.weight'],
    ];
    for (const [m, h] of pairs) assert.deepEqual(f.readTensor(m).data, s.readTensor(h).data, m);
  } finally {
    f.close();
    s.close();
  }
});

test('pth: storage offsets, shared storages and half storages; non-contiguous views are refused', () => {
  const { dir, cleanup } = tempDir('pth');
  try {
    // one 12-float storage holding a (2,3) tensor at offset 2 and a transposed (3,2) view at 0
    const storage = new Float32Array(Array.from({ length: 12 }, (_, i) => i * 0.5));
    const half = new Uint16Array([floatToHalf(1), floatToHalf(-2.5), floatToHalf(0.125), floatToHalf(7)]);
    const specs: TorchTensorSpec[] = [
      { name: 'view', storageType: 'FloatStorage', key: '0', storageNumel: 12, storageOffset: 2, shape: [2, 3], stride: [3, 1] },
      { name: 'transposed', storageType: 'FloatStorage', key: '0', storageNumel: 12, storageOffset: 0, shape: [3, 2], stride: [1, 3] },
      { name: 'unit', storageType: 'FloatStorage', key: '0', storageNumel: 12, storageOffset: 5, shape: [1, 4], stride: [99, 1] },
      { name: 'h', storageType: 'HalfStorage', key: 'h', storageNumel: 4, storageOffset: 1, shape: [3], stride: [1] },
      { name: 'bf', storageType: 'BFloat16Storage', key: 'b', storageNumel: 2, storageOffset: 0, shape: [2], stride: [1] },
    ];
    const bf = new Uint16Array([floatToBf16(1.5), floatToBf16(-3)]);
    const p = join(dir, 'x.pth');
    writeFileSync(p, torchSave('archive', specs, new Map([['0', new Uint8Array(storage.buffer)], ['h', new Uint8Array(half.buffer)], ['b', new Uint8Array(bf.buffer)]])));
    const f = PthFile.open(p);
    assert.deepEqual([...asF32(f.readTensor('view'))], [1, 1.5, 2, 2.5, 3, 3.5]);
    assert.deepEqual([...asF32(f.readTensor('unit'))], [2.5, 3, 3.5, 4]); // size-1 dims may have any stride
    const h = f.readTensor('h');
    assert.equal(h.type, DType.F16);
    assert.deepEqual([...new Uint16Array(h.data.slice().buffer)].map(halfToFloat), [-2.5, 0.125, 7]);
    const b = f.readTensor('bf');
    assert.equal(b.type, DType.BF16);
    assert.deepEqual([...new Uint16Array(b.data.slice().buffer)].map(bf16ToFloat), [1.5, -3]);
    assert.equal(f.tensors.get('transposed')!.contiguous, false);
    const e = expectCode(() => f.readTensor('transposed'), 'FORMAT_UNSUPPORTED');
    assert.match(e.message, /transposed.*not contiguous/);
    f.close();
  } finally {
    cleanup();
  }
});

test('pth: the pickle VM refuses anything that is not tensor data', () => {
  const file = 'test.pkl';
  // An unknown GLOBAL (the classic os.system payload) is refused before anything could run.
  const evil = new Uint8Array([0x80, 2, 0x63, ...new TextEncoder().encode('os\nsystem\n'), 0x58, 2, 0, 0, 0, 0x6c, 0x73, 0x85, 0x52, 0x2e]);
  assert.match(expectCode(() => unpickle(evil, file), 'FORMAT_UNSUPPORTED').message, /refusing GLOBAL os\.system/);
  // unknown opcode (INST 'i')
  expectCode(() => unpickle(new Uint8Array([0x80, 2, 0x69, 0x2e]), file), 'FORMAT_UNSUPPORTED', 'opcode');
  // STACK_GLOBAL of builtins.eval
  const sg = new Uint8Array([0x80, 4, 0x8c, 8, ...new TextEncoder().encode('builtins'), 0x8c, 4, ...new TextEncoder().encode('eval'), 0x93, 0x2e]);
  expectCode(() => unpickle(sg, file), 'FORMAT_UNSUPPORTED', 'stack global');
  // malformed: stack underflow, missing MARK, bad memo, truncated string, missing STOP
  expectCode(() => unpickle(new Uint8Array([0x80, 2, 0x2e]), file), 'FORMAT_CORRUPT', 'underflow');
  expectCode(() => unpickle(new Uint8Array([0x80, 2, 0x7d, 0x75, 0x2e]), file), 'FORMAT_CORRUPT', 'no mark');
  expectCode(() => unpickle(new Uint8Array([0x80, 2, 0x68, 7, 0x2e]), file), 'FORMAT_CORRUPT', 'memo');
  expectCode(() => unpickle(new Uint8Array([0x80, 2, 0x58, 0xff, 0xff, 0xff, 0x7f, 0x61]), file), 'FORMAT_TRUNCATED', 'huge string length');
  expectCode(() => unpickle(new Uint8Array([0x80, 2, 0x7d]), file), 'FORMAT_TRUNCATED', 'no STOP');
  expectCode(() => unpickle(new Uint8Array([0x80, 2, 0x4b, 1, 0x4b, 2, 0x73, 0x2e]), file), 'FORMAT_CORRUPT', 'setitem on int');
  // a 1 MB py2 string is data like any other (no stack overflow in decoding it)
  const big = new Uint8Array(1 + 4 + (1 << 20) + 1);
  big[0] = 0x54; // BINSTRING
  new DataView(big.buffer).setInt32(1, 1 << 20, true);
  big.fill(0x61, 5, 5 + (1 << 20));
  big[big.length - 1] = 0x2e;
  assert.equal((unpickle(big, file) as string).length, 1 << 20);
  // ...and so is a list of 500k items built by one APPENDS
  const n = 500_000;
  const many = new Uint8Array(4 + 2 * n);
  many.set([0x5d, 0x28], 0); // EMPTY_LIST, MARK
  for (let i = 0; i < n; i++) many.set([0x4b, i & 0xff], 2 + 2 * i); // BININT1
  many.set([0x65, 0x2e], 2 + 2 * n); // APPENDS, STOP
  assert.equal((unpickle(many, file) as unknown[]).length, n);
  // a plain dict of ints parses (BININT*, LONG1, SETITEM)
  const ok = unpickle(new Uint8Array([0x80, 2, 0x7d, 0x58, 1, 0, 0, 0, 0x61, 0x8a, 2, 0xff, 0x7f, 0x73, 0x2e]), file);
  assert.ok(ok instanceof PickleDict);
  assert.equal(ok.map.get('a'), 0x7fff);
  // every truncation of a real state-dict pickle is a typed error
  const pkl = pickleStateDict([{ name: 'w', storageType: 'FloatStorage', key: '0', storageNumel: 4, storageOffset: 0, shape: [2, 2], stride: [2, 1] }]);
  for (let n = 0; n < pkl.length; n++) expectCode(() => unpickle(pkl.subarray(0, n), file), ['FORMAT_TRUNCATED', 'FORMAT_CORRUPT'], `pickle cut at ${n}`);
});

test('pth: corrupted archives give typed errors', needsShared('golden/llama1-tiny'), () => {
  const { dir, cleanup } = tempDir('pth');
  const p = join(dir, 'bad.pth');
  const check = (bytes: Uint8Array, codes: Parameters<typeof expectCode>[1], what: string) => {
    writeFileSync(p, bytes);
    const e = expectCode(() => PthFile.open(p), codes, what);
    assert.ok(e.message.includes(p), `${what}: message names the file`);
  };
  try {
    const full = new Uint8Array(readFileSync(PTH('llama1-tiny')));
    for (const at of truncationPoints(full.length)) check(full.subarray(0, at), ['FORMAT_MAGIC', 'FORMAT_TRUNCATED', 'FORMAT_CORRUPT'], `truncated at ${at}`);
    // central-directory garbage: overwrite the first central entry's signature
    const cdOffset = new DataView(full.buffer).getUint32(full.length - 22 + 16, true);
    const g1 = full.slice();
    g1.fill(0x41, cdOffset, cdOffset + 8);
    check(g1, 'FORMAT_CORRUPT', 'central directory garbage');
    // EOCD claiming more entries than the directory can hold
    const g2 = full.slice();
    new DataView(g2.buffer).setUint16(g2.length - 22 + 10, 60000, true);
    check(g2, 'FORMAT_CORRUPT', 'entry count');
    // central directory offset past the end
    const g3 = full.slice();
    new DataView(g3.buffer).setUint32(g3.length - 22 + 16, 0x7fffffff, true);
    check(g3, 'FORMAT_TRUNCATED', 'cd offset');
    // torch writes ZIP64 end records too: with the 32-bit offset masked, the ZIP64 record is used...
    const g4 = full.slice();
    new DataView(g4.buffer).setUint32(g4.length - 22 + 16, 0xffffffff, true);
    writeFileSync(p, g4);
    const viaZip64 = PthFile.open(p);
    assert.equal(viaZip64.tensors.size, 22);
    assert.deepEqual(viaZip64.readTensor('norm.weight').data, PthFile.open(PTH('llama1-tiny')).readTensor('norm.weight').data);
    viaZip64.close();
    // ...and a damaged ZIP64 locator or record is a typed error
    const g5 = g4.slice();
    g5[g5.length - 22 - 20] = 0;
    check(g5, 'FORMAT_CORRUPT', 'zip64 locator signature');
    const g6 = g4.slice();
    new DataView(g6.buffer).setBigUint64(g6.length - 22 - 20 + 8, 1n << 40n, true);
    check(g6, 'FORMAT_CORRUPT', 'zip64 record offset');
    const g7 = g4.slice();
    new DataView(g7.buffer).setBigUint64(g7.length - 22 - 56 - 20 + 48, 1n << 50n, true);
    check(g7, 'FORMAT_TRUNCATED', 'zip64 cd offset');
    check(new TextEncoder().encode('definitely not a zip file, just some text here'), 'FORMAT_MAGIC', 'not a zip');
    // a compressed (deflate) entry
    check(zipStored([{ name: 'a/data.pkl', data: new Uint8Array([1, 2, 3]), method: 8 }]), 'FORMAT_UNSUPPORTED', 'deflate');
    // archives without data.pkl, pickle errors, missing storage, storage too small, view out of range
    check(zipStored([{ name: 'a/other', data: new Uint8Array(3) }]), 'FORMAT_CORRUPT', 'no data.pkl');
    const spec = (o: Partial<TorchTensorSpec> = {}): TorchTensorSpec => ({ name: 'w', storageType: 'FloatStorage', key: '0', storageNumel: 4, storageOffset: 0, shape: [2, 2], stride: [2, 1], ...o });
    const st = new Map([['0', new Uint8Array(16)]]);
    check(torchSave('a', [spec()], st, { extraGlobal: 'subprocess\nPopen\n' }), 'FORMAT_UNSUPPORTED', 'unknown GLOBAL');
    check(torchSave('a', [spec()], st, { pickle: new Uint8Array([0x80, 2, 0x7d, 0x28, 0x2e]) }), 'FORMAT_CORRUPT', 'malformed pickle');
    check(torchSave('a', [spec({ key: '9' })], st), 'FORMAT_CORRUPT', 'missing storage');
    check(torchSave('a', [spec({ storageNumel: 100 })], st), 'FORMAT_BOUNDS', 'storage larger than its entry');
    check(torchSave('a', [spec({ storageOffset: 3 })], st), 'FORMAT_BOUNDS', 'view past the storage');
    check(torchSave('a', [spec({ shape: [2, 2, 2] })], st), 'FORMAT_CORRUPT', 'size/stride rank mismatch');
  } finally {
    cleanup();
  }
});

test('pth: the test writer round-trips through the reader', () => {
  const { dir, cleanup } = tempDir('pth');
  try {
    const a = new Float32Array([1, -2, 3, -4, 5, -6]);
    const p = join(dir, 'rt.pth');
    writeFileSync(p, torchSaveContiguous('rt', [{ name: 'a', storageType: 'FloatStorage', shape: [3, 2], data: new Uint8Array(a.buffer) }]));
    copyFileSync(p, join(dir, 'copy.pth'));
    const f = PthFile.open(join(dir, 'copy.pth'));
    assert.deepEqual([...asF32(f.readTensor('a'))], [...a]);
    assert.deepEqual(f.tensors.get('a')!.shape, [3, 2]);
    f.close();
  } finally {
    cleanup();
  }
});
