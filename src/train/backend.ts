// Choosing the training backend: the native backend with its training kernels (the addon's
// train_ops.c: NativeTrainingBackend); a native addon built without them runs the forward ops and
// the matmul backward products while js does the rest (HybridTrainingBackend); else the js
// reference. `auto` falls back silently.
import { selectBackend } from '../backend/select.js';
import { isTrainingBackend, type TrainingBackend } from '../backend/training.js';
import { JsTrainingBackend } from '../backend/js/js-train-ops.js';
import { LlamaError } from '../errors.js';
import { HybridTrainingBackend } from '../backend/hybrid-training.js';

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
  if (b.name === 'js') return new JsTrainingBackend(); // auto without native
  if (b.name === 'native') {
    // a computed specifier, as in select.ts: the native module is an optional part of the build
    const spec = '../backend/native/training.js';
    const mod = (await import(spec)) as typeof import('../backend/native/training.js');
    const kernels = mod.nativeTrainAddon();
    if (kernels) return new mod.NativeTrainingBackend(b, kernels);
  }
  // forward kernels (and the matmul backward products) on the fast backend, the rest on js
  return new HybridTrainingBackend(b);
}
