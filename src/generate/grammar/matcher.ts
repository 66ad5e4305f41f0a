// Character-level matching of a Grammar, llama.cpp style: the matcher's state is a set of stacks,
// each stack a list of positions in rules (top = the element to match next, below it where to
// continue once that rule is done). Advancing by a code point keeps the stacks whose top character
// test passes, moves them one element on, and expands rule references at the new tops until every
// top is a character test again (or the stack is empty: the input so far is a complete match).
//
// Everything is interned, so states can be compared and cached by number:
// - a stack is a node of a persistent linked list (position, next node); equal stacks share one id;
// - a state is a sorted set of stack ids; equal sets share one id;
// - transitions (state, code point) -> state are remembered.
// Grammars repeat themselves (inside a JSON string every character leads to the same state), so
// after a few tokens most steps are cache hits. The caches belong to the grammar and are shared by
// all its matchers; `trimCaches` starts them over when they grow too large.
import { CHAR, END, rangesIntersect, rangesMatch, type Grammar } from './grammar.js';

/** The state id of "no stack survives" (the input cannot be continued). */
export const DEAD = -1;
const UNKNOWN = -2;
/** highNext: non-ASCII code points do not all lead to the same state */
export const VARIES = -3;

/** Do the sorted pairs cover all of [lo, hi]? */
function rangesCover(r: Int32Array, lo: number, hi: number): boolean {
  for (let i = 0; i < r.length; i += 2) {
    if (r[i]! > lo) return false;
    if (r[i + 1]! >= lo) {
      if (r[i + 1]! >= hi) return true;
      lo = r[i + 1]! + 1;
    }
  }
  return false;
}

export class Automaton {
  // stack nodes; node 0 is the empty stack
  private nodePos: Int32Array = new Int32Array(1024);
  private nodeNext: Int32Array = new Int32Array(1024);
  private nodeCount = 1;
  private readonly nodeIds = new Map<number, number>();
  private readonly expanded = new Map<number, Int32Array>();
  // states
  readonly stateStacks: Int32Array[] = [];
  private readonly stateIds = new Map<string, number>();
  private readonly complete: boolean[] = [];
  private readonly ascii: Int32Array[] = [];
  private readonly other: Map<number, number>[] = [];
  /** per state: next state by which of its stacks accept the character (a bit signature) */
  private readonly bySignature: Map<string, number>[] = [];
  /** per state: the next state for every code point >= U+0080 when they all lead to the same one */
  private readonly high: number[] = [];
  /** per state: may a code point in [lo, hi] come (a partial character's range; key lo·2^21 + hi) */
  private readonly partialOk: Map<number, boolean>[] = [];
  /** the state before any input */
  readonly initial: number;

  constructor(readonly grammar: Grammar) {
    const g = grammar;
    const stacks = new Set<number>();
    for (const start of g.ruleStarts[g.root]!) {
      const node = g.kind[start] === END ? 0 : this.node(start, 0);
      for (const s of this.expand(node)) stacks.add(s);
    }
    this.initial = this.state(stacks);
  }

  get size(): number {
    return this.nodeCount + this.stateStacks.length;
  }

  private node(pos: number, next: number): number {
    const key = pos * 0x100000000 + next;
    let id = this.nodeIds.get(key);
    if (id === undefined) {
      id = this.nodeCount++;
      if (id >= this.nodePos.length) {
        const grow = (a: Int32Array) => {
          const b = new Int32Array(a.length * 2);
          b.set(a);
          return b;
        };
        this.nodePos = grow(this.nodePos);
        this.nodeNext = grow(this.nodeNext);
      }
      this.nodePos[id] = pos;
      this.nodeNext[id] = next;
      this.nodeIds.set(key, id);
    }
    return id;
  }

  /** The stack after its top element is done: the next element of that alternative, or the caller. */
  private advancePast(node: number): number {
    const pos = this.nodePos[node]!;
    const next = this.nodeNext[node]!;
    return this.grammar.kind[pos + 1] === END ? next : this.node(pos + 1, next);
  }

  /** All stacks reachable from `node` by expanding rule references on top (tops: chars, or empty). */
  private expand(node: number): Int32Array {
    let out = this.expanded.get(node);
    if (out) return out;
    const g = this.grammar;
    if (node === 0 || g.kind[this.nodePos[node]!] === CHAR) out = Int32Array.of(node);
    else {
      // REF: each alternative of the rule on top of "what follows the reference"
      const rest = this.advancePast(node);
      const acc = new Set<number>();
      for (const start of g.ruleStarts[g.arg[this.nodePos[node]!]!]!) {
        const s = g.kind[start] === END ? rest : this.node(start, rest);
        for (const x of this.expand(s)) acc.add(x);
      }
      out = Int32Array.from(acc);
    }
    this.expanded.set(node, out);
    return out;
  }

  private state(stacks: Set<number>): number {
    if (stacks.size === 0) return DEAD;
    const sorted = Int32Array.from(stacks).sort();
    const key = sorted.join(',');
    let id = this.stateIds.get(key);
    if (id === undefined) {
      id = this.stateStacks.length;
      this.stateStacks.push(sorted);
      this.stateIds.set(key, id);
      this.complete.push(sorted[0] === 0);
      this.ascii.push(new Int32Array(128).fill(UNKNOWN));
      this.other.push(new Map());
      this.bySignature.push(new Map());
      this.partialOk.push(new Map());
      this.high.push(UNKNOWN);
    }
    return id;
  }

  /** The input so far matches the whole grammar (an end token may come now). */
  isComplete(state: number): boolean {
    return state >= 0 && this.complete[state]!;
  }

  /** Some character can still follow. */
  canContinue(state: number): boolean {
    if (state < 0) return false;
    const s = this.stateStacks[state]!;
    return s.length > 1 || s[0] !== 0;
  }

