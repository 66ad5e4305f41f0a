// The token level of grammar matching: which vocabulary entries may come next.
//
// Tokens are byte strings and a token may end in the middle of a UTF-8 character (byte-fallback
// pieces like <0xE3> do), so the position is (grammar state, partial UTF-8 character). To find the
// allowed tokens, all token byte strings sit in one trie and it is walked once from the current
// position: a prefix the grammar refuses cuts off every token under it, and tokens sharing a prefix
// share its work. A half-finished character survives only if some character test on top of a stack
// can still accept a code point that starts with those bytes. Results are remembered per position
// (the same positions recur: inside a JSON string every character leads back to the same one).
import type { Tokenizer } from '../../tokenizer/tokenizer.js';
import { Automaton, automatonOf, DEAD, VARIES } from './matcher.js';
import type { Grammar } from './grammar.js';

/** All non-special, non-empty tokens by their bytes. */
export class TokenTrie {
  /** per node: first edge and edge count */
  readonly edgeStart: Int32Array;
  readonly edgeCount: Int32Array;
  readonly edgeByte: Uint8Array;
  readonly edgeChild: Int32Array;
  /** per node: tokens whose bytes end here, as [tokenStart, tokenStart + tokenCount) of `tokenIds` */
  readonly tokenStart: Int32Array;
  readonly tokenCount: Int32Array;
  readonly tokenIds: Int32Array;
  /** every token's bytes (empty for those left out) */
  readonly bytes: readonly Uint8Array[];

  constructor(tokenizer: Tokenizer) {
    type N = { kids: Map<number, N>; tokens: number[] };
    const root: N = { kids: new Map(), tokens: [] };
    const bytes: Uint8Array[] = [];
    for (let id = 0; id < tokenizer.vocabSize; id++) {
      const b = tokenizer.isSpecial(id) ? new Uint8Array(0) : tokenizer.tokenBytes(id);
      bytes.push(b);
      if (b.length === 0) continue; // an empty token would let the grammar stall forever
      let n = root;
      for (const x of b) {
        let k = n.kids.get(x);
        if (!k) n.kids.set(x, (k = { kids: new Map(), tokens: [] }));
        n = k;
      }
      n.tokens.push(id);
    }
    this.bytes = bytes;
    // flatten breadth-first
    const order: N[] = [root];
    const index = new Map<N, number>([[root, 0]]);
    for (let i = 0; i < order.length; i++) {
      for (const k of [...order[i]!.kids.keys()].sort((a, b) => a - b)) {
        const c = order[i]!.kids.get(k)!;
        index.set(c, order.length);
        order.push(c);
      }
    }
    const n = order.length;
    this.edgeStart = new Int32Array(n);
    this.edgeCount = new Int32Array(n);
    this.edgeByte = new Uint8Array(n);
    this.edgeChild = new Int32Array(n);
    this.tokenStart = new Int32Array(n);
    this.tokenCount = new Int32Array(n);
    const ids: number[] = [];
    let e = 0;
    for (let i = 0; i < n; i++) {
      const node = order[i]!;
      this.edgeStart[i] = e;
      this.edgeCount[i] = node.kids.size;
      for (const k of [...node.kids.keys()].sort((a, b) => a - b)) {
        this.edgeByte[e] = k;
        this.edgeChild[e] = index.get(node.kids.get(k)!)!;
        e++;
      }
      this.tokenStart[i] = ids.length;
      this.tokenCount[i] = node.tokens.length;
      ids.push(...node.tokens);
    }
    this.tokenIds = Int32Array.from(ids);
  }

  private static cache = new WeakMap<Tokenizer, TokenTrie>();

  /** The trie of a tokenizer (built once per tokenizer). */
  static of(tokenizer: Tokenizer): TokenTrie {
    let t = TokenTrie.cache.get(tokenizer);
    if (!t) TokenTrie.cache.set(tokenizer, (t = new TokenTrie(tokenizer)));
    return t;
  }
}

/**
 * A partial UTF-8 character packed in one number: (bits so far << 4) | (sequence length << 2) |
 * continuation bytes still expected. 0 = on a character boundary.
 */
