// HellaSwag scoring throughput (lm-eval formatting, 4 endings per item): several questions in batched
// forwards with each context evaluated once (scoreBatch), one question at a time with its context
// reused for every ending (KV prefix reuse), and every ending scored from scratch.
//   npm run build && node dist/bench/eval.js [--items N] [--threads 1,2] [--model PATH | --synthetic 110m]
// Prints one line per (model, threads, mode): items/s, and the speed-up of prefix reuse.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../src/model/load.js';
import { LlamaModel } from '../src/model/llama.js';
import { selectBackend } from '../src/backend/select.js';
import { loadTokenizer } from '../src/tokenizer/load.js';
import { writeSyntheticGguf, SYNTHETIC_TYPES } from '../src/bench/synthetic.js';
import { getTask } from '../src/eval/tasks.js';
import { mcPrefix, mcRequests } from '../src/eval/runner.js';
import { LoglikScorer } from '../src/eval/loglik.js';
import type { McTask } from '../src/eval/task.js';
import { sharedData, HAVE_SHARED, REPO_ROOT } from '../tests/helpers/shared.js';

function arg(name: string, def?: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : def;
}

async function main(): Promise<void> {
  if (!HAVE_SHARED) {
    process.stderr.write('bench/eval: ../shared/data is absent; nothing to measure\n');
    return;
  }
  const items = Number(arg('--items', '40'));
  const threads = arg('--threads', '1,2')!.split(',').map(Number);
  const backendName = arg('--backend', 'native')!;
  const tok = loadTokenizer(join(REPO_ROOT, 'models/default/tokenizer.model'));
  const task = getTask('hellaswag') as McTask;
  const docs = task.load(sharedData('eval')).slice(0, items);
  let tmp: string | undefined;
  const models: { label: string; path: string; items: number }[] = [];
  const synth = arg('--synthetic');
  const explicit = arg('--model');
  if (explicit) models.push({ label: explicit, path: explicit, items });
  else if (synth) {
    tmp = mkdtempSync(join(tmpdir(), 'bench-eval-'));
    const p = join(tmp, `synthetic-${synth}.gguf`);
    writeSyntheticGguf(p, synth, SYNTHETIC_TYPES[arg('--type', 'q8_0')!]!);
    models.push({ label: `synthetic-${synth} ${arg('--type', 'q8_0')} (default tokenizer's ids)`, path: p, items });
  } else models.push({ label: 'default model', path: join(REPO_ROOT, 'models/default/model.gguf'), items });
  try {
    for (const m of models) {
      for (const t of threads) {
        const model = await LlamaModel.create(await loadModel(m.path), await selectBackend(backendName, { threads: t }));
        const rate: Record<string, number> = {};
        const reqs = docs.slice(0, m.items).map((d) => mcRequests(task, d, mcPrefix(task, [])));
        // scorers (and their KV caches) are made and warmed before timing, as a long run amortizes them
        const batched = new LoglikScorer(model, tok);
        const prefix = new LoglikScorer(model, tok);
        const alone = new LoglikScorer(model, tok, { sharePrefix: false });
        batched.scoreBatch(reqs.slice(0, batched.batchQuestions));
        prefix.score(reqs[0]!);
        alone.score(reqs[0]!);
        const modes: [string, () => void][] = [
          ['batched + prefix', () => batched.scoreBatch(reqs)],
          ['prefix reuse', () => { for (const r of reqs) prefix.score(r); }],
          ['each choice alone', () => { for (const r of reqs) alone.score(r); }],
        ];
        for (const [mode, run] of modes) {
          const t0 = performance.now();
          run();
          rate[mode] = m.items / ((performance.now() - t0) / 1000);
        }
        for (const [mode, r] of Object.entries(rate)) process.stdout.write(`${m.label.padEnd(44)} ${backendName} t=${t}  ${mode.padEnd(18)} ${r.toFixed(2).padStart(8)} items/s\n`);
        process.stdout.write(`${m.label.padEnd(44)} ${backendName} t=${t}  speed-up vs each choice alone: batched ${(rate['batched + prefix']! / rate['each choice alone']!).toFixed(2)}x, prefix only ${(rate['prefix reuse']! / rate['each choice alone']!).toFixed(2)}x\n`);
      }
    }
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
