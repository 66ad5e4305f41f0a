// JSON Schema -> GBNF, in the style of llama.cpp's converter (same primitive rules and whitespace;
// the code is our own). Every keyword is either handled, a pure annotation, or a GRAMMAR error that
// names it: nothing is dropped silently, so whatever the grammar lets through validates.
//
// Choices (docs/structured-output.md):
// - Objects write their properties in `properties` order, required ones always, optional ones as
//   any in-order subset (llama.cpp's scheme).
// - additionalProperties: false -> none; a schema or true -> extra keys (distinct from the declared
//   ones) with such values after the declared ones; absent -> none when `properties` is given (the
//   output is still valid: extras are merely allowed), any when the object declares no properties.
// - Numbers have at most 16 integral and 16 fractional digits (llama.cpp's bound), so a runaway
//   number cannot eat the whole token budget, and 2 exponent digits (llama.cpp allows 16, which
//   overflows to Infinity: not a JSON number).
// - minimum/maximum: integers exactly (a digit-range grammar); `number` with integer bounds is
//   generated as an integer in range (a valid subset); other bounds are errors.
// - String formats: date, time, date-time, uuid (others are errors). Dates keep February to 28
//   days, so every generated date is a real one.
import { GrammarError, type Grammar } from './grammar.js';
import { parseGbnf } from './gbnf.js';
import { gbnfLiteral, patternToGbnf } from './regex.js';

type Schema = Record<string, unknown> | boolean;

const ANNOTATIONS = new Set(['title', 'description', '$schema', 'examples', 'default', '$id', '$comment', 'deprecated', 'readOnly', 'writeOnly', 'definitions', '$defs']);
const HANDLED = new Set([
  'type', 'properties', 'required', 'additionalProperties', 'enum', 'const', 'anyOf', 'oneOf', 'allOf', '$ref',
  'items', 'prefixItems', 'minItems', 'maxItems', 'minLength', 'maxLength', 'pattern', 'format',
  'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'uniqueItems',
]);

const PRIMITIVES: Record<string, string> = {
  space: '| " " | "\\n" [ \\t]{0,20}',
  boolean: '("true" | "false") space',
  null: '"null" space',
  'integral-part': '[0] | [1-9] [0-9]{0,15}',
  'decimal-part': '[0-9]{1,16}',
  // two exponent digits at most: a 16-digit mantissa times 10^99 stays finite (JSON has no Infinity)
  number: '("-"? integral-part) ("." decimal-part)? ([eE] [-+]? [0-9]{1,2})? space',
  integer: '("-"? integral-part) space',
  hex: '[0-9a-fA-F]',
  // \u escapes of surrogates are left out: each char is then exactly one code point, as lengths count
  char: '[^"\\\\\\x7F\\x00-\\x1F] | [\\\\] (["\\\\/bfnrt] | "u" ([0-9a-cA-C] hex{3} | [dD] [0-7] hex{2} | [eEfF] hex{3}))',
  string: '"\\"" char* "\\"" space',
  value: 'object | array | string | number | boolean | null',
  object: '"{" space (string ":" space value ("," space string ":" space value)*)? "}" space',
  array: '"[" space (value ("," space value)*)? "]" space',
  'day-28': '"0" [1-9] | "1" [0-9] | "2" [0-8]',
  'day-30': 'day-28 | "29" | "30"',
  'day-31': 'day-30 | "31"',
  date: '[0-9]{4} "-" (("0" [13578] | "1" [02]) "-" day-31 | ("0" [469] | "11") "-" day-30 | "02" "-" day-28)',
  time: '([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9] ":" [0-5] [0-9] ("." [0-9]{1,6})? ("Z" | [+-] ([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9])',
  'date-time': 'date "T" time',
  uuid: 'hex{8} "-" hex{4} "-" hex{4} "-" hex{4} "-" hex{12}',
};
/** primitives each primitive uses */
const DEPS: Record<string, string[]> = {
  boolean: ['space'],
  null: ['space'],
  number: ['integral-part', 'decimal-part', 'space'],
  integer: ['integral-part', 'space'],
  char: ['hex'],
  string: ['char', 'space'],
  value: ['object', 'array', 'string', 'number', 'boolean', 'null'],
  object: ['string', 'value', 'space'],
  array: ['value', 'space'],
  'day-30': ['day-28'],
  'day-31': ['day-30'],
  date: ['day-28', 'day-30', 'day-31'],
  'date-time': ['date', 'time'],
  uuid: ['hex'],
};
const FORMATS = new Set(['date', 'time', 'date-time', 'uuid']);

