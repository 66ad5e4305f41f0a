// Grammar-constrained sampling as a step of the sampler chain.
//
// `grammarSampler` is a Sampler: placed first in a chain, it removes every candidate the grammar
// refuses (the whole vocabulary is checked through the token trie, results cached per position).
// `withGrammar` puts it first in an existing chain, or (option `lazy`) samples the way llama.cpp
// does: run the unconstrained chain first and keep its pick when the grammar allows it (one token's
// bytes to check); only when it is refused, filter the whole vocabulary and run the chain again.
// With plain softmax sampling both give the same distribution (P(t) + P(refused) * P(t)/P(allowed)
// = P(t)/P(allowed)); with top-k/top-p in the chain the lazy one differs slightly, as in llama.cpp.
//
// Prompt tokens: the generation loop tells the chain every prompt token through `accept`, but the
// grammar constrains only what is generated. So the grammar advances only on a token that follows
// one of its own `apply`/`sample` calls; other accepted tokens are ignored.
import { Candidates, SamplerChain, checkLogits, type Sampler, type SamplerContext } from '../sampler.js';
import { LlamaError } from '../../errors.js';
import type { Tokenizer } from '../../tokenizer/tokenizer.js';
import { GrammarError, type Grammar } from './grammar.js';
import { TokenGrammar, type TokenPosition } from './tokens.js';
import { trimCaches } from './matcher.js';

export interface GrammarSamplerOptions {
  /** ids that end generation besides tokenizer.eogIds (e.g. generate's `stopTokens`) */
  endTokens?: Iterable<number>;
}

export interface GrammarSampler extends Sampler {
  readonly grammar: Grammar;
  /** may `token` come next? */
  allows(token: number): boolean;
  /** advance by a generated token (throws GRAMMAR if the grammar refuses it) */
  advance(token: number): void;
  /** the output so far is a full match: an end token is allowed now */
  isComplete(): boolean;
  /** a full match that nothing can extend: only an end token may come (a loop may stop here) */
  isDone(): boolean;
}

/** A sampler that keeps only tokens the grammar allows (end tokens only once the match is complete). */
export function grammarSampler(grammar: Grammar, tokenizer: Tokenizer, opts: GrammarSamplerOptions = {}): GrammarSampler {
  const tg = new TokenGrammar(grammar, tokenizer, opts.endTokens ?? []);
  let pos: TokenPosition = tg.start();
  let armed = false;
  let mark = new Uint8Array(0);
  const self: GrammarSampler = {
    name: 'grammar',
    grammar,
    apply(c: Candidates, _ctx: SamplerContext) {
      armed = true;
      const allowed = tg.allowed(pos);
      if (allowed.length === 0) {
        throw new GrammarError('no token of the vocabulary can continue the grammar here', {
          hint: 'the grammar needs a character no token provides, or it is complete and the tokenizer has no end-of-generation token; check the grammar against the vocabulary',
        });
      }
      const keep: number[] = [];
      if (c.identity) {
        for (const id of allowed) if (id < c.n) keep.push(id);
      } else {
        let max = 0;
        for (const id of allowed) max = Math.max(max, id);
        if (mark.length <= max) mark = new Uint8Array(max + 1);
        for (const id of allowed) mark[id] = 1;
        for (let i = 0; i < c.n; i++) {
          const id = c.ids[i]!;
          if (id < mark.length && mark[id]) keep.push(i);
        }
        for (const id of allowed) mark[id] = 0;
      }
      if (keep.length === 0) {
        throw new GrammarError('every token the grammar allows here was removed by an earlier sampling step', { hint: 'place the grammar first in the sampler chain (withGrammar does)' });
      }
      if (keep.length < c.n) {
        // positions stay in their order, so a sorted list stays sorted
        const wasSorted = c.sorted;
        c.permute(keep);
        c.sorted = wasSorted;
      }
    },
    accept(token: number) {
      if (!armed) return; // a prompt token
      armed = false;
      self.advance(token);
    },
    reset() {
      armed = false;
      trimCaches(grammar);
      pos = tg.start();
    },
    allows(token: number) {
      return tg.next(pos, token) !== undefined;
    },
    advance(token: number) {
      const next = tg.next(pos, token);
      if (!next) {
        throw new GrammarError(`the grammar does not allow token ${token} (${JSON.stringify(tokenizer.piece(token))}) here`, {
          hint: 'tokens fed to a grammar sampler must come from it (or be allowed by it)',
        });
      }
      if (!tg.isEnd(token)) pos = next;
    },
    isComplete() {
      return tg.isComplete(pos);
    },
    isDone() {
      return tg.isDone(pos);
    },
  };
  return self;
}

