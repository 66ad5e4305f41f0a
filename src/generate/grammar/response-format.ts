// response_format (OpenAI's chat API, and ours) -> grammar.
import type { Grammar } from './grammar.js';
import { GrammarError } from './grammar.js';
import { jsonObjectGrammar, jsonSchemaToGrammar } from './json-schema.js';

/**
 * A response format, in our shape (`{type: 'json_schema', schema}`) or OpenAI's
 * (`{type: 'json_schema', json_schema: {name, schema, strict}}`); `json_object` may carry a schema
 * too (llama.cpp's server accepts that).
 */
export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json_object'; schema?: object }
  | { type: 'json_schema'; schema?: object; json_schema?: { name?: string; schema?: object; strict?: boolean | null; description?: string } };

/** The grammar a response format asks for; undefined for plain text. */
export function responseFormatToGrammar(rf: ResponseFormat | undefined): Grammar | undefined {
  if (rf === undefined || rf.type === 'text') return undefined;
  if (rf.type === 'json_object') return rf.schema !== undefined ? jsonSchemaToGrammar(rf.schema) : jsonObjectGrammar();
  if (rf.type === 'json_schema') {
    const schema = rf.schema ?? rf.json_schema?.schema;
    if (schema === undefined) {
      throw new GrammarError("response_format {type: 'json_schema'} needs a schema", { hint: "pass {type: 'json_schema', schema} or OpenAI's {type: 'json_schema', json_schema: {name, schema}}" });
    }
    return jsonSchemaToGrammar(schema);
  }
  throw new GrammarError(`unknown response_format type ${JSON.stringify((rf as { type: unknown }).type)}`, { hint: "use 'text', 'json_object' or 'json_schema'" });
}
