// Reference (de)quantizers against independent references:
//  - golden/quant: values dequantized by llama.cpp's gguf-py (checked bit-identical to ggml's own
//    to_float) and files quantized by llama-quantize;
//  - hand-built blocks whose values were worked out by hand from ggml-common.h's block layouts, for
//    the types no golden file contains (Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q5_K, Q8_K, BF16);
//  - quantize -> dequantize error bounds on random data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openGguf, type GgufFile } from '../src/formats/gguf.js';
import { DType, dtypeFromName, dtypeInfo, dtypeName } from '../src/tensor/dtype.js';
import { dequantize, dequantizeRow, quantize, QUANTIZABLE } from '../src/tensor/quant.js';
import { floatToHalf } from '../src/tensor/f16.js';
import { LlamaError } from '../src/errors.js';
import { sharedData } from './helpers/shared.js';
import { loadGoldenQuant, needsAll } from './helpers/golden-quant.js';

const F32_FILE = 'golden/quant/tiny-f32.gguf';

function readF32(g: GgufFile, name: string): Float32Array {
  const info = g.getTensorInfo(name);
  return dequantize(DType.F32, g.readTensor(info).data, info.nElements);
}

/** Values of tensor `name` as the golden file for `ftype` stores them, dequantized. */
function goldenTensorValues(ftype: string, name: string, type: DType, f32: GgufFile): Float32Array {
  if (ftype === 'F16') {
    // tiny-F16.gguf is not shipped: its README says its tensors are tiny-f32's rounded to half (RNE),
    // norms kept F32. Rebuild the bytes that way, then decode them with the F16 dequantizer.
    const x = readF32(f32, name);
    return dequantize(type, quantize(type, x, f32.getTensorInfo(name).ne[0]!), x.length);
  }
  const g = openGguf(sharedData('golden/quant', `tiny-${ftype === 'F32' ? 'f32' : ftype}.gguf`));
  try {
    const info = g.getTensorInfo(name);
    assert.equal(info.type, type);
    return dequantize(info.type, g.readTensor(info).data, info.nElements);
  } finally {
    g.close();
  }
}

for (const ftype of ['F32', 'F16', 'Q8_0', 'Q4_0', 'Q4_K_M', 'Q6_K']) {
  const file = ftype === 'F16' ? F32_FILE : `golden/quant/tiny-${ftype === 'F32' ? 'f32' : ftype}.gguf`;
  test(`golden/quant ${ftype}: dequantized values match gguf-py bit for bit`, needsAll(`golden/quant/golden-${ftype}.json.gz`, file, F32_FILE), () => {
    const golden = loadGoldenQuant(ftype);
    const f32 = openGguf(sharedData(F32_FILE));
    try {
      const names = Object.keys(golden.dequant.tensors);
      assert.deepEqual(names.sort(), ['blk.0.attn_q.weight', 'blk.1.ffn_down.weight']);
      for (const name of names) {
        const want = golden.dequant.tensors[name]!;
        const type = dtypeFromName(want.type);
        assert.ok(type !== undefined, want.type);
        assert.equal(golden.tensor_types[name], want.type);
        const values = goldenTensorValues(ftype, name, type, f32);
        assert.equal(values.length, want.n_values);
        // The JSON prints the shortest decimal that reads back as the same float32: Math.fround
        // recovers the exact float, and the comparison is exact.
        for (let i = 0; i < want.first_4096.length; i++) {
          if (values[i] !== Math.fround(want.first_4096[i]!)) assert.fail(`${name}[${i}]: got ${values[i]}, want ${want.first_4096[i]}`);
        }
        // sum / sum_sq are float64 sums over all values; ours sum the same float32 values in another
        // order, so they agree to float64 rounding (n·2^-53 relative, ~1e-11 here): 1e-9 is safe and
        // still catches any wrong value (one value off by 1e-4 moves sum_sq by ~1e-7 relative).
        let sum = 0, sumSq = 0;
        for (const v of values) {
          sum += v;
          sumSq += v * v;
        }
        assert.ok(Math.abs(sum - want.sum) <= 1e-9 * Math.abs(want.sum), `${name} sum ${sum} vs ${want.sum}`);
        assert.ok(Math.abs(sumSq - want.sum_sq) <= 1e-9 * want.sum_sq, `${name} sum_sq ${sumSq} vs ${want.sum_sq}`);
      }
    } finally {
      f32.close();
    }
  });
}

