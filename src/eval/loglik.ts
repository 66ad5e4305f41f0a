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
// top of it after `session.rewind(context length)` (KV prefix reuse, `score`), or several questions
// are packed into two batched forwards (`scoreBatch`). Scored from scratch (sharePrefix false), a
// pair is one forward of context + continuation; in every mode only the rows whose next token is
// scored go through the output projection.
import type { LlamaModel } from '../model/llama.js';
import type { Session } from '../model/kv-cache.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { LlamaError } from '../errors.js';
import { RowStatsBatch } from './logprob.js';
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
  /** at most this many questions packed into one batched forward by scoreBatch (default 16; fewer when the memory budgets below say so) */
  batchQuestions?: number;
  /** compute the rows' log-softmax stats with the JS loop even when the backend has the op (tests, cross-checks) */
  statsInJs?: boolean;
}

/** scoreBatch keeps a pack's KV caches within this (one session per choice, sized to the pack's longest choice) */
const PACK_KV_BYTES = 256 << 20;
/** ... and a pack's logits (one row per scored continuation token, vocab wide) within this */
const PACK_LOGIT_BYTES = 64 << 20;

export class LoglikScorer {
  readonly maxLength: number;
  private readonly sharePrefix: boolean;
  private session: Session | undefined;
  /** how many questions scoreBatch packs into one batched forward at most */
  readonly batchQuestions: number;
  /** scoreBatch's sessions, all of `poolCtx` positions */
  private pool: Session[] = [];
  private poolCtx = 0;
  /** the output rows of the latest forward, reused (a fresh vocabulary-wide array per pass costs more than its attention) */
  private logits = new Float32Array(0);
  /** the scored rows' log-softmax stats, through the backend's logitStats op when it has one */
  private readonly stats: RowStatsBatch;

  constructor(readonly model: LlamaModel, readonly tok: Tokenizer, o: ScorerOptions = {}) {
    this.maxLength = o.maxLength ?? model.config.contextLength;
    this.sharePrefix = o.sharePrefix ?? true;
    this.batchQuestions = Math.max(1, o.batchQuestions ?? 16);
    this.stats = new RowStatsBatch(o.statsInJs ? undefined : model.backend);
  }

  /**
   * Score several questions at once. Each group is one question's requests sharing one context.
   * Questions are packed (as llama.cpp's HellaSwag packs tasks into a batch) into two batched
   * forwards: the first evaluates every question's context once, its keys/values going straight
   * into one session per choice (prefix reuse without copying or recomputing); the second runs every
   * choice of every question together on top of its context, with the output projection only at
   * the rows whose next token is scored. Groups that do not share a context or do not fit
   * maxLength are scored by `score`. The log-likelihoods equal scoring each pair alone (each row
   * goes through the same ops, only its neighbours in the batch differ; tests/eval-batch.test.ts).
   */
  scoreBatch(groups: readonly (readonly LoglikRequest[])[]): LoglikResult[][] {
    if (!this.sharePrefix) return groups.map((g) => this.score(g));
    const out: LoglikResult[][] = groups.map(() => []);
    const V = this.model.config.vocabSize;
    let pack: EncodedPair[][] = [];
    let packOut: LoglikResult[][] = [];
    let packNeed = 0; // positions of the pack's longest choice
    let packChoices = 0;
    let packRows = 0; // output rows of the second forward
    const flush = () => {
      if (pack.length) this.scorePack(pack, packOut, packNeed);
      pack = [];
      packOut = [];
      packNeed = packChoices = packRows = 0;
    };
    groups.forEach((g, gi) => {
      const e = g.map((r) => encodePair(this.tok, r.context, r.continuation));
      const need = Math.max(0, ...e.map((p) => p.context.length + Math.max(0, p.continuation.length - 1))); // positions a choice's session holds
      if (e.length === 0 || need > this.maxLength || !e.every((p) => sameIds(p.context, e[0]!.context))) {
        out[gi] = this.score(g);
        return;
      }
      const rows = e.reduce((n, p) => n + Math.max(0, p.continuation.length - 1), 0);
      const ctx = Math.max(this.poolCtx, Math.min(this.maxLength, roundUp(Math.max(need, packNeed), 64)));
      const fits = (packChoices + e.length) * kvCacheBytes(this.model.config, ctx, DType.F32) <= PACK_KV_BYTES && (packRows + rows) * V * 4 <= PACK_LOGIT_BYTES;
      if (pack.length > 0 && (pack.length >= this.batchQuestions || !fits)) flush();
      pack.push(e);
      packOut.push(out[gi]!);
      packNeed = Math.max(packNeed, need);
      packChoices += e.length;
      packRows += rows;
    });
    flush();
    return out;
  }

