// Byte-level BPE as Llama 3 uses it (tiktoken style):
//   - the text is cut into pre-tokens by a regex (Meta's pattern from tokenizer.py);
//   - a pre-token whose whole UTF-8 byte string is a token maps straight to it (tiktoken does this,
//     and HF's `ignore_merges`; plain pairwise merging does not always reach such tokens);
//   - otherwise its bytes are merged pairwise, lowest rank first (leftmost on ties).
// Vocabularies stored as text (GGUF `gpt2` model, HF tokenizer.json) use GPT-2's byte<->unicode
// mapping; `bytesFromByteLevel` undoes it.
import { decodeLatin1, decodeUtf8, isUtf8 } from '../platform/utf8.js';
import { LlamaError } from '../errors.js';
import { mergeSymbols, MergeWorkspace, PairTable } from './merge.js';
import { decodeWith, Utf8StreamDecoder, type TokenRenderer } from './stream.js';
import { specialMatcher, splitSpecial, splitSpecialIn } from './text.js';
import type { EncodeOptions, StreamDecoder, Tokenizer } from './tokenizer.js';

/** Meta's Llama 3 pre-tokenizer pattern (llama/tokenizer.py), in Python/Rust regex syntax. */
export const LLAMA3_PATTERN =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/** GPT-2's pattern (the default for GGUF `gpt2` vocabularies with pre = "default"/"gpt-2"). */
export const GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/** Names of Llama 3's 256 special tokens, ids 128000..128255 (llama/tokenizer.py). */
export function llama3SpecialTokens(): string[] {
  const names = [
    '<|begin_of_text|>',
    '<|end_of_text|>',
    '<|reserved_special_token_0|>',
    '<|reserved_special_token_1|>',
    '<|reserved_special_token_2|>',
    '<|reserved_special_token_3|>',
    '<|start_header_id|>',
    '<|end_header_id|>',
    '<|reserved_special_token_4|>',
    '<|eot_id|>',
  ];
  for (let i = 5; i < 256 - 5; i++) names.push(`<|reserved_special_token_${i}|>`);
  return names;
}

/**
 * Translates a Python/Rust-regex pre-tokenizer pattern into a JS `u` regex with the same meaning:
 * `\s`/`\S` become Unicode White_Space (JS's \s differs: it has U+FEFF and lacks U+0085), and a
 * case-insensitive group `(?i:...)` of literals is expanded letter by letter (Node 20 has no
 * inline modifiers; Unicode simple case folding adds ſ to s and K to k).
 */
export function translatePattern(pattern: string): RegExp {
  let src = pattern.replace(/\(\?i:([^()]*)\)/g, (_m, body: string) => {
    const expanded = body.replace(/[A-Za-z]/g, (ch) => {
      const lo = ch.toLowerCase();
      const extra = lo === 's' ? 'ſ' : lo === 'k' ? 'K' : '';
      return `[${lo}${lo.toUpperCase()}${extra}]`;
    });
    return `(?:${expanded})`;
  });
  src = src.replace(/\\\\|\\s|\\S/g, (m) => (m === '\\s' ? '\\p{White_Space}' : m === '\\S' ? '\\P{White_Space}' : m));
  try {
    return new RegExp(src, 'gu');
  } catch (e) {
    throw new LlamaError('TOKENIZER_INVALID', `pre-tokenizer pattern is not supported: ${pattern}`, { cause: e });
  }
}

// ---- GPT-2 byte <-> unicode mapping ----
let byteToChar: string[] | undefined;
let charToByte: Map<number, number> | undefined;

function byteLevelTables(): { b2c: string[]; c2b: Map<number, number> } {
  if (!byteToChar || !charToByte) {
    byteToChar = new Array(256);
    charToByte = new Map();
    let extra = 0;
    for (let b = 0; b < 256; b++) {
      // printable Latin-1 bytes stand for themselves; the rest are moved to U+0100 onwards
      const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
      const cp = printable ? b : 256 + extra++;
      byteToChar[b] = String.fromCharCode(cp);
      charToByte.set(cp, b);
    }
  }
  return { b2c: byteToChar, c2b: charToByte };
}

