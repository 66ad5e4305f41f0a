// The K-quants: 256-value super-blocks (QK_K) with per-sub-block scales, as ggml-common.h lays them
// out and ggml-quants.c decodes them (dequantize_row_q*_K) and encodes them without an importance
// matrix (quantize_row_q*_K_ref, built on make_qkx2_quants / make_qx_quants / make_q3_quants).
//
//   Q2_K { u8 scales[16]; u8 qs[64]; f16 d; f16 dmin }            84 bytes, 16 sub-blocks of 16
//   Q3_K { u8 hmask[32]; u8 qs[64]; u8 scales[12]; f16 d }        110 bytes, 16 sub-blocks of 16
//   Q4_K { f16 d; f16 dmin; u8 scales[12]; u8 qs[128] }           144 bytes, 8 sub-blocks of 32
//   Q5_K { f16 d; f16 dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]} 176 bytes, 8 sub-blocks of 32
//   Q6_K { u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d }          210 bytes, 16 sub-blocks of 16
//   Q8_K { f32 d; i8 qs[256]; i16 bsums[16] }                     292 bytes
// Q4_K/Q5_K pack eight 6-bit scales and eight 6-bit mins into 12 bytes (get_scale_min_k4).
// Every float operation that C performs in `float` is rounded with f() (Math.fround).
import { f, halfAt, i8, nearestInt, putHalf, signedAbsMax, type BlockDecoder, type BlockEncoder } from './quant-common.js';

export const QK_K = 256;
const GROUP_MAX_EPS = 1e-15;

/** 6-bit scale of sub-block j (0..7) from the 12 packed bytes at `q` (get_scale_min_k4). */
function scaleK4(j: number, src: Uint8Array, q: number): number {
  return j < 4 ? src[q + j]! & 63 : (src[q + j + 4]! & 0x0f) | ((src[q + j - 4]! >> 6) << 4);
}

/** 6-bit min of sub-block j (0..7) from the 12 packed bytes at `q` (get_scale_min_k4). */
function minK4(j: number, src: Uint8Array, q: number): number {
  return j < 4 ? src[q + j + 4]! & 63 : (src[q + j + 4]! >> 4) | ((src[q + j]! >> 6) << 4);
}

// ---------------------------------------------------------------------------------------------
// decoders

export const decodeQ2_K: BlockDecoder = (src, off, out, o) => {
  const d = halfAt(src, off + 80);
  const min = halfAt(src, off + 82);
  let q = off + 16;
  let is = 0;
  let y = o;
  for (let n = 0; n < QK_K; n += 128) {
    for (let shift = 0; shift < 8; shift += 2) {
      for (let half = 0; half < 2; half++) {
        const sc = src[off + is++]!;
        const dl = f(d * (sc & 0x0f));
        const ml = f(min * (sc >> 4));
        for (let l = 0; l < 16; l++) out[y++] = f(dl * ((src[q + 16 * half + l]! >> shift) & 3)) - ml;
      }
    }
    q += 32;
  }
};

const q3Scratch = new Int8Array(16);

/** The sixteen 6-bit Q3_K scales (minus 32) unpacked from 12 bytes (into a shared scratch array). */
function q3kScales(src: Uint8Array, s: number, out: Int8Array = q3Scratch): Int8Array {
  const b = (k: number) => src[s + k]!;
  for (let j = 0; j < 16; j++) {
    const low = j < 8 ? b(j) & 0x0f : b(j - 8) >> 4;
    const high = (b(8 + (j % 4)) >> (2 * Math.floor(j / 4))) & 3;
    out[j] = (low | (high << 4)) - 32;
  }
  return out;
}

export const decodeQ3_K: BlockDecoder = (src, off, out, o) => {
  const hm = off;
  let q = off + 32;
  const dAll = halfAt(src, off + 108);
  const scales = q3kScales(src, off + 96);
  let is = 0;
  let m = 1;
  let y = o;
  for (let n = 0; n < QK_K; n += 128) {
    for (let shift = 0; shift < 8; shift += 2) {
      for (let half = 0; half < 2; half++) {
        const dl = f(dAll * scales[is++]!);
        for (let l = 0; l < 16; l++) {
          const k = 16 * half + l;
          out[y++] = dl * (((src[q + k]! >> shift) & 3) - (src[hm + k]! & m ? 0 : 4));
        }
      }
      m <<= 1;
    }
    q += 32;
  }
};

