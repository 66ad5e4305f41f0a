// Batched forward over several sequences: each sequence's logits (or hidden states) equal what a
// single-sequence forward gives, whatever the sequences' positions and lengths; and the abortable
// (async) pass that lets Ctrl-C stop a long prefill.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './helpers/shared.js';
import { fastBackends } from './helpers/backends.js';
import { loadModel } from '../src/model/load.js';
import { loadTokenizer } from '../src/tokenizer/load.js';
import { JsBackend } from '../src/backend/js/js-backend.js';
import type { Backend } from '../src/backend/backend.js';
import { LlamaModel } from '../src/model/llama.js';
import { generate } from '../src/generate/generate.js';
import { LlamaError } from '../src/errors.js';

const DEFAULT_MODEL = join(REPO_ROOT, 'models/default/model.gguf');
const opt = { skip: existsSync(DEFAULT_MODEL) ? false : `${DEFAULT_MODEL} is absent` };
const open = async (b: Backend) => LlamaModel.create(await loadModel(DEFAULT_MODEL), b);
const isCode = (code: string) => (e: unknown) => e instanceof LlamaError && e.code === code;

/** Deterministic token ids in the model's vocabulary. */
const ids = (n: number, seed: number) => Array.from({ length: n }, (_, i) => ((i + 1) * 7919 + seed * 104729) % 4000 + 3);

/** Three sequences at different positions with different lengths: (history, new tokens). */
const CASES = [
  { history: [] as number[], tokens: ids(5, 1) }, // a fresh prefill
  { history: ids(7, 2), tokens: ids(1, 3) }, // a decode step at position 7
  { history: ids(3, 4), tokens: ids(4, 5) }, // a prefill continuing at position 3
];

function maxAbsDiff(a: Float32Array, b: Float32Array): { diff: number; mag: number } {
  assert.equal(a.length, b.length);
  let diff = 0;
  let mag = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    mag = Math.max(mag, Math.abs(b[i]!));
  }
  return { diff, mag };
}

async function checkBatchEqualsSingle(model: LlamaModel, exact: boolean) {
  for (const allLogits of [false, true]) {
    for (const output of ['logits', 'hidden'] as const) {
      const single = CASES.map(({ history, tokens }) => {
        const s = model.newSession({ ctxSize: 32 });
        if (history.length) model.forward(s, history);
        return Float32Array.from(model.forward(s, tokens, { allLogits, output }));
      });
      const sessions = CASES.map(({ history }) => {
        const s = model.newSession({ ctxSize: 32 });
        if (history.length) model.forward(s, history);
        return s;
      });
      const batched = model.forwardBatch(CASES.map(({ tokens }, i) => ({ session: sessions[i]!, tokens })), { allLogits, output });
      assert.equal(batched.length, CASES.length);
      CASES.forEach(({ history, tokens }, i) => {
        const width = output === 'hidden' ? model.config.dim : model.config.vocabSize;
        assert.equal(batched[i]!.length, (allLogits ? tokens.length : 1) * width, `sequence ${i}: rows`);
        const where = `${model.backend.name}, sequence ${i}, allLogits ${allLogits}, ${output}`;
        if (exact) assert.deepEqual(batched[i], single[i], where);
        else {
          // decode (T=1) and prefill kernels sum in different orders: the conformance suite's relative bound
          const { diff, mag } = maxAbsDiff(batched[i]!, single[i]!);
          assert.ok(diff <= 1e-4 * mag + 1e-5, `${where}: max |diff| ${diff} (magnitude ${mag})`);
        }
        assert.equal(sessions[i]!.pos, history.length + tokens.length, `${where}: the session advanced`);
        assert.deepEqual(sessions[i]!.tokens, [...history, ...tokens]);
      });
    }
  }
}

test('forwardBatch: each sequence equals its single-sequence forward (js, exact), at different positions and lengths', opt, async () => {
  await checkBatchEqualsSingle(await open(new JsBackend()), true);
});

test('forwardBatch: each sequence equals its single-sequence forward on the native backend (conformance tolerance)', opt, async (t) => {
  const backends = await fastBackends();
  if (backends.length === 0) return t.skip('no native backend built here');
  for (const b of backends) await checkBatchEqualsSingle(await open(b), false);
});

test('forwardBatch: the batch continues exactly like one sequence each (generation after a batched prefill)', opt, async () => {
  const model = await open(new JsBackend());
  const a = model.newSession({ ctxSize: 32 });
  const b = model.newSession({ ctxSize: 32 });
  model.forwardBatch([{ session: a, tokens: ids(6, 8) }, { session: b, tokens: ids(2, 9) }]);
  const ref = model.newSession({ ctxSize: 32 });
  model.forward(ref, ids(6, 8));
  assert.deepEqual(model.forward(a, [42]), model.forward(ref, [42]));
});

test('forwardBatch: per-sequence allLogits (one sequence wants every row, the others their last)', opt, async () => {
  const model = await open(new JsBackend());
  const V = model.config.vocabSize;
  const fresh = () => CASES.map(({ history }) => {
    const s = model.newSession({ ctxSize: 32 });
    if (history.length) model.forward(s, history);
    return s;
  });
  const ref = fresh().map((s, i) => Float32Array.from(model.forward(s, CASES[i]!.tokens, { allLogits: i === 2 })));
  const sessions = fresh();
  const out = model.forwardBatch(CASES.map(({ tokens }, i) => ({ session: sessions[i]!, tokens, allLogits: i === 2 })));
  assert.deepEqual(out.map((o) => o.length / V), [1, 1, CASES[2]!.tokens.length]);
  out.forEach((o, i) => assert.deepEqual(o, ref[i], `sequence ${i}`));
});

