// `llama serve` through the real `openai` npm client (v6): chat, completions with echo and
// logprobs (what lm-evaluation-harness's local-completions sends), streaming with `break`
// (the slot is freed), n choices, seeds across slot counts, usage with cached tokens.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startTestServer } from './helpers/server.js';
import { loadTokenizer } from '../src/tokenizer/load.js';
import { DEFAULT_MODEL } from './helpers/server.js';

const srv = await startTestServer({ parallel: 4 });
after(() => srv.close(true));
const client = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: 'unused', maxRetries: 0 });
const tokenizer = loadTokenizer(DEFAULT_MODEL);

test('chat completion (greedy) equals the engine API\'s chat() for the same messages', async () => {
  const messages = [{ role: 'system' as const, content: 'You tell stories.' }, { role: 'user' as const, content: 'Tell me a story about a cat.' }];
  const r = await client.chat.completions.create({ model: 'default', messages, max_tokens: 12, temperature: 0 });
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0]!.message.role, 'assistant');
  const prompt = srv.engine.chatTemplate.encode(messages, true);
  const want = (await srv.engine.chat(messages, { maxTokens: 12, temperature: 0 }).text()).replace(/^\s+/, '');
  assert.equal(r.choices[0]!.message.content, want);
  assert.ok(want.length > 0);
  assert.equal(r.usage!.prompt_tokens, prompt.length);
  assert.ok(r.usage!.completion_tokens <= 12 && r.usage!.completion_tokens > 0);
  assert.equal(r.usage!.total_tokens, r.usage!.prompt_tokens + r.usage!.completion_tokens);
  assert.ok(['stop', 'length'].includes(r.choices[0]!.finish_reason));
});

test('completions with echo + logprobs and max_tokens 0 return the prompt tokens\' log-likelihoods', async () => {
  const text = 'Once upon a time, there was a little dog.';
  const r = await client.completions.create({ model: 'default', prompt: text, max_tokens: 0, echo: true, logprobs: 1, temperature: 0 });
  const lp = r.choices[0]!.logprobs!;
  assert.equal(r.choices[0]!.text, text);
  const ids = tokenizer.encode(text);
  assert.equal(lp.token_logprobs!.length, ids.length);
  assert.equal(lp.token_logprobs![0], null);
  // independent check: log-softmax of the model's own logits for the same ids
  const logits = srv.engine.llama.forward(srv.engine.llama.newSession({ ctxSize: 64 }), ids, { allLogits: true });
  const V = srv.engine.config.vocabSize;
  for (let t = 1; t < ids.length; t++) {
    const row = logits.subarray((t - 1) * V, t * V);
    let max = -Infinity;
    for (const x of row) max = Math.max(max, x);
    let sum = 0;
    for (const x of row) sum += Math.exp(x - max);
    const want = row[ids[t]!]! - max - Math.log(sum);
    assert.ok(Math.abs(lp.token_logprobs![t]! - want) < 1e-4, `token ${t}: ${lp.token_logprobs![t]} vs ${want}`);
    const top = lp.top_logprobs![t]!;
    assert.equal(Object.keys(top).length, 1);
    assert.ok(Object.values(top)[0]! >= lp.token_logprobs![t]! - 1e-6);
  }
  // the tokens spell the prompt (SentencePiece's word-initial space on the first piece aside)
  assert.equal(lp.tokens!.join('').trimStart(), text);
  assert.equal(lp.text_offset!.length, ids.length);
  assert.equal(r.usage!.completion_tokens, 0);
});

test('completions: prompt as token ids and as an array of strings; n choices in order', async () => {
  const ids = tokenizer.encode('The sun');
  const a = await client.completions.create({ model: 'default', prompt: ids, max_tokens: 5, temperature: 0 });
  const b = await client.completions.create({ model: 'default', prompt: 'The sun', max_tokens: 5, temperature: 0 });
  assert.equal(a.choices[0]!.text, b.choices[0]!.text);
  const m = await client.completions.create({ model: 'default', prompt: ['The sun', 'A cat'], n: 2, max_tokens: 4, temperature: 0.9, seed: 5 });
  assert.deepEqual(m.choices.map((c) => c.index), [0, 1, 2, 3]);
  assert.equal(m.usage!.prompt_tokens, ids.length + tokenizer.encode('A cat').length);
});

