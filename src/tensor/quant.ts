// Reference (de)quantizers: the executable definition of every block layout in ggml, and the spec
// that every fast kernel is tested against. Plain and slow on purpose.
import { DType, dtypeInfo, dtypeName } from './dtype.js';
import { HALF_TABLE, bf16ToFloat } from './f16.js';
import { LlamaError } from '../errors.js';

/** Dequantize `n` values (a whole number of blocks) from `src` into float32. */
export function dequantize(type: DType, src: Uint8Array, n: number, out: Float32Array = new Float32Array(n)): Float32Array {
  const { blockSize, typeSize } = dtypeInfo(type);
  if (n % blockSize !== 0) throw new LlamaError('TENSOR_SHAPE', `${dtypeName(type)}: ${n} values is not a whole number of ${blockSize}-value blocks`);
  if (src.byteLength < (n / blockSize) * typeSize) throw new LlamaError('FORMAT_TRUNCATED', `${dtypeName(type)}: ${n} values need ${(n / blockSize) * typeSize} bytes, got ${src.byteLength}`);
  const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  switch (type) {
    case DType.F32:
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
      return out;
    case DType.F16:
      for (let i = 0; i < n; i++) out[i] = HALF_TABLE[dv.getUint16(i * 2, true)]!;
      return out;
    case DType.BF16:
      for (let i = 0; i < n; i++) out[i] = bf16ToFloat(dv.getUint16(i * 2, true));
      return out;
    default:
      throw new LlamaError('TENSOR_TYPE', `no dequantizer for ${dtypeName(type)} yet`);
  }
}