/** GPT-2 byte-level text of a token -> its bytes; undefined if a character is outside the mapping. */
export function bytesFromByteLevel(s: string): Uint8Array | undefined {
  const { c2b } = byteLevelTables();
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const b = c2b.get(s.charCodeAt(i));
    if (b === undefined) return undefined;
    out[i] = b;
  }
  return out;
}

export function byteLevelFromBytes(bytes: Uint8Array): string {
  const { b2c } = byteLevelTables();
  let s = '';
  for (const b of bytes) s += b2c[b];
  return s;
}

export interface BpeModel {
  /** bytes of every token; special tokens hold their text */
  readonly tokens: readonly Uint8Array[];
  /** special (control) tokens: text -> id; never produced by merges */
  readonly specials: ReadonlyMap<string, number>;
  /**
   * user-defined (added, non-special) tokens: text -> id. Matched in text always, rendered always
   * (HF added_tokens with special=false, GGUF USER_DEFINED); never produced by merges.
   */
  readonly userDefined?: ReadonlyMap<string, number>;
  /**
   * Merge order. 'rank': tiktoken files, a merge's priority is the rank (id) of the token it makes.
   * Otherwise a list of (left id, right id) pairs in rank order (GGUF / HF merges).
   */
  readonly merges: 'rank' | ReadonlyArray<readonly [number, number]>;
  /** the pre-tokenizer pattern (Python/Rust syntax) */
  readonly pattern: string;
  /** a pre-token that is itself a token maps straight to it */
  readonly ignoreMerges: boolean;
  readonly bosId: number;
  readonly eosId: number;
  readonly addBos: boolean;
  readonly addEos: boolean;
  readonly eogIds?: readonly number[];
  /**
   * Cut the text as Meta's llama/tokenizer.py does before pre-tokenizing: into 400,000-character
   * chunks, then wherever a run of whitespace or non-whitespace exceeds 25,000 characters. Only
   * very long inputs are affected. On for Meta's tiktoken files; HF and llama.cpp do not cut.
   */
  readonly metaChunking?: boolean;
}

/** Meta's llama/tokenizer.py limits. */
export const TIKTOKEN_MAX_ENCODE_CHARS = 400_000;
export const MAX_NO_WHITESPACES_CHARS = 25_000;

/** Python's str.isspace for one code point: Unicode White_Space plus U+001C..U+001F. */
function pyIsSpace(cp: number): boolean {
  return (cp >= 0x1c && cp <= 0x1f) || /^\p{White_Space}$/u.test(String.fromCodePoint(cp));
}

/**
 * Meta's `_split_whitespaces_or_nonwhitespaces` over 400k-character chunks. Lengths count code
 * points, as Python does. Yields [start, end) UTF-16 ranges of `s`.
 */
export function metaChunks(s: string, maxChunk = TIKTOKEN_MAX_ENCODE_CHARS, maxRun = MAX_NO_WHITESPACES_CHARS): [number, number][] {
  const out: [number, number][] = [];
  let i = 0;
  while (i < s.length) {
    // one chunk of up to maxChunk code points
    let end = i;
    for (let n = 0; n < maxChunk && end < s.length; n++) end += s.codePointAt(end)! > 0xffff ? 2 : 1;
    let sliceStart = i;
    let runLen = 0;
    let runIsSpace = pyIsSpace(s.codePointAt(i)!);
    for (let j = i; j < end; ) {
      const cp = s.codePointAt(j)!;
      const isSpace = cp < 0x80 ? cp === 0x20 || (cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x1f) : pyIsSpace(cp);
      if (isSpace !== runIsSpace) {
        runLen = 1;
        runIsSpace = isSpace;
      } else if (++runLen > maxRun) {
        out.push([sliceStart, j]);
        sliceStart = j;
        runLen = 1;
      }
      j += cp > 0xffff ? 2 : 1;
    }
    out.push([sliceStart, end]);
    i = end;
  }
  return out;
}

const EMPTY = new Uint8Array(0);
const CACHE_LIMIT = 1 << 16;

export class BpeTokenizer implements Tokenizer, TokenRenderer<null> {
  readonly kind = 'bpe' as const;
  readonly vocabSize: number;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  readonly eogIds: ReadonlySet<number>;
  readonly addBosDefault: boolean;
  readonly model: BpeModel;