export const decodeQ4_K: BlockDecoder = (src, off, out, o) => {
  const d = halfAt(src, off);
  const min = halfAt(src, off + 2);
  let q = off + 16;
  let y = o;
  for (let is = 0; is < 8; is += 2) {
    const d1 = f(d * scaleK4(is, src, off + 4)), mm1 = f(min * minK4(is, src, off + 4));
    const d2 = f(d * scaleK4(is + 1, src, off + 4)), mm2 = f(min * minK4(is + 1, src, off + 4));
    for (let l = 0; l < 32; l++) out[y++] = f(d1 * (src[q + l]! & 0x0f)) - mm1;
    for (let l = 0; l < 32; l++) out[y++] = f(d2 * (src[q + l]! >> 4)) - mm2;
    q += 32;
  }
};

export const decodeQ5_K: BlockDecoder = (src, off, out, o) => {
  const d = halfAt(src, off);
  const min = halfAt(src, off + 2);
  const qh = off + 16;
  let ql = off + 48;
  let u1 = 1, u2 = 2;
  let y = o;
  for (let is = 0; is < 8; is += 2) {
    const d1 = f(d * scaleK4(is, src, off + 4)), mm1 = f(min * minK4(is, src, off + 4));
    const d2 = f(d * scaleK4(is + 1, src, off + 4)), mm2 = f(min * minK4(is + 1, src, off + 4));
    for (let l = 0; l < 32; l++) out[y++] = f(d1 * ((src[ql + l]! & 0x0f) + (src[qh + l]! & u1 ? 16 : 0))) - mm1;
    for (let l = 0; l < 32; l++) out[y++] = f(d2 * ((src[ql + l]! >> 4) + (src[qh + l]! & u2 ? 16 : 0))) - mm2;
    ql += 32;
    u1 <<= 2;
    u2 <<= 2;
  }
};

export const decodeQ6_K: BlockDecoder = (src, off, out, o) => {
  const d = halfAt(src, off + 208);
  let ql = off;
  let qh = off + 128;
  let sc = off + 192;
  let y = o;
  for (let n = 0; n < QK_K; n += 128) {
    for (let l = 0; l < 32; l++) {
      const is = l >> 4;
      const h = src[qh + l]!;
      const q1 = ((src[ql + l]! & 0x0f) | ((h & 3) << 4)) - 32;
      const q2 = ((src[ql + l + 32]! & 0x0f) | (((h >> 2) & 3) << 4)) - 32;
      const q3 = ((src[ql + l]! >> 4) | (((h >> 4) & 3) << 4)) - 32;
      const q4 = ((src[ql + l + 32]! >> 4) | (((h >> 6) & 3) << 4)) - 32;
      out[y + l] = f(d * i8(src[sc + is]!)) * q1;
      out[y + l + 32] = f(d * i8(src[sc + is + 2]!)) * q2;
      out[y + l + 64] = f(d * i8(src[sc + is + 4]!)) * q3;
      out[y + l + 96] = f(d * i8(src[sc + is + 6]!)) * q4;
    }
    y += 128;
    ql += 64;
    qh += 32;
    sc += 8;
  }
};

const f32Scratch = new Float32Array(1);
const f32Bytes = new Uint8Array(f32Scratch.buffer);

export const decodeQ8_K: BlockDecoder = (src, off, out, o) => {
  for (let k = 0; k < 4; k++) f32Bytes[k] = src[off + k]!;
  const d = f32Scratch[0]!;
  for (let j = 0; j < QK_K; j++) out[o + j] = d * i8(src[off + 4 + j]!);
};

// ---------------------------------------------------------------------------------------------
// reference encoders

