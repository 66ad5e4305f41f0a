// Metrics as lm-evaluation-harness computes them (lm_eval/api/task.py process_results,
// lm_eval/api/metrics.py), restated:
//   acc       = [argmax_i ll_i == gold]
//   acc_norm  = [argmax_i ll_i / len(choice_i) == gold], len = characters (code points) of the choice
//   mc2       = Σ_true p_i / Σ_all p_i with p_i = exp(ll_i) (TruthfulQA, labels: true answers first)
//   pct_stereotype = [ll(sent_more) > ll(sent_less)], likelihood_diff = |ll_1 − ll_2| (CrowS-Pairs)
//   aggregation: mean; standard error: sample standard deviation / sqrt(n) (lm-eval's mean_stderr;
//   the harness bootstraps only non-mean aggregations, which none of these tasks use).
//   exact_match: regexes removed, then lower-case / punctuation stripped as configured, then equality.

/** first index of the maximum (numpy argmax) */
export function argmaxOf(xs: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i]! > xs[best]!) best = i;
  return best;
}

export function charLength(s: string): number {
  return [...s].length;
}

export function accuracy(lls: readonly number[], gold: number): number {
  return argmaxOf(lls) === gold ? 1 : 0;
}

export function accNorm(lls: readonly number[], choices: readonly string[], gold: number): number {
  return argmaxOf(lls.map((ll, i) => ll / charLength(choices[i]!))) === gold ? 1 : 0;
}

export function mc2(lls: readonly number[], labels: readonly number[]): number {
  const split = labels.indexOf(0);
  const cut = split < 0 ? labels.length : split;
  const p = lls.map((x) => Math.exp(x));
  const total = p.reduce((a, b) => a + b, 0);
  return p.slice(0, cut).reduce((a, b) => a + b, 0) / total;
}

export function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** sample standard deviation / sqrt(n); NaN below 2 items */
export function meanStderr(xs: readonly number[]): number {
  const n = xs.length;
  if (n < 2) return NaN;
  const m = mean(xs);
  const v = xs.reduce((a, x) => a + (x - m) ** 2, 0) / (n - 1);
  return Math.sqrt(v / n);
}

/** Python's string.punctuation */
const PUNCT = new Set('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~');

export function normalizeForMatch(s: string, o: { ignoreCase: boolean; ignorePunctuation: boolean; regexesToIgnore: readonly string[] }): string {
  let t = s;
  for (const r of o.regexesToIgnore) t = t.replace(pyRegex(r), '');
  if (o.ignoreCase) t = t.toLowerCase();
  if (o.ignorePunctuation) t = [...t].filter((c) => !PUNCT.has(c)).join('');
  return t;
}

/** Python `re` pattern → global JS RegExp (handles the inline (?s) flag these tasks use) */
export function pyRegex(pattern: string): RegExp {
  let flags = 'gu';
  let p = pattern;
  if (p.startsWith('(?s)')) {
    flags += 's';
    p = p.slice(4);
  }
  return new RegExp(p, flags);
}

export function exactMatch(prediction: string, references: readonly string[], o: { ignoreCase: boolean; ignorePunctuation: boolean; regexesToIgnore: readonly string[] }): number {
  const p = normalizeForMatch(prediction, o);
  return references.some((r) => normalizeForMatch(r, o) === p) ? 1 : 0;
}

/** lm-eval's `regex` filter: first match's group (or the group_select-th match), else "[invalid]" */
export function regexExtract(text: string, pattern: string, groupSelect = 0): string {
  const re = new RegExp(pattern, 'g');
  const matches = [...text.matchAll(re)];
  if (matches.length === 0) return '[invalid]';
  const m = matches.at(groupSelect < 0 ? groupSelect : groupSelect)!;
  if (m === undefined) return '[invalid]';
  // with several groups, the first non-empty one (lm-eval picks the non-empty group of a tuple)
  const groups = m.slice(1).filter((g) => g !== undefined && g !== '');
  return (groups[0] ?? m[0]).trim();
}
