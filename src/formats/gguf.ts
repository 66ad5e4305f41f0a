// GGUF v2/v3 reader (and v3 writer, in gguf-write.ts): the file format of ggml / llama.cpp.
//
// Layout (ggml docs/gguf.md), all little-endian:
//   magic "GGUF" | u32 version | u64 tensor_count | u64 metadata_kv_count
//   metadata_kv_count × (string key | u32 value_type | value)
//   tensor_count × (string name | u32 n_dims | u64 ne[n_dims] | u32 ggml_type | u64 offset)
//   padding to `general.alignment` (default 32) | tensor data (each tensor at data_start + offset)
// A string is u64 length + UTF-8 bytes (no terminator). An array is u32 element type + u64 count +
// elements (arrays may nest). v1 used u32 counts and is not supported.
//
// Only the header is read at open; tensor data is read by offset on demand, so files larger than
// 2 GiB (or than free RAM) open instantly. Every declared count is checked against the bytes left
// in the file before anything is allocated.
import { FormatError, LlamaError } from '../errors.js';
import { byteSize, DType, dtypeName, isKnownDType } from '../tensor/dtype.js';
import { type HostTensor, makeTensor } from '../tensor/tensor.js';
import { dequantize } from '../tensor/quant.js';
import { GENERAL, GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, SPLIT, TOKENIZER } from './gguf-keys.js';
import { ByteCursor, ByteSource } from './source.js';

/** gguf_type: the metadata value types. */
export enum GgufType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

export const GGUF_TYPE_NAMES: Record<GgufType, string> = {
  [GgufType.UINT8]: 'u8',
  [GgufType.INT8]: 'i8',
  [GgufType.UINT16]: 'u16',
  [GgufType.INT16]: 'i16',
  [GgufType.UINT32]: 'u32',
  [GgufType.INT32]: 'i32',
  [GgufType.FLOAT32]: 'f32',
  [GgufType.BOOL]: 'bool',
  [GgufType.STRING]: 'string',
  [GgufType.ARRAY]: 'array',
  [GgufType.UINT64]: 'u64',
  [GgufType.INT64]: 'i64',
  [GgufType.FLOAT64]: 'f64',
};

/** Encoded size of a fixed-size value type (strings and arrays: their smallest possible size). */
const MIN_SIZE: Record<GgufType, number> = {
  [GgufType.UINT8]: 1,
  [GgufType.INT8]: 1,
  [GgufType.UINT16]: 2,
  [GgufType.INT16]: 2,
  [GgufType.UINT32]: 4,
  [GgufType.INT32]: 4,
  [GgufType.FLOAT32]: 4,
  [GgufType.BOOL]: 1,
  [GgufType.STRING]: 8,
  [GgufType.ARRAY]: 12,
  [GgufType.UINT64]: 8,
  [GgufType.INT64]: 8,
  [GgufType.FLOAT64]: 8,
};

export function isGgufType(t: number): t is GgufType {
  return Number.isInteger(t) && t >= 0 && t <= 12;
}

/**
 * Array elements. Numeric arrays are typed arrays of the stored width (so a 32000-entry score
 * table is one Float32Array); 64-bit integers are BigInt64/BigUint64 arrays.
 */
export type GgufArrayValues =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array
  | BigUint64Array
  | BigInt64Array
  | boolean[]
  | string[]
  | GgufArray[];

export interface GgufArray {
  readonly elemType: GgufType;
  readonly values: GgufArrayValues;
}

/**
 * A typed metadata value. Scalars: integer types up to 32 bits and floats are numbers, 64-bit
 * integers are bigints, BOOL a boolean, STRING a string; ARRAY a GgufArray. Keeping the type lets
 * the writer reproduce a file exactly.
 */
export type GgufValue =
  | { readonly type: GgufType.UINT8 | GgufType.INT8 | GgufType.UINT16 | GgufType.INT16 | GgufType.UINT32 | GgufType.INT32 | GgufType.FLOAT32 | GgufType.FLOAT64; readonly value: number }
  | { readonly type: GgufType.UINT64 | GgufType.INT64; readonly value: bigint }
  | { readonly type: GgufType.BOOL; readonly value: boolean }
  | { readonly type: GgufType.STRING; readonly value: string }
  | { readonly type: GgufType.ARRAY; readonly value: GgufArray };

