// TEMPORARY: a minimal HF safetensors (F32) loader for the golden tiny models, used until the
// loaders branch provides loadModel. Un-permutes q/k from HF's rotate-half order to Meta's.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DType } from '../../src/tensor/dtype.js';
import { makeTensor, type HostTensor } from '../../src/tensor/tensor.js';
import type { LoadedModel } from '../../src/model/loaded.js';
import type { LlamaConfig } from '../../src/model/config.js';

function unpermute(t: HostTensor, heads: number): HostTensor {
  const [rows, cols] = t.shape as [number, number];
  const hd = rows / heads;
  const src = new Float32Array(t.data.slice().buffer);
  const dst = new Float32Array(rows * cols);
  for (let h = 0; h < heads; h++)
    for (let c = 0; c < 2; c++)
      for (let i = 0; i < hd / 2; i++) {
        const from = h * hd + c * (hd / 2) + i;
        const to = h * hd + 2 * i + c;
        dst.set(src.subarray(from * cols, (from + 1) * cols), to * cols);
      }
  return makeTensor(t.name, DType.F32, t.shape, new Uint8Array(dst.buffer));
}

export function loadTinyHf(dir: string): LoadedModel {
  const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  const buf = readFileSync(join(dir, 'model.safetensors'));
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  const base = 8 + n;
  const get = (name: string): HostTensor => {
    const e = header[name];
    const data = new Uint8Array(buf.subarray(base + e.data_offsets[0], base + e.data_offsets[1]));
    return makeTensor(name, DType.F32, e.shape, data.slice());
  };
  const config: LlamaConfig = {
    dim: cfg.hidden_size, nLayers: cfg.num_hidden_layers, nHeads: cfg.num_attention_heads,
    nKvHeads: cfg.num_key_value_heads, headDim: cfg.head_dim, ffnDim: cfg.intermediate_size,
    vocabSize: cfg.vocab_size, normEps: cfg.rms_norm_eps, ropeTheta: cfg.rope_theta,
    contextLength: cfg.max_position_embeddings, tiedEmbeddings: false,
  };
  const layers = Array.from({ length: config.nLayers }, (_, l) => {
    const p = `model.layers.${l}.`;
    return {
      attnNorm: get(p + 'input_layernorm.weight'),
      wq: unpermute(get(p + 'self_attn.q_proj.weight'), config.nHeads),
      wk: unpermute(get(p + 'self_attn.k_proj.weight'), config.nKvHeads),
      wv: get(p + 'self_attn.v_proj.weight'),
      wo: get(p + 'self_attn.o_proj.weight'),
      ffnNorm: get(p + 'post_attention_layernorm.weight'),
      w1: get(p + 'mlp.gate_proj.weight'),
      w2: get(p + 'mlp.down_proj.weight'),
      w3: get(p + 'mlp.up_proj.weight'),
    };
  });
  return {
    format: 'safetensors', path: dir, config, metadata: cfg, weightBytes: buf.length, close() {},
    weights: { tokEmbeddings: get('model.embed_tokens.weight'), layers, norm: get('model.norm.weight'), output: get('lm_head.weight') },
  };
}
