// A LlamaModel wired for training: the single model definition (src/model/llama.ts) running on a
// TapeBackend over a TrainingBackend, plus the list of its trainable parameters.
import type { LlamaConfig } from '../model/config.js';
import type { LlamaWeights } from '../model/weights.js';
import { LlamaModel, prepareParams } from '../model/llama.js';
import type { TrainingBackend } from '../backend/training.js';
import { DType } from '../tensor/dtype.js';
import { LlamaError } from '../errors.js';
import { TapeBackend, type ParamGrads } from './tape.js';
import { trainableParams, type Param } from './params.js';
import type { Session } from '../model/kv-cache.js';

export interface TrainingModel {
  readonly model: LlamaModel;
  readonly tape: TapeBackend;
  readonly backend: TrainingBackend;
  readonly params: Param[];
  readonly config: LlamaConfig;
}

export function createTrainingModel(config: LlamaConfig, weights: LlamaWeights, backend: TrainingBackend): TrainingModel {
  const all = [weights.tokEmbeddings, weights.norm, ...(weights.output ? [weights.output] : []), ...weights.layers.flatMap((l) => Object.values(l))];
  for (const t of all) if (t.type !== DType.F32) throw new LlamaError('TENSOR_TYPE', `training needs F32 weights; ${t.name} is not F32`, { hint: 'start from an F32 checkpoint' });
  const tape = new TapeBackend(backend);
  // the tape keeps every activation until the backward pass: fresh buffers, never reused ones
  const model = new LlamaModel(config, tape, prepareParams(tape, config, weights), undefined, { alloc: (n) => new Float32Array(n) });
  return { model, tape, backend, config, params: trainableParams(model, backend) };
}

/**
 * Forward + backward of one sequence: inputs (T) predicting targets (T). Gradients of the mean
 * loss are scaled by `scale` (1 / tokens in the whole optimizer step) and added into `grads`.
 * Returns the summed loss and the number of counted targets.
 */
export function lossAndGrad(tm: TrainingModel, session: Session, inputs: readonly number[], targets: readonly number[], scale: number, grads: ParamGrads): { sum: number; count: number } {
  const { model, tape, backend, config } = tm;
  session.reset();
  tape.clear();
  tape.recording = true;
  let logits: Float32Array;
  try {
    logits = model.forward(session, inputs, { allLogits: true }); // (T, vocab)
  } finally {
    tape.recording = false;
  }
  const dlogits = new Float32Array(logits.length);
  const r = backend.crossEntropy(logits, targets, inputs.length, config.vocabSize, dlogits, scale);
  tape.backward(new Map([[logits, dlogits]]), grads);
  return r;
}

/** Loss only (no tape): summed over counted targets. */
export function lossOnly(tm: TrainingModel, session: Session, inputs: readonly number[], targets: readonly number[]): { sum: number; count: number } {
  session.reset();
  tm.tape.recording = false;
  const logits = tm.model.forward(session, inputs, { allLogits: true });
  return tm.backend.crossEntropy(logits, targets, inputs.length, tm.config.vocabSize, null, 1);
}