export interface GgufTensorInfo {
  readonly name: string;
  readonly type: DType;
  /** GGUF order: ne[0] is the contiguous dimension */
  readonly ne: readonly number[];
  /** PyTorch order (ne reversed): [rows, cols] for a matrix */
  readonly shape: readonly number[];
  /** offset relative to the start of the data section */
  readonly offset: number;
  /** absolute offset of the first byte in the file */
  readonly fileOffset: number;
  readonly nBytes: number;
  readonly nElements: number;
  /** for a split GGUF opened as one model: the index of the part (file) holding the data; else 0 */
  readonly part?: number;
}

/** Where a file sits in a split GGUF (llama.cpp gguf-split: split.no / split.count / split.tensors.count). */
export interface GgufSplitInfo {
  /** 0-based index of this file (split.no) */
  readonly no: number;
  readonly count: number;
  /** tensors over all parts (split.tensors.count) */
  readonly tensorsCount: number;
}

/** Nesting deeper than this is rejected (real files nest at most 2 levels). */
const MAX_ARRAY_DEPTH = 16;
/** GGML_MAX_DIMS */
const MAX_DIMS = 4;

export class GgufFile {
  readonly path: string;
  readonly version: number;
  readonly metadata: Map<string, GgufValue>;
  readonly tensors: readonly GgufTensorInfo[];
  readonly alignment: number;
  /** absolute offset of the data section */
  readonly dataOffset: number;
  /** file size in bytes */
  readonly fileSize: number;
  /** every file of a split GGUF opened as one model (gguf-split.ts), else just this one */
  readonly partPaths: readonly string[];
  private readonly src: ByteSource;
  /** the sources of the parts (index = GgufTensorInfo.part); [src] for a single file */
  private readonly parts: readonly ByteSource[];
  private readonly byName: Map<string, GgufTensorInfo>;

  constructor(src: ByteSource, version: number, metadata: Map<string, GgufValue>, tensors: GgufTensorInfo[], alignment: number, dataOffset: number, parts?: readonly ByteSource[]) {
    this.src = src;
    this.parts = parts ?? [src];
    this.partPaths = this.parts.map((p) => p.path);
    this.path = src.path;
    this.fileSize = src.size;
    this.version = version;
    this.metadata = metadata;
    this.tensors = tensors;
    this.alignment = alignment;
    this.dataOffset = dataOffset;
    this.byName = new Map(tensors.map((t) => [t.name, t]));
  }

  hasTensor(name: string): boolean {
    return this.byName.has(name);
  }

  getTensorInfo(name: string): GgufTensorInfo {
    const info = this.byName.get(name);
    if (!info) throw new LlamaError('TENSOR_MISSING', `no tensor named '${name}'`, { file: this.path, hint: `the file has ${this.tensors.length} tensors; run 'llama inspect' to list them` });
    return info;
  }

  /** One tensor as float32 values (dequantized), shape (PyTorch order) as stored. */
  readTensorF32(nameOrInfo: string | GgufTensorInfo): { shape: readonly number[]; values: Float32Array } {
    const info = typeof nameOrInfo === 'string' ? this.getTensorInfo(nameOrInfo) : nameOrInfo;
    const t = this.readTensor(info);
    return { shape: info.shape, values: dequantize(t.type, t.data, info.nElements) };
  }

  /** Reads one tensor's bytes from disk (in its stored type; nothing is converted). */
  readTensor(nameOrInfo: string | GgufTensorInfo): HostTensor {
    const info = typeof nameOrInfo === 'string' ? this.getTensorInfo(nameOrInfo) : nameOrInfo;
    const data = this.sourceOf(info).read(info.fileOffset, info.nBytes, `tensor ${info.name}`);
    return makeTensor(info.name, info.type, info.shape, data);
  }

  /** Raw bytes of part of a tensor (for streaming a huge tensor row block by row block). */
  readTensorBytes(info: GgufTensorInfo, byteOffset: number, length: number): Uint8Array {
    if (byteOffset < 0 || length < 0 || byteOffset + length > info.nBytes) {
      throw new LlamaError('INTERNAL', `tensor ${info.name}: byte range ${byteOffset}+${length} outside its ${info.nBytes} bytes`);
    }
    return this.sourceOf(info).read(info.fileOffset + byteOffset, length, `tensor ${info.name}`);
  }

  close(): void {
    for (const p of this.parts) p.close();
  }