/**
 * make_qkx2_quants: an affine (scale, min) fit of n values to levels 0..nmax, minimising the
 * weighted squared (or absolute, useMad) error over a small search of scales. Returns the scale;
 * writes the levels to L[lo..] and -min to theMin[0].
 */
function makeQkx2Quants(
  n: number, nmax: number, x: Float32Array, xo: number, weights: Float32Array, L: Uint8Array, lo: number,
  theMin: Float32Array, mi: number, Laux: Uint8Array, rmin: number, rdelta: number, nstep: number, useMad: boolean,
): number {
  let min = x[xo]!;
  let max = x[xo]!;
  let sumW = weights[0]!;
  let sumX = f(sumW * x[xo]!);
  for (let i = 1; i < n; i++) {
    const xi = x[xo + i]!;
    if (xi < min) min = xi;
    if (xi > max) max = xi;
    const w = weights[i]!;
    sumW = f(sumW + w);
    sumX = f(sumX + f(w * xi));
  }
  if (min > 0) min = 0;
  if (max === min) {
    for (let i = 0; i < n; i++) L[lo + i] = 0;
    theMin[mi] = -min;
    return 0;
  }
  let iscale = f(nmax / f(max - min));
  let scale = f(1 / iscale);
  let bestError = 0;
  for (let i = 0; i < n; i++) {
    const l = nearestInt(f(iscale * f(x[xo + i]! - min)));
    L[lo + i] = Math.max(0, Math.min(nmax, l));
    let diff = f(f(f(scale * L[lo + i]!) + min) - x[xo + i]!);
    diff = useMad ? Math.abs(diff) : f(diff * diff);
    bestError = f(bestError + f(weights[i]! * diff));
  }
  if (nstep < 1) {
    theMin[mi] = -min;
    return scale;
  }
  for (let is = 0; is <= nstep; is++) {
    iscale = f(f(f(rmin + f(rdelta * is)) + nmax) / f(max - min));
    let sumL = 0, sumL2 = 0, sumXL = 0;
    for (let i = 0; i < n; i++) {
      let l = nearestInt(f(iscale * f(x[xo + i]! - min)));
      l = Math.max(0, Math.min(nmax, l));
      Laux[i] = l;
      const w = weights[i]!;
      const wl = f(w * l);
      sumL = f(sumL + wl);
      sumL2 = f(sumL2 + f(wl * l));
      sumXL = f(sumXL + f(wl * x[xo + i]!));
    }
    const D = f(f(sumW * sumL2) - f(sumL * sumL));
    if (D > 0) {
      let thisScale = f(f(f(sumW * sumXL) - f(sumX * sumL)) / D);
      let thisMin = f(f(f(sumL2 * sumX) - f(sumL * sumXL)) / D);
      if (thisMin > 0) {
        thisMin = 0;
        thisScale = f(sumXL / sumL2);
      }
      let curError = 0;
      for (let i = 0; i < n; i++) {
        let diff = f(f(f(thisScale * Laux[i]!) + thisMin) - x[xo + i]!);
        diff = useMad ? Math.abs(diff) : f(diff * diff);
        curError = f(curError + f(weights[i]! * diff));
      }
      if (curError < bestError) {
        for (let i = 0; i < n; i++) L[lo + i] = Laux[i]!;
        bestError = curError;
        scale = thisScale;
        min = thisMin;
      }
    }
  }
  theMin[mi] = -min;
  return scale;
}

/**
 * make_qx_quants with rmse_type 1 and no importance weights (weights x²): a symmetric fit to levels
 * -nmax..nmax-1, searching 18 scales around nmax/max. Writes levels + nmax to L[lo..].
 */
