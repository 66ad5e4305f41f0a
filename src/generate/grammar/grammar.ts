// A context-free grammar over Unicode code points, in the shape the matcher walks: every rule is a
// list of alternatives, every alternative a sequence of elements, and an element is either one
// character test (a set of code-point ranges, possibly negated) or a reference to a rule.
// Repetitions and groups of the GBNF text are already expanded into helper rules here, so the
// matcher needs no other construct (llama.cpp's design too).
//
// Flat form: all alternatives laid end to end in `kind`/`arg`, each closed by an END element; a
// position in that array is all a matcher stack entry needs.
import { LlamaError } from '../../errors.js';

/** Character test: code point in one of the inclusive [lo, hi] pairs, or (negated) in none of them. */
export interface CharSet {
  readonly ranges: Int32Array;
  readonly negated: boolean;
}

export type Element = { readonly t: 'char'; readonly set: CharSet } | { readonly t: 'ref'; readonly rule: number };

export const END = 0;
export const CHAR = 1;
export const REF = 2;

export function charSetMatches(set: CharSet, cp: number): boolean {
  const r = set.ranges;
  let hit = false;
  for (let i = 0; i < r.length; i += 2) {
    if (cp >= r[i]! && cp <= r[i + 1]!) {
      hit = true;
      break;
    }
  }
  return hit !== set.negated;
}

/**
 * The code points a set accepts as sorted, merged, inclusive [lo, hi] pairs (negation resolved),
 * so that matching and overlap tests are one scan without allocation.
 */
export function positiveRanges(set: CharSet): Int32Array {
  const pairs: [number, number][] = [];
  for (let i = 0; i < set.ranges.length; i += 2) pairs.push([set.ranges[i]!, set.ranges[i + 1]!]);
  pairs.sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const [a, b] of pairs) {
    const last = merged[merged.length - 1];
    if (last && a <= last[1] + 1) last[1] = Math.max(last[1], b);
    else merged.push([a, b]);
  }
  if (!set.negated) return Int32Array.from(merged.flat());
  const out: number[] = [];
  let next = 0;
  for (const [a, b] of merged) {
    if (a > next) out.push(next, a - 1);
    next = b + 1;
  }
  if (next <= 0x10ffff) out.push(next, 0x10ffff);
  return Int32Array.from(out);
}

/** Is cp in one of the sorted pairs? */
export function rangesMatch(r: Int32Array, cp: number): boolean {
  for (let i = 0; i < r.length; i += 2) {
    if (cp < r[i]!) return false;
    if (cp <= r[i + 1]!) return true;
  }
  return false;
}

/** Does any pair overlap [lo, hi]? */
export function rangesIntersect(r: Int32Array, lo: number, hi: number): boolean {
  for (let i = 0; i < r.length; i += 2) {
    if (r[i]! > hi) return false;
    if (r[i + 1]! >= lo) return true;
  }
  return false;
}

/** A grammar error with the place in the source it is about (1-based line and column, when known). */
export class GrammarError extends LlamaError {
  readonly line: number | undefined;
  readonly column: number | undefined;
  /** the message without the file and place (to re-raise it for a file) */
  readonly detail: string;

  constructor(message: string, opts: { line?: number; column?: number; hint?: string; file?: string } = {}) {
    const where = opts.line !== undefined ? ` (line ${opts.line}, column ${opts.column ?? 1})` : '';
    super('GRAMMAR', message + where, { ...(opts.hint !== undefined ? { hint: opts.hint } : {}), ...(opts.file !== undefined ? { file: opts.file } : {}) });
    this.name = 'GrammarError';
    this.line = opts.line;
    this.column = opts.column;
    this.detail = message;
  }

  /** The same error, said of `file`. */
  inFile(file: string): GrammarError {
    return new GrammarError(this.detail, {
      ...(this.line !== undefined ? { line: this.line } : {}),
      ...(this.column !== undefined ? { column: this.column } : {}),
      ...(this.hint !== undefined ? { hint: this.hint } : {}),
      file,
    });
  }
}

/** The rules as the parser (or a converter) builds them, before they are laid out flat. */
export interface RuleDraft {
  name: string;
  alternatives: Element[][];
  /** offset in the source text where the rule is defined (for error messages) */
  offset?: number;
  /** the user-written rule a helper rule was made for */
  origin?: string;
}