  /** split.no / split.count / split.tensors.count, when this file is part of a split GGUF */
  get split(): GgufSplitInfo | undefined {
    const count = this.metadata.get(SPLIT.COUNT);
    if (count === undefined) return undefined;
    const n = (k: string) => {
      const v = this.metadata.get(k);
      return v !== undefined && (typeof v.value === 'number' || typeof v.value === 'bigint') ? Number(v.value) : undefined;
    };
    return { no: n(SPLIT.NO) ?? 0, count: n(SPLIT.COUNT) ?? 1, tensorsCount: n(SPLIT.TENSORS_COUNT) ?? this.tensors.length };
  }

  /** Whether the file holds only a tokenizer (llama.cpp's --vocab-only output): no tensors, a vocabulary. */
  get isVocabOnly(): boolean {
    return this.tensors.length === 0 && this.metadata.has(TOKENIZER.TOKENS);
  }

  /** The source of the part file that holds `info`'s bytes (for files built by combineGgufParts). */
  private sourceOf(info: GgufTensorInfo): ByteSource {
    const src = this.parts[info.part ?? 0];
    if (!src) throw new LlamaError('INTERNAL', `tensor ${info.name}: no part ${info.part}`);
    return src;
  }

  /** @internal the ByteSource of this (single) file, for combineGgufParts */
  get source(): ByteSource {
    return this.src;
  }

  // ---- typed metadata getters: missing keys and wrong types are FORMAT_CORRUPT naming the key ----

  has(key: string): boolean {
    return this.metadata.has(key);
  }

  private missing(key: string): never {
    throw new FormatError('FORMAT_CORRUPT', `metadata key '${key}' is missing`, { file: this.path });
  }

  private wrongType(key: string, v: GgufValue, want: string): never {
    throw new FormatError('FORMAT_CORRUPT', `metadata key '${key}' is ${describeType(v)}, expected ${want}`, { file: this.path });
  }

  getString(key: string): string {
    const v = this.metadata.get(key) ?? this.missing(key);
    if (v.type !== GgufType.STRING) this.wrongType(key, v, 'a string');
    return v.value;
  }
  optString(key: string): string | undefined {
    return this.metadata.has(key) ? this.getString(key) : undefined;
  }

  /** Any numeric scalar as a JS number (64-bit integers must be exactly representable). */
  getNumber(key: string): number {
    const v = this.metadata.get(key) ?? this.missing(key);
    if (v.type === GgufType.UINT64 || v.type === GgufType.INT64) {
      const n = Number(v.value);
      if (!Number.isSafeInteger(n)) throw new FormatError('FORMAT_LIMIT', `metadata key '${key}' = ${v.value} does not fit a JS number`, { file: this.path });
      return n;
    }
    if (v.type === GgufType.BOOL || v.type === GgufType.STRING || v.type === GgufType.ARRAY) this.wrongType(key, v, 'a number');
    return v.value as number;
  }
  optNumber(key: string): number | undefined {
    return this.metadata.has(key) ? this.getNumber(key) : undefined;
  }

  getBool(key: string): boolean {
    const v = this.metadata.get(key) ?? this.missing(key);
    if (v.type !== GgufType.BOOL) this.wrongType(key, v, 'a bool');
    return v.value;
  }
  optBool(key: string): boolean | undefined {
    return this.metadata.has(key) ? this.getBool(key) : undefined;
  }

  getArray(key: string): GgufArray {
    const v = this.metadata.get(key) ?? this.missing(key);
    if (v.type !== GgufType.ARRAY) this.wrongType(key, v, 'an array');
    return v.value;
  }
  optArray(key: string): GgufArray | undefined {
    return this.metadata.has(key) ? this.getArray(key) : undefined;
  }

  getStringArray(key: string): string[] {
    const a = this.getArray(key);
    if (a.elemType !== GgufType.STRING) throw new FormatError('FORMAT_CORRUPT', `metadata key '${key}' is an array of ${GGUF_TYPE_NAMES[a.elemType]}, expected strings`, { file: this.path });
    return a.values as string[];
  }

  /** A numeric array as float64 numbers, whatever its stored width. */
  getNumberArray(key: string): number[] {
    const a = this.getArray(key);
    if (a.elemType === GgufType.STRING || a.elemType === GgufType.ARRAY || a.elemType === GgufType.BOOL) {
      throw new FormatError('FORMAT_CORRUPT', `metadata key '${key}' is an array of ${GGUF_TYPE_NAMES[a.elemType]}, expected numbers`, { file: this.path });
    }
    return Array.from(a.values as ArrayLike<number | bigint>, (x) => Number(x));
  }
}

