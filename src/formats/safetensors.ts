// Hugging Face safetensors: read single files and sharded sets, and write them.
//
// Layout (safetensors README): u64 little-endian header length N, N bytes of UTF-8 JSON
//   {"__metadata__": {str: str}, name: {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...}
// then the data buffer; offsets count from the first byte after the header. Tensors are read lazily,
// one at a time, after the whole header has been validated against the file size.
// A sharded checkpoint adds `model.safetensors.index.json` whose `weight_map` names the shard of each
// tensor.
import { existsSync, readFileSync, statSync } from '../platform/fs.js';
import { dirname, join, basename } from '../platform/path.js';
import { FormatError, LlamaError } from '../errors.js';
import { byteSize, DType, dtypeName } from '../tensor/dtype.js';
import { makeTensor, numElements, type HostTensor } from '../tensor/tensor.js';
import { writeFileAtomic, writeFileAtomicAsync, type AsyncWriteOptions } from './file-io.js';
import type { LazyTensor } from './gguf-write.js';
import { ByteSource } from './source.js';

/** Header lengths above this are refused before reading them (real headers are well under 1 MB). */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/** Element sizes of every dtype the safetensors spec defines (so offsets can be checked for all). */
const DTYPE_BYTES: Record<string, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1,
  I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4,
  I64: 8, U64: 8, F64: 8,
};

/** The dtypes we compute with, and their ggml types. */
const READABLE: Record<string, DType> = { F32: DType.F32, F16: DType.F16, BF16: DType.BF16 };

/** The ggml type of a safetensors dtype we can compute with (F32/F16/BF16), else undefined. */
export function dtypeOfSafetensors(dtype: string): DType | undefined {
  return READABLE[dtype];
}

export function safetensorsDtypeOf(t: DType): string {
  switch (t) {
    case DType.F32: return 'F32';
    case DType.F16: return 'F16';
    case DType.BF16: return 'BF16';
    default:
      throw new LlamaError('TENSOR_TYPE', `safetensors cannot store ${dtypeName(t)} tensors`, { hint: 'convert to f32, f16 or bf16 first (llama convert --type f16)' });
  }
}

export interface SafetensorsEntry {
  readonly name: string;
  /** safetensors dtype string (F32, F16, BF16, I64, ...) */
  readonly dtype: string;
  readonly shape: readonly number[];
  /** absolute byte offset of the data in `file` */
  readonly offset: number;
  readonly byteLength: number;
  readonly file: string;
}

/** One .safetensors file, header parsed and checked; tensor data read on demand. */
export class SafetensorsFile {
  readonly path: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly entries: ReadonlyMap<string, SafetensorsEntry>;
  readonly headerLength: number;
  private readonly src: ByteSource;

  private constructor(src: ByteSource, headerLength: number, metadata: Record<string, string>, entries: Map<string, SafetensorsEntry>) {
    this.src = src;
    this.path = src.path;
    this.headerLength = headerLength;
    this.metadata = metadata;
    this.entries = entries;
  }

  static open(path: string): SafetensorsFile {
    const src = ByteSource.open(path);
    try {
      return SafetensorsFile.parse(src);
    } catch (e) {
      src.close();
      throw e;
    }
  }

