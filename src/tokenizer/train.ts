// Trains a SentencePiece-style BPE tokenizer, as the LLaMA paper did (sentencepiece BPE with byte
// fallback and split digits):
//   - each line is a sentence; it gets the dummy-prefix space and ' ' -> '▁' (identity normalizer);
//   - sentences are cut into words: a run of '▁' followed by a run of other characters; merges
//     never cross words, so '▁' only ever starts a piece (or whitespace-only pieces '▁▁▁');
//   - within a word, merges also never join different character classes (letters, punctuation)
//     and, with split digits, never touch a digit (sentencepiece's split_by_unicode_script /
//     split_digits);
//   - characters below the coverage threshold are not pieces: they fall back to bytes;
//   - the most frequent allowed adjacent pair is merged, repeatedly, until the vocabulary is full.
// Pair counts are kept incrementally (only words containing the merged pair are recounted), with
// a lazy max-heap over counts, so a few MB of text train to an 8k vocabulary in seconds.
//
// The result is an SpmModel in sentencepiece's layout (<unk> <s> </s>, 256 byte pieces, merged
// pieces by merge order, then characters) with score = -merge rank, so the SPM encoder (highest
// score first) replays the merges in training order.
import { LlamaError } from '../errors.js';
import { LLAMA_SPM_DEFAULTS, PieceType, SPACE_SYMBOL, type SpmModel } from './spm.js';

export interface TrainOptions {
  vocabSize: number;
  /** fraction of character occurrences the kept characters must cover (sentencepiece: 0.9995) */
  characterCoverage?: number;
  splitDigits?: boolean;
  /** longest piece in characters (sentencepiece's max_sentencepiece_length: 16) */
  maxPieceLength?: number;
  /** progress callback: merges done so far */
  onProgress?: (done: number, total: number) => void;
}

export interface TrainStats {
  sentences: number;
  characters: number;
  uniqueWords: number;
  keptChars: number;
  merges: number;
}

const CLS_SPACE = 0;
const CLS_LETTER = 1;
const CLS_DIGIT = 2;
const CLS_OTHER = 3;

function charClass(ch: string): number {
  if (ch === SPACE_SYMBOL) return CLS_SPACE;
  if (/^[\p{L}\p{M}]$/u.test(ch)) return CLS_LETTER;
  if (/^\p{N}$/u.test(ch)) return CLS_DIGIT;
  return CLS_OTHER;
}

/** Lazy max-heap of (count, key); ties: smaller key first. */
class CountHeap {
  private counts = new Float64Array(1024);
  private keys = new Float64Array(1024);
  size = 0;

  push(count: number, key: number): void {
    if (this.size === this.counts.length) {
      const c = new Float64Array(this.size * 2);
      c.set(this.counts);
      this.counts = c;
      const k = new Float64Array(this.size * 2);
      k.set(this.keys);
      this.keys = k;
    }
    let i = this.size++;
    this.counts[i] = count;
    this.keys[i] = key;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  topCount(): number {
    return this.counts[0]!;
  }
  topKey(): number {
    return this.keys[0]!;
  }

  pop(): void {
    this.size--;
    if (this.size === 0) return;
    this.swap(0, this.size);
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= this.size) break;
      let c = l;
      if (l + 1 < this.size && this.before(l + 1, l)) c = l + 1;
      if (!this.before(c, i)) break;
      this.swap(c, i);
      i = c;
    }
  }

  private before(a: number, b: number): boolean {
    const ca = this.counts[a]!;
    const cb = this.counts[b]!;
    return ca > cb || (ca === cb && this.keys[a]! < this.keys[b]!);
  }

  private swap(a: number, b: number): void {
    let t = this.counts[a]!;
    this.counts[a] = this.counts[b]!;
    this.counts[b] = t;
    t = this.keys[a]!;
    this.keys[a] = this.keys[b]!;
    this.keys[b] = t;
  }
}

const KEY_BASE = 1 << 21;