function describeType(v: GgufValue): string {
  if (v.type === GgufType.ARRAY) return `an array of ${GGUF_TYPE_NAMES[v.value.elemType]}`;
  return `of type ${GGUF_TYPE_NAMES[v.type] ?? v.type}`;
}

/** Quick check: does this file start with the GGUF magic? (false for short or unreadable files) */
export function looksLikeGguf(head: Uint8Array): boolean {
  return head.byteLength >= 4 && head[0] === 0x47 && head[1] === 0x47 && head[2] === 0x55 && head[3] === 0x46;
}

/**
 * Opens a GGUF file (or an already open ByteSource, e.g. `ByteSource.fromBytes`) and parses its
 * header. The caller must `close()` the result, which closes the source.
 */
export function openGguf(pathOrSource: string | ByteSource): GgufFile {
  const src = typeof pathOrSource === 'string' ? ByteSource.open(pathOrSource) : pathOrSource;
  try {
    return parseHeader(src);
  } catch (err) {
    src.close();
    throw err;
  }
}

function parseHeader(src: ByteSource): GgufFile {
  const file = src.path;
  const cur = new ByteCursor(src);
  if (src.size < 4) throw new FormatError('FORMAT_TRUNCATED', `only ${src.size} bytes: too short to be a GGUF file`, { file });
  const magic = cur.u32('GGUF magic');
  if (magic !== GGUF_MAGIC) {
    throw new FormatError('FORMAT_MAGIC', `not a GGUF file: magic is 0x${magic.toString(16).padStart(8, '0')}, expected "GGUF"`, { file, hint: 'is this a safetensors, .pth or llama2.c file? run llama inspect on it' });
  }
  const version = cur.u32('GGUF version');
  // A big-endian GGUF (made for s390x) stores the version byte-swapped: 3 reads as 0x03000000.
  const swapped = ((version & 0xff) << 24) | ((version & 0xff00) << 8) | ((version >>> 8) & 0xff00) | (version >>> 24);
  if ((version & 0xffff) === 0 && swapped >>> 0 >= 1 && swapped >>> 0 <= 3) {
    throw new FormatError('FORMAT_UNSUPPORTED', `big-endian GGUF (version ${swapped >>> 0} byte-swapped); only little-endian GGUF is supported`, { file, hint: "convert it with llama.cpp's gguf-py on a little-endian machine" });
  }
  if (version === 1) throw new FormatError('FORMAT_VERSION', 'GGUF version 1 (32-bit counts) is not supported', { file, hint: 'convert the file again with a current llama.cpp; versions 2 and 3 are supported' });
  if (version !== 2 && version !== 3) throw new FormatError('FORMAT_VERSION', `unknown GGUF version ${version}`, { file, hint: 'supported GGUF versions: 2 and 3' });

  const nTensors = cur.u64('tensor count');
  const nKv = cur.u64('metadata count');
  // Smallest possible entries: a kv is key (8) + type (4) + 1 byte; a tensor info 8 + 4 + 4 + 8.
  cur.checkCount(nKv, 13, 'metadata count');
  cur.checkCount(nTensors, 24, 'tensor count');

  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < nKv; i++) {
    const key = readString(cur, `metadata key #${i}`);
    const type = cur.u32(`type of '${key}'`);
    if (!isGgufType(type)) throw new FormatError('FORMAT_CORRUPT', `metadata '${key}' has unknown value type ${type}`, { file, hint: 'the file is corrupt, or from a newer GGUF revision' });
    if (metadata.has(key)) throw new FormatError('FORMAT_CORRUPT', `duplicate metadata key '${key}'`, { file, hint: 'the file was written by a broken tool or is corrupt; convert it again' });
    metadata.set(key, readValue(cur, type, key, 0));
  }

  let alignment = GGUF_DEFAULT_ALIGNMENT;
  const alignValue = metadata.get(GENERAL.ALIGNMENT);
  if (alignValue !== undefined) {
    if (alignValue.type !== GgufType.UINT32 || alignValue.value === 0 || (alignValue.value & (alignValue.value - 1)) !== 0) {
      throw new FormatError('FORMAT_CORRUPT', `${GENERAL.ALIGNMENT} must be a u32 power of two, got ${describeType(alignValue)} ${String(alignValue.value)}`, { file });
    }
    alignment = alignValue.value;
  }

  const raw: { name: string; ne: number[]; type: DType; offset: number }[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < nTensors; i++) {
    const name = readString(cur, `tensor #${i} name`);
    if (seen.has(name)) throw new FormatError('FORMAT_CORRUPT', `duplicate tensor name '${name}' (tensor #${i})`, { file, hint: 'two tensor infos share a name: the file was written by a broken tool or is corrupt; convert it again' });
    seen.add(name);
    const nDims = cur.u32(`tensor ${name} n_dims`);
    if (nDims > MAX_DIMS) throw new FormatError('FORMAT_CORRUPT', `tensor ${name} has ${nDims} dimensions; GGUF allows at most ${MAX_DIMS}`, { file });
    const ne: number[] = [];
    for (let d = 0; d < nDims; d++) ne.push(cur.u64(`tensor ${name} ne[${d}]`));
    const type = cur.u32(`tensor ${name} type`);
    if (!isKnownDType(type)) {
      throw new FormatError('TENSOR_TYPE', `tensor ${name} has ggml type ${type}, which this reader does not support`, {
        file,
        hint: 'supported: F32, F16, BF16, F64, I8-I64, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q2_K..Q8_K; re-quantize to one of them',
      });
    }
    const offset = cur.u64(`tensor ${name} offset`);
    if (offset % alignment !== 0) throw new FormatError('FORMAT_CORRUPT', `tensor ${name} offset ${offset} is not a multiple of the alignment ${alignment}`, { file });
    raw.push({ name, ne, type, offset });
  }

  const dataOffset = alignUp(cur.pos, alignment);
  if (nTensors > 0 && dataOffset > src.size) {
    throw new FormatError('FORMAT_TRUNCATED', `data section would start at ${dataOffset} but the file has only ${src.size} bytes`, { file });
  }
  const tensors: GgufTensorInfo[] = raw.map(({ name, ne, type, offset }) => {
    let nElements = 1;
    for (const d of ne) nElements *= d;
    if (!Number.isSafeInteger(nElements)) throw new FormatError('FORMAT_LIMIT', `tensor ${name} ne [${ne.join(', ')}] has too many elements`, { file });
    let nBytes: number;
    try {
      nBytes = byteSize(type, nElements, ne.length ? ne[0]! : 1);
    } catch (err) {
      throw new FormatError('FORMAT_CORRUPT', `tensor ${name}: ${(err as Error).message}`, { file, cause: err });
    }
    const fileOffset = dataOffset + offset;
    if (fileOffset + nBytes > src.size) {
      throw new FormatError('FORMAT_BOUNDS', `tensor ${name} (${dtypeName(type)} [${ne.join(', ')}], ${nBytes} bytes at offset ${fileOffset}) ends past the end of the file (${src.size} bytes)`, {
        file,
        hint: 'the file is truncated or corrupt',
      });
    }
    return { name, type, ne, shape: [...ne].reverse(), offset, fileOffset, nBytes, nElements };
  });
  return new GgufFile(src, version, metadata, tensors, alignment, dataOffset);
}

