// karpathy/llama2.c model checkpoints (`.bin`), as its export.py writes them:
//
// v0 (legacy; what run.c reads): 7 × int32 header
//      dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len
//    (vocab_size negative = the classifier is NOT shared with the embedding), then float32 arrays:
//      tok_embeddings (vocab, dim), attention_norm (L, dim), wq (L, dim, dim), wk (L, kv, dim),
//      wv (L, kv, dim), wo (L, dim, dim), ffn_norm (L, dim), w1 (L, hidden, dim), w2 (L, dim, hidden),
//      w3 (L, hidden, dim), norm (dim), freq_cis_real (seq, head/2), freq_cis_imag (seq, head/2),
//      [output (vocab, dim) if unshared]. The freq_cis tables are skipped (RoPE is recomputed).
// v1: u32 magic "ak42" (0x616b3432), i32 version 1, the 7 params (vocab positive), u8 shared flag,
//    zero padding to 256 bytes, then float32: all attention_norm, all ffn_norm, norm, tok_embeddings,
//    wq, wk, wv, wo, w1, w2, w3, [output].
// v2: like v1 with version 2, plus i32 group_size after the shared flag; float32 norms
//    (attention_norm, ffn_norm, norm), then for each of tok_embeddings, wq, wk, wv, wo, w1, w2, w3,
//    [output]: int8 values followed by float32 scales, one per `group_size` consecutive values
//    (w = q · scale), tensor by tensor (values then scales). We dequantize v2 to F32 on load: its f32-scale groups of 64 have no
//    byte-identical ggml type, and the models it is used for are small.
//
// The file format is LLaMA-shaped, so this reader returns tensors under llama2.c's own names
// (`tok_embeddings`, `layers.L.attention.wq`, ...: Meta's names without `.weight`) plus the header.
import { FormatError, LlamaError } from '../errors.js';
import { DType } from '../tensor/dtype.js';
import { makeTensor, type HostTensor } from '../tensor/tensor.js';
import { ByteCursor, ByteSource } from './source.js';

export const LLAMA2C_MAGIC = 0x616b3432;

export interface Llama2cHeader {
  readonly version: 0 | 1 | 2;
  readonly dim: number;
  readonly hiddenDim: number;
  readonly nLayers: number;
  readonly nHeads: number;
  readonly nKvHeads: number;
  /** always positive here; `sharedClassifier` says whether output = tok_embeddings */
  readonly vocabSize: number;
  readonly seqLen: number;
  readonly sharedClassifier: boolean;
  /** v2 only */
  readonly groupSize?: number | undefined;
}

export interface Llama2cTensorInfo {
  /** llama2.c name, e.g. layers.0.attention.wq (see header comment) */
  readonly name: string;
  readonly shape: readonly number[];
  /** F32 for v0/v1; for v2 the stored type is int8 + scales, read back as F32 */
  readonly storedAs: 'F32' | 'Q8_G';
  readonly offset: number;
  /** bytes on disk (values + scales for v2) */
  readonly byteLength: number;
  /** v2: offset of the float32 scales */
  readonly scaleOffset?: number | undefined;
}

export class Llama2cFile {
  readonly path: string;
  readonly header: Llama2cHeader;
  readonly tensors: ReadonlyMap<string, Llama2cTensorInfo>;
  private readonly src: ByteSource;

  private constructor(src: ByteSource, header: Llama2cHeader, tensors: Map<string, Llama2cTensorInfo>) {
    this.src = src;
    this.path = src.path;
    this.header = header;
    this.tensors = tensors;
  }

  static open(path: string): Llama2cFile {
    const src = ByteSource.open(path);
    try {
      const { header, dataStart } = readHeader(src);
      return new Llama2cFile(src, header, layout(src, header, dataStart));
    } catch (e) {
      src.close();
      throw e;
    }
  }

