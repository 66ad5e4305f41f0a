// Loading tokenizers from every file kind LLaMA ships them in:
//   - sentencepiece `tokenizer.model` (protobuf ModelProto)        -> SpmTokenizer
//   - Llama 3 tiktoken `tokenizer.model` (base64 + rank lines)      -> BpeTokenizer
//   - llama2.c `tokenizer.bin`                                       -> SpmTokenizer
//   - HF `tokenizer.json` (byte-level BPE, or Llama 2's SPM-as-BPE)  -> BpeTokenizer / SpmTokenizer
//   - GGUF `tokenizer.ggml.*` metadata (model "llama" / "gpt2")      -> SpmTokenizer / BpeTokenizer
// and writing a tokenizer back as GGUF metadata (for `llama convert`).
import { readFileSync, statSync } from '../platform/fs.js';
import { readFileHead } from '../formats/file-io.js';
import { basename } from '../platform/path.js';
import { FormatError, LlamaError } from '../errors.js';
import { GgufType, looksLikeGguf, type GgufValue } from '../formats/gguf.js';
import { openGgufModel } from '../formats/gguf-split.js';
import { hinted } from '../formats/hints.js';
import { BpeTokenizer, bytesFromByteLevel, GPT2_PATTERN, LLAMA3_PATTERN, llama3SpecialTokens, type BpeModel } from './bpe.js';
import { ProtoReader, ProtoWriter } from './protobuf.js';
import { LLAMA_SPM_DEFAULTS, PieceType, SpmTokenizer, SPACE_SYMBOL, type SpmModel } from './spm.js';
import type { Tokenizer } from './tokenizer.js';

/** Tokenizer files larger than this are refused before reading (the Llama 3 one is 2.2 MB). */
const MAX_TOKENIZER_FILE = 256 * 1024 * 1024;
/** Vocabularies larger than this are refused (the largest real ones are ~260k). */
const MAX_VOCAB = 4_000_000;

export type TokenizerFileKind = 'sentencepiece' | 'tiktoken' | 'llama2c' | 'hf-json' | 'gguf';

function invalid(file: string, msg: string, hint?: string): never {
  throw new FormatError('TOKENIZER_INVALID', msg, { file, hint: hint ?? 'the tokenizer file is damaged or of an unsupported kind' });
}

/** Looks at the first bytes (and the name) to tell which kind of tokenizer file this is. */
export function detectTokenizerKind(head: Uint8Array, name = ''): TokenizerFileKind | undefined {
  if (looksLikeGguf(head)) return 'gguf';
  let i = 0;
  while (i < head.length && (head[i] === 0x20 || head[i] === 0x0a || head[i] === 0x0d || head[i] === 0x09 || head[i] === 0xef || head[i] === 0xbb || head[i] === 0xbf)) i++;
  if (head[i] === 0x7b /* { */) return 'hf-json';
  // llama2.c: int32 max_token_length (small, so bytes 1..3 are zero), then token 0 '<unk>'
  // (llama2.c model checkpoints also start with small int32s; the '<unk>' or the name tells them apart)
  if (head.length >= 8 && head[1] === 0 && head[2] === 0 && head[3] === 0 && head[0]! > 0) {
    const unk = new TextDecoder('latin1').decode(head.subarray(12, 17)) === '<unk>';
    if (unk || /^tok.*\.bin$/i.test(name)) return 'llama2c';
    return undefined;
  }
  // sentencepiece: field 1 (pieces), wire type 2 -> first byte 0x0a
  if (head[0] === 0x0a) return 'sentencepiece';
  const firstLine = new TextDecoder('latin1').decode(head.subarray(0, 200)).split('\n')[0] ?? '';
  if (/^[A-Za-z0-9+/]+=*\s+\d+\s*$/.test(firstLine)) return 'tiktoken';
  return undefined;
}

/** Reads a whole tokenizer file after checking that it exists and is of sane size. */
function readTokenizerFile(path: string): Uint8Array {
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new LlamaError('FILE_READ', `${path} is not a file`, { file: path });
    size = st.size;
  } catch (e) {
    if (e instanceof LlamaError) throw e;
    throw new LlamaError('FILE_NOT_FOUND', `cannot open tokenizer file`, { file: path, cause: e, hint: 'check the path' });
  }
  if (size > MAX_TOKENIZER_FILE) throw new FormatError('FORMAT_LIMIT', `tokenizer file is ${size} bytes, more than any real tokenizer`, { file: path });
  return new Uint8Array(readFileSync(path));
}

/**
 * Loads a tokenizer from any supported file: tokenizer.model (sentencepiece or tiktoken),
 * tokenizer.json, llama2.c tokenizer.bin, or a GGUF file (its tokenizer.ggml.* metadata).
 */
