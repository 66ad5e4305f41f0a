// The engine API (src/api/): openModel, complete, chat sessions with cache reuse and context shift,
// embeddings, structured output, save/load, dispose, and typed errors for bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, needsShared, sharedData } from './helpers/shared.js';
import { tempDir } from './helpers/tmp.js';
import { openModel, type Model } from '../src/api/index.js';
import { shiftedTokens } from '../src/api/session.js';
import { generate } from '../src/generate/generate.js';
import { LlamaError } from '../src/errors.js';

const DEFAULT_MODEL = join(REPO_ROOT, 'models/default/model.gguf');
const opt = { skip: existsSync(DEFAULT_MODEL) ? false : `${DEFAULT_MODEL} is absent` };
const isCode = (code: string, re?: RegExp) => (e: unknown) => e instanceof LlamaError && e.code === code && (re === undefined || re.test(e.message + (e.hint ?? '')));
let cached: Model | undefined;
const model = async () => (cached ??= await openModel(DEFAULT_MODEL, { backend: 'js', ctxSize: 256 }));
async function tokens(g: AsyncIterable<{ token: number }>): Promise<number[]> {
  const out: number[] = [];
  for await (const t of g) if (t.token >= 0) out.push(t.token);
  return out;
}

test('openModel: one call gives weights, tokenizer, chat format and defaults; complete() equals generate()', opt, async () => {
  const m = await model();
  assert.equal(m.format, 'gguf');
  assert.equal(m.backendName, 'js');
  assert.equal(m.tokenizer.vocabSize, m.config.vocabSize);
  assert.equal(m.chatTemplate.name, 'plain', 'a base model without a template chats in the plain format');
  assert.equal(m.defaults.source, 'llama-ts');
  const ids = m.tokenize('Once upon a time');
  assert.equal(ids[0], m.tokenizer.bosId);
  assert.equal(m.detokenize(ids), 'Once upon a time');
  const viaApi = await tokens(m.complete('Once upon a time', { maxTokens: 12, temperature: 0 }));
  const direct = await tokens(generate(m.llama, m.tokenizer, 'Once upon a time', { maxTokens: 12, temperature: 0, ctxSize: 256 }));
  assert.equal(viaApi.length, 12);
  assert.deepEqual(viaApi, direct);
});

test('openModel: a llama2.c checkpoint finds its tokenizer beside it', needsShared('models', 'stories260K', 'tok512.bin'), async () => {
  const m = await openModel(sharedData('models', 'stories260K', 'stories260K.bin'), { backend: 'js' });
  assert.equal(m.format, 'llama2c');
  assert.equal(m.tokenizer.vocabSize, 512);
  assert.ok((await m.complete('Once upon a time', { maxTokens: 8, temperature: 0 }).text()).length > 0);
  await m.dispose();
});

test('openModel: bad options and paths are typed errors', opt, async () => {
  await assert.rejects(openModel(DEFAULT_MODEL, { lorax: 'x.gguf' } as never), isCode('USAGE', /lorax/));
  await assert.rejects(openModel(DEFAULT_MODEL, { ctxSize: 0 }), isCode('USAGE', /ctxSize/));
  await assert.rejects(openModel(DEFAULT_MODEL, { kvType: 'q8' as never }), isCode('USAGE', /kvType/));
  await assert.rejects(openModel(DEFAULT_MODEL, { backend: 'gpu' }), isCode('USAGE', /backend/));
  await assert.rejects(openModel(DEFAULT_MODEL, { chatTemplate: 'nope' }), isCode('USAGE', /chat-template 'nope'/));
  await assert.rejects(openModel(join(REPO_ROOT, 'no-such-model.gguf')), isCode('MODEL_NOT_FOUND'));
  await assert.rejects(openModel(''), isCode('USAGE'));
});

