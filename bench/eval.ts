// HellaSwag log-likelihood scoring throughput (lm-eval formatting, 4 endings per item):
//   batched  — LoglikScorer.scoreBatch, what `llama eval` runs: questions packed into batched forwards,
//              each context evaluated once and shared (its keys/values) with the sessions of its endings;
//   separate — what a straightforward scorer does: one forward of context + ending per choice, the
//              output projection only at the rows whose next token is scored (sharePrefix: false);
//   prefix   — (optional, --modes) one question at a time, its context once, each ending on top of it.
// Both sides tokenize their requests and compute the same float64 log-softmax per scored token.
// The machine may be shared: the modes alternate within each run (ABBA order over runs), and the
// figures are medians over --runs; the ratio is the median of each run's batched/separate ratio.
//   npm run build && node dist/bench/eval.js [--items N] [--threads 1,2] [--runs 3] [--model PATH | --synthetic 110m [--type q8_0]] [--modes batched,separate,prefix]
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../src/model/load.js';
import { LlamaModel } from '../src/model/llama.js';
import { selectBackend } from '../src/backend/select.js';
import { loadTokenizer } from '../src/tokenizer/load.js';
import { writeSyntheticGguf, SYNTHETIC_TYPES } from '../src/bench/synthetic.js';
import { getTask } from '../src/eval/tasks.js';
import { mcPrefix, mcRequests } from '../src/eval/runner.js';
import { LoglikScorer, encodePair, type LoglikRequest } from '../src/eval/loglik.js';
import type { McTask } from '../src/eval/task.js';
import { sharedData, HAVE_SHARED, REPO_ROOT } from '../tests/helpers/shared.js';

function arg(name: string, def?: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : def;
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
  const modes = arg('--modes', 'batched,separate')!.split(',');
  const backendName = arg('--backend', 'native')!;
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
      const run: Record<string, () => void> = {
        batched: () => batched.scoreBatch(reqs),
        separate: () => { for (const r of reqs) separate.score(r); },
        prefix: () => { for (const r of reqs) prefix.score(r); },
      };
      // sessions made and code warmed before timing, as a long run amortizes them
      batched.scoreBatch(reqs.slice(0, batched.batchQuestions));
      separate.score(reqs[0]!);
      prefix.score(reqs[0]!);
      const rates: Record<string, number[]> = Object.fromEntries(modes.map((m) => [m, []]));
      const ratios: number[] = [];
      for (let k = 0; k < runs; k++) {
        const order = k % 2 === 0 ? modes : [...modes].reverse();
        const got: Record<string, number> = {};
        for (const m of order) {
          const t0 = performance.now();
          run[m]!();
          got[m] = reqs.length / ((performance.now() - t0) / 1000);
          rates[m]!.push(got[m]!);
        }
        if (got.batched && got.separate) ratios.push(got.batched / got.separate);
      }
      for (const m of modes) {
        const r = rates[m]!;
        process.stdout.write(`${label.padEnd(26)} ${backendName} t=${t}  ${m.padEnd(9)} ${median(r).toFixed(2).padStart(8)} items/s  (runs: ${r.map((x) => x.toFixed(1)).join(', ')})\n`);
      }
      if (ratios.length) process.stdout.write(`${label.padEnd(26)} ${backendName} t=${t}  batched / separate: ${median(ratios).toFixed(2)}x median  (runs: ${ratios.map((x) => x.toFixed(2)).join(', ')})\n`);
    }
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
  process.stdout.write(`load average at end: ${loadavg().map((x) => x.toFixed(1)).join(' ')}\n`);
}

await main();
