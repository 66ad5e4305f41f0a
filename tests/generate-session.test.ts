// Generation hardening: continuing a Session, validating every option, NaN logits, and the finish
// reason of a generation stopped by `break` or an abort.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './helpers/shared.js';
import { loadModel } from '../src/model/load.js';
import { loadTokenizer } from '../src/tokenizer/load.js';
import { JsBackend } from '../src/backend/js/js-backend.js';
import { LlamaModel } from '../src/model/llama.js';
import { generate, validateGenerateOptions, type GenerateOptions } from '../src/generate/generate.js';
import { createSampler, greedy, logitBias, SamplerChain, validateSamplingOptions } from '../src/generate/sampler.js';
import { LlamaError } from '../src/errors.js';
import type { Tokenizer } from '../src/tokenizer/tokenizer.js';

const DEFAULT_MODEL = join(REPO_ROOT, 'models/default/model.gguf');
const opt = { skip: existsSync(DEFAULT_MODEL) ? false : `${DEFAULT_MODEL} is absent` };
let cached: { model: LlamaModel; tok: Tokenizer } | undefined;
async function defaultModel() {
  cached ??= { model: await LlamaModel.create(await loadModel(DEFAULT_MODEL), new JsBackend()), tok: loadTokenizer(DEFAULT_MODEL) };
  return cached;
}
async function ids(g: AsyncIterable<{ token: number }>): Promise<number[]> {
  const out: number[] = [];
  for await (const it of g) if (it.token >= 0) out.push(it.token);
  return out;
}
const isCode = (code: string, re?: RegExp) => (e: unknown) => e instanceof LlamaError && e.code === code && (re === undefined || re.test(e.message));

test('session: a greedy continuation equals one fresh pass over the same tokens; no BOS in the middle; the session holds every token', opt, async () => {
  const { model, tok } = await defaultModel();
  const sess = model.newSession({ ctxSize: 256 });
  const g1 = generate(model, tok, 'Once upon a time', { maxTokens: 8, temperature: 0, session: sess });
  const a = await ids(g1);
  assert.equal(a.length, 8);
  assert.equal(g1.stats?.finishReason, 'length');
  // the last generated token is in the KV cache too
  assert.deepEqual(sess.tokens, [...g1.promptTokens, ...a]);
  assert.equal(sess.pos, sess.tokens.length);
  const g2 = generate(model, tok, ' Then', { maxTokens: 4, temperature: 0, session: sess });
  const b = await ids(g2);
  assert.notEqual(g2.promptTokens[0], tok.bosId, 'addBos defaults to false when the session already holds tokens');
  assert.deepEqual(sess.tokens, [...g1.promptTokens, ...a, ...g2.promptTokens, ...b]);
  const fresh = await ids(generate(model, tok, [...g1.promptTokens, ...a, ...g2.promptTokens], { maxTokens: 4, temperature: 0, ctxSize: 256 }));
  assert.deepEqual(b, fresh);
  // an explicit addBos still wins
  assert.equal(generate(model, tok, ' x', { session: sess, addBos: true, maxTokens: 1 }).promptTokens[0], tok.bosId);
});

test('session: with a repeat penalty the continuation also equals one fresh pass (penalties see the history)', opt, async () => {
  const { model, tok } = await defaultModel();
  const o: GenerateOptions = { temperature: 0, repeatPenalty: 1.3, presencePenalty: 5, penaltyWindow: -1 };
  const sess = model.newSession({ ctxSize: 128 });
  const g1 = generate(model, tok, 'Once upon a time', { ...o, maxTokens: 6, session: sess });
  const a = await ids(g1);
  // the same words again: without the history the penalties would let the model repeat ' time, there was ...'
  const g2 = generate(model, tok, ' Once upon a', { ...o, maxTokens: 6, session: sess });
  const b = await ids(g2);
  const unpenalized = await ids(generate(model, tok, [...g1.promptTokens, ...a, ...g2.promptTokens], { temperature: 0, maxTokens: 6, ctxSize: 128 }));
  assert.notDeepEqual(b, unpenalized, 'the penalties must matter here for this test to mean something');
  const fresh = await ids(generate(model, tok, [...g1.promptTokens, ...a, ...g2.promptTokens], { ...o, maxTokens: 6, ctxSize: 128 }));
  assert.deepEqual(b, fresh);
});

