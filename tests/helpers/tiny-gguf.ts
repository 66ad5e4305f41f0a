// A tiny random LLaMA as GGUF writer input (metadata + tensors), with knobs for the defects the
// loading tests provoke: metadata that disagrees with the tensors, odd special-token ids, no
// architecture, a vocabulary only.
import { ATTENTION, GENERAL, LLM, ROPE, TENSOR, TOKENIZER, weightName } from '../../src/formats/gguf-keys.js';
import { GgufType, type GgufValue } from '../../src/formats/gguf.js';
import { gv, type GgufWriteInput } from '../../src/formats/gguf-write.js';
import { DType } from '../../src/tensor/dtype.js';
import { makeTensor, type HostTensor } from '../../src/tensor/tensor.js';

export interface TinyOptions {
  dim?: number;
  nLayers?: number;
  /** layers whose tensors are written (default nLayers) */
  tensorLayers?: number;
  nHeads?: number;
  ffnDim?: number;
  vocab?: number;
  /** overrides / removals of metadata keys (undefined removes the key) */
  meta?: Record<string, GgufValue | undefined>;
  /** omit every tensor (a vocab-only file) */
  vocabOnly?: boolean;
  seed?: number;
}

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) / 4294967296) * 2 - 1;
  };
}

/** LLaMA's SentencePiece layout: <unk>, <s>, </s>, 256 byte pieces, then filler pieces. */
export function tinyVocab(n: number): [string, GgufValue][] {
  const tokens = ['<unk>', '<s>', '</s>'];
  const types = [2, 3, 3];
  for (let b = 0; b < 256 && tokens.length < n; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(6);
  }
  while (tokens.length < n) {
    tokens.push(`\u2581p${tokens.length}`);
    types.push(1);
  }
  return [
    [TOKENIZER.MODEL, gv.str('llama')],
    [TOKENIZER.TOKENS, gv.arr(GgufType.STRING, tokens)],
    [TOKENIZER.SCORES, gv.arr(GgufType.FLOAT32, Float32Array.from(tokens, (_, i) => -i))],
    [TOKENIZER.TOKEN_TYPE, gv.arr(GgufType.INT32, Int32Array.from(types))],
    [TOKENIZER.UNK_ID, gv.u32(0)],
    [TOKENIZER.BOS_ID, gv.u32(1)],
    [TOKENIZER.EOS_ID, gv.u32(2)],
  ];
}

/** A tiny random LLaMA (F32) as GGUF writer input. */
export function tinyLlama(o: TinyOptions = {}): GgufWriteInput {
  const dim = o.dim ?? 64;
  const nLayers = o.nLayers ?? 2;
  const nHeads = o.nHeads ?? 4;
  const ffn = o.ffnDim ?? 128;
  const vocab = o.vocab ?? 300;
  const a = 'llama';
  const meta = new Map<string, GgufValue>([
    [GENERAL.ARCHITECTURE, gv.str(a)],
    [GENERAL.NAME, gv.str('tiny')],
    [LLM.CONTEXT_LENGTH(a), gv.u32(128)],
    [LLM.EMBEDDING_LENGTH(a), gv.u32(dim)],
    [LLM.BLOCK_COUNT(a), gv.u32(nLayers)],
    [LLM.FEED_FORWARD_LENGTH(a), gv.u32(ffn)],
    [ATTENTION.HEAD_COUNT(a), gv.u32(nHeads)],
    [ATTENTION.HEAD_COUNT_KV(a), gv.u32(nHeads)],
    [ATTENTION.LAYERNORM_RMS_EPS(a), gv.f32(1e-5)],
    [ROPE.DIMENSION_COUNT(a), gv.u32(dim / nHeads)],
    ...tinyVocab(vocab),
  ]);
  for (const [k, v] of Object.entries(o.meta ?? {})) {
    if (v === undefined) meta.delete(k);
    else meta.set(k, v);
  }
  const r = rng(o.seed ?? 1);
  const mat = (name: string, rows: number, cols: number): HostTensor => {
    const f = new Float32Array(rows * cols);
    for (let i = 0; i < f.length; i++) f[i] = r() * 0.1;
    return makeTensor(name, DType.F32, [rows, cols], new Uint8Array(f.buffer));
  };
  const vec = (name: string, n: number): HostTensor => makeTensor(name, DType.F32, [n], new Uint8Array(new Float32Array(n).fill(1).buffer));
  const tensors: HostTensor[] = [];
  if (!o.vocabOnly) {
    tensors.push(mat(weightName(TENSOR.TOKEN_EMBD), vocab, dim));
    for (let l = 0; l < (o.tensorLayers ?? nLayers); l++) {
      tensors.push(
        vec(weightName(TENSOR.ATTN_NORM(l)), dim),
        mat(weightName(TENSOR.ATTN_Q(l)), dim, dim),
        mat(weightName(TENSOR.ATTN_K(l)), dim, dim),
        mat(weightName(TENSOR.ATTN_V(l)), dim, dim),
        mat(weightName(TENSOR.ATTN_OUT(l)), dim, dim),
        vec(weightName(TENSOR.FFN_NORM(l)), dim),
        mat(weightName(TENSOR.FFN_GATE(l)), ffn, dim),
        mat(weightName(TENSOR.FFN_DOWN(l)), dim, ffn),
        mat(weightName(TENSOR.FFN_UP(l)), ffn, dim),
      );
    }
    tensors.push(vec(weightName(TENSOR.OUTPUT_NORM), dim), mat(weightName(TENSOR.OUTPUT), vocab, dim));
  }
  return { metadata: meta, tensors };
}
