// GET /metrics in Prometheus' text format (version 0.0.4): request and token counters, the
// tokens/s of finished requests, and the scheduler's gauges (slots busy, queue depth).
import type { Scheduler, JobResult } from './scheduler.js';

export class Metrics {
  private readonly requests = new Map<string, number>();
  private promptTokens = 0;
  private generatedTokens = 0;
  private generateMs = 0;
  private promptMs = 0;
  private finished = 0;

  constructor(private readonly scheduler: Scheduler) {}

  request(path: string): void {
    // bounded label set: known routes only, everything else is "other"
    const known = ['/v1/chat/completions', '/v1/completions', '/v1/embeddings', '/v1/models', '/tokenize', '/detokenize', '/props', '/health', '/metrics', '/'];
    const label = known.includes(path) ? path : 'other';
    this.requests.set(label, (this.requests.get(label) ?? 0) + 1);
  }

  tokens(prompt: number, generated: number, results: readonly JobResult[] = []): void {
    this.promptTokens += prompt;
    this.generatedTokens += generated;
    for (const r of results) {
      this.promptMs += r.promptMs;
      this.generateMs += r.generateMs;
      this.finished++;
    }
  }

  render(): string {
    const s = this.scheduler.stats;
    const lines: string[] = [];
    const metric = (name: string, type: 'counter' | 'gauge', help: string, values: [string, number][]) => {
      lines.push(`# HELP llamats_${name} ${help}`, `# TYPE llamats_${name} ${type}`);
      for (const [labels, v] of values) lines.push(`llamats_${name}${labels} ${Number.isFinite(v) ? v : 0}`);
    };
    metric('requests_total', 'counter', 'HTTP requests by route.', [...this.requests].map(([p, n]) => [`{route="${p}"}`, n]));
    metric('prompt_tokens_total', 'counter', 'Prompt tokens of finished requests.', [['', this.promptTokens]]);
    metric('tokens_predicted_total', 'counter', 'Generated tokens of finished requests.', [['', this.generatedTokens]]);
    metric('prompt_tokens_seconds', 'gauge', 'Average prompt throughput in tokens/s.', [['', this.promptMs > 0 ? (this.promptTokens * 1000) / this.promptMs : 0]]);
    metric('predicted_tokens_seconds', 'gauge', 'Average generation throughput per request in tokens/s.', [['', this.generateMs > 0 ? (this.generatedTokens * 1000) / this.generateMs : 0]]);
    metric('requests_processing', 'gauge', 'Slots busy.', [['', s.slotsBusy]]);
    metric('slots_total', 'gauge', 'Slots (--parallel).', [['', s.slots]]);
    metric('requests_deferred', 'gauge', 'Requests waiting for a slot (queue depth).', [['', s.queue]]);
    metric('batch_steps_total', 'counter', 'Batched forward steps run.', [['', s.steps]]);
    return lines.join('\n') + '\n';
  }
}
