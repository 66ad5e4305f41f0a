// Random access to the bytes of a file without reading the whole file: `fs.readSync` at an offset.
// Node 20 has no mmap, and model files may be larger than 2 GiB (larger than a Buffer may be, and
// larger than the RAM headroom), so every reader in formats/ goes through this module. Every read is
// bounds-checked against the file size first: reading past the end is a FormatError
// FORMAT_TRUNCATED naming the file, never a short read or a RangeError.
//
// `ByteSource` is the file; `ByteCursor` walks it sequentially (little-endian fields, length-prefixed
// strings) through a small window buffer so that parsing a header with 32000 strings does not cost
// one syscall per field.
import { closeSync, fstatSync, openSync, readSync } from '../platform/fs.js';
import { FormatError, LlamaError } from '../errors.js';
import { mapFileRange } from './mmap.js';

/** Reads at least this large go through mmap when available (small ones are cheaper to copy). */
const MMAP_MIN_BYTES = 1 << 20;

/** Largest single readSync: Node rejects lengths >= 2^31. */
const MAX_READ_CHUNK = 1 << 30;

/** A read-only file opened for random access. Call `close()` when done (or use `withSource`). */
export class ByteSource {
  readonly path: string;
  /** file size in bytes */
  readonly size: number;
  private fd: number | undefined;
  /** set for in-memory sources (tests, data already in RAM) */
  private mem: Uint8Array | undefined;
  /** set for sources read piecewise (a Blob, a URL): the ranges fetched so far, by offset */
  private chunks: readonly ByteChunk[] | undefined;
  private open_ = true;

  private constructor(path: string, fd: number | undefined, size: number, mem?: Uint8Array, chunks?: readonly ByteChunk[]) {
    this.path = path;
    this.fd = fd;
    this.size = size;
    this.mem = mem;
    this.chunks = chunks;
  }

  /**
   * A source of `size` bytes of which only the given ranges are in memory (sorted by offset, not
   * overlapping): what api/open-source.ts builds from a Blob or a URL read asynchronously. A read
   * outside them throws MissingBytes (which that loader catches to fetch more); large reads that
   * lie inside one 8-byte aligned chunk are views, not copies.
   */
  static fromChunks(size: number, chunks: readonly ByteChunk[], name: string): ByteSource {
    return new ByteSource(name, undefined, size, undefined, chunks);
  }

  /** A source over bytes already in memory; `name` stands in for the path in error messages. */
  static fromBytes(bytes: Uint8Array, name: string): ByteSource {
    return new ByteSource(name, undefined, bytes.byteLength, bytes);
  }

  static open(path: string): ByteSource {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new LlamaError('FILE_NOT_FOUND', 'no such file', { file: path, hint: 'check the path', cause: err });
      throw new LlamaError('FILE_READ', `cannot open: ${(err as Error).message}`, { file: path, cause: err });
    }
    let size: number;
    try {
      const st = fstatSync(fd);
      if (st.isDirectory()) throw new LlamaError('FILE_READ', 'is a directory, expected a file', { file: path });
      size = st.size;
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    return new ByteSource(path, fd, size);
  }

