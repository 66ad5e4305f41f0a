// A server over the embedded default model for tests (js backend: deterministic and available
// everywhere), with a plain "User:/Assistant:" chat encoding.
import { fileURLToPath } from 'node:url';
import { loadModel } from '../../src/model/load.js';
import { loadTokenizer } from '../../src/tokenizer/load.js';
import { LlamaModel } from '../../src/model/llama.js';
import { JsBackend } from '../../src/backend/js/js-backend.js';
import type { Backend } from '../../src/backend/backend.js';
import { serverModel } from '../../src/server/serve-model.js';
import { startServer, type RunningServer, type ServeOptions } from '../../src/server/server.js';

export const DEFAULT_MODEL = fileURLToPath(new URL('../../../models/default/model.gguf', import.meta.url));

export async function startTestServer(opts: ServeOptions = {}, backend: Backend = new JsBackend()): Promise<RunningServer & { model: LlamaModel }> {
  const loaded = await loadModel(DEFAULT_MODEL);
  const tokenizer = loadTokenizer(DEFAULT_MODEL);
  const model = await LlamaModel.create(loaded, backend);
  const sm = serverModel({
    id: 'default',
    path: DEFAULT_MODEL,
    model,
    tokenizer,
    encodeChat: (messages) => tokenizer.encode(messages.map((m) => `${m.role === 'user' ? 'User' : m.role === 'assistant' ? 'Assistant' : 'System'}: ${m.content}\n`).join('') + 'Assistant:'),
  });
  const s = await startServer(sm, { port: 0, ctxSize: 256, ...opts });
  return Object.assign(s, { model });
}
