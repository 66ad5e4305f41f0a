// The reference backend: plain loops over typed arrays, accumulating in float64 (JS numbers), one
// thread. It is the oracle the conformance suite checks every other backend against, so clarity
// wins over speed here. Quantized weights are dequantized once at load (the oracle may spend the
// memory; the native backend computes on the blocks in place).
import type { Backend, KVCache, Weight } from '../backend.js';
import { DType } from '../../tensor/dtype.js';
import type { HostTensor } from '../../tensor/tensor.js';
import { dequantize } from '../../tensor/quant.js';
import { HALF_TABLE, floatToHalf } from '../../tensor/f16.js';
import { assert, LlamaError } from '../../errors.js';
import { pinBuffer, unpinBuffer } from '../../tensor/pins.js';
import { gemmNT } from './gemm.js';
import { logitStatsJs } from './logit-stats.js';

interface JsWeight extends Weight {
  /** (rows, cols) float32 values; a view of the tensor's bytes when it is F32 and aligned */
  readonly values: Float32Array;
}

interface JsKVCache extends KVCache {
  /** per layer: (nCtx, nKvHeads·headDim), float32 or binary16 bits */
  readonly k: (Float32Array | Uint16Array)[];
  readonly v: (Float32Array | Uint16Array)[];
}

export class JsBackend implements Backend {
  readonly name = 'js';
  readonly threads = 1;

  loadWeight(t: HostTensor): Weight {
    if (t.shape.length !== 2) throw new LlamaError('TENSOR_SHAPE', `weight ${t.name} must be 2-D, got [${t.shape.join(', ')}]`);
    const [rows, cols] = t.shape as [number, number];
    let values: Float32Array;
    if (t.type === DType.F32 && t.data.byteOffset % 4 === 0) {
      // computed from in place: the buffer (perhaps a file mapping) must stay while the weight lives
      values = new Float32Array(t.data.buffer, t.data.byteOffset, rows * cols);
      pinBuffer(t.data.buffer);
    } else values = dequantize(t.type, t.data, rows * cols);
    const w: JsWeight = { type: t.type, rows, cols, values };
    return w;
  }

  freeWeight(w: Weight): void {
    const jw = w as JsWeight & { freed?: boolean };
    if (jw.freed) return;
    jw.freed = true;
    if (jw.type === DType.F32) unpinBuffer(jw.values.buffer);
  }

  // Every output is a float64 dot product of two rows summed k = 0, 1, ... in order; gemmNT only
  // blocks the loops for the cache (4x4 outputs at a time), so the sums are the plain loop's.
  matmul(out: Float32Array, x: Float32Array, w: Weight, T: number): void {
    const { rows, cols, values } = w as JsWeight;
    assert(x.length >= T * cols && out.length >= T * rows, `matmul shapes: x ${x.length} (T=${T}, cols=${cols}), out ${out.length} (rows=${rows})`);
    gemmNT(out, x, values, T, rows, cols, false);
  }

  embed(out: Float32Array, w: Weight, ids: ArrayLike<number>): void {
    const { rows, cols, values } = w as JsWeight;
    for (let t = 0; t < ids.length; t++) {
      const id = ids[t]!;
      if (!(id >= 0 && id < rows)) throw new LlamaError('TOKEN_ID', `token id ${id} is outside the vocabulary (0..${rows - 1})`);
      out.set(values.subarray(id * cols, (id + 1) * cols), t * cols);
    }
  }

  rmsnorm(out: Float32Array, x: Float32Array, g: Float32Array, T: number, dim: number, eps: number): void {
    for (let t = 0; t < T; t++) {
      const o = t * dim;
      let ss = 0;
      for (let i = 0; i < dim; i++) ss += x[o + i]! * x[o + i]!;
      // Meta: x * rsqrt(mean(x²) + eps), rounded to f32, then * weight.
      const scale = Math.fround(1 / Math.sqrt(Math.fround(ss / dim) + eps));
      for (let i = 0; i < dim; i++) out[o + i] = Math.fround(x[o + i]! * scale) * g[i]!;
    }
  }

  rope(x: Float32Array, T: number, nHeads: number, headDim: number, pos: Int32Array, invFreq: Float32Array): void {
    const half = headDim / 2;
    for (let t = 0; t < T; t++) {
      const p = pos[t]!;
      for (let i = 0; i < half; i++) {
        const angle = p * invFreq[i]!;
        const c = Math.cos(angle);
        const s = Math.sin(angle);
        for (let h = 0; h < nHeads; h++) {
          const o = (t * nHeads + h) * headDim + 2 * i;
          const a = x[o]!;
          const b = x[o + 1]!;
          x[o] = a * c - b * s;
          x[o + 1] = a * s + b * c;
        }
      }
    }
  }