/** the widest integers generated without bounds (16 digits, as the number rule) */
const INT_LIMIT = 10n ** 16n - 1n;

const sanitize = (s: string) => s.replace(/[^a-zA-Z0-9-]+/g, '-').replace(/^-+|-+$/g, '') || 'x';
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function unsupported(path: string, keyword: string, why = 'is not supported'): never {
  throw new GrammarError(`JSON Schema keyword '${keyword}' ${why} (at ${path || '#'})`, {
    hint: 'remove it or rewrite the schema with supported keywords (see docs/structured-output.md); unsupported keywords are never ignored',
  });
}

class Converter {
  private readonly rules = new Map<string, string>();
  private readonly refRules = new Map<string, string>();

  constructor(private readonly root: Schema) {}

  result(): string {
    return [...this.rules].map(([k, v]) => `${k} ::= ${v}`).join('\n') + '\n';
  }

  private primitive(name: string): string {
    if (!this.rules.has(name)) {
      this.rules.set(name, PRIMITIVES[name]!);
      for (const d of DEPS[name] ?? []) this.primitive(d);
    }
    return name;
  }

  /** A new rule name based on `base` (never one already taken or a primitive's). */
  private fresh(base: string): string {
    let name = sanitize(base);
    for (let k = 1; this.rules.has(name) || name in PRIMITIVES; k++) name = `${sanitize(base)}-${k}`;
    this.rules.set(name, '""'); // reserved; the body comes later
    return name;
  }

  private define(base: string, body: string): string {
    const name = this.fresh(base);
    this.rules.set(name, body);
    return name;
  }

  /** The root rule. */
  convertRoot(): void {
    this.rules.set('root', '""');
    const body = this.body(this.root, 'root', '#');
    this.rules.set('root', body);
  }

  /** A rule name for `schema` (a primitive's name when that is all it is). */
  private ruleFor(schema: Schema, base: string, path: string): string {
    const body = this.body(schema, base, path);
    if (body in PRIMITIVES && this.rules.get(body) === PRIMITIVES[body]) return body;
    return this.define(base, body);
  }