export function loadTokenizer(path: string): Tokenizer {
  return hinted(() => {
    try {
      return loadTokenizerFile(path);
    } catch (e) {
      // errors raised while building the tokenizer (bpe.ts, spm.ts) do not know the file: name it
      if (e instanceof LlamaError && e.file === undefined && e.code !== 'INTERNAL') {
        throw new FormatError(e.code, e.message, { file: path, cause: e, ...(e.hint ? { hint: e.hint } : {}) });
      }
      throw e;
    }
  });
}

function loadTokenizerFile(path: string): Tokenizer {
  // GGUF files may be huge: look at the head only, then let the GGUF reader parse the header
  let head: Uint8Array;
  try {
    head = readFileHead(path, 256);
  } catch (e) {
    throw new LlamaError('FILE_NOT_FOUND', `cannot open tokenizer file`, { file: path, cause: e, hint: 'check the path' });
  }
  const kind = detectTokenizerKind(head, basename(path));
  if (kind === 'gguf') {
    const g = openGgufModel(path); // any part of a split GGUF: the metadata is in the first part
    try {
      return tokenizerFromGgufMetadata(g.metadata, path);
    } finally {
      g.close();
    }
  }
  const data = readTokenizerFile(path);
  switch (kind) {
    case 'sentencepiece':
      return new SpmTokenizer(parseSentencePieceModel(data, path));
    case 'tiktoken':
      return new BpeTokenizer(parseTiktoken(data, path));
    case 'llama2c':
      return new SpmTokenizer(parseLlama2cTokenizer(data, path));
    case 'hf-json':
      return tokenizerFromHfJson(data, path);
    default:
      throw new FormatError('FORMAT_UNKNOWN', 'not a known tokenizer file', {
        file: path,
        hint: 'expected tokenizer.model (sentencepiece or tiktoken), tokenizer.json, llama2.c tokenizer.bin or a GGUF file',
      });
  }
}


// ---------------------------------------------------------------------------------------------
// sentencepiece ModelProto (sentencepiece_model.proto):
//   ModelProto { repeated SentencePiece pieces = 1; TrainerSpec trainer_spec = 2; NormalizerSpec normalizer_spec = 3; }
//   SentencePiece { string piece = 1; float score = 2; Type type = 3 [default NORMAL]; }
//   TrainerSpec { model_type = 3; vocab_size = 4; split_digits = 25; byte_fallback = 35;
//                 unk_id = 40; bos_id = 41; eos_id = 42; pad_id = 43; ... }
//   NormalizerSpec { name = 1; add_dummy_prefix = 3; remove_extra_whitespaces = 4; escape_whitespaces = 5; }

export const SP_TRAINER_MODEL_BPE = 2;

export function parseSentencePieceModel(data: Uint8Array, file: string): SpmModel {
  const r = new ProtoReader(data, file);
  const pieces: string[] = [];
  const scores: number[] = [];
  const types: number[] = [];
  let trainer: { start: number; end: number } | undefined;
  let normalizer: { start: number; end: number } | undefined;
  for (const f of r.fields(0, data.length)) {
    if (f.field === 1) {
      if (f.wire !== 2) invalid(file, 'sentencepiece piece entry has the wrong wire type');
      let piece = '';
      let score = 0;
      let type: number = PieceType.NORMAL;
      for (const g of r.fields(f.start, f.end)) {
        if (g.field === 1) piece = r.string(g);
        else if (g.field === 2) score = r.float(g);
        else if (g.field === 3) type = r.int32(g);
      }
      if (type < 1 || type > 6) invalid(file, `piece ${pieces.length} ('${piece}') has unknown type ${type}`);
      pieces.push(piece);
      scores.push(score);
      types.push(type);
      if (pieces.length > MAX_VOCAB) throw new FormatError('FORMAT_LIMIT', `more than ${MAX_VOCAB} pieces`, { file });
    } else if (f.field === 2 && f.wire === 2) trainer = f;
    else if (f.field === 3 && f.wire === 2) normalizer = f;
  }
  if (pieces.length === 0) invalid(file, 'the sentencepiece model has no pieces');

  let modelType = 1; // UNIGRAM is the proto default
  let unkId = 0;
  let bosId = 1;
  let eosId = 2;
  let padId = -1;
  let byteFallback = false;
  let splitDigits = false;
  let whitespaceAsSuffix = false;
  if (trainer) {
    for (const g of r.fields(trainer.start, trainer.end)) {
      if (g.wire !== 0) continue;
      if (g.field === 3) modelType = r.int32(g);
      else if (g.field === 25) splitDigits = r.bool(g);
      else if (g.field === 24) whitespaceAsSuffix = r.bool(g);
      else if (g.field === 35) byteFallback = r.bool(g);
      else if (g.field === 40) unkId = r.int32(g);
      else if (g.field === 41) bosId = r.int32(g);
      else if (g.field === 42) eosId = r.int32(g);
      else if (g.field === 43) padId = r.int32(g);
    }
  }
  let addDummyPrefix = true;
  let removeExtraWhitespaces = true;
  let escapeWhitespaces = true;
  let normalizerName = 'identity';
  if (normalizer) {
    for (const g of r.fields(normalizer.start, normalizer.end)) {
      if (g.field === 1 && g.wire === 2) normalizerName = r.string(g);
      else if (g.wire !== 0) continue;
      else if (g.field === 3) addDummyPrefix = r.bool(g);
      else if (g.field === 4) removeExtraWhitespaces = r.bool(g);
      else if (g.field === 5) escapeWhitespaces = r.bool(g);
    }
  }
  if (modelType !== SP_TRAINER_MODEL_BPE) {
    throw new FormatError('FORMAT_UNSUPPORTED', `sentencepiece model type ${modelType === 1 ? 'UNIGRAM' : modelType} is not supported (LLaMA uses BPE)`, { file });
  }
  if (whitespaceAsSuffix) {
    throw new FormatError('FORMAT_UNSUPPORTED', 'sentencepiece models with treat_whitespace_as_suffix are not supported (LLaMA puts ▁ at the start of pieces)', { file });
  }
  if (normalizerName !== 'identity' && normalizerName !== '') {
    // nmt_nfkc etc. would need the precompiled normalization map; LLaMA uses identity
    throw new FormatError('FORMAT_UNSUPPORTED', `sentencepiece normalizer '${normalizerName}' is not supported (LLaMA uses 'identity')`, { file });
  }
  const n = pieces.length;
  for (const [name, id] of [['unk', unkId], ['bos', bosId], ['eos', eosId]] as const) {
    if (id >= n) invalid(file, `${name}_id ${id} is outside the ${n} pieces`);
  }
  return {
    pieces,
    scores: Float32Array.from(scores),
    types: Uint8Array.from(types),
    unkId,
    bosId,
    eosId,
    padId,
    addDummyPrefix,
    removeExtraWhitespaces,
    escapeWhitespaces,
    byteFallback,
    splitDigits,
    addBos: true,
    addEos: false,
  };
}

