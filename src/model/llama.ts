// The LLaMA transformer (Touvron et al. 2023, §2.2), as Meta's reference `llama/model.py` computes
// it: pre-norm residual blocks with RMSNorm, rotary embeddings on q and k, grouped-query causal
// attention over a KV cache, and a SwiGLU feed-forward network. Every FLOP goes through `Backend`;
// this file never names one.
//
//   h   = x + Wo · Attention(RoPE(Wq·n), RoPE(Wk·n), Wv·n),   n = RMSNorm_att(x)
//   out = h + W2 · (silu(W1·m) ⊙ W3·m),                       m = RMSNorm_ffn(h)
//   logits = Wout · RMSNorm(x_L)                               (Wout = token embedding when tied)
//
// Three things are kept apart: the config (LlamaConfig), the weights (backend `Weight`s, shared by
// every session) and the run state (Session: KV cache + position). `forward` is one straight
// sequence of backend calls with a buffer per activation (from `alloc`), so a recording wrapper
// around the Backend can replay it backwards for training; that wrapper asks for fresh buffers,
// inference reuses the previous call's (the k-th buffer of a call has the same size every time).
import type { Backend, Weight } from '../backend/backend.js';
import type { LlamaConfig } from './config.js';
import type { LlamaWeights } from './weights.js';
import type { LoadedModel } from './loaded.js';
import type { HostTensor } from '../tensor/tensor.js';
import { numElements } from '../tensor/tensor.js';
import { dequantize } from '../tensor/quant.js';
import { LlamaError } from '../errors.js';
import { ropeInvFreq } from './rope.js';
import { createSession, type Session, type SessionOptions } from './kv-cache.js';

export interface LayerParams {
  readonly attnNorm: Float32Array; // (dim)
  readonly wq: Weight; // (nHeads·headDim, dim)
  readonly wk: Weight; // (nKvHeads·headDim, dim)
  readonly wv: Weight; // (nKvHeads·headDim, dim)
  readonly wo: Weight; // (dim, nHeads·headDim)
  readonly ffnNorm: Float32Array; // (dim)
  readonly w1: Weight; // gate (ffnDim, dim)
  readonly w2: Weight; // down (dim, ffnDim)
  readonly w3: Weight; // up (ffnDim, dim)
}

/** The weights as the backend holds them. */
export interface ModelParams {
  readonly tokEmbeddings: Weight; // (vocab, dim)
  readonly layers: readonly LayerParams[];
  readonly norm: Float32Array; // (dim)
  /** the token embedding itself when the embeddings are tied */
  readonly output: Weight; // (vocab, dim)
}

export interface ForwardOptions {
  /** return logits for every position (T rows) instead of only the last (1 row) */
  allLogits?: boolean;
}

/** Where activation buffers come from; a training tape may substitute its own. */
export type Allocator = (n: number) => Float32Array;

export interface ModelOptions {
  /** default: scratch buffers reused from one forward call to the next (only logits escape) */
  alloc?: Allocator;
}

export class LlamaModel {
  /** inverse rotary frequencies (headDim/2), scaling already applied */
  readonly invFreq: Float32Array;
  alloc: Allocator;
  /** activation buffers of the previous forward call, reused in the same order (default alloc) */
  private readonly scratch: Float32Array[] = [];
  private scratchNext = 0;

  constructor(
    readonly config: LlamaConfig,
    readonly backend: Backend,
    readonly params: ModelParams,
    readonly ropeFreqs?: Float32Array,
    opts: ModelOptions = {},
  ) {
    this.invFreq = ropeInvFreq(config, ropeFreqs);
    // Reusing buffers saves ~7% of a small model's decode time (allocation + zeroing + GC).
    this.alloc = opts.alloc ?? ((n) => this.reuse(n));
  }

  private reuse(n: number): Float32Array {
    let b = this.scratch[this.scratchNext];
    if (b === undefined || b.length !== n) this.scratch[this.scratchNext] = b = new Float32Array(n);
    this.scratchNext++;
    return b;
  }

  /** Hand a loaded model's weights to `backend` (which may repack or dequantize them). */
  static async create(loaded: LoadedModel, backend: Backend, opts: ModelOptions = {}): Promise<LlamaModel> {
    const { config, weights } = loaded;
    const ropeFreqs = weights.ropeFreqs ? toF32(weights.ropeFreqs) : undefined;
    return new LlamaModel(config, backend, prepareParams(backend, config, weights), ropeFreqs, opts);
  }

  newSession(opts: SessionOptions = {}): Session {
    return createSession(this.backend, this.config, opts);
  }

