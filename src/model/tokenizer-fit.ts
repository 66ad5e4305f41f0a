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
 * Throws TOKENIZER_MISMATCH when `tokenizer` has more tokens than the model has embedding rows: its
 * ids past the table would fail mid-run (a tokenizer of another model). Fewer tokens than rows is
 * accepted: embedding tables are often padded (32000 tokens, 32064 rows), and the generator never
 * samples an id the tokenizer cannot spell (`llama run` warns about it up front). `files` name the
 * two in the message.
 */
export function checkTokenizerFitsModel(tokenizer: VocabSized, config: Pick<LlamaConfig, 'vocabSize'>, files: { model?: string | undefined; tokenizer?: string | undefined } = {}): void {
  if (tokenizerFits(tokenizer, config)) return;
  const tok = files.tokenizer !== undefined ? `tokenizer ${files.tokenizer}` : 'the tokenizer';
  const model = files.model !== undefined ? `model ${files.model}` : 'the model';
  throw new LlamaError('TOKENIZER_MISMATCH', `${tok} has ${tokenizer.vocabSize} tokens but ${model} has only ${config.vocabSize} (its embedding rows): they do not belong together`, {
    hint: 'the tokenizer would produce ids the model has no embedding for; pass the tokenizer the model was trained with (--tokenizer)',
  });
}

/** The rule of checkTokenizerFitsModel, without throwing (convert only warns: it may embed any vocabulary on purpose). */
export function tokenizerFits(tokenizer: VocabSized, config: Pick<LlamaConfig, 'vocabSize'>): boolean {
  return tokenizer.vocabSize <= config.vocabSize;
}
