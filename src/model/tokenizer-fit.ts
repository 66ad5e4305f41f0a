// Where a model and a tokenizer meet: the tokenizer must fit the model's embedding table, or the
// first prompt token past the table (or the first generated id past the vocabulary) fails in the
// middle of a run as TOKEN_ID. The CLI and the library call this right after loading both, so a
// wrong --tokenizer is refused up front with both sizes named.
import { LlamaError } from '../errors.js';
import type { LlamaConfig } from './config.js';

/** A tokenizer as far as this check needs it. */
export interface VocabSized {
  readonly vocabSize: number;
}

/**
 * Embedding tables are often padded past the tokenizer (to a multiple of 64, 128 or 256, for
 * faster matmuls: 32000 tokens with 32064 rows); up to this many extra rows are accepted.
 */
export const MAX_EMBEDDING_PADDING = 256;

/**
 * Throws TOKENIZER_MISMATCH unless `tokenizer` fits the model: not more tokens than the model has
 * embedding rows (ids would be out of range), and not so few that the model's extra rows are more
 * than padding (the model would generate ids the tokenizer cannot decode: a tokenizer of another
 * model). `files` name the two in the message.
 */
export function checkTokenizerFitsModel(tokenizer: VocabSized, config: Pick<LlamaConfig, 'vocabSize'>, files: { model?: string | undefined; tokenizer?: string | undefined } = {}): void {
  if (tokenizerFits(tokenizer, config)) return;
  const t = tokenizer.vocabSize;
  const m = config.vocabSize;
  const tok = files.tokenizer !== undefined ? `tokenizer ${files.tokenizer}` : 'the tokenizer';
  const model = files.model !== undefined ? `model ${files.model}` : 'the model';
  throw new LlamaError('TOKENIZER_MISMATCH', `${tok} has ${t} tokens but ${model} has ${m} (its embedding rows): they do not belong together`, {
    hint: t > m
      ? 'the tokenizer would produce ids the model has no embedding for; pass the tokenizer the model was trained with (--tokenizer)'
      : 'the model would generate ids the tokenizer cannot decode; pass the tokenizer the model was trained with (--tokenizer)',
  });
}

/** The rule of checkTokenizerFitsModel, without throwing (convert only warns: it may embed any vocabulary on purpose). */
export function tokenizerFits(tokenizer: VocabSized, config: Pick<LlamaConfig, 'vocabSize'>): boolean {
  const t = tokenizer.vocabSize;
  const m = config.vocabSize;
  return t === m || (t < m && m - t <= MAX_EMBEDDING_PADDING);
}
