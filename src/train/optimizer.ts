// AdamW with global gradient-norm clipping, defaults from the LLaMA paper (§2.3): β1 0.9, β2 0.95,
// weight decay 0.1, clipping at 1.0; eps 1e-5 (not in the LLaMA 1 paper; Llama 2's value). Weight
// decay applies to matrices and embeddings only (Param.decay), not to the RMSNorm gains.
import type { TrainingBackend } from '../backend/training.js';
import type { Param } from './params.js';
import type { ParamGrads } from './tape.js';

export interface AdamWOptions {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** clip the global gradient norm to this (0 or Infinity: no clipping) */
  readonly gradClip: number;
}

export const ADAMW_DEFAULTS: AdamWOptions = { beta1: 0.9, beta2: 0.95, eps: 1e-5, weightDecay: 0.1, gradClip: 1.0 };

export class AdamW {
  /** optimizer steps taken so far */
  step = 0;
  readonly m: Float32Array[];
  readonly v: Float32Array[];

  constructor(readonly backend: TrainingBackend, readonly params: readonly Param[], readonly opts: AdamWOptions = ADAMW_DEFAULTS) {
    this.m = params.map((p) => new Float32Array(p.values.length));
    this.v = params.map((p) => new Float32Array(p.values.length));
  }

  /** Global L2 norm of all gradients (parameters without a gradient count as zero). */
  gradNorm(grads: ParamGrads): number {
    let ss = 0;
    for (const p of this.params) {
      const g = grads.get(p.key);
      if (g) ss += this.backend.sumSquares(g, g.length);
    }
    return Math.sqrt(ss);
  }

  /**
   * Clip, update every parameter in place, zero the gradients. Returns the gradient norm before
   * clipping.
   */
  update(grads: ParamGrads, lr: number): number {
    const norm = this.gradNorm(grads);
    const clip = this.opts.gradClip;
    const gradScale = clip > 0 && Number.isFinite(clip) && norm > clip ? clip / norm : 1;
    this.step++;
    this.params.forEach((p, i) => {
      const g = grads.get(p.key) ?? new Float32Array(p.values.length);
      this.backend.adamwStep(p.values, g, this.m[i]!, this.v[i]!, p.values.length, {
        lr,
        beta1: this.opts.beta1,
        beta2: this.opts.beta2,
        eps: this.opts.eps,
        weightDecay: p.decay ? this.opts.weightDecay : 0,
        step: this.step,
        gradScale,
      });
      g.fill(0);
      if (typeof p.key === 'object' && !(p.key instanceof Float32Array)) this.backend.weightUpdated(p.key);
    });
    return norm;
  }
}
