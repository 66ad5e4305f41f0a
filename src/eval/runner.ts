// Runs one task over its docs: builds each doc's prompt (description + few-shot examples + text, as
// lm-eval's fewshot_context does), scores or generates, computes per-item metrics, appends one JSON
// line per item to the samples file (resumable), and aggregates (mean ± sample stderr).
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import type { LlamaModel } from '../model/llama.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { generate } from '../generate/generate.js';
import { LlamaError } from '../errors.js';
import type { LoglikRequest, LoglikResult } from './loglik.js';
import { accNorm, accuracy, argmaxOf, exactMatch, mc2, mean, meanStderr } from './metrics.js';
import { SeededRandom } from './rng.js';
import type { GenDoc, GenTask, McDoc, McTask, Task } from './task.js';

export type Protocol = 'harness' | 'paper';

/** What scores requests: the local LoglikScorer, or a RemoteScorer behind --model-url. */
export interface Scorer {
  readonly maxLength: number;
  score(requests: readonly LoglikRequest[]): LoglikResult[] | Promise<LoglikResult[]>;
  /** remote models generate on the server; local ones use generate() on the model */
  generateUntil?(prompt: string, until: readonly string[], maxTokens: number): Promise<string>;
  /** several questions in batched forwards (the local scorer) */
  scoreBatch?(groups: readonly (readonly LoglikRequest[])[]): LoglikResult[][];
  readonly batchQuestions?: number;
}

export interface RunOptions {
  /** folder with one sub-folder per benchmark (../shared/data/eval) */
  dataDir: string;
  shots?: number;
  limit?: number;
  seed?: number;
  protocol?: Protocol;
  /** per-item JSON lines; items already there are not recomputed */
  samplesPath?: string;
  /** max tokens generated per item (generation tasks); default min(256, context/2) */
  maxGenTokens?: number;
  /** identifies the model in the samples file, so a resume never mixes two models */
  modelId?: string;
  onItem?: (done: number, total: number) => void;
}

export interface MetricRow {
  metric: string;
  filter: string;
  value: number;
  stderr: number;
  higherIsBetter: boolean;
}

export interface TaskResult {
  task: string;
  version: string;
  nShot: number;
  n: number;
  chance: number;
  metrics: MetricRow[];
  notes: string[];
}

export interface ItemRecord {
  task: string;
  doc_id: number;
  model?: string;
  n_shot: number;
  seed: number;
  protocol: Protocol;
  prompt: string;
  choices?: string[];
  loglikelihoods?: number[];
  is_greedy?: boolean[];
  unconditional_loglikelihoods?: number[];
  generation?: string;
  filtered?: Record<string, string>;
  targets?: string[];
  prediction: number | string;
  gold: number | string[];
  metrics: Record<string, number>;
}

const HIGHER: Record<string, boolean> = { acc: true, acc_norm: true, mc2: true, acc_uncond: true, exact_match: true, pct_stereotype: false, likelihood_diff: false };

function shotsFor(task: Task, o: RunOptions): number {
  if (task.kind === 'multiple_choice' && task.fixedShots !== undefined) {
    if (o.shots !== undefined && o.shots !== task.fixedShots) throw new LlamaError('USAGE', `${task.name} has no split to draw few-shot examples from (it is always ${task.fixedShots}-shot)`);
    return task.fixedShots;
  }
  return o.shots ?? (task.kind === 'generate_until' ? task.defaultShots : 0);
}

/** Few-shot examples for doc `i`: drawn with the seed from the same split, never the doc itself. */
export function pickFewshot<T extends { id: number }>(docs: readonly T[], doc: T, k: number, seed: number): T[] {
  if (k === 0) return [];
  const rng = new SeededRandom((seed * 1_000_003 + doc.id) >>> 0);
  return rng.sample(docs.filter((d) => d.id !== doc.id), k);
}

