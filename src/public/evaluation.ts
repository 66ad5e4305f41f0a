// Evaluation (llama-ts's `evaluation` namespace): llama.cpp's perplexity / HellaSwag / KL divergence
// and lm-evaluation-harness's tasks and metrics. See docs/evaluation.md.
export { computePerplexity, promptFromFile } from '../eval/perplexity.js';
export type { PerplexityOptions, PerplexityResult } from '../eval/perplexity.js';
export { LoglikScorer, encodePair } from '../eval/loglik.js';
export type { LoglikRequest, LoglikResult } from '../eval/loglik.js';
export { RemoteScorer } from '../eval/remote.js';
export { TASKS, getTask } from '../eval/tasks.js';
export type { Task, McTask, GenTask, McDoc, GenDoc } from '../eval/task.js';
export { runTask } from '../eval/runner.js';
export type { RunOptions, TaskResult, MetricRow, Scorer, Protocol } from '../eval/runner.js';
export { formatTable, resultsJson, compareSvg } from '../eval/report.js';
export { hellaswagLlamaCpp, parseHellaswagLlamaCpp } from '../eval/hellaswag-lcpp.js';
export { compareWithBase, readKlBase, KlBaseWriter } from '../eval/kl-divergence.js';
export type { ResultsJson } from '../eval/report.js';
export { readRtpPrompts, generateRtp, RESPECTFUL_PREFIX } from '../eval/rtp.js';
export { formatKlReport } from '../eval/kl-divergence.js';