for (const ftype of ['Q8_0', 'Q4_0', 'Q4_K_M', 'Q6_K']) {
  test(`quantizers reproduce llama-quantize's tiny-${ftype}.gguf byte for byte`, needsAll(`golden/quant/golden-${ftype}.json.gz`, `golden/quant/tiny-${ftype}.gguf`, F32_FILE), () => {
    const golden = loadGoldenQuant(ftype);
    const f32 = openGguf(sharedData(F32_FILE));
    const q = openGguf(sharedData('golden/quant', `tiny-${ftype}.gguf`));
    try {
      const checked = new Set<string>();
      for (const [name, typeName] of Object.entries(golden.tensor_types)) {
        const type = dtypeFromName(typeName)!;
        if (type === DType.F32) continue;
        // token_embd is the same Q6_K tensor in three files; compare it once (it is 32000 rows)
        if (name === 'token_embd.weight' && type === DType.Q6_K && ftype !== 'Q6_K') continue;
        const info = q.getTensorInfo(name);
        assert.equal(info.type, type, name);
        const mine = quantize(type, readF32(f32, name), info.ne[0]!);
        const theirs = q.readTensor(info).data;
        assert.equal(mine.byteLength, theirs.byteLength, name);
        const { typeSize } = dtypeInfo(type);
        for (let b = 0; b < theirs.byteLength; b += typeSize) {
          for (let k = 0; k < typeSize; k++) {
            if (mine[b + k] !== theirs[b + k]) assert.fail(`${name} (${typeName}): block ${b / typeSize} differs at byte ${k}`);
          }
        }
        checked.add(typeName);
      }
      assert.ok(checked.size > 0);
    } finally {
      f32.close();
      q.close();
    }
  });
}

// ---- hand-built blocks: expected values worked out by hand from the block layouts ----

function half(v: number): [number, number] {
  const h = floatToHalf(v);
  return [h & 0xff, h >> 8];
}

function block(type: DType, fill: (b: Uint8Array) => void): Float32Array {
  const { blockSize, typeSize } = dtypeInfo(type);
  const b = new Uint8Array(typeSize);
  fill(b);
  return dequantize(type, b, blockSize);
}

test('Q4_1 block: y = nibble·d + m, low nibbles first', () => {
  const y = block(DType.Q4_1, (b) => {
    b.set(half(0.5), 0);
    b.set(half(-1), 2);
    b[4 + 0] = 0x3a;
    b[4 + 15] = 0xf0;
  });
  assert.deepEqual([y[0], y[16], y[15], y[31], y[1]], [4, 0.5, -1, 6.5, -1]);
});

test('Q5_0 block: fifth bit of value j is bit j of qh (LE u32)', () => {
  const y = block(DType.Q5_0, (b) => {
    b.set(half(2), 0);
    b.set([0x01, 0x00, 0x01, 0x80], 2); // bits 0, 16, 31
    b[6 + 0] = 0x21;
    b[6 + 15] = 0x0f;
  });
  assert.deepEqual([y[0], y[16], y[15], y[31], y[1]], [2, 4, -2, 0, -32]);
});

test('Q5_1 block: y = (nibble | high<<4)·d + m', () => {
  const y = block(DType.Q5_1, (b) => {
    b.set(half(1), 0);
    b.set(half(0.25), 2);
    b.set([0x02, 0, 0, 0], 4); // bit 1
    b[8 + 1] = 0x05;
  });
  assert.deepEqual([y[1], y[17], y[0]], [21.25, 0.25, 0.25]);
});

test('Q8_K block: f32 d, int8 values', () => {
  const y = block(DType.Q8_K, (b) => {
    b.set([0, 0, 0, 0x3f], 0); // 0.5f
    b[4] = 0xfd; // -3
    b[4 + 255] = 127;
  });
  assert.deepEqual([y[0], y[255], y[1]], [-1.5, 63.5, 0]);
});

test('Q2_K block: 4-bit scale and min per 16 values, 2-bit quants in 4 planes', () => {
  const y = block(DType.Q2_K, (b) => {
    b[0] = 0x21; // sub-block 0: scale 1, min 2
    b[1] = 0x03; // sub-block 1: scale 3, min 0
    b[2] = 0x10; // sub-block 2: scale 0, min 1
    b[6] = 0x12; // sub-block 6: scale 2, min 1
    b[15] = 0xf5; // sub-block 15: scale 5, min 15
    b[16 + 0] = 0xe4; // q[0] planes (from bit 0): 0, 1, 2, 3
    b[16 + 63] = 0x80; // q[63] plane 3 = 2
    b.set(half(1), 80);
    b.set(half(0.5), 82);
  });
  // y[0] = 1·0 - 0.5·2; y[16] = 3·q[16]=0; y[32] = 0·1 - 0.5·1; y[96] = 2·3 - 0.5·1; y[255] = 5·2 - 0.5·15
  assert.deepEqual([y[0], y[16], y[32], y[96], y[255]], [-1, 0, -0.5, 5.5, 2.5]);
});

