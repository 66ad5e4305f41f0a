// `llama inspect` for a llama2.c model .bin: the header and the tensors in file order.
import { Llama2cFile } from './llama2c.js';
import type { FileDescription } from './describe-types.js';

export function describeLlama2c(path: string): FileDescription {
  const f = Llama2cFile.open(path);
  try {
    const h = f.header;
    const metadata: Record<string, unknown> = {
      dim: h.dim, hidden_dim: h.hiddenDim, n_layers: h.nLayers, n_heads: h.nHeads, n_kv_heads: h.nKvHeads,
      vocab_size: h.vocabSize, seq_len: h.seqLen, shared_classifier: h.sharedClassifier,
    };
    if (h.groupSize !== undefined) metadata.group_size = h.groupSize;
    return {
      format: 'llama2c',
      version: h.version,
      metadata,
      tensors: [...f.tensors.values()].map((t) => ({
        name: t.name,
        type: t.storedAs === 'F32' ? 'F32' : `Q8_G${h.groupSize}`,
        shape: t.shape,
        bytes: t.byteLength,
      })),
    };
  } finally {
    f.close();
  }
}