test('session: after `break` the yielded token is in the session and finishReason is cancelled', opt, async () => {
  const { model, tok } = await defaultModel();
  const sess = model.newSession({ ctxSize: 64 });
  const gen = generate(model, tok, 'Once upon a time', { temperature: 0, maxTokens: 20, session: sess });
  const got: number[] = [];
  for await (const it of gen) {
    got.push(it.token);
    if (got.length === 3) break;
  }
  assert.equal(gen.stats?.finishReason, 'cancelled');
  assert.equal(gen.stats?.generatedTokens, 3);
  assert.deepEqual(sess.tokens, [...gen.promptTokens, ...got]);
});

test('finishReason: cancelled after an abort (which still throws CANCELLED)', opt, async () => {
  const { model, tok } = await defaultModel();
  const ac = new AbortController();
  const gen = generate(model, tok, 'Once upon a time', { temperature: 0, maxTokens: 20, ctxSize: 64, signal: ac.signal });
  let n = 0;
  await assert.rejects(async () => {
    for await (const _ of gen) if (++n === 2) ac.abort();
  }, isCode('CANCELLED'));
  assert.equal(gen.stats?.finishReason, 'cancelled');
  // and a plain break without a session
  const g2 = generate(model, tok, 'Once upon a time', { temperature: 0, maxTokens: 20, ctxSize: 64 });
  for await (const _ of g2) break;
  assert.equal(g2.stats?.finishReason, 'cancelled');
});

// option -> values that must be refused (a USAGE error naming the option), and values accepted
const BAD: [keyof GenerateOptions, unknown[]][] = [
  ['temperature', [-1, NaN, Infinity, '0.5']],
  ['topK', [1.5, -1, NaN]],
  ['topP', [0, -0.1, 1.5, NaN]],
  ['minP', [-0.1, 1.5, NaN]],
  ['typicalP', [0, 2, NaN]],
  ['repeatPenalty', [0, -1, Infinity, NaN]],
  ['frequencyPenalty', [NaN, Infinity]],
  ['presencePenalty', [NaN, -Infinity]],
  ['penaltyWindow', [-5, 1.5]],
  ['seed', ['x', 1e30, 1.5, NaN]],
  ['maxTokens', [-5, 1.5, NaN, Infinity]],
  ['topLogprobs', [-1, 0.5]],
  ['ctxSize', [0, 1.5]],
];
const GOOD: GenerateOptions[] = [
  { temperature: 0 }, { topK: 0 }, { topP: 1 }, { minP: 0 }, { minP: 1 }, { typicalP: 1 }, { repeatPenalty: 0.5 },
  { penaltyWindow: -1 }, { penaltyWindow: 0 }, { seed: -3 }, { seed: 2n ** 64n + 5n }, { maxTokens: 0 }, { maxTokens: -1 },
  { logitBias: { 5: -Infinity, 7: 2.5 } },
];

test('validateGenerateOptions: every out-of-range option is a USAGE error naming it and its range', () => {
  for (const [key, values] of BAD) {
    for (const v of values) {
      assert.throws(() => validateGenerateOptions({ [key]: v } as GenerateOptions), (e: unknown) => e instanceof LlamaError && e.code === 'USAGE' && e.message.startsWith(`${key} must be`) && e.exitCode === 2, `${key}: ${String(v)}`);
    }
  }
  for (const o of GOOD) assert.doesNotThrow(() => validateGenerateOptions(o), JSON.stringify(o, (_, v) => (typeof v === 'bigint' ? String(v) : v)));
  // the CLI's names appear in the message
  assert.throws(() => validateSamplingOptions({ topP: 2 }, { topP: '--top-p' }), /^UsageError: --top-p must be a number in \(0, 1\]/);
  for (const bias of [{ 3: NaN }, { 3: Infinity }, { '-1': 0 }, new Map([[1.5, 0]])] as Record<number, number>[]) {
    assert.throws(() => validateSamplingOptions({ logitBias: bias }), isCode('USAGE', /logitBias/));
  }
  // createSampler checks too: no TypeError from the RNG, no silent garbage
  assert.throws(() => createSampler({ seed: 'x' as unknown as number }), isCode('USAGE', /^seed must be/));
  assert.throws(() => createSampler({ topK: 1.5 }), isCode('USAGE', /^topK/));
});