  private readonly regex: RegExp;
  private readonly byteIds = new Int32Array(256).fill(-1);
  private readonly textToId = new Map<string, number>();
  private readonly pairs: PairTable;
  private readonly specialIds = new Set<number>();
  private readonly matcher: RegExp | undefined;
  private readonly userIds = new Set<number>();
  private readonly allMatched: ReadonlyMap<string, number>;
  private readonly userMatcher: RegExp | undefined;
  private readonly cache = new Map<string, number[]>();
  private readonly ws = new MergeWorkspace();
  private bytesBuf = new Uint8Array(1024);
  private readonly idToPiece: (string | undefined)[];

  constructor(model: BpeModel) {
    this.model = model;
    const n = model.tokens.length;
    this.vocabSize = n;
    this.idToPiece = new Array(n);
    const valid = (id: number): number | undefined => (id >= 0 && id < n ? id : undefined);
    this.bosId = valid(model.bosId);
    this.eosId = valid(model.eosId);
    this.addBosDefault = model.addBos && this.bosId !== undefined;
    const eog = new Set<number>();
    if (this.eosId !== undefined) eog.add(this.eosId);
    for (const id of model.eogIds ?? []) if (valid(id) !== undefined) eog.add(id);
    this.eogIds = eog;
    for (const [, id] of model.specials) {
      if (valid(id) === undefined) throw new LlamaError('TOKENIZER_INVALID', `special token id ${id} is outside the vocabulary (${n})`);
      this.specialIds.add(id);
    }
    for (const [, id] of model.userDefined ?? []) {
      if (valid(id) === undefined) throw new LlamaError('TOKENIZER_INVALID', `user-defined token id ${id} is outside the vocabulary (${n})`);
      this.userIds.add(id);
    }
    const all = new Map<string, number>(model.userDefined ?? []);
    for (const [t, id] of model.specials) all.set(t, id);
    this.allMatched = all;
    this.matcher = specialMatcher(all.keys());
    this.userMatcher = specialMatcher((model.userDefined ?? new Map<string, number>()).keys());
    this.regex = translatePattern(model.pattern);

    // byte string (as a Latin-1 string) -> id, for merges
    const byBytes = new Map<string, number>();
    const keys: string[] = new Array(n);
    for (let id = 0; id < n; id++) {
      if (this.specialIds.has(id) || this.userIds.has(id)) continue;
      const b = model.tokens[id]!;
      const key = latin1(b);
      keys[id] = key;
      if (!byBytes.has(key)) byBytes.set(key, id);
      if (b.length === 1 && this.byteIds[b[0]!] === -1) this.byteIds[b[0]!] = id;
      // tokens that are not valid UTF-8 on their own are only reachable through merges
      if (isUtf8(b)) {
        const text = decodeUtf8(b);
        if (!this.textToId.has(text)) this.textToId.set(text, id);
      }
    }
    const missing = [...this.byteIds].findIndex((id) => id < 0);
    if (missing >= 0) throw new LlamaError('TOKENIZER_INVALID', `byte-level BPE vocabulary has no token for byte 0x${missing.toString(16).padStart(2, '0')}`);

    if (model.merges === 'rank') {
      this.pairs = new PairTable(n * 4);
      for (let id = 0; id < n; id++) {
        if (this.specialIds.has(id) || this.userIds.has(id)) continue;
        const key = keys[id]!;
        for (let k = 1; k < key.length; k++) {
          const l = byBytes.get(key.slice(0, k));
          if (l === undefined) continue;
          const r = byBytes.get(key.slice(k));
          if (r === undefined) continue;
          this.pairs.set(l, r, id, -id);
        }
      }
    } else {
      this.pairs = new PairTable(model.merges.length);
      model.merges.forEach(([l, r], rank) => {
        const merged = byBytes.get((keys[l] ?? latin1(model.tokens[l]!)) + (keys[r] ?? latin1(model.tokens[r]!)));
        if (merged === undefined) {
          throw new LlamaError('TOKENIZER_INVALID', `merge ${rank} (${l} + ${r}) makes a token that is not in the vocabulary`);
        }
        this.pairs.set(l, r, merged, -rank);
      });
    }
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    const out: number[] = [];
    const addBos = opts.addBos ?? this.addBosDefault;
    const addEos = opts.addEos ?? this.model.addEos;
    if (addBos && this.bosId !== undefined) out.push(this.bosId);
    const frags = opts.parseSpecial
      ? opts.specialRanges
        ? splitSpecialIn(text, this.allMatched, this.matcher, opts.specialRanges)
        : splitSpecial(text, this.allMatched, this.matcher)
      : splitSpecial(text, this.model.userDefined ?? this.allMatched, this.userMatcher);
    for (const f of frags) {
      if (f.id !== undefined) out.push(f.id);
      else this.encodeText(f.text, out);
    }
    if (addEos && this.eosId !== undefined) out.push(this.eosId);
    return out;
  }

