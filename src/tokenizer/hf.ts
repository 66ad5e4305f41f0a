// Writing a tokenizer as a Hugging Face tokenizer.json (for exports to the HF layout). The reader
// is tokenizerFromHfJson in load.ts; the two round-trip exactly.
//   - SentencePiece BPE: Llama 2's layout (pieces as vocab, merges ordered by piece score,
//     byte fallback, normalizer Prepend('▁') + Replace(' ', '▁'), decoder that strips the prefix);
//   - byte-level BPE: Llama 3's layout (GPT-2 byte-level vocab and merges, Split regex +
//     ByteLevel pre-tokenizer, ignore_merges).
import { LlamaError } from '../errors.js';
import { BpeTokenizer } from './bpe.js';
import { PieceType, SpmTokenizer } from './spm.js';
import type { Tokenizer } from './tokenizer.js';

interface AddedToken {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

function added(id: number, content: string, special: boolean): AddedToken {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special };
}

function template(tok: Tokenizer, addBos: boolean, addEos: boolean): unknown {
  const special = (id: number | undefined) => (id === undefined ? [] : [{ SpecialToken: { id: tok.piece(id), type_id: 0 } }]);
  const bos = addBos ? special(tok.bosId) : [];
  const eos = addEos ? special(tok.eosId) : [];
  const specialTokens: Record<string, unknown> = {};
  for (const id of [addBos ? tok.bosId : undefined, addEos ? tok.eosId : undefined]) {
    if (id !== undefined) specialTokens[tok.piece(id)] = { id: tok.piece(id), ids: [id], tokens: [tok.piece(id)] };
  }
  return {
    type: 'TemplateProcessing',
    single: [...bos, { Sequence: { id: 'A', type_id: 0 } }, ...eos],
    pair: [...bos, { Sequence: { id: 'A', type_id: 0 } }, ...eos, ...bos, { Sequence: { id: 'B', type_id: 1 } }, ...eos],
    special_tokens: specialTokens,
  };
}

/** The tokenizer as the text of a tokenizer.json. */
export function tokenizerToHfJson(tok: Tokenizer): string {
  if (tok instanceof SpmTokenizer) {
    const m = tok.model;
    const vocab = Object.create(null) as Record<string, number>; // no prototype: pieces like '__proto__'
    const addedTokens: AddedToken[] = [];
    m.pieces.forEach((p, i) => {
      if (!Object.hasOwn(vocab, p)) vocab[p] = i;
      const t = m.types[i];
      if (t === PieceType.CONTROL || t === PieceType.UNKNOWN || t === PieceType.USER_DEFINED) addedTokens.push(added(i, p, t !== PieceType.USER_DEFINED));
    });
    // every cut of a mergeable piece into two pieces, best piece score first
    const merges: [string, string, number, number][] = [];
    m.pieces.forEach((p, i) => {
      if (m.types[i] !== PieceType.NORMAL && m.types[i] !== PieceType.USER_DEFINED) return;
      const chars = [...p];
      for (let k = 1; k < chars.length; k++) {
        const a = chars.slice(0, k).join('');
        const b = chars.slice(k).join('');
        if (Object.hasOwn(vocab, a) && Object.hasOwn(vocab, b)) merges.push([a, b, m.scores[i]!, i]);
      }
    });
    merges.sort((x, y) => y[2] - x[2] || x[3] - y[3]);
    const replaceSpace = { type: 'Replace', pattern: { String: ' ' }, content: '▁' };
    const json = {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: addedTokens,
      normalizer: m.addDummyPrefix ? { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, replaceSpace] } : replaceSpace,
      pre_tokenizer: null,
      post_processor: template(tok, m.addBos, m.addEos),
      decoder: {
        type: 'Sequence',
        decoders: [
          { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
          { type: 'ByteFallback' },
          { type: 'Fuse' },
          ...(m.addDummyPrefix ? [{ type: 'Strip', content: ' ', start: 1, stop: 0 }] : []),
        ],
      },
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: m.unkId >= 0 ? m.pieces[m.unkId] : null,
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: true,
        byte_fallback: m.byteFallback,
        ignore_merges: false,
        vocab,
        merges: merges.map(([a, b]) => `${a} ${b}`),
      },
    };
    return JSON.stringify(json);
  }
  if (tok instanceof BpeTokenizer) {
    const b = tok.model;
    const vocab = Object.create(null) as Record<string, number>; // no prototype: pieces like '__proto__'
    const addedTokens: AddedToken[] = [];
    for (let i = 0; i < tok.vocabSize; i++) {
      const p = tok.piece(i);
      if (tok.isSpecial(i)) addedTokens.push(added(i, p, !tok.isUserDefined(i)));
      else if (!Object.hasOwn(vocab, p)) vocab[p] = i;
    }
    const json = {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: addedTokens,
      normalizer: null,
      pre_tokenizer: {
        type: 'Sequence',
        pretokenizers: [
          { type: 'Split', pattern: { Regex: b.pattern }, behavior: 'Isolated', invert: false },
          { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
        ],
      },
      post_processor: template(tok, b.addBos, b.addEos),
      decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: false,
        byte_fallback: false,
        ignore_merges: b.ignoreMerges,
        vocab,
        merges: tok.mergeList().map(([l, r]) => `${tok.piece(l)} ${tok.piece(r)}`),
      },
    };
    return JSON.stringify(json);
  }
  throw new LlamaError('INTERNAL', 'unknown tokenizer implementation');
}

/**
 * tokenizer_config.json for `tok` (what transformers' AutoTokenizer reads beside tokenizer.json or
 * tokenizer.model): the class, the BOS/EOS/UNK pieces and whether BOS/EOS are added.
 */
export function hfTokenizerConfig(tok: Tokenizer, modelMaxLength: number): Record<string, unknown> {
  const piece = (id: number | undefined) => (id === undefined || id < 0 ? null : tok.piece(id));
  const spm = tok instanceof SpmTokenizer ? tok.model : undefined;
  const bpe = tok instanceof BpeTokenizer ? tok.model : undefined;
  return {
    tokenizer_class: spm ? 'LlamaTokenizer' : 'PreTrainedTokenizerFast',
    add_bos_token: tok.addBosDefault,
    add_eos_token: spm?.addEos ?? bpe?.addEos ?? false,
    bos_token: piece(tok.bosId),
    eos_token: piece(tok.eosId),
    unk_token: piece(spm && spm.unkId >= 0 ? spm.unkId : undefined),
    model_max_length: modelMaxLength,
  };
}