export class Grammar {
  readonly ruleNames: readonly string[];
  readonly root: number;
  /** END / CHAR / REF per flat position */
  readonly kind: Uint8Array;
  /** CHAR: index into `sets`; REF: rule id */
  readonly arg: Int32Array;
  /** per rule: the flat position where each alternative starts */
  readonly ruleStarts: readonly Int32Array[];
  readonly sets: readonly CharSet[];
  /** per set: the accepted code points as sorted [lo, hi] pairs (see positiveRanges) */
  readonly setRanges: readonly Int32Array[];
  /** the text the grammar was parsed from (GBNF) */
  readonly source: string;
  /** matcher caches shared by every matcher of this grammar (see matcher.ts) */
  cache: unknown;

  constructor(rules: readonly RuleDraft[], rootName: string, source: string, position?: (offset: number) => { line: number; column: number }) {
    const ids = new Map(rules.map((r, i) => [r.name, i]));
    const root = ids.get(rootName);
    if (root === undefined) throw new GrammarError(`the grammar has no '${rootName}' rule`, { hint: `define the start rule: ${rootName} ::= ...` });
    this.root = root;
    this.ruleNames = rules.map((r) => r.name);
    this.source = source;
    checkLeftRecursion(rules, position);
    const kind: number[] = [];
    const arg: number[] = [];
    const sets: CharSet[] = [];
    const setIds = new Map<CharSet, number>();
    const starts: Int32Array[] = [];
    for (const r of rules) {
      const s: number[] = [];
      for (const alt of r.alternatives) {
        s.push(kind.length);
        for (const e of alt) {
          if (e.t === 'ref') {
            kind.push(REF);
            arg.push(e.rule);
          } else {
            let id = setIds.get(e.set);
            if (id === undefined) {
              id = sets.length;
              sets.push(e.set);
              setIds.set(e.set, id);
            }
            kind.push(CHAR);
            arg.push(id);
          }
        }
        kind.push(END);
        arg.push(0);
      }
      starts.push(Int32Array.from(s));
    }
    this.kind = Uint8Array.from(kind);
    this.arg = Int32Array.from(arg);
    this.ruleStarts = starts;
    this.sets = sets;
    this.setRanges = sets.map(positiveRanges);
    this.cache = undefined;
  }
}

/**
 * A rule that can reach itself before consuming any character would make the matcher expand
 * forever (llama.cpp refuses these too). Checks every rule, naming the user's rule in the error.
 */
function checkLeftRecursion(rules: readonly RuleDraft[], position?: (offset: number) => { line: number; column: number }): void {
  const n = rules.length;
  const nullable = new Array<boolean>(n).fill(false);
  for (let changed = true; changed; ) {
    changed = false;
    for (let i = 0; i < n; i++) {
      if (nullable[i]) continue;
      if (rules[i]!.alternatives.some((alt) => alt.every((e) => e.t === 'ref' && nullable[e.rule]))) {
        nullable[i] = true;
        changed = true;
      }
    }
  }
  // edges: rule -> rules it can start with (after nullable elements)
  const first: number[][] = rules.map((r) => {
    const out: number[] = [];
    for (const alt of r.alternatives) {
      for (const e of alt) {
        if (e.t === 'char') break;
        out.push(e.rule);
        if (!nullable[e.rule]) break;
      }
    }
    return out;
  });
  const WHITE = 0;
  const GREY = 1;
  const BLACK = 2;
  const color = new Uint8Array(n);
  const path: number[] = [];
  const visit = (i: number): void => {
    color[i] = GREY;
    path.push(i);
    for (const j of first[i]!) {
      if (color[j] === GREY) {
        const cycle = path.slice(path.indexOf(j)).map((k) => rules[k]!.origin ?? rules[k]!.name);
        const named = [...new Set(cycle)];
        const r = rules[j]!;
        const def = rules.find((x) => x.name === (r.origin ?? r.name));
        const where = def?.offset !== undefined && position ? position(def.offset) : undefined;
        throw new GrammarError(`left recursion: rule '${r.origin ?? r.name}' can reach itself without consuming a character (${[...named, named[0]].join(' -> ')})`, {
          ...(where ?? {}),
          hint: 'rewrite it with repetition, e.g. expr ::= term ("+" term)* instead of expr ::= expr "+" term | term; a repeated item must not match the empty string',
        });
      }
      if (color[j] === WHITE) visit(j);
    }
    path.pop();
    color[i] = BLACK;
  };
  for (let i = 0; i < n; i++) if (color[i] === WHITE) visit(i);
}
