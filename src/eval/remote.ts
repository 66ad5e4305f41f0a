// Scoring a model served behind an OpenAI-compatible `completions` endpoint, the way
// lm-evaluation-harness's `local-completions` does (lm_eval/models/openai_completions.py):
//   log-likelihood: the prompt is the token ids of context + continuation (tokenized here, as the
//   harness tokenizes locally), with echo: true, logprobs: 1, max_tokens: 1, temperature: 0; the
//   score is the sum of the echoed token_logprobs over the continuation's positions, is_greedy
//   whether each of those tokens' logprob equals the best of its top_logprobs;
//   generation: the prompt text with stop = the task's until strings, temperature 0.
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { LlamaError } from '../errors.js';
import { encodePair, type LoglikRequest, type LoglikResult } from './loglik.js';

export interface RemoteOptions {
  /** the "model" field sent with every request */
  model?: string;
  apiKey?: string;
  /** longest input (tokens); the harness's API models default to 2048 */
  maxLength?: number;
  fetchImpl?: typeof fetch;
}

interface CompletionChoice {
  index?: number;
  text?: string;
  logprobs?: { token_logprobs?: (number | null)[]; top_logprobs?: (Record<string, number> | null)[] };
}

export class RemoteScorer {
  readonly maxLength: number;
  private readonly url: string;
  private readonly fetchImpl: typeof fetch;

  constructor(baseUrl: string, readonly tok: Tokenizer, private readonly o: RemoteOptions = {}) {
    this.url = baseUrl.replace(/\/+$/, '') + '/completions';
    this.maxLength = o.maxLength ?? 2048;
    this.fetchImpl = o.fetchImpl ?? fetch;
  }

  private async post(body: Record<string, unknown>): Promise<CompletionChoice[]> {
    let res: Response;
    try {
      res = await this.fetchImpl(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(this.o.apiKey ? { authorization: `Bearer ${this.o.apiKey}` } : {}) },
        body: JSON.stringify({ model: this.o.model ?? 'default', ...body }),
      });
    } catch (e) {
      throw new LlamaError('FILE_READ', `cannot reach ${this.url}: ${(e as Error).message}`, { hint: 'is the server running? --model-url takes the base URL, e.g. http://127.0.0.1:8080/v1' });
    }
    if (!res.ok) throw new LlamaError('DATA', `${this.url} answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
    const json = (await res.json()) as { choices?: CompletionChoice[] };
    if (!Array.isArray(json.choices)) throw new LlamaError('DATA', `${this.url}: the answer has no choices`);
    return [...json.choices].sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
  }

  async score(requests: readonly LoglikRequest[]): Promise<LoglikResult[]> {
    const enc = requests.map((r) => encodePair(this.tok, r.context, r.continuation));
    const prompts = enc.map((e) => [...e.context, ...e.continuation].slice(-this.maxLength));
    const choices = await this.post({ prompt: prompts, echo: true, logprobs: 1, max_tokens: 1, temperature: 0 });
    if (choices.length !== prompts.length) throw new LlamaError('DATA', `${this.url}: ${choices.length} choices for ${prompts.length} prompts`);
    return choices.map((c, i) => {
      const lps = c.logprobs?.token_logprobs;
      const tops = c.logprobs?.top_logprobs;
      const n = Math.min(enc[i]!.continuation.length, prompts[i]!.length - 1);
      const start = prompts[i]!.length - n;
      if (!lps || lps.length < prompts[i]!.length) throw new LlamaError('DATA', `${this.url}: no echoed token_logprobs (the server must support echo with logprobs)`);
      let ll = 0;
      let greedy = true;
      for (let p = start; p < start + n; p++) {
        const lp = lps[p];
        if (typeof lp !== 'number') throw new LlamaError('DATA', `${this.url}: token_logprobs[${p}] is missing`);
        ll += lp;
        const top = tops?.[p];
        if (top) {
          const best = Math.max(...Object.values(top));
          if (lp < best - 1e-6) greedy = false;
        }
      }
      return { ll, isGreedy: greedy, tokens: n };
    });
  }

  async generateUntil(prompt: string, until: readonly string[], maxTokens: number): Promise<string> {
    const [c] = await this.post({ prompt, max_tokens: maxTokens, temperature: 0, stop: until.slice(0, 4) });
    let text = c?.text ?? '';
    // servers honour at most 4 stop strings; cut at any of them here as the harness does
    for (const s of until) {
      const k = text.indexOf(s);
      if (k >= 0) text = text.slice(0, k);
    }
    return text;
  }
}
