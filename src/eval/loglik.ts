// Log-likelihood of (context, continuation) pairs, tokenized the way lm-evaluation-harness does
// (lm_eval/api/model.py `_encode_pair`, models/huggingface.py `loglikelihood`):
//   - trailing whitespace of the context moves to the front of the continuation;
//   - context_enc = encode(context) with the tokenizer's default BOS; the continuation's tokens are
//     encode(context + continuation)[len(context_enc):] (so a token straddling the boundary counts
//     for the continuation);
//   - an empty context becomes [BOS] (the prefix token) and the continuation is encoded without BOS;
//   - the model sees (context_enc + continuation_enc)[-(max_length+1):][:-1]; the score is the sum of
//     the continuation tokens' log-probabilities (float64), is_greedy whether each was the argmax.
// Choices of one question share their context: it is evaluated once, and each continuation runs on
// top of it after `session.rewind(context length)` (KV prefix reuse).
import type { LlamaModel } from '../model/llama.js';
import type { Session } from '../model/kv-cache.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { LlamaError } from '../errors.js';
import { tokenScore } from './logprob.js';
import { kvCacheBytes } from '../model/kv-cache.js';
import { DType } from '../tensor/dtype.js';

export interface LoglikRequest {
  context: string;
  continuation: string;
}

export interface LoglikResult {
  ll: number;
  isGreedy: boolean;
  /** continuation tokens scored */
  tokens: number;
}

export interface EncodedPair {
  context: number[];
  continuation: number[];
}

export function encodePair(tok: Tokenizer, context: string, continuation: string): EncodedPair {
  if (context === '') {
    const prefix = tok.bosId ?? tok.eosId;
    if (prefix === undefined) throw new LlamaError('TOKENIZER_INVALID', 'an empty context needs a BOS or EOS token to stand for it');
    return { context: [prefix], continuation: tok.encode(continuation, { addBos: false }) };
  }
  const nSpaces = context.length - context.trimEnd().length;
  if (nSpaces > 0) {
    continuation = context.slice(context.length - nSpaces) + continuation;
    context = context.slice(0, context.length - nSpaces);
  }
  const whole = tok.encode(context + continuation);
  const ctx = tok.encode(context);
  return { context: ctx, continuation: whole.slice(ctx.length) };
}

export interface ScorerOptions {
  /** longest input the model may see (lm-eval's max_length); default the model's context length */
  maxLength?: number;
  /** false: evaluate every pair from scratch (no prefix reuse) — for benchmarks and cross-checks */
  sharePrefix?: boolean;
  /** questions evaluated together in one batched forward by scoreBatch (default: up to 8, within 256 MB of KV cache) */
  batchQuestions?: number;
}

export class LoglikScorer {
  readonly maxLength: number;
  private readonly sharePrefix: boolean;
  private session: Session | undefined;
  /** how many questions scoreBatch puts in one batched forward */
  readonly batchQuestions: number;
  private readonly pool: Session[] = [];

  constructor(readonly model: LlamaModel, readonly tok: Tokenizer, o: ScorerOptions = {}) {
    this.maxLength = o.maxLength ?? model.config.contextLength;
    this.sharePrefix = o.sharePrefix ?? true;
    const perSession = kvCacheBytes(model.config, this.maxLength, DType.F32);
    this.batchQuestions = Math.max(1, o.batchQuestions ?? Math.min(8, Math.floor((256 << 20) / perSession)));
  }

