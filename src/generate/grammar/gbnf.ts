// GBNF, the grammar notation of llama.cpp (grammars/README.md), parsed into a Grammar:
//
//   root  ::= "Answer: " (yes | no) "\n"      # rules, literals, groups, alternatives, comments
//   yes   ::= [Yy] "es"?                      # character classes, ? * + {m} {m,} {m,n}
//   no    ::= [^a-z\x00-\x1F]{2,4} | .        # negated classes, escapes, any character
//
// The layout rules follow llama.cpp's reader: a newline ends a rule, except inside parentheses or
// right after `|`; `#` starts a comment to the end of the line; rule names are letters, digits
// and '-'; escapes are \n \r \t \\ \" \[ \] \- \xHH \uHHHH \UHHHHHHHH. Repetitions become helper
// rules: x{m,n} is m copies of x then n-m nested optional ones (never n independent `x?`, which
// would make the matcher track every way of splitting the repeats).
import { Grammar, GrammarError, type CharSet, type Element, type RuleDraft } from './grammar.js';

/** Bounds above this are refused: each unit of a bound is a helper rule. */
export const MAX_REPETITION = 10000;

/** Parse GBNF text into a grammar whose start rule is `root` (or `rootName`). */
export function parseGbnf(text: string, rootName = 'root'): Grammar {
  const p = new GbnfParser(text);
  p.parse();
  return new Grammar(p.finish(), rootName, text, (o) => p.position(o));
}

const isWordChar = (c: string | undefined) => c !== undefined && /[a-zA-Z0-9-]/.test(c);
const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';

class GbnfParser {
  private pos = 0;
  private readonly rules: RuleDraft[] = [];
  private readonly ids = new Map<string, number>();
  /** first place each rule is referenced (for "undefined rule" errors) */
  private readonly firstUse = new Map<number, number>();
  private readonly defined = new Set<number>();
  private helperCount = new Map<string, number>();

  constructor(private readonly src: string) {}

  position(offset: number): { line: number; column: number } {
    let line = 1;
    let col = 1;
    for (let i = 0; i < offset && i < this.src.length; i++) {
      if (this.src[i] === '\n') {
        line++;
        col = 1;
      } else col++;
    }
    return { line, column: col };
  }

  private fail(message: string, offset = this.pos, hint?: string): never {
    const at = this.position(offset);
    const found = offset >= this.src.length ? 'end of input' : JSON.stringify(this.src.slice(offset, offset + 12));
    throw new GrammarError(`GBNF: ${message}, found ${found}`, { ...at, ...(hint !== undefined ? { hint } : { hint: 'see the GBNF syntax in docs/structured-output.md (llama.cpp grammars/README.md)' }) });
  }

  private ruleId(name: string): number {
    let id = this.ids.get(name);
    if (id === undefined) {
      id = this.rules.length;
      this.rules.push({ name, alternatives: [] });
      this.ids.set(name, id);
    }
    return id;
  }

  private helperRule(parent: string, alternatives: Element[][]): number {
    const k = (this.helperCount.get(parent) ?? 0) + 1;
    this.helperCount.set(parent, k);
    // '_' cannot appear in a GBNF name, so a helper never collides with a user's rule
    const id = this.ruleId(`${parent}_${k}`);
    this.rules[id]!.alternatives = alternatives;
    this.rules[id]!.origin = parent;
    return id;
  }

  private skipSpace(newlineOk: boolean): void {
    const s = this.src;
    for (;;) {
      const c = s[this.pos];
      if (c === ' ' || c === '\t') this.pos++;
      else if (c === '#') {
        while (this.pos < s.length && s[this.pos] !== '\n' && s[this.pos] !== '\r') this.pos++;
      } else if (newlineOk && (c === '\n' || c === '\r')) this.pos++;
      else return;
    }
  }

  private name(): string {
    const start = this.pos;
    while (isWordChar(this.src[this.pos])) this.pos++;
    if (this.pos === start) this.fail('expecting a rule name (letters, digits and -)');
    return this.src.slice(start, this.pos);
  }

  private int(): number {
    const start = this.pos;
    while (isDigit(this.src[this.pos])) this.pos++;
    if (this.pos === start) this.fail('expecting a number');
    return Number(this.src.slice(start, this.pos));
  }

