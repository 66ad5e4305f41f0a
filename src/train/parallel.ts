// Data-parallel training on the js backend: the micro-batches of an optimizer step are split over
// `threads` (this thread plus threads-1 workers). Every thread runs the same single model
// definition over the SAME weight memory (SharedArrayBuffers), computes the gradients of its
// share into its own buffers, and this thread adds them up in thread order. The split and the
// summation order are fixed, so a run is deterministic for a given thread count (a different
// count changes float summation order, hence the last bits of the losses).
import { Worker } from 'node:worker_threads';
import type { LlamaConfig } from '../model/config.js';
import type { LlamaWeights } from '../model/weights.js';
import { f32Tensor, asF32, type HostTensor } from '../tensor/tensor.js';
import { LlamaError } from '../errors.js';
import type { TrainingModel } from './model.js';
import { lossAndGrad } from './model.js';
import type { ParamGrads } from './tape.js';
import type { Session } from '../model/kv-cache.js';

/** Copy every matrix into shared memory (norm gains stay private: each step sends them along). */
export function shareWeights(w: LlamaWeights): LlamaWeights {
  const share = (t: HostTensor): HostTensor => {
    if (t.shape.length !== 2) return t;
    const src = asF32(t);
    const dst = new Float32Array(new SharedArrayBuffer(src.byteLength));
    dst.set(src);
    return f32Tensor(t.name, t.shape, dst);
  };
  return {
    tokEmbeddings: share(w.tokEmbeddings),
    layers: w.layers.map((l) => ({
      attnNorm: l.attnNorm, wq: share(l.wq), wk: share(l.wk), wv: share(l.wv), wo: share(l.wo),
      ffnNorm: l.ffnNorm, w1: share(l.w1), w2: share(l.w2), w3: share(l.w3),
    })),
    norm: w.norm,
    output: w.output ? share(w.output) : undefined,
  };
}

export interface WorkerInit {
  readonly config: LlamaConfig;
  readonly seqLen: number;
  /** by parameter name: shared values for matrices, a copy for norms */
  readonly tensors: { name: string; shape: readonly number[]; values: Float32Array }[];
  /** by parameter name: this worker's gradient buffer (shared) */
  readonly grads: { name: string; values: Float32Array }[];
}

export interface WorkerStep {
  readonly norms: { name: string; values: Float32Array }[];
  readonly seqs: { inputs: number[]; targets: number[] }[];
  readonly scale: number;
}

export class DataParallel {
  private readonly workers: Worker[] = [];
  private readonly workerGrads: Map<string, Float32Array>[] = [];

  constructor(readonly tm: TrainingModel, readonly threads: number, seqLen: number) {
    for (const p of tm.params) {
      if (p.shape.length === 2 && !(p.values.buffer instanceof SharedArrayBuffer)) throw new LlamaError('INTERNAL', `parameter ${p.name} is not in shared memory`);
    }
    for (let i = 1; i < threads; i++) {
      const grads = new Map(tm.params.map((p) => [p.name, new Float32Array(new SharedArrayBuffer(p.values.byteLength))]));
      const init: WorkerInit = {
        config: tm.config,
        seqLen,
        tensors: tm.params.map((p) => ({ name: p.name, shape: p.shape, values: p.values })),
        grads: [...grads].map(([name, values]) => ({ name, values })),
      };
      const w = new Worker(new URL('./worker.js', import.meta.url), { workerData: init });
      this.workers.push(w);
      this.workerGrads.push(grads);
    }
  }

  /**
   * Gradients of one optimizer step's sequences, added into `grads` (keyed like the tape). This
   * thread takes the first share; worker i the (i+1)-th.
   */
  async step(session: Session, seqs: { inputs: number[]; targets: number[] }[], scale: number, grads: ParamGrads): Promise<{ sum: number; count: number }> {
    const per = Math.ceil(seqs.length / this.threads);
    const norms = this.tm.params.filter((p) => p.shape.length === 1).map((p) => ({ name: p.name, values: Float32Array.from(p.values) }));
    const pending = this.workers.map((w, i) => {
      const share = seqs.slice((i + 1) * per, (i + 2) * per);
      return new Promise<{ sum: number; count: number }>((resolve, reject) => {
        const onMessage = (m: { sum: number; count: number } | { error: string }) => {
          w.off('error', onError);
          if ('error' in m) reject(new LlamaError('INTERNAL', `training worker ${i + 1}: ${m.error}`));
          else resolve(m);
        };
        const onError = (e: Error) => {
          w.off('message', onMessage);
          reject(e);
        };
        w.once('message', onMessage);
        w.once('error', onError);
        const msg: WorkerStep = { norms, seqs: share, scale };
        w.postMessage(msg);
      });
    });
    let sum = 0;
    let count = 0;
    for (const s of seqs.slice(0, per)) {
      const r = lossAndGrad(this.tm, session, s.inputs, s.targets, scale, grads);
      sum += r.sum;
      count += r.count;
    }
    const results = await Promise.all(pending);
    results.forEach((r, i) => {
      sum += r.sum;
      count += r.count;
      const wg = this.workerGrads[i]!;
      for (const p of this.tm.params) {
        let g = grads.get(p.key);
        if (!g) {
          g = new Float32Array(p.values.length);
          grads.set(p.key, g);
        }
        const src = wg.get(p.name)!;
        for (let j = 0; j < g.length; j++) g[j]! += src[j]!;
      }
    });
    return { sum, count };
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