  /** one pack of questions (each: its choices, one shared context) in two batched forwards */
  private scorePack(pack: readonly EncodedPair[][], out: LoglikResult[][], need: number): void {
    const sessions = this.packSessions(pack.reduce((n, e) => n + e.length, 0), need);
    const mine: Session[][] = [];
    let at = 0;
    for (const e of pack) {
      mine.push(sessions.slice(at, at + e.length));
      at += e.length;
    }
    // 1. the contexts, each once; their keys/values also land in the sessions of the choices that go on
    const lasts = this.model.forwardBatch(pack.map((e, q) => ({
      session: mine[q]![0]!,
      tokens: e[0]!.context,
      shareKvWith: mine[q]!.filter((_, j) => j > 0 && e[j]!.continuation.length > 1),
    })), { into: this.logitsFor(pack.length) });
    const seqs: { q: number; j: number }[] = [];
    const V = this.model.config.vocabSize;
    const st = this.stats.compute(this.logits, lasts.length, V); // row q predicts question q's choices' first tokens
    pack.forEach((e, q) => {
      e.forEach((p, j) => {
        if (p.continuation.length === 0) {
          out[q]![j] = { ll: 0, isGreedy: true, tokens: 0 };
          return;
        }
        const first = p.continuation[0]!;
        out[q]![j] = { ll: st.logprob(this.logits, q, V, first), isGreedy: st.isArgmax(q, first), tokens: p.continuation.length };
        if (p.continuation.length > 1) seqs.push({ q, j });
      });
    });
    if (seqs.length === 0) return;
    // 2. every choice of every question on top of its context; row t predicts continuation[t + 1]
    const nRows = seqs.reduce((n, { q, j }) => n + pack[q]![j]!.continuation.length - 1, 0);
    this.model.forwardBatch(seqs.map(({ q, j }) => ({ session: mine[q]![j]!, tokens: pack[q]![j]!.continuation.slice(0, -1), allLogits: true })), { into: this.logitsFor(nRows) });
    // the sequences' rows follow each other in this.logits, all scored in one logitStats call
    this.stats.compute(this.logits, nRows, V);
    let row = 0;
    for (const { q, j } of seqs) {
      const cont = pack[q]![j]!.continuation;
      const r = out[q]![j]!;
      for (let t = 1; t < cont.length; t++, row++) {
        r.ll += st.logprob(this.logits, row, V, cont[t]!);
        if (!st.isArgmax(row, cont[t]!)) r.isGreedy = false;
      }
    }
  }

  /** room for `rows` rows of logits */
  private logitsFor(rows: number): Float32Array {
    const n = rows * this.model.config.vocabSize;
    if (this.logits.length < n) this.logits = new Float32Array(n);
    return this.logits;
  }

  /** n fresh sessions of at least `need` positions (kept for the next pack) */
  private packSessions(n: number, need: number): Session[] {
    if (need > this.poolCtx) {
      this.pool = [];
      this.poolCtx = Math.min(this.maxLength, roundUp(need, 64));
    }
    while (this.pool.length < n) this.pool.push(this.model.newSession({ ctxSize: this.poolCtx }));
    const got = this.pool.slice(0, n);
    for (const s of got) s.reset();
    return got;
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
    const st = this.stats.compute(last, 1, V);
    const [lastMax, lastArgmax, lastLogSum] = [st.max[0]!, st.argmax[0]!, st.logSum[0]!]; // st is reused below
    return conts.map((cont) => {
      if (cont.length === 0) return { ll: 0, isGreedy: true, tokens: 0 };
      s.rewind(ctx.length);
      let ll = last[cont[0]!]! - lastMax - lastLogSum;
      let greedy = lastArgmax === cont[0]!;
      if (cont.length > 1) {
        const rows = this.model.forward(s, cont.slice(0, -1), { allLogits: true, into: this.logitsFor(cont.length - 1) });
        st.compute(rows, cont.length - 1, V);
        for (let j = 1; j < cont.length; j++) {
          ll += st.logprob(rows, j - 1, V, cont[j]!);
          if (!st.isArgmax(j - 1, cont[j]!)) greedy = false;
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
    // the output projection only at the n rows whose next token is scored (the last n of the input)
    const rows = this.model.forwardBatch([{ session: s, tokens: inp, outputRows: n }], { into: this.logitsFor(n) })[0]!;
    const st = this.stats.compute(rows, n, V);
    let ll = 0;
    let greedy = true;
    for (let j = 0; j < n; j++) {
      const next = all[inp.length - n + j + 1]!; // input row inp.length − n + j predicts all[that + 1]
      ll += st.logprob(rows, j, V, next);
      if (!st.isArgmax(j, next)) greedy = false;
    }
    return { ll, isGreedy: greedy, tokens: n };
  }
}

function roundUp(n: number, m: number): number {
  return Math.ceil(n / m) * m;
}

function sameIds(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