  readTensor(name: string): HostTensor {
    const t = this.tensors.get(name);
    if (!t) throw new LlamaError('TENSOR_MISSING', `no tensor named ${name}`, { file: this.path });
    if (t.storedAs === 'F32') return makeTensor(name, DType.F32, t.shape, this.src.read(t.offset, t.byteLength, `tensor ${name}`));
    // v2: int8 values then one float32 scale per group.
    const n = t.shape.reduce((a, b) => a * b, 1);
    const g = this.header.groupSize!;
    const q = this.src.read(t.offset, n, `tensor ${name}`);
    const s = this.src.read(t.scaleOffset!, (n / g) * 4, `scales of ${name}`);
    const scales = new DataView(s.buffer);
    const out = new Float32Array(n); // (rows, cols) row-major
    const qi = new Int8Array(q.buffer);
    for (let i = 0; i < n; i++) out[i] = qi[i]! * scales.getFloat32(Math.floor(i / g) * 4, true);
    return makeTensor(name, DType.F32, t.shape, new Uint8Array(out.buffer));
  }

  close(): void {
    this.src.close();
  }
}

function readHeader(src: ByteSource): { header: Llama2cHeader; dataStart: number } {
  const file = src.path;
  if (src.size < 28) throw new FormatError('FORMAT_TRUNCATED', `file has ${src.size} bytes, too short for a llama2.c header`, { file });
  const first = new ByteCursor(src, 0);
  const magic = first.u32();
  first.pos = 0;
  let version: 0 | 1 | 2 = 0;
  if (magic === LLAMA2C_MAGIC) {
    first.u32();
    const v = first.i32();
    if (v !== 1 && v !== 2) throw new FormatError('FORMAT_VERSION', `llama2.c version ${v} is not supported (1 and 2 are)`, { file });
    version = v;
    if (src.size < 256) throw new FormatError('FORMAT_TRUNCATED', `file has ${src.size} bytes, less than the 256-byte v${v} header`, { file });
  }
  const dim = first.i32();
  const hiddenDim = first.i32();
  const nLayers = first.i32();
  const nHeads = first.i32();
  const nKvHeads = first.i32();
  const rawVocab = first.i32();
  const seqLen = first.i32();
  let shared = rawVocab > 0;
  let groupSize: number | undefined;
  if (version > 0) {
    shared = first.u8() !== 0;
    if (version === 2) groupSize = first.i32();
  }
  const vocabSize = Math.abs(rawVocab);
  const bad = (what: string) => new FormatError('FORMAT_CORRUPT', `llama2.c header: ${what}`, { file, hint: 'not a llama2.c model file, or a corrupt one' });
  const check = (v: number, name: string, max: number) => {
    if (!(v > 0 && v <= max)) throw bad(`${name} = ${v} is out of range (1..${max})`);
  };
  check(dim, 'dim', 1 << 16);
  check(hiddenDim, 'hidden_dim', 1 << 18);
  check(nLayers, 'n_layers', 1024);
  check(nHeads, 'n_heads', 1024);
  check(nKvHeads, 'n_kv_heads', 1024);
  check(vocabSize, 'vocab_size', 1 << 22);
  check(seqLen, 'seq_len', 1 << 24);
  if (dim % nHeads !== 0) throw bad(`dim ${dim} is not a multiple of n_heads ${nHeads}`);
  if (nHeads % nKvHeads !== 0) throw bad(`n_heads ${nHeads} is not a multiple of n_kv_heads ${nKvHeads}`);
  if ((dim / nHeads) % 2 !== 0) throw bad(`head size ${dim / nHeads} is odd`);
  if (groupSize !== undefined) {
    check(groupSize, 'group_size', 1 << 16);
    if (dim % groupSize !== 0) throw bad(`group_size ${groupSize} does not divide dim ${dim}`);
  }
  return {
    header: { version, dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize, seqLen, sharedClassifier: shared, groupSize },
    dataStart: version === 0 ? 28 : 256,
  };
}

