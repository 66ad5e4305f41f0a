// A minimal protocol-buffers wire-format reader and writer: enough for sentencepiece's ModelProto.
// The reader checks every varint and length against the buffer, so a malformed file gives a
// typed error instead of a crash or a huge allocation.
import { FormatError } from '../errors.js';

export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;
export const WIRE_I32 = 5;

export interface ProtoField {
  field: number;
  wire: number;
  /** varint value (as a number; exact up to 2^53) for WIRE_VARINT */
  varint: number;
  /** [start, end) in the buffer for WIRE_LEN, WIRE_I32 and WIRE_I64 */
  start: number;
  end: number;
}

export class ProtoReader {
  constructor(
    readonly buf: Uint8Array,
    readonly file: string,
  ) {}

  private corrupt(msg: string, at: number): never {
    throw new FormatError('FORMAT_CORRUPT', `malformed protobuf at byte ${at}: ${msg}`, {
      file: this.file,
      hint: 'the file is truncated or not a sentencepiece model; re-download it',
    });
  }

  /** reads a varint at `pos`; returns [value, next position] */
  varint(pos: number, end: number): [number, number] {
    let value = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (pos >= end) this.corrupt('varint runs past the end of its message', pos);
      const b = this.buf[pos++]!;
      value += (b & 0x7f) * mul;
      mul *= 128;
      if (b < 0x80) return [value, pos];
    }
    return this.corrupt('varint longer than 10 bytes', pos);
  }

  /** Iterates the fields of the message in buf[start..end). */
  *fields(start: number, end: number): Generator<ProtoField> {
    let pos = start;
    while (pos < end) {
      const at = pos;
      const [key, p] = this.varint(pos, end);
      pos = p;
      const field = Math.floor(key / 8);
      const wire = key % 8;
      if (field === 0) this.corrupt('field number 0', at);
      if (wire === WIRE_VARINT) {
        const [v, q] = this.varint(pos, end);
        pos = q;
        yield { field, wire, varint: v, start: at, end: q };
      } else if (wire === WIRE_LEN) {
        const [len, q] = this.varint(pos, end);
        if (len > end - q) this.corrupt(`field ${field} declares ${len} bytes but only ${end - q} remain`, at);
        pos = q + len;
        yield { field, wire, varint: 0, start: q, end: pos };
      } else if (wire === WIRE_I32 || wire === WIRE_I64) {
        const size = wire === WIRE_I32 ? 4 : 8;
        if (size > end - pos) this.corrupt(`field ${field} runs past the end`, at);
        yield { field, wire, varint: 0, start: pos, end: pos + size };
        pos += size;
      } else {
        this.corrupt(`unsupported wire type ${wire} for field ${field}`, at);
      }
    }
  }

  string(f: ProtoField): string {
    if (f.wire !== WIRE_LEN) this.corrupt(`field ${f.field} should be a string`, f.start);
    return new TextDecoder('utf-8', { fatal: false, ignoreBOM: true }).decode(this.buf.subarray(f.start, f.end));
  }

  float(f: ProtoField): number {
    if (f.wire !== WIRE_I32) this.corrupt(`field ${f.field} should be a float`, f.start);
    return new DataView(this.buf.buffer, this.buf.byteOffset + f.start, 4).getFloat32(0, true);
  }

  /** int32 fields: negative values are encoded as 10-byte two's-complement varints */
  int32(f: ProtoField): number {
    if (f.wire !== WIRE_VARINT) this.corrupt(`field ${f.field} should be a varint`, f.start);
    const v = f.varint;
    return v >= 2 ** 31 ? Number(BigInt.asIntN(32, BigInt(v))) : v;
  }

  bool(f: ProtoField): boolean {
    return this.int32(f) !== 0;
  }
}

/** Append-only protobuf writer. */
export class ProtoWriter {
  private chunks: number[] = [];

  private raw(b: number): void {
    this.chunks.push(b);
  }

  private writeVarint(v: number): void {
    if (v < 0) {
      // int32 negative: 10-byte two's complement
      let big = BigInt.asUintN(64, BigInt(v));
      for (let i = 0; i < 10; i++) {
        const byte = Number(big & 0x7fn);
        big >>= 7n;
        this.raw(big > 0n ? byte | 0x80 : byte);
        if (big === 0n) return;
      }
      return;
    }
    while (v >= 0x80) {
      this.raw((v % 128) | 0x80);
      v = Math.floor(v / 128);
    }
    this.raw(v);
  }

  varint(field: number, v: number): this {
    this.writeVarint(field * 8 + WIRE_VARINT);
    this.writeVarint(v);
    return this;
  }

  bool(field: number, v: boolean): this {
    return this.varint(field, v ? 1 : 0);
  }

  float(field: number, v: number): this {
    this.writeVarint(field * 8 + WIRE_I32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    for (const x of b) this.raw(x);
    return this;
  }

  bytes(field: number, data: Uint8Array): this {
    this.writeVarint(field * 8 + WIRE_LEN);
    this.writeVarint(data.length);
    for (const x of data) this.raw(x);
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  message(field: number, m: ProtoWriter): this {
    return this.bytes(field, m.finish());
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }
}
