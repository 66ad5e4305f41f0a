// Llama 3 byte-level BPE against Meta's own unit-test expectations (expected_token_ids.json), a
// naive tiktoken-merge reference on corpus text, and the GGUF / tokenizer.json round trips.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { BpeTokenizer, bytesFromByteLevel, byteLevelFromBytes, LLAMA3_PATTERN, metaChunks, translatePattern } from '../src/tokenizer/bpe.js';
import { encodeLlama3Dialog, encodeLlama3Message, type ChatMessage } from '../src/tokenizer/chat.js';
import { loadTokenizer, tokenizerFromGgufMetadata, tokenizerFromHfJson, tokenizerToGgufMetadata } from '../src/tokenizer/load.js';
import { needsShared, sharedData } from './helpers/shared.js';

const L3 = ['tokenizer', 'llama3', 'tokenizer.model'] as const;
let cached: BpeTokenizer | undefined;
function llama3(): BpeTokenizer {
  cached ??= loadTokenizer(sharedData(...L3)) as BpeTokenizer;
  return cached;
}

interface Expected {
  pre_tokenizer_regex: string;
  special_tokens: Record<string, number | string>;
  cases: (
    | { kind: 'encode'; text: string; bos: boolean; eos: boolean; ids: number[] }
    | { kind: 'decode'; ids: number[]; text: string }
    | { kind: 'chat_encode_message'; message: ChatMessage; ids: number[] }
    | { kind: 'chat_encode_dialog_prompt'; dialog: ChatMessage[]; ids: number[] }
  )[];
}

test('Llama 3: every case of expected_token_ids.json', needsShared(...L3), () => {
  const exp = JSON.parse(readFileSync(sharedData('tokenizer/llama3/expected_token_ids.json'), 'utf8')) as Expected;
  const tok = llama3();
  assert.equal(tok.vocabSize, 128256);
  assert.equal(exp.pre_tokenizer_regex, LLAMA3_PATTERN);
  for (const [name, id] of Object.entries(exp.special_tokens)) {
    if (typeof id !== 'number') continue;
    assert.equal(tok.piece(id), name);
    assert.deepEqual(tok.encode(name, { addBos: false, parseSpecial: true }), [id]);
  }
  assert.equal(tok.piece(128010), '<|reserved_special_token_5|>');
  assert.equal(tok.piece(128255), '<|reserved_special_token_250|>');
  let n = 0;
  for (const c of exp.cases) {
    if (c.kind === 'encode') assert.deepEqual(tok.encode(c.text, { addBos: c.bos, addEos: c.eos }), c.ids);
    else if (c.kind === 'decode') assert.equal(tok.decode(c.ids, { renderSpecial: true }), c.text);
    else if (c.kind === 'chat_encode_message') assert.deepEqual(encodeLlama3Message(tok, c.message), c.ids);
    else if (c.kind === 'chat_encode_dialog_prompt') assert.deepEqual(encodeLlama3Dialog(tok, c.dialog), c.ids);
    n++;
  }
  assert.equal(n, 4);
});

test('Llama 3: a pre-token that is a whole token maps straight to it (" Việt" -> 101798)', needsShared(...L3), () => {
  assert.deepEqual(llama3().encode(' Việt', { addBos: false }), [101798]);
});

test('Llama 3: specials only with parseSpecial; BOS/EOG defaults', needsShared(...L3), () => {
  const tok = llama3();
  const plain = tok.encode('<|eot_id|>', { addBos: false });
  assert.ok(plain.length > 1 && plain.every((i) => i < 128000));
  assert.equal(tok.decode(plain), '<|eot_id|>');
  assert.equal(tok.bosId, 128000);
  assert.equal(tok.eosId, 128001);
  assert.deepEqual([...tok.eogIds].sort(), [128001, 128009]);
  assert.equal(tok.addBosDefault, true);
  assert.equal(tok.decode([128000, 9906]), 'Hello');
});

