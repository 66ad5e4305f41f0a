// GGUF v3 writer: the inverse of gguf.ts, laid out as ggml's gguf.cpp and gguf-py write it:
// header, metadata, tensor infos, zero padding to the alignment, then each tensor's bytes followed
// by zero padding to the alignment (the last one too). Tensor offsets count from the data section.
// The file is written through file-io.ts (temp file + fsync + rename), so a crash or error never
// leaves a half-written file under the real name.
import { LlamaError } from '../errors.js';
import { byteSize, dtypeName, type DType } from '../tensor/dtype.js';
import type { HostTensor } from '../tensor/tensor.js';
import { numElements } from '../tensor/tensor.js';
import { alignUp, GgufType, type GgufArray, type GgufArrayValues, type GgufValue } from './gguf.js';
import { GENERAL, GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_VERSION } from './gguf-keys.js';
import { writeFileAtomic, writeFileAtomicAsync, type AsyncWriteOptions } from './file-io.js';

/** Builders for typed metadata values: `gv.u32(32000)`, `gv.str('llama')`, `gv.arr(GgufType.STRING, tokens)`. */
export const gv = {
  u8: (value: number): GgufValue => ({ type: GgufType.UINT8, value }),
  i8: (value: number): GgufValue => ({ type: GgufType.INT8, value }),
  u16: (value: number): GgufValue => ({ type: GgufType.UINT16, value }),
  i16: (value: number): GgufValue => ({ type: GgufType.INT16, value }),
  u32: (value: number): GgufValue => ({ type: GgufType.UINT32, value }),
  i32: (value: number): GgufValue => ({ type: GgufType.INT32, value }),
  f32: (value: number): GgufValue => ({ type: GgufType.FLOAT32, value }),
  f64: (value: number): GgufValue => ({ type: GgufType.FLOAT64, value }),
  u64: (value: number | bigint): GgufValue => ({ type: GgufType.UINT64, value: BigInt(value) }),
  i64: (value: number | bigint): GgufValue => ({ type: GgufType.INT64, value: BigInt(value) }),
  bool: (value: boolean): GgufValue => ({ type: GgufType.BOOL, value }),
  str: (value: string): GgufValue => ({ type: GgufType.STRING, value }),
  arr: (elemType: GgufType, values: GgufArrayValues | readonly number[]): GgufValue => ({ type: GgufType.ARRAY, value: { elemType, values: values as GgufArrayValues } }),
};

/** A tensor whose bytes are produced on demand (so a converter never holds a whole model). */
export interface LazyTensor {
  readonly name: string;
  readonly type: DType;
  /** PyTorch order; written as ne = shape reversed */
  readonly shape: readonly number[];
  read(): Uint8Array;
}

export interface GgufWriteInput {
  /** written in iteration order; `general.alignment` (u32), if present, sets the alignment */
  readonly metadata: ReadonlyMap<string, GgufValue> | Iterable<readonly [string, GgufValue]>;
  /** written in this order */
  readonly tensors: readonly (HostTensor | LazyTensor)[];
}

/** Growable little-endian byte buffer for the header. */
class Out {
  private buf = new Uint8Array(1 << 16);
  private dv = new DataView(this.buf.buffer);
  length = 0;

