// Metrics on tiny known inputs (acc, acc_norm by characters, mc2, CrowS-Pairs, mean ± sample stderr,
// exact-match normalisation, GSM8K answer extraction), lm-eval's pair tokenization, and the
// prefix-sharing scorer against scoring each pair from scratch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { accNorm, accuracy, argmaxOf, exactMatch, mc2, meanStderr, normalizeForMatch, regexExtract, charLength } from '../src/eval/metrics.js';
import { getTask } from '../src/eval/tasks.js';
import { mcItemMetrics } from '../src/eval/runner.js';
import type { GenTask, McTask } from '../src/eval/task.js';
import { encodePair, LoglikScorer } from '../src/eval/loglik.js';
import { loadModel } from '../src/model/load.js';
import { loadTokenizer } from '../src/tokenizer/load.js';
import { JsBackend } from '../src/backend/js/js-backend.js';
import { LlamaModel } from '../src/model/llama.js';
import { REPO_ROOT } from './helpers/shared.js';

test('acc = argmax of summed log-likelihoods (first on ties); acc_norm divides by the choice\'s characters', () => {
  assert.equal(argmaxOf([-3, -1, -1]), 1);
  assert.equal(accuracy([-5, -4], 1), 1);
  assert.equal(accuracy([-5, -4], 0), 0);
  // raw: choice 1 wins; per character: -5/10 = -0.5 beats -4/2 = -2 → choice 0
  assert.equal(accNorm([-5, -4], ['abcdefghij', 'ab'], 0), 1);
  assert.equal(accNorm([-5, -4], ['abcdefghij', 'ab'], 1), 0);
  assert.equal(charLength('naïve ☃'), 7); // code points, like Python len
});

test('mc2: probability mass of the true answers (which come first) over all answers', () => {
  const lls = [Math.log(0.2), Math.log(0.1), Math.log(0.3), Math.log(0.4)];
  assert.ok(Math.abs(mc2(lls, [1, 1, 0, 0]) - 0.3) < 1e-12);
  assert.ok(Math.abs(mc2(lls, [1, 0, 0, 0]) - 0.2) < 1e-12);
});

test('crows_pairs item metrics: pct_stereotype = [ll(more) > ll(less)], likelihood_diff = |difference|', () => {
  const t = getTask('crows_pairs') as McTask;
  const doc = { id: 0, text: '', choices: ['a', 'b'], gold: 0 };
  assert.deepEqual(mcItemMetrics(t, doc, [-10, -12.5]), { likelihood_diff: 2.5, pct_stereotype: 1 });
  assert.deepEqual(mcItemMetrics(t, doc, [-13, -12.5]), { likelihood_diff: 0.5, pct_stereotype: 0 });
  const obqa = getTask('openbookqa') as McTask;
  // paper protocol: ll(c|ctx) − ll(c|"Answer:") picks choice 1 although raw ll prefers choice 0
  const m = mcItemMetrics(obqa, { id: 0, text: 'q', choices: ['aa', 'bb'], gold: 1 }, [-2, -3], [-1, -5]);
  assert.equal(m.acc, 0);
  assert.equal(m.acc_uncond, 1);
});

test('stderr = sample standard deviation / sqrt(n) (lm-eval mean_stderr)', () => {
  // [1,0,1,1]: mean .75, sample var = (3·.0625 + .5625)/3 = .25, stderr = .5/2 = .25
  assert.ok(Math.abs(meanStderr([1, 0, 1, 1]) - 0.25) < 1e-12);
  assert.ok(Number.isNaN(meanStderr([1])));
});

test('exact match: nq_open drops articles, case and punctuation; any target counts', () => {
  const nq = getTask('nq_open') as GenTask;
  assert.equal(normalizeForMatch('The Beatles!', nq.match), 'beatles');
  assert.equal(exactMatch('the beatles', ['The Beatles'], nq.match), 1);
  assert.equal(exactMatch('Paris, France', ['paris'], nq.match), 0);
  assert.equal(exactMatch('paris', ['London', 'Paris'], nq.match), 1);
  const tq = getTask('triviaqa') as GenTask;
  assert.equal(exactMatch('U.S.A', ['usa'], tq.match), 1);
  assert.equal(tq.filters[0]!.apply('  Mars'), 'Mars');
});

test('gsm8k: strict "#### N" and flexible last-number extraction, answers compared after the harness\'s regexes', () => {
  const g = getTask('gsm8k') as GenTask;
  const [strict, flex] = g.filters;
  assert.equal(strict!.apply('So 3+4=7.\n#### 1,234'), '1,234');
  assert.equal(strict!.apply('The answer is 7.'), '[invalid]');
  assert.equal(flex!.apply('He pays $12 then 30 more, total 42.'), '42.');
  assert.equal(regexExtract('no digits', '(-?[0-9]+)', -1), '[invalid]');
  const gold = 'He has 1000 + 234 = <<1000+234=1234>>1234.\n#### 1234';
  assert.equal(exactMatch('1,234', [gold], g.match), 1);
  assert.equal(exactMatch('$1234.', [gold], g.match), 1);
  assert.equal(exactMatch('1235', [gold], g.match), 0);
});

