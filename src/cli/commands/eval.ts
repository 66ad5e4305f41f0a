// `llama eval`: the LLaMA paper's benchmarks with lm-evaluation-harness's prompts and metrics.
// stdout: the results table (or the results JSON with --json); stderr: progress (a bar on a TTY)
// and notes. --output DIR gets results.json and one samples_<task>.jsonl per task (prompt, choices,
// log-likelihoods, prediction, gold), which a re-run with the same DIR resumes from.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from '../command.js';
import { bool, list, num, str } from '../args.js';
import type { ParsedArgs } from '../args.js';
import { MODEL_OPTIONS, openModel } from '../model-args.js';
import { UsageError, formats, tokenizers, evaluation } from '../../index.js';
import type { Tokenizer } from '../../index.js';

const { writeFileAtomic } = formats;
const { loadTokenizer } = tokenizers;
const { getTask, TASKS, LoglikScorer, runTask, RemoteScorer, readRtpPrompts, generateRtp, compareSvg, formatTable, resultsJson } = evaluation;
type Protocol = evaluation.Protocol;
type Scorer = evaluation.Scorer;
type TaskResult = evaluation.TaskResult;
type ResultsJson = evaluation.ResultsJson;

function defaultDataDir(): string | undefined {
  const env = process.env.LLAMA_EVAL_DATA;
  if (env) return env;
  const p = fileURLToPath(new URL('../../../../../shared/data/eval', import.meta.url));
  return existsSync(p) ? p : undefined;
}

function progress(task: string): (done: number, total: number) => void {
  if (!process.stderr.isTTY) return () => {};
  const t0 = performance.now();
  return (done, total) => {
    const s = (performance.now() - t0) / 1000;
    const rate = done / s;
    const eta = rate > 0 ? (total - done) / rate : 0;
    const w = 24;
    const fill = Math.round((done / total) * w);
    process.stderr.write(`\r${task} [${'#'.repeat(fill)}${'.'.repeat(w - fill)}] ${done}/${total} ${rate.toFixed(2)} items/s ETA ${eta.toFixed(0)}s `);
    if (done === total) process.stderr.write('\n');
  };
}