  swiglu(out: Float32Array, gate: Float32Array, up: Float32Array, n: number): void {
    for (let i = 0; i < n; i++) {
      const g = gate[i]!;
      out[i] = (g / (1 + Math.exp(-g))) * up[i]!;
    }
  }

  add(out: Float32Array, a: Float32Array, b: Float32Array, n: number): void {
    for (let i = 0; i < n; i++) out[i] = a[i]! + b[i]!;
  }

  softmax(x: Float32Array, rows: number, cols: number): void {
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      let max = -Infinity;
      for (let i = 0; i < cols; i++) if (x[o + i]! > max) max = x[o + i]!;
      let sum = 0;
      for (let i = 0; i < cols; i++) {
        const e = Math.exp(x[o + i]! - max);
        x[o + i] = e;
        sum += e;
      }
      for (let i = 0; i < cols; i++) x[o + i] = x[o + i]! / sum;
    }
  }

  argmax(x: Float32Array, n: number): number {
    let best = 0;
    for (let i = 1; i < n; i++) if (x[i]! > x[best]!) best = i;
    return best;
  }

  // the loop src/eval/logprob.ts's rowStats runs (the oracle of the native and wasm ops)
  logitStats(x: Float32Array, rows: number, cols: number, outMax: Float32Array, outArgmax: Int32Array, outLogSum: Float64Array): void {
    assert(cols > 0 && x.length >= rows * cols && outMax.length >= rows && outArgmax.length >= rows && outLogSum.length >= rows, `logitStats shapes: x ${x.length} (rows=${rows}, cols=${cols})`);
    logitStatsJs(x, rows, cols, outMax, outArgmax, outLogSum);
  }

  createKVCache(nLayers: number, nCtx: number, nKvHeads: number, headDim: number, type: DType): KVCache {
    if (type !== DType.F32 && type !== DType.F16) throw new LlamaError('TENSOR_TYPE', 'the KV cache stores F32 or F16');
    const make = () => (type === DType.F32 ? new Float32Array(nCtx * nKvHeads * headDim) : new Uint16Array(nCtx * nKvHeads * headDim));
    const cache: JsKVCache = {
      nLayers, nCtx, nKvHeads, headDim, type,
      k: Array.from({ length: nLayers }, make),
      v: Array.from({ length: nLayers }, make),
    };
    return cache;
  }

  kvStore(cache: KVCache, layer: number, pos0: number, T: number, k: Float32Array, v: Float32Array): void {
    const c = cache as JsKVCache;
    const rowLen = c.nKvHeads * c.headDim;
    assert(pos0 + T <= c.nCtx, `kvStore past the cache: ${pos0}+${T} > ${c.nCtx}`);
    const kd = c.k[layer]!;
    const vd = c.v[layer]!;
    const base = pos0 * rowLen;
    if (kd instanceof Float32Array) {
      kd.set(k.subarray(0, T * rowLen), base);
      (vd as Float32Array).set(v.subarray(0, T * rowLen), base);
    } else {
      for (let i = 0; i < T * rowLen; i++) {
        kd[base + i] = floatToHalf(k[i]!);
        vd[base + i] = floatToHalf(v[i]!);
      }
    }
  }

  attention(out: Float32Array, q: Float32Array, cache: KVCache, layer: number, pos0: number, T: number, nHeads: number): void {
    const c = cache as JsKVCache;
    const { headDim, nKvHeads } = c;
    const kvRow = nKvHeads * headDim;
    const group = nHeads / nKvHeads;
    const kd = c.k[layer]!;
    const vd = c.v[layer]!;
    const read = kd instanceof Float32Array ? (a: Float32Array | Uint16Array, i: number) => a[i]! : (a: Float32Array | Uint16Array, i: number) => HALF_TABLE[a[i]!]!;
    const scale = 1 / Math.sqrt(headDim);
    const scores = new Float32Array(pos0 + T);
    for (let t = 0; t < T; t++) {
      const n = pos0 + t + 1; // causal: positions 0 .. pos0+t
      for (let h = 0; h < nHeads; h++) {
        const qo = (t * nHeads + h) * headDim;
        const kvh = Math.floor(h / group) * headDim;
        for (let p = 0; p < n; p++) {
          let s = 0;
          for (let d = 0; d < headDim; d++) s += q[qo + d]! * read(kd, p * kvRow + kvh + d);
          scores[p] = s * scale;
        }
        this.softmax(scores, 1, n);
        for (let d = 0; d < headDim; d++) {
          let acc = 0;
          for (let p = 0; p < n; p++) acc += scores[p]! * read(vd, p * kvRow + kvh + d);
          out[qo + d] = acc;
        }
      }
    }
  }
}
