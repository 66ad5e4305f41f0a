// Grammars from files (--grammar FILE.gbnf, --json-schema FILE) and from request options.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './helpers/tmp.js';
import { readGrammarFile, readJsonSchemaFile, grammarFromRequest, grammarMatches, parseGbnf, GrammarError } from '../src/generate/grammar/index.js';
import { LlamaError } from '../src/errors.js';

test('readGrammarFile / readJsonSchemaFile: the grammar, or errors naming the file (and line/column)', () => {
  const dir = tempDir('grammar-files-');
  const gbnf = join(dir, 'yn.gbnf');
  writeFileSync(gbnf, 'root ::= "yes" | "no"\n');
  assert.equal(grammarMatches(readGrammarFile(gbnf), 'no'), true);
  const bad = join(dir, 'bad.gbnf');
  writeFileSync(bad, 'root ::= "a"\nx ::= "\\q"\n');
  assert.throws(() => readGrammarFile(bad), (e: unknown) => e instanceof GrammarError && e.message.startsWith(`${bad}: `) && /line 2, column 8/.test(e.message) && e.line === 2);
  assert.throws(() => readGrammarFile(join(dir, 'missing.gbnf')), (e: unknown) => e instanceof LlamaError && e.code === 'FILE_NOT_FOUND');
  const schema = join(dir, 's.json');
  writeFileSync(schema, JSON.stringify({ type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'], additionalProperties: false }));
  assert.equal(grammarMatches(readJsonSchemaFile(schema), '{"ok": false}'), true);
  const notJson = join(dir, 'n.json');
  writeFileSync(notJson, '{type: object}');
  assert.throws(() => readJsonSchemaFile(notJson), (e: unknown) => e instanceof GrammarError && e.message.includes(notJson) && /not JSON/.test(e.message));
  const unsupported = join(dir, 'u.json');
  writeFileSync(unsupported, JSON.stringify({ type: 'string', format: 'email' }));
  assert.throws(() => readJsonSchemaFile(unsupported), (e: unknown) => e instanceof GrammarError && e.message.includes(unsupported) && e.message.includes("'format'"));
});

test('grammarFromRequest: one of grammar / jsonSchema / responseFormat, none, or a USAGE error for two', () => {
  assert.equal(grammarFromRequest({}), undefined);
  assert.equal(grammarFromRequest({ responseFormat: { type: 'text' } }), undefined);
  assert.equal(grammarMatches(grammarFromRequest({ grammar: 'root ::= [0-9]+\n' })!, '42'), true);
  const g = parseGbnf('root ::= "x"\n');
  assert.equal(grammarFromRequest({ grammar: g }), g);
  assert.equal(grammarMatches(grammarFromRequest({ jsonSchema: { type: 'integer', minimum: 1, maximum: 3 } })!, '2'), true);
  assert.equal(grammarMatches(grammarFromRequest({ responseFormat: { type: 'json_object' } })!, '{}'), true);
  assert.equal(grammarMatches(grammarFromRequest({ grammar: 'root ::= "a"\n', responseFormat: { type: 'text' } })!, 'a'), true);
  assert.throws(() => grammarFromRequest({ grammar: 'root ::= "a"\n', jsonSchema: {} }), (e: unknown) => e instanceof LlamaError && e.code === 'USAGE');
});