test('pre-tokenizer regex: JS translation keeps Python/Rust semantics', () => {
  const re = translatePattern(LLAMA3_PATTERN);
  const split = (s: string): string[] => [...s.matchAll(re)].map((m) => m[0]);
  assert.deepEqual(split("I'LL don't"), ['I', "'LL", ' don', "'t"]);
  assert.deepEqual(split('12345 abc'), ['123', '45', ' abc']);
  assert.deepEqual(split('a  \n\n b'), ['a', '  \n\n', ' b']);
  // U+0085 is White_Space in Rust/Python regex; JS \s would not match it
  assert.deepEqual(split('a\u0085\u0085b'), ['a', '\u0085', '\u0085b']);
  // U+FEFF is not White_Space (JS \s would match it)
  assert.deepEqual(split('a\uFEFF\uFEFFb'), ['a', '\uFEFF\uFEFF', 'b']);
});

test('GPT-2 byte <-> unicode mapping', () => {
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  const s = byteLevelFromBytes(all);
  assert.equal(s.length, 256);
  assert.deepEqual(bytesFromByteLevel(s), all);
  assert.equal(byteLevelFromBytes(Uint8Array.of(0x20)), 'Ġ');
  assert.equal(byteLevelFromBytes(Uint8Array.of(0x0a)), 'Ċ');
  assert.equal(byteLevelFromBytes(Uint8Array.of(0x41)), 'A');
  assert.equal(bytesFromByteLevel('\u4e00'), undefined);
});

/** tiktoken's algorithm from its definition: whole piece if it is a token, else merge min-rank pairs. */
let rankMap: Map<string, number> | undefined;
function naiveTiktoken(tok: BpeTokenizer, text: string): number[] {
  let rank = rankMap;
  if (!rank) {
    rank = rankMap = new Map<string, number>();
    for (let i = 0; i < 128000; i++) rank.set(Buffer.from(tok.tokenBytes(i)).toString('latin1'), i);
  }
  const out: number[] = [];
  for (const m of text.matchAll(translatePattern(LLAMA3_PATTERN))) {
    const bytes = Buffer.from(m[0], 'utf8').toString('latin1');
    const whole = rank.get(bytes);
    if (whole !== undefined) {
      out.push(whole);
      continue;
    }
    const parts = [...bytes];
    for (;;) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < parts.length; i++) {
        const r = rank.get(parts[i]! + parts[i + 1]!);
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0) break;
      parts.splice(best, 2, parts[best]! + parts[best + 1]!);
    }
    for (const p of parts) out.push(rank.get(p)!);
  }
  return out;
}

function corpusSamples(): string[] {
  const samples: string[] = [];
  for (const f of ['corpus/tinyshakespeare/input.txt', 'corpus/wikitext-2/valid.txt', 'corpus/tinystories/tinystories_train_head.txt']) {
    const t = readFileSync(sharedData(f), 'utf8');
    for (let k = 0; k < 6; k++) {
      const at = Math.floor((((k * 7919) % 97) / 97) * (t.length - 600));
      samples.push(t.slice(at, at + 200 + k * 60));
    }
  }
  samples.push('naïve café 日本語 🦙🦙 Ωμέγα', ' '.repeat(40) + 'x', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', '\r\n\t  \u00a0end');
  return samples;
}

test('Llama 3: heap merge = naive tiktoken definition on corpus text; decode round-trips', needsShared(...L3), () => {
  const tok = llama3();
  for (const s of corpusSamples()) {
    const ids = tok.encode(s, { addBos: false });
    assert.deepEqual(ids, naiveTiktoken(tok, s), JSON.stringify(s.slice(0, 40)));
    assert.equal(tok.decode(ids), s);
  }
});

test('Llama 3: streaming decoder holds partial characters (byte-level tokens split emoji)', needsShared(...L3), () => {
  const tok = llama3();
  const text = '🦙🦙 日本語 𝄞!';
  const ids = tok.encode(text, { addBos: false });
  const sd = tok.streamDecoder();
  let acc = '';
  for (const id of ids) {
    const part = sd.push(id);
    assert.ok(!part.includes('\uFFFD'));
    acc += part;
  }
  assert.equal(acc + sd.flush(), text);
});

test('Llama 3 through GGUF metadata (gpt2 model + merges) and tokenizer.json gives the same ids', needsShared(...L3), () => {
  const tok = llama3();
  const meta = tokenizerToGgufMetadata(tok);
  const fromGguf = tokenizerFromGgufMetadata(meta);
  // an HF tokenizer.json written from the same data
  const vocab: Record<string, number> = {};
  for (let i = 0; i < 128000; i++) vocab[tok.piece(i)] = i;
  const mergesMeta = meta.get('tokenizer.ggml.merges')!;
  const merges = (mergesMeta.value as { values: string[] }).values;
  const json = {
    added_tokens: Array.from({ length: 256 }, (_, k) => ({ id: 128000 + k, content: tok.piece(128000 + k), special: true })),
    pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: LLAMA3_PATTERN }, behavior: 'Isolated', invert: false }, { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false }] },
    post_processor: { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }], pair: [] },
    model: { type: 'BPE', ignore_merges: true, vocab, merges },
  };
  const fromJson = tokenizerFromHfJson(new TextEncoder().encode(JSON.stringify(json)), 'tokenizer.json');
  assert.equal(fromGguf.vocabSize, 128256);
  assert.equal(fromJson.vocabSize, 128256);
  assert.equal(fromJson.addBosDefault, true);
  for (const s of corpusSamples().slice(0, 8)) {
    const want = tok.encode(s);
    assert.deepEqual(fromGguf.encode(s), want);
    assert.deepEqual(fromJson.encode(s), want);
  }
});