test('openModel: a model without any tokenizer is TOKENIZER_MISSING with a hint', needsShared('golden', 'llama1-tiny', 'model.safetensors'), async () => {
  await assert.rejects(openModel(sharedData('golden', 'llama1-tiny', 'model.safetensors'), { backend: 'js' }), isCode('TOKENIZER_MISSING', /tokenizer/));
});

test('dispose: frees the model; every later call is a USAGE error; asyncDispose works', opt, async () => {
  const m = await openModel(DEFAULT_MODEL, { backend: 'js', ctxSize: 64 });
  await m[Symbol.asyncDispose]();
  assert.throws(() => m.complete('x'), isCode('USAGE', /disposed/));
  assert.throws(() => m.createChat(), isCode('USAGE', /disposed/));
  await assert.rejects(m.embed(['x']), isCode('USAGE', /disposed/));
  await m.dispose(); // twice is fine
});

test('createChat: each turn evaluates only its new tokens, and greedy output with reuse equals output from scratch', opt, async () => {
  const m = await model();
  const chat = m.createChat({ system: 'You tell short stories.' });
  const first = chat.send('Tell me about a cat.', { maxTokens: 10, temperature: 0 });
  const firstText = await first.text();
  assert.ok(firstText.length > 0);
  assert.doesNotMatch(firstText, /^\s/, 'the space the format leaves after "Assistant:" is not part of the reply');
  assert.doesNotMatch(await m.chat([{ role: 'user', content: 'Hi' }], { maxTokens: 5, temperature: 0 }).text(), /^\s/);
  const before = chat.messages.map((x) => ({ ...x }));
  assert.equal(before.length, 3);
  assert.equal(before[2]!.role, 'assistant');
  const second = chat.send('What did the cat do?', { maxTokens: 10, temperature: 0 });
  const reused = await tokens(second);
  // from scratch: a new session with the same history, then the same turn
  const fresh = m.createChat();
  fresh.restore({ format: 'llama-ts-chat', version: 1, messages: before });
  const third = fresh.send('What did the cat do?', { maxTokens: 10, temperature: 0 });
  const scratch = await tokens(third);
  assert.deepEqual(reused, scratch);
  assert.ok(second.stats!.promptTokens < third.stats!.promptTokens / 2, `the reused turn evaluated ${second.stats!.promptTokens} tokens, from scratch ${third.stats!.promptTokens}`);
  assert.deepEqual(chat.messages.map((x) => x.role), ['system', 'user', 'assistant', 'user', 'assistant']);
  // a base model's BOS starts a new document: in a chat it ends the reply
  const bos = m.tokenizer.bosId!;
  const ended = chat.send('And then?', { maxTokens: 10, temperature: 0, logitBias: { [bos]: 1000 } });
  assert.equal(await ended.text(), '');
  assert.equal(ended.stats?.finishReason, 'eos');
  assert.equal(await m.chat([{ role: 'user', content: 'Hi' }], { maxTokens: 10, temperature: 0, logitBias: { [bos]: 1000 } }).text(), '');
});

test('Sequence: a context shift keeps the first nKeep tokens, drops half of the rest, and equals a fresh pass over the kept tokens', opt, async () => {
  const m = await model();
  const ids = m.tokenize('Once upon a time there was a little dog who liked to run in the park with his friends every day');
  const seq = m.createSequence({ ctxSize: 64 });
  await seq.evaluate(ids);
  const kept = shiftedTokens(ids, 3);
  assert.deepEqual(kept.slice(0, 3), ids.slice(0, 3));
  assert.equal(kept.length, ids.length - Math.floor((ids.length - 3) / 2));
  await seq.shift(3);
  assert.deepEqual(seq.tokens, kept);
  assert.equal(seq.shifts, 1);
  const ref = m.createSequence({ ctxSize: 64 });
  const a = m.llama.forward(seq.session, [42]);
  assert.deepEqual(a, m.llama.forward(ref.session, [...kept, 42]));
});