test('Q3_K block: 6-bit signed scales in 12 bytes, high bit from hmask (set = no -4)', () => {
  const y = block(DType.Q3_K, (b) => {
    const hm = 0, qs = 32, sc = 96;
    b[sc + 0] = 0x01; // scale 0 low nibble 1
    b[sc + 8] = 0x02; // scale 0 high bits 2 -> 33 - 32 = 1
    b[sc + 1] = 0xe0; // scale 9 low nibble 14
    b[sc + 9] = 0x10; // scale 9 high bits 1 -> 30 - 32 = -2
    b[qs + 0] = 0x03;
    b[hm + 0] = 0x01;
    b[qs + 48] = 0x02; // value 144: second half of the second 128 (q[l+16], base 32)
    b[hm + 16] = 0x10; // its hmask bit is plane 4
    b.set(half(1), 108);
  });
  // y[0] = 1·(3-0); y[1] = 1·(0-4); y[16]: scale 1 = 0-32, q 0, no hmask -> -32·-4;
  // y[144] = -2·(2-0); y[145] = -2·(0-4)
  assert.deepEqual([y[0], y[1], y[16], y[144], y[145]], [3, -4, 128, -4, 8]);
});

test('Q4_K block: 6-bit scales/mins packed in 12 bytes', () => {
  const y = block(DType.Q4_K, (b) => {
    b.set(half(1), 0);
    b.set(half(0.5), 2);
    b[4 + 0] = 0x42; // scale 0 = 2; bits 6-7 = high bits of scale 4 (1)
    b[4 + 4] = 0x83; // min 0 = 3; bits 6-7 = high bits of min 4 (2)
    b[4 + 8] = 0x25; // scale 4 low = 5, min 4 low = 2
    b[16 + 0] = 0x7f;
    b[16 + 64] = 0x0a;
  });
  // y[0] = 2·15 - 0.5·3; y[32]: scale 1 = 0, min 1 = 0; y[128] = 21·10 - 0.5·34
  assert.deepEqual([y[0], y[32], y[128]], [28.5, 0, 193]);
});

test('Q5_K block: fifth bit from qh, two bit planes per 64 values', () => {
  const y = block(DType.Q5_K, (b) => {
    b.set(half(1), 0);
    b.set(half(0), 2);
    b[4 + 0] = 1;
    b[4 + 1] = 2;
    b[4 + 2] = 3;
    b[16 + 0] = 0x03; // value 0 (plane 0) and value 32 (plane 1)
    b[16 + 1] = 0x04; // value 65 (plane 2)
    b[48 + 0] = 0x21;
    b[48 + 33] = 0x01;
  });
  assert.deepEqual([y[0], y[32], y[64], y[65]], [17, 36, 0, 51]);
});

test('BF16 and F16 decode', () => {
  assert.deepEqual(Array.from(dequantize(DType.BF16, new Uint8Array([0x80, 0x3f, 0xc0, 0xbf]), 2)), [1, -1.5]);
  assert.deepEqual(Array.from(dequantize(DType.F16, new Uint8Array([0x00, 0x3c, 0x00, 0xc2]), 2)), [1, -3]);
});

// ---- random data: quantize -> dequantize error bounds and block-level invariants ----

/** Deterministic standard normal samples (xorshift32 + Box-Muller). */
function randn(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const u = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s + 0.5) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(u()));
    const t = 2 * Math.PI * u();
    out[i] = r * Math.cos(t);
    if (i + 1 < n) out[i + 1] = r * Math.sin(t);
  }
  return out;
}

/**
 * Relative RMS error bound per type: measured on the data below (N(0,1) plus an outlier of 40, which
 * inflates its block's error), with 1.5x headroom. A wrong scale or bit plane gives errors of order 1.
 */
const RMS_BOUND: Partial<Record<DType, number>> = {
  [DType.F32]: 0,
  [DType.F16]: 3e-4, // measured 1.7e-4
  [DType.BF16]: 2.5e-3, // 1.3e-3
  [DType.Q8_0]: 0.012, // 7.9e-3
  [DType.Q8_K]: 0.03, // 2.0e-2 (one scale per 256 values: the outlier's block is coarse)
  [DType.Q6_K]: 0.036, // 2.4e-2
  [DType.Q5_K]: 0.06, // 3.9e-2
  [DType.Q5_1]: 0.065, // 4.1e-2
  [DType.Q5_0]: 0.1, // 6.6e-2
  [DType.Q4_K]: 0.13, // 8.7e-2
  [DType.Q4_1]: 0.14, // 9.0e-2
  [DType.Q4_0]: 0.15, // 0.101
  [DType.Q3_K]: 0.2, // 0.136
  [DType.Q2_K]: 0.38, // 0.253
};

