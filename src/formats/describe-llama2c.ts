// `llama inspect` for a llama2.c model .bin: the header and the tensors in file order. v2 tensors
// are int8 groups with float32 scales ("Q8_G<group size>").
import { Llama2cFile, LLAMA2C_MAGIC } from './llama2c.js';
import type { FormatDescriber } from './describe.js';

/** A v0 header is 7 plausible int32s (so tokenizer.bin, whose 2nd int is a float score, is not one). */
function plausibleV0(head: Uint8Array): boolean {
  if (head.length < 28) return false;
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const [dim, hidden, layers, heads, kv, vocab, seq] = Array.from({ length: 7 }, (_, i) => dv.getInt32(4 * i, true)) as number[];
  return dim! > 0 && dim! <= 65536 && hidden! > 0 && hidden! <= 1 << 18 && layers! > 0 && layers! <= 1024 && heads! > 0 && kv! > 0 &&
    dim! % heads! === 0 && heads! % kv! === 0 && vocab !== 0 && Math.abs(vocab!) <= 1 << 22 && seq! > 0;
}

export const llama2cDescriber: FormatDescriber = {
  name: 'llama2.c model (.bin v0/v1/v2)',
  detect(path, head, isDirectory) {
    if (isDirectory || head.length < 8) return false;
    if (new DataView(head.buffer, head.byteOffset, head.byteLength).getUint32(0, true) === LLAMA2C_MAGIC) return true;
    return path.endsWith('.bin') && plausibleV0(head);
  },
  describe(path) {
    const f = Llama2cFile.open(path);
    try {
      const h = f.header;
      const entries: [string, number | boolean][] = [
        ['dim', h.dim], ['hidden_dim', h.hiddenDim], ['n_layers', h.nLayers], ['n_heads', h.nHeads], ['n_kv_heads', h.nKvHeads],
        ['vocab_size', h.vocabSize], ['seq_len', h.seqLen], ['shared_classifier', h.sharedClassifier],
      ];
      if (h.groupSize !== undefined) entries.push(['group_size', h.groupSize]);
      return {
        path,
        format: 'llama2c',
        version: h.version,
        details: {},
        metadata: entries.map(([key, value]) => ({ key, type: typeof value === 'boolean' ? 'bool' : 'i32', value })),
        tensors: [...f.tensors.values()].map((t) => ({
          name: t.name,
          type: t.storedAs === 'F32' ? 'F32' : `Q8_G${h.groupSize}`,
          shape: t.shape,
          bytes: t.byteLength,
          offset: t.offset,
        })),
      };
    } finally {
      f.close();
    }
  },
};