test('context full: complete() refuses by default, shifts when asked (keeping BOS), a chat keeps its system prompt', opt, async () => {
  const m = await model();
  const prompt = 'Once upon a time there was a little girl';
  // refuse: the output ends when the context is full
  const seq = m.createSequence({ ctxSize: 24 });
  const g = m.complete(prompt, { maxTokens: -1, temperature: 0, ignoreEog: true, sequence: seq });
  await g.text();
  assert.equal(g.stats?.finishReason, 'context');
  assert.throws(() => m.complete(prompt, { maxTokens: 40, sequence: m.createSequence({ ctxSize: 24 }) }).check(), isCode('CONTEXT_OVERFLOW'));
  // shift: generation goes on past the context
  const s2 = m.createSequence({ ctxSize: 24 });
  const g2 = m.complete(prompt, { maxTokens: 40, temperature: 0, ignoreEog: true, contextShift: 'shift', sequence: s2 });
  assert.equal((await tokens(g2)).length, 40);
  assert.ok(s2.shifts >= 1);
  assert.equal(s2.tokens[0], m.tokenizer.bosId);
  // a chat in a small context: the system prompt survives every shift
  const chat = m.createChat({ system: 'You are kind.', ctxSize: 48 });
  const sys = m.chatTemplate.encode([{ role: 'system', content: 'You are kind.' }], false);
  for (let i = 0; i < 4; i++) await chat.send('Tell me a long story about a dog and a cat.', { maxTokens: 20, temperature: 0, ignoreEog: true, stop: [] }).text();
  assert.ok(chat.sequence.shifts + chat.sequence.fits >= 2, `shifts ${chat.sequence.shifts}, shortened prompts ${chat.sequence.fits}`);
  assert.ok(chat.sequence.tokens.length <= 48);
  assert.deepEqual(chat.sequence.tokens.slice(0, sys.length - 1), sys.slice(0, sys.length - 1));
  // refuse in a chat: a clear error instead
  const strict = m.createChat({ system: 'You are kind.', ctxSize: 32, defaults: { contextShift: 'refuse' } });
  assert.throws(() => strict.send('Tell me a long story about a dog and a cat and a bird and a fish.', { maxTokens: 20 }).check(), isCode('CONTEXT_OVERFLOW'));
});

test('embed: batched equals one text at a time; normalize gives unit vectors; pooling modes', opt, async () => {
  const m = await model();
  const texts = ['Once upon a time', 'The cat sat on the mat.', 'To be or not to be, that is the question'];
  for (const pooling of ['mean', 'last', 'cls'] as const) {
    const together = await m.embed(texts, { pooling });
    const alone = await Promise.all(texts.map(async (t) => (await m.embed([t], { pooling }))[0]!));
    assert.deepEqual(together, alone, pooling);
    // groups smaller than the whole batch give the same vectors too
    assert.deepEqual(await m.embed(texts, { pooling, batchTokens: 4 }), together, `${pooling}, batchTokens 4`);
  }
  // pooling against the hidden states themselves
  const ids = m.tokenize(texts[1]!);
  const h = m.llama.forward(m.createSequence({ ctxSize: 32 }).session, ids, { allLogits: true, output: 'hidden' });
  const dim = m.config.dim;
  const [mean] = await m.embed([texts[1]!], { pooling: 'mean' });
  const [last] = await m.embed([texts[1]!], { pooling: 'last' });
  const [cls] = await m.embed([texts[1]!], { pooling: 'cls' });
  assert.deepEqual(last, h.subarray((ids.length - 1) * dim));
  assert.deepEqual(cls, h.subarray(0, dim));
  for (const d of [0, 7, dim - 1]) {
    let s = 0;
    for (let t = 0; t < ids.length; t++) s += h[t * dim + d]!;
    assert.ok(Math.abs(mean![d]! - s / ids.length) < 1e-5);
  }
  for (const v of await m.embed(texts, { normalize: true })) {
    const n = Math.hypot(...v);
    assert.ok(Math.abs(n - 1) < 1e-5, `norm ${n}`);
  }
  const different = await m.embed(texts, { pooling: 'mean' });
  assert.notDeepEqual(different[0], different[1]);
  await assert.rejects(m.embed(texts, { pooling: 'max' as never }), isCode('USAGE', /pooling/));
  await assert.rejects(m.embed('text' as never), isCode('USAGE'));
  await assert.rejects(m.embed([''], { addBos: false }), isCode('USAGE', /empty/));
});