function makeQxQuants(n: number, nmax: number, x: Float32Array, xo: number, L: Uint8Array, lo: number): number {
  const max = signedAbsMax(x, xo, n);
  const amax = Math.abs(max);
  if (amax < GROUP_MAX_EPS) {
    for (let i = 0; i < n; i++) L[lo + i] = 0;
    return 0;
  }
  let iscale = f(-nmax / max);
  let sumlx = 0;
  let suml2 = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[xo + i]!;
    let l = nearestInt(f(iscale * xi));
    l = Math.max(-nmax, Math.min(nmax - 1, l));
    L[lo + i] = l + nmax;
    const w = f(xi * xi);
    sumlx = f(sumlx + f(f(w * xi) * l));
    suml2 = f(suml2 + f(f(w * l) * l));
  }
  let scale = suml2 ? f(sumlx / suml2) : 0;
  let best = f(scale * sumlx);
  for (let is = -9; is <= 9; is++) {
    if (is === 0) continue;
    iscale = f(-f(nmax + f(f(0.1) * is)) / max);
    sumlx = 0;
    suml2 = 0;
    for (let i = 0; i < n; i++) {
      const xi = x[xo + i]!;
      let l = nearestInt(f(iscale * xi));
      l = Math.max(-nmax, Math.min(nmax - 1, l));
      const w = f(xi * xi);
      sumlx = f(sumlx + f(f(w * xi) * l));
      suml2 = f(suml2 + f(f(w * l) * l));
    }
    if (suml2 > 0 && f(sumlx * sumlx) > f(best * suml2)) {
      for (let i = 0; i < n; i++) {
        const l = nearestInt(f(iscale * x[xo + i]!));
        L[lo + i] = nmax + Math.max(-nmax, Math.min(nmax - 1, l));
      }
      scale = f(sumlx / suml2);
      best = f(scale * sumlx);
    }
  }
  return scale;
}

/** make_q3_quants with do_rmse (weights x²), levels -nmax..nmax-1, iteratively refined. */
function makeQ3Quants(n: number, nmax: number, x: Float32Array, xo: number, L: Int8Array, lo: number): number {
  const max = signedAbsMax(x, xo, n);
  const amax = Math.abs(max);
  if (amax < GROUP_MAX_EPS) {
    for (let i = 0; i < n; i++) L[lo + i] = 0;
    return 0;
  }
  const iscale = f(-nmax / max);
  let sumlx = 0;
  let suml2 = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[xo + i]!;
    let l = nearestInt(f(iscale * xi));
    l = Math.max(-nmax, Math.min(nmax - 1, l));
    L[lo + i] = l;
    const w = f(xi * xi);
    sumlx = f(sumlx + f(f(w * xi) * l));
    suml2 = f(suml2 + f(f(w * l) * l));
  }
  for (let itry = 0; itry < 5; itry++) {
    let nChanged = 0;
    for (let i = 0; i < n; i++) {
      const xi = x[xo + i]!;
      const w = f(xi * xi);
      const Li = L[lo + i]!;
      let slx = f(sumlx - f(f(w * xi) * Li));
      if (slx > 0) {
        let sl2 = f(suml2 - f(f(w * Li) * Li));
        let newL = nearestInt(f(f(xi * sl2) / slx));
        newL = Math.max(-nmax, Math.min(nmax - 1, newL));
        if (newL !== Li) {
          slx = f(slx + f(f(w * xi) * newL));
          sl2 = f(sl2 + f(f(w * newL) * newL));
          if (sl2 > 0 && f(f(slx * slx) * suml2) > f(f(sumlx * sumlx) * sl2)) {
            L[lo + i] = newL;
            sumlx = slx;
            suml2 = sl2;
            nChanged++;
          }
        }
      }
    }
    if (!nChanged) break;
  }
  for (let i = 0; i < n; i++) L[lo + i] = L[lo + i]! + nmax;
  return suml2 > 0 ? f(sumlx / suml2) : 0;
}

