// The generation loop on a real (random-weight) model from Meta's goldens: greedy ids, stop strings
// split across tokens, cancellation, context limits, seeds and logprobs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { needsShared, sharedData } from './helpers/shared.js';
import { loadModel } from '../src/model/load.js';
import { fakeTokenizer, pieceOf } from './helpers/fake-tokenizer.js';
import { JsBackend } from '../src/backend/js/js-backend.js';
import { LlamaModel } from '../src/model/llama.js';
import { generate, logprobsOf } from '../src/generate/generate.js';
import { LlamaError } from '../src/errors.js';

const NAME = 'llama1-tiny';
const opt = needsShared('golden', NAME);
let cached: LlamaModel | undefined;
async function tiny(): Promise<LlamaModel> {
  cached ??= await LlamaModel.create(await loadModel(sharedData('golden', NAME)), new JsBackend());
  return cached;
}
const golden = () => JSON.parse(readFileSync(sharedData('golden', NAME, 'golden.json'), 'utf8')) as { prompt_ids: number[]; greedy: { ids: number[] }; prefill_logits: number[][] };

async function collect(g: AsyncIterable<{ token: number; text: string }>) {
  const items: { token: number; text: string }[] = [];
  for await (const it of g) items.push(it);
  return items;
}

test('generate, temperature 0: Meta\'s 16 greedy ids, text streamed per token, stats', opt, async () => {
  const model = await tiny();
  const g = golden();
  const gen = generate(model, fakeTokenizer(256), g.prompt_ids, { temperature: 0, maxTokens: 16, ctxSize: 64 });
  const items = await collect(gen);
  assert.deepEqual(items.map((i) => i.token), g.greedy.ids);
  assert.deepEqual(items.map((i) => i.text), g.greedy.ids.map(pieceOf));
  assert.equal(gen.promptText, g.prompt_ids.map(pieceOf).join(''));
  assert.equal(gen.stats?.promptTokens, 12);
  assert.equal(gen.stats?.generatedTokens, 16);
  assert.equal(gen.stats?.finishReason, 'length');
});

test('a stop string split across two tokens is caught and not emitted', opt, async () => {
  const model = await tiny();
  const g = golden();
  const full = g.greedy.ids.map(pieceOf).join('');
  // last letter of token 5 + first letter of token 6: split across the two tokens
  const stop = full.slice(11, 13);
  assert.equal(full.indexOf(stop), 11, 'the stop string must not occur earlier for this test to mean something');
  const gen = generate(model, fakeTokenizer(256), g.prompt_ids, { temperature: 0, maxTokens: 16, ctxSize: 64, stop: [stop] });
  const text = await gen.text();
  assert.equal(text, full.slice(0, 11));
  assert.equal(gen.stats?.finishReason, 'stop');
  assert.equal(gen.stats?.generatedTokens, 7);
});

test('end-of-generation ids stop generation and are not emitted', opt, async () => {
  const model = await tiny();
  const g = golden();
  const eos = g.greedy.ids[3]!;
  const gen = generate(model, fakeTokenizer(256, [eos]), g.prompt_ids, { temperature: 0, maxTokens: 16, ctxSize: 64 });
  const items = await collect(gen);
  assert.deepEqual(items.map((i) => i.token), g.greedy.ids.slice(0, 3));
  assert.equal(gen.stats?.finishReason, 'eos');
});