const MODEL = join(REPO_ROOT, 'models/default/model.gguf');
const haveModel = { skip: existsSync(MODEL) ? false : 'the embedded default model is absent' };

test('encodePair: trailing context spaces move to the continuation; continuation = whole[len(ctx):]; empty context = [BOS]', haveModel, async () => {
  const tok = loadTokenizer(join(REPO_ROOT, 'models/default/tokenizer.model'));
  const a = encodePair(tok, 'Question: why?\nAnswer: ', 'because');
  assert.deepEqual(a.context, tok.encode('Question: why?\nAnswer:'));
  assert.deepEqual([...a.context, ...a.continuation], tok.encode('Question: why?\nAnswer: because'));
  assert.equal(a.context[0], tok.bosId);
  const e = encodePair(tok, '', 'Hello there.');
  assert.deepEqual(e.context, [tok.bosId]);
  assert.deepEqual(e.continuation, tok.encode('Hello there.', { addBos: false }));
});

test('scorer: shared-prefix scoring equals scoring each pair from scratch; left truncation past max_length', haveModel, async () => {
  const tok = loadTokenizer(join(REPO_ROOT, 'models/default/tokenizer.model'));
  const model = await LlamaModel.create(await loadModel(MODEL), new JsBackend());
  const reqs = [' a cat.', ' the dog ran home.', ' x'].map((c) => ({ context: 'Once upon a time there was', continuation: c }));
  const shared = new LoglikScorer(model, tok).score(reqs);
  const alone = new LoglikScorer(model, tok, { sharePrefix: false }).score(reqs);
  for (let i = 0; i < reqs.length; i++) {
    assert.ok(Math.abs(shared[i]!.ll - alone[i]!.ll) < 1e-4, `${shared[i]!.ll} vs ${alone[i]!.ll}`);
    assert.equal(shared[i]!.isGreedy, alone[i]!.isGreedy);
    assert.ok(shared[i]!.ll < 0);
  }
  // max_length 8: the long context is cut from the left, the continuation still scored in full
  const long = [{ context: 'one two three four five six seven eight nine ten', continuation: ' eleven' }];
  const cut = new LoglikScorer(model, tok, { maxLength: 8 }).score(long)[0]!;
  const enc = encodePair(tok, long[0]!.context, long[0]!.continuation);
  assert.equal(cut.tokens, enc.continuation.length);
  assert.ok(Number.isFinite(cut.ll));
});

test('chance level: mean 1/choices for acc, mean share of true answers for mc2, 0.5 for CrowS-Pairs', async () => {
  const { chanceOf } = await import('../src/eval/runner.js');
  const arc = getTask('arc_easy') as McTask;
  assert.equal(chanceOf(arc, [{ id: 0, text: '', choices: ['a', 'b', 'c', 'd'], gold: 0 }, { id: 1, text: '', choices: ['a', 'b'], gold: 0 }]), (0.25 + 0.5) / 2);
  const mc2t = getTask('truthfulqa_mc2') as McTask;
  assert.equal(chanceOf(mc2t, [{ id: 0, text: '', choices: ['a', 'b', 'c', 'd'], gold: 0, labels: [1, 0, 0, 0] }]), 0.25);
  assert.equal(chanceOf(getTask('crows_pairs'), [{ id: 0, text: '', choices: ['a', 'b'], gold: 0 }]), 0.5);
  assert.equal(chanceOf(getTask('gsm8k'), []), 0);
});

test('scoreBatch (questions batched, each context once) equals scoring each question alone', haveModel, async () => {
  const tok = loadTokenizer(join(REPO_ROOT, 'models/default/tokenizer.model'));
  const model = await LlamaModel.create(await loadModel(MODEL), new JsBackend());
  const q = (ctx: string, conts: string[]) => conts.map((c) => ({ context: ctx, continuation: c }));
  const groups = [
    q('Once upon a time there was', [' a cat.', ' the dog ran home.', ' x']),
    q('The sun', [' rose.', ' set over the hills and the sea.']),
    // contexts differ (WinoGrande-style): scored one by one inside scoreBatch
    [{ context: 'Sam hid so Sam', continuation: ' won.' }, { context: 'Sam hid so Max', continuation: ' won.' }],
    q('A', [' b', ' c', ' d', ' e', ' f']),
  ];
  const scorer = new LoglikScorer(model, tok, { batchQuestions: 2 });
  const batched = scorer.scoreBatch(groups);
  const alone = groups.map((g) => new LoglikScorer(model, tok, { sharePrefix: false }).score(g));
  assert.equal(batched.length, groups.length);
  for (let g = 0; g < groups.length; g++) {
    assert.equal(batched[g]!.length, groups[g]!.length);
    for (let i = 0; i < groups[g]!.length; i++) {
      assert.ok(Math.abs(batched[g]![i]!.ll - alone[g]![i]!.ll) < 1e-4, `group ${g} choice ${i}: ${batched[g]![i]!.ll} vs ${alone[g]![i]!.ll}`);
      assert.equal(batched[g]![i]!.isGreedy, alone[g]![i]!.isGreedy);
      assert.equal(batched[g]![i]!.tokens, alone[g]![i]!.tokens);
    }
  }
});
