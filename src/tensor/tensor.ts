// A named tensor as it sits in host memory: raw little-endian bytes in the ggml block layout of its
// type. Quantized tensors stay quantized here; only a backend decides how to compute with them.
import { byteSize, DType, dtypeName } from './dtype.js';
import { LlamaError } from '../errors.js';

export interface HostTensor {
  readonly name: string;
  readonly type: DType;
  /**
   * Row-major shape, outermost first (PyTorch order): a linear weight is [outFeatures, inFeatures].
   * The last dimension is the contiguous one (GGUF's ne[0]).
   */
  readonly shape: readonly number[];
  readonly data: Uint8Array;
}

export function numElements(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function makeTensor(name: string, type: DType, shape: readonly number[], data: Uint8Array): HostTensor {
  const expected = byteSize(type, numElements(shape), shape.length ? shape[shape.length - 1] : 1);
  if (data.byteLength !== expected) {
    throw new LlamaError('TENSOR_SHAPE', `tensor ${name}: ${dtypeName(type)} [${shape.join(', ')}] needs ${expected} bytes, got ${data.byteLength}`);
  }
  return { name, type, shape: [...shape], data };
}

/** An F32 tensor over a Float32Array (shares memory). */
export function f32Tensor(name: string, shape: readonly number[], values: Float32Array): HostTensor {
  return makeTensor(name, DType.F32, shape, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
}

/** View the bytes of an F32 tensor as floats (copies only if the bytes are misaligned). */
export function asF32(t: HostTensor): Float32Array {
  if (t.type !== DType.F32) throw new LlamaError('TENSOR_TYPE', `tensor ${t.name} is ${dtypeName(t.type)}, expected F32`);
  if (t.data.byteOffset % 4 === 0) return new Float32Array(t.data.buffer, t.data.byteOffset, t.data.byteLength / 4);
  return new Float32Array(t.data.slice().buffer);
}