export const encodeQ2_K: BlockEncoder = (x, xo, dst, off) => {
  const L = new Uint8Array(QK_K);
  const Laux = new Uint8Array(16);
  const weights = new Float32Array(16);
  const mins = new Float32Array(16);
  const scales = new Float32Array(16);
  let maxScale = 0;
  let maxMin = 0;
  for (let j = 0; j < 16; j++) {
    for (let l = 0; l < 16; l++) weights[l] = Math.abs(x[xo + 16 * j + l]!);
    scales[j] = makeQkx2Quants(16, 3, x, xo + 16 * j, weights, L, 16 * j, mins, j, Laux, -0.5, f(0.1), 15, true);
    if (scales[j]! > maxScale) maxScale = scales[j]!;
    if (mins[j]! > maxMin) maxMin = mins[j]!;
  }
  const sc = off; // scales[16] at offset 0
  if (maxScale > 0) {
    const iscale = f(15 / maxScale);
    for (let j = 0; j < 16; j++) dst[sc + j] = nearestInt(f(iscale * scales[j]!)) & 0xff;
    putHalf(dst, off + 80, f(maxScale / 15));
  } else {
    for (let j = 0; j < 16; j++) dst[sc + j] = 0;
    putHalf(dst, off + 80, 0);
  }
  if (maxMin > 0) {
    const iscale = f(15 / maxMin);
    for (let j = 0; j < 16; j++) dst[sc + j] = (dst[sc + j]! | (nearestInt(f(iscale * mins[j]!)) << 4)) & 0xff;
    putHalf(dst, off + 82, f(maxMin / 15));
  } else {
    putHalf(dst, off + 82, 0);
  }
  const dAll = halfAt(dst, off + 80);
  const mAll = halfAt(dst, off + 82);
  for (let j = 0; j < 16; j++) {
    const d = f(dAll * (dst[sc + j]! & 0x0f));
    if (!d) continue;
    const dm = f(mAll * (dst[sc + j]! >> 4));
    for (let ii = 0; ii < 16; ii++) {
      const l = nearestInt(f(f(x[xo + 16 * j + ii]! + dm) / d));
      L[16 * j + ii] = Math.max(0, Math.min(3, l));
    }
  }
  for (let j = 0; j < QK_K; j += 128) {
    for (let l = 0; l < 32; l++) {
      dst[off + 16 + j / 4 + l] = L[j + l]! | (L[j + l + 32]! << 2) | (L[j + l + 64]! << 4) | (L[j + l + 96]! << 6);
    }
  }
};

export const encodeQ3_K: BlockEncoder = (x, xo, dst, off) => {
  const L = new Int8Array(QK_K);
  const scales = new Float32Array(16);
  for (let j = 0; j < 16; j++) scales[j] = makeQ3Quants(16, 4, x, xo + 16 * j, L, 16 * j);
  const maxScale = signedAbsMax(scales, 0, 16);
  const hmask = off, qs = off + 32, sc = off + 96;
  for (let k = 0; k < 12; k++) dst[sc + k] = 0;
  if (maxScale) {
    const iscale = f(-32 / maxScale);
    for (let j = 0; j < 16; j++) {
      let l = i8(nearestInt(f(iscale * scales[j]!)));
      l = Math.max(-32, Math.min(31, l)) + 32;
      if (j < 8) dst[sc + j] = l & 0x0f;
      else dst[sc + j - 8] = dst[sc + j - 8]! | ((l & 0x0f) << 4);
      l >>= 4;
      dst[sc + (j % 4) + 8] = dst[sc + (j % 4) + 8]! | (l << (2 * Math.floor(j / 4)));
    }
    putHalf(dst, off + 108, f(1 / iscale));
  } else {
    putHalf(dst, off + 108, 0);
  }
  const dAll = halfAt(dst, off + 108);
  const unpacked = q3kScales(dst, sc, new Int8Array(16));
  for (let j = 0; j < 16; j++) {
    const d = f(dAll * unpacked[j]!);
    if (!d) continue;
    for (let ii = 0; ii < 16; ii++) {
      const l = nearestInt(f(x[xo + 16 * j + ii]! / d));
      L[16 * j + ii] = Math.max(-4, Math.min(3, l)) + 4;
    }
  }
  for (let k = 0; k < 32; k++) dst[hmask + k] = 0;
  let m = 0;
  let hm = 1;
  for (let j = 0; j < QK_K; j++) {
    if (L[j]! > 3) {
      dst[hmask + m] = dst[hmask + m]! | hm;
      L[j] = L[j]! - 4;
    }
    if (++m === QK_K / 8) {
      m = 0;
      hm <<= 1;
    }
  }
  for (let j = 0; j < QK_K; j += 128) {
    for (let l = 0; l < 32; l++) {
      dst[qs + j / 4 + l] = (L[j + l]! | (L[j + l + 32]! << 2) | (L[j + l + 64]! << 4) | (L[j + l + 96]! << 6)) & 0xff;
    }
  }
};