/** Serializes an SPM model as a sentencepiece ModelProto that sentencepiece itself can load. */
export function writeSentencePieceModel(m: SpmModel): Uint8Array {
  const w = new ProtoWriter();
  for (let i = 0; i < m.pieces.length; i++) {
    const p = new ProtoWriter().string(1, m.pieces[i]!).float(2, m.scores[i]!);
    if (m.types[i] !== PieceType.NORMAL) p.varint(3, m.types[i]!);
    w.message(1, p);
  }
  const t = new ProtoWriter()
    .varint(3, SP_TRAINER_MODEL_BPE)
    .varint(4, m.pieces.length)
    .bool(25, m.splitDigits ?? false)
    .bool(35, m.byteFallback)
    .varint(40, m.unkId)
    .varint(41, m.bosId)
    .varint(42, m.eosId)
    .varint(43, m.padId);
  const unk = m.pieces[m.unkId];
  if (unk !== undefined) t.string(45, unk);
  if (m.bosId >= 0) t.string(46, m.pieces[m.bosId]!);
  if (m.eosId >= 0) t.string(47, m.pieces[m.eosId]!);
  w.message(2, t);
  const nz = new ProtoWriter()
    .string(1, 'identity')
    .bool(3, m.addDummyPrefix)
    .bool(4, m.removeExtraWhitespaces)
    .bool(5, m.escapeWhitespaces);
  w.message(3, nz);
  return w.finish();
}

// ---------------------------------------------------------------------------------------------
// llama2.c tokenizer.bin: int32 max_token_length, then per token float32 score, int32 len, bytes.
// '▁' is stored as ' '; BOS/EOS as "\n<s>\n" / "\n</s>\n"; ids 0/1/2 are unk/bos/eos.

export function parseLlama2cTokenizer(data: Uint8Array, file: string): SpmModel {
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (data.length < 4) throw new FormatError('FORMAT_TRUNCATED', 'tokenizer.bin is shorter than its header', { file });
  const maxLen = dv.getInt32(0, true);
  if (maxLen <= 0 || maxLen > 1 << 20) invalid(file, `max_token_length ${maxLen} is not plausible`);
  const pieces: string[] = [];
  const scores: number[] = [];
  const types: number[] = [];
  const dec = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
  let pos = 4;
  while (pos < data.length) {
    if (pos + 8 > data.length) throw new FormatError('FORMAT_TRUNCATED', `token ${pieces.length} is cut off at byte ${pos}`, { file });
    const score = dv.getFloat32(pos, true);
    const len = dv.getInt32(pos + 4, true);
    pos += 8;
    if (len < 0 || len > maxLen || pos + len > data.length) {
      if (pos + len > data.length && len >= 0 && len <= maxLen) throw new FormatError('FORMAT_TRUNCATED', `token ${pieces.length} is cut off at byte ${pos}`, { file });
      invalid(file, `token ${pieces.length} declares length ${len} (max_token_length ${maxLen})`);
    }
    let text = dec.decode(data.subarray(pos, pos + len));
    pos += len;
    const id = pieces.length;
    let type: number = PieceType.NORMAL;
    if (id === 0) type = PieceType.UNKNOWN;
    else if (id === 1 || id === 2) {
      type = PieceType.CONTROL;
      text = text.replace(/^\n|\n$/g, '');
    } else if (/^<0x[0-9A-Fa-f]{2}>$/.test(text)) type = PieceType.BYTE;
    else text = text.replaceAll(' ', SPACE_SYMBOL);
    pieces.push(text);
    scores.push(score);
    types.push(type);
    if (pieces.length > MAX_VOCAB) throw new FormatError('FORMAT_LIMIT', `more than ${MAX_VOCAB} tokens`, { file });
  }
  if (pieces.length < 3) invalid(file, `only ${pieces.length} tokens`);
  return {
    pieces,
    scores: Float32Array.from(scores),
    types: Uint8Array.from(types),
    ...LLAMA_SPM_DEFAULTS,
    byteFallback: types.includes(PieceType.BYTE),
  };
}