test('structured output: a JSON schema and a GBNF grammar constrain complete() and chat', opt, async () => {
  const m = await model();
  const schema = { type: 'object', properties: { color: { enum: ['red', 'blue'] } }, required: ['color'], additionalProperties: false };
  // the grammar allows free whitespace and this tiny model likes it (the books it read are indented): the
  // output may be cut by maxTokens, so the budget leaves room for the colour itself
  const out = await m.complete('My favourite colour is', { maxTokens: 120, temperature: 0, responseFormat: { type: 'json_schema', schema } }).text();
  assert.match(out.replace(/\s+/g, ''), /^\{"color":"(red|blue)"\}?$/, out);
  const exact = await m.complete('My favourite colour is', { maxTokens: 30, temperature: 0, grammar: 'root ::= "{\\"color\\": " ("\\"red\\"" | "\\"blue\\"") "}"' }).text();
  assert.ok(['red', 'blue'].includes((JSON.parse(exact) as { color: string }).color), exact);
  const yn = await m.complete('Is the sky blue?', { maxTokens: 5, temperature: 0.8, seed: 3, grammar: 'root ::= "yes" | "no"' }).text();
  assert.ok(yn === 'yes' || yn === 'no', yn);
  const chat = m.createChat();
  const reply = await chat.send('Pick a colour', { maxTokens: 120, temperature: 0, responseFormat: { type: 'json_schema', schema }, stop: [] }).text();
  assert.match(reply.replace(/\s+/g, ''), /^\{"color":"(red|blue)"\}?$/, reply);
  assert.throws(() => m.complete('x', { grammar: 'root ::= "unterminated' }), isCode('GRAMMAR'));
  assert.throws(() => m.complete('x', { responseFormat: { type: 'json_schema' } }), isCode('GRAMMAR', /schema/));
});

test('chat session: save/load round trip, /system and /reset, typed errors for bad files', opt, async () => {
  const m = await model();
  const chat = m.createChat({ system: 'Be brief.' });
  await chat.send('Hello', { maxTokens: 4, temperature: 0 }).text();
  const dir = tempDir('llama-api-');
  const file = join(dir, 'chat.json');
  chat.save(file);
  const other = m.createChat();
  other.load(file);
  assert.deepEqual(other.messages, chat.messages);
  other.setSystem('Be long.');
  assert.equal(other.system, 'Be long.');
  other.reset();
  assert.deepEqual(other.messages, [{ role: 'system', content: 'Be long.' }]);
  writeFileSync(join(dir, 'bad.json'), '{"format": "something else"}');
  assert.throws(() => other.load(join(dir, 'bad.json')), isCode('DATA'));
  writeFileSync(join(dir, 'broken.json'), '{');
  assert.throws(() => other.load(join(dir, 'broken.json')), isCode('DATA'));
  assert.throws(() => other.load(join(dir, 'missing.json')), isCode('FILE_NOT_FOUND'));
  // one reply at a time
  // ignoreEog: the reply must still be running after its first token, whatever the model would say
  const g = other.send('Hi', { maxTokens: 3, temperature: 0, ignoreEog: true });
  await g.next();
  assert.throws(() => other.send('again'), isCode('USAGE', /still being generated/));
  await g.return();
  assert.equal(other.messages.at(-1)!.role, 'assistant', 'a reply stopped early still joins the history');
  assert.throws(() => m.chat([{ role: 'robot', content: 'x' }] as never), isCode('USAGE', /role/));
  // a conversation in another format than the model's
  const chatml = m.createChat({ template: 'chatml', system: 'S' });
  assert.equal(chatml.format.name, 'chatml');
  await chatml.send('Hi', { maxTokens: 2, temperature: 0 }).text();
  assert.deepEqual(chatml.sequence.tokens.slice(0, 3), chatml.format.encode([{ role: 'system', content: 'S' }], false).slice(0, 3));
  assert.throws(() => m.createChat({ template: 'nope' }), isCode('USAGE', /chat-template 'nope'/));
});