test('forwardBatch: bad input is a typed error and leaves the sessions untouched', opt, async () => {
  const model = await open(new JsBackend());
  const s = model.newSession({ ctxSize: 8 });
  const t = model.newSession({ ctxSize: 8 });
  assert.throws(() => model.forwardBatch([]), isCode('USAGE'));
  assert.throws(() => model.forwardBatch([{ session: s, tokens: [] }]), isCode('USAGE'));
  assert.throws(() => model.forwardBatch([{ session: s, tokens: [5] }, { session: s, tokens: [6] }]), isCode('USAGE'));
  assert.throws(() => model.forwardBatch([{ session: s, tokens: [5] }, { session: t, tokens: ids(9, 1) }]), isCode('CONTEXT_OVERFLOW'));
  assert.throws(() => model.forwardBatch([{ session: s, tokens: [5] }, { session: t, tokens: [999999] }]), isCode('TOKEN_ID'));
  assert.equal(s.pos, 0);
  assert.equal(t.pos, 0);
});

test('forwardAsync: equals forward; an aborted pass throws CANCELLED and leaves the session as it was', opt, async () => {
  const model = await open(new JsBackend());
  const s1 = model.newSession({ ctxSize: 32 });
  const s2 = model.newSession({ ctxSize: 32 });
  assert.deepEqual(await model.forwardAsync(s1, ids(9, 3)), model.forward(s2, ids(9, 3)));
  const ac = new AbortController();
  const p = model.forwardAsync(s1, ids(4, 5), { signal: ac.signal });
  ac.abort();
  await assert.rejects(p, isCode('CANCELLED'));
  assert.equal(s1.pos, 9);
  // the scratch buffers are free again and the session continues correctly
  assert.deepEqual(model.forward(s1, [77]), model.forward(s2, [77]));
});

test('forwardAsync: two passes interleaved on one model do not share buffers', opt, async () => {
  const model = await open(new JsBackend());
  const [a, b, ra, rb] = [0, 1, 2, 3].map(() => model.newSession({ ctxSize: 32 }));
  const [la, lb] = await Promise.all([model.forwardAsync(a!, ids(8, 1)), model.forwardAsync(b!, ids(5, 2))]);
  assert.deepEqual(la, model.forward(ra!, ids(8, 1)));
  assert.deepEqual(lb, model.forward(rb!, ids(5, 2)));
});

test('generation: an abort ~100 ms into a prefill of several seconds (js) ends it with CANCELLED within a second', opt, async () => {
  const model = await open(new JsBackend());
  const tok = loadTokenizer(DEFAULT_MODEL);
  // what one synchronous 512-row pass (one prefill chunk) costs on this machine right now
  const t0 = performance.now();
  model.forward(model.newSession({ ctxSize: 512 }), ids(512, 7));
  const passMs = performance.now() - t0;
  const prompt = ids(1500, 6); // several seconds of prefill on js, three 512-row passes
  const ac = new AbortController();
  const gen = generate(model, tok, prompt, { ctxSize: 1600, maxTokens: 4, signal: ac.signal, temperature: 0 });
  // The timer can fire only when the pass pauses, so the latency counts from when it was due
  // (as a Ctrl-C counts from the key press, not from when its handler ran).
  const abortDue = performance.now() + 100;
  setTimeout(() => ac.abort(), 100);
  await assert.rejects(gen.text(), isCode('CANCELLED'));
  const latency = performance.now() - abortDue;
  console.log(`# stopped ${latency.toFixed(0)} ms after the abort; a 512-row pass takes ${passMs.toFixed(0)} ms`);
  // Without the abortable pass the 512-row pass in progress would finish first (all but the first
  // 100 ms of it); with it, the pass stops at its next pause (four a layer).
  assert.ok(latency < passMs * 0.75, `stopped ${latency.toFixed(0)} ms after the abort; one 512-row pass takes ${passMs.toFixed(0)} ms`);
  assert.ok(latency < 1000, `stopped ${latency.toFixed(0)} ms after the abort`);
  assert.equal(gen.stats?.finishReason, 'cancelled', 'a generation stopped in its prefill still has stats');
  assert.equal(gen.stats?.generatedTokens, 0);
});

test('llama run: Ctrl-C (SIGINT) during a long prefill on js stops it within a second, status 130', opt, async () => {
  const { spawn } = await import('node:child_process');
  const prompt = 'Once upon a time there was a little girl who liked to play in the park. '.repeat(100); // ~1700 tokens
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/llama.js'), 'run', '--backend', 'js', '-c', '2048', '-n', '4', '-p', prompt], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  // wait until the model is loaded and the prompt echoed (stdout shows it), then 300 ms into the prefill
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  await new Promise((r) => setTimeout(r, 300));
  const sent = performance.now();
  child.kill('SIGINT');
  const code = await exited;
  const took = performance.now() - sent;
  console.log(`# llama run stopped ${took.toFixed(0)} ms after SIGINT`);
  assert.equal(code, 130, stderr);
  assert.match(stderr, /stop: cancelled/);
  assert.ok(took < 1000, `exited ${took.toFixed(0)} ms after SIGINT`);
});
