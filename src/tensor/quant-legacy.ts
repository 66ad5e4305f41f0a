// The 32-value block formats of ggml (ggml-common.h), with their reference codecs as
// ggml-quants.c defines them (dequantize_row_* and quantize_row_*_ref). Byte layouts:
//   Q4_0  { f16 d; u8 qs[16] }                 y = (nibble - 8)·d
//   Q4_1  { f16 d; f16 m; u8 qs[16] }          y = nibble·d + m
//   Q5_0  { f16 d; u8 qh[4]; u8 qs[16] }       y = (nibble | high bit << 4) - 16)·d
//   Q5_1  { f16 d; f16 m; u8 qh[4]; u8 qs[16]} y = (nibble | high bit << 4)·d + m
//   Q8_0  { f16 d; i8 qs[32] }                 y = q·d
// In the 4/5-bit types byte j holds value j in its low nibble and value j+16 in its high nibble;
// qh is a little-endian u32 whose bit j is the fifth bit of value j.
import { f, halfAt, i8, putHalf, roundHalfAway, signedAbsMax, type BlockDecoder, type BlockEncoder } from './quant-common.js';

export const QK = 32;

// ---- decoders ----

export const decodeQ4_0: BlockDecoder = (src, off, out, o) => {
  const d = halfAt(src, off);
  for (let j = 0; j < 16; j++) {
    const b = src[off + 2 + j]!;
    out[o + j] = ((b & 0x0f) - 8) * d;
    out[o + j + 16] = ((b >> 4) - 8) * d;
  }
};

export const decodeQ4_1: BlockDecoder = (src, off, out, o) => {
  const d = halfAt(src, off);
  const m = halfAt(src, off + 2);
  for (let j = 0; j < 16; j++) {
    const b = src[off + 4 + j]!;
    out[o + j] = f((b & 0x0f) * d) + m;
    out[o + j + 16] = f((b >> 4) * d) + m;
  }
};

function qh32(src: Uint8Array, off: number): number {
  return (src[off]! | (src[off + 1]! << 8) | (src[off + 2]! << 16) | (src[off + 3]! << 24)) >>> 0;
}

export const decodeQ5_0: BlockDecoder = (src, off, out, o) => {
  const d = halfAt(src, off);
  const qh = qh32(src, off + 2);
  for (let j = 0; j < 16; j++) {
    const b = src[off + 6 + j]!;
    const h0 = ((qh >>> j) << 4) & 0x10;
    const h1 = (qh >>> (j + 12)) & 0x10;
    out[o + j] = (((b & 0x0f) | h0) - 16) * d;
    out[o + j + 16] = (((b >> 4) | h1) - 16) * d;
  }
};

export const decodeQ5_1: BlockDecoder = (src, off, out, o) => {
  const d = halfAt(src, off);
  const m = halfAt(src, off + 2);
  const qh = qh32(src, off + 4);
  for (let j = 0; j < 16; j++) {
    const b = src[off + 8 + j]!;
    const h0 = ((qh >>> j) << 4) & 0x10;
    const h1 = (qh >>> (j + 12)) & 0x10;
    out[o + j] = f(((b & 0x0f) | h0) * d) + m;
    out[o + j + 16] = f(((b >> 4) | h1) * d) + m;
  }
};

export const decodeQ8_0: BlockDecoder = (src, off, out, o) => {
  const d = halfAt(src, off);
  for (let j = 0; j < 32; j++) out[o + j] = i8(src[off + 2 + j]!) * d;
};

// ---- reference encoders (quantize_row_*_ref) ----


