// `llama serve` under bad input, with raw HTTP: every error has OpenAI's shape and the right status,
// names the field, carries no stack trace, and the server keeps serving afterwards.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { request } from 'node:http';
import { startTestServer } from './helpers/server.js';

const srv = await startTestServer({ parallel: 2, apiKey: 'sekret', maxBodyBytes: 64 * 1024, maxQueue: 2 });
after(() => srv.close(true));
const auth = { authorization: 'Bearer sekret', 'content-type': 'application/json' };

async function post(path: string, body: string | Buffer, headers: Record<string, string> = auth): Promise<{ status: number; json: any }> {
  const r = await fetch(`${srv.url}${path}`, { method: 'POST', headers, body });
  const text = await r.text();
  assert.doesNotMatch(text, /\n\s+at /, 'no stack trace on the wire');
  return { status: r.status, json: JSON.parse(text) };
}

function expectError(r: { status: number; json: any }, status: number, param?: string | RegExp): void {
  assert.equal(r.status, status, JSON.stringify(r.json));
  const e = r.json.error;
  assert.equal(typeof e.message, 'string');
  assert.equal(typeof e.type, 'string');
  assert.ok('param' in e && 'code' in e);
  if (typeof param === 'string') assert.equal(e.param, param);
  if (param instanceof RegExp) assert.match(e.message, param);
}

const chat = (extra: object) => JSON.stringify({ model: 'x', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2, ...extra });

test('401 without the key or with a wrong one; the page, /health and /metrics stay open', async () => {
  expectError(await post('/v1/chat/completions', chat({}), { 'content-type': 'application/json' }), 401);
  expectError(await post('/v1/chat/completions', chat({}), { authorization: 'Bearer nope', 'content-type': 'application/json' }), 401);
  assert.equal((await fetch(`${srv.url}/health`)).status, 200);
  assert.equal((await fetch(`${srv.url}/metrics`)).status, 200);
  assert.equal((await fetch(`${srv.url}/`)).status, 200);
  const models = await fetch(`${srv.url}/v1/models`);
  assert.equal(models.status, 401);
});

test('400 for malformed bodies and bad fields, naming the field', async () => {
  expectError(await post('/v1/chat/completions', '{"messages": ['), 400, /not valid JSON/);
  expectError(await post('/v1/chat/completions', '[1,2]'), 400);
  expectError(await post('/v1/chat/completions', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d])), 400, /UTF-8/);
  expectError(await post('/v1/chat/completions', JSON.stringify({ model: 'x' })), 400, 'messages');
  expectError(await post('/v1/chat/completions', chat({ temperature: 'hot' })), 400, 'temperature');
  expectError(await post('/v1/chat/completions', chat({ temperature: 3 })), 400, 'temperature');
  expectError(await post('/v1/chat/completions', chat({ top_p: 0 })), 400, 'top_p');
  expectError(await post('/v1/chat/completions', chat({ n: 100000 })), 400, 'n');
  expectError(await post('/v1/chat/completions', chat({ max_tokens: -1 })), 400, 'max_tokens');
  expectError(await post('/v1/chat/completions', chat({ max_tokens: 100000 })), 400, 'max_tokens');
  expectError(await post('/v1/chat/completions', chat({ messages: [{ role: 'wizard', content: 'x' }] })), 400, 'messages[0].role');
  expectError(await post('/v1/chat/completions', chat({ logit_bias: { abc: 1 } })), 400, 'logit_bias');
  expectError(await post('/v1/chat/completions', chat({ tools: [{ type: 'function' }] })), 400, 'tools');
  expectError(await post('/v1/chat/completions', chat({ stop: [1, 2] })), 400, 'stop');
  expectError(await post('/v1/chat/completions', chat({ response_format: { type: 'xml' } })), 400, 'response_format.type');
  expectError(await post('/v1/completions', JSON.stringify({ prompt: [1, 2, 99999999] })), 400, 'prompt');
  expectError(await post('/v1/completions', JSON.stringify({ prompt: { a: 1 } })), 400, 'prompt');
  expectError(await post('/v1/embeddings', JSON.stringify({ input: '' })), 400, 'input');
  expectError(await post('/detokenize', JSON.stringify({ tokens: [-1] })), 400, 'tokens');
});

test('404 for unknown routes, 405 for a wrong method', async () => {
  const r = await fetch(`${srv.url}/v1/nothing`, { headers: auth });
  assert.equal(r.status, 404);
  assert.ok((await r.json() as any).error.message.includes('/v1/nothing'));
  const m = await fetch(`${srv.url}/v1/chat/completions`, { headers: auth });
  assert.equal(m.status, 405);
});

test('413 for a body over the limit (declared or streamed)', async () => {
  expectError(await post('/v1/chat/completions', chat({ messages: [{ role: 'user', content: 'x'.repeat(100 * 1024) }] })), 413);
  // chunked, no content-length
  const status = await new Promise<number>((resolve, reject) => {
    const req = request(`${srv.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: 'Bearer sekret' } }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.on('error', () => resolve(413)); // the server may close the socket once it has answered
    for (let i = 0; i < 20; i++) req.write('x'.repeat(8192));
    req.end();
    setTimeout(() => reject(new Error('no answer')), 5000).unref();
  });
  assert.equal(status, 413);
});

test('a client that closes its socket mid-stream frees the slot; the server keeps serving', async () => {
  await new Promise<void>((resolve) => {
    const url = new URL(srv.url);
    const sock = connect(Number(url.port), url.hostname, () => {
      const body = chat({ stream: true, max_tokens: 200, temperature: 1 });
      sock.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sekret\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    });
    sock.once('data', () => {
      sock.destroy();
      resolve();
    });
  });
  const t0 = performance.now();
  while (srv.scheduler.stats.slotsBusy > 0 && performance.now() - t0 < 2000) await new Promise((r) => setTimeout(r, 5));
  assert.equal(srv.scheduler.stats.slotsBusy, 0);
  const r = await post('/v1/chat/completions', chat({ temperature: 0 }));
  assert.equal(r.status, 200);
});

test('503 when every slot is busy and the queue is full', async () => {
  const ac = new AbortController();
  const long = () => fetch(`${srv.url}/v1/completions`, { method: 'POST', headers: auth, body: JSON.stringify({ prompt: 'Once', max_tokens: 150, temperature: 1 }), signal: ac.signal }).catch(() => undefined);
  const running = [long(), long(), long(), long()]; // 2 slots + 2 queued
  await new Promise((r) => setTimeout(r, 150));
  const r = await post('/v1/completions', JSON.stringify({ prompt: 'x', max_tokens: 1 }));
  expectError(r, 503);
  ac.abort();
  await Promise.all(running);
  const t0 = performance.now();
  while (srv.scheduler.stats.slotsBusy > 0 && performance.now() - t0 < 2000) await new Promise((res) => setTimeout(res, 5));
  assert.equal(srv.scheduler.stats.slotsBusy, 0);
});

test('CORS preflight is answered', async () => {
  const r = await fetch(`${srv.url}/v1/chat/completions`, { method: 'OPTIONS' });
  assert.equal(r.status, 204);
  assert.equal(r.headers.get('access-control-allow-origin'), '*');
  assert.match(r.headers.get('access-control-allow-headers') ?? '', /authorization/);
});
