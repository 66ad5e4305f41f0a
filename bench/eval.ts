// HellaSwag log-likelihood scoring throughput (lm-eval formatting, 4 endings per item):
//   batched  — LoglikScorer.scoreBatch, what `llama eval` runs: questions packed into batched forwards,
//              each context evaluated once and shared (its keys/values) with the sessions of its endings;
//   separate — what a straightforward scorer does: one forward of context + ending per choice, the
//              output projection only at the rows whose next token is scored (sharePrefix: false);
//   separate-all — what lm-evaluation-harness's HF model does for each request
//              (lm_eval/models/huggingface.py HFLM._loglikelihood_tokens): one forward of
//              (context + ending)[-(max_length+1):][:-1] per choice with logits at EVERY position,
//              log_softmax over the whole vocabulary at every position (F.log_softmax(..., dim=-1),
//              materialized as torch does: here a float32 row x − max − log Σ exp(x − max) per
//              position), then the ending's slice [inplen − contlen, inplen) is read: per row the
//              argmax (is_greedy = all equal the ending) and the ending token's log-probability,
//              summed. (Its batching pads requests to one length; one request per forward here.)
//              Its log-likelihoods are the other modes' (checked at warm-up, to float rounding).
//   prefix   — (optional, --modes) one question at a time, its context once, each ending on top of it.
// Every mode tokenizes its requests and computes the float64 log-softmax statistics of each row it
// reads with the same backend op (logitStats). `separate` is the stronger baseline; the issue's
// target ("batched beats scoring each choice separately by >= 2x") is measured against it.
// The machine may be shared: the modes alternate within each run (ABBA order over runs), and the
// figures are medians over --runs; each ratio is the median of the runs' ratios.
//   npm run build && node dist/bench/eval.js [--items N] [--threads 1,2] [--runs 3] [--model PATH | --synthetic 110m [--type q8_0]] [--modes batched,separate,separate-all,prefix] [--tune panel=0,attnp=0]
// --tune: the native addon's A/B switches (setTuning, src/backend/native/c/addon.c), e.g. panel=0 and
// attnp=0 put the prefill matmuls and attention back on the general kernels.
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../src/model/load.js';
import { LlamaModel } from '../src/model/llama.js';
import { selectBackend } from '../src/backend/select.js';
import { loadAddon } from '../src/backend/native/addon.js';
import { loadTokenizer } from '../src/tokenizer/load.js';
import { writeSyntheticGguf, SYNTHETIC_TYPES } from '../src/bench/synthetic.js';
import { getTask } from '../src/eval/tasks.js';
import { mcPrefix, mcRequests } from '../src/eval/runner.js';
import { LoglikScorer, encodePair, type LoglikRequest, type LoglikResult } from '../src/eval/loglik.js';
import { RowStatsBatch } from '../src/eval/logprob.js';
import type { Session } from '../src/model/kv-cache.js';
import type { McTask } from '../src/eval/task.js';
import { sharedData, HAVE_SHARED, REPO_ROOT } from '../tests/helpers/shared.js';

function arg(name: string, def?: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : def;
}

/**
 * The HF model's way (see the top): each (context, ending) pair alone, logits and a full
 * log-softmax at every input position, then the ending's rows read. Buffers are reused across calls.
 */
class SeparateAllScorer {
  private readonly session: Session;
  private readonly stats: RowStatsBatch;
  private logits = new Float32Array(0);
  private logp = new Float32Array(0);

  constructor(private readonly model: LlamaModel, private readonly tok: ReturnType<typeof loadTokenizer>, private readonly maxLength = model.config.contextLength) {
    this.session = model.newSession({ ctxSize: maxLength });
    this.stats = new RowStatsBatch(model.backend);
  }