// ---------------------------------------------------------------------------------------------
// tiktoken (Llama 3 tokenizer.model): lines "base64(bytes) rank", ranks 0..n-1 in order; the 256
// special tokens follow at n..n+255.

export function parseTiktoken(data: Uint8Array, file: string): BpeModel {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(data);
  const tokens: Uint8Array[] = [];
  let lineNo = 0;
  for (const line of text.split('\n')) {
    lineNo++;
    if (line.trim() === '') continue;
    const m = /^([A-Za-z0-9+/]*={0,2})\s+(\d+)\s*$/.exec(line);
    if (!m) invalid(file, `line ${lineNo} is not 'base64 rank'`);
    const rank = Number(m[2]);
    if (rank !== tokens.length) invalid(file, `line ${lineNo} has rank ${rank}, expected ${tokens.length} (ranks must be consecutive)`);
    const bytes = new Uint8Array(Buffer.from(m[1]!, 'base64'));
    if (bytes.length === 0) invalid(file, `line ${lineNo} has an empty token`);
    tokens.push(bytes);
    if (tokens.length > MAX_VOCAB) throw new FormatError('FORMAT_LIMIT', `more than ${MAX_VOCAB} tokens`, { file });
  }
  if (tokens.length < 256) invalid(file, `only ${tokens.length} tokens; a byte-level vocabulary needs at least 256`);
  const base = tokens.length;
  const specials = new Map<string, number>();
  const enc = new TextEncoder();
  llama3SpecialTokens().forEach((name, i) => {
    specials.set(name, base + i);
    tokens.push(enc.encode(name));
  });
  return {
    tokens,
    specials,
    merges: 'rank',
    pattern: LLAMA3_PATTERN,
    ignoreMerges: true,
    bosId: specials.get('<|begin_of_text|>')!,
    eosId: specials.get('<|end_of_text|>')!,
    addBos: true,
    addEos: false,
    eogIds: [specials.get('<|eot_id|>')!],
    metaChunking: true,
  };
}

// ---------------------------------------------------------------------------------------------
// GGUF tokenizer.ggml.* metadata. Accepts the GGUF reader's typed map or plain JSON-like values.

type MetaSource = ReadonlyMap<string, unknown> | Readonly<Record<string, unknown>>;

function metaGetter(meta: MetaSource): (key: string) => unknown {
  const raw = (k: string): unknown => (meta instanceof Map ? meta.get(k) : (meta as Record<string, unknown>)[k]);
  return (k) => {
    let v = raw(k);
    // typed GGUF values { type, value } and arrays { elemType, values }
    if (v !== null && typeof v === 'object' && 'type' in v && 'value' in v) v = (v as { value: unknown }).value;
    if (v !== null && typeof v === 'object' && 'elemType' in v && 'values' in v) v = (v as { values: unknown }).values;
    return v;
  };
}

function asNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  return undefined;
}

function asStringArray(v: unknown, key: string, file: string): string[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) invalid(file, `metadata '${key}' is missing or not an array of strings`);
  return v as string[];
}

function asNumberArray(v: unknown, key: string, file: string, n: number): number[] | undefined {
  if (v === undefined) return undefined;
  if (!(Array.isArray(v) || ArrayBuffer.isView(v))) invalid(file, `metadata '${key}' is not a numeric array`);
  const arr = Array.from(v as ArrayLike<unknown>, (x) => asNumber(x) ?? NaN);
  if (arr.length !== n) invalid(file, `metadata '${key}' has ${arr.length} entries for ${n} tokens`);
  if (arr.some((x) => Number.isNaN(x))) invalid(file, `metadata '${key}' has non-numeric entries`);
  return arr;
}

