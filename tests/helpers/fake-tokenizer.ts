// A tokenizer for tests with random-weight models: token i spells two letters, so any stop string
// made of the second letter of one token and the first of the next is split across two tokens.
import type { StreamDecoder, Tokenizer } from '../../src/tokenizer/tokenizer.js';

export function pieceOf(id: number): string {
  return String.fromCharCode(65 + (id % 26)) + String.fromCharCode(97 + (Math.floor(id / 26) % 26));
}

export function fakeTokenizer(vocabSize: number, eogIds: number[] = []): Tokenizer {
  return {
    kind: 'spm',
    vocabSize,
    bosId: undefined,
    eosId: undefined,
    eogIds: new Set(eogIds),
    addBosDefault: false,
    encode(text: string) {
      throw new Error(`fake tokenizer cannot encode '${text}'`);
    },
    decode: (ids) => ids.map(pieceOf).join(''),
    tokenBytes: (id) => new TextEncoder().encode(pieceOf(id)),
    piece: pieceOf,
    isSpecial: () => false,
    streamDecoder(): StreamDecoder {
      return { push: pieceOf, flush: () => '' };
    },
  };
}