test('model.forwardBatch: several sequences in one pass equal one at a time', opt, async () => {
  const m = await model();
  const a = m.createSequence({ ctxSize: 32 });
  const b = m.createSequence({ ctxSize: 32 });
  await a.evaluate(m.tokenize('Once upon'));
  const [la, lb] = m.forwardBatch([{ sequence: a, tokens: m.tokenize(' a time', { addBos: false }) }, { sequence: b, tokens: m.tokenize('The cat') }]);
  const ra = m.createSequence({ ctxSize: 32 });
  const rb = m.createSequence({ ctxSize: 32 });
  assert.deepEqual(la, await ra.evaluate([...m.tokenize('Once upon'), ...m.tokenize(' a time', { addBos: false })]));
  assert.deepEqual(lb, await rb.evaluate(m.tokenize('The cat')));
  const other = await openModel(DEFAULT_MODEL, { backend: 'js', ctxSize: 16 });
  assert.throws(() => m.forwardBatch([{ sequence: other.createSequence(), tokens: [5] }]), isCode('USAGE', /this model/));
  assert.throws(() => m.forwardBatch([{ sequence: a, tokens: 5 as never }]), isCode('USAGE', /tokens/));
  assert.throws(() => m.forwardBatch([{ sequence: a, tokens: [] }]), isCode('USAGE'));
  await other.dispose();
});

test('complete: an AbortSignal stops it with CANCELLED', opt, async () => {
  const m = await model();
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(m.complete('Once', { maxTokens: 5, signal: ac.signal }).text(), isCode('CANCELLED'));
  assert.throws(() => m.complete('Once', { contextShift: 'maybe' as never }), isCode('USAGE', /contextShift/));
  assert.throws(() => m.complete('Once', { nKeep: -1 }), isCode('USAGE', /nKeep/));
});

test('openModel: every weight format (Meta .pth, HF safetensors, GGUF) reproduces Meta\'s greedy ids through complete()', needsShared('golden', 'llama2-gqa-tiny'), async (t) => {
  const tok = sharedData('models', 'stories260K', 'tok512.bin'); // any 512-token tokenizer: the ids are given directly
  if (!existsSync(tok)) return t.skip(`${tok} is absent`);
  const dir = sharedData('golden', 'llama2-gqa-tiny');
  const golden = JSON.parse(readFileSync(join(dir, 'golden.json'), 'utf8')) as { prompt_ids: number[]; greedy: { ids: number[] } };
  for (const file of ['', 'model.safetensors', 'model-f32.gguf']) {
    const m = await openModel(join(dir, file), { backend: 'js', tokenizer: tok, ctxSize: 64 });
    const ids = await tokens(m.complete(golden.prompt_ids, { maxTokens: golden.greedy.ids.length, temperature: 0, ignoreEog: true }));
    assert.deepEqual(ids, golden.greedy.ids, file || 'Meta folder');
    await m.dispose();
  }
});

