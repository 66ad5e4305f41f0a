// Random-weight LLaMA-shaped GGUF files for benchmarks: speed does not depend on the weight values,
// so the bench needs no download. Blocks are filled with random bytes and given sane scales (a
// weight std of about 1/sqrt(fan-in), so activations stay finite and normal through the layers:
// NaN or subnormal floats would make float kernels slower than on a real model) rather than
// quantized from floats, which would take minutes for 7B.
import { randomFillSync } from 'node:crypto';
import { DType } from '../tensor/dtype.js';
import { floatToHalf } from '../tensor/f16.js';
import { gv, writeGguf, type LazyTensor } from '../formats/gguf-write.js';
import { ATTENTION, GENERAL, LLM, LlamaFileType, ROPE, TENSOR, TOKENIZER, weightName } from '../formats/gguf-keys.js';
import { GgufType, type GgufValue } from '../formats/gguf.js';
import { LlamaError } from '../errors.js';
import { FILE_TYPES, mixType, type FileTypeName } from '../model/quant-mix.js';
import type { LlamaConfig } from '../model/config.js';

export interface SyntheticShape {
  readonly dim: number;
  readonly nLayers: number;
  readonly nHeads: number;
  readonly ffnDim: number;
  readonly vocab: number;
}

/**
 * The shapes of issue 4 (LLaMA 7B; the 110M llama2.c TinyStories model), and 110m-l3: two of the
 * 110M model's layers and a 4096-token vocabulary, 13 MB in Q4_K_M and 22 MB in Q8_0, small enough to stay in a
 * 32 MB L3 cache, so its decode shows the kernels' speed and the time between them where memory is
 * not the limit (a machine with more bandwidth per core; its "% of limit" can pass 100).
 */
export const SYNTHETIC_SHAPES: Readonly<Record<string, SyntheticShape>> = {
  '7b': { dim: 4096, nLayers: 32, nHeads: 32, ffnDim: 11008, vocab: 32000 },
  '110m': { dim: 768, nLayers: 12, nHeads: 12, ffnDim: 2048, vocab: 32000 },
  '110m-l3': { dim: 768, nLayers: 2, nHeads: 12, ffnDim: 2048, vocab: 4096 },
};

export const SYNTHETIC_TYPES: Readonly<Record<string, DType>> = { q4_0: DType.Q4_0, q8_0: DType.Q8_0, f16: DType.F16, f32: DType.F32 };
/**
 * Mixes of types, tensor by tensor as llama-quantize assigns them (quant-mix.ts): q4_k_m = Q4_K with
 * Q6_K for the output matrix and for attn_v / ffn_down in the "more bits" layers, like llama.cpp's
 * own Q4_K_M files. Passed to writeSyntheticGguf in place of a type.
 */
export const SYNTHETIC_MIXES: Readonly<Record<string, FileTypeName>> = { q4_k_m: 'q4_k_m' };

const FILE_TYPE: Partial<Record<DType, LlamaFileType>> = {
  [DType.F32]: LlamaFileType.ALL_F32,
  [DType.F16]: LlamaFileType.MOSTLY_F16,
  [DType.Q4_0]: LlamaFileType.MOSTLY_Q4_0,
  [DType.Q8_0]: LlamaFileType.MOSTLY_Q8_0,
};