  /** The right-hand side of a rule for `schema`. */
  private body(schema: Schema, name: string, path: string): string {
    if (schema === true) return this.primitive('value');
    if (schema === false) unsupported(path, 'false', 'as a schema matches nothing, so nothing can be generated');
    if (!isObj(schema)) throw new GrammarError(`a JSON Schema must be an object or a boolean (at ${path || '#'})`, { hint: 'pass the schema object itself' });
    for (const k of Object.keys(schema)) if (!HANDLED.has(k) && !ANNOTATIONS.has(k)) unsupported(path, k);
    const s = schema;
    const constraints = Object.keys(s).filter((k) => !ANNOTATIONS.has(k));
    if (s.uniqueItems !== undefined && s.uniqueItems !== false) unsupported(path, 'uniqueItems', 'with the value true is not supported');

    if (s.$ref !== undefined) {
      const others = constraints.filter((k) => k !== '$ref');
      if (others.length > 0) unsupported(path, others[0]!, 'next to $ref is not supported');
      return this.ref(String(s.$ref), path);
    }
    if (s.const !== undefined) {
      this.primitive('space');
      return `${this.jsonLiteral(s.const)} space`;
    }
    if (s.enum !== undefined) {
      if (!Array.isArray(s.enum) || s.enum.length === 0) unsupported(path, 'enum', 'must be a non-empty array');
      this.primitive('space');
      return `(${(s.enum as unknown[]).map((v) => this.jsonLiteral(v)).join(' | ')}) space`;
    }
    for (const k of ['anyOf', 'oneOf'] as const) {
      if (s[k] === undefined) continue;
      const list = s[k];
      if (!Array.isArray(list) || list.length === 0) unsupported(path, k, 'must be a non-empty array');
      const others = constraints.filter((x) => x !== k);
      if (others.length > 0) unsupported(path, others[0]!, `next to ${k} is not supported (move it into each alternative)`);
      return (list as Schema[]).map((alt, i) => this.ruleFor(alt, `${name}-${i}`, `${path}/${k}/${i}`)).join(' | ');
    }
    if (s.allOf !== undefined) return this.body(this.mergeAllOf(s, path), name, path);

    let type = s.type;
    if (Array.isArray(type)) {
      if (type.length === 0) unsupported(path, 'type', 'must not be an empty array');
      if (type.length === 1) type = type[0];
      else return type.map((t) => this.ruleFor({ ...s, type: t }, `${name}-${t}`, path)).join(' | ');
    }
    if (type === undefined) type = this.inferType(s);
    switch (type) {
      case undefined:
        return this.primitive('value');
      case 'null':
        return this.primitive('null');
      case 'boolean':
        return this.primitive('boolean');
      case 'integer':
      case 'number':
        return this.numberBody(s, type as 'integer' | 'number', path);
      case 'string':
        return this.stringBody(s, name, path);
      case 'array':
        return this.arrayBody(s, name, path);
      case 'object':
        return this.objectBody(s, name, path);
      default:
        throw new GrammarError(`unknown JSON Schema type ${JSON.stringify(type)} (at ${path || '#'})`, { hint: 'types are string, number, integer, boolean, null, object, array' });
    }
  }

  private inferType(s: Record<string, unknown>): string | undefined {
    if (s.properties !== undefined || s.additionalProperties !== undefined || s.required !== undefined) return 'object';
    if (s.items !== undefined || s.prefixItems !== undefined || s.minItems !== undefined || s.maxItems !== undefined) return 'array';
    if (s.minLength !== undefined || s.maxLength !== undefined || s.pattern !== undefined || s.format !== undefined) return 'string';
    if (s.minimum !== undefined || s.maximum !== undefined || s.exclusiveMinimum !== undefined || s.exclusiveMaximum !== undefined) return 'number';
    return undefined;
  }

  private jsonLiteral(v: unknown): string {
    return gbnfLiteral(JSON.stringify(v));
  }

  private ref(ref: string, path: string): string {
    let rule = this.refRules.get(ref);
    if (rule) return rule;
    if (!ref.startsWith('#')) unsupported(path, '$ref', `to ${JSON.stringify(ref)} (only local references #/... are supported)`);
    let target: unknown = this.root;
    const parts = ref.slice(1).split('/').filter((p, i) => i > 0 || p !== '');
    for (const raw of parts) {
      const p = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
      target = isObj(target) ? target[p] : Array.isArray(target) ? target[Number(p)] : undefined;
      if (target === undefined) throw new GrammarError(`$ref ${JSON.stringify(ref)} points to nothing (at ${path || '#'})`, { hint: 'define it under #/$defs or #/definitions' });
    }
    // the rule is named before its body is built, so recursive references find it
    rule = ref === '#' ? 'root' : this.fresh(`ref-${parts[parts.length - 1] ?? 'root'}`);
    this.refRules.set(ref, rule);
    if (ref !== '#') this.rules.set(rule, this.body(target as Schema, rule, ref));
    return rule;
  }

