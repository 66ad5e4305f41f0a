// JSON Schema -> GBNF: every string the grammar accepts must validate with ajv, strings that do
// not validate must be refused; integer ranges exactly; patterns; unsupported keywords are errors
// that name the keyword; response_format in our shape and OpenAI's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeAjv } from './helpers/ajv.js';
import { grammarMatches, intRange, jsonObjectGrammar, jsonSchemaToGbnf, jsonSchemaToGrammar, parseGbnf, patternToGbnf, responseFormatToGrammar, GrammarError } from '../src/generate/grammar/index.js';


interface SchemaCase {
  name: string;
  schema: object;
  /** valid JSON texts the grammar must accept */
  accept: string[];
  /** texts the grammar must refuse (invalid, or valid but outside the documented subset) */
  reject: string[];
}

const CASES: SchemaCase[] = [
  {
    // required properties first, then any in-order subset of the optional ones (llama.cpp's order)
    name: 'object with required and optional properties in order, no extras',
    schema: { type: 'object', properties: { a: { type: 'string' }, b: { type: 'integer' }, c: { type: 'boolean' } }, required: ['b'], additionalProperties: false },
    accept: ['{"b": 1}', '{"b": -2, "a": "x"}', '{"b":3,"a":"x","c":true}', '{"b":0,"c":false}', '{ "b" : 12 }\n'],
    reject: ['{}', '{"a": "x"}', '{"b": 1.5}', '{"a": "x", "b": 1}', '{"b": 1, "c": true, "a": "x"}', '{"b": 1, "d": 1}', '{"b": 01}'],
  },
  {
    name: 'no required properties: any in-order subset',
    schema: { type: 'object', properties: { x: { type: 'null' }, y: { type: 'number' } }, additionalProperties: false },
    accept: ['{}', '{"x": null}', '{"y": 1.5e3}', '{"x":null,"y":-0.25}'],
    reject: ['{,}', '{"y": 1, "x": null}', '{"x": null,}', '{"y": 1e999}'],
  },
  {
    name: 'additionalProperties schema: extra keys other than the declared ones',
    schema: { type: 'object', properties: { id: { type: 'integer' } }, required: ['id'], additionalProperties: { type: 'boolean' } },
    accept: ['{"id": 1}', '{"id": 1, "ok": true}', '{"id": 1, "i": false, "idx": true}'],
    reject: ['{"id": 1, "ok": 1}', '{"id": 1, "id": true}', '{"ok": true}'],
  },
  {
    name: 'a required key missing from properties takes the additionalProperties schema (absent: any value)',
    schema: { type: 'object', properties: { a: { type: 'integer' } }, required: ['a', 'b'] },
    accept: ['{"a": 1, "b": [true]}', '{"a": 1, "b": "x"}'],
    reject: ['{"a": 1}', '{"b": 1, "a": 1}'],
  },
  {
    name: 'object without properties: any object',
    schema: { type: 'object' },
    accept: ['{}', '{"a": [1, {"b": null}], "c": "d"}'],
    reject: ['[]', '{"a"}'],
  },
  {
    name: 'enum and const',
    schema: { type: 'object', properties: { color: { enum: ['red', 'green', 1, null, { k: [1] }] }, kind: { const: 'fr"uit' } }, required: ['color', 'kind'] },
    accept: ['{"color": "red", "kind": "fr\\"uit"}', '{"color": 1, "kind": "fr\\"uit"}', '{"color": null, "kind": "fr\\"uit"}', '{"color": {"k":[1]}, "kind": "fr\\"uit"}'],
    reject: ['{"color": "blue", "kind": "fr\\"uit"}', '{"color": "red", "kind": "fruit"}'],
  },
  {
    name: 'arrays with minItems/maxItems',
    schema: { type: 'array', items: { type: 'integer', minimum: -5, maximum: 5 }, minItems: 2, maxItems: 4 },
    accept: ['[1, 2]', '[-5,5,0,3]', '[ 0 , -1 ]'],
    reject: ['[]', '[1]', '[1,2,3,4,5]', '[6, 1]', '[-6, 1]', '[1,]'],
  },
  {
    name: 'arrays with only maxItems, and maxItems 0',
    schema: { type: 'object', properties: { a: { type: 'array', maxItems: 2, items: { type: 'boolean' } }, e: { type: 'array', maxItems: 0 } }, required: ['a', 'e'] },
    accept: ['{"a": [], "e": []}', '{"a": [true, false], "e": []}'],
    reject: ['{"a": [true, true, true], "e": []}', '{"a": [], "e": [1]}'],
  },
  {
    name: 'nested objects and $ref to $defs and definitions',
    schema: {
      $defs: { point: { type: 'object', properties: { x: { type: 'integer' }, y: { type: 'integer' } }, required: ['x', 'y'], additionalProperties: false } },
      definitions: { name: { type: 'string', minLength: 1, maxLength: 3 } },
      type: 'object',
      properties: { name: { $ref: '#/definitions/name' }, path: { type: 'array', items: { $ref: '#/$defs/point' } } },
      required: ['name', 'path'],
      additionalProperties: false,
    },
    accept: ['{"name": "abc", "path": []}', '{"name": "a", "path": [{"x": 1, "y": 2}, {"x": -3, "y": 0}]}'],
    reject: ['{"name": "", "path": []}', '{"name": "abcd", "path": []}', '{"name": "a", "path": [{"x": 1}]}'],
  },
  {
    name: 'recursive $ref',
    schema: { $defs: { node: { type: 'object', properties: { v: { type: 'integer' }, kids: { type: 'array', items: { $ref: '#/$defs/node' } } }, required: ['v'], additionalProperties: false } }, $ref: '#/$defs/node' },
    accept: ['{"v": 1}', '{"v": 1, "kids": [{"v": 2, "kids": [{"v": 3}]}]}'],
    reject: ['{"v": 1, "kids": [{}]}'],
  },
  {
    name: 'string formats date, time, date-time, uuid',
    schema: { type: 'array', prefixItems: [{ format: 'date' }, { type: 'string', format: 'time' }, { type: 'string', format: 'date-time' }, { type: 'string', format: 'uuid' }], items: false },
    accept: ['["2024-02-28", "23:59:59Z", "1999-12-31T00:00:00.5+05:30", "123e4567-e89b-12d3-a456-426614174000"]'],
    reject: ['["2024-02-30", "23:59:59Z", "1999-12-31T00:00:00Z", "123e4567-e89b-12d3-a456-426614174000"]', '["2024-04-31", "23:59:59Z", "1999-12-31T00:00:00Z", "123e4567-e89b-12d3-a456-426614174000"]', '["2024-01-01", "24:00:00Z", "1999-12-31T00:00:00Z", "123e4567-e89b-12d3-a456-426614174000"]', '["2024-01-01", "12:00:00", "1999-12-31T00:00:00Z", "123e4567-e89b-12d3-a456-426614174000"]', '["2024-01-01", "12:00:00Z", "1999-12-31T00:00:00Z", "123e4567-e89b-12d3-a456-42661417400"]'],
  },
  {
    name: 'anyOf, oneOf and type arrays',
    schema: { type: 'object', properties: { a: { anyOf: [{ type: 'integer', minimum: 0, maximum: 9 }, { type: 'boolean' }] }, b: { oneOf: [{ type: 'null' }, { type: 'string', maxLength: 2 }] }, c: { type: ['number', 'null'] } }, required: ['a', 'b', 'c'] },
    accept: ['{"a": 7, "b": null, "c": null}', '{"a": true, "b": "hi", "c": -1.5}'],
    reject: ['{"a": 10, "b": null, "c": null}', '{"a": 1, "b": "hey", "c": 1}', '{"a": 1, "b": null, "c": "x"}'],
  },
  {
    name: 'allOf of object schemas',
    schema: { allOf: [{ type: 'object', properties: { a: { type: 'integer' } }, required: ['a'] }, { properties: { b: { enum: [1, 2] } }, required: ['b'] }] },
    accept: ['{"a": 5, "b": 2}'],
    reject: ['{"a": 5}', '{"b": 1}', '{"a": 5, "b": 3}'],
  },
  {
    name: 'strings: minLength/maxLength count code points; escapes count as one',
    schema: { type: 'string', minLength: 2, maxLength: 3 },
    accept: ['"ab"', '"abc"', '"😀é"', '"\\n\\u00e9"', '"a\\"b"'],
    reject: ['"a"', '"abcd"', '"\\ud83d\\ude00"', '"a\nb"'],
  },
  {
    name: 'patterns (a practical subset)',
    schema: { type: 'object', properties: { code: { type: 'string', pattern: '^[A-Z]{2}-[0-9]{3}$' }, zip: { type: 'string', pattern: '^\\d{5}(-\\d{4})?$' }, word: { pattern: '(foo|ba+r)\\.x?' } }, required: ['code', 'zip', 'word'] },
    accept: ['{"code": "AB-123", "zip": "12345", "word": "foo."}', '{"code": "ZZ-000", "zip": "12345-6789", "word": "baaar.x"}'],
    reject: ['{"code": "A-123", "zip": "12345", "word": "foo."}', '{"code": "AB-123", "zip": "1234", "word": "foo."}', '{"code": "AB-123", "zip": "12345", "word": "br."}'],
  },
  {
    name: 'integer and number bounds (exclusive too)',
    schema: { type: 'array', prefixItems: [{ type: 'integer', minimum: 10, exclusiveMaximum: 100 }, { type: 'integer', exclusiveMinimum: -3, maximum: 2 }, { type: 'number', minimum: 0, maximum: 5 }], minItems: 3, items: false },
    accept: ['[10, -2, 0]', '[99, 2, 5]', '[50, 0, 3]'],
    reject: ['[9, 0, 0]', '[100, 0, 0]', '[10, -3, 0]', '[10, 3, 0]', '[10, 0, 6]', '[10, 0, -1]'],
  },
];

