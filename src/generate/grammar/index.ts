// Structured output: GBNF grammars, JSON Schema -> GBNF, and grammar-constrained sampling.

export { Grammar, GrammarError, charSetMatches, type CharSet, type Element, type RuleDraft } from './grammar.js';
export { parseGbnf, MAX_REPETITION } from './gbnf.js';
export { GrammarMatcher, grammarMatches, Automaton, DEAD } from './matcher.js';
export { TokenTrie, TokenGrammar, type TokenPosition } from './tokens.js';
export { grammarSampler, withGrammar, GrammarChain, type GrammarSampler, type GrammarSamplerOptions, type GrammarChainOptions } from './sampler.js';
export { jsonSchemaToGbnf, jsonSchemaToGrammar, jsonObjectGbnf, jsonObjectGrammar, intRange } from './json-schema.js';
export { patternToGbnf, gbnfLiteral } from './regex.js';

export { responseFormatToGrammar, type ResponseFormat } from './response-format.js';
export { readGrammarFile, readJsonSchemaFile, grammarFromRequest, type GrammarRequest } from './files.js';
