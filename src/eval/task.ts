// What a benchmark task is, in lm-evaluation-harness's terms (lm_eval/api/task.py, config/task.py):
// a list of docs, doc_to_text / doc_to_choice / doc_to_target, a target delimiter (default " "),
// a few-shot delimiter (default "\n\n"), an optional description, and metrics.

/** A multiple-choice doc after doc_to_text / doc_to_choice / doc_to_target. */
export interface McDoc {
  id: number;
  /** doc_to_text(doc) — for multiple-input tasks (WinoGrande) unused: the choices are the contexts */
  text: string;
  /** doc_to_choice(doc) */
  choices: string[];
  /** index of the gold choice */
  gold: number;
  /** TruthfulQA mc2: 1 for true answers (which come first), 0 for false ones */
  labels?: number[];
  /** multiple input: the continuation shared by every choice-as-context (WinoGrande's partial target) */
  sharedTarget?: string;
}

export type McMetric = 'acc' | 'acc_norm' | 'mc2' | 'pct_stereotype' | 'likelihood_diff' | 'acc_uncond';

export interface McTask {
  kind: 'multiple_choice';
  name: string;
  version: string;
  description: string;
  targetDelimiter: string;
  fewshotDelimiter: string;
  metrics: McMetric[];
  /** where few-shot examples come from ('none': the task has no split to draw from and refuses --shots) */
  fewshotSplit: 'eval-split' | 'none';
  /** fixed number of shots (TruthfulQA carries its own 6-shot primer and uses 0) */
  fixedShots?: number;
  /** chance level of the main metric, for the README table */
  chance: number;
  /** LLaMA paper: the context for the unconditional normalisation (P(c|ctx)/P(c|"Answer:")) */
  paperUnconditional?: string;
  load(dataDir: string): McDoc[];
}

export interface GenDoc {
  id: number;
  text: string;
  /** any of these is a correct answer */
  targets: string[];
  /** the target as a few-shot example writes it */
  fewshotTarget: string;
  /** the raw question (for the paper's closed-book QA prompt) */
  question?: string;
}

export interface GenTask {
  kind: 'generate_until';
  name: string;
  version: string;
  description: string;
  targetDelimiter: string;
  fewshotDelimiter: string;
  until: string[];
  defaultShots: number;
  fewshotSplit: 'eval-split' | 'none';
  chance: number;
  /** the LLaMA paper's closed-book QA prompt (NQ, TriviaQA): "Answer these questions:\n" + Q:/A: pairs */
  paperQa?: boolean;
  /** filters as lm-eval names them; each yields one exact_match row */
  filters: GenFilter[];
  match: ExactMatchOptions;
  load(dataDir: string): GenDoc[];
}

export interface GenFilter {
  name: string;
  apply(generation: string): string;
}

export interface ExactMatchOptions {
  ignoreCase: boolean;
  ignorePunctuation: boolean;
  regexesToIgnore: string[];
}

export type Task = McTask | GenTask;
