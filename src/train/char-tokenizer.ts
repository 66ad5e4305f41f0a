// A character-level tokenizer for small experiments and tests (the nanoGPT Shakespeare-char setup),
// expressed as a SentencePiece model so that it saves, loads and exports (GGUF metadata,
// tokenizer.model) like any other: ids 0 <unk>, 1 <s>, 2 </s>, then one piece per distinct
// character of the text in code-point order (space as '▁'). With no multi-character pieces there
// is nothing to merge, so encoding is exactly one id per character; no dummy prefix, no byte
// fallback (unseen characters become <unk>).
import { LLAMA_SPM_DEFAULTS, PieceType, SPACE_SYMBOL, SpmTokenizer, type SpmModel } from '../tokenizer/spm.js';

export function charSpmModel(text: string): SpmModel {
  const set = new Set<string>();
  for (const ch of text) set.add(ch === ' ' ? SPACE_SYMBOL : ch);
  const chars = [...set].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
  const pieces = ['<unk>', '<s>', '</s>', ...chars];
  const types = new Uint8Array(pieces.length).fill(PieceType.NORMAL);
  types[0] = PieceType.UNKNOWN;
  types[1] = PieceType.CONTROL;
  types[2] = PieceType.CONTROL;
  return {
    pieces,
    scores: new Float32Array(pieces.length),
    types,
    ...LLAMA_SPM_DEFAULTS,
    // one piece per character, so no dummy-prefix space and nothing to fall back to
    addDummyPrefix: false,
    byteFallback: false,
  };
}

export function charTokenizer(text: string): SpmTokenizer {
  return new SpmTokenizer(charSpmModel(text));
}
