// SentencePiece BPE exactly as LLaMA 1/2 use it (sentencepiece's bpe_model.cc semantics):
//   - normalization: identity, optional removal of extra spaces, the dummy-prefix space, ' ' -> '▁';
//   - the text starts as one symbol per Unicode character; repeatedly merge the adjacent pair
//     whose concatenation is a (normal or user-defined) piece with the highest score, leftmost on
//     ties;
//   - a symbol left that is not a piece becomes its UTF-8 bytes as <0xNN> pieces (byte fallback),
//     or the unknown piece when the model has no byte fallback;
//   - decoding: byte pieces to bytes, '▁' to ' ', the dummy-prefix space of the first piece
//     dropped, control pieces not rendered.
import { LlamaError } from '../errors.js';
import { mergeSymbols, MergeWorkspace, PairTable } from './merge.js';
import { decodeWith, Utf8StreamDecoder, type TokenRenderer } from './stream.js';
import { specialMatcher, splitSpecial, splitSpecialIn, utf8 } from './text.js';
import type { EncodeOptions, StreamDecoder, Tokenizer } from './tokenizer.js';

/** sentencepiece's ModelProto.SentencePiece.Type numbering (GGUF token_type uses the same). */
export const PieceType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

export interface SpmModel {
  readonly pieces: readonly string[];
  readonly scores: Float32Array;
  /** PieceType per piece */
  readonly types: Uint8Array;
  /** -1 when absent */
  readonly unkId: number;
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
  readonly addDummyPrefix: boolean;
  readonly removeExtraWhitespaces: boolean;
  readonly escapeWhitespaces: boolean;
  readonly byteFallback: boolean;
  readonly addBos: boolean;
  readonly addEos: boolean;
  /** split digits (training option, recorded so that a re-saved model keeps it) */
  readonly splitDigits?: boolean;
  /** extra end-of-generation ids beyond EOS */
  readonly eogIds?: readonly number[];
}

/**
 * LLaMA's SentencePiece settings (Meta's tokenizer.model trainer/normalizer spec): <unk> 0, <s> 1,
 * </s> 2, no pad, dummy-prefix space, identity normalisation, BOS on encode. Used for vocabularies
 * that carry no spec of their own (llama2.c tokenizer.bin) and for tokenizers trained here.
 */
export const LLAMA_SPM_DEFAULTS = {
  unkId: 0,
  bosId: 1,
  eosId: 2,
  padId: -1,
  addDummyPrefix: true,
  removeExtraWhitespaces: false,
  escapeWhitespaces: true,
  addBos: true,
  addEos: false,
} as const;

export const SPACE_SYMBOL = '▁';
const UNK_SURFACE = utf8(' \u2047 ');
const EMPTY = new Uint8Array(0);
const WORD_CACHE_LIMIT = 1 << 16;

function isSpaceOrMeta(c: number): boolean {
  return c === 0x20 || c === 0x2581;
}

interface SpmStreamState {
  atStart: boolean;
  /** bytes of byte pieces not yet forming a complete character */
  pending: number[];
}

const REPLACEMENT = [0xef, 0xbf, 0xbd];

/**
 * Length of the UTF-8 sequence at p[i..] if complete and valid, 0 if it is a valid but
 * incomplete prefix, -1 if invalid (Unicode Table 3-7: no overlongs, surrogates or > U+10FFFF).
 */
function utf8SequenceAt(p: readonly number[], i: number): number {
  const b0 = p[i]!;
  if (b0 < 0x80) return 1;
  let len: number;
  let lo = 0x80;
  let hi = 0xbf;
  if (b0 >= 0xc2 && b0 <= 0xdf) len = 2;
  else if (b0 >= 0xe0 && b0 <= 0xef) {
    len = 3;
    if (b0 === 0xe0) lo = 0xa0;
    else if (b0 === 0xed) hi = 0x9f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    len = 4;
    if (b0 === 0xf0) lo = 0x90;
    else if (b0 === 0xf4) hi = 0x8f;
  } else return -1;
  for (let k = 1; k < len; k++) {
    if (i + k >= p.length) return 0;
    const b = p[i + k]!;
    if (k === 1 ? b < lo || b > hi : b < 0x80 || b > 0xbf) return -1;
  }
  return len;
}