test('every quantizer: quantize -> dequantize stays within its error bound', () => {
  const rows = 8, cols = 512;
  const x = randn(rows * cols, 12345);
  // some structure a quantizer must survive: an all-zero block, a constant block, an outlier
  x.fill(0, 0, 256);
  x.fill(0.75, 256, 512);
  x[700] = 40;
  let sumSq = 0;
  for (const v of x) sumSq += v * v;
  for (const type of QUANTIZABLE) {
    const bound = RMS_BOUND[type];
    assert.ok(bound !== undefined, `no bound for ${dtypeName(type)}`);
    const q = quantize(type, x, cols);
    assert.equal(q.byteLength, (x.length / dtypeInfo(type).blockSize) * dtypeInfo(type).typeSize);
    const y = dequantize(type, q, x.length);
    let errSq = 0;
    for (let i = 0; i < x.length; i++) errSq += (x[i]! - y[i]!) ** 2;
    const rel = Math.sqrt(errSq / sumSq);
    assert.ok(rel <= bound, `${dtypeName(type)}: relative RMS error ${rel.toExponential(3)} > ${bound}`);
    // an all-zero block decodes to exact zeros in every format
    for (let i = 0; i < 256; i++) assert.equal(Math.abs(y[i]!), 0, `${dtypeName(type)} zero block [${i}]`);
    // deterministic
    assert.deepEqual(quantize(type, x, cols), q);
  }
});

test('Q8_0 per-value error is at most half a quantization step, Q4_0 at most one', () => {
  const x = randn(32 * 64, 777);
  // Q4_0 maps the signed extreme to -8, so a value of the opposite sign near it is clipped at +7:
  // its error can reach a whole step. Q8_0 is symmetric (±127): half a step.
  for (const [type, levels, steps] of [[DType.Q8_0, 127, 0.5], [DType.Q4_0, 8, 1]] as const) {
    const y = dequantize(type, quantize(type, x, 32), x.length);
    for (let b = 0; b < x.length; b += 32) {
      let amax = 0;
      for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b + j]!));
      const step = amax / levels;
      // half a step, plus the half-precision rounding of d (2^-11 relative, times up to `levels` steps)
      const tol = step * (steps + levels * 2 ** -11) + 1e-7;
      for (let j = 0; j < 32; j++) assert.ok(Math.abs(x[b + j]! - y[b + j]!) <= tol, `${dtypeName(type)} block ${b / 32} value ${j}`);
    }
  }
});

test('Q8_K quantizer: -127 at the signed extreme, f32 d = 1/iscale, bsums = sums of 16 quants', () => {
  const x = new Float32Array(256);
  x[0] = 2.54;
  x[1] = -1.3;
  x[17] = 0.0254;
  const q = quantize(DType.Q8_K, x, 256);
  const dv = new DataView(q.buffer);
  assert.equal(dv.getFloat32(0, true), Math.fround(1 / Math.fround(-127 / 2.54)));
  assert.deepEqual([dv.getInt8(4), dv.getInt8(5), dv.getInt8(4 + 17), dv.getInt8(6)], [-127, 65, -1, 0]);
  assert.equal(dv.getInt16(260, true), -127 + 65); // values 0..15
  assert.equal(dv.getInt16(262, true), -1); // values 16..31
  assert.equal(dv.getInt16(264, true), 0);
});

test('dequantizeRow decodes a slice at byte and value offsets', () => {
  const x = randn(512, 99);
  const q = quantize(DType.Q4_K, x, 256);
  const whole = dequantize(DType.Q4_K, q, 512);
  const out = new Float32Array(300);
  dequantizeRow(DType.Q4_K, q, dtypeInfo(DType.Q4_K).typeSize, out, 10, 256);
  assert.deepEqual(out.subarray(10, 266), whole.subarray(256));
});

test('quantize / dequantize reject bad shapes with typed errors', () => {
  assert.throws(() => quantize(DType.Q4_K, new Float32Array(128), 128), (e: unknown) => e instanceof LlamaError && e.code === 'TENSOR_SHAPE');
  assert.throws(() => quantize(DType.Q8_0, new Float32Array(100), 30), (e: unknown) => e instanceof LlamaError && e.code === 'TENSOR_SHAPE');
  assert.throws(() => dequantize(DType.Q8_0, new Uint8Array(10), 32), (e: unknown) => e instanceof LlamaError && e.code === 'FORMAT_TRUNCATED');
  assert.throws(() => quantize(DType.Q8_1, new Float32Array(256), 256), (e: unknown) => e instanceof LlamaError && e.code === 'TENSOR_TYPE');
});