export const encodeQ4_0: BlockEncoder = (x, xo, dst, off) => {
  const d = f(signedAbsMax(x, xo, QK) / -8);
  const id = d ? f(1 / d) : 0;
  putHalf(dst, off, d);
  for (let j = 0; j < 16; j++) {
    const x0 = f(x[xo + j]! * id);
    const x1 = f(x[xo + 16 + j]! * id);
    // (int8_t)(x + 8.5f) truncates toward zero
    const q0 = Math.min(15, Math.trunc(f(x0 + 8.5)));
    const q1 = Math.min(15, Math.trunc(f(x1 + 8.5)));
    dst[off + 2 + j] = (q0 & 0xff) | ((q1 << 4) & 0xff);
  }
};

function minMax(x: Float32Array, xo: number): [number, number] {
  let min = Infinity;
  let max = -Infinity;
  for (let j = 0; j < QK; j++) {
    const v = x[xo + j]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return [min, max];
}

export const encodeQ4_1: BlockEncoder = (x, xo, dst, off) => {
  const [min, max] = minMax(x, xo);
  const d = f(f(max - min) / 15);
  const id = d ? f(1 / d) : 0;
  putHalf(dst, off, d);
  putHalf(dst, off + 2, min);
  for (let j = 0; j < 16; j++) {
    const x0 = f(f(x[xo + j]! - min) * id);
    const x1 = f(f(x[xo + 16 + j]! - min) * id);
    const q0 = Math.min(15, Math.trunc(f(x0 + 0.5)));
    const q1 = Math.min(15, Math.trunc(f(x1 + 0.5)));
    dst[off + 4 + j] = q0 | (q1 << 4);
  }
};

function putU32(dst: Uint8Array, off: number, v: number): void {
  dst[off] = v & 0xff;
  dst[off + 1] = (v >>> 8) & 0xff;
  dst[off + 2] = (v >>> 16) & 0xff;
  dst[off + 3] = (v >>> 24) & 0xff;
}

export const encodeQ5_0: BlockEncoder = (x, xo, dst, off) => {
  const d = f(signedAbsMax(x, xo, QK) / -16);
  const id = d ? f(1 / d) : 0;
  putHalf(dst, off, d);
  let qh = 0;
  for (let j = 0; j < 16; j++) {
    const q0 = Math.min(31, Math.trunc(f(f(x[xo + j]! * id) + 16.5)));
    const q1 = Math.min(31, Math.trunc(f(f(x[xo + 16 + j]! * id) + 16.5)));
    dst[off + 6 + j] = (q0 & 0x0f) | ((q1 & 0x0f) << 4);
    qh |= ((q0 & 0x10) >>> 4) << j;
    qh |= ((q1 & 0x10) >>> 4) << (j + 16);
  }
  putU32(dst, off + 2, qh >>> 0);
};

export const encodeQ5_1: BlockEncoder = (x, xo, dst, off) => {
  const [min, max] = minMax(x, xo);
  const d = f(f(max - min) / 31);
  const id = d ? f(1 / d) : 0;
  putHalf(dst, off, d);
  putHalf(dst, off + 2, min);
  let qh = 0;
  for (let j = 0; j < 16; j++) {
    const q0 = Math.trunc(f(f(f(x[xo + j]! - min) * id) + 0.5)) & 0xff;
    const q1 = Math.trunc(f(f(f(x[xo + 16 + j]! - min) * id) + 0.5)) & 0xff;
    dst[off + 8 + j] = (q0 & 0x0f) | ((q1 & 0x0f) << 4);
    qh |= ((q0 & 0x10) >>> 4) << j;
    qh |= ((q1 & 0x10) >>> 4) << (j + 16);
  }
  putU32(dst, off + 4, qh >>> 0);
};

export const encodeQ8_0: BlockEncoder = (x, xo, dst, off) => {
  let amax = 0;
  for (let j = 0; j < QK; j++) amax = Math.max(amax, Math.abs(x[xo + j]!));
  const d = f(amax / 127);
  const id = d ? f(1 / d) : 0;
  putHalf(dst, off, d);
  for (let j = 0; j < QK; j++) dst[off + 2 + j] = roundHalfAway(f(x[xo + j]! * id)) & 0xff;
};
