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
// Several sequences can share one pass (forwardBatch): their rows are concatenated through every
// matmul and each sequence's rows attend to its own KV cache (batch.ts does the bookkeeping).
import type { Backend, Weight } from '../backend/backend.js';
import type { LlamaConfig } from './config.js';
import type { LlamaWeights } from './weights.js';
import type { LoadedModel } from './loaded.js';
import type { HostTensor } from '../tensor/tensor.js';
import { numElements } from '../tensor/tensor.js';
import { dequantize } from '../tensor/quant.js';
import { LlamaError } from '../errors.js';
import { nextMacrotask } from '../platform/macrotask.js';
import { ropeInvFreq } from './rope.js';
import { createSession, type Session, type SessionOptions } from './kv-cache.js';
import { layoutBatch, outputCounts, pickRows, rowSlice, type SequenceInput } from './batch.js';
export type { SequenceInput } from './batch.js';

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
  /** return a row for every position (T rows) instead of only the last (1 row); per sequence: SequenceInput.allLogits */
  allLogits?: boolean;
  /** 'hidden': the hidden states after the final norm (rows, dim) instead of logits (for embeddings) */
  output?: 'logits' | 'hidden';
  /**
   * write the output rows here (at least rows × width floats) instead of into a new array, and
   * return views of it: a caller that reads each pass's output before the next (batched scoring,
   * where a fresh array of a thousand vocabulary-wide rows costs more than a pass's attention)
   */
  into?: Float32Array;
}

export interface AsyncForwardOptions extends ForwardOptions {
  /** checked between layers; an abort throws CANCELLED and leaves every session as it was */
  signal?: AbortSignal;
}

/** Where activation buffers come from; a training tape may substitute its own. */
export type Allocator = (n: number) => Float32Array;

export interface ModelOptions {
  /** default: scratch buffers reused from one forward call to the next (only logits escape) */
  alloc?: Allocator;
}

const yieldToEventLoop = nextMacrotask;
const freshAlloc: Allocator = (n) => new Float32Array(n);

/**
 * A pass's allocator and the phase it is in. The default scratch keeps three sets of buffers:
 * the embedding and the final norm (phase 0), even layers (1) and odd layers (2); a layer's
 * buffers are dead once the next layer has read its output, so layer l reuses layer l-2's.
 */
interface PhasedAllocator {
  alloc: Allocator;
  phase(p: 0 | 1 | 2): void;
}

export class LlamaModel {
  /** inverse rotary frequencies (headDim/2), scaling already applied */
  readonly invFreq: Float32Array;
  /** the caller's allocator, if one was given (else scratch reuse) */
  alloc: Allocator | undefined;
  /** activation buffers of the previous forward call by phase (default alloc), reused in the same order */
  private readonly scratch: Float32Array[][] = [[], [], []];
  /** forward passes under way (an async one waits between layers; another pass then gets fresh buffers) */
  private inFlight = 0;

  constructor(
    readonly config: LlamaConfig,
    readonly backend: Backend,
    readonly params: ModelParams,
    readonly ropeFreqs?: Float32Array,
    opts: ModelOptions = {},
  ) {
    this.invFreq = ropeInvFreq(config, ropeFreqs);
    this.alloc = opts.alloc;
  }

  /**
   * This call's allocator. Reusing buffers saves ~7% of a small model's decode time (allocation +
   * zeroing + GC); the k-th buffer of a phase has the same role every time. Layers share two sets
   * (even, odd) instead of a set each, so a decode token's activations (~55 KB a 110M layer) are
   * still in L2 when the next layer writes them, not evicted by the weights streamed since the last
   * token (2-thread decode of the 110M model ~4-14% faster). Its size varies with the
   * rows of the call (batched scoring alternates passes of a few hundred and a thousand rows): a
   * buffer up to 4x larger is reused through a view, a much larger one (a long prefill before
   * decoding) is let go.
   */
  private allocator(): PhasedAllocator {
    if (this.alloc) return { alloc: this.alloc, phase: () => {} };
    if (this.inFlight > 0) return { alloc: freshAlloc, phase: () => {} }; // the scratch belongs to the pass under way
    let set = this.scratch[0]!;
    let next = 0;
    return {
      alloc: (n) => {
        let b = set[next];
        if (b === undefined || b.length < n || b.length > 4 * n) set[next] = b = new Float32Array(n);
        next++;
        return b.length === n ? b : b.subarray(0, n);
      },
      phase: (p: 0 | 1 | 2) => {
        set = this.scratch[p]!;
        next = 0;
      },
    };
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
    return this.forwardBatch([{ session, tokens }], opts)[0]!;
  }

  /**
   * Several sequences in one pass: their rows go through every matmul together, each sequence's
   * rows attend only to its own KV cache. Returns one result per sequence, as `forward` would.
   */
  forwardBatch(seqs: readonly SequenceInput[], opts: ForwardOptions = {}): Float32Array[] {
    const pass = this.pass(seqs, opts);
    for (;;) {
      const r = pass.next();
      if (r.done) return r.value;
    }
  }

  /** `forward`, yielding to the event loop four times a layer so that a signal can stop a long prefill. */
  async forwardAsync(session: Session, tokens: readonly number[], opts: AsyncForwardOptions = {}): Promise<Float32Array> {
    return (await this.forwardBatchAsync([{ session, tokens }], opts))[0]!;
  }