  private static parse(src: ByteSource): SafetensorsFile {
    const file = src.path;
    const corrupt = (msg: string) => new FormatError('FORMAT_CORRUPT', msg, { file, hint: 'the safetensors header is malformed; the file may be damaged or not safetensors' });
    if (src.size < 8) throw new FormatError('FORMAT_TRUNCATED', `file has ${src.size} bytes, too short for a safetensors header`, { file });
    const lenBytes = src.read(0, 8, 'header length');
    const n = new DataView(lenBytes.buffer).getBigUint64(0, true);
    if (n > BigInt(MAX_HEADER_BYTES)) {
      throw new FormatError('FORMAT_LIMIT', `declared header length ${n} bytes exceeds the ${MAX_HEADER_BYTES}-byte limit`, { file, hint: 'not a safetensors file, or a corrupt one' });
    }
    const headerLength = Number(n);
    if (8 + headerLength > src.size) {
      throw new FormatError('FORMAT_TRUNCATED', `declared header length ${headerLength} is larger than the file (${src.size} bytes)`, { file, hint: 'the file is truncated or not safetensors' });
    }
    if (headerLength < 2) throw corrupt(`header length ${headerLength} is too small for a JSON object`);
    const headerBytes = src.read(8, headerLength, 'header');
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(headerBytes));
    } catch (e) {
      throw corrupt(`header is not valid UTF-8 JSON: ${(e as Error).message}`);
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw corrupt('header is not a JSON object');
    const dataStart = 8 + headerLength;
    const dataSize = src.size - dataStart;
    const metadata: Record<string, string> = {};
    const entries = new Map<string, SafetensorsEntry>();
    for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
      if (name === '__metadata__') {
        if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw corrupt('__metadata__ is not an object');
        for (const [k, v] of Object.entries(raw)) {
          if (typeof v !== 'string') throw corrupt(`__metadata__.${k} is not a string`);
          metadata[k] = v;
        }
        continue;
      }
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw corrupt(`tensor ${name}: entry is not an object`);
      const { dtype, shape, data_offsets: offs } = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      if (typeof dtype !== 'string') throw corrupt(`tensor ${name}: missing dtype`);
      const elt = DTYPE_BYTES[dtype];
      if (elt === undefined) throw new FormatError('FORMAT_UNSUPPORTED', `tensor ${name}: unknown dtype ${JSON.stringify(dtype)}`, { file });
      if (!Array.isArray(shape) || shape.length > 8 || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
        throw corrupt(`tensor ${name}: shape must be a list of at most 8 non-negative integers`);
      }
      if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0)) {
        throw corrupt(`tensor ${name}: data_offsets must be [begin, end]`);
      }
      const [begin, end] = offs as [number, number];
      if (begin > end) throw corrupt(`tensor ${name}: data_offsets [${begin}, ${end}] are reversed`);
      if (end > dataSize) {
        throw new FormatError('FORMAT_BOUNDS', `tensor ${name}: data_offsets [${begin}, ${end}] point past the data buffer (${dataSize} bytes)`, { file, hint: 'the file is truncated or its header is corrupt' });
      }
      const expected = numElements(shape as number[]) * elt;
      if (end - begin !== expected) {
        throw corrupt(`tensor ${name}: ${dtype} [${(shape as number[]).join(', ')}] needs ${expected} bytes but data_offsets span ${end - begin}`);
      }
      entries.set(name, { name, dtype, shape: [...(shape as number[])], offset: dataStart + begin, byteLength: end - begin, file });
    }
    // Tensors must not overlap (the spec also forbids holes; we tolerate those).
    const sorted = [...entries.values()].filter((e) => e.byteLength > 0).sort((a, b) => a.offset - b.offset);
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1]!;
      if (sorted[i]!.offset < prev.offset + prev.byteLength) throw corrupt(`tensors ${prev.name} and ${sorted[i]!.name} overlap`);
    }
    return new SafetensorsFile(src, headerLength, metadata, entries);
  }

  /** Read one tensor's bytes as a HostTensor (F32/F16/BF16 only). */
  readTensor(name: string): HostTensor {
    const e = this.entries.get(name);
    if (!e) throw new LlamaError('TENSOR_MISSING', `no tensor named ${name}`, { file: this.path });
    return readEntry(this.src, e);
  }

  close(): void {
    this.src.close();
  }
}

function readEntry(src: ByteSource, e: SafetensorsEntry): HostTensor {
  const type = READABLE[e.dtype];
  if (type === undefined) {
    throw new LlamaError('TENSOR_TYPE', `tensor ${e.name} has dtype ${e.dtype}; only F32, F16 and BF16 are supported`, { file: e.file });
  }
  return makeTensor(e.name, type, e.shape, src.read(e.offset, e.byteLength, `tensor ${e.name}`));
}

export const SAFETENSORS_INDEX = 'model.safetensors.index.json';

/**
 * A set of safetensors files read as one: a single file, or the shards named by an index file.
 * `path` may be a .safetensors file, an index .json file, or a directory containing either
 * `model.safetensors.index.json` or `model.safetensors`.
 */