/** Builds the tokenizer a GGUF file describes. */
export function tokenizerFromGgufMetadata(meta: MetaSource, file = '<gguf metadata>'): Tokenizer {
  const get = metaGetter(meta);
  const model = get('tokenizer.ggml.model');
  if (model === undefined || model === 'none' || model === 'no_vocab') {
    throw new LlamaError('TOKENIZER_MISSING', model === undefined ? 'the GGUF file has no tokenizer (no tokenizer.ggml.model)' : `the GGUF file has no vocabulary (tokenizer.ggml.model = '${String(model)}')`, {
      file,
      hint: 'pass a tokenizer file with -m (tokenizer.model / tokenizer.json)',
    });
  }
  const tokens = asStringArray(get('tokenizer.ggml.tokens'), 'tokenizer.ggml.tokens', file);
  const n = tokens.length;
  if (n === 0 || n > MAX_VOCAB) invalid(file, `tokenizer.ggml.tokens has ${n} entries`);
  const types = asNumberArray(get('tokenizer.ggml.token_type'), 'tokenizer.ggml.token_type', file, n);
  // A special-token id outside the vocabulary is an error for the ids that change what the model
  // sees (BOS, EOS, EOT, EOM, UNK): dropping them silently changes every prompt. Padding and the
  // like are ignored with a warning (some converters write pad = vocab size).
  const STRICT_IDS = new Set(['tokenizer.ggml.bos_token_id', 'tokenizer.ggml.eos_token_id', 'tokenizer.ggml.eot_token_id', 'tokenizer.ggml.eom_token_id', 'tokenizer.ggml.unknown_token_id']);
  const id = (key: string, dflt: number): number => {
    const v = asNumber(get(key));
    if (v === undefined) return dflt;
    if (Number.isInteger(v) && v >= 0 && v < n) return v;
    if (STRICT_IDS.has(key)) {
      throw new FormatError('TOKENIZER_INVALID', `${key} = ${v} is outside the vocabulary (0..${n - 1})`, {
        file,
        hint: 'the metadata is wrong; fix the id (e.g. with llama.cpp\'s gguf_set_metadata.py) or convert the model again',
      });
    }
    // stderr in Node, the console in a browser
    console.warn(`warning: ${file}: ${key} = ${v} is outside the vocabulary (0..${n - 1}); ignored`);
    return -1;
  };
  const flag = (key: string, dflt: boolean): boolean => {
    const v = get(key);
    return typeof v === 'boolean' ? v : dflt;
  };
  const eog = [id('tokenizer.ggml.eot_token_id', -1), id('tokenizer.ggml.eom_token_id', -1)].filter((x) => x >= 0);

  if (model === 'llama') {
    const scores = asNumberArray(get('tokenizer.ggml.scores'), 'tokenizer.ggml.scores', file, n) ?? new Array<number>(n).fill(0);
    const typeArr = Uint8Array.from(types ?? tokens.map((t, i) => (i === 0 ? PieceType.UNKNOWN : /^<0x[0-9A-Fa-f]{2}>$/.test(t) ? PieceType.BYTE : PieceType.NORMAL)));
    for (let i = 0; i < n; i++) if (typeArr[i]! < 1 || typeArr[i]! > 6) typeArr[i] = PieceType.NORMAL;
    return new SpmTokenizer({
      pieces: tokens,
      scores: Float32Array.from(scores),
      types: typeArr,
      unkId: id('tokenizer.ggml.unknown_token_id', 0),
      bosId: id('tokenizer.ggml.bos_token_id', 1),
      eosId: id('tokenizer.ggml.eos_token_id', 2),
      padId: id('tokenizer.ggml.padding_token_id', -1),
      addDummyPrefix: flag('tokenizer.ggml.add_space_prefix', true),
      removeExtraWhitespaces: flag('tokenizer.ggml.remove_extra_whitespaces', false),
      escapeWhitespaces: true,
      // llama.cpp falls back to <0xNN> pieces whenever they exist
      byteFallback: typeArr.includes(PieceType.BYTE),
      addBos: flag('tokenizer.ggml.add_bos_token', true),
      addEos: flag('tokenizer.ggml.add_eos_token', false),
      eogIds: eog,
    });
  }
  if (model === 'gpt2') {
    const pre = get('tokenizer.ggml.pre');
    let pattern: string;
    let ignoreMerges = false;
    if (pre === 'llama-bpe' || pre === 'llama3' || pre === 'llama-v3') {
      pattern = LLAMA3_PATTERN;
      ignoreMerges = true;
    } else if (pre === undefined || pre === 'default' || pre === 'gpt-2' || pre === 'gpt2') {
      pattern = GPT2_PATTERN;
    } else {
      throw new FormatError('FORMAT_UNSUPPORTED', `pre-tokenizer '${String(pre)}' is not supported (supported: llama-bpe, default)`, { file });
    }
    const specials = new Map<string, number>();
    const userDefined = new Map<string, number>();
    const bytes: Uint8Array[] = new Array(n);
    const enc = new TextEncoder();
    for (let i = 0; i < n; i++) {
      const t = types?.[i] ?? PieceType.NORMAL;
      if (t === PieceType.CONTROL || t === PieceType.USER_DEFINED || t === PieceType.UNKNOWN) {
        (t === PieceType.USER_DEFINED ? userDefined : specials).set(tokens[i]!, i);
        bytes[i] = enc.encode(tokens[i]!);
      } else {
        // a token outside the byte-level alphabet (some converters store added tokens as plain
        // text) stands for its UTF-8 bytes
        bytes[i] = bytesFromByteLevel(tokens[i]!) ?? enc.encode(tokens[i]!);
      }
    }
    const pieceIds = new Map<string, number>();
    tokens.forEach((t, i) => {
      if (!specials.has(t) && !userDefined.has(t) && !pieceIds.has(t)) pieceIds.set(t, i);
    });
    const mergeStrings = asStringArray(get('tokenizer.ggml.merges') ?? [], 'tokenizer.ggml.merges', file);
    const merges = parseMergeList(mergeStrings, pieceIds, file);
    return new BpeTokenizer({
      tokens: bytes,
      specials,
      userDefined,
      merges,
      pattern,
      ignoreMerges,
      bosId: id('tokenizer.ggml.bos_token_id', -1),
      eosId: id('tokenizer.ggml.eos_token_id', -1),
      addBos: flag('tokenizer.ggml.add_bos_token', true),
      addEos: flag('tokenizer.ggml.add_eos_token', false),
      eogIds: eog,
    });
  }
  throw new FormatError('FORMAT_UNSUPPORTED', `tokenizer model '${String(model)}' is not supported (supported: llama, gpt2)`, { file });
}