  /** Throws FORMAT_TRUNCATED unless [offset, offset + length) lies inside the file. */
  check(offset: number, length: number, what = 'data'): void {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
      throw new FormatError('FORMAT_BOUNDS', `${what}: invalid range offset ${offset}, length ${length}`, { file: this.path });
    }
    if (offset + length > this.size) {
      throw new FormatError(
        'FORMAT_TRUNCATED',
        `${what} needs bytes ${offset}..${offset + length} but the file has only ${this.size} bytes`,
        { file: this.path, hint: 'the file is truncated or corrupt; download or convert it again' },
      );
    }
  }

  /**
   * The `length` bytes at `offset` in a new, 8-byte aligned buffer. Large reads at 8-aligned
   * offsets (tensor data) are memory-mapped when the native addon is built (see mmap.ts): a private
   * copy-on-write view, so writing into it never touches the file either.
   */
  read(offset: number, length: number, what = 'data'): Uint8Array {
    this.check(offset, length, what);
    if (this.chunks && length >= MMAP_MIN_BYTES) {
      const c = this.chunks.find((x) => offset >= x.offset && offset + length <= x.offset + x.bytes.byteLength);
      const at = c ? c.bytes.byteOffset + offset - c.offset : 1;
      // tensor data is read-only in effect (as mapped views are): share the fetched bytes
      if (c && at % 8 === 0) return c.bytes.subarray(offset - c.offset, offset - c.offset + length);
    }
    if (this.fd !== undefined && length >= MMAP_MIN_BYTES && offset % 8 === 0) {
      const mapped = mapFileRange(this.path, offset, length);
      if (mapped) return mapped;
    }
    const out = new Uint8Array(length);
    this.readInto(offset, out, what);
    return out;
  }

  /** Fills `dst` entirely with the bytes at `offset`. */
  readInto(offset: number, dst: Uint8Array, what = 'data'): void {
    this.check(offset, dst.byteLength, what);
    this.requireOpen();
    if (this.mem) {
      dst.set(this.mem.subarray(offset, offset + dst.byteLength));
      return;
    }
    if (this.chunks) {
      copyFromChunks(this.chunks, offset, dst, this.path);
      return;
    }
    const fd = this.fd!;
    let done = 0;
    while (done < dst.byteLength) {
      const want = Math.min(MAX_READ_CHUNK, dst.byteLength - done);
      let n: number;
      try {
        n = readSync(fd, dst, done, want, offset + done);
      } catch (err) {
        throw new LlamaError('FILE_READ', `read failed at offset ${offset + done}: ${(err as Error).message}`, { file: this.path, cause: err });
      }
      // The file shrank under us (size was checked against fstat above).
      if (n === 0) throw new FormatError('FORMAT_TRUNCATED', `${what}: unexpected end of file at offset ${offset + done}`, { file: this.path });
      done += n;
    }
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.mem = undefined;
    this.chunks = undefined;
    this.open_ = false;
  }

  get closed(): boolean {
    return !this.open_;
  }

  private requireOpen(): void {
    if (!this.open_) throw new LlamaError('INTERNAL', `${this.path}: read after close`);
  }
}

/** Bytes of a source held in memory, starting at `offset` of the file. */
export interface ByteChunk {
  readonly offset: number;
  readonly bytes: Uint8Array;
}

/** A read needed bytes that a piecewise source has not fetched yet (api/open-source.ts fetches them and retries). */
export class MissingBytes extends LlamaError {
  constructor(readonly offset: number, readonly length: number, file: string) {
    super('INTERNAL', `bytes ${offset}..${offset + length} were not fetched`, { file });
  }
}

function copyFromChunks(chunks: readonly ByteChunk[], offset: number, dst: Uint8Array, file: string): void {
  let at = offset;
  const end = offset + dst.byteLength;
  for (const c of chunks) {
    if (at >= end) break;
    const cEnd = c.offset + c.bytes.byteLength;
    if (cEnd <= at) continue;
    if (c.offset > at) break; // a gap before this chunk
    const n = Math.min(cEnd, end) - at;
    dst.set(c.bytes.subarray(at - c.offset, at - c.offset + n), at - offset);
    at += n;
  }
  if (at < end) throw new MissingBytes(at, end - at, file);
}

/** Opens `path`, runs `fn`, and closes the file whatever happens. */
export function withSource<T>(path: string, fn: (src: ByteSource) => T): T {
  const src = ByteSource.open(path);
  try {
    return fn(src);
  } finally {
    src.close();
  }
}

const WINDOW = 1 << 16;
// ignoreBOM: a string that starts with U+FEFF keeps it (LLaMA's vocabulary has a token that is just a BOM).
const utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/**
 * Sequential little-endian reader over a ByteSource. Reads go through a window buffer that is
 * refilled by offset; every field read is bounds-checked against the file size.
 */
export class ByteCursor {
  readonly src: ByteSource;
  /** absolute file offset of the next byte */
  pos: number;
  private buf = new Uint8Array(0);
  private view = new DataView(this.buf.buffer);
  private bufStart = 0;