  private resolve(s: Schema, path: string): Schema {
    for (let depth = 0; isObj(s) && typeof s.$ref === 'string'; depth++) {
      if (depth > 32) unsupported(path, '$ref', 'chains deeper than 32 are not supported');
      let t: unknown = this.root;
      for (const raw of s.$ref.slice(1).split('/').filter((p, i) => i > 0 || p !== '')) t = isObj(t) ? t[decodeURIComponent(raw)] : undefined;
      if (t === undefined) throw new GrammarError(`$ref ${JSON.stringify(s.$ref)} points to nothing (at ${path})`);
      s = t as Schema;
    }
    return s;
  }

  /**
   * allOf of object schemas: one object with all their properties and required keys. Refused when
   * the merge could break one part: additionalProperties (it only sees its own part's properties)
   * or one property with different schemas in two parts.
   */
  private mergeAllOf(s: Record<string, unknown>, path: string): Schema {
    const list = s.allOf;
    if (!Array.isArray(list) || list.length === 0) unsupported(path, 'allOf', 'must be a non-empty array');
    const parts = [{ ...s, allOf: undefined }, ...(list as Schema[]).map((x) => this.resolve(x, path))];
    const props: Record<string, unknown> = {};
    const required = new Set<string>();
    for (const p of parts) {
      if (p === true) continue;
      if (!isObj(p)) unsupported(path, 'allOf', 'with a false schema is not supported');
      for (const [k, v] of Object.entries(p)) {
        if (v === undefined || ANNOTATIONS.has(k)) continue;
        if (k === 'properties') {
          if (!isObj(v)) unsupported(path, 'properties', 'must be an object');
          for (const [name, ps] of Object.entries(v)) {
            if (name in props && JSON.stringify(props[name]) !== JSON.stringify(ps)) unsupported(`${path}/allOf`, 'properties', `with two different schemas for ${JSON.stringify(name)} is not supported`);
            props[name] = ps;
          }
        } else if (k === 'required') for (const r of v as string[]) required.add(r);
        else if (k === 'type') {
          if (v !== 'object') unsupported(path, 'allOf', 'is supported only for object schemas');
        } else if (k === 'additionalProperties') {
          if (v !== true) unsupported(`${path}/allOf`, 'additionalProperties', 'inside or next to allOf is not supported (each part would refuse the others\' properties)');
        } else unsupported(`${path}/allOf`, k, 'inside allOf is not supported (only properties, required, type: object)');
      }
    }
    return { type: 'object', properties: props, required: [...required] };
  }

  private numberBody(s: Record<string, unknown>, type: 'integer' | 'number', path: string): string {
    const bounded = ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'].filter((k) => s[k] !== undefined);
    if (bounded.length === 0) return this.primitive(type);
    let lo = -INT_LIMIT;
    let hi = INT_LIMIT;
    for (const k of bounded) {
      const v = s[k];
      if (typeof v !== 'number' || !Number.isFinite(v)) unsupported(path, k, 'must be a finite number (draft-4 boolean exclusive bounds are not supported)');
      const exclusive = k.startsWith('exclusive');
      if (k.endsWith('inimum')) {
        // smallest integer allowed
        let b = BigInt(Math.ceil(v));
        if (exclusive && Number.isInteger(v)) b += 1n;
        if (b > lo) lo = b;
      } else {
        let b = BigInt(Math.floor(v));
        if (exclusive && Number.isInteger(v)) b -= 1n;
        if (b < hi) hi = b;
      }
      if (type === 'number' && !Number.isInteger(v)) unsupported(path, k, 'with a non-integer value on type number is not supported');
    }
    if (lo > hi) throw new GrammarError(`no ${type} satisfies the bounds at ${path || '#'} (${lo} > ${hi})`, { hint: 'check minimum/maximum' });
    this.primitive('space');
    return `(${intRange(lo, hi)}) space`;
  }

