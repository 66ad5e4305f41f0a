// --model-url: scoring through an OpenAI-compatible completions endpoint (echo + logprobs), checked
// against local scoring of the same model. The server here is a minimal stand-in written for the
// test on top of our own model (the project's `llama serve` is tested elsewhere).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { REPO_ROOT } from './helpers/shared.js';
import { loadModel } from '../src/model/load.js';
import { loadTokenizer } from '../src/tokenizer/load.js';
import { JsBackend } from '../src/backend/js/js-backend.js';
import { LlamaModel } from '../src/model/llama.js';
import { generate } from '../src/generate/generate.js';
import { LoglikScorer } from '../src/eval/loglik.js';
import { RemoteScorer } from '../src/eval/remote.js';
import { logSoftmax } from '../src/eval/logprob.js';
import { LlamaError } from '../src/errors.js';
import type { Tokenizer } from '../src/tokenizer/tokenizer.js';

const MODEL = join(REPO_ROOT, 'models/default/model.gguf');
const opt = { skip: existsSync(MODEL) ? false : 'the embedded default model is absent' };

async function startServer(model: LlamaModel, tok: Tokenizer, opts: { noLogprobs?: boolean } = {}): Promise<{ server: Server; url: string; bodies: Record<string, unknown>[] }> {
  const bodies: Record<string, unknown>[] = [];
  const V = model.config.vocabSize;
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', async () => {
      const body = JSON.parse(raw) as { prompt: number[][] | string; max_tokens: number; stop?: string[] };
      bodies.push(body);
      if (typeof body.prompt === 'string') {
        const text = await generate(model, tok, body.prompt, { temperature: 0, maxTokens: body.max_tokens, ...(body.stop ? { stop: body.stop } : {}) }).text();
        res.end(JSON.stringify({ choices: [{ index: 0, text }] }));
        return;
      }
      const choices = body.prompt.map((ids, index) => {
        const s = model.newSession({ ctxSize: ids.length + 1 });
        const rows = model.forward(s, ids, { allLogits: true });
        const tokenLogprobs: (number | null)[] = [null];
        const top: (Record<string, number> | null)[] = [null];
        for (let p = 1; p < ids.length; p++) {
          const lp = logSoftmax(rows.subarray((p - 1) * V, p * V));
          tokenLogprobs.push(lp[ids[p]!]!);
          let best = 0;
          for (let i = 1; i < V; i++) if (lp[i]! > lp[best]!) best = i;
          top.push({ [tok.piece(best)]: lp[best]! });
        }
        tokenLogprobs.push(-0.5); // the one generated token (max_tokens 1), which the client drops
        top.push({ x: -0.5 });
        return { index, text: 'x', ...(opts.noLogprobs ? {} : { logprobs: { token_logprobs: tokenLogprobs, top_logprobs: top } }) };
      });
      res.end(JSON.stringify({ choices: choices.reverse() })); // out of order on purpose: the client sorts by index
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, bodies };
}

test('remote scoring (echo + logprobs) gives the local log-likelihoods within 1e-3, and is_greedy', opt, async () => {
  const tok = loadTokenizer(join(REPO_ROOT, 'models/default/tokenizer.model'));
  const model = await LlamaModel.create(await loadModel(MODEL), new JsBackend());
  const { server, url, bodies } = await startServer(model, tok);
  try {
    const reqs = [' a little girl.', ' the end.', ' there was'].map((c) => ({ context: 'Once upon a time,', continuation: c }));
    const local = new LoglikScorer(model, tok).score(reqs);
    const remote = await new RemoteScorer(url, tok, { model: 'm1' }).score(reqs);
    for (let i = 0; i < reqs.length; i++) {
      assert.ok(Math.abs(local[i]!.ll - remote[i]!.ll) < 1e-3, `${local[i]!.ll} vs ${remote[i]!.ll}`);
      assert.equal(local[i]!.isGreedy, remote[i]!.isGreedy);
      assert.equal(local[i]!.tokens, remote[i]!.tokens);
    }
    assert.equal(bodies[0]!.echo, true);
    assert.equal(bodies[0]!.logprobs, 1);
    assert.equal(bodies[0]!.model, 'm1');
    assert.equal((bodies[0]!.prompt as number[][]).length, 3); // one request for the whole question
    const text = await new RemoteScorer(url, tok).generateUntil('Once upon a time', ['.'], 30);
    assert.ok(!text.includes('.'));
    assert.equal(text, await generate(model, tok, 'Once upon a time', { temperature: 0, maxTokens: 30, stop: ['.'] }).text());
  } finally {
    server.close();
  }
});

test('a server without echoed logprobs is a DATA error that says what is missing', opt, async () => {
  const tok = loadTokenizer(join(REPO_ROOT, 'models/default/tokenizer.model'));
  const model = await LlamaModel.create(await loadModel(MODEL), new JsBackend());
  const { server, url } = await startServer(model, tok, { noLogprobs: true });
  try {
    await assert.rejects(new RemoteScorer(url, tok).score([{ context: 'a', continuation: ' b' }]), (e: unknown) => e instanceof LlamaError && e.code === 'DATA' && /echo/.test(e.message));
  } finally {
    server.close();
  }
});

test('--model-url against our own `llama serve`: the same per-item log-likelihoods as local scoring (1e-3)', opt, async () => {
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/llama.js'), 'serve', '--port', '0', '--backend', 'js', '--no-webui'], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const base = await new Promise<string>((resolve, reject) => {
      let out = '';
      const onData = (d: Buffer) => {
        out += d.toString();
        const m = /http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
        if (m) resolve(`http://127.0.0.1:${m[1]}/v1`);
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.on('exit', (code) => reject(new Error(`llama serve exited (${code}): ${out}`)));
      setTimeout(() => reject(new Error(`llama serve did not start: ${out}`)), 30_000);
    });
    const tok = loadTokenizer(join(REPO_ROOT, 'models/default/tokenizer.model'));
    const model = await LlamaModel.create(await loadModel(MODEL), new JsBackend());
    const reqs = [
      { context: 'Question: How do you open a jar?\nAnswer:', continuation: ' Twist the lid.' },
      { context: 'Question: How do you open a jar?\nAnswer:', continuation: ' Eat the lid.' },
      { context: '', continuation: 'The poor are lazy.' },
    ];
    const local = new LoglikScorer(model, tok).score(reqs);
    const remote = await new RemoteScorer(base, tok, { maxLength: 256 }).score(reqs);
    for (let i = 0; i < reqs.length; i++) {
      assert.ok(Math.abs(local[i]!.ll - remote[i]!.ll) < 1e-3, `${i}: ${local[i]!.ll} vs ${remote[i]!.ll}`);
      assert.equal(local[i]!.isGreedy, remote[i]!.isGreedy);
    }
  } finally {
    child.kill('SIGTERM');
  }
});