  /**
   * Score several questions at once. Each group is one question's requests sharing one context:
   * the contexts of all groups go through one batched forward (one session per question), then for
   * each choice index one batched forward continues every question with that choice after rewinding
   * its session to the context (prefix reuse within a question, batching across questions). Groups
   * that do not share a context or do not fit are scored by `score`.
   */
  scoreBatch(groups: readonly (readonly LoglikRequest[])[]): LoglikResult[][] {
    const out: LoglikResult[][] = groups.map(() => []);
    if (!this.sharePrefix) return groups.map((g) => this.score(g));
    const enc = groups.map((g) => g.map((r) => encodePair(this.tok, r.context, r.continuation)));
    const batchable: number[] = [];
    enc.forEach((e, gi) => {
      const ok = e.length > 0 && e.every((p) => sameIds(p.context, e[0]!.context) && p.context.length + p.continuation.length - 1 <= this.maxLength);
      if (ok) batchable.push(gi);
      else out[gi] = this.score(groups[gi]!);
    });
    const V = this.model.config.vocabSize;
    for (let b0 = 0; b0 < batchable.length; b0 += this.batchQuestions) {
      const chunk = batchable.slice(b0, b0 + this.batchQuestions);
      while (this.pool.length < chunk.length) this.pool.push(this.model.newSession({ ctxSize: this.maxLength }));
      chunk.forEach((_, k) => this.pool[k]!.reset());
      const lasts = this.model.forwardBatch(chunk.map((gi, k) => ({ session: this.pool[k]!, tokens: enc[gi]![0]!.context })));
      const maxChoices = Math.max(...chunk.map((gi) => enc[gi]!.length));
      for (let j = 0; j < maxChoices; j++) {
        const seqs: { k: number; gi: number }[] = [];
        chunk.forEach((gi, k) => {
          const p = enc[gi]![j];
          if (!p) return;
          const first = p.continuation.length ? tokenScore(lasts[k]!, p.continuation[0]!) : { logprob: 0, isArgmax: true };
          out[gi]![j] = { ll: first.logprob, isGreedy: first.isArgmax, tokens: p.continuation.length };
          if (p.continuation.length > 1) seqs.push({ k, gi });
        });
        if (seqs.length === 0) continue;
        for (const { k, gi } of seqs) this.pool[k]!.rewind(enc[gi]![0]!.context.length);
        const rows = this.model.forwardBatch(seqs.map(({ k, gi }) => ({ session: this.pool[k]!, tokens: enc[gi]![j]!.continuation.slice(0, -1), allLogits: true })), { allLogits: true });
        seqs.forEach(({ gi }, s) => {
          const cont = enc[gi]![j]!.continuation;
          const r = out[gi]![j]!;
          for (let t = 1; t < cont.length; t++) {
            const sc = tokenScore(rows[s]!.subarray((t - 1) * V, t * V), cont[t]!);
            r.ll += sc.logprob;
            if (!sc.isArgmax) r.isGreedy = false;
          }
        });
      }
    }
    return out;
  }

  private sess(): Session {
    this.session ??= this.model.newSession({ ctxSize: this.maxLength });
    return this.session;
  }

  /** Score a group of requests (typically one question's choices); pairs with equal context share it. */
  score(requests: readonly LoglikRequest[]): LoglikResult[] {
    const enc = requests.map((r) => encodePair(this.tok, r.context, r.continuation));
    const out: LoglikResult[] = new Array(enc.length);
    const done = new Set<number>();
    for (let i = 0; i < enc.length; i++) {
      if (done.has(i)) continue;
      const group = [i];
      if (this.sharePrefix) for (let j = i + 1; j < enc.length; j++) if (!done.has(j) && sameIds(enc[j]!.context, enc[i]!.context)) group.push(j);
      const fits = group.every((g) => enc[g]!.context.length + enc[g]!.continuation.length - 1 <= this.maxLength);
      if (this.sharePrefix && fits) {
        const res = this.scoreShared(enc[i]!.context, group.map((g) => enc[g]!.continuation));
        group.forEach((g, k) => {
          out[g] = res[k]!;
          done.add(g);
        });
      } else {
        out[i] = this.scoreOne(enc[i]!);
        done.add(i);
      }
    }
    return out;
  }

  /** context once, then each continuation on top of it */
  private scoreShared(ctx: readonly number[], conts: readonly (readonly number[])[]): LoglikResult[] {
    const s = this.sess();
    s.reset();
    const V = this.model.config.vocabSize;
    const last = this.model.forward(s, ctx); // predicts the first continuation token
    return conts.map((cont) => {
      if (cont.length === 0) return { ll: 0, isGreedy: true, tokens: 0 };
      s.rewind(ctx.length);
      const first = tokenScore(last, cont[0]!);
      let ll = first.logprob;
      let greedy = first.isArgmax;
      if (cont.length > 1) {
        const rows = this.model.forward(s, cont.slice(0, -1), { allLogits: true });
        for (let j = 1; j < cont.length; j++) {
          const t = tokenScore(rows.subarray((j - 1) * V, j * V), cont[j]!);
          ll += t.logprob;
          if (!t.isArgmax) greedy = false;
        }
      }
      return { ll, isGreedy: greedy, tokens: cont.length };
    });
  }

  /** one pair from scratch, left-truncated like the harness when it is too long */
  private scoreOne(p: EncodedPair): LoglikResult {
    const all = [...p.context, ...p.continuation].slice(-(this.maxLength + 1));
    const inp = all.slice(0, -1);
    const n = Math.min(p.continuation.length, inp.length);
    if (n === 0) return { ll: 0, isGreedy: true, tokens: 0 };
    const s = this.sess();
    s.reset();
    const V = this.model.config.vocabSize;
    const rows = this.model.forward(s, inp, { allLogits: true });
    let ll = 0;
    let greedy = true;
    for (let j = 0; j < n; j++) {
      const r = inp.length - n + j; // row predicting all[r + 1]
      const t = tokenScore(rows.subarray(r * V, (r + 1) * V), all[r + 1]!);
      ll += t.logprob;
      if (!t.isArgmax) greedy = false;
    }
    return { ll, isGreedy: greedy, tokens: n };
  }
}

function sameIds(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