export function alignUp(x: number, alignment: number): number {
  return Math.ceil(x / alignment) * alignment;
}

function readString(cur: ByteCursor, what: string): string {
  const len = cur.u64(`${what} length`);
  if (len > cur.remaining) {
    throw new FormatError('FORMAT_LIMIT', `${what}: declared string length ${len} exceeds the ${cur.remaining} bytes left`, { file: cur.src.path, hint: 'the file is corrupt or truncated' });
  }
  return cur.utf8(len, what);
}

function readValue(cur: ByteCursor, type: GgufType, key: string, depth: number): GgufValue {
  switch (type) {
    case GgufType.UINT8: return { type, value: cur.u8(key) };
    case GgufType.INT8: return { type, value: cur.i8(key) };
    case GgufType.UINT16: return { type, value: cur.u16(key) };
    case GgufType.INT16: return { type, value: cur.i16(key) };
    case GgufType.UINT32: return { type, value: cur.u32(key) };
    case GgufType.INT32: return { type, value: cur.i32(key) };
    case GgufType.FLOAT32: return { type, value: cur.f32(key) };
    case GgufType.FLOAT64: return { type, value: cur.f64(key) };
    case GgufType.UINT64: return { type, value: cur.u64Big(key) };
    case GgufType.INT64: return { type, value: cur.i64Big(key) };
    case GgufType.BOOL: return { type, value: readBool(cur, key) };
    case GgufType.STRING: return { type, value: readString(cur, `value of '${key}'`) };
    case GgufType.ARRAY: return { type, value: readArray(cur, key, depth + 1) };
  }
}