  /**
   * Run `tokens` at positions session.pos .. session.pos+T-1 (T > 1: prefill, T = 1: decode) and
   * advance the session. Returns logits (T or 1 rows, vocab): row t predicts the token after t.
   */
  forward(session: Session, tokens: readonly number[], opts: ForwardOptions = {}): Float32Array {
    const { dim, nHeads, nKvHeads, headDim, ffnDim, vocabSize, normEps: eps } = this.config;
    const { backend: B, params: P, alloc } = this;
    const T = tokens.length;
    const pos0 = session.pos;
    if (T === 0) throw new LlamaError('INTERNAL', 'forward needs at least one token');
    if (pos0 + T > session.ctxSize) {
      throw new LlamaError('CONTEXT_OVERFLOW', `${pos0 + T} positions do not fit in the ${session.ctxSize}-position context`, {
        hint: `pass a larger --ctx-size (the model was trained for ${this.config.contextLength} positions) or shorten the prompt / -n`,
      });
    }
    const qDim = nHeads * headDim;
    const kvDim = nKvHeads * headDim;
    this.scratchNext = 0;
    const pos = new Int32Array(T); // (T)
    for (let t = 0; t < T; t++) pos[t] = pos0 + t;

    let x = alloc(T * dim); // (T, dim)
    B.embed(x, P.tokEmbeddings, tokens);
    for (let l = 0; l < P.layers.length; l++) {
      const L = P.layers[l]!;
      // attention block
      const xn = alloc(T * dim); // (T, dim)
      B.rmsnorm(xn, x, L.attnNorm, T, dim, eps);
      const q = alloc(T * qDim); // (T, nHeads, headDim)
      const k = alloc(T * kvDim); // (T, nKvHeads, headDim)
      const v = alloc(T * kvDim); // (T, nKvHeads, headDim)
      B.matmul(q, xn, L.wq, T);
      B.matmul(k, xn, L.wk, T);
      B.matmul(v, xn, L.wv, T);
      B.rope(q, T, nHeads, headDim, pos, this.invFreq); // in place
      B.rope(k, T, nKvHeads, headDim, pos, this.invFreq); // in place
      B.kvStore(session.cache, l, pos0, T, k, v);
      const att = alloc(T * qDim); // (T, nHeads, headDim)
      B.attention(att, q, session.cache, l, pos0, T, nHeads);
      const attOut = alloc(T * dim); // (T, dim)
      B.matmul(attOut, att, L.wo, T);
      const h = alloc(T * dim); // (T, dim)
      B.add(h, x, attOut, T * dim);
      // feed-forward block
      const hn = alloc(T * dim); // (T, dim)
      B.rmsnorm(hn, h, L.ffnNorm, T, dim, eps);
      const gate = alloc(T * ffnDim); // (T, ffnDim)
      const up = alloc(T * ffnDim); // (T, ffnDim)
      B.matmul(gate, hn, L.w1, T);
      B.matmul(up, hn, L.w3, T);
      const act = alloc(T * ffnDim); // (T, ffnDim)
      B.swiglu(act, gate, up, T * ffnDim);
      const ffnOut = alloc(T * dim); // (T, dim)
      B.matmul(ffnOut, act, L.w2, T);
      const out = alloc(T * dim); // (T, dim)
      B.add(out, h, ffnOut, T * dim);
      x = out;
    }
    session.pos += T;
    for (const id of tokens) session.tokens.push(id);

    // Only the rows whose logits are wanted go through the final norm and the (large) output matmul.
    const rows = opts.allLogits ? T : 1;
    const last = rows === T ? x : x.subarray((T - 1) * dim); // (rows, dim)
    const xf = alloc(rows * dim); // (rows, dim)
    B.rmsnorm(xf, last, P.norm, rows, dim, eps);
    const logits = new Float32Array(rows * vocabSize); // (rows, vocab): the caller keeps it
    B.matmul(logits, xf, P.output, rows);
    return logits;
  }
}

/** Check every tensor's shape against the config, then load the matrices into the backend. */
export function prepareParams(backend: Backend, c: LlamaConfig, w: LlamaWeights): ModelParams {
  if (w.layers.length !== c.nLayers) {
    throw new LlamaError('MODEL_CONFIG', `the config says ${c.nLayers} layers but the weights have ${w.layers.length}`);
  }
  const qDim = c.nHeads * c.headDim;
  const kvDim = c.nKvHeads * c.headDim;
  const matrix = (t: HostTensor, rows: number, cols: number): Weight => {
    expectShape(t, [rows, cols]);
    return backend.loadWeight(t);
  };
  const vector = (t: HostTensor, n: number): Float32Array => {
    expectShape(t, [n]);
    return toF32(t);
  };
  const tokEmbeddings = matrix(w.tokEmbeddings, c.vocabSize, c.dim);
  const layers = w.layers.map((L) => ({
    attnNorm: vector(L.attnNorm, c.dim),
    wq: matrix(L.wq, qDim, c.dim),
    wk: matrix(L.wk, kvDim, c.dim),
    wv: matrix(L.wv, kvDim, c.dim),
    wo: matrix(L.wo, c.dim, qDim),
    ffnNorm: vector(L.ffnNorm, c.dim),
    w1: matrix(L.w1, c.ffnDim, c.dim),
    w2: matrix(L.w2, c.dim, c.ffnDim),
    w3: matrix(L.w3, c.ffnDim, c.dim),
  }));
  const norm = vector(w.norm, c.dim);
  let output = tokEmbeddings;
  if (!c.tiedEmbeddings) {
    if (!w.output) throw new LlamaError('TENSOR_MISSING', 'the model has untied embeddings but no output weight');
    output = matrix(w.output, c.vocabSize, c.dim);
  }
  return { tokEmbeddings, layers, norm, output };
}

function expectShape(t: HostTensor, shape: readonly number[]): void {
  // A 1-D norm may be stored as (1, n) by some writers; compare element counts for vectors.
  const ok = shape.length === 1 ? numElements(t.shape) === shape[0] : t.shape.length === 2 && t.shape[0] === shape[0] && t.shape[1] === shape[1];
  if (!ok) {
    throw new LlamaError('TENSOR_SHAPE', `tensor ${t.name} has shape [${t.shape.join(', ')}], the config needs [${shape.join(', ')}]`, {
      hint: 'the file\'s tensors do not match its hyper-parameters; it may be corrupt',
    });
  }
}

/** Any float or quantized vector as float32 (norm gains and rope factors are tiny). */
function toF32(t: HostTensor): Float32Array {
  return dequantize(t.type, t.data, numElements(t.shape));
}