function parseMergeList(merges: readonly (string | readonly string[])[], pieceIds: ReadonlyMap<string, number>, file: string): [number, number][] {
  return merges.map((m, rank) => {
    let a: string | undefined;
    let b: string | undefined;
    if (typeof m === 'string') {
      const sp = m.indexOf(' ', 1);
      if (sp > 0) {
        a = m.slice(0, sp);
        b = m.slice(sp + 1);
      }
    } else if (Array.isArray(m) && m.length === 2) {
      [a, b] = m as [string, string];
    }
    if (a === undefined || b === undefined) invalid(file, `merge ${rank} is not 'left right'`);
    const l = pieceIds.get(a);
    const r = pieceIds.get(b);
    if (l === undefined || r === undefined) invalid(file, `merge ${rank} ('${a}' '${b}') uses a token that is not in the vocabulary`);
    return [l, r];
  });
}

/** The tokenizer as GGUF metadata (typed values for the GGUF writer), for `llama convert`. */
export function tokenizerToGgufMetadata(tok: Tokenizer): Map<string, GgufValue> {
  const m = new Map<string, GgufValue>();
  const str = (s: string): GgufValue => ({ type: GgufType.STRING, value: s });
  const u32 = (x: number): GgufValue => ({ type: GgufType.UINT32, value: x });
  const bool = (x: boolean): GgufValue => ({ type: GgufType.BOOL, value: x });
  const strings = (a: string[]): GgufValue => ({ type: GgufType.ARRAY, value: { elemType: GgufType.STRING, values: a } });
  if (tok instanceof SpmTokenizer) {
    const s = tok.model;
    m.set('tokenizer.ggml.model', str('llama'));
    m.set('tokenizer.ggml.tokens', strings([...s.pieces]));
    m.set('tokenizer.ggml.scores', { type: GgufType.ARRAY, value: { elemType: GgufType.FLOAT32, values: Float32Array.from(s.scores) } });
    m.set('tokenizer.ggml.token_type', { type: GgufType.ARRAY, value: { elemType: GgufType.INT32, values: Int32Array.from(s.types) } });
    if (s.bosId >= 0) m.set('tokenizer.ggml.bos_token_id', u32(s.bosId));
    if (s.eosId >= 0) m.set('tokenizer.ggml.eos_token_id', u32(s.eosId));
    if (s.unkId >= 0) m.set('tokenizer.ggml.unknown_token_id', u32(s.unkId));
    if (s.padId >= 0) m.set('tokenizer.ggml.padding_token_id', u32(s.padId));
    m.set('tokenizer.ggml.add_bos_token', bool(s.addBos));
    m.set('tokenizer.ggml.add_eos_token', bool(s.addEos));
    m.set('tokenizer.ggml.add_space_prefix', bool(s.addDummyPrefix));
    if (s.removeExtraWhitespaces) m.set('tokenizer.ggml.remove_extra_whitespaces', bool(true));
    return m;
  }
  if (tok instanceof BpeTokenizer) {
    const b = tok.model;
    m.set('tokenizer.ggml.model', str('gpt2'));
    if (b.pattern !== LLAMA3_PATTERN && b.pattern !== GPT2_PATTERN) {
      throw new LlamaError('TOKENIZER_INVALID', 'this pre-tokenizer pattern has no GGUF pre-tokenizer name', { hint: 'only Llama 3 and GPT-2 patterns can be written to GGUF' });
    }
    m.set('tokenizer.ggml.pre', str(b.pattern === LLAMA3_PATTERN ? 'llama-bpe' : 'default'));
    const n = tok.vocabSize;
    const pieces: string[] = new Array(n);
    const types = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      pieces[i] = tok.piece(i);
      types[i] = tok.isUserDefined(i) ? PieceType.USER_DEFINED : tok.isSpecial(i) ? PieceType.CONTROL : PieceType.NORMAL;
    }
    m.set('tokenizer.ggml.tokens', strings(pieces));
    m.set('tokenizer.ggml.token_type', { type: GgufType.ARRAY, value: { elemType: GgufType.INT32, values: types } });
    m.set('tokenizer.ggml.merges', strings(tok.mergeList().map(([l, r]) => `${pieces[l]} ${pieces[r]}`)));
    if (b.bosId >= 0) m.set('tokenizer.ggml.bos_token_id', u32(b.bosId));
    if (b.eosId >= 0) m.set('tokenizer.ggml.eos_token_id', u32(b.eosId));
    const eot = b.eogIds?.[0];
    if (eot !== undefined) m.set('tokenizer.ggml.eot_token_id', u32(eot));
    m.set('tokenizer.ggml.add_bos_token', bool(b.addBos));
    m.set('tokenizer.ggml.add_eos_token', bool(b.addEos));
    return m;
  }
  throw new LlamaError('INTERNAL', 'unknown tokenizer implementation');
}