test('cancelling: AbortSignal and breaking out of the loop both stop the forward passes', opt, async () => {
  const model = await tiny();
  const g = golden();
  let calls = 0;
  const counting = Object.create(model) as LlamaModel;
  counting.forward = (...a: Parameters<LlamaModel['forward']>) => {
    calls++;
    return model.forward(...a);
  };
  // a prefill with a signal runs as an abortable (async) pass: count those passes too
  counting.forwardAsync = (...a: Parameters<LlamaModel['forwardAsync']>) => {
    calls++;
    return model.forwardAsync(...a);
  };
  const ac = new AbortController();
  const gen = generate(counting, fakeTokenizer(256), g.prompt_ids, { temperature: 0, ctxSize: 64, signal: ac.signal });
  let n = 0;
  await assert.rejects(async () => {
    for await (const _ of gen) if (++n === 3) ac.abort();
  }, (e: unknown) => e instanceof LlamaError && e.code === 'CANCELLED');
  assert.equal(n, 3);
  assert.equal(calls, 3, 'prefill + 2 decode steps; nothing after the abort');

  // a timer firing during generation is honoured: the loop yields to the event loop
  const ac2 = new AbortController();
  setTimeout(() => ac2.abort(), 20);
  await assert.rejects(generate(model, fakeTokenizer(256), g.prompt_ids, { temperature: 1, seed: 1, ctxSize: 64, ignoreEog: true, signal: ac2.signal }).text(), (e: unknown) => e instanceof LlamaError && e.code === 'CANCELLED');

  calls = 0;
  for await (const _ of generate(counting, fakeTokenizer(256), g.prompt_ids, { temperature: 0, ctxSize: 64 })) break;
  assert.equal(calls, 1, 'only the prefill ran');
});

test('context: overflow is a CONTEXT_OVERFLOW error with a --ctx-size hint; without -n it runs to the end', opt, async () => {
  const model = await tiny();
  const g = golden();
  const tok = fakeTokenizer(256);
  const isOverflow = (e: unknown) => e instanceof LlamaError && e.code === 'CONTEXT_OVERFLOW' && /--ctx-size/.test(e.hint ?? '');
  await assert.rejects(generate(model, tok, g.prompt_ids, { temperature: 0, ctxSize: 8 }).text(), isOverflow);
  await assert.rejects(generate(model, tok, g.prompt_ids, { temperature: 0, ctxSize: 20, maxTokens: 10 }).text(), isOverflow);
  // 12 prompt positions + 9 generated tokens = 20 positions used (the last token is never forwarded)
  const gen = generate(model, tok, g.prompt_ids, { temperature: 0, ctxSize: 20, maxTokens: 9 });
  assert.equal((await collect(gen)).length, 9);
  const open = generate(model, tok, g.prompt_ids, { temperature: 0, ctxSize: 20 });
  assert.equal((await collect(open)).length, 9);
  assert.equal(open.stats?.finishReason, 'context');
  const s = model.newSession({ ctxSize: 4 });
  assert.throws(() => model.forward(s, g.prompt_ids.slice(0, 5)), isOverflow);
});

test('sampling: same seed same text, different seeds different text', opt, async () => {
  const model = await tiny();
  const g = golden();
  const run = (seed: number) => generate(model, fakeTokenizer(256), g.prompt_ids, { temperature: 1, topK: 0, topP: 1, minP: 0, seed, maxTokens: 12, ctxSize: 64 }).text();
  const a = await run(1234);
  assert.equal(await run(1234), a);
  assert.notEqual(await run(4321), a);
});

test('logprobs: log-softmax of the model\'s logits, top alternatives best first', opt, async () => {
  const model = await tiny();
  const g = golden();
  const gen = generate(model, fakeTokenizer(256), g.prompt_ids, { temperature: 0, maxTokens: 1, ctxSize: 64, topLogprobs: 3 });
  const [first] = (await collect(gen)) as unknown as { token: number; logprob: number; topLogprobs: { token: number; logprob: number }[] }[];
  const row = g.prefill_logits[11]!;
  const z = Math.log(row.reduce((s, l) => s + Math.exp(l), 0));
  assert.ok(Math.abs(first!.logprob - (row[first!.token]! - z)) < 1e-5);
  assert.equal(first!.topLogprobs.length, 3);
  assert.equal(first!.topLogprobs[0]!.token, first!.token);
  assert.ok(first!.topLogprobs[0]!.logprob >= first!.topLogprobs[1]!.logprob && first!.topLogprobs[1]!.logprob >= first!.topLogprobs[2]!.logprob);
  assert.ok(Math.abs(logprobsOf([0, Math.log(3)], 1, 0).logprob - Math.log(0.75)) < 1e-12);
});