  score(requests: readonly LoglikRequest[]): LoglikResult[] {
    const V = this.model.config.vocabSize;
    return requests.map((r) => {
      const p = encodePair(this.tok, r.context, r.continuation);
      const inp = [...p.context, ...p.continuation].slice(-(this.maxLength + 1)).slice(0, -1);
      const contlen = Math.min(p.continuation.length, inp.length);
      if (contlen === 0) return { ll: 0, isGreedy: true, tokens: 0 };
      const n = inp.length;
      if (this.logits.length < n * V) {
        this.logits = new Float32Array(n * V);
        this.logp = new Float32Array(n * V);
      }
      this.session.reset();
      const x = this.model.forward(this.session, inp, { allLogits: true, into: this.logits }); // (n, V)
      const st = this.stats.compute(x, n, V);
      for (let row = 0; row < n; row++) { // log_softmax(dim=-1) at every position
        const lse = st.max[row]! + st.logSum[row]!;
        for (let i = row * V, end = i + V; i < end; i++) this.logp[i] = x[i]! - lse;
      }
      const cont = p.continuation.slice(-contlen);
      let ll = 0;
      let greedy = true;
      for (let j = 0; j < contlen; j++) {
        const row = n - contlen + j;
        ll += this.logp[row * V + cont[j]!]!;
        if (st.argmax[row] !== cont[j]) greedy = false; // the argmax of log_softmax = the logits' (first) argmax
      }
      return { ll, isGreedy: greedy, tokens: contlen };
    });
  }
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  if (!HAVE_SHARED) {
    process.stderr.write('bench/eval: ../shared/data is absent; nothing to measure\n');
    return;
  }
  const items = Number(arg('--items', '40'));
  const runs = Number(arg('--runs', '3'));
  const threads = arg('--threads', '1,2')!.split(',').map(Number);
  const modes = arg('--modes', 'batched,separate,separate-all')!.split(',');
  const backendName = arg('--backend', 'native')!;
  const tune = arg('--tune', '')!;
  for (const kv of tune ? tune.split(',') : []) {
    const [k, v] = kv.split('=');
    (loadAddon().addon as unknown as { setTuning(name: string, v: number): void }).setTuning(k!, Number(v));
  }
  if (tune) process.stdout.write(`native tuning: ${tune}\n`);
  const tok = loadTokenizer(join(REPO_ROOT, 'models/default/tokenizer.model'));
  const task = getTask('hellaswag') as McTask;
  const docs = task.load(sharedData('eval')).slice(0, items);
  const reqs: LoglikRequest[][] = docs.map((d) => mcRequests(task, d, mcPrefix(task, [])));
  // where the work is: tokens of the shared context vs the endings
  let ctxTok = 0;
  let endTok = 0;
  for (const r of reqs) {
    const enc = r.map((q) => encodePair(tok, q.context, q.continuation));
    ctxTok += enc[0]!.context.length;
    for (const p of enc) endTok += p.continuation.length;
  }
  process.stdout.write(`HellaSwag, ${reqs.length} items: ${(ctxTok / reqs.length).toFixed(1)} context tokens + 4 endings of ${(endTok / reqs.length / 4).toFixed(1)} tokens per item (default tokenizer)\n`);
  process.stdout.write(`load average at start: ${loadavg().map((x) => x.toFixed(1)).join(' ')} (${runs} runs per figure, modes alternating)\n`);
  let tmp: string | undefined;
  let label = 'default model (F16)';
  let path = join(REPO_ROOT, 'models/default/model.gguf');
  const synth = arg('--synthetic');
  const explicit = arg('--model');
  if (explicit) [label, path] = [explicit, explicit];
  else if (synth) {
    const type = arg('--type', 'q8_0')!;
    tmp = mkdtempSync(join(tmpdir(), 'bench-eval-'));
    path = join(tmp, `synthetic-${synth}.gguf`);
    writeSyntheticGguf(path, synth, SYNTHETIC_TYPES[type]!);
    label = `synthetic-${synth} ${type.toUpperCase()}`;
  }
  try {
    for (const t of threads) {
      const model = await LlamaModel.create(await loadModel(path), await selectBackend(backendName, { threads: t }));
      const batched = new LoglikScorer(model, tok);
      const prefix = new LoglikScorer(model, tok);
      const separate = new LoglikScorer(model, tok, { sharePrefix: false });
      const separateAll = new SeparateAllScorer(model, tok);
      const run: Record<string, () => void> = {
        batched: () => batched.scoreBatch(reqs),
        separate: () => { for (const r of reqs) separate.score(r); },
        'separate-all': () => { for (const r of reqs) separateAll.score(r); },
        prefix: () => { for (const r of reqs) prefix.score(r); },
      };
      for (const m of modes) if (!run[m]) throw new Error(`unknown mode ${m} (batched, separate, separate-all, prefix)`);
      // sessions made and code warmed before timing, as a long run amortizes them; the modes agree
      // (to rounding: kernels are picked by batch size; on the synthetic 110M Q8_0 model the modes
      // differ by up to ~1e-3 relative, as before this bench's kernels, its random weights amplifying
      // the int8 activation paths' differences — a wrong row or slice would be off by far more)
      const warm = reqs.slice(0, batched.batchQuestions);
      const want = batched.scoreBatch(warm);
      for (const [m, got] of [['separate', warm.map((r) => separate.score(r))], ['separate-all', warm.map((r) => separateAll.score(r))], ['prefix', warm.map((r) => prefix.score(r))]] as const)
        got.forEach((g, q) => g.forEach((r, j) => {
          const w = want[q]![j]!;
          if (!(Math.abs(r.ll - w.ll) <= 1e-2 * Math.max(1, Math.abs(w.ll))) || r.isGreedy !== w.isGreedy) throw new Error(`${m} disagrees with batched on item ${q} choice ${j}: ${r.ll} vs ${w.ll}`);
        }));
      const rates: Record<string, number[]> = Object.fromEntries(modes.map((m) => [m, []]));
      const ratios: Record<string, number[]> = { separate: [], 'separate-all': [] };
      for (let k = 0; k < runs; k++) {
        const order = k % 2 === 0 ? modes : [...modes].reverse();
        const got: Record<string, number> = {};
        for (const m of order) {
          const t0 = performance.now();
          run[m]!();
          got[m] = reqs.length / ((performance.now() - t0) / 1000);
          rates[m]!.push(got[m]!);
        }
        for (const base of ['separate', 'separate-all']) if (got.batched && got[base]) ratios[base]!.push(got.batched / got[base]!);
      }
      for (const m of modes) {
        const r = rates[m]!;
        process.stdout.write(`${label.padEnd(26)} ${backendName} t=${t}  ${m.padEnd(12)} ${median(r).toFixed(2).padStart(8)} items/s  (runs: ${r.map((x) => x.toFixed(1)).join(', ')})\n`);
      }
      for (const [base, rs] of Object.entries(ratios))
        if (rs.length) process.stdout.write(`${label.padEnd(26)} ${backendName} t=${t}  batched / ${base}: ${median(rs).toFixed(2)}x median  (runs: ${rs.map((x) => x.toFixed(2)).join(', ')})\n`);
    }
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
  process.stdout.write(`load average at end: ${loadavg().map((x) => x.toFixed(1)).join(' ')}\n`);
}

await main();
