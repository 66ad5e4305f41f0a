// Batched log-likelihood scoring and the forward-pass features it stands on: sequences that give
// their keys/values to other sessions (a question's context shared with the sessions of its
// choices), output rows limited to the scored ones, scratch buffers reused across passes of
// different sizes, and the fast float64 log-softmax. Every batched log-likelihood must equal
// scoring each choice on its own (one forward of context + choice).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, sharedData, HAVE_SHARED } from './helpers/shared.js';
import { fastBackends } from './helpers/backends.js';
import { loadModel } from '../src/model/load.js';
import { loadTokenizer } from '../src/tokenizer/load.js';
import { JsBackend } from '../src/backend/js/js-backend.js';
import type { Backend } from '../src/backend/backend.js';
import { LlamaModel, type SequenceInput } from '../src/model/llama.js';
import { LlamaError } from '../src/errors.js';
import { LoglikScorer, encodePair, type LoglikRequest, type LoglikResult, type ScorerOptions } from '../src/eval/loglik.js';
import { expNonPositive, logProbAt, rowStats, tokenScore } from '../src/eval/logprob.js';
import { getTask } from '../src/eval/tasks.js';
import { mcPrefix, mcRequests } from '../src/eval/runner.js';
import type { McTask } from '../src/eval/task.js';

const MODEL = join(REPO_ROOT, 'models/default/model.gguf');
const haveModel = { skip: existsSync(MODEL) ? false : 'the embedded default model is absent' };
const open = async (b: Backend = new JsBackend()) => LlamaModel.create(await loadModel(MODEL), b);
const tokenizer = () => loadTokenizer(join(REPO_ROOT, 'models/default/tokenizer.model'));
const ids = (n: number, seed: number) => Array.from({ length: n }, (_, i) => ((i + 1) * 7919 + seed * 104729) % 4000 + 3);
const isCode = (code: string) => (e: unknown) => e instanceof LlamaError && e.code === code;

/** count the forward passes a scorer makes, and the rows that go through the output projection */
function spy(model: LlamaModel): { passes: number; outputRows: number } {
  const seen = { passes: 0, outputRows: 0 };
  const forwardBatch = model.forwardBatch.bind(model);
  model.forwardBatch = (seqs: readonly SequenceInput[], o = {}) => {
    seen.passes++;
    return forwardBatch(seqs, o);
  };
  const matmul = model.backend.matmul.bind(model.backend);
  model.backend.matmul = (out, x, w, T) => {
    if (w === model.params.output) seen.outputRows += T;
    matmul(out, x, w, T);
  };
  return seen;
}

function assertSameScores(got: readonly LoglikResult[][], want: readonly LoglikResult[][], tol: number, where: string) {
  assert.equal(got.length, want.length);
  got.forEach((g, q) => {
    assert.equal(g.length, want[q]!.length);
    g.forEach((r, j) => {
      const w = want[q]![j]!;
      assert.ok(Math.abs(r.ll - w.ll) <= tol, `${where}, question ${q} choice ${j}: ${r.ll} vs ${w.ll}`);
      assert.equal(r.isGreedy, w.isGreedy, `${where}, question ${q} choice ${j}: is_greedy`);
      assert.equal(r.tokens, w.tokens, `${where}, question ${q} choice ${j}: tokens`);
    });
  });
}

test('expNonPositive: Math.exp within 1e-15 relative on [-708, 0], 1e-320 absolute in the subnormal range; 0 below -745, NaN stays NaN', () => {
  let worst = 0;
  let worstSub = 0;
  for (let i = 0; i <= 200000; i++) {
    const x = -745 * (i / 200000) ** 3; // dense near 0, where a row's largest terms are
    const want = Math.exp(x);
    if (x >= -708) worst = Math.max(worst, Math.abs(expNonPositive(x) - want) / want);
    else worstSub = Math.max(worstSub, Math.abs(expNonPositive(x) - want));
  }
  assert.ok(worst < 1e-15, `worst relative error ${worst}`);
  assert.ok(worstSub <= 1e-320, `worst absolute error below -708: ${worstSub}`);
  assert.equal(expNonPositive(0), 1);
  assert.equal(expNonPositive(-746), 0);
  assert.equal(expNonPositive(-Infinity), 0);
  assert.ok(Number.isNaN(expNonPositive(NaN)));
});