export type Partial = number;

/** smallest code point per UTF-8 sequence length (anything below is an overlong form) */
const MIN_CP = [0, 0, 0x80, 0x800, 0x10000];

/**
 * One more byte from (state, partial). Returns the new state (DEAD if refused) and leaves the new
 * partial in `out.partial`. Overlong forms, surrogates and code points past U+10FFFF are refused
 * as early as their bytes show it (a decoder would turn them into U+FFFD, not what the grammar saw).
 */
function stepByte(a: Automaton, state: number, partial: Partial, b: number, out: { partial: Partial }): number {
  let need = partial & 3;
  let len = (partial >>> 2) & 3;
  let val = partial >>> 4;
  if (need === 0) {
    if (b < 0x80) {
      out.partial = 0;
      return a.step(state, b);
    }
    if (b >= 0xc2 && b <= 0xdf) {
      len = 2;
      val = b & 0x1f;
    } else if ((b & 0xf0) === 0xe0) {
      len = 3;
      val = b & 0x0f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      len = 4;
      val = b & 0x07;
    } else return DEAD; // a continuation byte with nothing to continue, or a byte UTF-8 never uses
    need = len - 1;
  } else {
    if ((b & 0xc0) !== 0x80) return DEAD;
    val = (val << 6) | (b & 0x3f);
    need--;
    if (need === 0) {
      if (val < MIN_CP[len]! || (val >= 0xd800 && val <= 0xdfff) || val > 0x10ffff) return DEAD;
      out.partial = 0;
      const high = a.highNext(state);
      return high !== VARIES ? high : a.step(state, val);
    }
  }
  // still inside a character: alive if some valid code point starting with these bits could be
  // accepted by a character test on top of a stack
  const shift = 6 * need;
  const lo = Math.max(val * (1 << shift), MIN_CP[len]!);
  const hi = Math.min(val * (1 << shift) + (1 << shift) - 1, 0x10ffff);
  if (lo > hi) return DEAD;
  const high = a.highNext(state);
  if (high === VARIES ? !a.accepts(state, lo, hi) : high === DEAD) return DEAD;
  out.partial = (val << 4) | (len << 2) | need;
  return state;
}

/** Token ids kept in allowed-token lists at most (4 bytes each: 64 MB), then the cache starts over. */
const ALLOWED_CACHE_IDS = 16 * 1024 * 1024;

/** Where a token-level matcher stands. */
export interface TokenPosition {
  state: number;
  partial: Partial;
}

/** A grammar joined to one tokenizer's vocabulary: allowed tokens per position, cached. */
export class TokenGrammar {
  readonly trie: TokenTrie;
  readonly endIds: Int32Array;
  private automaton: Automaton;
  private readonly allowedCache = new Map<number, Int32Array>();
  private cachedIds = 0;
  private readonly scratch = { partial: 0 };
  private stackNode = new Int32Array(0);
  private stackState = new Int32Array(0);
  private stackPartial = new Int32Array(0);
  private mark = new Uint8Array(0);

  constructor(readonly grammar: Grammar, readonly tokenizer: Tokenizer, endTokens: Iterable<number> = []) {
    this.trie = TokenTrie.of(tokenizer);
    this.endIds = Int32Array.from(new Set([...tokenizer.eogIds, ...endTokens])).sort();
    this.automaton = automatonOf(grammar);
  }

  /** The position before any output (after a cache reset the old state ids mean nothing). */
  start(): TokenPosition {
    const a = automatonOf(this.grammar);
    if (a !== this.automaton) {
      this.automaton = a;
      this.allowedCache.clear();
      this.cachedIds = 0;
    }
    return { state: a.initial, partial: 0 };
  }

  isEnd(token: number): boolean {
    for (const e of this.endIds) if (e === token) return true;
    return false;
  }

  /** The input so far is a full match (and on a character boundary): an end token may come. */
  isComplete(p: TokenPosition): boolean {
    return p.partial === 0 && this.automaton.isComplete(p.state);
  }

