// Every sampling step on hand-made logits, and the seeded RNG against values computed
// independently (Python integers) from the xorshift64* definition in llama2.c's run.c.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/generate/rng.js';
import { Candidates, createSampler, dist, greedy, logitBias, minP, penalties, SamplerChain, temperature, topK, topP, typicalP, type Sampler } from '../src/generate/sampler.js';
import { StopMatcher } from '../src/generate/stop.js';

const ctx = { rng: new Rng(1) };
const live = (c: Candidates) => [...c.ids.subarray(0, c.n)];
/** logits whose softmax is exactly `probs` */
const fromProbs = (probs: number[]) => probs.map(Math.log);
function run(s: Sampler, logits: number[]): Candidates {
  const c = new Candidates(logits);
  s.apply(c, ctx);
  return c;
}

test('rng: xorshift64* stream equals llama2.c run.c for seed 133742', () => {
  const r = new Rng(133742);
  assert.deepEqual([r.nextU32(), r.nextU32(), r.nextU32()], [3033531262, 2674377904, 2312864567]);
  const f = new Rng(133742).nextFloat();
  assert.equal(f, Math.fround((3033531262 >>> 8) / 16777216));
  assert.ok(new Rng(0).nextU32() !== 0, 'seed 0 must not be the stuck all-zero state');
});

test('greedy picks the largest logit, lowest id on ties', () => {
  const c = run(greedy(), [0.1, 2, -1, 2]);
  assert.equal(c.selected, 1);
});

test('temperature divides logits; temperature 0 keeps only the best token', () => {
  const c = run(temperature(2), [2, -4, 1]);
  assert.deepEqual([...c.logits.subarray(0, 3)], [1, -2, 0.5]);
  const g = run(temperature(0), [2, 5, 1]);
  assert.deepEqual(live(g), [1]);
});

test('top-k keeps the k most likely, best first, ties to the lower id (heap selection = full sort)', () => {
  const big = Array.from({ length: 5000 }, (_, i) => Math.round(Math.sin(i * 7.31) * 50) / 10);
  const byRank = Array.from({ length: 5000 }, (_, i) => i).sort((a, b) => big[b]! - big[a]! || a - b);
  for (const k of [1, 7, 64, 4999]) assert.deepEqual(live(run(topK(k), big)), byRank.slice(0, k), `k=${k}`);
  const wide = live(run(topP(0.999), big));
  assert.deepEqual(wide, byRank.slice(0, wide.length), 'top-p over a large vocabulary widens its window correctly');
  assert.ok(wide.length > 1000);
  assert.deepEqual(live(run(topK(2), [0.1, 3, 2, -1])), [1, 2]);
  assert.deepEqual(live(run(topK(0), [0.1, 3, 2])).length, 3, 'k = 0 is off');
});

test('a chain reuses its candidates: each row starts from the whole vocabulary, as fresh candidates would', () => {
  // top-k narrows (and reorders) the first row's candidates; the next rows must not see that
  const chain = new SamplerChain([topK(2), greedy()]);
  assert.equal(chain.sample(new Float32Array([0, 5, 4, 1])), 1);
  assert.equal(chain.sample(new Float32Array([9, 5, 4, 1])), 0);
  assert.equal(chain.sample(new Float32Array([0, 1, 2, 3, 4, 8])), 5, 'a longer row grows the arrays');
  assert.equal(chain.sample([7, 1]), 0, 'a shorter (plain array) row');
  // and a seeded dist chain draws the same sequence as one that builds fresh candidates each row
  const rows = Array.from({ length: 20 }, (_, r) => new Float32Array(50).map((_, i) => Math.sin(i * 7 + r * 3) * 4));
  const reused = createSampler({ seed: 42, temperature: 0.9, topK: 10, topP: 0.9 });
  const fresh = createSampler({ seed: 42, temperature: 0.9, topK: 10, topP: 0.9 });
  const freshSample = (logits: Float32Array) => {
    const c = new Candidates(logits);
    for (const s of fresh.samplers) s.apply(c, fresh);
    return c.selected;
  };
  assert.deepEqual(rows.map((l) => reused.sample(l)), rows.map(freshSample));
});

test('top-p keeps the token that crosses p (Meta sample_top_p)', () => {
  const logits = fromProbs([0.15, 0.5, 0.05, 0.3]);
  assert.deepEqual(live(run(topP(0.7), logits)), [1, 3], '0.5 < 0.7, 0.5+0.3 crosses: both kept');
  assert.deepEqual(live(run(topP(0.49), logits)), [1], 'the first token alone crosses 0.49');
  assert.deepEqual(live(run(topP(0.81), logits)), [1, 3, 0]);
  assert.equal(run(topP(1), logits).n, 4);
  assert.deepEqual(live(run(topP(0.1), [0, 0, 0, 1e-9])), [3], 'p below 1/n on a flat distribution keeps the best token');
});