/** Random bytes of a (rows, cols) matrix of `type` whose values have std ~ 1/sqrt(cols). */
export function randomMatrixBytes(type: DType, rows: number, cols: number): Uint8Array {
  const n = rows * cols;
  const target = 1 / Math.sqrt(cols);
  switch (type) {
    case DType.Q8_0:
    case DType.Q4_0: {
      const bs = type === DType.Q8_0 ? 34 : 18;
      const nb = n / 32;
      const out = new Uint8Array(nb * bs);
      randomFillSync(out);
      // uniform int8 has std ~74; nibble - 8 has std ~4.6
      const d = floatToHalf(target / (type === DType.Q8_0 ? 74 : 4.6));
      const lo = d & 0xff, hi = d >> 8;
      for (let b = 0; b < nb; b++) {
        out[b * bs] = lo;
        out[b * bs + 1] = hi;
      }
      return out;
    }
    case DType.Q4_K: {
      // 144-byte super-blocks {f16 d, f16 dmin, 12 bytes of 6-bit scales/mins, 128 bytes of nibbles};
      // value = d * scale * code - dmin * min. Scales and mins kept in 0..15 (so d stays a normal
      // binary16 for 11008 columns), dmin = 7.5 d centres the codes (mean 7.5).
      const nb = n / 256;
      const out = new Uint8Array(nb * 144);
      randomFillSync(out);
      const d = floatToHalf(target / 77), dmin = floatToHalf((7.5 * target) / 77);
      for (let b = 0; b < nb; b++) {
        const o = b * 144;
        out[o] = d & 0xff, out[o + 1] = d >> 8, out[o + 2] = dmin & 0xff, out[o + 3] = dmin >> 8;
        for (let i = 4; i < 16; i++) out[o + i]! &= 0x0f;
      }
      return out;
    }
    case DType.Q6_K: {
      // 210-byte super-blocks {128 bytes low nibbles, 64 bytes high bits, 16 int8 scales, f16 d};
      // value = d * scale * (code - 32), code - 32 has std ~18.5; scales 1..16 (rms ~9.5)
      const nb = n / 256;
      const out = new Uint8Array(nb * 210);
      randomFillSync(out);
      const d = floatToHalf(target / (18.5 * 9.5));
      for (let b = 0; b < nb; b++) {
        const o = b * 210;
        for (let i = 192; i < 208; i++) out[o + i] = (out[o + i]! & 0x0f) + 1;
        out[o + 208] = d & 0xff, out[o + 209] = d >> 8;
      }
      return out;
    }
    case DType.F16: {
      const h = new Uint16Array(n);
      randomFillSync(h);
      // keep the sign and mantissa, set the exponent so |v| lies in [target/2, 2·target)
      const e = Math.round(Math.log2(target)) + 15 - 1;
      for (let i = 0; i < n; i++) {
        const r = h[i]!;
        h[i] = (r & 0x83ff) | ((e + ((r >> 10) & 1)) << 10);
      }
      return new Uint8Array(h.buffer);
    }
    case DType.F32: {
      const u = new Uint32Array(n);
      randomFillSync(u);
      const e = Math.round(Math.log2(target)) + 127 - 1;
      for (let i = 0; i < n; i++) {
        const r = u[i]!;
        u[i] = ((r & 0x807fffff) | ((e + ((r >>> 23) & 1)) << 23)) >>> 0;
      }
      return new Uint8Array(u.buffer);
    }
    default:
      throw new LlamaError('USAGE', `synthetic weights support q4_0, q8_0, q4_k, q6_k, f16, f32`);
  }
}

function onesF32(n: number): Uint8Array {
  return new Uint8Array(new Float32Array(n).fill(1).buffer);
}

/**
 * A placeholder SentencePiece vocabulary of `n` pieces (LLaMA's layout: <unk>, <s>, </s>, the 256
 * byte tokens, then distinct filler pieces), so that other programs (llama.cpp) load the synthetic
 * file too and can be benchmarked on the very same bytes.
 */
function placeholderVocab(n: number): [string, GgufValue][] {
  const tokens: string[] = ['<unk>', '<s>', '</s>'];
  const types: number[] = [2, 3, 3]; // unknown, control, control
  for (let b = 0; b < 256 && tokens.length < n; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(6); // byte
  }
  while (tokens.length < n) {
    tokens.push(`\u2581p${tokens.length}`);
    types.push(1); // normal
  }
  const scores = Float32Array.from(tokens, (_, i) => (i < 259 ? 0 : -i));
  return [
    [TOKENIZER.MODEL, gv.str('llama')],
    [TOKENIZER.TOKENS, gv.arr(GgufType.STRING, tokens)],
    [TOKENIZER.SCORES, gv.arr(GgufType.FLOAT32, scores)],
    [TOKENIZER.TOKEN_TYPE, gv.arr(GgufType.INT32, Int32Array.from(types))],
    [TOKENIZER.UNK_ID, gv.u32(0)],
    [TOKENIZER.BOS_ID, gv.u32(1)],
    [TOKENIZER.EOS_ID, gv.u32(2)],
  ];
}

/**
 * Write a random-weight GGUF of `shape` with every matrix in `type` (norms F32), untied output.
 * Returns the bytes written. Tensors are generated one at a time as the writer asks for them.
 */