test("Meta's long-input cutting: 400k-character chunks, runs of (non-)whitespace of at most 25k", () => {
  // small limits to see the rule: runs longer than maxRun are cut, counted in code points
  assert.deepEqual(metaChunks('aaaaa bb', 100, 3), [[0, 3], [3, 8]]);
  assert.deepEqual(metaChunks('ab      cd', 100, 3), [[0, 5], [5, 10]]);
  assert.deepEqual(metaChunks('🦙🦙🦙🦙', 100, 2), [[0, 4], [4, 8]]);
  assert.deepEqual(metaChunks('abcdef', 4, 100), [[0, 4], [4, 6]]);
  assert.deepEqual(metaChunks('', 4, 100), []);
  // U+001C is whitespace for Python's isspace (not for Unicode White_Space)
  assert.deepEqual(metaChunks('a\u001c\u001c\u001cb', 100, 2), [[0, 3], [3, 5]]);
});

test('Llama 3: a 30,000-letter word is cut at 25,000 characters as Meta does', needsShared(...L3), () => {
  const tok = llama3();
  const word = 'ab'.repeat(15_000);
  const ids = tok.encode(word, { addBos: false });
  assert.deepEqual(ids, [...tok.encode(word.slice(0, 25_000), { addBos: false }), ...tok.encode(word.slice(25_000), { addBos: false })]);
  assert.equal(tok.decode(ids), word);
});

test('byte-level BPE: user-defined tokens are always matched and rendered; control tokens only on request', () => {
  // a tiny byte-level vocabulary: 256 bytes, 'ab', then a control and a user-defined token
  const tokens: Uint8Array[] = Array.from({ length: 256 }, (_, b) => Uint8Array.of(b));
  tokens.push(new TextEncoder().encode('ab'));
  tokens.push(new TextEncoder().encode('<|ctl|>'));
  tokens.push(new TextEncoder().encode('<tool>'));
  const tok = new BpeTokenizer({
    tokens,
    specials: new Map([['<|ctl|>', 257]]),
    userDefined: new Map([['<tool>', 258]]),
    merges: [[97, 98]],
    pattern: LLAMA3_PATTERN,
    ignoreMerges: false,
    bosId: -1,
    eosId: -1,
    addBos: false,
    addEos: false,
  });
  assert.deepEqual(tok.encode('ab<tool>ab'), [256, 258, 256]);
  assert.ok(!tok.encode('<|ctl|>').includes(257));
  assert.deepEqual(tok.encode('ab<|ctl|>', { parseSpecial: true }), [256, 257]);
  assert.equal(tok.decode([256, 258, 257]), 'ab<tool>');
  assert.equal(tok.decode([256, 258, 257], { renderSpecial: true }), 'ab<tool><|ctl|>');
  // through GGUF metadata the kinds survive (CONTROL 3 / USER_DEFINED 4)
  const back = tokenizerFromGgufMetadata(tokenizerToGgufMetadata(tok));
  assert.deepEqual(back.encode('ab<tool>ab'), [256, 258, 256]);
  assert.deepEqual(back.encode('<|ctl|>', { parseSpecial: true }), [257]);
});