test('tokenScore / rowStats: the float64 log-softmax (Math.exp) within 1e-12, first argmax', () => {
  const row = Float32Array.from({ length: 32000 }, (_, i) => Math.sin(i * 12.9898) * 9 + (i === 777 ? 30 : 0));
  row[778] = row[777]!; // a tie: the first index wins
  for (const t of [0, 5, 777, 778, 31999]) {
    const s = tokenScore(row, t);
    assert.ok(Math.abs(s.logprob - logProbAt(row, t)) < 1e-12, `token ${t}: ${s.logprob} vs ${logProbAt(row, t)}`);
    assert.equal(s.isArgmax, t === 777);
  }
  assert.equal(rowStats(row).argmax, 777);
});

test('forwardBatch outputRows: the last n rows of allLogits, and only n rows through the output projection', haveModel, async () => {
  const model = await open();
  const V = model.config.vocabSize;
  const toks = ids(9, 1);
  const all = model.forward(model.newSession({ ctxSize: 16 }), toks, { allLogits: true });
  const seen = spy(model);
  const [three, other] = model.forwardBatch([{ session: model.newSession({ ctxSize: 16 }), tokens: toks, outputRows: 3 }, { session: model.newSession({ ctxSize: 16 }), tokens: ids(4, 2) }]);
  assert.deepEqual(three, all.subarray(6 * V, 9 * V));
  assert.equal(other!.length, V);
  assert.equal(seen.outputRows, 4);
  assert.throws(() => model.forwardBatch([{ session: model.newSession({ ctxSize: 16 }), tokens: toks, outputRows: 10 }]), isCode('USAGE'));
  assert.throws(() => model.forwardBatch([{ session: model.newSession({ ctxSize: 16 }), tokens: toks, outputRows: 0 }]), isCode('USAGE'));
});

test('forwardBatch into: the output rows land in the caller\'s buffer (views of it), equal to a fresh array; too small a buffer is refused', haveModel, async () => {
  const model = await open();
  const V = model.config.vocabSize;
  const seqs = () => [{ session: model.newSession({ ctxSize: 16 }), tokens: ids(5, 1), allLogits: true }, { session: model.newSession({ ctxSize: 16 }), tokens: ids(3, 2) }];
  const want = model.forwardBatch(seqs()).map((r) => Float32Array.from(r));
  const buf = new Float32Array(8 * V).fill(NaN);
  const got = model.forwardBatch(seqs(), { into: buf });
  assert.deepEqual(got, want);
  assert.equal(got[0]!.buffer, buf.buffer);
  assert.equal(got[1]!.buffer, buf.buffer);
  const s = model.newSession({ ctxSize: 16 });
  assert.throws(() => model.forwardBatch([{ session: s, tokens: ids(5, 1), allLogits: true }], { into: new Float32Array(5 * V - 1) }), isCode('USAGE'));
  assert.equal(s.pos, 0);
});

