// Corrupted and truncated versions of real GGUF files: every one must give a LlamaError with the
// expected stable code and a message naming the file; never a RangeError, a hang, or an allocation
// sized by a corrupt declared length.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openGguf } from '../src/formats/gguf.js';
import { LlamaError, type ErrorCode } from '../src/errors.js';
import { needsShared, sharedData } from './helpers/shared.js';
import { needsAll } from './helpers/golden-quant.js';

const MODEL = 'golden/llama1-tiny/model-f32.gguf';
const VOCAB = 'tokenizer/llama.cpp/ggml-vocab-llama-spm.gguf';

const dir = mkdtempSync(join(tmpdir(), 'llama-ts-corrupt-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
let counter = 0;

/** Writes `bytes` to a temp file, opens it as GGUF and returns the error (or undefined if it opened). */
function openError(bytes: Uint8Array): { err: unknown; path: string } {
  const path = join(dir, `c${counter++}.gguf`);
  writeFileSync(path, bytes);
  try {
    const g = openGguf(path);
    // Opened: every tensor must still be readable.
    try {
      for (const t of g.tensors) g.readTensor(t);
    } finally {
      g.close();
    }
    return { err: undefined, path };
  } catch (err) {
    return { err, path };
  } finally {
    rmSync(path, { force: true });
  }
}

function expectCode(bytes: Uint8Array, codes: ErrorCode | ErrorCode[], what: string): LlamaError {
  const { err, path } = openError(bytes);
  const allowed = Array.isArray(codes) ? codes : [codes];
  if (!(err instanceof LlamaError)) assert.fail(`${what}: expected LlamaError ${allowed.join('|')}, got ${err === undefined ? 'success' : String((err as Error).stack ?? err)}`);
  assert.ok(allowed.includes(err.code), `${what}: got ${err.code} (${err.message}), expected ${allowed.join('|')}`);
  assert.ok(err.message.includes(path), `${what}: message should name the file: ${err.message}`);
  return err;
}

function u64le(v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  return b;
}

function patched(src: Uint8Array, at: number, bytes: Uint8Array | number[]): Uint8Array {
  const out = src.slice();
  out.set(bytes, at);
  return out;
}

/** Offset of the u64 length that prefixes the string `s` in the header (first occurrence). */
function stringAt(buf: Uint8Array, s: string): number {
  const needle = Buffer.concat([Buffer.from(u64le(BigInt(Buffer.byteLength(s)))), Buffer.from(s)]);
  const i = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).indexOf(needle);
  assert.ok(i >= 0, `'${s}' not found`);
  return i;
}

/** Offsets of a tensor info's fields. */
function tensorInfoAt(buf: Uint8Array, name: string) {
  const at = stringAt(buf, name);
  const nDims = at + 8 + Buffer.byteLength(name);
  const dims = new DataView(buf.buffer, buf.byteOffset).getUint32(nDims, true);
  const ne = nDims + 4;
  const type = ne + 8 * dims;
  return { nDims, ne, type, offset: type + 4 };
}

test('truncated at every header offset and at many data offsets: FORMAT_TRUNCATED/LIMIT/BOUNDS', needsShared(MODEL), () => {
  const buf = new Uint8Array(readFileSync(sharedData(MODEL)));
  const g = openGguf(sharedData(MODEL));
  const dataOffset = g.dataOffset;
  g.close();
  const cuts: number[] = [];
  for (let k = 0; k < dataOffset; k += 3) cuts.push(k);
  for (let k = dataOffset; k < buf.byteLength; k += 4099) cuts.push(k);
  cuts.push(buf.byteLength - 1);
  for (const k of cuts) expectCode(buf.subarray(0, k), ['FORMAT_TRUNCATED', 'FORMAT_LIMIT', 'FORMAT_BOUNDS'], `cut at ${k}`);
});

test('vocab GGUF truncated inside its 32000-string arrays', needsShared(VOCAB), () => {
  const buf = new Uint8Array(readFileSync(sharedData(VOCAB)));
  for (let k = 0; k < buf.byteLength; k += 7919) expectCode(buf.subarray(0, k), ['FORMAT_TRUNCATED', 'FORMAT_LIMIT'], `cut at ${k}`);
});

test('bad magic, unknown version, version 1, big-endian', needsShared(MODEL), () => {
  const buf = new Uint8Array(readFileSync(sharedData(MODEL)));
  expectCode(patched(buf, 0, [0x47, 0x47, 0x4d, 0x4c]), 'FORMAT_MAGIC', 'GGML magic');
  expectCode(patched(buf, 0, [0, 0, 0, 0]), 'FORMAT_MAGIC', 'zero magic');
  expectCode(patched(buf, 4, [99, 0, 0, 0]), 'FORMAT_VERSION', 'version 99');
  expectCode(patched(buf, 4, [1, 0, 0, 0]), 'FORMAT_VERSION', 'version 1');
  expectCode(patched(buf, 4, [0, 0, 0, 3]), 'FORMAT_UNSUPPORTED', 'big-endian version 3');
  expectCode(new Uint8Array(0), 'FORMAT_TRUNCATED', 'empty file');
  expectCode(buf.subarray(0, 3), 'FORMAT_TRUNCATED', '3 bytes');
});

test('absurd declared counts and lengths fail fast without allocating', needsAll(MODEL, VOCAB), () => {
  const model = new Uint8Array(readFileSync(sharedData(MODEL)));
  const vocab = new Uint8Array(readFileSync(sharedData(VOCAB)));
  expectCode(patched(model, 8, u64le(1n << 60n)), 'FORMAT_LIMIT', 'tensor count 2^60');
  expectCode(patched(model, 16, u64le(1n << 60n)), 'FORMAT_LIMIT', 'metadata count 2^60');
  expectCode(patched(model, 8, u64le(100_000n)), 'FORMAT_LIMIT', 'tensor count 100000');
  expectCode(patched(model, 16, u64le(2n ** 64n - 1n)), 'FORMAT_LIMIT', 'metadata count 2^64-1');
  // the first key's length
  expectCode(patched(model, 24, u64le(1n << 40n)), 'FORMAT_LIMIT', 'key length 2^40');
  // the tokens array: key, u32 type ARRAY, u32 element type STRING, u64 count
  const tokens = stringAt(vocab, 'tokenizer.ggml.tokens') + 8 + 'tokenizer.ggml.tokens'.length;
  assert.deepEqual([...vocab.subarray(tokens, tokens + 8)], [9, 0, 0, 0, 8, 0, 0, 0]);
  expectCode(patched(vocab, tokens + 8, u64le(1n << 60n)), 'FORMAT_LIMIT', 'array count 2^60');
  expectCode(patched(vocab, tokens + 8, u64le(1n << 40n)), 'FORMAT_LIMIT', 'array count 2^40');
  // the first token string's length ('<unk>')
  expectCode(patched(vocab, tokens + 16, u64le(1n << 40n)), 'FORMAT_LIMIT', 'string length 2^40');
  expectCode(patched(vocab, tokens + 16, u64le(2n ** 63n)), 'FORMAT_LIMIT', 'string length 2^63');
  // the scores array: a float32 array of 2^60 elements
  const scores = stringAt(vocab, 'tokenizer.ggml.scores') + 8 + 'tokenizer.ggml.scores'.length;
  expectCode(patched(vocab, scores + 8, u64le(1n << 60n)), 'FORMAT_LIMIT', 'f32 array count 2^60');
  // array nesting: make the tokens array an array of arrays (its strings then read as arrays)
  expectCode(patched(vocab, tokens + 4, [9, 0, 0, 0]), ['FORMAT_LIMIT', 'FORMAT_CORRUPT', 'FORMAT_TRUNCATED'], 'array of arrays');
});

test('corrupt tensor infos: n_dims, ne, type, offset', needsShared(MODEL), () => {
  const buf = new Uint8Array(readFileSync(sharedData(MODEL)));
  const t = tensorInfoAt(buf, 'blk.0.attn_q.weight');
  expectCode(patched(buf, t.nDims, [5, 0, 0, 0]), 'FORMAT_CORRUPT', 'n_dims 5');
  expectCode(patched(buf, t.nDims, [0xff, 0xff, 0xff, 0xff]), 'FORMAT_CORRUPT', 'n_dims 2^32-1');
  expectCode(patched(buf, t.ne, u64le(1n << 40n)), ['FORMAT_LIMIT', 'FORMAT_BOUNDS'], 'ne[0] 2^40');
  expectCode(patched(buf, t.ne, u64le(1n << 62n)), 'FORMAT_LIMIT', 'ne[0] 2^62');
  expectCode(patched(buf, t.ne + 8, u64le(1n << 50n)), ['FORMAT_LIMIT', 'FORMAT_BOUNDS'], 'ne[1] 2^50');
  expectCode(patched(buf, t.type, [99, 0, 0, 0]), 'TENSOR_TYPE', 'type 99');
  expectCode(patched(buf, t.type, [16, 0, 0, 0]), 'TENSOR_TYPE', 'IQ2_XXS (unsupported)');
  // Q4_K needs rows of 256: this 64-wide tensor cannot be Q4_K
  expectCode(patched(buf, t.type, [12, 0, 0, 0]), 'FORMAT_CORRUPT', 'Q4_K with 64-value rows');
  expectCode(patched(buf, t.offset, u64le(BigInt(buf.byteLength))), 'FORMAT_BOUNDS', 'offset = file size');
  expectCode(patched(buf, t.offset, u64le(1n << 52n)), 'FORMAT_BOUNDS', 'offset 2^52');
  expectCode(patched(buf, t.offset, u64le(1n << 63n)), 'FORMAT_LIMIT', 'offset 2^63');
  expectCode(patched(buf, t.offset, u64le(33n)), 'FORMAT_CORRUPT', 'unaligned offset');
  // the last tensor's data ends exactly at EOF; one byte less must fail
  expectCode(buf.subarray(0, buf.byteLength - 1), 'FORMAT_BOUNDS', 'last tensor one byte short');
  // duplicate tensor name: rename attn_k to attn_q
  const k = stringAt(buf, 'blk.0.attn_k.weight');
  expectCode(patched(buf, k + 8, Buffer.from('blk.0.attn_q.weight')), 'FORMAT_CORRUPT', 'duplicate tensor name');
});

test('corrupt metadata: unknown value type, bad bool, bad alignment', needsAll(MODEL, VOCAB), () => {
  const buf = new Uint8Array(readFileSync(sharedData(MODEL)));
  // general.architecture's value type (u32 after its key) -> 13
  const arch = stringAt(buf, 'general.architecture') + 8 + 'general.architecture'.length;
  expectCode(patched(buf, arch, [13, 0, 0, 0]), 'FORMAT_CORRUPT', 'value type 13');
  expectCode(patched(buf, arch, [0xff, 0xff, 0xff, 0x7f]), 'FORMAT_CORRUPT', 'value type 2^31-1');
  const vocab = new Uint8Array(readFileSync(sharedData(VOCAB)));
  const addBos = stringAt(vocab, 'tokenizer.ggml.add_bos_token') + 8 + 'tokenizer.ggml.add_bos_token'.length;
  assert.deepEqual([...vocab.subarray(addBos, addBos + 5)], [7, 0, 0, 0, 1]);
  expectCode(patched(vocab, addBos + 4, [2]), 'FORMAT_CORRUPT', 'bool byte 2');
  // general.name -> general.alignment holding a string: wrong type for the alignment
  const name = stringAt(buf, 'general.name');
  const renamed = Buffer.concat([
    Buffer.from(buf.subarray(0, name)),
    Buffer.from(u64le(17n)),
    Buffer.from('general.alignment'),
    Buffer.from(buf.subarray(name + 8 + 'general.name'.length)),
  ]);
  expectCode(renamed, 'FORMAT_CORRUPT', 'general.alignment is a string');
});

test('random byte corruption of the header never escapes as a non-LlamaError', needsShared(MODEL), () => {
  const buf = new Uint8Array(readFileSync(sharedData(MODEL)));
  const g = openGguf(sharedData(MODEL));
  const headerEnd = g.dataOffset;
  g.close();
  let s = 0x9e3779b9;
  const rand = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
  let failures = 0;
  for (let trial = 0; trial < 400; trial++) {
    const c = buf.slice();
    const nFlips = 1 + (rand() % 3);
    for (let f = 0; f < nFlips; f++) c[rand() % headerEnd] = rand() & 0xff;
    const { err } = openError(c);
    if (err === undefined) continue; // harmless change (inside a string, a float value, ...)
    if (!(err instanceof LlamaError)) assert.fail(`trial ${trial}: ${String((err as Error).stack ?? err)}`);
    assert.notEqual(err.code, 'INTERNAL', `trial ${trial}: ${err.message}`);
    failures++;
  }
  assert.ok(failures > 50, `only ${failures} corruptions were detected`);
});

test('missing file and directory: FILE_NOT_FOUND / FILE_READ', () => {
  assert.throws(() => openGguf(join(dir, 'nope.gguf')), (e: unknown) => e instanceof LlamaError && e.code === 'FILE_NOT_FOUND');
  assert.throws(() => openGguf(dir), (e: unknown) => e instanceof LlamaError && e.code === 'FILE_READ');
});