function readBool(cur: ByteCursor, key: string): boolean {
  const b = cur.u8(key);
  if (b > 1) throw new FormatError('FORMAT_CORRUPT', `metadata '${key}': bool byte is ${b}, expected 0 or 1`, { file: cur.src.path });
  return b === 1;
}

function readArray(cur: ByteCursor, key: string, depth: number): GgufArray {
  const file = cur.src.path;
  if (depth > MAX_ARRAY_DEPTH) throw new FormatError('FORMAT_LIMIT', `metadata '${key}': arrays nested deeper than ${MAX_ARRAY_DEPTH}`, { file });
  const elemType = cur.u32(`array type of '${key}'`);
  if (!isGgufType(elemType)) throw new FormatError('FORMAT_CORRUPT', `metadata '${key}' is an array of unknown type ${elemType}`, { file });
  const n = cur.u64(`array length of '${key}'`);
  cur.checkCount(n, MIN_SIZE[elemType], `array '${key}'`);
  const fixed = (make: (buf: ArrayBuffer) => GgufArrayValues): GgufArray => {
    const bytes = cur.bytes(n * MIN_SIZE[elemType], `array '${key}'`);
    // bytes is a fresh copy starting at offset 0, so typed views are aligned. Little-endian host assumed (x86/arm).
    return { elemType, values: make(bytes.buffer as ArrayBuffer) };
  };
  switch (elemType) {
    case GgufType.UINT8: return fixed((b) => new Uint8Array(b, 0, n));
    case GgufType.INT8: return fixed((b) => new Int8Array(b, 0, n));
    case GgufType.UINT16: return fixed((b) => new Uint16Array(b, 0, n));
    case GgufType.INT16: return fixed((b) => new Int16Array(b, 0, n));
    case GgufType.UINT32: return fixed((b) => new Uint32Array(b, 0, n));
    case GgufType.INT32: return fixed((b) => new Int32Array(b, 0, n));
    case GgufType.FLOAT32: return fixed((b) => new Float32Array(b, 0, n));
    case GgufType.FLOAT64: return fixed((b) => new Float64Array(b, 0, n));
    case GgufType.UINT64: return fixed((b) => new BigUint64Array(b, 0, n));
    case GgufType.INT64: return fixed((b) => new BigInt64Array(b, 0, n));
    case GgufType.BOOL: {
      const values: boolean[] = [];
      for (let i = 0; i < n; i++) values.push(readBool(cur, key));
      return { elemType, values };
    }
    case GgufType.STRING: {
      const values: string[] = [];
      for (let i = 0; i < n; i++) values.push(readString(cur, `'${key}'[${i}]`));
      return { elemType, values };
    }
    case GgufType.ARRAY: {
      const values: GgufArray[] = [];
      for (let i = 0; i < n; i++) values.push(readArray(cur, `${key}[${i}]`, depth + 1));
      return { elemType, values };
    }
  }
}

/**
 * A metadata value as plain JSON-able data: numbers, strings, booleans, arrays; 64-bit integers
 * become numbers when exact, else decimal strings.
 */
export function ggufValueToJson(v: GgufValue): unknown {
  if (v.type === GgufType.ARRAY) return ggufArrayToJson(v.value);
  if (typeof v.value === 'bigint') return bigToJson(v.value);
  return v.value;
}

function bigToJson(b: bigint): number | string {
  const n = Number(b);
  return Number.isSafeInteger(n) ? n : b.toString();
}

export function ggufArrayToJson(a: GgufArray): unknown[] {
  if (a.elemType === GgufType.ARRAY) return (a.values as GgufArray[]).map(ggufArrayToJson);
  if (a.elemType === GgufType.UINT64 || a.elemType === GgufType.INT64) return Array.from(a.values as BigInt64Array, bigToJson);
  return Array.from(a.values as ArrayLike<unknown>);
}