  constructor(src: ByteSource, pos = 0) {
    this.src = src;
    this.pos = pos;
  }

  get remaining(): number {
    return this.src.size - this.pos;
  }

  /** Makes [pos, pos+n) available in the window; returns its index inside `buf`. */
  private need(n: number, what: string): number {
    this.src.check(this.pos, n, what);
    const start = this.pos - this.bufStart;
    if (start >= 0 && start + n <= this.buf.byteLength) return start;
    const len = Math.min(Math.max(n, WINDOW), this.src.size - this.pos);
    if (this.buf.byteLength < len) {
      this.buf = new Uint8Array(len);
      this.view = new DataView(this.buf.buffer);
    }
    this.src.readInto(this.pos, this.buf.subarray(0, len), what);
    this.bufStart = this.pos;
    return 0;
  }

  u8(what = 'u8'): number {
    const i = this.need(1, what);
    this.pos += 1;
    return this.buf[i]!;
  }
  i8(what = 'i8'): number {
    const i = this.need(1, what);
    this.pos += 1;
    return this.view.getInt8(i);
  }
  u16(what = 'u16'): number {
    const i = this.need(2, what);
    this.pos += 2;
    return this.view.getUint16(i, true);
  }
  i16(what = 'i16'): number {
    const i = this.need(2, what);
    this.pos += 2;
    return this.view.getInt16(i, true);
  }
  u32(what = 'u32'): number {
    const i = this.need(4, what);
    this.pos += 4;
    return this.view.getUint32(i, true);
  }
  i32(what = 'i32'): number {
    const i = this.need(4, what);
    this.pos += 4;
    return this.view.getInt32(i, true);
  }
  f32(what = 'f32'): number {
    const i = this.need(4, what);
    this.pos += 4;
    return this.view.getFloat32(i, true);
  }
  f64(what = 'f64'): number {
    const i = this.need(8, what);
    this.pos += 8;
    return this.view.getFloat64(i, true);
  }
  u64Big(what = 'u64'): bigint {
    const i = this.need(8, what);
    this.pos += 8;
    return this.view.getBigUint64(i, true);
  }
  i64Big(what = 'i64'): bigint {
    const i = this.need(8, what);
    this.pos += 8;
    return this.view.getBigInt64(i, true);
  }

  /**
   * A u64 used as a count, length or offset: it must fit in a JS number exactly, otherwise the
   * file is corrupt (no real file has 2^53 of anything).
   */
  u64(what = 'u64'): number {
    const v = this.u64Big(what);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new FormatError('FORMAT_LIMIT', `${what} is ${v}, which no real file can hold`, { file: this.src.path, hint: 'the file is corrupt' });
    }
    return Number(v);
  }

  /**
   * A declared element count: `count * minBytesEach` must fit in what is left of the file, so a
   * corrupt count can never make us allocate or loop for longer than the file allows.
   */
  checkCount(count: number, minBytesEach: number, what: string): void {
    if (count * minBytesEach > this.remaining) {
      throw new FormatError(
        'FORMAT_LIMIT',
        `${what} declares ${count} elements (at least ${count * minBytesEach} bytes) but only ${this.remaining} bytes remain at offset ${this.pos}`,
        { file: this.src.path, hint: 'the file is corrupt or truncated' },
      );
    }
  }

  /** Raw bytes copied out of the file. */
  bytes(n: number, what = 'bytes'): Uint8Array {
    if (n <= WINDOW) {
      const i = this.need(n, what);
      this.pos += n;
      return this.buf.slice(i, i + n);
    }
    const out = this.src.read(this.pos, n, what);
    this.pos += n;
    return out;
  }

  /** UTF-8 text of `n` bytes (invalid sequences become U+FFFD, as Python's errors='replace'). */
  utf8(n: number, what = 'string'): string {
    if (n <= WINDOW) {
      const i = this.need(n, what);
      this.pos += n;
      return utf8.decode(this.buf.subarray(i, i + n));
    }
    return utf8.decode(this.bytes(n, what));
  }

  skip(n: number, what = 'skip'): void {
    this.src.check(this.pos, n, what);
    this.pos += n;
  }
}