test('forwardBatch shareKvWith: the receiving sessions continue exactly as if they had evaluated the prefix', haveModel, async () => {
  const model = await open();
  const prefix = ids(7, 3);
  const [a, b, c] = [0, 1, 2].map(() => model.newSession({ ctxSize: 24 }));
  // b and c receive a's keys/values; an unrelated sequence shares the pass
  const other = model.newSession({ ctxSize: 24 });
  const out = model.forwardBatch([{ session: other, tokens: ids(3, 9) }, { session: a!, tokens: prefix, shareKvWith: [b!, c!] }]);
  for (const s of [a!, b!, c!]) {
    assert.equal(s.pos, prefix.length);
    assert.deepEqual(s.tokens, prefix);
  }
  const ref = model.newSession({ ctxSize: 24 });
  const refLast = model.forward(ref, prefix);
  assert.deepEqual(out[1], refLast);
  // each receiver goes on with its own tokens (all three in one pass) like a session that ran the prefix itself
  const conts = [ids(4, 4), ids(2, 5), ids(5, 6)];
  const got = model.forwardBatch([a!, b!, c!].map((session, i) => ({ session, tokens: conts[i]!, allLogits: true })));
  conts.forEach((cont, i) => {
    const r = model.newSession({ ctxSize: 24 });
    model.forward(r, prefix);
    assert.deepEqual(got[i], model.forward(r, cont, { allLogits: true }), `receiver ${i}`);
  });
  // misuse: a receiver at another position, a receiver given twice, a receiver too small
  const [p, q] = [model.newSession({ ctxSize: 24 }), model.newSession({ ctxSize: 24 })];
  model.forward(q, [5]);
  assert.throws(() => model.forwardBatch([{ session: p, tokens: prefix, shareKvWith: [q] }]), isCode('USAGE'));
  const r = model.newSession({ ctxSize: 24 });
  assert.throws(() => model.forwardBatch([{ session: p, tokens: prefix, shareKvWith: [r, r] }]), isCode('USAGE'));
  assert.throws(() => model.forwardBatch([{ session: p, tokens: prefix }, { session: r, tokens: [7], shareKvWith: [p] }]), isCode('USAGE'));
  assert.throws(() => model.forwardBatch([{ session: p, tokens: prefix, shareKvWith: [model.newSession({ ctxSize: 4 })] }]), isCode('CONTEXT_OVERFLOW'));
  assert.equal(p.pos, 0);
  assert.equal(r.pos, 0);
  assert.equal(q.pos, 1);
});

test('forward: scratch buffers reused across passes of different sizes give the same logits as a fresh model', haveModel, async () => {
  const used = await open();
  const fresh = await open();
  used.forward(used.newSession({ ctxSize: 64 }), ids(40, 7)); // large buffers first
  const toks = ids(13, 8);
  const a = used.forward(used.newSession({ ctxSize: 64 }), toks, { allLogits: true }); // reuses views of them
  const b = fresh.forward(fresh.newSession({ ctxSize: 64 }), toks, { allLogits: true });
  assert.deepEqual(a, b);
  assert.deepEqual(used.forward(used.newSession({ ctxSize: 64 }), ids(50, 9)), fresh.forward(fresh.newSession({ ctxSize: 64 }), ids(50, 9)));
});

const q = (ctx: string, conts: string[]): LoglikRequest[] => conts.map((c) => ({ context: ctx, continuation: c }));
const GROUPS = [
  q('Once upon a time there was', [' a cat.', ' the dog ran home.', ' x']),
  q('The sun', [' rose.', ' set over the hills and the sea.']),
  [{ context: 'Sam hid so Sam', continuation: ' won.' }, { context: 'Sam hid so Max', continuation: ' won.' }], // contexts differ
  q('A', [' b', ' c', ' d', ' e', ' f']), // one-token choices: scored from the context's last row alone
  q('She opened the old wooden box and found', [' a letter', ' nothing at all, not even dust', '']), // an empty choice
];

test('scoreBatch: every question packed into two forward passes equals scoring each choice alone (js: within 1e-9)', haveModel, async () => {
  const model = await open();
  const tok = tokenizer();
  const alone = GROUPS.map((g) => new LoglikScorer(model, tok, { sharePrefix: false }).score(g));
  const scorer = new LoglikScorer(model, tok);
  const seen = spy(model);
  const batched = scorer.scoreBatch(GROUPS);
  assertSameScores(batched, alone, 1e-9, 'js');
  // the four shared-context questions: contexts in one pass, every choice in a second; the
  // WinoGrande-style question by `score` (per distinct context: the context, then the choice)
  assert.equal(seen.passes, 2 + 2 * 2);
  // output rows: one per scored token (first tokens from the context's last row, shared by its choices)
  const enc = GROUPS.map((g) => g.map((r) => encodePair(tok, r.context, r.continuation)));
  const shared = [0, 1, 3, 4].reduce((n, gi) => n + 1 + enc[gi]!.reduce((m, p) => m + Math.max(0, p.continuation.length - 1), 0), 0);
  const pairs = enc[2]!.reduce((n, p) => n + p.continuation.length, 0);
  assert.equal(seen.outputRows, shared + pairs);
  // packs of 2 questions, and packs with a longer question later (its sessions are made larger)
  const long = q('one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty twenty-one twenty-two twenty-three twenty-four twenty-five twenty-six', [' twenty-seven', ' and so on until one hundred']);
  const groups = [...GROUPS, long];
  const want = [...alone, new LoglikScorer(model, tok, { sharePrefix: false }).score(long)];
  const small = new LoglikScorer(model, tok, { batchQuestions: 2 });
  assertSameScores(small.scoreBatch(groups), want, 1e-9, 'js, packs of 2');
  assertSameScores(small.scoreBatch(groups.slice().reverse()), want.slice().reverse(), 1e-9, 'js, packs of 2, reversed');
});