  private room(n: number): number {
    if (this.length + n > this.buf.length) {
      let cap = this.buf.length * 2;
      while (cap < this.length + n) cap *= 2;
      const next = new Uint8Array(cap);
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
      this.dv = new DataView(next.buffer);
    }
    const at = this.length;
    this.length += n;
    return at;
  }
  u8(v: number) {
    const at = this.room(1);
    this.dv.setUint8(at, v);
  }
  i8(v: number) {
    const at = this.room(1);
    this.dv.setInt8(at, v);
  }
  u16(v: number) {
    const at = this.room(2);
    this.dv.setUint16(at, v, true);
  }
  i16(v: number) {
    const at = this.room(2);
    this.dv.setInt16(at, v, true);
  }
  u32(v: number) {
    const at = this.room(4);
    this.dv.setUint32(at, v, true);
  }
  i32(v: number) {
    const at = this.room(4);
    this.dv.setInt32(at, v, true);
  }
  f32(v: number) {
    const at = this.room(4);
    this.dv.setFloat32(at, v, true);
  }
  f64(v: number) {
    const at = this.room(8);
    this.dv.setFloat64(at, v, true);
  }
  u64(v: bigint) {
    const at = this.room(8);
    this.dv.setBigUint64(at, v, true);
  }
  i64(v: bigint) {
    const at = this.room(8);
    this.dv.setBigInt64(at, v, true);
  }
  bytes(b: Uint8Array) {
    const at = this.room(b.byteLength); // may reallocate: take `buf` after
    this.buf.set(b, at);
  }
  str(s: string) {
    const b = textEncoder.encode(s);
    this.u64(BigInt(b.byteLength));
    this.bytes(b);
  }
  result(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

const textEncoder = new TextEncoder();

const INT_RANGE: Partial<Record<GgufType, [number, number]>> = {
  [GgufType.UINT8]: [0, 0xff],
  [GgufType.INT8]: [-0x80, 0x7f],
  [GgufType.UINT16]: [0, 0xffff],
  [GgufType.INT16]: [-0x8000, 0x7fff],
  [GgufType.UINT32]: [0, 0xffffffff],
  [GgufType.INT32]: [-0x80000000, 0x7fffffff],
};

function bad(key: string, what: string): never {
  throw new LlamaError('FILE_WRITE', `GGUF metadata '${key}': ${what}`, { hint: 'this is a bug in the code building the metadata' });
}

function writeScalar(out: Out, type: GgufType, v: unknown, key: string): void {
  const range = INT_RANGE[type];
  if (range) {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < range[0] || v > range[1]) bad(key, `${String(v)} is not a valid ${GgufType[type]}`);
  }
  switch (type) {
    case GgufType.UINT8: return out.u8(v as number);
    case GgufType.INT8: return out.i8(v as number);
    case GgufType.UINT16: return out.u16(v as number);
    case GgufType.INT16: return out.i16(v as number);
    case GgufType.UINT32: return out.u32(v as number);
    case GgufType.INT32: return out.i32(v as number);
    case GgufType.FLOAT32:
    case GgufType.FLOAT64:
      if (typeof v !== 'number') bad(key, `${String(v)} is not a number`);
      return type === GgufType.FLOAT32 ? out.f32(v) : out.f64(v);
    case GgufType.UINT64:
    case GgufType.INT64: {
      const b = typeof v === 'bigint' ? v : typeof v === 'number' && Number.isInteger(v) ? BigInt(v) : bad(key, `${String(v)} is not an integer`);
      if (type === GgufType.UINT64 ? b < 0n || b >= 1n << 64n : b < -(1n << 63n) || b >= 1n << 63n) bad(key, `${b} is out of range for ${GgufType[type]}`);
      return type === GgufType.UINT64 ? out.u64(b) : out.i64(b);
    }
    case GgufType.BOOL:
      if (typeof v !== 'boolean') bad(key, `${String(v)} is not a boolean`);
      return out.u8(v ? 1 : 0);
    case GgufType.STRING:
      if (typeof v !== 'string') bad(key, `${String(v)} is not a string`);
      return out.str(v);
    case GgufType.ARRAY:
      return writeArray(out, v as GgufArray, key);
  }
}

function writeArray(out: Out, a: GgufArray, key: string): void {
  if (!a || typeof a !== 'object' || !('elemType' in a)) bad(key, 'array value must be { elemType, values }');
  out.u32(a.elemType);
  const values = a.values as ArrayLike<unknown>;
  out.u64(BigInt(values.length));
  for (let i = 0; i < values.length; i++) writeScalar(out, a.elemType, values[i], `${key}[${i}]`);
}

function tensorBytes(t: HostTensor | LazyTensor): Uint8Array {
  return 'data' in t ? t.data : t.read();
}

/** Where everything goes in a GGUF file, before any tensor data is produced. */
export interface GgufLayout {
  /** magic, version, counts, metadata and tensor infos */
  readonly header: Uint8Array;
  readonly alignment: number;
  /** absolute offset of the data section (header padded to the alignment) */
  readonly dataStart: number;
  /** per tensor: offset inside the data section, and byte size */
  readonly offsets: readonly number[];
  readonly sizes: readonly number[];
  /** total file size, the last tensor padded too */
  readonly fileSize: number;
}

/** Encodes the header of a GGUF v3 file and lays out its tensors (validating every value). */
export function planGguf(input: GgufWriteInput): GgufLayout {
  const entries = [...(input.metadata instanceof Map ? input.metadata.entries() : input.metadata)] as [string, GgufValue][];
  const out = new Out();
  out.u32(GGUF_MAGIC);
  out.u32(GGUF_VERSION);
  out.u64(BigInt(input.tensors.length));
  out.u64(BigInt(entries.length));

  let alignment = GGUF_DEFAULT_ALIGNMENT;
  const seenKeys = new Set<string>();
  for (const [key, value] of entries) {
    if (seenKeys.has(key)) bad(key, 'duplicate key');
    seenKeys.add(key);
    if (!(value.type in GgufType)) bad(key, `unknown value type ${value.type}`);
    if (key === GENERAL.ALIGNMENT) {
      if (value.type !== GgufType.UINT32 || value.value <= 0 || (value.value & (value.value - 1)) !== 0) bad(key, 'must be a u32 power of two');
      alignment = value.value;
    }
    out.str(key);
    out.u32(value.type);
    writeScalar(out, value.type, value.value, key);
  }

  // Tensor infos: each tensor's data starts at an aligned offset inside the data section.
  const sizes: number[] = [];
  const offsets: number[] = [];
  let offset = 0;
  const seenNames = new Set<string>();
  for (const t of input.tensors) {
    if (seenNames.has(t.name)) throw new LlamaError('FILE_WRITE', `duplicate tensor name '${t.name}'`, { hint: 'this is a bug in the code building the tensors' });
    seenNames.add(t.name);
    if (t.shape.length > 4) throw new LlamaError('TENSOR_SHAPE', `tensor ${t.name}: GGUF allows at most 4 dimensions, got ${t.shape.length}`, { hint: 'reshape the tensor to 4 dimensions or fewer' });
    const ne = [...t.shape].reverse();
    const nBytes = byteSize(t.type, numElements(t.shape), ne.length ? ne[0]! : 1);
    out.str(t.name);
    out.u32(ne.length);
    for (const d of ne) out.u64(BigInt(d));
    out.u32(t.type);
    out.u64(BigInt(offset));
    sizes.push(nBytes);
    offsets.push(offset);
    offset = alignUp(offset + nBytes, alignment);
  }
  const header = out.result();
  const dataStart = alignUp(header.byteLength, alignment);
  return { header, alignment, dataStart, offsets, sizes, fileSize: dataStart + offset };
}

/** The bytes of a GGUF file in order: header, padding, then each tensor and its padding. */
function* ggufChunks(input: GgufWriteInput, layout: GgufLayout): Generator<Uint8Array> {
  const { header, alignment, dataStart, sizes } = layout;
  let pos = 0;
  const pad = (to: number): Uint8Array | undefined => (to > pos ? new Uint8Array(to - pos) : undefined);
  yield header;
  pos = header.byteLength;
  const p0 = pad(dataStart);
  if (p0) { yield p0; pos = dataStart; }
  for (let i = 0; i < input.tensors.length; i++) {
    const t = input.tensors[i]!;
    const data = tensorBytes(t);
    if (data.byteLength !== sizes[i]) {
      throw new LlamaError('TENSOR_SHAPE', `tensor ${t.name}: ${dtypeName(t.type)} [${t.shape.join(', ')}] needs ${sizes[i]} bytes, got ${data.byteLength}`, { hint: 'this is a bug in the code building the tensors' });
    }
    yield data;
    pos += data.byteLength;
    const p = pad(alignUp(pos - dataStart, alignment) + dataStart);
    if (p) { yield p; pos += p.byteLength; }
  }
}

/** Writes a GGUF v3 file atomically (file-io.ts). Returns the number of bytes written. */
export function writeGguf(path: string, input: GgufWriteInput): number {
  return writeFileAtomic(path, ggufChunks(input, planGguf(input)));
}

/** writeGguf that lets the event loop run between tensors and stops (removing the temp file) when `signal` aborts. */
export function writeGgufAsync(path: string, input: GgufWriteInput, opts: AsyncWriteOptions = {}): Promise<number> {
  return writeFileAtomicAsync(path, ggufChunks(input, planGguf(input)), opts);
}