test('generate: bad options fail before any work, at check() and at the first next()', opt, async () => {
  const { model, tok } = await defaultModel();
  let calls = 0;
  const counting = Object.create(model) as LlamaModel;
  counting.forward = (...a: Parameters<LlamaModel['forward']>) => {
    calls++;
    return model.forward(...a);
  };
  for (const o of [{ topP: -0.1 }, { minP: 1.5 }, { repeatPenalty: 0 }, { temperature: NaN }, { maxTokens: -5 }, { seed: 'x' }] as GenerateOptions[]) {
    const gen = generate(counting, tok, 'hi', { maxTokens: 4, ctxSize: 32, ...o });
    assert.throws(() => gen.check(), isCode('USAGE'), JSON.stringify(o));
    await assert.rejects(gen.text(), isCode('USAGE'));
  }
  assert.equal(calls, 0);
  // a prompt that does not fit is found up front too, and so are ids outside the vocabulary
  assert.throws(() => generate(counting, tok, 'Once upon a time', { maxTokens: 4, ctxSize: 4 }).check(), isCode('CONTEXT_OVERFLOW'));
  assert.throws(() => generate(counting, tok, [1, 99999], { maxTokens: 4, ctxSize: 32 }).check(), (e: unknown) => isCode('TOKEN_ID')(e) && /tokenizer/.test((e as LlamaError).hint ?? ''));
  assert.equal(calls, 0);
  // maxTokens: 1.5 no longer generates 2 tokens; 0 generates none; -1 is no limit
  assert.equal((await ids(generate(model, tok, 'hi', { maxTokens: 0, ctxSize: 32 }))).length, 0);
  const open = generate(model, tok, 'Once', { maxTokens: -1, ctxSize: 12, temperature: 0, ignoreEog: true });
  assert.equal((await ids(open)).length, 12 - open.promptTokens.length + 1);
  assert.equal(open.stats?.finishReason, 'context');
});

test('NaN or infinite logits are a MODEL_NUMERIC error (weights may be corrupt), greedy or sampled, never a token', opt, async () => {
  const { model, tok } = await defaultModel();
  for (const bad of [NaN, Infinity]) {
    const broken = Object.create(model) as LlamaModel;
    broken.forward = (...a: Parameters<LlamaModel['forward']>) => {
      const l = model.forward(...a);
      l[17] = bad;
      return l;
    };
    for (const temperature of [0, 0.8]) {
      await assert.rejects(generate(broken, tok, 'Once', { temperature, seed: 1, maxTokens: 3, ctxSize: 32 }).text(), (e: unknown) => isCode('MODEL_NUMERIC')(e) && /corrupt/.test((e as LlamaError).hint ?? ''));
    }
  }
});

test('sampler: an empty candidate set is an error, never an undefined token', () => {
  const all = new Float32Array(8).fill(-Infinity);
  assert.throws(() => createSampler({ temperature: 0.8, seed: 1 }).sample(all), isCode('USAGE', /no token can be sampled/));
  assert.throws(() => createSampler({ temperature: 0 }).sample(all), isCode('USAGE', /no token can be sampled/));
  const banned = new SamplerChain([logitBias({ 0: -Infinity, 1: -Infinity }), greedy()]);
  assert.throws(() => banned.sample([1, 2]), isCode('USAGE'));
  assert.equal(banned.sample([1, 2, 0]), 2);
  assert.throws(() => createSampler({ temperature: 0 }).sample([0, NaN]), isCode('MODEL_NUMERIC'));
});