function mcExample(d: McDoc, task: McTask): string {
  if (d.sharedTarget !== undefined) return d.choices[d.gold]! + task.targetDelimiter + d.sharedTarget;
  return d.text + task.targetDelimiter + d.choices[d.gold]!;
}

export function mcPrefix(task: McTask, shots: readonly McDoc[]): string {
  return task.description + (shots.length ? shots.map((s) => mcExample(s, task)).join(task.fewshotDelimiter) + task.fewshotDelimiter : '');
}

/** the (context, continuation) requests of one doc */
export function mcRequests(task: McTask, doc: McDoc, prefix: string): LoglikRequest[] {
  if (doc.sharedTarget !== undefined) return doc.choices.map((c) => ({ context: prefix + c, continuation: task.targetDelimiter + doc.sharedTarget }));
  return doc.choices.map((c) => ({ context: prefix + doc.text, continuation: task.targetDelimiter + c }));
}

/** The paper's Figure 3 format: "Answer these questions:\nQ: …?\nA: …\nQ: …?\nA:" */
function paperQaText(d: GenDoc): string {
  const q = (d.question ?? d.text).trim();
  return `Q: ${q}${q.endsWith('?') ? '' : '?'}\nA:`;
}

export function genPrompt(task: GenTask, doc: GenDoc, shots: readonly GenDoc[], protocol: Protocol = 'harness'): string {
  if (protocol === 'paper' && task.paperQa) {
    return 'Answer these questions:\n' + [...shots.map((s) => `${paperQaText(s)} ${s.fewshotTarget}`), paperQaText(doc)].join('\n');
  }
  const ex = shots.map((s) => s.text + task.targetDelimiter + s.fewshotTarget);
  return task.description + (ex.length ? ex.join(task.fewshotDelimiter) + task.fewshotDelimiter : '') + doc.text;
}

/** per-item metrics of a multiple-choice doc */
export function mcItemMetrics(task: McTask, doc: McDoc, lls: readonly number[], uncond?: readonly number[]): Record<string, number> {
  const m: Record<string, number> = {};
  for (const k of task.metrics) {
    if (k === 'acc') m.acc = accuracy(lls, doc.gold);
    else if (k === 'acc_norm') m.acc_norm = accNorm(lls, doc.choices, doc.gold);
    else if (k === 'mc2') m.mc2 = mc2(lls, doc.labels ?? []);
    else if (k === 'pct_stereotype') m.pct_stereotype = lls[0]! > lls[1]! ? 1 : 0;
    else if (k === 'likelihood_diff') m.likelihood_diff = Math.abs(lls[0]! - lls[1]!);
  }
  if (uncond) m.acc_uncond = accuracy(lls.map((l, i) => l - uncond[i]!), doc.gold);
  return m;
}

function readDone(path: string | undefined, task: string, check: (r: ItemRecord) => void): Map<number, ItemRecord> {
  const done = new Map<number, ItemRecord>();
  if (!path || !existsSync(path)) return done;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    let r: ItemRecord;
    try {
      r = JSON.parse(line) as ItemRecord;
    } catch {
      continue; // a line cut by an interruption: that item is recomputed
    }
    if (r.task !== task) continue;
    check(r);
    done.set(r.doc_id, r);
  }
  return done;
}