/** Shared by Q4_K and Q5_K: per-32 affine fits, then 6-bit scales/mins packed into 12 bytes. */
function fitScalesMinsK(x: Float32Array, xo: number, nmax: number, rmin: number, nstep: number, L: Uint8Array, dst: Uint8Array, off: number): void {
  const Laux = new Uint8Array(32);
  const weights = new Float32Array(32);
  const mins = new Float32Array(8);
  const scales = new Float32Array(8);
  let maxScale = 0;
  let maxMin = 0;
  for (let j = 0; j < 8; j++) {
    let sumX2 = 0;
    for (let l = 0; l < 32; l++) {
      const v = x[xo + 32 * j + l]!;
      sumX2 = f(sumX2 + f(v * v));
    }
    const avX = f(Math.sqrt(f(sumX2 / 32)));
    for (let l = 0; l < 32; l++) weights[l] = f(avX + Math.abs(x[xo + 32 * j + l]!));
    scales[j] = makeQkx2Quants(32, nmax, x, xo + 32 * j, weights, L, 32 * j, mins, j, Laux, rmin, f(0.1), nstep, false);
    if (scales[j]! > maxScale) maxScale = scales[j]!;
    if (mins[j]! > maxMin) maxMin = mins[j]!;
  }
  const invScale = maxScale > 0 ? f(63 / maxScale) : 0;
  const invMin = maxMin > 0 ? f(63 / maxMin) : 0;
  const s = off + 4;
  for (let k = 0; k < 12; k++) dst[s + k] = 0;
  for (let j = 0; j < 8; j++) {
    const ls = Math.min(63, nearestInt(f(invScale * scales[j]!)) & 0xff);
    const lm = Math.min(63, nearestInt(f(invMin * mins[j]!)) & 0xff);
    if (j < 4) {
      dst[s + j] = ls;
      dst[s + j + 4] = lm;
    } else {
      dst[s + j + 4] = (ls & 0x0f) | ((lm & 0x0f) << 4);
      dst[s + j - 4] = dst[s + j - 4]! | ((ls >> 4) << 6);
      dst[s + j] = dst[s + j]! | ((lm >> 4) << 6);
    }
  }
  putHalf(dst, off, f(maxScale / 63));
  putHalf(dst, off + 2, f(maxMin / 63));
  const dAll = halfAt(dst, off);
  const mAll = halfAt(dst, off + 2);
  for (let j = 0; j < 8; j++) {
    const d = f(dAll * scaleK4(j, dst, s));
    if (!d) continue;
    const dm = f(mAll * minK4(j, dst, s));
    for (let ii = 0; ii < 32; ii++) {
      const l = nearestInt(f(f(x[xo + 32 * j + ii]! + dm) / d));
      L[32 * j + ii] = Math.max(0, Math.min(nmax, l));
    }
  }
}

export const encodeQ4_K: BlockEncoder = (x, xo, dst, off) => {
  const L = new Uint8Array(QK_K);
  fitScalesMinsK(x, xo, 15, -1, 20, L, dst, off);
  let q = off + 16;
  for (let j = 0; j < QK_K; j += 64) {
    for (let l = 0; l < 32; l++) dst[q + l] = L[j + l]! | (L[j + l + 32]! << 4);
    q += 32;
  }
};