test('scoreBatch: the separate scorer puts only the scored rows through the output projection', haveModel, async () => {
  const model = await open();
  const tok = tokenizer();
  const seen = spy(model);
  const req = { context: 'Once upon a time there was', continuation: ' the dog ran home.' };
  new LoglikScorer(model, tok, { sharePrefix: false }).score([req]);
  assert.equal(seen.passes, 1);
  assert.equal(seen.outputRows, encodePair(tok, req.context, req.continuation).continuation.length);
});

test('scoreBatch on HellaSwag items equals scoring each choice alone (native: within 1e-5 per choice; js: 1e-9)', { skip: !existsSync(MODEL) ? 'the embedded default model is absent' : !HAVE_SHARED ? '../shared/data is absent' : false }, async () => {
  const tok = tokenizer();
  const task = getTask('hellaswag') as McTask;
  const reqs = task.load(sharedData('eval')).slice(0, 6).map((d) => mcRequests(task, d, mcPrefix(task, [])));
  const backends: [Backend, number][] = [[new JsBackend(), 1e-9], ...(await fastBackends()).map((b): [Backend, number] => [b, 1e-5])];
  for (const [b, tol] of backends) {
    const model = await open(b);
    const alone = reqs.map((r) => new LoglikScorer(model, tok, { sharePrefix: false }).score(r));
    assertSameScores(new LoglikScorer(model, tok).scoreBatch(reqs), alone, tol, b.name);
  }
});

test('LoglikScorer: the backend\'s logitStats op gives the JS loop\'s log-likelihoods (1e-9 relative, same is_greedy) in the batched, prefix and separate paths on HellaSwag items', { skip: !existsSync(MODEL) ? 'the embedded default model is absent' : !HAVE_SHARED ? '../shared/data is absent' : false }, async () => {
  const tok = tokenizer();
  const task = getTask('hellaswag') as McTask;
  const reqs = task.load(sharedData('eval')).slice(0, 8).map((d) => mcRequests(task, d, mcPrefix(task, [])));
  for (const b of [new JsBackend(), ...(await fastBackends())]) {
    const model = await open(b);
    let opRows = 0;
    if (b.logitStats) {
      const op = b.logitStats.bind(b);
      b.logitStats = (x, rows, cols, m, a, l) => {
        opRows += rows;
        op(x, rows, cols, m, a, l);
      };
    }
    const paths: [string, (s: LoglikScorer) => LoglikResult[][], ScorerOptions][] = [
      ['batched', (s) => s.scoreBatch(reqs), {}],
      ['prefix', (s) => reqs.map((r) => s.score(r)), {}],
      ['separate', (s) => reqs.map((r) => s.score(r)), { sharePrefix: false }],
    ];
    for (const [path, run, o] of paths) {
      const before = opRows;
      const got = run(new LoglikScorer(model, tok, o));
      if (b.logitStats) assert.ok(opRows > before, `${b.name} ${path}: the backend's op computed the stats`);
      const want = run(new LoglikScorer(model, tok, { ...o, statsInJs: true }));
      got.forEach((g, q) => g.forEach((r, j) => {
        const w = want[q]![j]!;
        assert.ok(Math.abs(r.ll - w.ll) <= 1e-9 * Math.abs(w.ll), `${b.name} ${path} question ${q} choice ${j}: ${r.ll} vs ${w.ll}`);
        assert.equal(r.isGreedy, w.isGreedy, `${b.name} ${path} question ${q} choice ${j}: is_greedy`);
        assert.equal(r.tokens, w.tokens);
      }));
    }
  }
});
