// Generation below the engine API (llama-ts's `generation` namespace): the sampler chain and its
// steps, stop strings, the token step machine, grammars and JSON Schema.
export { generate, Generation, logprobsOf, validateGenerateOptions } from '../generate/generate.js';
export type { GenerateOptions, GeneratedToken, GenerationStats, FinishReason, TokenLogprob } from '../generate/generate.js';
export { Rng } from '../generate/rng.js';
export {
  SamplerChain, Candidates, createSampler, SAMPLING_DEFAULTS, validateSamplingOptions, checkLogits,
  greedy, dist, temperature, topK, topP, minP, typicalP, penalties, logitBias,
} from '../generate/sampler.js';
export type { Sampler, SamplerContext, SamplingOptions, PenaltyOptions, OptionNames } from '../generate/sampler.js';
export { StopMatcher } from '../generate/stop.js';
export type { StopResult } from '../generate/stop.js';
export { TokenStepper } from '../generate/token-stepper.js';
export type { StepToken, StepFinish, StepperOptions, StepResult } from '../generate/token-stepper.js';
export {
  Grammar, GrammarError, parseGbnf, GrammarMatcher, grammarMatches, TokenTrie, TokenGrammar,
  grammarSampler, withGrammar, GrammarChain, jsonSchemaToGbnf, jsonSchemaToGrammar, jsonObjectGbnf, jsonObjectGrammar,
  responseFormatToGrammar, patternToGbnf, readGrammarFile, readJsonSchemaFile, grammarFromRequest,
} from '../generate/grammar/index.js';
export type { GrammarSampler, GrammarSamplerOptions, GrammarChainOptions, ResponseFormat, TokenPosition, GrammarRequest } from '../generate/grammar/index.js';