  private encodeText(text: string, out: number[]): void {
    if (this.model.metaChunking && text.length > MAX_NO_WHITESPACES_CHARS) {
      for (const [a, b] of metaChunks(text)) this.encodeChunk(text.slice(a, b), out);
      return;
    }
    this.encodeChunk(text, out);
  }

  private encodeChunk(text: string, out: number[]): void {
    const re = this.regex;
    re.lastIndex = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      const piece = m[0];
      if (piece.length === 0) {
        re.lastIndex++; // cannot happen with the known patterns; never loop forever
        continue;
      }
      this.encodePiece(piece, out);
    }
  }

  private encodePiece(piece: string, out: number[]): void {
    if (this.model.ignoreMerges) {
      const direct = this.textToId.get(piece);
      if (direct !== undefined) {
        out.push(direct);
        return;
      }
    }
    const cached = this.cache.get(piece);
    if (cached !== undefined) {
      for (let i = 0; i < cached.length; i++) out.push(cached[i]!);
      return;
    }
    // UTF-8 bytes of the pre-token, one symbol per byte
    if (this.bytesBuf.length < piece.length * 3) this.bytesBuf = new Uint8Array(piece.length * 3);
    const { written } = new TextEncoder().encodeInto(piece, this.bytesBuf);
    const ws = this.ws;
    ws.ensure(written);
    for (let i = 0; i < written; i++) ws.ids[i] = this.byteIds[this.bytesBuf[i]!]!;
    const count = mergeSymbols(ws, written, this.pairs);
    const ids = Array.from(ws.ids.subarray(0, count));
    if (piece.length <= 256) {
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      this.cache.set(piece, ids);
    }
    for (const id of ids) out.push(id);
  }

  private checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new LlamaError('TOKEN_ID', `token id ${id} is out of range (vocabulary size ${this.vocabSize})`);
    }
  }

  initialState(): null {
    return null;
  }

  render(id: number, _state: null, renderSpecial: boolean): Uint8Array {
    this.checkId(id);
    if (this.specialIds.has(id) && !renderSpecial) return EMPTY;
    return this.model.tokens[id]!;
  }

  decode(ids: readonly number[], opts: { renderSpecial?: boolean } = {}): string {
    return decodeWith(this, ids, opts.renderSpecial ?? false);
  }

  streamDecoder(opts: { renderSpecial?: boolean } = {}): StreamDecoder {
    return new Utf8StreamDecoder(this, opts.renderSpecial ?? false);
  }

  tokenBytes(id: number): Uint8Array {
    this.checkId(id);
    return this.model.tokens[id]!;
  }

  /** special tokens: their text; others: GPT-2 byte-level text (as GGUF / tokenizer.json store it) */
  piece(id: number): string {
    this.checkId(id);
    let p = this.idToPiece[id];
    if (p === undefined) {
      const b = this.model.tokens[id]!;
      p = this.specialIds.has(id) || this.userIds.has(id) ? new TextDecoder('utf-8', { ignoreBOM: true }).decode(b) : byteLevelFromBytes(b);
      this.idToPiece[id] = p;
    }
    return p;
  }

  /** every merge as (left id, right id), highest priority first (what GGUF / tokenizer.json store) */
  mergeList(): [number, number][] {
    const t = this.pairs;
    const order = t.priority.map((_, i) => i).sort((a, b) => t.priority[b]! - t.priority[a]! || a - b);
    return order.map((e) => [t.left[e]!, t.right[e]!]);
  }

  isUserDefined(id: number): boolean {
    this.checkId(id);
    return this.userIds.has(id);
  }

  isSpecial(id: number): boolean {
    this.checkId(id);
    return this.specialIds.has(id) || this.userIds.has(id);
  }
}

function latin1(b: Uint8Array): string {
  return decodeLatin1(b);
}