/** Trains on the given texts (each split into lines). */
export function trainSpmBpe(texts: Iterable<string>, opts: TrainOptions): { model: SpmModel; stats: TrainStats } {
  const vocabSize = opts.vocabSize;
  const coverage = opts.characterCoverage ?? 0.9995;
  const splitDigits = opts.splitDigits ?? true;
  const maxLen = opts.maxPieceLength ?? 16;
  const RESERVED = 3 + 256;
  if (!Number.isInteger(vocabSize) || vocabSize < RESERVED + 1 || vocabSize >= KEY_BASE) {
    throw new LlamaError('USAGE', `vocabulary size must be an integer between ${RESERVED + 1} and ${KEY_BASE - 1} (3 control pieces + 256 byte pieces + at least one more)`);
  }
  if (!(coverage > 0 && coverage <= 1)) throw new LlamaError('USAGE', `character coverage must be in (0, 1], got ${coverage}`);

  // 1. words with their counts
  const wordCounts = new Map<string, number>();
  let sentences = 0;
  const wordRe = /▁*[^▁]+|▁+/g;
  for (const text of texts) {
    for (const raw of text.split('\n')) {
      const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (line.length === 0) continue;
      sentences++;
      const norm = SPACE_SYMBOL + line.replaceAll(' ', SPACE_SYMBOL);
      for (const m of norm.matchAll(wordRe)) wordCounts.set(m[0], (wordCounts.get(m[0]) ?? 0) + 1);
    }
  }
  if (wordCounts.size === 0) throw new LlamaError('DATA', 'no training text (all inputs are empty)');

  // 2. characters by frequency; keep those covering `coverage` of all occurrences
  const charFreq = new Map<string, number>();
  let totalChars = 0;
  for (const [w, c] of wordCounts) {
    for (const ch of w) {
      charFreq.set(ch, (charFreq.get(ch) ?? 0) + c);
      totalChars += c;
    }
  }
  const chars = [...charFreq].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const kept: string[] = [];
  let covered = 0;
  for (const [ch, f] of chars) {
    if (kept.length > 0 && covered / totalChars >= coverage) break;
    if (kept.length >= vocabSize - RESERVED) break;
    kept.push(ch);
    covered += f;
  }

  // symbols: 0..kept-1 are characters, then merged pieces
  const pieceStr: string[] = [...kept];
  const pieceLen: number[] = kept.map(() => 1);
  const pieceCls: number[] = kept.map(charClass);
  const pieceAllWs: boolean[] = kept.map((ch) => ch === SPACE_SYMBOL);
  const pieceLeadWs: boolean[] = kept.map((ch) => ch === SPACE_SYMBOL);
  const charId = new Map<string, number>(kept.map((ch, i) => [ch, i]));

  const canMerge = (a: number, b: number): boolean => {
    if (a < 0 || b < 0) return false;
    if (pieceLen[a]! + pieceLen[b]! > maxLen) return false;
    const ca = pieceCls[a]!;
    const cb = pieceCls[b]!;
    // split digits: a digit never joins anything, not even the '▁' before it
    if (splitDigits && (ca === CLS_DIGIT || cb === CLS_DIGIT)) return false;
    if (pieceAllWs[b]!) return pieceAllWs[a]!; // '▁▁' + '▁'
    if (pieceLeadWs[b]!) return false; // '▁' inside a piece
    if (pieceAllWs[a]!) return pieceLen[a] === 1; // '▁' + 'word', never '▁▁' + 'word'
    return ca === cb;
  };

  // 3. words as symbol arrays
  const words: Int32Array[] = [];
  const wordLen: number[] = [];
  const wordCount: number[] = [];
  for (const [w, c] of wordCounts) {
    const syms = Array.from(w, (ch) => charId.get(ch) ?? -1);
    words.push(Int32Array.from(syms));
    wordLen.push(syms.length);
    wordCount.push(c);
  }

  // 4. pair counts, occurrences, heap
  const pairCount = new Map<number, number>();
  const occ = new Map<number, number[]>();
  const heap = new CountHeap();
  const addWordPairs = (w: number, sign: number, dirty: Set<number> | undefined): void => {
    const s = words[w]!;
    const n = wordLen[w]!;
    const c = wordCount[w]! * sign;
    for (let i = 0; i + 1 < n; i++) {
      const a = s[i]!;
      const b = s[i + 1]!;
      if (!canMerge(a, b)) continue;
      const key = a * KEY_BASE + b;
      pairCount.set(key, (pairCount.get(key) ?? 0) + c);
      if (sign > 0) {
        let list = occ.get(key);
        if (!list) occ.set(key, (list = []));
        if (list[list.length - 1] !== w) list.push(w);
      }
      dirty?.add(key);
    }
  };
  for (let w = 0; w < words.length; w++) addWordPairs(w, 1, undefined);
  for (const [key, c] of pairCount) heap.push(c, key);

  // 5. merges
  const target = vocabSize - RESERVED - kept.length;
  const stamp = new Int32Array(words.length).fill(-1);
  const mergedId = new Map<string, number>();
  let merges = 0; // new pieces
  let step = 0; // merge operations
  while (merges < target && heap.size > 0) {
    const count = heap.topCount();
    const key = heap.topKey();
    heap.pop();
    if (step >= 100 * target + 1000) break; // cannot happen; bounds the loop regardless
    if ((pairCount.get(key) ?? 0) !== count) continue; // stale
    if (count <= 0) break;
    const a = Math.floor(key / KEY_BASE);
    const b = key % KEY_BASE;
    // the same string may be reached by another split ('ab'+'c' after 'a'+'bc'): one piece
    const str = pieceStr[a]! + pieceStr[b]!;
    let c = mergedId.get(str);
    if (c === undefined) {
      c = pieceStr.length;
      mergedId.set(str, c);
      pieceStr.push(str);
      pieceLen.push(pieceLen[a]! + pieceLen[b]!);
      pieceAllWs.push(pieceAllWs[a]! && pieceAllWs[b]!);
      pieceLeadWs.push(pieceLeadWs[a]!);
      pieceCls.push(pieceAllWs[a]! ? pieceCls[b]! : pieceCls[a]!);
      merges++;
    }
    step++;
    const dirty = new Set<number>();
    for (const w of occ.get(key) ?? []) {
      if (stamp[w] === step) continue;
      stamp[w] = step;
      const s = words[w]!;
      const n = wordLen[w]!;
      let found = false;
      for (let i = 0; i + 1 < n; i++) {
        if (s[i] === a && s[i + 1] === b) {
          found = true;
          break;
        }
      }
      if (!found) continue;
      addWordPairs(w, -1, dirty);
      let j = 0;
      for (let i = 0; i < n; i++) {
        if (i + 1 < n && s[i] === a && s[i + 1] === b) {
          s[j++] = c;
          i++;
        } else s[j++] = s[i]!;
      }
      wordLen[w] = j;
      addWordPairs(w, 1, dirty);
    }
    occ.delete(key);
    pairCount.delete(key);
    for (const k of dirty) {
      const v = pairCount.get(k) ?? 0;
      if (v <= 0) pairCount.delete(k);
      else heap.push(v, k);
    }
    if (opts.onProgress && step % 256 === 0) opts.onProgress(merges, target);
  }

  // 6. the vocabulary in sentencepiece's order
  const pieces: string[] = ['<unk>', '<s>', '</s>'];
  const types: number[] = [PieceType.UNKNOWN, PieceType.CONTROL, PieceType.CONTROL];
  const scores: number[] = [0, 0, 0];
  for (let b = 0; b < 256; b++) {
    pieces.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(PieceType.BYTE);
    scores.push(0);
  }
  for (let m = 0; m < merges; m++) {
    pieces.push(pieceStr[kept.length + m]!);
    types.push(PieceType.NORMAL);
    scores.push(-m);
  }
  kept.forEach((ch, i) => {
    pieces.push(ch);
    types.push(PieceType.NORMAL);
    scores.push(-(merges + i));
  });
  const model: SpmModel = {
    pieces,
    scores: Float32Array.from(scores),
    types: Uint8Array.from(types),
    ...LLAMA_SPM_DEFAULTS,
    byteFallback: true,
    splitDigits,
  };
  return { model, stats: { sentences, characters: totalChars, uniqueWords: wordCounts.size, keptChars: kept.length, merges } };
}