// ---------------------------------------------------------------------------------------------
// HF tokenizer.json

interface HfAddedToken {
  id: number;
  content: string;
  special?: boolean;
}

export function tokenizerFromHfJson(data: Uint8Array, file: string): Tokenizer {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(new TextDecoder().decode(data)) as Record<string, unknown>;
  } catch (e) {
    throw new FormatError('TOKENIZER_INVALID', `tokenizer.json is not valid JSON: ${(e as Error).message}`, { file, cause: e });
  }
  const model = json.model as Record<string, unknown> | undefined;
  if (!model || typeof model !== 'object' || model.type !== 'BPE') {
    throw new FormatError('FORMAT_UNSUPPORTED', `tokenizer.json model type '${String(model?.type)}' is not supported (supported: BPE)`, { file });
  }
  const vocab = model.vocab as Record<string, number> | undefined;
  if (!vocab || typeof vocab !== 'object') invalid(file, 'tokenizer.json has no model.vocab');
  const added = (Array.isArray(json.added_tokens) ? json.added_tokens : []) as HfAddedToken[];
  let n = 0;
  for (const v of Object.values(vocab)) if (Number.isInteger(v) && v >= n) n = v + 1;
  for (const a of added) if (Number.isInteger(a.id) && a.id >= n) n = a.id + 1;
  if (n === 0 || n > MAX_VOCAB) invalid(file, `vocabulary size ${n} is not plausible`);
  const pieces: (string | undefined)[] = new Array(n);
  for (const [p, i] of Object.entries(vocab)) {
    if (!Number.isInteger(i) || i < 0) invalid(file, `token '${p}' has id ${i}`);
    pieces[i] = p;
  }
  for (const a of added) pieces[a.id] = a.content;
  const missing = pieces.findIndex((p) => p === undefined);
  if (missing >= 0) invalid(file, `token id ${missing} is not defined`);
  const full = pieces as string[];
  const pieceIds = new Map<string, number>();
  full.forEach((p, i) => {
    if (!pieceIds.has(p)) pieceIds.set(p, i);
  });
  const merges = parseMergeList((model.merges ?? []) as (string | string[])[], pieceIds, file);
  const specialsById = new Map<number, string>();
  for (const a of added) if (a.special !== false) specialsById.set(a.id, a.content);
  const bosEos = hfBosEos(json, pieceIds);

  // Llama 2's tokenizer.json: SentencePiece pieces ('▁', <0xNN> byte fallback) expressed as BPE
  if (model.byte_fallback === true || JSON.stringify(json.normalizer ?? null).includes(SPACE_SYMBOL)) {
    // sentencepiece scores: a piece made by an earlier merge scores higher
    const scores = new Float32Array(n).fill(0);
    const made = new Set<number>();
    merges.forEach(([l, r], rank) => {
      const id = pieceIds.get(full[l]! + full[r]!);
      if (id !== undefined && !made.has(id)) {
        made.add(id);
        scores[id] = -rank;
      }
    });
    const types = new Uint8Array(n).fill(PieceType.NORMAL);
    for (let i = 0; i < n; i++) if (/^<0x[0-9A-Fa-f]{2}>$/.test(full[i]!)) types[i] = PieceType.BYTE;
    const unkId = typeof model.unk_token === 'string' ? (pieceIds.get(model.unk_token) ?? -1) : -1;
    for (const [id] of specialsById) types[id] = PieceType.CONTROL;
    if (unkId >= 0) types[unkId] = PieceType.UNKNOWN;
    const norm = JSON.stringify(json.normalizer ?? null);
    return new SpmTokenizer({
      pieces: full,
      scores,
      types,
      unkId,
      bosId: bosEos.bos,
      eosId: bosEos.eos,
      padId: -1,
      addDummyPrefix: norm.includes('"Prepend"') || JSON.stringify(json.pre_tokenizer ?? null).includes('"prepend_scheme":"first"'),
      removeExtraWhitespaces: false,
      escapeWhitespaces: true,
      byteFallback: model.byte_fallback === true,
      addBos: bosEos.addBos,
      addEos: bosEos.addEos,
    });
  }

  // byte-level BPE
  const pattern = hfPattern(json.pre_tokenizer, file);
  const specials = new Map<string, number>();
  const userDefined = new Map<string, number>();
  const tokens: Uint8Array[] = new Array(n);
  const enc = new TextEncoder();
  for (const a of added) if (a.special === false) userDefined.set(a.content, a.id);
  const addedIds = new Set(added.map((a) => a.id));
  for (let i = 0; i < n; i++) {
    const sp = specialsById.get(i);
    if (sp !== undefined) {
      specials.set(sp, i);
      tokens[i] = enc.encode(sp);
    } else if (addedIds.has(i)) {
      tokens[i] = enc.encode(full[i]!);
    } else {
      const b = bytesFromByteLevel(full[i]!);
      tokens[i] = b ?? enc.encode(full[i]!);
    }
  }
  return new BpeTokenizer({
    tokens,
    specials,
    userDefined,
    merges,
    pattern,
    ignoreMerges: model.ignore_merges === true,
    bosId: bosEos.bos,
    eosId: bosEos.eos,
    addBos: bosEos.addBos,
    addEos: bosEos.addEos,
    eogIds: ['<|eot_id|>', '<|eom_id|>'].map((s) => specials.get(s) ?? -1).filter((x) => x >= 0),
  });
}