export const encodeQ5_K: BlockEncoder = (x, xo, dst, off) => {
  const L = new Uint8Array(QK_K);
  fitScalesMinsK(x, xo, 31, -0.5, 15, L, dst, off);
  const qh = off + 16;
  let ql = off + 48;
  for (let k = 0; k < 32; k++) dst[qh + k] = 0;
  let m1 = 1, m2 = 2;
  for (let n = 0; n < QK_K; n += 64) {
    for (let j = 0; j < 32; j++) {
      let l1 = L[n + j]!;
      if (l1 > 15) {
        l1 -= 16;
        dst[qh + j] = dst[qh + j]! | m1;
      }
      let l2 = L[n + j + 32]!;
      if (l2 > 15) {
        l2 -= 16;
        dst[qh + j] = dst[qh + j]! | m2;
      }
      dst[ql + j] = l1 | (l2 << 4);
    }
    m1 <<= 2;
    m2 <<= 2;
    ql += 32;
  }
};

export const encodeQ6_K: BlockEncoder = (x, xo, dst, off) => {
  const L = new Uint8Array(QK_K);
  const scales = new Float32Array(16);
  let maxScale = 0;
  let maxAbsScale = 0;
  for (let ib = 0; ib < 16; ib++) {
    const scale = makeQxQuants(16, 32, x, xo + 16 * ib, L, 16 * ib);
    scales[ib] = scale;
    if (Math.abs(scale) > maxAbsScale) {
      maxAbsScale = Math.abs(scale);
      maxScale = scale;
    }
  }
  if (maxAbsScale < GROUP_MAX_EPS) {
    dst.fill(0, off, off + 210);
    return;
  }
  const iscale = f(-128 / maxScale);
  putHalf(dst, off + 208, f(1 / iscale));
  const sc = off + 192;
  for (let ib = 0; ib < 16; ib++) dst[sc + ib] = Math.min(127, nearestInt(f(iscale * scales[ib]!))) & 0xff;
  const dAll = halfAt(dst, off + 208);
  for (let j = 0; j < 16; j++) {
    const d = f(dAll * i8(dst[sc + j]!));
    if (!d) continue;
    for (let ii = 0; ii < 16; ii++) {
      const l = nearestInt(f(x[xo + 16 * j + ii]! / d));
      L[16 * j + ii] = Math.max(-32, Math.min(31, l)) + 32;
    }
  }
  let ql = off;
  let qh = off + 128;
  for (let j = 0; j < QK_K; j += 128) {
    for (let l = 0; l < 32; l++) {
      const q1 = L[j + l]! & 0x0f;
      const q2 = L[j + l + 32]! & 0x0f;
      const q3 = L[j + l + 64]! & 0x0f;
      const q4 = L[j + l + 96]! & 0x0f;
      dst[ql + l] = q1 | (q3 << 4);
      dst[ql + l + 32] = q2 | (q4 << 4);
      dst[qh + l] = (L[j + l]! >> 4) | ((L[j + l + 32]! >> 4) << 2) | ((L[j + l + 64]! >> 4) << 4) | ((L[j + l + 96]! >> 4) << 6);
    }
    ql += 64;
    qh += 32;
  }
};


/**
 * quantize_row_q8_K_ref: symmetric int8 with one float32 scale per 256 values (the format ggml-cpu
 * quantizes activations to for K-quant matmuls), plus per-16 sums of the quants (bsums).
 * An all-zero block is all zero bytes (ggml leaves its bsums unwritten; we zero them).
 */
export const encodeQ8_K: BlockEncoder = (x, xo, dst, off) => {
  const max = signedAbsMax(x, xo, QK_K);
  const amax = Math.abs(max);
  if (!amax) {
    dst.fill(0, off, off + 292);
    return;
  }
  const iscale = f(-127 / max);
  const view = new DataView(dst.buffer, dst.byteOffset + off, 292);
  for (let j = 0; j < QK_K; j++) view.setInt8(4 + j, Math.min(127, nearestInt(f(iscale * x[xo + j]!))));
  for (let j = 0; j < 16; j++) {
    let sum = 0;
    for (let ii = 0; ii < 16; ii++) sum += view.getInt8(4 + 16 * j + ii);
    view.setInt16(260 + 2 * j, sum, true);
  }
  view.setFloat32(0, f(1 / iscale), true);
};