test('min-p keeps tokens with p >= minP * p_max', () => {
  const logits = fromProbs([0.15, 0.5, 0.05, 0.3]);
  assert.deepEqual(live(run(minP(0.2), logits)), [0, 1, 3], 'threshold 0.1 (order kept)');
  assert.deepEqual(live(run(minP(0.7), logits)), [1], 'threshold 0.35');
});

test('typical-p keeps the most typical tokens until their mass exceeds p', () => {
  // p = [.5, .3, .15, .05]: H = 1.1421; |-ln p - H| = .449, .062, .755, 1.853 -> order 1, 0, 2, 3
  const logits = fromProbs([0.5, 0.3, 0.15, 0.05]);
  assert.deepEqual(live(run(typicalP(0.5), logits)), [1, 0]);
  assert.deepEqual(live(run(typicalP(0.25), logits)), [1]);
  assert.deepEqual(live(run(typicalP(0.9), logits)), [1, 0, 2]);
});

test('penalties: repeat divides positive / multiplies negative logits, frequency and presence subtract, window forgets', () => {
  const p = penalties({ window: 3, repeat: 2, frequency: 0.5, presence: 0.25 });
  for (const t of [0, 1, 1]) p.accept!(t);
  const c = run(p, [1, -1, 3, 0.5]);
  assert.deepEqual([...c.logits.subarray(0, 4)], [1 / 2 - 0.5 - 0.25, -1 * 2 - 2 * 0.5 - 0.25, 3, 0.5]);
  p.accept!(2); // window of 3: token 0 drops out
  const d = run(p, [1, -1, 3, 0.5]);
  assert.equal(d.logits[0], 1);
  assert.equal(d.logits[2], 3 / 2 - 0.5 - 0.25);
  p.reset!();
  assert.deepEqual([...run(p, [1, -1, 3, 0.5]).logits.subarray(0, 4)], [1, -1, 3, 0.5]);
});

test('logit bias shifts and bans tokens', () => {
  const chain = new SamplerChain([logitBias({ 1: -Infinity, 2: 0.5 }), greedy()]);
  assert.equal(chain.sample([0, 3, 2.6]), 2);
  assert.equal(new SamplerChain([logitBias(new Map([[0, 10]])), greedy()]).sample([0, 3, 2.6]), 0);
});

test('dist draws in proportion to the probabilities, reproducibly for a seed', () => {
  const probs = [0.1, 0.6, 0.3];
  const chain = new SamplerChain([dist()], 42);
  const counts = [0, 0, 0];
  const draws = 20000;
  const seq: number[] = [];
  for (let i = 0; i < draws; i++) {
    const t = chain.sample(fromProbs(probs));
    counts[t]!++;
    if (i < 50) seq.push(t);
  }
  for (let i = 0; i < 3; i++) assert.ok(Math.abs(counts[i]! / draws - probs[i]!) < 0.015, `token ${i}: ${counts[i]! / draws}`);
  const again = new SamplerChain([dist()], 42);
  assert.deepEqual(Array.from({ length: 50 }, () => again.sample(fromProbs(probs))), seq);
  const other = new SamplerChain([dist()], 43);
  assert.notDeepEqual(Array.from({ length: 50 }, () => other.sample(fromProbs(probs))), seq);
});

test('createSampler: temperature 0 is greedy whatever the seed', () => {
  const logits = [0.3, 0.31, 0.29];
  for (const seed of [1, 2, 3]) assert.equal(createSampler({ temperature: 0, seed }).sample(logits), 1);
  const hot = createSampler({ temperature: 1, topK: 0, topP: 1, minP: 0, seed: 7 });
  const seen = new Set(Array.from({ length: 60 }, () => hot.sample(logits)));
  assert.equal(seen.size, 3, 'sampling at temperature 1 reaches every token');
});

test('stop strings: held back while they may still match, never emitted, even split across pushes', () => {
  const m = new StopMatcher(['</s>', 'STOP']);
  assert.deepEqual(m.push('hello <'), { text: 'hello ', stopped: false });
  assert.deepEqual(m.push('/'), { text: '', stopped: false });
  assert.deepEqual(m.push('s> tail'), { text: '', stopped: true, stop: '</s>' });
  assert.equal(m.flush(), '');
  const n = new StopMatcher(['STOP']);
  assert.equal(n.push('ST').text, '');
  assert.equal(n.push('ART').text, 'START', 'a prefix that stops matching is released');
  assert.equal(n.push('S').text, '');
  assert.equal(n.flush(), 'S', 'held text is emitted at the end');
});