  /**
   * The cached next states of `state` by ASCII byte (entries below DEAD are not computed yet: call
   * `step`). For tight loops that would otherwise call `step` per byte.
   */
  asciiRow(state: number): Int32Array {
    return this.ascii[state]!;
  }

  /**
   * If every non-ASCII code point leads from `state` to the same state (each character test on top
   * of a stack takes all of them or none: JSON string characters, `.`, most negated classes), that
   * state (or DEAD); otherwise VARIES. Lets the token walk skip per-character lookups for
   * multi-byte characters.
   */
  highNext(state: number): number {
    let h = this.high[state]!;
    if (h !== UNKNOWN) return h;
    const g = this.grammar;
    let uniform = true;
    for (const s of this.stateStacks[state]!) {
      if (s === 0) continue;
      const r = g.setRanges[g.arg[this.nodePos[s]!]!]!;
      const all = rangesCover(r, 0x80, 0xd7ff) && rangesCover(r, 0xe000, 0x10ffff);
      const none = !rangesIntersect(r, 0x80, 0xd7ff) && !rangesIntersect(r, 0xe000, 0x10ffff);
      if (!all && !none) {
        uniform = false;
        break;
      }
    }
    h = uniform ? this.step(state, 0x80) : VARIES;
    this.high[state] = h;
    return h;
  }

  /** The state after one more code point, or DEAD. */
  step(state: number, cp: number): number {
    if (state < 0) return DEAD;
    if (cp < 128) {
      const row = this.ascii[state]!;
      let r = row[cp]!;
      if (r === UNKNOWN) row[cp] = r = this.compute(state, cp);
      return r;
    }
    const m = this.other[state]!;
    let r = m.get(cp);
    if (r === undefined) m.set(cp, (r = this.compute(state, cp)));
    return r;
  }

  private compute(state: number, cp: number): number {
    // Many code points do the same thing (every letter inside a JSON string): the stacks that
    // accept cp decide the next state, so that is computed once per distinct set of stacks.
    const g = this.grammar;
    const stacks = this.stateStacks[state]!;
    let sig = '';
    for (let i = 0; i < stacks.length; i++) {
      const s = stacks[i]!;
      if (s !== 0 && rangesMatch(g.setRanges[g.arg[this.nodePos[s]!]!]!, cp)) sig += i + ',';
    }
    if (sig === '') return DEAD;
    const bySig = this.bySignature[state]!;
    let r = bySig.get(sig);
    if (r === undefined) {
      const next = new Set<number>();
      for (let i = 0; i < stacks.length; i++) {
        const s = stacks[i]!;
        if (s === 0 || !rangesMatch(g.setRanges[g.arg[this.nodePos[s]!]!]!, cp)) continue;
        for (const x of this.expand(this.advancePast(s))) next.add(x);
      }
      r = this.state(next);
      bySig.set(sig, r);
    }
    return r;
  }

  /** Could a code point in [lo, hi] be accepted here? (prunes half-finished UTF-8 sequences) */
  accepts(state: number, lo: number, hi: number): boolean {
    if (state < 0) return false;
    const memo = this.partialOk[state]!;
    const key = lo * 0x200000 + hi; // both <= 0x10FFFF
    const known = memo.get(key);
    if (known !== undefined) return known;
    const g = this.grammar;
    let ok = false;
    for (const s of this.stateStacks[state]!) {
      if (s !== 0 && rangesIntersect(g.setRanges[g.arg[this.nodePos[s]!]!]!, lo, hi)) {
        ok = true;
        break;
      }
    }
    memo.set(key, ok);
    return ok;
  }
}

/** Caches above this many stacks + states are dropped when a matcher resets (memory bound). */
export const CACHE_LIMIT = 2_000_000;

/** The grammar's shared automaton (created on first use). */
export function automatonOf(grammar: Grammar): Automaton {
  let a = grammar.cache as Automaton | undefined;
  if (!(a instanceof Automaton)) grammar.cache = a = new Automaton(grammar);
  return a;
}

/** Start the grammar's caches over if they grew past `limit` (only between generations: state ids die). */
export function trimCaches(grammar: Grammar, limit = CACHE_LIMIT): void {
  const a = grammar.cache as Automaton | undefined;
  if (a instanceof Automaton && a.size > limit) grammar.cache = undefined;
}

/** Feeds code points (or strings) to a grammar and says whether they can be, or are, a full match. */
export class GrammarMatcher {
  private automaton: Automaton;
  state: number;

  constructor(readonly grammar: Grammar) {
    this.automaton = automatonOf(grammar);
    this.state = this.automaton.initial;
  }

  /** Advance by one code point; false (and the matcher is dead) if the grammar cannot take it. */
  acceptChar(cp: number): boolean {
    this.state = this.automaton.step(this.state, cp);
    return this.state !== DEAD;
  }

  /** Advance by every code point of `text`; false as soon as one is refused. */
  acceptString(text: string): boolean {
    for (const ch of text) if (!this.acceptChar(ch.codePointAt(0)!)) return false;
    return true;
  }

  get dead(): boolean {
    return this.state === DEAD;
  }

  isComplete(): boolean {
    return this.automaton.isComplete(this.state);
  }

  canContinue(): boolean {
    return this.automaton.canContinue(this.state);
  }

  reset(): void {
    trimCaches(this.grammar);
    this.automaton = automatonOf(this.grammar);
    this.state = this.automaton.initial;
  }
}

/** Does the grammar match all of `text`? */
export function grammarMatches(grammar: Grammar, text: string): boolean {
  const m = new GrammarMatcher(grammar);
  return m.acceptString(text) && m.isComplete();
}
