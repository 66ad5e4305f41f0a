// Greedy decoding with the in-trainer model (no tape), to compare with exported files.
import type { TrainingModel } from './model.js';

export function greedyTokens(tm: TrainingModel, prompt: readonly number[], n: number): number[] {
  const ctx = Math.min(tm.config.contextLength, prompt.length + n);
  const session = tm.model.newSession({ ctxSize: ctx });
  tm.tape.recording = false;
  const out: number[] = [];
  let logits = tm.model.forward(session, prompt);
  while (out.length < n && session.pos < ctx) {
    const id = tm.backend.argmax(logits, tm.config.vocabSize);
    out.push(id);
    if (session.pos >= ctx) break;
    logits = tm.model.forward(session, [id]);
  }
  return out;
}
