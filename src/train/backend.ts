// Choosing the training backend: the native backend when it has the training kernels, else the
// js reference. `js` and `native` are explicit choices; `auto` falls back silently.
import { selectBackend } from '../backend/select.js';
import { isTrainingBackend, type TrainingBackend } from '../backend/training.js';
import { JsTrainingBackend } from '../backend/js/js-train-ops.js';
import { LlamaError } from '../errors.js';

export async function selectTrainingBackend(name: string, threads: number): Promise<TrainingBackend> {
  const chosen = name.toLowerCase();
  if (chosen === 'js') return new JsTrainingBackend();
  if (chosen !== 'native' && chosen !== 'auto') {
    throw new LlamaError('USAGE', `unknown backend '${name}'`, { hint: 'choose js, native or auto' });
  }
  let b;
  try {
    b = await selectBackend(chosen, { threads });
  } catch (e) {
    if (chosen === 'auto') return new JsTrainingBackend();
    throw e;
  }
  if (isTrainingBackend(b)) return b;
  if (chosen === 'auto') return new JsTrainingBackend();
  throw new LlamaError('BACKEND_UNAVAILABLE', `the ${b.name} backend has no training kernels in this build`, { hint: 'use --backend js' });
}
