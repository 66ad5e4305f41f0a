// Shared pieces of the reference (de)quantizers: float32 arithmetic helpers and the block codec
// signatures. ggml does all of this in C `float`; JS numbers are float64, so every float operation
// whose result C keeps as a float is wrapped in Math.fround to round it exactly as C would. That is
// what makes the quantizers byte-identical to ggml's (a float64 intermediate can land on the other
// side of a rounding boundary).
import { floatToHalf, HALF_TABLE } from './f16.js';

export const f = Math.fround;

/**
 * ggml's nearest_int(float): adds 1.5·2^23 in float arithmetic so the FPU rounds to an integer
 * (round half to even), valid for |x| <= 2^22 - 1. Out-of-range input (NaN, huge) gives 0 rather
 * than C's undefined behaviour.
 */
/**
 * The value of largest magnitude among x[xo..xo+n) (the first one on ties), as ggml's reference
 * quantizers pick it; its sign matters (the scale is derived from it). 0 for an all-zero group.
 */
export function signedAbsMax(x: Float32Array, xo: number, n: number): number {
  let amax = 0;
  let max = 0;
  for (let j = 0; j < n; j++) {
    const v = x[xo + j]!;
    if (amax < Math.abs(v)) {
      amax = Math.abs(v);
      max = v;
    }
  }
  return max;
}

export function nearestInt(x: number): number {
  const v = f(x + 12582912);
  const r = v - 12582912;
  return Number.isFinite(r) && Math.abs(r) <= 4194304 ? r : 0;
}

/** C roundf: half away from zero. */
export function roundHalfAway(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

/** Reads a little-endian IEEE half at byte `off` as a float. */
export function halfAt(src: Uint8Array, off: number): number {
  return HALF_TABLE[src[off]! | (src[off + 1]! << 8)]!;
}

/** Writes `v` (a float32 value) as a little-endian IEEE half, round-to-nearest-even. */
export function putHalf(dst: Uint8Array, off: number, v: number): void {
  const h = floatToHalf(v);
  dst[off] = h & 0xff;
  dst[off + 1] = h >>> 8;
}

/** Decodes one block of `blockSize` values starting at byte `off` of `src` into `out[o..]`. */
export type BlockDecoder = (src: Uint8Array, off: number, out: Float32Array, o: number) => void;

/** Encodes `blockSize` values `x[xo..]` into one block at byte `off` of `dst` (pre-zeroed). */
export type BlockEncoder = (x: Float32Array, xo: number, dst: Uint8Array, off: number) => void;

/** Signed byte. */
export function i8(b: number): number {
  return (b << 24) >> 24;
}