  async forwardBatchAsync(seqs: readonly SequenceInput[], opts: AsyncForwardOptions = {}): Promise<Float32Array[]> {
    const cancelled = () => new LlamaError('CANCELLED', 'the forward pass was cancelled');
    if (opts.signal?.aborted) throw cancelled();
    const pass = this.pass(seqs, opts);
    for (;;) {
      const r = pass.next();
      if (r.done) return r.value;
      await yieldToEventLoop();
      if (opts.signal?.aborted) {
        pass.return([]); // releases the scratch; the sessions were not advanced
        throw cancelled();
      }
    }
  }

  /** The forward pass, pausing (yield) four times a layer. Sessions advance only when it completes. */
  private *pass(seqs: readonly SequenceInput[], opts: ForwardOptions): Generator<void, Float32Array[], void> {
    const { dim, nHeads, nKvHeads, headDim, ffnDim, vocabSize, normEps: eps } = this.config;
    const { backend: B, params: P } = this;
    const { tokens, pos, rowStart } = layoutBatch(seqs, this.config.contextLength);
    const want = outputCounts(seqs, opts.allLogits === true); // output rows per sequence
    const outFloats = want.reduce((a, b) => a + b, 0) * (opts.output === 'hidden' ? dim : vocabSize);
    if (opts.into && opts.into.length < outFloats) throw new LlamaError('USAGE', `the output buffer holds ${opts.into.length} floats, the pass needs ${outFloats}`);
    const T = tokens.length; // rows of every sequence, concatenated
    const qDim = nHeads * headDim;
    const kvDim = nKvHeads * headDim;
    const { alloc, phase } = this.allocator();
    this.inFlight++;
    try {
      let x = alloc(T * dim); // (T, dim)
      B.embed(x, P.tokEmbeddings, tokens);
      for (let l = 0; l < P.layers.length; l++) {
        const L = P.layers[l]!;
        phase(l % 2 === 0 ? 1 : 2);
        // attention block
        const xn = alloc(T * dim); // (T, dim)
        B.rmsnorm(xn, x, L.attnNorm, T, dim, eps);
        const q = alloc(T * qDim); // (T, nHeads, headDim)
        const k = alloc(T * kvDim); // (T, nKvHeads, headDim)
        const v = alloc(T * kvDim); // (T, nKvHeads, headDim)
        B.matmul(q, xn, L.wq, T);
        B.matmul(k, xn, L.wk, T);
        B.matmul(v, xn, L.wv, T);
        B.rope(q, T, nHeads, headDim, pos, this.invFreq); // in place, each row at its own position
        B.rope(k, T, nKvHeads, headDim, pos, this.invFreq); // in place
        const att = alloc(T * qDim); // (T, nHeads, headDim)
        seqs.forEach(({ session, shareKvWith }, s) => {
          const [r0, r1] = [rowStart[s]!, rowStart[s + 1]!];
          const rows = (b: Float32Array, width: number) => rowSlice(b, r0, r1, width, T);
          B.kvStore(session.cache, l, session.pos, r1 - r0, rows(k, kvDim), rows(v, kvDim));
          for (const other of shareKvWith ?? []) B.kvStore(other.cache, l, session.pos, r1 - r0, rows(k, kvDim), rows(v, kvDim));
          B.attention(rows(att, qDim), rows(q, qDim), session.cache, l, session.pos, r1 - r0, nHeads);
        });
        yield; // each `yield` is a point where forwardAsync may pause (and stop); forward runs straight through
        const attOut = alloc(T * dim); // (T, dim)
        B.matmul(attOut, att, L.wo, T);
        const h = alloc(T * dim); // (T, dim)
        B.add(h, x, attOut, T * dim);
        yield;
        // feed-forward block
        const hn = alloc(T * dim); // (T, dim)
        B.rmsnorm(hn, h, L.ffnNorm, T, dim, eps);
        const gate = alloc(T * ffnDim); // (T, ffnDim)
        const up = alloc(T * ffnDim); // (T, ffnDim)
        B.matmul(gate, hn, L.w1, T);
        B.matmul(up, hn, L.w3, T);
        yield;
        const act = alloc(T * ffnDim); // (T, ffnDim)
        B.swiglu(act, gate, up, T * ffnDim);
        const ffnOut = alloc(T * dim); // (T, dim)
        B.matmul(ffnOut, act, L.w2, T);
        const out = alloc(T * dim); // (T, dim)
        B.add(out, h, ffnOut, T * dim);
        x = out;
        if (l < P.layers.length - 1) yield;
      }

      // Only the rows whose output is wanted go through the final norm and the (large) output matmul.
      phase(0);
      const { rows, picked, counts } = pickRows(x, rowStart, dim, want, alloc);
      const xf = alloc(rows * dim); // (rows, dim)
      B.rmsnorm(xf, picked, P.norm, rows, dim, eps);
      const width = opts.output === 'hidden' ? dim : vocabSize;
      const result = opts.into ? opts.into.subarray(0, rows * width) : new Float32Array(rows * width); // (rows, vocab or dim): the caller keeps it
      if (opts.output === 'hidden') result.set(xf.subarray(0, rows * dim));
      else B.matmul(result, xf, P.output, rows);
      seqs.forEach(({ session, tokens: ids, shareKvWith }) => {
        for (const s of [session, ...(shareKvWith ?? [])]) {
          s.pos += ids.length;
          for (const id of ids) s.tokens.push(id);
        }
      });
      if (counts.length === 1) return [result]; // the very buffer the backend wrote (a tape matches it by identity)
      let at = 0;
      return counts.map((n) => result.subarray(width * at, width * (at += n)));
    } finally {
      this.inFlight--;
    }
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