const ajv = makeAjv();

for (const c of CASES) {
  test(`JSON Schema -> GBNF: ${c.name}`, () => {
    const gbnf = jsonSchemaToGbnf(c.schema);
    const g = parseGbnf(gbnf);
    const validate = ajv.compile(c.schema);
    for (const s of c.accept) {
      assert.equal(validate(JSON.parse(s)), true, `test data: ${s} must be valid: ${JSON.stringify(validate.errors)}`);
      assert.equal(grammarMatches(g, s), true, `grammar should accept ${s}\n${gbnf}`);
    }
    for (const s of c.reject) assert.equal(grammarMatches(g, s), false, `grammar should reject ${s}\n${gbnf}`);
  });
}

test('intRange: exactly the integers in [lo, hi], no leading zeros', () => {
  const ranges: [number, number][] = [[0, 0], [0, 9], [3, 7], [0, 150], [-5, 5], [-120, -7], [17, 2345], [-1000, 999], [99, 101], [1, 1000]];
  for (const [lo, hi] of ranges) {
    const g = parseGbnf(`root ::= ${intRange(BigInt(lo), BigInt(hi))}\n`);
    for (let x = lo - 30; x <= hi + 30; x++) assert.equal(grammarMatches(g, String(x)), x >= lo && x <= hi, `[${lo}, ${hi}] and ${x}`);
    assert.equal(grammarMatches(g, '0' + String(Math.max(lo, 1))), false, 'leading zero');
    assert.equal(grammarMatches(g, '-0'), false, '-0');
  }
});