/** BOS/EOS from the post-processor template (what HF prepends) and well-known names. */
function hfBosEos(json: Record<string, unknown>, ids: ReadonlyMap<string, number>): { bos: number; eos: number; addBos: boolean; addEos: boolean } {
  const find = (...names: string[]): number => {
    for (const s of names) {
      const i = ids.get(s);
      if (i !== undefined) return i;
    }
    return -1;
  };
  const bos = find('<|begin_of_text|>', '<s>', '<|endoftext|>');
  const eos = find('<|end_of_text|>', '</s>', '<|endoftext|>');
  // the TemplateProcessing 'single' template: [SpecialToken <bos>?, Sequence A, SpecialToken <eos>?]
  let single: unknown[] | undefined;
  const visit = (node: unknown): void => {
    if (single !== undefined || node === null || typeof node !== 'object') return;
    if (Array.isArray(node)) return node.forEach(visit);
    const o = node as Record<string, unknown>;
    if (o.type === 'TemplateProcessing' && Array.isArray(o.single)) single = o.single;
    for (const v of Object.values(o)) visit(v);
  };
  visit(json.post_processor);
  const specialAt = (el: unknown): string | undefined => {
    const st = (el as { SpecialToken?: { id?: unknown } } | undefined)?.SpecialToken;
    return typeof st?.id === 'string' ? st.id : undefined;
  };
  const first = single ? specialAt(single[0]) : undefined;
  const last = single && single.length > 1 ? specialAt(single[single.length - 1]) : undefined;
  const nameOf = (id: number): string | undefined => (id >= 0 ? [...ids].find(([, i]) => i === id)?.[0] : undefined);
  return { bos, eos, addBos: first !== undefined && first === nameOf(bos), addEos: last !== undefined && last === nameOf(eos) };
}

function hfPattern(pre: unknown, file: string): string {
  // walk the pre-tokenizer tree (Sequence of Split / ByteLevel) for the first Split regex
  let regex: string | undefined;
  let byteLevelRegex = false;
  const visit = (node: unknown): void => {
    if (regex !== undefined || node === null || typeof node !== 'object') return;
    if (Array.isArray(node)) return node.forEach(visit);
    const o = node as Record<string, unknown>;
    const pat = o.pattern as Record<string, unknown> | undefined;
    if (o.type === 'Split' && pat && typeof pat.Regex === 'string') regex = pat.Regex;
    if (o.type === 'ByteLevel' && o.use_regex !== false) byteLevelRegex = true;
    for (const v of Object.values(o)) visit(v);
  };
  visit(pre);
  if (regex !== undefined) return regex;
  if (byteLevelRegex) return GPT2_PATTERN;
  throw new FormatError('FORMAT_UNSUPPORTED', 'tokenizer.json pre-tokenizer is not supported (expected a Split regex or ByteLevel)', { file });
}