export interface GrammarChainOptions {
  /**
   * llama.cpp's order: the unconstrained chain picks first and only a refused pick costs the
   * full-vocabulary filter and a second pass. Default false: the grammar filters first.
   */
  lazy?: boolean;
}

/**
 * `inner` with the grammar placed first. Two strategies, both deterministic for a seed:
 * - grammar first (default): the allowed tokens (one trie walk per new position, cached) are kept
 *   and the chain runs over just those. The distribution is exactly the chain's over the allowed
 *   tokens, and the later steps (top-k, top-p, softmax) work on a short list: on the 110M synthetic
 *   benchmark this costs less per token than unconstrained sampling over the whole vocabulary.
 * - lazy (llama.cpp's): the unconstrained chain picks; if the grammar allows the pick (one token's
 *   bytes checked) it stands, else the grammar filters and the chain runs again. Cheaper when the
 *   model mostly agrees with the grammar and the trie walk is costly; with top-k/top-p in the chain
 *   the result is close to, not exactly, the constrained distribution.
 * The rng, samplers and state of `inner` are shared, not copied.
 */
export class GrammarChain extends SamplerChain {
  private pending = -1;
  private readonly lazy: boolean;
  /** how many picks went through the grammar filter (every one, unless lazy) */
  filtered = 0;
  picks = 0;

  constructor(readonly inner: SamplerChain, readonly grammar: GrammarSampler, opts: GrammarChainOptions = {}) {
    super([grammar, ...inner.samplers], 0);
    (this as { rng: SamplerChain['rng'] }).rng = inner.rng;
    this.lazy = opts.lazy ?? false;
  }

  override sample(logits: ArrayLike<number>): number {
    checkLogits(logits);
    this.picks++;
    if (this.lazy) {
      const first = this.candidates(logits);
      for (const s of this.inner.samplers) s.apply(first, this.inner);
      if (first.selected >= 0 && this.grammar.allows(first.selected)) {
        this.pending = first.selected;
        return first.selected;
      }
    }
    this.filtered++;
    const c = this.candidates(logits); // (first is done with: same arrays)
    this.grammar.apply(c, this.inner);
    for (const s of this.inner.samplers) s.apply(c, this.inner);
    if (c.selected < 0) {
      const last = this.inner.samplers[this.inner.samplers.length - 1]?.name;
      if (last !== 'greedy' && last !== 'dist') throw new LlamaError('INTERNAL', 'the sampler chain has no final step (greedy or dist)');
      throw new LlamaError('USAGE', 'no token can be sampled: every token the grammar allows was filtered out or has a logit of -Infinity', {
        hint: 'check the logit bias (a bias of -Infinity bans a token) against the grammar',
      });
    }
    this.pending = c.selected;
    return c.selected;
  }

  override accept(token: number): void {
    this.inner.accept(token);
    // only the token just sampled moves the grammar; prompt tokens do not
    if (token === this.pending) {
      this.pending = -1;
      this.grammar.advance(token);
    }
  }

  override reset(seed?: number | bigint): void {
    this.inner.reset(seed);
    this.grammar.reset?.();
    this.pending = -1;
  }
}

/** `chain` constrained by a grammar sampler placed first (see GrammarChain). */
export function withGrammar(chain: SamplerChain, grammar: GrammarSampler, opts: GrammarChainOptions = {}): GrammarChain {
  return new GrammarChain(chain, grammar, opts);
}
