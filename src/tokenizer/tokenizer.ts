// What every tokenizer offers the rest of the system (generation, training, evaluation, CLI).
// Implementations: SentencePiece BPE as LLaMA 1/2 use it (spm.ts) and Llama 3 byte-level BPE (bpe.ts).

export interface EncodeOptions {
  /** prepend BOS; default: what the tokenizer's metadata says (add_bos_token) */
  addBos?: boolean;
  /** append EOS; default: what the metadata says (usually false) */
  addEos?: boolean;
  /**
   * Turn text that spells a special/control token (e.g. `<s>`, `<|eot_id|>`) into that token.
   * Default false: user text that merely looks like a special token stays text.
   */
  parseSpecial?: boolean;
  /**
   * With parseSpecial: match special tokens only inside these [start, end) character ranges of
   * the text; elsewhere they stay text. A chat prompt passes its template's ranges, so special
   * tokens come from the template and never from what a user typed, while the prompt is still
   * tokenized as one text (merges and SentencePiece's dummy prefix as for the whole string).
   */
  specialRanges?: readonly (readonly [number, number])[];
}

/** Incremental decoding: feed ids one at a time, get text that never splits a UTF-8 character. */
export interface StreamDecoder {
  /** text completed by this token (may be '' while a multi-byte character is incomplete) */
  push(id: number): string;
  /** whatever is left (an incomplete trailing character is emitted as U+FFFD) */
  flush(): string;
}

export interface Tokenizer {
  readonly kind: 'spm' | 'bpe';
  readonly vocabSize: number;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  /** ids that end a generation (EOS, end-of-turn tokens such as Llama 3's <|eot_id|>) */
  readonly eogIds: ReadonlySet<number>;
  readonly addBosDefault: boolean;
  encode(text: string, opts?: EncodeOptions): number[];
  /** Decode ids to text; special tokens (BOS/EOS/control) are not rendered unless `renderSpecial` */
  decode(ids: readonly number[], opts?: { renderSpecial?: boolean }): string;
  /** the raw bytes a token stands for (byte pieces decoded, SentencePiece's ▁ as a space) */
  tokenBytes(id: number): Uint8Array;
  /** the token's piece string as stored in the vocabulary */
  piece(id: number): string;
  isSpecial(id: number): boolean;
  streamDecoder(opts?: { renderSpecial?: boolean }): StreamDecoder;
}