test('patternToGbnf: accept/reject', () => {
  const table: [string, string[], string[]][] = [
    ['^a.c$', ['abc', 'a c', 'a😀c'], ['ac', 'abbc']],
    ['[^0-9]+', ['ab', '#'], ['a1', '']],
    ['\\w+@\\w+\\.com', ['me@x.com', 'a_1@b2.com'], ['me@x.org', '@x.com']],
    ['(ab|cd){2,3}', ['abcd', 'cdcdab'], ['ab', 'abababab']],
    ['x*?y+?', ['y', 'xxyy'], ['x']],
    ['\\s\\S', [' a'], ['  ']],
  ];
  for (const [pattern, accept, reject] of table) {
    const g = parseGbnf(`root ::= ${patternToGbnf(pattern)}\n`);
    for (const s of accept) assert.equal(grammarMatches(g, s), true, `${pattern} should accept ${s}`);
    for (const s of reject) assert.equal(grammarMatches(g, s), false, `${pattern} should reject ${s}`);
  }
  // quotes and backslashes come out JSON-escaped inside the string
  const q = parseGbnf(`root ::= ${patternToGbnf('^a"\\\\$')}\n`);
  assert.equal(grammarMatches(q, 'a\\"\\\\'), true);
  assert.equal(grammarMatches(q, 'a"\\'), false);
  for (const bad of ['(?=a)', 'a\\1', '\\bword', 'a{2', 'a**+', 'x(?<n>y)']) {
    assert.throws(() => patternToGbnf(bad), (e: unknown) => e instanceof GrammarError && /is not supported/.test(e.message), bad);
  }
});