export function writeSyntheticGguf(path: string, shapeName: string, type: DType | FileTypeName): number {
  const s = SYNTHETIC_SHAPES[shapeName];
  if (!s) throw new LlamaError('USAGE', `unknown synthetic shape '${shapeName}'`, { hint: `choose one of: ${Object.keys(SYNTHETIC_SHAPES).join(', ')}` });
  const arch = 'llama';
  const headDim = s.dim / s.nHeads;
  const mix = typeof type === 'string' ? type : undefined;
  const base = mix ? FILE_TYPES[mix].base : (type as DType);
  // the mix rules read only these fields of the config
  const cfg = { nLayers: s.nLayers, nHeads: s.nHeads, nKvHeads: s.nHeads, tiedEmbeddings: false } as LlamaConfig;
  const typeOf = (key: 'tokEmbeddings' | 'output' | 'wq' | 'wk' | 'wv' | 'wo' | 'w1' | 'w2' | 'w3', layer?: number): DType => (mix ? mixType(mix, key, layer, cfg) : base);
  const meta: [string, GgufValue][] = [
    [GENERAL.ARCHITECTURE, gv.str(arch)],
    [GENERAL.NAME, gv.str(`synthetic-${shapeName}`)],
    [GENERAL.FILE_TYPE, gv.u32(mix ? FILE_TYPES[mix].fileType : (FILE_TYPE[base] ?? 0))],
    [LLM.CONTEXT_LENGTH(arch), gv.u32(2048)],
    [LLM.EMBEDDING_LENGTH(arch), gv.u32(s.dim)],
    [LLM.BLOCK_COUNT(arch), gv.u32(s.nLayers)],
    [LLM.FEED_FORWARD_LENGTH(arch), gv.u32(s.ffnDim)],
    [LLM.VOCAB_SIZE(arch), gv.u32(s.vocab)],
    [ATTENTION.HEAD_COUNT(arch), gv.u32(s.nHeads)],
    [ATTENTION.HEAD_COUNT_KV(arch), gv.u32(s.nHeads)],
    [ATTENTION.LAYERNORM_RMS_EPS(arch), gv.f32(1e-5)],
    [ROPE.DIMENSION_COUNT(arch), gv.u32(headDim)],
    ...placeholderVocab(s.vocab),
  ];
  const matrix = (name: string, rows: number, cols: number, t: DType): LazyTensor => ({ name, type: t, shape: [rows, cols], read: () => randomMatrixBytes(t, rows, cols) });
  const vector = (name: string, n: number): LazyTensor => ({ name, type: DType.F32, shape: [n], read: () => onesF32(n) });
  const tensors: LazyTensor[] = [matrix(weightName(TENSOR.TOKEN_EMBD), s.vocab, s.dim, typeOf('tokEmbeddings'))];
  for (let l = 0; l < s.nLayers; l++) {
    tensors.push(
      vector(weightName(TENSOR.ATTN_NORM(l)), s.dim),
      matrix(weightName(TENSOR.ATTN_Q(l)), s.dim, s.dim, typeOf('wq', l)),
      matrix(weightName(TENSOR.ATTN_K(l)), s.dim, s.dim, typeOf('wk', l)),
      matrix(weightName(TENSOR.ATTN_V(l)), s.dim, s.dim, typeOf('wv', l)),
      matrix(weightName(TENSOR.ATTN_OUT(l)), s.dim, s.dim, typeOf('wo', l)),
      vector(weightName(TENSOR.FFN_NORM(l)), s.dim),
      matrix(weightName(TENSOR.FFN_GATE(l)), s.ffnDim, s.dim, typeOf('w1', l)),
      matrix(weightName(TENSOR.FFN_DOWN(l)), s.dim, s.ffnDim, typeOf('w2', l)),
      matrix(weightName(TENSOR.FFN_UP(l)), s.ffnDim, s.dim, typeOf('w3', l)),
    );
  }
  tensors.push(vector(weightName(TENSOR.OUTPUT_NORM), s.dim), matrix(weightName(TENSOR.OUTPUT), s.vocab, s.dim, typeOf('output')));
  return writeGguf(path, { metadata: meta, tensors });
}
