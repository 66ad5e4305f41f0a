// The tensor element types, numbered as ggml numbers them (ggml.h `enum ggml_type`), with their
// block geometry. A quantized tensor is a sequence of blocks; each block encodes `blockSize`
// consecutive values of one row in `typeSize` bytes. Rows must be a whole number of blocks.
import { LlamaError } from '../errors.js';

export enum DType {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  BF16 = 30,
}

export interface DTypeInfo {
  readonly name: string;
  /** values per block (1 for plain types) */
  readonly blockSize: number;
  /** bytes per block */
  readonly typeSize: number;
  readonly quantized: boolean;
}

/** QK_K: the super-block size of the K-quants. */
export const QK_K = 256;

const INFO: Partial<Record<DType, DTypeInfo>> = {
  [DType.F32]: { name: 'F32', blockSize: 1, typeSize: 4, quantized: false },
  [DType.F16]: { name: 'F16', blockSize: 1, typeSize: 2, quantized: false },
  [DType.BF16]: { name: 'BF16', blockSize: 1, typeSize: 2, quantized: false },
  [DType.F64]: { name: 'F64', blockSize: 1, typeSize: 8, quantized: false },
  [DType.I8]: { name: 'I8', blockSize: 1, typeSize: 1, quantized: false },
  [DType.I16]: { name: 'I16', blockSize: 1, typeSize: 2, quantized: false },
  [DType.I32]: { name: 'I32', blockSize: 1, typeSize: 4, quantized: false },
  [DType.I64]: { name: 'I64', blockSize: 1, typeSize: 8, quantized: false },
  [DType.Q4_0]: { name: 'Q4_0', blockSize: 32, typeSize: 2 + 16, quantized: true },
  [DType.Q4_1]: { name: 'Q4_1', blockSize: 32, typeSize: 2 + 2 + 16, quantized: true },
  [DType.Q5_0]: { name: 'Q5_0', blockSize: 32, typeSize: 2 + 4 + 16, quantized: true },
  [DType.Q5_1]: { name: 'Q5_1', blockSize: 32, typeSize: 2 + 2 + 4 + 16, quantized: true },
  [DType.Q8_0]: { name: 'Q8_0', blockSize: 32, typeSize: 2 + 32, quantized: true },
  [DType.Q8_1]: { name: 'Q8_1', blockSize: 32, typeSize: 4 + 32, quantized: true },
  [DType.Q2_K]: { name: 'Q2_K', blockSize: QK_K, typeSize: QK_K / 16 + QK_K / 4 + 2 + 2, quantized: true },
  [DType.Q3_K]: { name: 'Q3_K', blockSize: QK_K, typeSize: QK_K / 8 + QK_K / 4 + 12 + 2, quantized: true },
  [DType.Q4_K]: { name: 'Q4_K', blockSize: QK_K, typeSize: 2 + 2 + 12 + QK_K / 2, quantized: true },
  [DType.Q5_K]: { name: 'Q5_K', blockSize: QK_K, typeSize: 2 + 2 + 12 + QK_K / 8 + QK_K / 2, quantized: true },
  [DType.Q6_K]: { name: 'Q6_K', blockSize: QK_K, typeSize: QK_K / 2 + QK_K / 4 + QK_K / 16 + 2, quantized: true },
  [DType.Q8_K]: { name: 'Q8_K', blockSize: QK_K, typeSize: 4 + QK_K + (QK_K / 16) * 2, quantized: true },
};

export function isKnownDType(t: number): t is DType {
  return INFO[t as DType] !== undefined;
}

export function dtypeInfo(t: DType): DTypeInfo {
  const info = INFO[t];
  if (!info) {
    throw new LlamaError('TENSOR_TYPE', `unsupported tensor type ${t}`, {
      hint: 'supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K',
    });
  }
  return info;
}

export function dtypeName(t: DType): string {
  return INFO[t]?.name ?? `type#${t}`;
}

export function dtypeFromName(name: string): DType | undefined {
  const upper = name.toUpperCase();
  for (const [k, v] of Object.entries(INFO)) if (v.name === upper) return Number(k) as DType;
  return undefined;
}

/**
 * Bytes taken by `nElements` values laid out in rows of `rowLength` (the contiguous dimension).
 * Returns a plain number; callers check it against file sizes before allocating anything.
 */
export function byteSize(t: DType, nElements: number, rowLength = nElements): number {
  const { blockSize, typeSize } = dtypeInfo(t);
  if (rowLength % blockSize !== 0) {
    throw new LlamaError('TENSOR_SHAPE', `${dtypeName(t)} needs rows that are a multiple of ${blockSize} values, got ${rowLength}`);
  }
  return (nElements / blockSize) * typeSize;
}
