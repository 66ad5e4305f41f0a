// llama.cpp's perplexity method against a direct float64 computation of the same definition (each
// scored token's probability from a separate forward over its own prefix), the KL base file format,
// and llama.cpp's HellaSwag file format and scoring.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { needsShared, sharedData } from './helpers/shared.js';
import { loadModel } from '../src/model/load.js';
import { JsBackend } from '../src/backend/js/js-backend.js';
import { LlamaModel } from '../src/model/llama.js';
import { computePerplexity, promptFromFile } from '../src/eval/perplexity.js';
import { KlBaseWriter, readKlBase, compareWithBase, quantizeLogProbs, recordWords } from '../src/eval/kl-divergence.js';
import { parseHellaswagLlamaCpp, scoreEndingsSharedPrefix } from '../src/eval/hellaswag-lcpp.js';
import { LlamaError } from '../src/errors.js';
import { tempDir } from './helpers/tmp.js';

const opt = needsShared('golden', 'llama1-tiny');
let cached: LlamaModel | undefined;
async function tiny(): Promise<LlamaModel> {
  cached ??= await LlamaModel.create(await loadModel(sharedData('golden', 'llama1-tiny')), new JsBackend());
  return cached;
}

/** log p(tokens[p+1] | tokens[0..p]) from a fresh forward over the prefix alone, in float64 */
function directLogProb(model: LlamaModel, prefix: number[], next: number): number {
  const s = model.newSession({ ctxSize: prefix.length });
  const row = model.forward(s, prefix);
  let max = -Infinity;
  for (const v of row) max = Math.max(max, v);
  let sum = 0;
  for (const v of row) sum += Math.exp(v - max);
  return row[next]! - max - Math.log(sum);
}

function tokenStream(n: number, vocab: number): number[] {
  const out: number[] = [];
  let x = 12345;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    out.push(3 + (x % (vocab - 3)));
  }
  return out;
}

test('perplexity: chunks of n_ctx, BOS replaces each chunk\'s first token, second half scored, llama.cpp\'s ± formula', opt, async () => {
  const model = await tiny();
  const nCtx = 10;
  const tokens = tokenStream(37, model.config.vocabSize); // 3 full chunks, 7 tail tokens dropped
  const bos = 1;
  const r = computePerplexity(model, tokens, { nCtx, nBatch: 4, bosId: bos });
  const nlls: number[] = [];
  for (let c = 0; c < 3; c++) {
    const chunk = tokens.slice(c * nCtx, (c + 1) * nCtx);
    chunk[0] = bos;
    for (let p = nCtx / 2; p <= nCtx - 2; p++) nlls.push(-directLogProb(model, chunk.slice(0, p + 1), chunk[p + 1]!));
  }
  assert.equal(r.count, 12); // 3 chunks × (10 − 5 − 1)
  assert.equal(r.chunks, 3);
  const mean = nlls.reduce((a, b) => a + b, 0) / nlls.length;
  const mean2 = nlls.reduce((a, b) => a + b * b, 0) / nlls.length;
  assert.ok(Math.abs(r.ppl - Math.exp(mean)) / Math.exp(mean) < 1e-5, `${r.ppl} vs ${Math.exp(mean)}`);
  const err = Math.sqrt((mean2 - mean * mean) / (nlls.length - 1)) * Math.exp(mean);
  assert.ok(Math.abs(r.pplError - err) / err < 1e-4, `${r.pplError} vs ${err}`);
  assert.equal(r.running.length, 3);
  assert.equal(r.running[2], r.ppl);
  // the batch size does not change the result
  const r2 = computePerplexity(model, tokens, { nCtx, nBatch: 10, bosId: bos });
  assert.ok(Math.abs(r2.ppl - r.ppl) / r.ppl < 1e-5);
  // --chunks 1
  const r1 = computePerplexity(model, tokens, { nCtx, nChunks: 1, bosId: bos });
  assert.equal(r1.count, 4);
  assert.equal(r1.ppl, r.running[0]);
});

test('perplexity: fewer than 2·n_ctx tokens is a DATA error; -f drops one trailing newline', opt, async () => {
  const model = await tiny();
  assert.throws(() => computePerplexity(model, tokenStream(19, 100), { nCtx: 10 }), (e: unknown) => e instanceof LlamaError && e.code === 'DATA' && /at least 20 tokens/.test(e.message));
  assert.equal(promptFromFile('a\nb\n\n'), 'a\nb\n');
  assert.equal(promptFromFile('abc'), 'abc');
});

test('KL base file: quantized log-probs read back within scale/2; a model compared with itself has KL≈0 and 100% same top', opt, async () => {
  const model = await tiny();
  const V = model.config.vocabSize;
  const row = Float32Array.from({ length: V }, (_, i) => Math.sin(i) * 5);
  const rec = quantizeLogProbs(row, V);
  assert.equal(rec.length, recordWords(V));
  const [scale, minLp] = new Float32Array(rec.buffer, 0, 2);
  let max = -Infinity;
  for (const v of row) max = Math.max(max, v);
  let sum = 0;
  for (const v of row) sum += Math.exp(v - max);
  const lse = max + Math.log(sum);
  const top = row.indexOf(max);
  assert.ok(Math.abs(scale! * rec[4 + top]! + minLp! - (max - lse)) <= scale! / 2 + 1e-5);

  const dir = tempDir('eval-kld-');
  try {
    const path = join(dir, 'base.kld');
    const nCtx = 8;
    const tokens = tokenStream(16, V);
    const w = new KlBaseWriter(path, nCtx, V, 2, tokens);
    const r = computePerplexity(model, tokens, { nCtx, bosId: 1, onScoredRow: (row) => w.addRow(row) });
    w.finish();
    const base = readKlBase(path);
    assert.equal(base.nCtx, nCtx);
    assert.equal(base.nChunk, 2);
    assert.deepEqual(Array.from(base.tokens), tokens);
    const k = compareWithBase(model, base, { bosId: 1 });
    assert.equal(k.summary.positions, r.count);
    assert.ok(Math.abs(k.summary.meanKld) < 1e-3, `KLD ${k.summary.meanKld}`);
    assert.equal(k.summary.sameTop, 1);
    assert.ok(Math.abs(k.summary.ppl - r.ppl) / r.ppl < 1e-6);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('HellaSwag (llama.cpp format): 6 lines per task; ending score = mean log-prob after the shared prefix', opt, async () => {
  const tasks = parseHellaswagLlamaCpp('Ctx: a b\n2\ne0\ne1\ne2\ne3\n');
  assert.deepEqual(tasks, [{ context: 'Ctx: a b', gold: 2, endings: ['e0', 'e1', 'e2', 'e3'] }]);
  assert.throws(() => parseHellaswagLlamaCpp('x\n1\n'), (e: unknown) => e instanceof LlamaError && e.code === 'DATA');
  const model = await tiny();
  const seqs = [[1, 5, 6, 7, 8], [1, 5, 6, 9], [1, 5, 10, 11, 12, 13], [1, 5, 6, 7, 14]];
  const scores = scoreEndingsSharedPrefix(model, seqs);
  // common prefix = [1, 5] (2 tokens); direct: mean over j ≥ 2 of log p(s[j] | s[0..j-1])
  for (let s = 0; s < 4; s++) {
    const q = seqs[s]!;
    let lp = 0;
    for (let j = 2; j < q.length; j++) lp += directLogProb(model, q.slice(0, j), q[j]!);
    assert.ok(Math.abs(scores[s]! - lp / (q.length - 2)) < 1e-4, `ending ${s}: ${scores[s]} vs ${lp / (q.length - 2)}`);
  }
});
