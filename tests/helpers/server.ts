// A server over the embedded default model for tests (js backend: deterministic and available
// everywhere), opened through the engine API as `llama serve` opens it.
import { fileURLToPath } from 'node:url';
import { openModel, type Model, type OpenModelOptions } from '../../src/api/index.js';
import { serverModel } from '../../src/server/serve-model.js';
import { startServer, type RunningServer, type ServeOptions } from '../../src/server/server.js';

export const DEFAULT_MODEL = fileURLToPath(new URL('../../../models/default/model.gguf', import.meta.url));

export async function startTestServer(opts: ServeOptions = {}, open: OpenModelOptions = {}): Promise<RunningServer & { engine: Model }> {
  const engine = await openModel(DEFAULT_MODEL, { backend: 'js', ...open });
  const s = await startServer(serverModel(engine, { id: 'default' }), { port: 0, ctxSize: 256, ...opts });
  const close = s.close.bind(s);
  return Object.assign(s, {
    engine,
    close: async (cancel?: boolean) => {
      await close(cancel);
      await engine.dispose();
    },
  });
}