export async function runTask(task: Task, model: LlamaModel | undefined, tok: Tokenizer, scorer: Scorer, o: RunOptions): Promise<TaskResult> {
  const all: (McDoc | GenDoc)[] = task.load(o.dataDir);
  const docs = o.limit !== undefined ? all.slice(0, o.limit) : all;
  const nShot = shotsFor(task, o);
  const seed = o.seed ?? 1234;
  const protocol = o.protocol ?? 'harness';
  const notes: string[] = [];
  if (nShot > 0) notes.push(task.fewshotSplit === 'eval-split' ? 'few-shot examples drawn from the evaluation split itself (our data has no train split), never the item being scored' : 'no few-shot split');
  const done = readDone(o.samplesPath, task.name, (r) => {
    if (r.n_shot !== nShot || r.seed !== seed || r.protocol !== protocol || (o.modelId !== undefined && r.model !== undefined && r.model !== o.modelId)) {
      throw new LlamaError('USAGE', `${o.samplesPath} holds ${task.name} items from another run (model, shots, seed or protocol differ)`, { hint: 'use another --output directory, or delete the file to start over' });
    }
  });
  // an interrupted run may have left a cut last line: new items start on a line of their own
  if (o.samplesPath && existsSync(o.samplesPath)) {
    const text = readFileSync(o.samplesPath, 'utf8');
    if (text.length > 0 && !text.endsWith('\n')) appendFileSync(o.samplesPath, '\n');
  }
  const records: ItemRecord[] = [];
  let i = 0;
  const save = (rec: ItemRecord) => {
    if (o.modelId !== undefined) rec.model = o.modelId;
    if (o.samplesPath) appendFileSync(o.samplesPath, JSON.stringify(rec) + '\n');
  };
  const batch = task.kind === 'multiple_choice' && scorer.scoreBatch ? Math.max(1, scorer.batchQuestions ?? 1) : 1;
  for (let d0 = 0; d0 < docs.length; d0 += batch) {
    const chunk = docs.slice(d0, d0 + batch);
    if (task.kind === 'multiple_choice' && batch > 1) {
      // the questions not yet in the samples file, scored together
      const todo = (chunk as McDoc[]).filter((d) => !done.has(d.id)).map((d) => prepareMc(task, d, all as McDoc[], nShot, seed));
      const res = todo.length ? scorer.scoreBatch!(todo.map((t) => t.reqs)) : [];
      for (let k = 0; k < todo.length; k++) {
        const rec = await finishMc(task, todo[k]!, res[k]!, scorer, nShot, seed, protocol);
        save(rec);
        done.set(rec.doc_id, rec);
      }
    }
    for (const doc of chunk) {
      let rec = done.get(doc.id);
      if (!rec) {
        rec = task.kind === 'multiple_choice'
          ? await scoreMcDoc(task, doc as McDoc, all as McDoc[], scorer, nShot, seed, protocol)
          : await generateDoc(task, doc as GenDoc, all as GenDoc[], model, tok, scorer, nShot, seed, protocol, o.maxGenTokens ?? Math.min(256, Math.floor(scorer.maxLength / 2)));
        save(rec);
      }
      records.push(rec);
      o.onItem?.(++i, docs.length);
    }
  }
  return { task: task.name, version: task.version, nShot, n: records.length, chance: chanceOf(task, docs), metrics: aggregate(task, records, protocol), notes };
}

interface PreparedMc {
  doc: McDoc;
  prefix: string;
  reqs: LoglikRequest[];
}

function prepareMc(task: McTask, doc: McDoc, all: readonly McDoc[], nShot: number, seed: number): PreparedMc {
  const prefix = mcPrefix(task, pickFewshot(all, doc, nShot, seed));
  return { doc, prefix, reqs: mcRequests(task, doc, prefix) };
}

async function finishMc(task: McTask, p: PreparedMc, res: readonly LoglikResult[], scorer: Scorer, nShot: number, seed: number, protocol: Protocol): Promise<ItemRecord> {
  const { doc, prefix, reqs } = p;
  const lls = res.map((r) => r.ll);
  let uncond: number[] | undefined;
  if (protocol === 'paper' && task.paperUnconditional !== undefined) {
    uncond = (await scorer.score(doc.choices.map((c) => ({ context: task.paperUnconditional!, continuation: task.targetDelimiter + c })))).map((r) => r.ll);
  }
  return {
    task: task.name, doc_id: doc.id, n_shot: nShot, seed, protocol,
    prompt: doc.sharedTarget !== undefined ? prefix : reqs[0]!.context,
    choices: doc.sharedTarget !== undefined ? reqs.map((r) => r.context.slice(prefix.length) + ' | ' + r.continuation) : doc.choices,
    loglikelihoods: lls, is_greedy: res.map((r) => r.isGreedy),
    ...(uncond ? { unconditional_loglikelihoods: uncond } : {}),
    prediction: argmaxOf(lls), gold: doc.gold,
    metrics: mcItemMetrics(task, doc, lls, uncond),
  };
}