test('unsupported keywords are errors that name the keyword (nothing silently dropped)', () => {
  const table: [object, string][] = [
    [{ type: 'object', properties: { a: { type: 'string', format: 'email' } } }, "'format'"],
    [{ type: 'string', not: { const: 'x' } }, "'not'"],
    [{ type: 'object', patternProperties: { '^a': {} } }, "'patternProperties'"],
    [{ type: 'array', items: { type: 'integer' }, uniqueItems: true }, "'uniqueItems'"],
    [{ type: 'array', contains: { type: 'integer' } }, "'contains'"],
    [{ type: 'object', minProperties: 1 }, "'minProperties'"],
    [{ type: 'number', multipleOf: 2 }, "'multipleOf'"],
    [{ if: { type: 'string' }, then: { maxLength: 2 } }, "'if'"],
    [{ type: 'object', properties: { deep: { type: 'array', items: { type: 'object', dependentRequired: {} } } } }, "'dependentRequired'"],
    [{ type: 'string', nullable: true }, "'nullable'"],
    [{ $ref: 'https://example.com/s.json' }, "'$ref'"],
    [{ type: 'number', minimum: 0.5 }, "'minimum'"],
    [{ allOf: [{ properties: { a: {} }, additionalProperties: false }] }, "'additionalProperties'"],
    [{ type: 'string', pattern: '(?!x)' }, 'pattern'],
  ];
  for (const [schema, keyword] of table) {
    assert.throws(
      () => jsonSchemaToGbnf(schema),
      (e: unknown) => e instanceof GrammarError && e.code === 'GRAMMAR' && e.message.includes(keyword) && !!e.hint,
      `${JSON.stringify(schema)} should name ${keyword}`,
    );
  }
  // annotations are not constraints: accepted and without effect
  const g = jsonSchemaToGrammar({ $schema: 'https://json-schema.org/draft/2020-12/schema', $id: 'x', title: 't', description: 'd', examples: [1], default: 1, $comment: 'c', type: 'integer' });
  assert.equal(grammarMatches(g, '12'), true);
});

test('response formats: text, json_object, ours and OpenAI\'s json_schema', () => {
  assert.equal(responseFormatToGrammar({ type: 'text' }), undefined);
  assert.equal(responseFormatToGrammar(undefined), undefined);
  const obj = responseFormatToGrammar({ type: 'json_object' })!;
  assert.equal(grammarMatches(obj, '{"a": [1, "x", null]}'), true);
  assert.equal(grammarMatches(obj, '[1]'), false);
  assert.equal(grammarMatches(obj, '"x"'), false);
  assert.equal(grammarMatches(jsonObjectGrammar(), '{}'), true);
  const schema = { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'], additionalProperties: false };
  for (const rf of [{ type: 'json_schema' as const, schema }, { type: 'json_schema' as const, json_schema: { name: 'r', schema, strict: true } }]) {
    const g = responseFormatToGrammar(rf)!;
    assert.equal(grammarMatches(g, '{"ok": true}'), true);
    assert.equal(grammarMatches(g, '{"ok": 1}'), false);
  }
  assert.throws(() => responseFormatToGrammar({ type: 'json_schema' }), (e: unknown) => e instanceof GrammarError && /needs a schema/.test(e.message));
});