  /** Nothing but an end token can come. */
  isDone(p: TokenPosition): boolean {
    return this.isComplete(p) && !this.automaton.canContinue(p.state);
  }

  /** The position after `token`, or undefined if the grammar refuses it (end tokens: only when complete). */
  next(p: TokenPosition, token: number): TokenPosition | undefined {
    if (this.isEnd(token)) return this.isComplete(p) ? p : undefined;
    const b = this.trie.bytes[token];
    if (!b || b.length === 0) return undefined;
    let state = p.state;
    let partial = p.partial;
    for (const x of b) {
      state = stepByte(this.automaton, state, partial, x, this.scratch);
      if (state === DEAD) return undefined;
      partial = this.scratch.partial;
    }
    return { state, partial };
  }

  /** Every token allowed at `p`, ascending ids, end tokens included when the match is complete. */
  allowed(p: TokenPosition): Int32Array {
    const key = p.state * 0x4000000 + p.partial; // partial < 2^26
    let out = this.allowedCache.get(key);
    if (!out) {
      out = this.walk(p);
      if (this.cachedIds + out.length > ALLOWED_CACHE_IDS) {
        this.allowedCache.clear();
        this.cachedIds = 0;
      }
      this.allowedCache.set(key, out);
      this.cachedIds += out.length;
    }
    return out;
  }

  /** The allowed tokens at `p` if already computed (no trie walk), else undefined. */
  cachedAllowed(p: TokenPosition): Int32Array | undefined {
    return this.allowedCache.get(p.state * 0x4000000 + p.partial);
  }

  private walk(p: TokenPosition): Int32Array {
    const t = this.trie;
    const a = this.automaton;
    const nodeCount = t.edgeStart.length;
    if (this.stackNode.length < nodeCount) {
      // a depth-first walk holds each trie node at most once
      this.stackNode = new Int32Array(nodeCount);
      this.stackState = new Int32Array(nodeCount);
      this.stackPartial = new Int32Array(nodeCount);
    }
    if (this.mark.length < this.tokenizer.vocabSize) this.mark = new Uint8Array(this.tokenizer.vocabSize);
    const { stackNode, stackState, stackPartial, mark } = this;
    const { edgeStart, edgeCount, edgeByte, edgeChild, tokenStart, tokenCount, tokenIds } = t;
    const scratch = this.scratch;
    let count = 0;
    if (this.isComplete(p)) for (const id of this.endIds) if (!mark[id]) (mark[id] = 1), count++;
    let top = 0;
    stackNode[0] = 0;
    stackState[0] = p.state;
    stackPartial[0] = p.partial;
    top = 1;
    while (top > 0) {
      top--;
      const n = stackNode[top]!;
      const st = stackState[top]!;
      const pt = stackPartial[top]!;
      // ASCII bytes on a character boundary: the state's cached row, without a call per byte
      const row = pt === 0 ? a.asciiRow(st) : undefined;
      const end = edgeStart[n]! + edgeCount[n]!;
      for (let e = edgeStart[n]!; e < end; e++) {
        const b = edgeByte[e]!;
        let ns: number;
        let np = 0;
        if (row !== undefined && b < 0x80) {
          ns = row[b]!;
          if (ns < DEAD) ns = a.step(st, b); // not computed yet
        } else {
          ns = stepByte(a, st, pt, b, scratch);
          np = scratch.partial;
        }
        if (ns === DEAD) continue;
        const child = edgeChild[e]!;
        for (let i = tokenStart[child]!, k = i + tokenCount[child]!; i < k; i++) {
          mark[tokenIds[i]!] = 1;
          count++;
        }
        if (edgeCount[child]! > 0) {
          stackNode[top] = child;
          stackState[top] = ns;
          stackPartial[top] = np;
          top++;
        }
      }
    }
    // ids in ascending order, clearing the marks for the next walk
    const out = new Int32Array(count);
    for (let id = 0, j = 0; j < count; id++) {
      if (mark[id]) {
        out[j++] = id;
        mark[id] = 0;
      }
    }
    return out;
  }
}
