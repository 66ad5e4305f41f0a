// `llama serve`: the OpenAI-compatible server and its web chat page. The URL goes to stdout (so a
// script can start it with --port 0 and read where it listens); logs go to stderr.
import type { Command } from '../command.js';
import { bool, num, str } from '../args.js';
import { ENGINE_OPTIONS, checkEngineArgs, openModelFromArgs } from '../model-args.js';
import { basename } from 'node:path';
import { UsageError, server } from '../../index.js';
const { startServer, serverModel } = server;

export const command: Command = {
  spec: {
    name: 'serve',
    summary: 'an OpenAI-compatible HTTP server with continuous batching, and a web chat page',
    usage: '[-m PATH] [--host 127.0.0.1] [--port 8080] [--parallel N] [-c N] [--api-key KEY]',
    options: {
      ...ENGINE_OPTIONS,
      host: { kind: 'string', arg: 'HOST', help: 'address to listen on (default 127.0.0.1: this machine only)', default: '127.0.0.1' },
      port: { kind: 'int', arg: 'N', help: 'port (0 = any free port)', default: 8080 },
      parallel: { kind: 'int', short: 'np', arg: 'N', help: 'slots: sequences decoded together in one batched step', default: 1 },
      'api-key': { kind: 'string', arg: 'KEY', help: 'require "Authorization: Bearer KEY" on the API (env LLAMA_API_KEY)' },
      alias: { kind: 'string', arg: 'NAME', help: 'the model id /v1/models reports (default: the file name)' },
      'max-body': { kind: 'int', arg: 'BYTES', help: 'largest request body accepted (413 above)', default: 8 * 1024 * 1024 },
      'no-webui': { kind: 'boolean', help: 'do not serve the chat page at / nor the in-browser demo at /browser/' },
    },
    details: [
      'Endpoints: POST /v1/chat/completions, /v1/completions, /v1/embeddings, /tokenize, /detokenize;',
      'GET /v1/models, /health, /metrics (Prometheus), /props, and the chat page at /.',
      'GET /browser/: a page that runs the model (a GGUF file, else the packaged default model) in',
      'the browser tab itself (WebAssembly; threads when cross-origin isolated, which it is).',
      '-c/--ctx-size is the context of each slot. SIGTERM or Ctrl-C: stop accepting, finish running',
      'requests (a second signal cancels them), exit 0.',
      '',
      'Examples:',
      '  llama serve -m model.gguf --parallel 4',
      '  curl http://127.0.0.1:8080/v1/chat/completions -H "content-type: application/json" \\',
      '       -d \'{"messages":[{"role":"user","content":"Hello"}]}\'',
    ].join('\n'),
  },

  async run(args) {
    if (args.positionals.length > 0) throw new UsageError(`unexpected argument '${args.positionals[0]}'`, 'pass the model with -m');
    const parallel = num(args, 'parallel') ?? 1;
    if (!(Number.isInteger(parallel) && parallel >= 1 && parallel <= 256)) throw new UsageError(`--parallel must be an integer in 1..256, got ${parallel}`);
    const port = num(args, 'port') ?? 8080;
    if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) throw new UsageError(`--port must be in 0..65535, got ${port}`);
    const maxBody = num(args, 'max-body')!;
    if (!(maxBody >= 1024)) throw new UsageError(`--max-body must be at least 1024 bytes, got ${maxBody}`);
    const apiKey = str(args, 'api-key') ?? process.env.LLAMA_API_KEY;
    checkEngineArgs(args);
    const host = str(args, 'host') ?? '127.0.0.1';

    const ctxSize = num(args, 'ctx-size');
    const { model, path } = await openModelFromArgs(args);
    const sm = serverModel(model, { id: str(args, 'alias') ?? basename(path) });
    let srv;
    try {
      srv = await startServer(sm, { host, port, parallel, ...(ctxSize !== undefined ? { ctxSize } : {}), apiKey, maxBodyBytes: maxBody, webPage: !bool(args, 'no-webui') });
    } catch (e) {
      await model.dispose();
      throw e;
    }
    process.stderr.write(`llama serve: ${sm.id} (${model.format}, ${model.backendName} backend, ${model.chatTemplate.name} chat template), ${parallel} slot${parallel === 1 ? '' : 's'} of ${srv.scheduler.slotContext} positions${apiKey ? ', API key required' : ''}\n`);
    if (!bool(args, 'no-webui')) process.stderr.write(`llama serve: chat page ${srv.url}/, in-browser demo ${srv.url}/browser/\n`);
    process.stdout.write(`${srv.url}\n`);
    await new Promise<void>((resolve) => {
      let stopping = false;
      const stop = () => {
        if (stopping) {
          process.stderr.write('llama serve: cancelling running requests\n');
          void srv.close(true);
          return;
        }
        stopping = true;
        process.stderr.write('llama serve: shutting down (finishing running requests; signal again to cancel them)\n');
        void srv.close(false).then(resolve);
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });
    await model.dispose();
    return 0;
  },
};