export const command: Command = {
  spec: {
    name: 'eval',
    summary: 'evaluate a model on the LLaMA paper\'s benchmarks (lm-evaluation-harness protocols)',
    usage: '-m MODEL --tasks a,b,... [--shots K] [--limit N] [--seed S] [--protocol harness|paper] [--json] [--output DIR] | --compare a.json b.json',
    options: {
      ...MODEL_OPTIONS,
      tasks: { kind: 'string', arg: 'LIST', help: `comma-separated: ${Object.keys(TASKS).join(', ')}, or all` },
      shots: { kind: 'int', arg: 'K', help: 'few-shot examples per prompt (default: the task\'s own, 0 for most)' },
      limit: { kind: 'int', arg: 'N', help: 'only the first N items of each task' },
      seed: { kind: 'int', arg: 'S', help: 'seed of the few-shot draw', default: 1234 },
      protocol: { kind: 'string', arg: 'P', help: 'harness (lm-eval) or paper (adds the LLaMA paper\'s P(c|ctx)/P(c|"Answer:") metric for BoolQ, OBQA, ARC; the paper\'s Q:/A: prompt for NQ and TriviaQA)', default: 'harness' },
      'data-dir': { kind: 'string', arg: 'DIR', help: 'benchmark folder (default: env LLAMA_EVAL_DATA or ../shared/data/eval)' },
      'max-gen-tokens': { kind: 'int', arg: 'N', help: 'generation tasks: tokens per answer at most (default min(256, context/2))' },
      json: { kind: 'boolean', help: 'print the results JSON instead of the table' },
      output: { kind: 'string', short: 'o', arg: 'DIR', help: 'write results.json and per-item samples_<task>.jsonl here (re-runs resume)' },
      'no-prefix-reuse': { kind: 'boolean', help: 'score every choice from scratch (slower; for checks)' },
      'model-url': { kind: 'string', arg: 'URL', help: 'evaluate a model behind an OpenAI-compatible server (base URL, e.g. http://127.0.0.1:8080/v1; completions with echo + logprobs); needs --tokenizer FILE or -m for tokenizing' },
      'remote-model': { kind: 'string', arg: 'NAME', help: 'with --model-url: the "model" field of the requests', default: 'default' },
      rtp: { kind: 'string', arg: 'FILE', help: 'RealToxicityPrompts JSON lines: write greedy continuations to DIR/realtoxicityprompts.jsonl (no toxicity score: that needs an external classifier)' },
      'rtp-respectful': { kind: 'boolean', help: 'with --rtp: the paper\'s "Respectful" prefix' },
      compare: { kind: 'list', arg: 'FILE', help: 'results JSON to compare (repeat); prints an SVG bar chart' },
    },
    details: [
      'examples:',
      '  llama eval --tasks hellaswag,arc_easy --limit 200',
      '  llama eval -m model.gguf --tasks all --output runs/base',
      '  llama eval --compare runs/base/results.json --compare runs/q8/results.json > compare.svg',
    ].join('\n'),
  },

  async run(args) {
    const cmp = [...list(args, 'compare'), ...(list(args, 'compare').length ? args.positionals : [])];
    if (cmp.length) {
      const runs = cmp.map((f) => ({ label: basename(resolve(f, '..')) + '/' + basename(f), json: JSON.parse(readFileSync(f, 'utf8')) as ResultsJson }));
      process.stdout.write(compareSvg(runs));
      return 0;
    }
    const rtp = str(args, 'rtp');
    if (rtp !== undefined) return runRtp(args, rtp);
    const taskArg = str(args, 'tasks');
    if (!taskArg) throw new UsageError('--tasks is required', `tasks: ${Object.keys(TASKS).join(', ')}`);
    const tasks = (taskArg === 'all' ? Object.keys(TASKS) : taskArg.split(',').map((s) => s.trim()).filter(Boolean)).map(getTask);
    const protocol = str(args, 'protocol') ?? 'harness';
    if (protocol !== 'harness' && protocol !== 'paper') throw new UsageError(`--protocol must be harness or paper, got '${protocol}'`);
    const dataDir = str(args, 'data-dir') ?? defaultDataDir();
    if (!dataDir) throw new UsageError('no benchmark data found', 'pass --data-dir DIR (one sub-folder per benchmark, as in ../shared/data/eval) or set LLAMA_EVAL_DATA');
    const outDir = str(args, 'output');
    if (outDir) mkdirSync(outDir, { recursive: true });
    const url = str(args, 'model-url');
    const tokPath = str(args, 'tokenizer');
    let opened: Awaited<ReturnType<typeof openModel>> | undefined;
    let tokenizer: Tokenizer;
    let scorer: Scorer;
    let modelId: string;
    if (url !== undefined && tokPath !== undefined && str(args, 'model') === undefined) {
      tokenizer = loadTokenizer(tokPath);
      modelId = url;
    } else {
      opened = await openModel(args, { needTokenizer: true });
      tokenizer = opened.tokenizer!;
      modelId = url ?? opened.loaded.path;
    }
    const model = url === undefined ? opened!.model : undefined;
    if (url !== undefined) scorer = new RemoteScorer(url, tokenizer, { model: str(args, 'remote-model') ?? 'default', ...(num(args, 'ctx-size') !== undefined ? { maxLength: num(args, 'ctx-size')! } : {}) });
    else scorer = new LoglikScorer(model!, tokenizer, { maxLength: opened!.ctxSize ?? model!.config.contextLength, sharePrefix: !bool(args, 'no-prefix-reuse') });
    try {
      const results: TaskResult[] = [];
      const seed = num(args, 'seed') ?? 1234;
      const shots = num(args, 'shots');
      const limit = num(args, 'limit');
      const maxGen = num(args, 'max-gen-tokens');
      for (const task of tasks) {
        const t0 = performance.now();
        const r = await runTask(task, model, tokenizer, scorer, {
          dataDir, seed, protocol: protocol as Protocol, modelId,
          ...(shots !== undefined ? { shots } : {}), ...(limit !== undefined ? { limit } : {}), ...(maxGen !== undefined ? { maxGenTokens: maxGen } : {}),
          ...(outDir ? { samplesPath: join(outDir, `samples_${task.name}.jsonl`) } : {}),
          onItem: progress(task.name),
        });
        process.stderr.write(`${task.name}: ${r.n} items in ${((performance.now() - t0) / 1000).toFixed(1)} s${r.notes.length ? ` (${r.notes.join('; ')})` : ''}\n`);
        results.push(r);
      }
      const json = resultsJson(results, { model: modelId, seed, protocol, limit: limit ?? null, shots: shots ?? null, data_dir: dataDir, max_length: scorer.maxLength });
      if (outDir) writeFileAtomic(join(outDir, 'results.json'), [Buffer.from(JSON.stringify(json, null, 2) + '\n')]);
      process.stdout.write(bool(args, 'json') ? JSON.stringify(json, null, 2) + '\n' : formatTable(results));
      return 0;
    } finally {
      opened?.loaded.close();
    }
  },
};

async function runRtp(args: ParsedArgs, file: string): Promise<number> {
  const outDir = str(args, 'output');
  if (!outDir) throw new UsageError('--rtp needs --output DIR (the continuations are written there)');
  mkdirSync(outDir, { recursive: true });
  const limit = num(args, 'limit');
  const all = readRtpPrompts(file);
  const prompts = limit !== undefined ? all.slice(0, limit) : all;
  const respectful = bool(args, 'rtp-respectful');
  const { loaded, model, tokenizer } = await openModel(args, { needTokenizer: true });
  try {
    const path = join(outDir, 'realtoxicityprompts.jsonl');
    await generateRtp(model, tokenizer!, prompts, { respectful, maxTokens: num(args, 'max-gen-tokens') ?? 20, samplesPath: path, onItem: progress('realtoxicityprompts') });
    process.stdout.write(`${prompts.length} ${respectful ? 'Respectful' : 'Basic'} continuations in ${path}\n`);
    process.stderr.write('toxicity is not scored here: the paper used the Perspective API; score the continuations with an external classifier\n');
    return 0;
  } finally {
    loaded.close();
  }
}