export class SafetensorsModel {
  readonly files: readonly SafetensorsFile[];
  /** tensor name -> its entry, over all shards */
  readonly entries: ReadonlyMap<string, SafetensorsEntry>;
  readonly metadata: Readonly<Record<string, string>>;
  private readonly byName: Map<string, SafetensorsFile>;

  private constructor(files: SafetensorsFile[], byName: Map<string, SafetensorsFile>) {
    this.files = files;
    this.byName = byName;
    const entries = new Map<string, SafetensorsEntry>();
    for (const [name, f] of byName) entries.set(name, f.entries.get(name)!);
    this.entries = entries;
    this.metadata = files[0]?.metadata ?? {};
  }

  static open(path: string): SafetensorsModel {
    let target = path;
    if (existsSync(path) && statSync(path).isDirectory()) {
      if (existsSync(join(path, SAFETENSORS_INDEX))) target = join(path, SAFETENSORS_INDEX);
      else if (existsSync(join(path, 'model.safetensors'))) target = join(path, 'model.safetensors');
      else throw new LlamaError('MODEL_NOT_FOUND', `no model.safetensors or ${SAFETENSORS_INDEX} in the directory`, { file: path });
    }
    if (target.endsWith('.json')) return SafetensorsModel.openIndex(target);
    const f = SafetensorsFile.open(target);
    const byName = new Map<string, SafetensorsFile>();
    for (const name of f.entries.keys()) byName.set(name, f);
    return new SafetensorsModel([f], byName);
  }

  private static openIndex(indexPath: string): SafetensorsModel {
    let text: string;
    try {
      text = readFileSync(indexPath, 'utf8');
    } catch (e) {
      throw new LlamaError('FILE_NOT_FOUND', `cannot read index: ${(e as Error).message}`, { file: indexPath });
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new FormatError('FORMAT_CORRUPT', `index is not valid JSON: ${(e as Error).message}`, { file: indexPath });
    }
    const wm = (json as { weight_map?: unknown } | null)?.weight_map;
    if (typeof wm !== 'object' || wm === null || Array.isArray(wm)) {
      throw new FormatError('FORMAT_CORRUPT', 'index has no weight_map object', { file: indexPath });
    }
    const dir = dirname(indexPath);
    const shards = new Map<string, SafetensorsFile>();
    const byName = new Map<string, SafetensorsFile>();
    try {
      for (const [name, shard] of Object.entries(wm as Record<string, unknown>)) {
        // Shard names are plain file names beside the index: refuse paths that climb out of it.
        if (typeof shard !== 'string' || shard !== basename(shard) || shard === '' || shard === '.' || shard === '..') {
          throw new FormatError('FORMAT_CORRUPT', `weight_map entry for ${name} is not a file name: ${JSON.stringify(shard)}`, { file: indexPath });
        }
        let f = shards.get(shard);
        if (!f) {
          f = SafetensorsFile.open(join(dir, shard));
          shards.set(shard, f);
        }
        if (!f.entries.has(name)) {
          throw new LlamaError('TENSOR_MISSING', `index maps ${name} to ${shard}, which does not contain it`, { file: indexPath });
        }
        byName.set(name, f);
      }
    } catch (e) {
      for (const f of shards.values()) f.close();
      throw e;
    }
    return new SafetensorsModel([...shards.values()], byName);
  }

  readTensor(name: string): HostTensor {
    const f = this.byName.get(name);
    if (!f) throw new LlamaError('TENSOR_MISSING', `no tensor named ${name}`, { file: this.files[0]?.path });
    return f.readTensor(name);
  }

  close(): void {
    for (const f of this.files) f.close();
  }
}

/** A tensor to write: in memory, or produced on demand (so a converter never holds the whole model). */
export type TensorToWrite = HostTensor | LazyTensor;

function sizeOf(t: TensorToWrite): number {
  return 'data' in t ? t.data.byteLength : byteSize(t.type, numElements(t.shape), t.shape.length ? t.shape[t.shape.length - 1]! : 1);
}

