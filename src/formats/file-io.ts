// Small file helpers shared by the safetensors, .pth and llama2.c readers: positioned reads that are
// checked against the file size before anything is allocated, and atomic writes (temp + rename).
// (GGUF uses the formats helper's `source.ts`; these readers only need whole-range reads.)
import { closeSync, fstatSync, openSync, readSync, renameSync, rmSync, writeSync, fsyncSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { FormatError, LlamaError } from '../errors.js';

/** An open read-only file; every read is bounds-checked against `size`. */
export class FileBytes {
  readonly path: string;
  readonly size: number;
  private fd: number;

  private constructor(path: string, fd: number, size: number) {
    this.path = path;
    this.fd = fd;
    this.size = size;
  }

  static open(path: string): FileBytes {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new LlamaError('FILE_NOT_FOUND', 'no such file', { file: path, hint: 'check the path' });
      throw new LlamaError('FILE_READ', `cannot open: ${(e as Error).message}`, { file: path, cause: e });
    }
    const st = fstatSync(fd);
    if (!st.isFile()) {
      closeSync(fd);
      throw new LlamaError('FILE_READ', 'not a regular file', { file: path });
    }
    return new FileBytes(path, fd, st.size);
  }

  /**
   * `length` bytes at `offset`. Throws FORMAT_TRUNCATED (naming `what`) when the range leaves the
   * file, so a declared length is always checked before the buffer is allocated.
   */
  read(offset: number, length: number, what = 'data'): Uint8Array {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
      throw new FormatError('FORMAT_CORRUPT', `${what}: invalid range offset ${offset} length ${length}`, { file: this.path });
    }
    if (offset + length > this.size) {
      throw new FormatError('FORMAT_TRUNCATED', `${what} needs bytes ${offset}..${offset + length} but the file has ${this.size}`, {
        file: this.path,
        hint: 'the file is truncated or its header is corrupt; download or convert it again',
      });
    }
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, out, done, Math.min(length - done, 1 << 30), offset + done);
      if (n <= 0) throw new LlamaError('FILE_READ', `short read at offset ${offset + done}`, { file: this.path });
      done += n;
    }
    return out;
  }

  close(): void {
    if (this.fd >= 0) {
      closeSync(this.fd);
      this.fd = -1;
    }
  }
}

/** Little-endian reads on a byte array that throw a typed error instead of a RangeError. */
export class ByteCursor {
  pos = 0;
  private readonly dv: DataView;
  constructor(readonly bytes: Uint8Array, private readonly file: string, private readonly what: string) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  need(n: number): void {
    if (n < 0 || this.pos + n > this.bytes.byteLength) {
      throw new FormatError('FORMAT_TRUNCATED', `${this.what} ends early (needs ${n} bytes at ${this.pos}, has ${this.bytes.byteLength})`, { file: this.file });
    }
  }
  u8(): number { this.need(1); return this.dv.getUint8(this.pos++); }
  u16(): number { this.need(2); const v = this.dv.getUint16(this.pos, true); this.pos += 2; return v; }
  u32(): number { this.need(4); const v = this.dv.getUint32(this.pos, true); this.pos += 4; return v; }
  i32(): number { this.need(4); const v = this.dv.getInt32(this.pos, true); this.pos += 4; return v; }
  u64(): number {
    this.need(8);
    const v = this.dv.getBigUint64(this.pos, true);
    this.pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new FormatError('FORMAT_LIMIT', `${this.what}: 64-bit value ${v} is too large`, { file: this.file });
    return Number(v);
  }
  bytesN(n: number): Uint8Array { this.need(n); const b = this.bytes.subarray(this.pos, this.pos + n); this.pos += n; return b; }
}

/**
 * Write a file atomically: the bytes go to a temp file beside the target, are fsync'ed, then
 * renamed over it, so a crash never leaves a half-written model under the final name.
 * `chunks` is consumed in order (an iterable, so large outputs need not be in memory at once).
 */
export function writeFileAtomic(path: string, chunks: Iterable<Uint8Array>): number {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${Date.now()}`);
  let fd: number;
  try {
    fd = openSync(tmp, 'w');
  } catch (e) {
    throw new LlamaError('FILE_WRITE', `cannot create: ${(e as Error).message}`, { file: path, cause: e });
  }
  let total = 0;
  try {
    for (const c of chunks) {
      let done = 0;
      while (done < c.byteLength) done += writeSync(fd, c, done, c.byteLength - done);
      total += c.byteLength;
    }
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, path);
  } catch (e) {
    try { closeSync(fd); } catch { /* already closed */ }
    rmSync(tmp, { force: true });
    if (e instanceof LlamaError) throw e;
    throw new LlamaError('FILE_WRITE', `write failed: ${(e as Error).message}`, { file: path, cause: e });
  }
  return total;
}