  private stringBody(s: Record<string, unknown>, name: string, path: string): string {
    const minL = s.minLength;
    const maxL = s.maxLength;
    for (const [k, v] of [['minLength', minL], ['maxLength', maxL]] as const) {
      if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < 0)) unsupported(path, k, 'must be a non-negative integer');
    }
    const lengths = minL !== undefined || maxL !== undefined;
    if (s.format !== undefined) {
      const f = String(s.format);
      if (!FORMATS.has(f)) unsupported(path, 'format', `${JSON.stringify(f)} is not supported (supported: ${[...FORMATS].join(', ')})`);
      if (lengths) unsupported(path, minL !== undefined ? 'minLength' : 'maxLength', 'together with format is not supported');
      if (s.pattern !== undefined) unsupported(path, 'pattern', 'together with format is not supported');
      this.primitive('space');
      return `"\\"" ${this.primitive(f)} "\\"" space`;
    }
    if (s.pattern !== undefined) {
      if (lengths) unsupported(path, minL !== undefined ? 'minLength' : 'maxLength', 'together with pattern is not supported');
      const inner = this.define(`${name}-pattern`, patternToGbnf(String(s.pattern)));
      this.primitive('space');
      return `"\\"" ${inner} "\\"" space`;
    }
    if (!lengths) return this.primitive('string');
    const lo = (minL as number | undefined) ?? 0;
    const hi = maxL as number | undefined;
    if (hi !== undefined && hi < lo) throw new GrammarError(`maxLength is below minLength at ${path || '#'}`, { hint: 'no string satisfies it' });
    this.primitive('char');
    this.primitive('space');
    return `"\\"" ${repeat('char', lo, hi ?? Infinity)} "\\"" space`;
  }

  private arrayBody(s: Record<string, unknown>, name: string, path: string): string {
    for (const k of ['minItems', 'maxItems'] as const) {
      const v = s[k];
      if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < 0)) unsupported(path, k, 'must be a non-negative integer');
    }
    const min = (s.minItems as number | undefined) ?? 0;
    const max = (s.maxItems as number | undefined) ?? Infinity;
    if (max < min) throw new GrammarError(`maxItems is below minItems at ${path || '#'}`, { hint: 'no array satisfies it' });
    let prefix: Schema[] = [];
    let items: Schema | undefined = s.items as Schema | undefined;
    if (Array.isArray(s.items)) {
      // draft-4..7 tuple form
      prefix = s.items as Schema[];
      items = undefined;
    }
    if (s.prefixItems !== undefined) {
      if (!Array.isArray(s.prefixItems)) unsupported(path, 'prefixItems', 'must be an array');
      if (Array.isArray(s.items)) unsupported(path, 'items', 'as an array next to prefixItems is not supported');
      prefix = s.prefixItems as Schema[];
    }
    this.primitive('space');
    const parts: string[] = [];
    // the tuple part: as many prefix items as maxItems lets through
    const n = Math.min(prefix.length, max);
    for (let i = 0; i < n; i++) parts.push(this.ruleFor(prefix[i]!, `${name}-${i}`, `${path}/prefixItems/${i}`));
    let extra: string | undefined;
    if (items !== false) {
      if (items !== undefined) extra = this.ruleFor(items, `${name}-item`, `${path}/items`);
      else if (prefix.length === 0 || min > n) extra = this.primitive('value'); // unconstrained items
    }
    const extraMin = Math.max(0, min - n);
    const extraMax = extra === undefined ? 0 : prefix.length > 0 && items === undefined ? extraMin : max - n;
    if (extra === undefined && extraMin > 0) throw new GrammarError(`minItems ${min} needs more items than the ${n} prefixItems and items is false (at ${path || '#'})`, { hint: 'no array satisfies it' });
    if (n === 0) {
      if (extraMax === 0) return '"[" space "]" space';
      const rest = extraMax - 1;
      const tail = `("," space ${extra})`;
      const seq = `${extra} ${repeat(tail, Math.max(0, extraMin - 1), rest)}`.trim();
      return extraMin === 0 ? `"[" space (${seq})? "]" space` : `"[" space ${seq} "]" space`;
    }
    let body = `"[" space ${parts.join(' "," space ')}`;
    if (extra !== undefined && extraMax > 0) body += ` ${repeat(`("," space ${extra})`, extraMin, extraMax)}`;
    return `${body} "]" space`;
  }

  private objectBody(s: Record<string, unknown>, name: string, path: string): string {
    const props = s.properties ?? {};
    if (!isObj(props)) unsupported(path, 'properties', 'must be an object');
    const required = s.required ?? [];
    if (!Array.isArray(required)) unsupported(path, 'required', 'must be an array');
    const ap = s.additionalProperties as Schema | undefined;
    const keys = Object.keys(props);
    const req = new Set(required as string[]);
    this.primitive('space');
    const extraSchema: Schema | undefined = ap === undefined ? (keys.length === 0 ? true : undefined) : ap === false ? undefined : ap;
    const all = [...keys, ...[...req].filter((k) => !(k in props))];
    const kv = new Map<string, string>();
    for (const k of all) {
      // a required key missing from properties takes additionalProperties' schema (absent: any value)
      const ps = (k in props ? props[k] : ap === undefined ? true : ap === false ? undefined : ap) as Schema | undefined;
      if (ps === undefined) throw new GrammarError(`required property ${JSON.stringify(k)} is not in properties and additionalProperties is false (at ${path || '#'})`, { hint: 'declare it under properties' });
      const value = this.ruleFor(ps, `${name}-${k}`, `${path}/properties/${k}`);
      kv.set(k, this.define(`${name}-${k}-kv`, `${this.jsonLiteral(k)} space ":" space ${value}`));
    }
    const reqKeys = all.filter((k) => req.has(k));
    const optKeys = all.filter((k) => !req.has(k));
    let extraKv: string | undefined;
    if (extraSchema !== undefined) {
      const value = this.ruleFor(extraSchema, `${name}-additional`, `${path}/additionalProperties`);
      extraKv = this.define(`${name}-additional-kv`, `${this.keyExcept(all, name)} ":" space ${value}`);
    }
    // rest(i): any in-order subset of optKeys[i..], then any number of extras, each after a comma
    const rest: string[] = [];
    let next = extraKv !== undefined ? `("," space ${extraKv})*` : '';
    rest[optKeys.length] = next;
    for (let i = optKeys.length - 1; i >= 0; i--) {
      const body = `("," space ${kv.get(optKeys[i]!)})? ${next}`.trim();
      next = i === 0 ? body : this.define(`${name}-rest`, body);
      rest[i] = next;
    }
    let inner: string;
    if (reqKeys.length > 0) {
      inner = [reqKeys.map((k) => kv.get(k)!).join(' "," space '), rest[0]].filter(Boolean).join(' ');
    } else {
      const starts = optKeys.map((k, i) => `${kv.get(k)} ${rest[i + 1] ?? ''}`.trim());
      if (extraKv !== undefined) starts.push(`${extraKv} ("," space ${extraKv})*`);
      inner = starts.length === 0 ? '' : `(${starts.join(' | ')})?`;
    }
    return inner ? `"{" space ${inner} "}" space` : '"{" space "}" space';
  }

  /** A JSON string key that is none of `keys` (raw characters only where it starts to differ). */
  private keyExcept(keys: readonly string[], name: string): string {
    this.primitive('char');
    this.primitive('space');
    type Node = { kids: Map<string, Node>; end: boolean };
    const root: Node = { kids: new Map(), end: false };
    for (const k of keys) {
      let n = root;
      for (const ch of k) {
        const unit = JSON.stringify(ch).slice(1, -1); // as the character appears inside a JSON string
        let c = n.kids.get(unit);
        if (!c) n.kids.set(unit, (c = { kids: new Map(), end: false }));
        n = c;
      }
      n.end = true;
    }
    const build = (n: Node): string => {
      const alts: string[] = [];
      if (!n.end) alts.push('""');
      for (const [unit, c] of n.kids) alts.push(`${gbnfLiteral(unit)} ${build(c)}`);
      // a first character that leaves every key behind (never a quote or an escape)
      const firsts = [...n.kids.keys()].filter((u) => !u.startsWith('\\')).map((u) => u.codePointAt(0)!);
      const cls = [0x22, 0x5c, 0x7f, ...firsts].map((cp) => `\\U${cp.toString(16).padStart(8, '0')}`).join('');
      alts.push(`[^${cls}\\x00-\\x1F] char*`);
      return this.define(`${name}-key`, alts.join(' | '));
    };
    return `"\\"" ${build(root)} "\\"" space`;
  }
}

