// Which type each weight gets when a model is quantized, following llama-quantize's per-tensor rules
// (llama.cpp `llama_tensor_get_type`, non-"pure" mode, no importance matrix) for the dense llama
// architecture and the file types `llama convert` offers. Following them makes our quantized files
// match llama.cpp's tensor for tensor (checked on golden/quant: Q8_0, Q4_0, Q4_K_M, Q6_K).
//
//   output matrix (token_embd when tied)  -> Q6_K unless the file type is Q8_0 (or a float type)
//   attn_v,  Q4_K_M                       -> Q6_K in the "more bits" layers (see useMoreBits)
//   attn_v,  Q4_K_S                       -> Q5_K in the first 4 layers
//   attn_v,  Llama 2/3 70B (80 layers, GQA) -> at least Q5_K
//   ffn_down, Q4_K_M                      -> Q6_K in the "more bits" layers
//   ffn_down, Q4_K_S                      -> Q5_K in the first n/8 layers
// Everything else 2-D gets the file type's base type; 1-D weights stay F32.
import { DType } from '../tensor/dtype.js';
import { LlamaFileType } from '../formats/gguf-keys.js';
import type { LlamaConfig } from './config.js';
import type { GlobalKey, LayerKey } from './names.js';

export type FileTypeName = 'f32' | 'f16' | 'bf16' | 'q8_0' | 'q4_0' | 'q4_k' | 'q4_k_m' | 'q6_k';

export interface FileTypeInfo {
  /** the type most 2-D weights get */
  readonly base: DType;
  /** general.file_type */
  readonly fileType: LlamaFileType;
}

export const FILE_TYPES: Readonly<Record<FileTypeName, FileTypeInfo>> = {
  f32: { base: DType.F32, fileType: LlamaFileType.ALL_F32 },
  f16: { base: DType.F16, fileType: LlamaFileType.MOSTLY_F16 },
  bf16: { base: DType.BF16, fileType: LlamaFileType.MOSTLY_BF16 },
  q8_0: { base: DType.Q8_0, fileType: LlamaFileType.MOSTLY_Q8_0 },
  q4_0: { base: DType.Q4_0, fileType: LlamaFileType.MOSTLY_Q4_0 },
  /** llama.cpp's Q4_K_S */
  q4_k: { base: DType.Q4_K, fileType: LlamaFileType.MOSTLY_Q4_K_S },
  q4_k_m: { base: DType.Q4_K, fileType: LlamaFileType.MOSTLY_Q4_K_M },
  q6_k: { base: DType.Q6_K, fileType: LlamaFileType.MOSTLY_Q6_K },
};

/** llama.cpp's use_more_bits: the first and last eighth of the layers, and every third in between. */
export function useMoreBits(layer: number, nLayers: number): boolean {
  const eighth = Math.floor(nLayers / 8);
  return layer < eighth || layer >= Math.floor((7 * nLayers) / 8) || (layer - eighth) % 3 === 2;
}

/** The type llama-quantize would choose for one 2-D weight (before the row-length fallback). */
export function mixType(ft: FileTypeName, key: GlobalKey | LayerKey, layer: number | undefined, c: LlamaConfig): DType {
  const { base } = FILE_TYPES[ft];
  const quantized = ft !== 'f32' && ft !== 'f16' && ft !== 'bf16';
  if (!quantized) return base;
  const outputKey = c.tiedEmbeddings ? 'tokEmbeddings' : 'output';
  if (key === outputKey) return ft === 'q8_0' ? base : DType.Q6_K;
  const l = layer ?? 0;
  if (key === 'wv') {
    let t = base;
    if (ft === 'q4_k_m' && useMoreBits(l, c.nLayers)) t = DType.Q6_K;
    else if (ft === 'q4_k' && l < 4) t = DType.Q5_K;
    // llama.cpp's 70B type (80 layers with grouped-query attention): attn_v is 8x smaller, more bits are cheap
    if (c.nLayers === 80 && c.nKvHeads < c.nHeads && (t === DType.Q4_K || t === DType.Q3_K)) t = DType.Q5_K;
    return t;
  }
  if (key === 'w2') {
    if (ft === 'q4_k_m' && useMoreBits(l, c.nLayers)) return DType.Q6_K;
    if (ft === 'q4_k' && l < Math.floor(c.nLayers / 8)) return DType.Q5_K;
  }
  return base;
}

/** general.file_type for a model whose 2-D weights are mostly `t` (the first file type with that base type), or undefined. */
export function fileTypeOfDType(t: DType): LlamaFileType | undefined {
  return Object.values(FILE_TYPES).find((f) => f.base === t)?.fileType;
}