async function scoreMcDoc(task: McTask, doc: McDoc, all: readonly McDoc[], scorer: Scorer, nShot: number, seed: number, protocol: Protocol): Promise<ItemRecord> {
  const p = prepareMc(task, doc, all, nShot, seed);
  return finishMc(task, p, await scorer.score(p.reqs), scorer, nShot, seed, protocol);
}

async function generateDoc(task: GenTask, doc: GenDoc, all: readonly GenDoc[], model: LlamaModel | undefined, tok: Tokenizer, scorer: Scorer, nShot: number, seed: number, protocol: Protocol, maxGen: number): Promise<ItemRecord> {
  const prompt = genPrompt(task, doc, pickFewshot(all, doc, nShot, seed), protocol);
  let text: string;
  if (scorer.generateUntil) text = await scorer.generateUntil(prompt, task.until, maxGen);
  else {
    if (!model) throw new LlamaError('INTERNAL', 'generation needs a local model or a remote scorer');
    const ctxSize = model.config.contextLength;
    let ids = tok.encode(prompt);
    const room = Math.max(1, ctxSize - maxGen);
    if (ids.length > room) ids = ids.slice(-room); // lm-eval keeps the last max_length − max_gen_toks tokens
    text = await generate(model, tok, ids, { temperature: 0, maxTokens: Math.min(maxGen, ctxSize - ids.length + 1), stop: task.until, ctxSize }).text();
  }
  const filtered: Record<string, string> = {};
  const metrics: Record<string, number> = {};
  for (const f of task.filters) {
    filtered[f.name] = f.apply(text);
    metrics[`exact_match,${f.name}`] = exactMatch(filtered[f.name]!, doc.targets, task.match);
  }
  return { task: task.name, doc_id: doc.id, n_shot: nShot, seed, protocol, prompt, generation: text, filtered, targets: doc.targets, prediction: filtered[task.filters[0]!.name]!, gold: doc.targets, metrics };
}

/**
 * The main metric's value for a model that guesses uniformly: mean 1/choices for acc (ARC and
 * TruthfulQA have items with other than 4 choices), mean share of true answers for mc2, 0.5 for an
 * unbiased model on CrowS-Pairs, 0 for exact match.
 */
export function chanceOf(task: Task, docs: readonly (McDoc | GenDoc)[]): number {
  if (task.kind !== 'multiple_choice' || docs.length === 0) return task.chance;
  const mc = docs as McDoc[];
  if (task.metrics.includes('mc2')) return mean(mc.map((d) => (d.labels ?? []).filter((l) => l === 1).length / d.choices.length));
  if (task.metrics.includes('pct_stereotype')) return 0.5;
  return mean(mc.map((d) => 1 / d.choices.length));
}

function aggregate(task: Task, recs: readonly ItemRecord[], protocol: Protocol): MetricRow[] {
  const keys = new Set<string>();
  for (const r of recs) for (const k of Object.keys(r.metrics)) keys.add(k);
  const rows: MetricRow[] = [];
  for (const k of keys) {
    const [metric, filter] = k.includes(',') ? (k.split(',') as [string, string]) : [k, 'none'];
    const xs = recs.map((r) => r.metrics[k]).filter((x): x is number => x !== undefined);
    rows.push({ metric, filter, value: mean(xs), stderr: meanStderr(xs), higherIsBetter: HIGHER[metric] ?? true });
  }
  void task;
  void protocol;
  return rows;
}