/** `item` between min and max times (max may be Infinity), as GBNF. */
function repeat(item: string, min: number, max: number): string {
  if (max === 0) return '';
  if (max === Infinity) return min === 0 ? `${item}*` : min === 1 ? `${item}+` : `${item}{${min},}`;
  if (min === max) return min === 1 ? item : `${item}{${min}}`;
  if (min === 0 && max === 1) return `${item}?`;
  return `${item}{${min},${max}}`;
}

/** GBNF for the decimal integers in [lo, hi] (no leading zeros, "-" for negatives). */
export function intRange(lo: bigint, hi: bigint): string {
  const alts: string[] = [];
  if (lo < 0n) {
    const negHi = hi < 0n ? hi : -1n; // the negatives in [lo, negHi]
    alts.push(`"-" (${uintRange(-negHi, -lo)})`);
  }
  if (hi >= 0n) alts.push(uintRange(lo > 0n ? lo : 0n, hi));
  return alts.join(' | ');
}

function uintRange(lo: bigint, hi: bigint): string {
  const parts: string[] = [];
  const lenLo = lo.toString().length;
  const lenHi = hi.toString().length;
  for (let len = lenLo; len <= lenHi; len++) {
    const first = len === 1 ? 0n : 10n ** BigInt(len - 1);
    const last = 10n ** BigInt(len) - 1n;
    const a = lo > first ? lo : first;
    const b = hi < last ? hi : last;
    if (a <= b) parts.push(sameLength(a.toString(), b.toString()));
  }
  return parts.map((p) => (parts.length > 1 && p.includes('|') ? `(${p})` : p)).join(' | ');
}

