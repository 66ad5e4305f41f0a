// A practical subset of regular expressions (JSON Schema `pattern`) turned into a GBNF expression
// for the *contents* of a JSON string: literals, `.`, classes [a-z] [^...], \d \w \s (and \D \W \S
// outside classes), escapes, groups ( ) (?: ), alternation, and the quantifiers ? * + {m} {m,}
// {m,n} (lazy `?` suffixes accepted: they match the same strings). Anything else (look-arounds,
// back-references, \b, anchors in the middle) is a GRAMMAR error naming it.
//
// The pattern is matched against the whole string (a leading ^ and trailing $ are optional): every
// string it generates also satisfies the unanchored JSON Schema semantics. Characters that JSON
// must escape (", \, control characters) are left out of classes and written escaped when
// literal, so the output stays a valid JSON string whose decoded value matches the pattern.
import { GrammarError } from './grammar.js';

type Ranges = [number, number][];

/** code points a JSON string can hold unescaped: not ", \, U+0000-U+001F, U+007F */
const FORBIDDEN: Ranges = [
  [0x00, 0x1f],
  [0x22, 0x22],
  [0x5c, 0x5c],
  [0x7f, 0x7f],
];
const DIGIT: Ranges = [[0x30, 0x39]];
const WORD: Ranges = [
  [0x30, 0x39],
  [0x41, 0x5a],
  [0x5f, 0x5f],
  [0x61, 0x7a],
];
const SPACE: Ranges = [
  [0x09, 0x0d],
  [0x20, 0x20],
  [0xa0, 0xa0],
  [0x1680, 0x1680],
  [0x2000, 0x200a],
  [0x2028, 0x2029],
  [0x202f, 0x202f],
  [0x205f, 0x205f],
  [0x3000, 0x3000],
  [0xfeff, 0xfeff],
];