test('a seeded sampled completion gives the same text with 1 slot and with 4 busy slots', async () => {
  const one = await startTestServer({ parallel: 1 });
  try {
    const c1 = new OpenAI({ baseURL: `${one.url}/v1`, apiKey: 'x', maxRetries: 0 });
    const want = (await c1.completions.create({ model: 'd', prompt: 'Lily went to the park', max_tokens: 16, temperature: 0.8, seed: 42 })).choices[0]!.text;
    // the same request among others on the 4-slot server, all at once
    const others = ['Tom had a red ball', 'The bird', 'One day'].map((p, i) => client.completions.create({ model: 'd', prompt: p, max_tokens: 20, temperature: 1, seed: i }));
    const got = client.completions.create({ model: 'd', prompt: 'Lily went to the park', max_tokens: 16, temperature: 0.8, seed: 42 });
    await Promise.all(others);
    assert.equal((await got).choices[0]!.text, want);
  } finally {
    await one.close(true);
  }
});

test('streaming chat: deltas add up to the non-streamed answer; include_usage sends a final usage chunk', async () => {
  const body = { model: 'default', messages: [{ role: 'user' as const, content: 'Hello there' }], max_tokens: 10, temperature: 0 };
  const full = await client.chat.completions.create(body);
  const stream = await client.chat.completions.create({ ...body, stream: true, stream_options: { include_usage: true } });
  let text = '';
  let usage;
  let finish;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      text += c.delta.content ?? '';
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.equal(text, full.choices[0]!.message.content);
  assert.equal(finish, full.choices[0]!.finish_reason);
  assert.deepEqual(usage?.completion_tokens, full.usage!.completion_tokens);
});

test('breaking out of a stream frees its slot within 100 ms', async () => {
  const stream = await client.chat.completions.create({ model: 'default', messages: [{ role: 'user', content: 'Write a long story.' }], max_tokens: 200, temperature: 0.7, stream: true });
  let n = 0;
  for await (const _ of stream) {
    if (++n >= 3) break;
  }
  const t0 = performance.now();
  while (srv.scheduler.stats.slotsBusy > 0 && performance.now() - t0 < 2000) await new Promise((r) => setTimeout(r, 5));
  const waited = performance.now() - t0;
  assert.equal(srv.scheduler.stats.slotsBusy, 0);
  assert.ok(waited < 100, `slot freed after ${waited.toFixed(0)} ms`);
});

test('chat logprobs with top_logprobs', async () => {
  const r = await client.chat.completions.create({ model: 'default', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 4, temperature: 0, logprobs: true, top_logprobs: 3 });
  const content = r.choices[0]!.logprobs!.content!;
  assert.ok(content.length > 0);
  for (const c of content) {
    assert.equal(c.top_logprobs.length, 3);
    // greedy: the chosen token is the most likely one
    assert.ok(Math.abs(c.logprob - c.top_logprobs[0]!.logprob) < 1e-6);
    assert.deepEqual(Buffer.from(c.bytes!).toString('utf8'), c.token);
  }
  // the tokens spell the reply (the whitespace the chat format leaves before it aside)
  assert.equal(content.map((c) => c.token).join('').replace(/^\s+/, ''), r.choices[0]!.message.content);
});

test('a repeated prompt reuses the cached prefix (usage.prompt_tokens_details.cached_tokens)', async () => {
  const prompt = 'Once upon a time there was a big tree in a small town, and every day a girl came to sit under it.';
  await client.completions.create({ model: 'd', prompt, max_tokens: 2, temperature: 0 });
  const r = await client.completions.create({ model: 'd', prompt, max_tokens: 2, temperature: 0 });
  const ids = tokenizer.encode(prompt);
  assert.equal((r.usage as { prompt_tokens_details?: { cached_tokens: number } }).prompt_tokens_details?.cached_tokens, ids.length - 1);
});

