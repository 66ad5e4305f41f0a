// Reference (de)quantizers: the executable definition of every block layout in ggml, and the spec
// that every fast kernel is tested against. Written from ggml's definitions (ggml-common.h block
// structs, ggml-quants.c dequantize_row_* / quantize_row_*_ref), with float32 arithmetic emulated
// exactly, so that quantizing gives the same bytes as llama-quantize without an importance matrix.
import { DType, dtypeInfo, dtypeName } from './dtype.js';
import { HALF_TABLE, bf16ToFloat, floatToBf16, floatToHalf } from './f16.js';
import { LlamaError } from '../errors.js';
import { type HostTensor, numElements } from './tensor.js';
import type { BlockDecoder, BlockEncoder } from './quant-common.js';
import { decodeQ4_0, decodeQ4_1, decodeQ5_0, decodeQ5_1, decodeQ8_0, encodeQ4_0, encodeQ4_1, encodeQ5_0, encodeQ5_1, encodeQ8_0 } from './quant-legacy.js';
import { decodeQ2_K, decodeQ3_K, decodeQ4_K, decodeQ5_K, decodeQ6_K, decodeQ8_K, encodeQ2_K, encodeQ8_K, encodeQ3_K, encodeQ4_K, encodeQ5_K, encodeQ6_K } from './quant-k.js';

const DECODERS: Partial<Record<DType, BlockDecoder>> = {
  [DType.Q4_0]: decodeQ4_0,
  [DType.Q4_1]: decodeQ4_1,
  [DType.Q5_0]: decodeQ5_0,
  [DType.Q5_1]: decodeQ5_1,
  [DType.Q8_0]: decodeQ8_0,
  [DType.Q2_K]: decodeQ2_K,
  [DType.Q3_K]: decodeQ3_K,
  [DType.Q4_K]: decodeQ4_K,
  [DType.Q5_K]: decodeQ5_K,
  [DType.Q6_K]: decodeQ6_K,
  [DType.Q8_K]: decodeQ8_K,
};

const ENCODERS: Partial<Record<DType, BlockEncoder>> = {
  [DType.Q4_0]: encodeQ4_0,
  [DType.Q4_1]: encodeQ4_1,
  [DType.Q5_0]: encodeQ5_0,
  [DType.Q5_1]: encodeQ5_1,
  [DType.Q8_0]: encodeQ8_0,
  [DType.Q2_K]: encodeQ2_K,
  [DType.Q3_K]: encodeQ3_K,
  [DType.Q4_K]: encodeQ4_K,
  [DType.Q5_K]: encodeQ5_K,
  [DType.Q6_K]: encodeQ6_K,
  [DType.Q8_K]: encodeQ8_K,
};

/** Types `dequantize` can decode. */
export const DEQUANTIZABLE: readonly DType[] = [DType.F32, DType.F16, DType.BF16, ...(Object.keys(DECODERS).map(Number) as DType[])];
/** Types `quantize` can encode. */
export const QUANTIZABLE: readonly DType[] = [DType.F32, DType.F16, DType.BF16, ...(Object.keys(ENCODERS).map(Number) as DType[])];

/** Dequantize `n` values (a whole number of blocks) from `src` into float32. */
export function dequantize(type: DType, src: Uint8Array, n: number, out: Float32Array = new Float32Array(n)): Float32Array {
  dequantizeRow(type, src, 0, out, 0, n);
  return out;
}

/**
 * Dequantize `n` values (a whole number of blocks) starting at byte `srcOffset` of `src` into
 * `out[outOffset..outOffset+n)`. The workhorse for loading whole weights row block by row block.
 */