function normalize(r: Ranges): Ranges {
  const s = [...r].sort((a, b) => a[0] - b[0]);
  const out: Ranges = [];
  for (const [a, b] of s) {
    const last = out[out.length - 1];
    if (last && a <= last[1] + 1) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

function complement(r: Ranges): Ranges {
  const out: Ranges = [];
  let next = 0;
  for (const [a, b] of normalize(r)) {
    if (a > next) out.push([next, a - 1]);
    next = b + 1;
  }
  if (next <= 0x10ffff) out.push([next, 0x10ffff]);
  return out;
}

function subtract(r: Ranges, minus: Ranges): Ranges {
  const keep = complement(minus);
  const out: Ranges = [];
  for (const [a, b] of normalize(r)) for (const [c, d] of keep) if (c <= b && d >= a) out.push([Math.max(a, c), Math.min(b, d)]);
  return out;
}

/** One code point inside a GBNF class, escaped unless plainly printable. */
function classChar(cp: number): string {
  if ((cp >= 0x30 && cp <= 0x39) || (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a)) return String.fromCodePoint(cp);
  if (cp <= 0xff) return '\\x' + cp.toString(16).padStart(2, '0');
  if (cp <= 0xffff) return '\\u' + cp.toString(16).padStart(4, '0');
  return '\\U' + cp.toString(16).padStart(8, '0');
}

function classOf(r: Ranges, negated = false): string {
  const body = normalize(r)
    .map(([a, b]) => (a === b ? classChar(a) : `${classChar(a)}-${classChar(b)}`))
    .join('');
  return `[${negated ? '^' : ''}${body}]`;
}

/** A GBNF string literal for `text` (as it must appear inside a JSON string). */
export function gbnfLiteral(text: string): string {
  let out = '"';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (cp < 0x20 || cp === 0x7f) out += '\\x' + cp.toString(16).padStart(2, '0');
    else out += ch;
  }
  return out + '"';
}

/** A JSON-escaped literal for one code point of the decoded string. */
function jsonCharLiteral(cp: number): string {
  return gbnfLiteral(JSON.stringify(String.fromCodePoint(cp)).slice(1, -1));
}

/** A class that matches what `r` matches among characters a JSON string holds unescaped. */
function jsonClass(r: Ranges, negated: boolean): string {
  if (negated) return classOf([...r, ...FORBIDDEN], true);
  const ok = subtract(r, FORBIDDEN);
  if (ok.length === 0) {
    // only characters JSON escapes: spell out the few single ones, else refuse
    const all = normalize(r);
    const singles = all.flatMap(([a, b]) => (b - a < 32 ? Array.from({ length: b - a + 1 }, (_, i) => a + i) : []));
    if (singles.length === 0) throw new GrammarError('pattern: a character class with only control characters is not supported');
    return '(' + singles.map(jsonCharLiteral).join(' | ') + ')';
  }
  return classOf(ok);
}

/** Convert a regex pattern to a GBNF expression for the contents of a JSON string. */
export function patternToGbnf(pattern: string): string {
  let src = pattern;
  if (src.startsWith('^')) src = src.slice(1);
  if (src.endsWith('$')) {
    // a trailing $ is an anchor unless escaped (an odd number of backslashes before it)
    let k = 0;
    while (src[src.length - 2 - k] === '\\') k++;
    if (k % 2 === 0) src = src.slice(0, -1);
  }
  let i = 0;
  const fail = (what: string): never => {
    throw new GrammarError(`pattern ${JSON.stringify(pattern)}: ${what} (at offset ${i}) is not supported`, {
      hint: 'patterns may use literals, ., [classes], \\d \\w \\s, groups, | and the quantifiers ? * + {m,n}',
    });
  };

  const alternation = (): string => {
    const alts = [sequence()];
    while (src[i] === '|') {
      i++;
      alts.push(sequence());
    }
    return alts.length === 1 ? alts[0]! : '(' + alts.map((a) => a || '""').join(' | ') + ')';
  };

  const sequence = (): string => {
    const parts: string[] = [];
    while (i < src.length && src[i] !== '|' && src[i] !== ')') {
      const a = atom();
      parts.push(quantified(a));
    }
    return parts.join(' ');
  };

  const quantified = (a: string): string => {
    const c = src[i];
    let q = '';
    if (c === '*' || c === '+' || c === '?') {
      q = c;
      i++;
    } else if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(src.slice(i));
      if (!m) return fail("a '{' that is not a quantifier");
      const min = Number(m[1]);
      const max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
      if (max < min) fail(`the quantifier ${m[0]} with its maximum below its minimum`);
      q = max === Infinity ? `{${min},}` : max === min ? `{${min}}` : `{${min},${max}}`;
      i += m[0].length;
    } else return a;
    if (src[i] === '?') i++; // lazy: the same strings
    else if (src[i] === '+') fail('a possessive quantifier');
    return /^[("[]/.test(a) && !a.includes(' ') ? a + q : `(${a})${q}`;
  };

  const escapeRanges = (inClass: boolean): { ranges: Ranges; negated: boolean } | number => {
    const e = src[i + 1];
    if (e === undefined) return fail('a trailing backslash');
    i += 2;
    switch (e) {
      case 'd':
        return { ranges: DIGIT, negated: false };
      case 'w':
        return { ranges: WORD, negated: false };
      case 's':
        return { ranges: SPACE, negated: false };
      case 'D':
      case 'W':
      case 'S':
        if (inClass) return fail(`\\${e} inside a class`);
        return { ranges: e === 'D' ? DIGIT : e === 'W' ? WORD : SPACE, negated: true };
      case 'n':
        return 10;
      case 't':
        return 9;
      case 'r':
        return 13;
      case 'f':
        return 12;
      case 'v':
        return 11;
      case 'x': {
        const h = /^[0-9a-fA-F]{2}/.exec(src.slice(i));
        if (!h) return fail('\\x without two hex digits');
        i += 2;
        return parseInt(h[0], 16);
      }
      case 'u': {
        const h = /^[0-9a-fA-F]{4}/.exec(src.slice(i));
        if (!h) return fail('\\u without four hex digits');
        i += 4;
        return parseInt(h[0], 16);
      }
      default:
        if (/[0-9]/.test(e)) return fail(`the back-reference \\${e}`);
        if (/[a-zA-Z]/.test(e)) return fail(`the escape \\${e}`);
        return e.codePointAt(0)!;
    }
  };

  const atom = (): string => {
    const c = src[i]!;
    if (c === '(') {
      i++;
      if (src[i] === '?') {
        if (src[i + 1] === ':') i += 2;
        else fail(`the group '(?${src[i + 1] ?? ''}'`);
      }
      const inner = alternation();
      if (src[i] !== ')') fail("a '(' without its ')'");
      i++;
      return `(${inner || '""'})`;
    }
    if (c === '[') {
      i++;
      let negated = false;
      if (src[i] === '^') {
        negated = true;
        i++;
      }
      const ranges: Ranges = [];
      let first = true;
      while (src[i] !== ']' || first) {
        if (i >= src.length) fail("a '[' without its ']'");
        first = false;
        let lo: number;
        if (src[i] === '\\') {
          const r = escapeRanges(true);
          if (typeof r !== 'number') {
            ranges.push(...r.ranges);
            continue;
          }
          lo = r;
        } else {
          lo = src.codePointAt(i)!;
          i += lo > 0xffff ? 2 : 1;
        }
        let hi = lo;
        if (src[i] === '-' && src[i + 1] !== ']' && i + 1 < src.length) {
          i++;
          if (src[i] === '\\') {
            const r = escapeRanges(true);
            if (typeof r !== 'number') return fail('a class escape as the end of a range');
            hi = r;
          } else {
            hi = src.codePointAt(i)!;
            i += hi > 0xffff ? 2 : 1;
          }
          if (hi < lo) fail('a range whose end is below its start');
        }
        ranges.push([lo, hi]);
      }
      i++;
      return jsonClass(ranges, negated);
    }
    if (c === '.') {
      i++;
      return jsonClass([[0x0a, 0x0a], [0x0d, 0x0d], [0x2028, 0x2029]], true);
    }
    if (c === '\\') {
      if (src[i + 1] === 'b' || src[i + 1] === 'B') fail(`the word boundary \\${src[i + 1]}`);
      const r = escapeRanges(false);
      if (typeof r === 'number') return jsonCharLiteral(r);
      return jsonClass(r.ranges, r.negated);
    }
    if (c === '^' || c === '$') return fail(`the anchor '${c}' inside the pattern`);
    if (c === '*' || c === '+' || c === '?' || c === '{') return fail(`a quantifier '${c}' with nothing before it`);
    const cp = src.codePointAt(i)!;
    i += cp > 0xffff ? 2 : 1;
    return jsonCharLiteral(cp);
  };

  const out = alternation();
  if (i < src.length) fail(`an unmatched '${src[i]}'`);
  return out || '""';
}