test('models, health, props, tokenize, detokenize, metrics', async () => {
  const models = await client.models.list();
  assert.equal(models.data[0]!.id, 'default');
  const h = (await (await fetch(`${srv.url}/health`)).json()) as any;
  assert.equal(h.status, 'ok');
  const props = (await (await fetch(`${srv.url}/props`)).json()) as any;
  assert.equal(props.total_slots, 4);
  assert.equal(props.default_generation_settings.n_ctx, 256);
  const tok = (await (await fetch(`${srv.url}/tokenize`, { method: 'POST', body: JSON.stringify({ content: 'Hello world' }) })).json()) as any;
  assert.deepEqual(tok.tokens, tokenizer.encode('Hello world', { addBos: false }));
  const de = (await (await fetch(`${srv.url}/detokenize`, { method: 'POST', body: JSON.stringify({ tokens: tok.tokens }) })).json()) as any;
  assert.equal(de.content, 'Hello world');
  const m = await (await fetch(`${srv.url}/metrics`)).text();
  assert.match(m, /^llamats_tokens_predicted_total \d+$/m);
  assert.match(m, /^llamats_requests_processing 0$/m);
  assert.match(m, /^llamats_slots_total 4$/m);
});

test('embeddings through the client (base64 by default, decoded by it) equal the engine\'s, and float on request', async () => {
  const r = await client.embeddings.create({ model: 'default', input: ['The cat sat.', 'A dog ran.'] });
  assert.equal(r.data.length, 2);
  const want = await srv.engine.embed(['The cat sat.', 'A dog ran.'], { pooling: 'mean', normalize: true });
  for (let i = 0; i < 2; i++) {
    const got = r.data[i]!.embedding;
    assert.equal(got.length, srv.engine.config.dim);
    for (let j = 0; j < got.length; j++) assert.ok(Math.abs(got[j]! - want[i]![j]!) < 1e-6);
  }
  assert.ok(r.usage.prompt_tokens > 0);
  const f = (await (await fetch(`${srv.url}/v1/embeddings`, { method: 'POST', body: JSON.stringify({ input: 'The cat sat.', encoding_format: 'float', dimensions: 8 }) })).json()) as any;
  assert.equal(f.data[0].embedding.length, 8);
  const n = Math.hypot(...f.data[0].embedding);
  assert.ok(Math.abs(n - 1) < 1e-5, 'truncated vectors are renormalized');
});

test('response_format json_schema: the reply parses and validates', async () => {
  const schema = { type: 'object', properties: { name: { type: 'string', maxLength: 12 }, age: { type: 'integer', minimum: 0, maximum: 120 } }, required: ['name', 'age'], additionalProperties: false };
  // a budget that lets the object close: the default model (trained on indented books too) spends many
  // tokens on the whitespace JSON allows between tokens
  for (const seed of [1, 2, 3]) {
    const r = await client.chat.completions.create({ model: 'default', messages: [{ role: 'user', content: 'Describe a person as JSON.' }], max_tokens: 200, temperature: 0.8, seed, response_format: { type: 'json_schema', json_schema: { name: 'person', schema } } });
    const obj = JSON.parse(r.choices[0]!.message.content!);
    assert.equal(typeof obj.name, 'string');
    assert.ok(Number.isInteger(obj.age) && obj.age >= 0 && obj.age <= 120);
    assert.deepEqual(Object.keys(obj).sort(), ['age', 'name']);
  }
  const bad = await fetch(`${srv.url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ messages: [{ role: 'user', content: 'x' }], response_format: { type: 'json_schema', json_schema: { schema: { type: 'object', patternProperties: { a: {} } } } } }) });
  assert.equal(bad.status, 400);
  assert.match(((await bad.json()) as any).error.message, /patternProperties/);
});