  parse(): void {
    this.skipSpace(true);
    while (this.pos < this.src.length) this.rule();
    if (this.rules.length === 0) this.fail('the grammar is empty', 0, 'write at least: root ::= ...');
  }

  private rule(): void {
    const start = this.pos;
    const name = this.name();
    this.skipSpace(false);
    if (!this.src.startsWith('::=', this.pos)) this.fail(`expecting '::=' after the rule name '${name}'`);
    this.pos += 3;
    this.skipSpace(true);
    const id = this.ruleId(name);
    if (this.defined.has(id)) this.fail(`the rule '${name}' is defined twice`, start, 'give each rule one definition; join alternatives with |');
    this.defined.add(id);
    this.rules[id]!.offset = start;
    this.rules[id]!.alternatives = this.alternatives(name, false);
    const c = this.src[this.pos];
    if (c === '\r') this.pos += this.src[this.pos + 1] === '\n' ? 2 : 1;
    else if (c === '\n') this.pos++;
    else if (this.pos < this.src.length) this.fail('expecting a newline or the end of the grammar', this.pos, c === ')' ? "a ')' without its '('" : "continue a rule on the next line only inside ( ) or after '|'");
    this.skipSpace(true);
  }

  private alternatives(ruleName: string, nested: boolean): Element[][] {
    const alts = [this.sequence(ruleName, nested)];
    while (this.src[this.pos] === '|') {
      this.pos++;
      this.skipSpace(true);
      alts.push(this.sequence(ruleName, nested));
    }
    return alts;
  }

  private sequence(ruleName: string, nested: boolean): Element[] {
    const out: Element[] = [];
    let lastStart = -1; // where the last symbol's elements begin (what a repetition applies to)
    const s = this.src;
    while (this.pos < s.length) {
      const c = s[this.pos]!;
      if (c === '"') {
        lastStart = out.length;
        this.pos++;
        while (s[this.pos] !== '"') {
          if (this.pos >= s.length) this.fail('unterminated string literal');
          const cp = this.char();
          out.push({ t: 'char', set: single(cp) });
        }
        this.pos++;
        // "" is an empty symbol: a repetition after it has nothing to repeat
        if (out.length === lastStart) lastStart = -1;
      } else if (c === '[') {
        lastStart = out.length;
        this.pos++;
        let negated = false;
        if (s[this.pos] === '^') {
          negated = true;
          this.pos++;
        }
        const ranges: number[] = [];
        while (s[this.pos] !== ']') {
          if (this.pos >= s.length) this.fail('unterminated character class');
          const lo = this.char();
          let hi = lo;
          if (s[this.pos] === '-' && s[this.pos + 1] !== ']' && this.pos + 1 < s.length) {
            this.pos++;
            hi = this.char();
            if (hi < lo) this.fail(`the range ends below its start (U+${lo.toString(16)}-U+${hi.toString(16)})`, this.pos - 1);
          }
          ranges.push(lo, hi);
        }
        this.pos++;
        out.push({ t: 'char', set: { ranges: Int32Array.from(ranges), negated } });
      } else if (c === '.') {
        lastStart = out.length;
        this.pos++;
        out.push({ t: 'char', set: ANY });
      } else if (isWordChar(c)) {
        lastStart = out.length;
        const at = this.pos;
        const id = this.ruleId(this.name());
        if (!this.firstUse.has(id)) this.firstUse.set(id, at);
        out.push({ t: 'ref', rule: id });
      } else if (c === '(') {
        lastStart = out.length;
        this.pos++;
        this.skipSpace(true);
        const alts = this.alternatives(ruleName, true);
        if (s[this.pos] !== ')') this.fail("expecting ')'");
        this.pos++;
        out.push({ t: 'ref', rule: this.helperRule(ruleName, alts) });
      } else if (c === '*' || c === '+' || c === '?' || c === '{') {
        if (lastStart < 0) this.fail(`'${c}' needs an item before it to repeat`);
        let min: number;
        let max: number;
        if (c === '{') {
          this.pos++;
          this.skipSpace(nested);
          min = this.int();
          this.skipSpace(nested);
          max = min;
          if (s[this.pos] === ',') {
            this.pos++;
            this.skipSpace(nested);
            max = isDigit(s[this.pos]) ? this.int() : Infinity;
            this.skipSpace(nested);
          }
          if (s[this.pos] !== '}') this.fail("expecting '}' to close the repetition");
          if (max < min) this.fail(`the repetition {${min},${max}} has its maximum below its minimum`);
          if (min > MAX_REPETITION || (max !== Infinity && max > MAX_REPETITION)) this.fail(`repetition bounds above ${MAX_REPETITION} are not supported`);
        } else {
          min = c === '+' ? 1 : 0;
          max = c === '?' ? 1 : Infinity;
        }
        this.pos++;
        const item = out.splice(lastStart);
        out.push(...this.repeat(ruleName, item, min, max));
        lastStart = -1; // llama.cpp: a repetition of a repetition needs parentheses
      } else if (c === '<') {
        this.fail('token references (<...>) are not supported; write the text as a string literal');
      } else break;
      this.skipSpace(nested);
    }
    return out;
  }