export function dequantizeRow(type: DType, src: Uint8Array, srcOffset: number, out: Float32Array, outOffset: number, n: number): void {
  const { blockSize, typeSize } = dtypeInfo(type);
  if (n % blockSize !== 0) throw new LlamaError('TENSOR_SHAPE', `${dtypeName(type)}: ${n} values is not a whole number of ${blockSize}-value blocks`);
  const nBytes = (n / blockSize) * typeSize;
  if (src.byteLength - srcOffset < nBytes) throw new LlamaError('FORMAT_TRUNCATED', `${dtypeName(type)}: ${n} values need ${nBytes} bytes, got ${src.byteLength - srcOffset}`);
  if (out.length - outOffset < n) throw new LlamaError('INTERNAL', `dequantize: output has room for ${out.length - outOffset} values, needs ${n}`);
  switch (type) {
    case DType.F32: {
      if ((src.byteOffset + srcOffset) % 4 === 0) {
        out.set(new Float32Array(src.buffer, src.byteOffset + srcOffset, n), outOffset);
      } else {
        out.set(new Float32Array(src.slice(srcOffset, srcOffset + 4 * n).buffer), outOffset);
      }
      return;
    }
    case DType.F16:
      for (let i = 0; i < n; i++) out[outOffset + i] = HALF_TABLE[src[srcOffset + 2 * i]! | (src[srcOffset + 2 * i + 1]! << 8)]!;
      return;
    case DType.BF16:
      for (let i = 0; i < n; i++) out[outOffset + i] = bf16ToFloat(src[srcOffset + 2 * i]! | (src[srcOffset + 2 * i + 1]! << 8));
      return;
  }
  const decode = DECODERS[type];
  if (!decode) throw new LlamaError('TENSOR_TYPE', `no dequantizer for ${dtypeName(type)}`, { hint: `supported: ${DEQUANTIZABLE.map(dtypeName).join(', ')}` });
  const nBlocks = n / blockSize;
  for (let b = 0; b < nBlocks; b++) decode(src, srcOffset + b * typeSize, out, outOffset + b * blockSize);
}

/**
 * Quantize `values` (rows of `rowLength` values, each a whole number of blocks) to `type`, exactly
 * as ggml's reference quantize_row_*_ref (no importance matrix). F16/BF16 round to nearest even.
 */
export function quantize(type: DType, values: Float32Array, rowLength: number): Uint8Array {
  const { blockSize, typeSize } = dtypeInfo(type);
  const n = values.length;
  if (!Number.isInteger(rowLength) || rowLength <= 0 || n % rowLength !== 0) {
    throw new LlamaError('TENSOR_SHAPE', `quantize: ${n} values do not form rows of ${rowLength}`);
  }
  if (rowLength % blockSize !== 0) {
    throw new LlamaError('TENSOR_SHAPE', `${dtypeName(type)} needs rows that are a multiple of ${blockSize} values, got ${rowLength}`, {
      hint: blockSize === 256 ? 'K-quants need row lengths divisible by 256; use q8_0 or q4_0 for this tensor' : undefined,
    });
  }
  const out = new Uint8Array((n / blockSize) * typeSize);
  switch (type) {
    case DType.F32:
      out.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
      return out;
    case DType.F16:
    case DType.BF16: {
      const conv = type === DType.F16 ? floatToHalf : floatToBf16;
      for (let i = 0; i < n; i++) {
        const h = conv(values[i]!);
        out[2 * i] = h & 0xff;
        out[2 * i + 1] = h >>> 8;
      }
      return out;
    }
  }
  const encode = ENCODERS[type];
  if (!encode) throw new LlamaError('TENSOR_TYPE', `no quantizer for ${dtypeName(type)}`, { hint: `supported: ${QUANTIZABLE.map(dtypeName).join(', ')}` });
  const nBlocks = n / blockSize;
  for (let b = 0; b < nBlocks; b++) encode(values, b * blockSize, out, b * typeSize);
  return out;
}

/** All values of a tensor as float32 (a copy for F32 too). */
export function dequantizeTensor(t: HostTensor): Float32Array {
  return dequantize(t.type, t.data, numElements(t.shape));
}