/** digit strings of equal length from a to b */
function sameLength(a: string, b: string): string {
  if (a.length === 0) return '';
  if (a === b) return `"${a}"`;
  const n = a.length - 1;
  const anyTail = n === 0 ? '' : n === 1 ? ' [0-9]' : ` [0-9]{${n}}`;
  const group = (x: string) => (x.includes('|') ? `(${x})` : x);
  if (a[0] === b[0]) return `"${a[0]}" ${group(sameLength(a.slice(1), b.slice(1)))}`;
  if (/^0*$/.test(a.slice(1)) && /^9*$/.test(b.slice(1))) return `[${a[0]}-${b[0]}]${anyTail}`;
  const alts: string[] = [];
  const a0 = Number(a[0]);
  const b0 = Number(b[0]);
  alts.push(`"${a0}" ${group(sameLength(a.slice(1), '9'.repeat(n)))}`);
  if (a0 + 1 <= b0 - 1) alts.push(`[${a0 + 1}-${b0 - 1}]${anyTail}`);
  alts.push(`"${b0}" ${group(sameLength('0'.repeat(n), b.slice(1)))}`);
  return alts.join(' | ');
}

/** GBNF text for a JSON Schema (the start rule is `root`). */
export function jsonSchemaToGbnf(schema: object | boolean): string {
  const c = new Converter(schema as Schema);
  c.convertRoot();
  return c.result();
}

/** The grammar for a JSON Schema. */
export function jsonSchemaToGrammar(schema: object | boolean): Grammar {
  return parseGbnf(jsonSchemaToGbnf(schema));
}

/** GBNF for any JSON object (response_format {type: 'json_object'}). */
export function jsonObjectGbnf(): string {
  return jsonSchemaToGbnf({ type: 'object' });
}

/** The grammar for any JSON object. */
export function jsonObjectGrammar(): Grammar {
  return parseGbnf(jsonObjectGbnf());
}