/** Offsets of every tensor, and a check that they add up to exactly the file size. */
function layout(src: ByteSource, h: Llama2cHeader, dataStart: number): Map<string, Llama2cTensorInfo> {
  const headSize = h.dim / h.nHeads;
  const kvDim = h.nKvHeads * headSize;
  const L = h.nLayers;
  const tensors = new Map<string, Llama2cTensorInfo>();
  let off = dataStart;
  const q8 = h.version === 2;

  /** An array of `count` tensors of `shape` each stored back to back (one per layer, or one). */
  const add = (names: string[], shape: number[], quantized: boolean) => {
    const n = shape.reduce((a, b) => a * b, 1);
    if (!quantized) {
      for (const name of names) {
        tensors.set(name, { name, shape, storedAs: 'F32', offset: off, byteLength: n * 4 });
        off += n * 4;
      }
      return;
    }
    // v2 (export.py version2_export): each tensor is quantized on its own and written as its int8
    // values immediately followed by its float32 group scales.
    const g = h.groupSize!;
    for (const name of names) {
      tensors.set(name, { name, shape, storedAs: 'Q8_G', offset: off, byteLength: n + (n / g) * 4, scaleOffset: off + n });
      off += n + (n / g) * 4;
    }
  };
  const perLayer = (suffix: string) => Array.from({ length: L }, (_, l) => `layers.${l}.${suffix}`);

  if (h.version === 0) {
    add(['tok_embeddings'], [h.vocabSize, h.dim], false);
    add(perLayer('attention_norm'), [h.dim], false);
    add(perLayer('attention.wq'), [h.dim, h.dim], false);
    add(perLayer('attention.wk'), [kvDim, h.dim], false);
    add(perLayer('attention.wv'), [kvDim, h.dim], false);
    add(perLayer('attention.wo'), [h.dim, h.dim], false);
    add(perLayer('ffn_norm'), [h.dim], false);
    add(perLayer('feed_forward.w1'), [h.hiddenDim, h.dim], false);
    add(perLayer('feed_forward.w2'), [h.dim, h.hiddenDim], false);
    add(perLayer('feed_forward.w3'), [h.hiddenDim, h.dim], false);
    add(['norm'], [h.dim], false);
    off += 2 * h.seqLen * (headSize / 2) * 4; // freq_cis_real, freq_cis_imag: unused
    if (!h.sharedClassifier) add(['output'], [h.vocabSize, h.dim], false);
  } else {
    add(perLayer('attention_norm'), [h.dim], false);
    add(perLayer('ffn_norm'), [h.dim], false);
    add(['norm'], [h.dim], false);
    add(['tok_embeddings'], [h.vocabSize, h.dim], q8);
    add(perLayer('attention.wq'), [h.dim, h.dim], q8);
    add(perLayer('attention.wk'), [kvDim, h.dim], q8);
    add(perLayer('attention.wv'), [kvDim, h.dim], q8);
    add(perLayer('attention.wo'), [h.dim, h.dim], q8);
    add(perLayer('feed_forward.w1'), [h.hiddenDim, h.dim], q8);
    add(perLayer('feed_forward.w2'), [h.dim, h.hiddenDim], q8);
    add(perLayer('feed_forward.w3'), [h.hiddenDim, h.dim], q8);
    if (!h.sharedClassifier) add(['output'], [h.vocabSize, h.dim], q8);
  }
  if (off !== src.size) {
    const code = off > src.size ? 'FORMAT_TRUNCATED' : 'FORMAT_CORRUPT';
    throw new FormatError(code, `llama2.c v${h.version} header (dim ${h.dim}, hidden ${h.hiddenDim}, ${L} layers, vocab ${h.vocabSize}${h.sharedClassifier ? '' : ', unshared classifier'}) implies ${off} bytes, but the file has ${src.size}`, {
      file: src.path,
      hint: off > src.size ? 'the file is truncated' : 'the header does not describe this file; it may be corrupt or not a llama2.c model',
    });
  }
  return tensors;
}