test('openModel: LoRA adapters attach at run time (equal to attachLora; scale 0 = the base model); bad specs are USAGE', needsShared('golden', 'llama2-gqa-tiny'), async (t) => {
  const tok = sharedData('models', 'stories260K', 'tok512.bin');
  if (!existsSync(tok)) return t.skip(`${tok} is absent`);
  const { writeLoraGguf } = await import('../src/model/lora-io.js');
  const { attachLora } = await import('../src/model/lora.js');
  const file = sharedData('golden', 'llama2-gqa-tiny', 'model-f32.gguf');
  const base = await openModel(file, { backend: 'js', tokenizer: tok, ctxSize: 32 });
  const c = base.config;
  const rank = 2;
  let seed = 7;
  const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32 - 0.5) * 0.2;
  const q = c.nHeads * c.headDim;
  const adapter = {
    source: 'test',
    alpha: 2 * rank,
    pairs: [0, 1].map((layer) => ({ layer, key: 'wq' as const, rank, rows: q, cols: c.dim, a: Float32Array.from({ length: rank * c.dim }, rnd), b: Float32Array.from({ length: q * rank }, rnd) })),
  };
  const path = join(tempDir('llama-api-lora-'), 'adapter.gguf');
  writeLoraGguf(path, adapter);
  const ids = [1, 5, 9, 200, 31];
  const logits = (m: Model) => m.llama.forward(m.createSequence({ ctxSize: 32 }).session, ids, { allLogits: true });
  const withLora = await openModel(file, { backend: 'js', tokenizer: tok, ctxSize: 32, lora: { path, scale: 0.5 } });
  const manual = attachLora(base.llama, [{ adapter, scale: 0.5 }]);
  assert.deepEqual(logits(withLora), manual.forward(manual.newSession({ ctxSize: 32 }), ids, { allLogits: true }));
  assert.notDeepEqual(logits(withLora), logits(base));
  const off = await openModel(file, { backend: 'js', tokenizer: tok, ctxSize: 32, lora: [{ path, scale: 0 }] });
  assert.deepEqual(logits(off), logits(base));
  await assert.rejects(openModel(file, { backend: 'js', tokenizer: tok, lora: { path: '' } }), isCode('USAGE', /lora 0/));
  await assert.rejects(openModel(file, { backend: 'js', tokenizer: tok, lora: { path, scale: Number.NaN } }), isCode('USAGE', /scale/));
  await withLora.dispose();
  await off.dispose();
  await base.dispose();
});

test('generation defaults: GGUF general.sampling.*, else generation_config.json beside the weights, else ours; complete() uses them', opt, async () => {
  const { generationDefaults } = await import('../src/api/defaults.js');
  const dir = tempDir('llama-api-defaults-');
  const file = join(dir, 'model.safetensors');
  assert.deepEqual(generationDefaults(file, 'safetensors', {}), { source: 'llama-ts' });
  writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ temperature: 0.6, top_p: 0.9, top_k: 20, repetition_penalty: 1.1, max_length: 4096 }));
  assert.deepEqual(generationDefaults(file, 'safetensors', {}), { temperature: 0.6, topP: 0.9, topK: 20, repeatPenalty: 1.1, source: 'generation_config.json' });
  writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ do_sample: false, temperature: 0.6 }));
  assert.equal(generationDefaults(file, 'safetensors', {}).temperature, 0, 'do_sample false means greedy');
  writeFileSync(join(dir, 'generation_config.json'), '{ broken');
  assert.equal(generationDefaults(file, 'safetensors', {}).source, 'llama-ts');
  assert.deepEqual(generationDefaults(join(dir, 'm.gguf'), 'gguf', { 'general.sampling.temp': 0, 'general.sampling.top_k': 5, 'general.name': 'x' }), { temperature: 0, topK: 5, source: 'gguf' });
  // the model's defaults apply unless the call overrides them: a greedy default makes complete() deterministic
  const m = await model();
  const greedy = Object.assign(Object.create(Object.getPrototypeOf(m)) as Model, m, { defaults: { temperature: 0, source: 'test' } });
  const a = await greedy.complete('Once upon a time', { maxTokens: 8, seed: 1 }).text();
  const b = await greedy.complete('Once upon a time', { maxTokens: 8, seed: 2 }).text();
  assert.equal(a, b);
  assert.equal(a, await m.complete('Once upon a time', { maxTokens: 8, temperature: 0 }).text());
});