  /** item{min,max} as elements (helper rules for the optional and open-ended parts). */
  private repeat(ruleName: string, item: Element[], min: number, max: number): Element[] {
    const one: Element = item.length === 1 ? item[0]! : { t: 'ref', rule: this.helperRule(ruleName, [item]) };
    const out: Element[] = [];
    for (let i = 0; i < min; i++) out.push(one);
    if (max === Infinity) {
      // star ::= one star | (empty) -- right recursion, which the matcher handles without growth
      const id = this.helperRule(ruleName, []);
      this.rules[id]!.alternatives = [[one, { t: 'ref', rule: id }], []];
      out.push({ t: 'ref', rule: id });
    } else if (max > min) {
      // opt_1 ::= one | (empty);  opt_k ::= one opt_(k-1) | (empty)
      let prev = this.helperRule(ruleName, [[one], []]);
      for (let k = 2; k <= max - min; k++) prev = this.helperRule(ruleName, [[one, { t: 'ref', rule: prev }], []]);
      out.push({ t: 'ref', rule: prev });
    }
    return out;
  }

  /** One character of a literal or class, escapes decoded; returns its code point. */
  private char(): number {
    const s = this.src;
    const c = s[this.pos];
    if (c === '\\') {
      const e = s[this.pos + 1];
      const hex = (n: number) => {
        const h = s.slice(this.pos + 2, this.pos + 2 + n);
        if (h.length !== n || !/^[0-9a-fA-F]+$/.test(h)) this.fail(`'\\${e}' needs ${n} hex digits`);
        this.pos += 2 + n;
        const v = parseInt(h, 16);
        if (v > 0x10ffff) this.fail(`U+${h} is beyond the last Unicode code point`, this.pos - n - 2);
        return v;
      };
      switch (e) {
        case 'x':
          return hex(2);
        case 'u':
          return hex(4);
        case 'U':
          return hex(8);
        case 'n':
          this.pos += 2;
          return 10;
        case 'r':
          this.pos += 2;
          return 13;
        case 't':
          this.pos += 2;
          return 9;
        case '\\':
        case '"':
        case '[':
        case ']':
        case '-':
          this.pos += 2;
          return e.charCodeAt(0);
        default:
          this.fail(`unknown escape '\\${e ?? ''}'`, this.pos, 'valid escapes: \\n \\r \\t \\\\ \\" \\[ \\] \\- \\xHH \\uHHHH \\UHHHHHHHH');
      }
    }
    const cp = s.codePointAt(this.pos)!;
    this.pos += cp > 0xffff ? 2 : 1;
    return cp;
  }

  finish(): RuleDraft[] {
    for (const [id, at] of this.firstUse) {
      if (!this.defined.has(id)) this.fail(`the rule '${this.rules[id]!.name}' is used but never defined`, at, `define it: ${this.rules[id]!.name} ::= ...`);
    }
    return this.rules;
  }
}

const single = (cp: number): CharSet => ({ ranges: Int32Array.of(cp, cp), negated: false });
/** `.`: any code point */
export const ANY: CharSet = { ranges: new Int32Array(0), negated: true };