function bytesOf(t: TensorToWrite): Uint8Array {
  const b = 'data' in t ? t.data : t.read();
  if (b.byteLength !== sizeOf(t)) throw new LlamaError('INTERNAL', `tensor ${t.name}: produced ${b.byteLength} bytes, declared ${sizeOf(t)}`);
  return b;
}

function sortedByName<T extends { name: string }>(tensors: readonly T[]): T[] {
  const order = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (let i = 1; i < order.length; i++) {
    if (order[i]!.name === order[i - 1]!.name) throw new LlamaError('INTERNAL', `duplicate tensor name ${order[i]!.name}`);
  }
  return order;
}

function encodeHeader(tensors: readonly TensorToWrite[], metadata: Record<string, string> | undefined): { header: Uint8Array; order: TensorToWrite[] } {
  const order = sortedByName(tensors);
  // JSON object key order is insertion order: __metadata__ first, then the sorted names
  // (what the Python safetensors library writes for single-dtype files).
  const obj: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) obj.__metadata__ = metadata;
  let off = 0;
  for (const t of order) {
    const n = sizeOf(t);
    obj[t.name] = { dtype: safetensorsDtypeOf(t.type), shape: [...t.shape], data_offsets: [off, off + n] };
    off += n;
  }
  let text = JSON.stringify(obj);
  // Pad with spaces so the data buffer starts 8-byte aligned (8 + N ≡ 0 mod 8).
  const raw = new TextEncoder().encode(text);
  const pad = (8 - (raw.byteLength % 8)) % 8;
  text += ' '.repeat(pad);
  return { header: new TextEncoder().encode(text), order };
}

/** Write tensors (F32/F16/BF16) to one safetensors file, atomically. Returns the bytes written. */
export function writeSafetensors(path: string, tensors: readonly TensorToWrite[], metadata?: Record<string, string>): number {
  return writeFileAtomic(path, safetensorsChunks(tensors, metadata));
}

/** writeSafetensors that lets the event loop run between tensors and stops (removing the temp file) when `signal` aborts. */
export function writeSafetensorsAsync(path: string, tensors: readonly TensorToWrite[], metadata?: Record<string, string>, opts: AsyncWriteOptions = {}): Promise<number> {
  return writeFileAtomicAsync(path, safetensorsChunks(tensors, metadata), opts);
}

function* safetensorsChunks(tensors: readonly TensorToWrite[], metadata?: Record<string, string>): Generator<Uint8Array> {
  const { header, order } = encodeHeader(tensors, metadata);
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(header.byteLength), true);
  yield len;
  yield header;
  for (const t of order) yield bytesOf(t);
}

/**
 * Write a sharded set in `dir`: `model-0000i-of-0000n.safetensors` (each at most `maxShardBytes` of
 * tensor data, except a single tensor larger than that) plus `model.safetensors.index.json`.
 * Returns the shard file names.
 */
export function writeSafetensorsSharded(dir: string, tensors: readonly TensorToWrite[], maxShardBytes: number, metadata?: Record<string, string>): string[] {
  const sorted = sortedByName(tensors);
  const groups: TensorToWrite[][] = [];
  let cur: TensorToWrite[] = [];
  let curBytes = 0;
  for (const t of sorted) {
    if (cur.length > 0 && curBytes + sizeOf(t) > maxShardBytes) {
      groups.push(cur);
      cur = [];
      curBytes = 0;
    }
    cur.push(t);
    curBytes += sizeOf(t);
  }
  if (cur.length > 0 || groups.length === 0) groups.push(cur);
  const n = groups.length;
  const names: string[] = [];
  const weightMap: Record<string, string> = {};
  let total = 0;
  groups.forEach((g, i) => {
    const name = `model-${String(i + 1).padStart(5, '0')}-of-${String(n).padStart(5, '0')}.safetensors`;
    writeSafetensors(join(dir, name), g, metadata);
    names.push(name);
    for (const t of g) {
      weightMap[t.name] = name;
      total += sizeOf(t);
    }
  });
  const index = { metadata: { total_size: total }, weight_map: weightMap };
  writeFileAtomic(join(dir, SAFETENSORS_INDEX), JSON.stringify(index, null, 2) + '\n');
  return names;
}