export class SpmTokenizer implements Tokenizer, TokenRenderer<SpmStreamState> {
  readonly kind = 'spm' as const;
  readonly vocabSize: number;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  readonly eogIds: ReadonlySet<number>;
  readonly addBosDefault: boolean;
  readonly model: SpmModel;

  /** symbol id of each BMP character (-1: not a mergeable piece and never part of one) */
  private readonly bmpSymbol = new Int32Array(65536).fill(-1);
  private readonly astralSymbol = new Map<number, number>();
  /** characters that occur inside pieces without being pieces: ids vocabSize + k */
  private readonly virtualChars: number[] = [];
  private readonly pairs: PairTable;
  private readonly byteIds = new Int32Array(256).fill(-1);
  private readonly hasAllBytes: boolean;
  private readonly pieceBytes: (Uint8Array | undefined)[];
  /** whether splitting before every '▁' that follows a non-'▁' provably leaves the result unchanged */
  private readonly wordSplitSafe: boolean;
  /** adjacent character pairs inside pieces: a text may be cut between any other two characters */
  private readonly innerBigrams: Set<number> | undefined;
  private readonly wordCache = new Map<string, number[]>();
  private readonly normCache = new Map<string, number[]>();
  /** words at the start of a text, encoded with the dummy prefix before them */
  private readonly firstWordCache = new Map<string, number[]>();
  private readonly ws = new MergeWorkspace();
  private readonly alwaysSpecials = new Map<string, number>();
  private readonly parsedSpecials = new Map<string, number>();
  private readonly alwaysMatcher: RegExp | undefined;
  private readonly parsedMatcher: RegExp | undefined;

  /**
   * How long texts are cut before merging (all cuts are exact, see encodeText):
   * 'auto' (default) words when the vocabulary allows, else character-pair boundaries;
   * 'bigram' always character-pair boundaries; 'none' one merge over the whole text (for tests).
   */
  constructor(model: SpmModel, opts: { split?: 'auto' | 'bigram' | 'none' } = {}) {
    this.model = model;
    const n = model.pieces.length;
    this.vocabSize = n;
    if (model.scores.length !== n || model.types.length !== n) {
      throw new LlamaError('TOKENIZER_INVALID', `SentencePiece model: ${n} pieces but ${model.scores.length} scores and ${model.types.length} types`);
    }
    const valid = (id: number): number | undefined => (id >= 0 && id < n ? id : undefined);
    this.bosId = valid(model.bosId);
    this.eosId = valid(model.eosId);
    this.addBosDefault = model.addBos && this.bosId !== undefined;
    const eog = new Set<number>();
    if (this.eosId !== undefined) eog.add(this.eosId);
    for (const id of model.eogIds ?? []) if (valid(id) !== undefined) eog.add(id);
    this.eogIds = eog;
    this.pieceBytes = new Array(n);

    // pieces that merges may produce (sentencepiece: normal and user-defined)
    const mergeable = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const t = model.types[i]!;
      const p = model.pieces[i]!;
      if ((t === PieceType.NORMAL || t === PieceType.USER_DEFINED) && !mergeable.has(p)) mergeable.set(p, i);
      if (t === PieceType.BYTE) {
        const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(p);
        if (m) this.byteIds[parseInt(m[1]!, 16)] = i;
      }
      if (t === PieceType.USER_DEFINED && p.length > 0) this.alwaysSpecials.set(p, i);
      if ((t === PieceType.CONTROL || t === PieceType.UNKNOWN) && p.length > 0) this.parsedSpecials.set(p, i);
    }
    for (const [p, i] of this.alwaysSpecials) this.parsedSpecials.set(p, i);
    this.alwaysMatcher = specialMatcher(this.alwaysSpecials.keys());
    this.parsedMatcher = specialMatcher(this.parsedSpecials.keys());
    this.hasAllBytes = this.byteIds.every((id) => id >= 0);

    // single characters as symbols: the piece itself, or a virtual id if it occurs inside pieces
    const symbolOf = (ch: string, create: boolean): number => {
      const cp = ch.codePointAt(0)!;
      const existing = cp < 65536 ? this.bmpSymbol[cp]! : (this.astralSymbol.get(cp) ?? -1);
      if (existing >= 0 || !create) return existing;
      const id = mergeable.get(ch) ?? n + this.virtualChars.length;
      if (id >= n) this.virtualChars.push(cp);
      if (cp < 65536) this.bmpSymbol[cp] = id;
      else this.astralSymbol.set(cp, id);
      return id;
    };
    for (const [p] of mergeable) for (const ch of p) symbolOf(ch, true);

