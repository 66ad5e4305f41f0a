// Grammars from files and from request options: what `--grammar FILE.gbnf`, `--json-schema FILE`
// and the API's `grammar` / `responseFormat` options come down to.
import { LlamaError } from '../../errors.js';
import { readTextFile } from '../../formats/text-file.js';
import { Grammar, GrammarError } from './grammar.js';
import { parseGbnf } from './gbnf.js';
import { jsonSchemaToGrammar } from './json-schema.js';
import { responseFormatToGrammar, type ResponseFormat } from './response-format.js';

/** A GBNF file (errors name the file, line and column). */
export function readGrammarFile(path: string): Grammar {
  const text = readTextFile(path, 'the grammar file');
  try {
    return parseGbnf(text);
  } catch (e) {
    throw e instanceof GrammarError ? e.inFile(path) : e;
  }
}

/** A JSON Schema file, converted to a grammar (errors name the file). */
export function readJsonSchemaFile(path: string): Grammar {
  const text = readTextFile(path, 'the JSON Schema file');
  let schema: unknown;
  try {
    schema = JSON.parse(text);
  } catch (e) {
    throw new GrammarError(`not JSON: ${(e as Error).message}`, { file: path, hint: 'the file must hold one JSON Schema object' });
  }
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
    if (typeof schema !== 'boolean') throw new GrammarError('a JSON Schema must be an object', { file: path, hint: 'the file must hold one JSON Schema object' });
  }
  try {
    return jsonSchemaToGrammar(schema as object);
  } catch (e) {
    throw e instanceof GrammarError ? e.inFile(path) : e;
  }
}

/** Ways to ask for constrained output (at most one may be given). */
export interface GrammarRequest {
  /** GBNF text, or a parsed grammar */
  grammar?: string | Grammar;
  /** a JSON Schema object */
  jsonSchema?: object | boolean;
  /** an OpenAI-style response_format (ours or OpenAI's shape) */
  responseFormat?: ResponseFormat;
}

/** The grammar a request asks for, or undefined; two ways at once is a USAGE error. */
export function grammarFromRequest(r: GrammarRequest): Grammar | undefined {
  const given = (['grammar', 'jsonSchema', 'responseFormat'] as const).filter((k) => r[k] !== undefined && !(k === 'responseFormat' && r.responseFormat?.type === 'text'));
  if (given.length > 1) throw new LlamaError('USAGE', `give one of grammar, jsonSchema and responseFormat, not ${given.join(' and ')}`, { hint: 'a JSON Schema can be turned into GBNF with jsonSchemaToGbnf if you need to combine them by hand' });
  if (r.grammar !== undefined) return r.grammar instanceof Grammar ? r.grammar : parseGbnf(r.grammar);
  if (r.jsonSchema !== undefined) return jsonSchemaToGrammar(r.jsonSchema);
  return responseFormatToGrammar(r.responseFormat);
}
