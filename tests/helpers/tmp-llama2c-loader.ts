// TEMPORARY: llama2.c legacy (version 0) checkpoint -> LoadedModel, until loaders has loadModel.
import { readFileSync } from 'node:fs';
import { f32Tensor } from '../../src/tensor/tensor.js';
import type { LoadedModel } from '../../src/model/loaded.js';
import type { LlamaConfig } from '../../src/model/config.js';

export function loadTinyLlama2c(path: string): LoadedModel {
  const buf = readFileSync(path);
  const h = new Int32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + 28));
  const [dim, hidden, nLayers, nHeads, nKvHeads, vocabRaw, seqLen] = [...h] as number[];
  const vocab = Math.abs(vocabRaw!);
  const f = new Float32Array(buf.buffer.slice(buf.byteOffset + 28));
  const hd = dim! / nHeads!;
  const kvDim = nKvHeads! * hd;
  let o = 0;
  const take = (name: string, shape: number[]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const t = f32Tensor(name, shape, f.subarray(o, o + n));
    o += n;
    return t;
  };
  const per = (name: string, shape: number[]) => Array.from({ length: nLayers! }, (_, l) => take(`${name}.${l}`, shape));
  const emb = take('tok', [vocab, dim!]);
  const attNorm = per('rms_att', [dim!]);
  const wq = per('wq', [dim!, dim!]);
  const wk = per('wk', [kvDim, dim!]);
  const wv = per('wv', [kvDim, dim!]);
  const wo = per('wo', [dim!, dim!]);
  const ffnNorm = per('rms_ffn', [dim!]);
  const w1 = per('w1', [hidden!, dim!]);
  const w2 = per('w2', [dim!, hidden!]);
  const w3 = per('w3', [hidden!, dim!]);
  const norm = take('rms_final', [dim!]);
  const config: LlamaConfig = {
    dim: dim!, nLayers: nLayers!, nHeads: nHeads!, nKvHeads: nKvHeads!, headDim: hd, ffnDim: hidden!, vocabSize: vocab,
    normEps: 1e-5, ropeTheta: 10000, contextLength: seqLen!, tiedEmbeddings: vocabRaw! > 0,
  };
  const layers = attNorm.map((_, l) => ({ attnNorm: attNorm[l]!, wq: wq[l]!, wk: wk[l]!, wv: wv[l]!, wo: wo[l]!, ffnNorm: ffnNorm[l]!, w1: w1[l]!, w2: w2[l]!, w3: w3[l]! }));
  return { format: 'llama2c', path, config, metadata: {}, weightBytes: buf.length, close() {}, weights: { tokEmbeddings: emb, layers, norm } };
}
