// HellaSwag as llama.cpp's `perplexity --hellaswag` scores it (examples/perplexity/perplexity.cpp,
// `hellaswag_score`), restated:
//   - input: 6 lines per task: `activity_label: ctx`, the gold ending index, the 4 endings;
//   - each ending j is tokenized as BOS + (context + " " + ending_j) in one piece; the longest token
//     prefix shared by the 4 sequences is evaluated once;
//   - an ending's score is the mean log-probability of its tokens after that shared prefix
//     (token-length normalisation, not lm-eval's character length);
//   - the highest mean wins (first on ties); after each task it prints `i<TAB>100·correct/i` with
//     8 decimals under a `task<TAB>acc_norm` header.
// llama.cpp draws tasks at random with a non-reproducible seed; here the draw is seeded (or the first
// N in file order with shuffle off).
import type { LlamaModel } from '../model/llama.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { LlamaError } from '../errors.js';
import { RowStatsBatch } from './logprob.js';
import { SeededRandom } from './rng.js';

export interface HellaswagTask {
  context: string;
  gold: number;
  endings: [string, string, string, string];
}

export function parseHellaswagLlamaCpp(text: string): HellaswagTask[] {
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (lines.length % 6 !== 0) throw new LlamaError('DATA', `number of lines (${lines.length}) is not a multiple of 6`, { hint: 'llama.cpp\'s HellaSwag format: context, gold index, 4 endings per task' });
  const tasks: HellaswagTask[] = [];
  for (let i = 0; i < lines.length; i += 6) {
    const gold = Number(lines[i + 1]);
    if (!Number.isInteger(gold) || gold < 0 || gold > 3) throw new LlamaError('DATA', `task ${i / 6 + 1}: gold ending '${lines[i + 1]}' is not 0..3`);
    tasks.push({ context: lines[i]!, gold, endings: [lines[i + 2]!, lines[i + 3]!, lines[i + 4]!, lines[i + 5]!] });
  }
  return tasks;
}

export interface HellaswagOptions {
  nTasks?: number;
  shuffle?: boolean;
  seed?: number;
  ctxSize?: number;
  onHeader?: () => void;
  onTask?: (i: number, runningAccNorm: number) => void;
}

export interface HellaswagResult {
  tasks: number;
  /** percent */
  accNorm: number;
  /** percent, sqrt(p(1-p)/(n-1)) */
  stderr: number;
}

/** mean log-prob of each sequence's tokens after their common prefix (llama.cpp's ending score) */
export function scoreEndingsSharedPrefix(model: LlamaModel, seqs: readonly (readonly number[])[], ctxSize?: number): number[] {
  let cp = 0;
  const minLen = Math.min(...seqs.map((s) => s.length));
  while (cp < minLen && seqs.every((s) => s[cp] === seqs[0]![cp])) cp++;
  if (cp === 0) throw new LlamaError('INTERNAL', 'the endings share no prefix token (BOS expected)');
  if (cp === minLen) cp--; // one sequence is a prefix of another: keep at least one scored token each
  const maxLen = Math.max(...seqs.map((s) => s.length));
  const need = maxLen - 1;
  const session = model.newSession({ ctxSize: Math.max(need, ctxSize ?? 0) });
  const V = model.config.vocabSize;
  const prefixLogits = model.forward(session, seqs[0]!.slice(0, cp)); // last row predicts token cp
  const stats = new RowStatsBatch(model.backend); // the rows' log-softmax stats, one backend call per forward
  stats.compute(prefixLogits, 1, V);
  const [prefixMax, prefixLogSum] = [stats.max[0]!, stats.logSum[0]!]; // stats is reused below
  const scores: number[] = [];
  for (const s of seqs) {
    session.rewind(cp);
    let lp = prefixLogits[s[cp]!]! - prefixMax - prefixLogSum;
    let n = 1;
    if (s.length - 1 > cp) {
      const rows = model.forward(session, s.slice(cp, s.length - 1), { allLogits: true });
      stats.compute(rows, s.length - 1 - cp, V);
      for (let j = cp + 1; j < s.length; j++) {
        lp += stats.logprob(rows, j - cp - 1, V, s[j]!);
        n++;
      }
    }
    scores.push(lp / n);
  }
  return scores;
}

export function hellaswagLlamaCpp(model: LlamaModel, tok: Tokenizer, all: readonly HellaswagTask[], o: HellaswagOptions = {}): HellaswagResult {
  const n = Math.min(o.nTasks ?? all.length, all.length);
  const tasks = o.shuffle === false ? all.slice(0, n) : new SeededRandom(o.seed ?? 1).sample(all, n);
  o.onHeader?.();
  let correct = 0;
  for (let i = 0; i < tasks.length; i++) {
    const t = tasks[i]!;
    const seqs = t.endings.map((e) => tok.encode(t.context + ' ' + e));
    const scores = scoreEndingsSharedPrefix(model, seqs, o.ctxSize);
    let best = 0;
    for (let s = 1; s < scores.length; s++) if (scores[s]! > scores[best]!) best = s;
    if (best === t.gold) correct++;
    o.onTask?.(i + 1, (correct / (i + 1)) * 100);
  }
  const p = tasks.length ? correct / tasks.length : 0;
  return { tasks: tasks.length, accNorm: 100 * p, stderr: tasks.length > 1 ? 100 * Math.sqrt((p * (1 - p)) / (tasks.length - 1)) : NaN };
}