    // every way to cut a mergeable piece into two symbols gives a merge with the piece's score
    this.pairs = new PairTable(mergeable.size * 4);
    let splitSafe = true;
    const symbolIdOf = (s: string): number => {
      const id = mergeable.get(s);
      if (id !== undefined) return id;
      const cp = s.codePointAt(0)!;
      if (s.length === (cp > 0xffff ? 2 : 1)) return symbolOf(s, false);
      return -1;
    };
    for (const [p, id] of mergeable) {
      const score = model.scores[id]!;
      for (let k = 1; k < p.length; k++) {
        const c = p.charCodeAt(k);
        if (c >= 0xdc00 && c <= 0xdfff) continue; // inside a surrogate pair
        if (c === 0x2581 && p.charCodeAt(k - 1) !== 0x2581) splitSafe = false;
        const l = symbolIdOf(p.slice(0, k));
        if (l < 0) continue;
        const r = symbolIdOf(p.slice(k));
        if (r < 0) continue;
        this.pairs.set(l, r, id, score);
      }
    }
    // with user-defined pieces, words are not independent units in general; keep it simple
    const split = opts.split ?? 'auto';
    this.wordSplitSafe = splitSafe && this.alwaysSpecials.size === 0 && split === 'auto';
    if (split !== 'none' && !this.wordSplitSafe) {
      // every pair of adjacent characters that occurs inside a mergeable piece
      this.innerBigrams = new Set<number>();
      for (const [p] of mergeable) {
        let prev = -1;
        for (const ch of p) {
          const cp = ch.codePointAt(0)!;
          if (prev >= 0) this.innerBigrams.add(prev * 0x110000 + cp);
          prev = cp;
        }
      }
    }
  }

  /** how encoding cuts long texts: 'word' / 'bigram' / 'none' (see the constructor) */
  get splitMode(): 'word' | 'bigram' | 'none' {
    return this.wordSplitSafe ? 'word' : this.innerBigrams ? 'bigram' : 'none';
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    const out: number[] = [];
    const addBos = opts.addBos ?? this.addBosDefault;
    const addEos = opts.addEos ?? this.model.addEos;
    if (addBos && this.bosId !== undefined) out.push(this.bosId);
    if (!opts.parseSpecial && this.alwaysMatcher === undefined) {
      // the common case: nothing to match, one text fragment
      this.encodeText(text, true, out);
      if (addEos && this.eosId !== undefined) out.push(this.eosId);
      return out;
    }
    const frags = opts.parseSpecial
      ? opts.specialRanges
        ? splitSpecialIn(text, this.parsedSpecials, this.parsedMatcher, opts.specialRanges)
        : splitSpecial(text, this.parsedSpecials, this.parsedMatcher)
      : splitSpecial(text, this.alwaysSpecials, this.alwaysMatcher);
    // as llama.cpp does: every text fragment at the start or after a special token gets the
    // dummy prefix, like separate sentencepiece calls would
    let prevSpecial = true;
    for (const f of frags) {
      if (f.id !== undefined) {
        out.push(f.id);
        prevSpecial = true;
      } else {
        this.encodeText(f.text, prevSpecial, out);
        prevSpecial = false;
      }
    }
    if (addEos && this.eosId !== undefined) out.push(this.eosId);
    return out;
  }

  /** Normalizes and encodes plain text (no special-token matching), appending to `out`. */
  private encodeText(text: string, dummyPrefix: boolean, out: number[]): void {
    const m = this.model;
    if (m.removeExtraWhitespaces) text = text.replace(/ +/g, ' ').replace(/^ | $/g, '');
    if (text.length === 0) return;
    const prefix = m.addDummyPrefix && dummyPrefix;
    if (!this.wordSplitSafe || !m.escapeWhitespaces) {
      if (prefix) text = ' ' + text;
      if (m.escapeWhitespaces) text = text.replaceAll(' ', SPACE_SYMBOL);
      if (this.innerBigrams) this.encodeBigramSplit(text, out);
      else this.encodeWord(text, 0, text.length, out);
      return;
    }
    // Words start at a '▁' that follows a non-'▁' (in the normalized text, where ' ' is '▁'). No
    // mergeable piece contains such a boundary (checked at load), so no merge crosses it and each
    // word merges independently. The raw text is cut directly (' ' and '▁' both count), so that
    // repeated words are cache hits without normalizing the whole text; the dummy prefix is not
    // prepended but belongs to the first word (which has its own cache).
    let start = 0;
    let first = prefix;
    let prevWs = prefix || isSpaceOrMeta(text.charCodeAt(0));
    for (let i = prefix ? 0 : 1; i < text.length; i++) {
      const ws = isSpaceOrMeta(text.charCodeAt(i));
      if (ws && !prevWs && i > start) {
        this.encodeCached(text, start, i, first, out);
        first = false;
        start = i;
      }
      prevWs = ws;
    }
    this.encodeCached(text, start, text.length, first, out);
  }

  /**
   * Cuts normalized text wherever two adjacent characters never occur next to each other inside a
   * piece. A merged symbol is a piece, so none spans such a cut, and no candidate pair does
   * either: each part merges independently, with the same leftmost tie order. Exact for every
   * vocabulary.
   */
  private encodeBigramSplit(text: string, out: number[]): void {
    const bigrams = this.innerBigrams!;
    let start = 0;
    let prev = -1;
    for (let i = 0; i < text.length; ) {
      const cp = text.codePointAt(i)!;
      if (prev >= 0 && !bigrams.has(prev * 0x110000 + cp)) {
        this.encodeNormalizedCached(text, start, i, out);
        start = i;
      }
      prev = cp;
      i += cp > 0xffff ? 2 : 1;
    }
    this.encodeNormalizedCached(text, start, text.length, out);
  }

  private encodeNormalizedCached(text: string, start: number, end: number, out: number[]): void {
    if (end - start > 64) {
      this.encodeWord(text, start, end, out);
      return;
    }
    const key = text.slice(start, end);
    let ids = this.normCache.get(key);
    if (ids === undefined) {
      ids = [];
      this.encodeWord(key, 0, key.length, ids);
      if (this.normCache.size >= WORD_CACHE_LIMIT) this.normCache.clear();
      this.normCache.set(key, ids);
    }
    for (let i = 0; i < ids.length; i++) out.push(ids[i]!);
  }

  /** One raw (not yet normalized) word, through the cache; `prefixed`: the dummy prefix goes first. */
  private encodeCached(text: string, start: number, end: number, prefixed: boolean, out: number[]): void {
    if (end - start > 64) {
      const norm = (prefixed ? SPACE_SYMBOL : '') + text.slice(start, end).replaceAll(' ', SPACE_SYMBOL);
      this.encodeWord(norm, 0, norm.length, out);
      return;
    }
    const word = text.slice(start, end);
    const cache = prefixed ? this.firstWordCache : this.wordCache;
    let ids = cache.get(word);
    if (ids === undefined) {
      ids = [];
      const norm = (prefixed ? SPACE_SYMBOL : '') + word.replaceAll(' ', SPACE_SYMBOL);
      this.encodeWord(norm, 0, norm.length, ids);
      if (cache.size >= WORD_CACHE_LIMIT) cache.clear();
      cache.set(word, ids);
    }
    for (let i = 0; i < ids.length; i++) out.push(ids[i]!);
  }


  /** The merge loop over text[start..end) (already normalized). */
  private encodeWord(text: string, start: number, end: number, out: number[]): void {
    const ws = this.ws;
    ws.ensure(end - start);
    const ids = ws.ids;
    let n = 0;
    for (let i = start; i < end; i++) {
      let cp = text.charCodeAt(i);
      let sym: number;
      if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < end) {
        const lo = text.charCodeAt(i + 1);
        if (lo >= 0xdc00 && lo <= 0xdfff) {
          cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          i++;
        }
      }
      if (cp < 65536) sym = this.bmpSymbol[cp]!;
      else sym = this.astralSymbol.get(cp) ?? -1;
      // characters that are not pieces: -(code point + 1), resolved after merging
      ids[n++] = sym >= 0 ? sym : -(cp + 1);
    }
    const count = mergeSymbols(ws, n, this.pairs);
    const vocab = this.vocabSize;
    for (let i = 0; i < count; i++) {
      const id = ws.ids[i]!;
      if (id >= 0 && id < vocab) out.push(id);
      else this.fallback(id < 0 ? -id - 1 : this.virtualChars[id - vocab]!, out);
    }
  }

  /** A character that is not a piece: its UTF-8 bytes as byte pieces, or unk. */
  private fallback(cp: number, out: number[]): void {
    if (this.model.byteFallback && this.hasAllBytes) {
      const bytes = utf8(String.fromCodePoint(cp));
      for (const b of bytes) out.push(this.byteIds[b]!);
      return;
    }
    if (this.model.unkId < 0 || this.model.unkId >= this.vocabSize) {
      throw new LlamaError('TOKENIZER_INVALID', `character U+${cp.toString(16).toUpperCase().padStart(4, '0')} is not in the vocabulary and the model has neither byte fallback nor an unknown piece`);
    }
    out.push(this.model.unkId);
  }

  // ---- decoding ----

  private checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new LlamaError('TOKEN_ID', `token id ${id} is out of range (vocabulary size ${this.vocabSize})`);
    }
  }

  initialState(): SpmStreamState {
    return { atStart: true, pending: [] };
  }

  render(id: number, state: SpmStreamState, renderSpecial: boolean): Uint8Array {
    this.checkId(id);
    const t = this.model.types[id]!;
    if (t === PieceType.BYTE) {
      // runs of byte pieces: complete characters come out; as sentencepiece does, every byte
      // that cannot be part of a valid character becomes U+FFFD on its own
      state.atStart = false;
      state.pending.push(this.tokenBytes(id)[0]!);
      return this.drainBytes(state, false);
    }
    const held = state.pending.length > 0 ? this.drainBytes(state, true) : EMPTY;
    let bytes: Uint8Array;
    if (t === PieceType.CONTROL) bytes = renderSpecial ? utf8(this.model.pieces[id]!) : EMPTY;
    else if (t === PieceType.UNKNOWN) {
      // the unknown surface ' ⁇ ' keeps its spaces, even first
      bytes = renderSpecial ? utf8(this.model.pieces[id]!) : UNK_SURFACE;
      state.atStart = false;
    } else {
      bytes = this.tokenBytes(id);
      // sentencepiece drops the dummy-prefix space of the first piece after any control pieces
      if (state.atStart) {
        state.atStart = false;
        if (this.model.addDummyPrefix && bytes.length > 0 && bytes[0] === 0x20) bytes = bytes.subarray(1);
      }
    }
    if (held.length === 0) return bytes;
    const out = new Uint8Array(held.length + bytes.length);
    out.set(held);
    out.set(bytes, held.length);
    return out;
  }

  finish(state: SpmStreamState): Uint8Array {
    return this.drainBytes(state, true);
  }

  /** Emits the complete characters (and invalid bytes as U+FFFD) from the front of `pending`. */
  private drainBytes(state: SpmStreamState, final: boolean): Uint8Array {
    const p = state.pending;
    const out: number[] = [];
    let i = 0;
    while (i < p.length) {
      const n = utf8SequenceAt(p, i);
      if (n > 0) {
        for (let k = 0; k < n; k++) out.push(p[i + k]!);
        i += n;
      } else if (n < 0 || final) {
        out.push(...REPLACEMENT);
        i++;
      } else break; // a character still being completed
    }
    state.pending = p.slice(i);
    return out.length > 0 ? Uint8Array.from(out) : EMPTY;
  }

  decode(ids: readonly number[], opts: { renderSpecial?: boolean } = {}): string {
    return decodeWith(this, ids, opts.renderSpecial ?? false);
  }

  streamDecoder(opts: { renderSpecial?: boolean } = {}): StreamDecoder {
    return new Utf8StreamDecoder(this, opts.renderSpecial ?? false);
  }

  tokenBytes(id: number): Uint8Array {
    this.checkId(id);
    let b = this.pieceBytes[id];
    if (b === undefined) {
      const p = this.model.pieces[id]!;
      if (this.model.types[id] === PieceType.BYTE) {
        const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(p);
        b = m ? Uint8Array.of(parseInt(m[1]!, 16)) : utf8(p);
      } else {
        b = utf8(this.model.escapeWhitespaces ? p.replaceAll(SPACE_SYMBOL, ' ') : p);
      }
      this.pieceBytes[id] = b;
    }
    return b;
  }

  piece(id: number): string {
    this.checkId(id);
    return this.model.pieces[id]!;
  }

  isSpecial(id: number): boolean {
    this.checkId(id);
    const t = this.model.types[id];
    return t === PieceType.CONTROL || t === PieceType.UNKNOWN || t === PieceType.USER_DEFINED;
  }
}
