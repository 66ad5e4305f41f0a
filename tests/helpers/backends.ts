// The backends this machine can run: js always, native when its addon was built.
import type { Backend } from '../../src/backend/backend.js';
import { selectBackend } from '../../src/backend/select.js';
import { JsBackend } from '../../src/backend/js/js-backend.js';

export async function fastBackends(): Promise<Backend[]> {
  const out: Backend[] = [];
  try {
    out.push(await selectBackend('native'));
  } catch {
    /* not built here: the js oracle tests still run */
  }
  return out;
}

export const js = (): Backend => new JsBackend();
