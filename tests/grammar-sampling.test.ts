// Grammar-constrained sampling, end to end: 200 seeded generations with the embedded model and its
// real tokenizer over 12 JSON Schemas; every output must JSON.parse and validate with ajv. Plus the
// token layer on its own: byte tokens that split a UTF-8 character, end tokens only when complete,
// prompt tokens not fed to the grammar, the lazy chain and the full filter agreeing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { makeAjv } from './helpers/ajv.js';
import { loadModel } from '../src/model/load.js';
import { loadTokenizer } from '../src/tokenizer/load.js';
import { LlamaModel } from '../src/model/llama.js';
import { selectBackend } from '../src/backend/select.js';
import { generate } from '../src/generate/generate.js';
import { createSampler, greedy, SamplerChain, Candidates } from '../src/generate/sampler.js';
import type { Tokenizer } from '../src/tokenizer/tokenizer.js';
import { grammarSampler, jsonSchemaToGrammar, parseGbnf, withGrammar, GrammarError, GrammarMatcher, TokenGrammar } from '../src/generate/grammar/index.js';

const MODEL = fileURLToPath(new URL('../../models/default/model.gguf', import.meta.url));
const TOKENIZER = fileURLToPath(new URL('../../models/default/tokenizer.model', import.meta.url));
const haveModel = existsSync(MODEL) && existsSync(TOKENIZER);
const opt = haveModel ? {} : { skip: 'models/default is absent in this checkout' };


// Strings are bounded (maxLength, enums, formats, patterns) so that every run ends well within the
// token budget: a random walk inside an unbounded string could outlast any budget.
const SCHEMAS: { name: string; schema: object }[] = [
  { name: 'person', schema: { type: 'object', properties: { name: { type: 'string', maxLength: 10 }, age: { type: 'integer', minimum: 0, maximum: 150 } }, required: ['name', 'age'], additionalProperties: false } },
  { name: 'enum+const', schema: { type: 'object', properties: { color: { enum: ['red', 'green', 'blue'] }, kind: { const: 'fruit' }, n: { enum: [1, 2, null] } }, required: ['color', 'kind', 'n'] } },
  { name: 'array min/max', schema: { type: 'array', items: { type: 'integer', minimum: -50, maximum: 50 }, minItems: 2, maxItems: 5 } },
  { name: 'nested', schema: { type: 'object', properties: { user: { type: 'object', properties: { id: { type: 'integer', minimum: 1, maximum: 9999 }, tags: { type: 'array', items: { type: 'string', maxLength: 6 }, maxItems: 3 } }, required: ['id'], additionalProperties: false } }, required: ['user'], additionalProperties: false } },
  { name: 'formats', schema: { type: 'object', properties: { day: { type: 'string', format: 'date' }, at: { type: 'string', format: 'time' }, stamp: { type: 'string', format: 'date-time' }, id: { type: 'string', format: 'uuid' } }, required: ['day', 'at', 'stamp', 'id'], additionalProperties: false } },
  { name: 'anyOf', schema: { anyOf: [{ type: 'integer', minimum: 0, maximum: 9 }, { type: 'boolean' }, { type: 'null' }, { type: 'string', maxLength: 4 }] } },
  { name: 'optional only', schema: { type: 'object', properties: { a: { type: 'boolean' }, b: { type: 'null' }, c: { type: 'integer', minimum: 0, maximum: 3 } }, additionalProperties: false } },
  { name: '$defs/$ref', schema: { $defs: { point: { type: 'object', properties: { x: { type: 'integer', minimum: -9, maximum: 9 }, y: { type: 'integer', minimum: -9, maximum: 9 } }, required: ['x', 'y'], additionalProperties: false } }, type: 'array', items: { $ref: '#/$defs/point' }, minItems: 1, maxItems: 3 } },
  { name: 'numbers', schema: { type: 'object', properties: { v: { type: ['number', 'null'] }, w: { type: 'number' }, ok: { type: 'boolean' } }, required: ['v', 'w', 'ok'], additionalProperties: false } },
  { name: 'pattern', schema: { type: 'object', properties: { code: { type: 'string', pattern: '^[A-Z]{2}-[0-9]{3}$' }, zip: { type: 'string', pattern: '^\\d{5}(-\\d{4})?$' } }, required: ['code', 'zip'], additionalProperties: false } },
  { name: 'tuple', schema: { type: 'array', prefixItems: [{ type: 'string', maxLength: 3 }, { type: 'integer', minimum: 0, maximum: 100 }, { type: 'boolean' }], items: false, minItems: 3 } },
  { name: 'allOf + oneOf', schema: { allOf: [{ type: 'object', properties: { a: { oneOf: [{ type: 'integer', minimum: 0, maximum: 5 }, { type: 'null' }] } }, required: ['a'] }, { properties: { b: { enum: ['x', 'y'] } }, required: ['b'] }] } },
];

const RUNS = 200;

let opened: Promise<{ model: LlamaModel; tokenizer: Tokenizer }> | undefined;
function open() {
  opened ??= (async () => {
    const tokenizer = loadTokenizer(TOKENIZER);
    // one thread: this model is tiny and the machine is shared; thread hand-offs would cost more than the math
    const model = await LlamaModel.create(await loadModel(MODEL), await selectBackend('auto', { threads: 1 }));
    return { model, tokenizer };
  })();
  return opened;
}

test(`${RUNS} seeded constrained generations over ${SCHEMAS.length} schemas: all parse and validate (ajv)`, opt, async () => {
  const { model, tokenizer } = await open();
  const ajv = makeAjv();
  const compiled = SCHEMAS.map((s) => ({ ...s, grammar: jsonSchemaToGrammar(s.schema), validate: ajv.compile(s.schema) }));
  const failures: string[] = [];
  const seen = new Set<string>();
  for (let run = 0; run < RUNS; run++) {
    const c = compiled[run % compiled.length]!;
    // varied temperatures: greedy-ish to very random (1.5 keeps odd tokens in play)
    const temperature = [0.7, 1, 1.5][run % 3]!;
    const chain = withGrammar(createSampler({ seed: run, temperature, topK: 0, topP: 1, minP: 0 }), grammarSampler(c.grammar, tokenizer));
    const gen = generate(model, tokenizer, 'Here is the JSON:', { sampler: chain, maxTokens: 400, ctxSize: 512 });
    const text = await gen.text();
    seen.add(text);
    if (gen.stats?.finishReason !== 'eos') {
      failures.push(`run ${run} (${c.name}): did not finish (${gen.stats?.finishReason}): ${JSON.stringify(text)}`);
      continue;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      failures.push(`run ${run} (${c.name}): not JSON (${(e as Error).message}): ${JSON.stringify(text)}`);
      continue;
    }
    if (!c.validate(value)) failures.push(`run ${run} (${c.name}): invalid ${JSON.stringify(c.validate.errors)}: ${text}`);
  }
  assert.deepEqual(failures, []);
  assert.ok(seen.size > RUNS / 2, `the runs should differ (${seen.size} distinct outputs)`);
});

test('every strategy gives valid output, and a seed gives the same text with cold or warm caches', opt, async () => {
  const { model, tokenizer } = await open();
  const schema = SCHEMAS[3]!.schema;
  const validate = makeAjv().compile(schema);
  const sampling = { temperature: 1, topK: 0, topP: 1, minP: 0 };
  const run = async (make: (g: ReturnType<typeof jsonSchemaToGrammar>) => SamplerChain, g = jsonSchemaToGrammar(schema)) => {
    const text = await generate(model, tokenizer, 'Here is the JSON:', { sampler: make(g), maxTokens: 300, ctxSize: 512 }).text();
    assert.equal(validate(JSON.parse(text)), true, text);
    return text;
  };
  // grammar as a plain first step of a chain
  const plain = (g: ReturnType<typeof jsonSchemaToGrammar>) => new SamplerChain([grammarSampler(g, tokenizer), ...createSampler({ seed: 5, ...sampling }).samplers], 5);
  const first = (g: ReturnType<typeof jsonSchemaToGrammar>) => withGrammar(createSampler({ seed: 5, ...sampling }), grammarSampler(g, tokenizer));
  const lazy = (g: ReturnType<typeof jsonSchemaToGrammar>) => withGrammar(createSampler({ seed: 5, ...sampling }), grammarSampler(g, tokenizer), { lazy: true });
  const shared = jsonSchemaToGrammar(schema);
  for (const make of [plain, first, lazy]) {
    const cold = await run(make);
    const warm1 = await run(make, shared);
    const warm2 = await run(make, shared); // the grammar's caches are warm now
    assert.equal(warm1, cold);
    assert.equal(warm2, cold);
  }
  // the grammar-first chain is the plain chain with the grammar in front: the same tokens
  assert.equal(await run(first), await run(plain));
});

/** A byte-level tokenizer: ids 0-255 are single bytes, then a few multi-byte pieces, EOS last. */
function byteTokenizer(extra: string[]): Tokenizer {
  const enc = new TextEncoder();
  const pieces: Uint8Array[] = [...Array.from({ length: 256 }, (_, b) => Uint8Array.of(b)), ...extra.map((s) => enc.encode(s))];
  const eos = pieces.length;
  return {
    kind: 'bpe',
    vocabSize: eos + 1,
    bosId: undefined,
    eosId: eos,
    eogIds: new Set([eos]),
    addBosDefault: false,
    encode: () => [],
    decode: (ids) => new TextDecoder().decode(Uint8Array.from(ids.flatMap((i) => (i < eos ? [...pieces[i]!] : [])))),
    tokenBytes: (id) => (id < eos ? pieces[id]! : new Uint8Array(0)),
    piece: (id) => (id < eos ? new TextDecoder().decode(pieces[id]!) : '</s>'),
    isSpecial: (id) => id === eos,
    streamDecoder: () => ({ push: () => '', flush: () => '' }),
  };
}

test('token layer: a UTF-8 character split over byte tokens, end token only when complete', () => {
  const tok = byteTokenizer(['é', 'éa', 'ab', 'b']);
  const eos = tok.eosId!;
  const g = parseGbnf('root ::= "é"+ "a" "b"?\n');
  const tg = new TokenGrammar(g, tok);
  let p = tg.start();
  const allowed = (q: typeof p) => [...tg.allowed(q)];
  // at the start: 'é' (256), 'éa' (257) and the first byte of é (0xC3) only
  assert.deepEqual(allowed(p), [0xc3, 256, 257]);
  p = tg.next(p, 0xc3)!;
  assert.ok(p && p.partial !== 0, 'half a character');
  assert.deepEqual(allowed(p), [0xa9], 'only the byte that completes é');
  assert.equal(tg.next(p, 0xa8), undefined, 'a different character (è) is refused');
  assert.equal(tg.next(p, eos), undefined, 'no end inside a character');
  p = tg.next(p, 0xa9)!;
  assert.deepEqual(allowed(p), [0x61, 0xc3, 256, 257, 258], "more é, or 'a', or 'ab'");
  p = tg.next(p, 257 + 1 - 1)!; // 'éa'
  assert.equal(tg.isComplete(p), true);
  assert.deepEqual(allowed(p), [0x62, 259, eos].sort((a, b) => a - b), "'b' (byte and piece) or the end");
  const done = tg.next(p, 259)!;
  assert.equal(tg.isDone(done), true);
  assert.deepEqual(allowed(done), [eos]);
  // overlong encodings of an allowed ASCII character are refused (a decoder would not give 'a')
  const ga = new TokenGrammar(parseGbnf('root ::= "a"\n'), tok);
  assert.equal(ga.next(ga.start(), 0xc1), undefined);
  assert.equal(ga.next(ga.start(), 0xe0) === undefined || ga.next(ga.next(ga.start(), 0xe0)!, 0x81) === undefined, true);
});

test('grammarSampler: filters candidates, ignores prompt tokens, advances on its own picks', () => {
  const tok = byteTokenizer(['ab']);
  const g = parseGbnf('root ::= "ab" "c"\n');
  const gs = grammarSampler(g, tok);
  const chain = new SamplerChain([gs, greedy()], 1);
  const logits = new Float32Array(tok.vocabSize).fill(0);
  logits['z'.charCodeAt(0)] = 10; // the model loves 'z'
  logits[256] = 1;
  // prompt tokens reach accept but must not move the grammar
  for (const t of [0x7a, 0x7a]) chain.accept(t);
  const t1 = chain.sample(logits);
  assert.equal(t1, 256, "'ab' is the best allowed token");
  chain.accept(t1);
  const t2 = chain.sample(logits);
  assert.equal(t2, 'c'.charCodeAt(0));
  chain.accept(t2);
  assert.equal(gs.isDone(), true);
  assert.equal(chain.sample(logits), tok.eosId);
  // candidates already narrowed by another step are filtered by id, not by position
  const c = new Candidates(logits);
  c.keepTop(5);
  gs.reset?.();
  gs.apply(c, chain);
  assert.deepEqual([...c.ids.subarray(0, c.n)].sort((a, b) => a - b), [0x61, 256].filter((id) => [...new Candidates(logits).bestPositions(5)].includes(id)));
  // feeding a refused token is a typed error
  assert.throws(() => gs.advance('q'.charCodeAt(0)), (e: unknown) => e instanceof GrammarError && e.code === 'GRAMMAR');
});

test('lazy chain: an allowed pick costs no full filter; a refused one is re-sampled under the grammar', () => {
  const tok = byteTokenizer([]);
  const g = parseGbnf('root ::= [a-c]+\n');
  const chain = withGrammar(new SamplerChain([greedy()], 1), grammarSampler(g, tok), { lazy: true });
  const logits = new Float32Array(tok.vocabSize).fill(0);
  logits['b'.charCodeAt(0)] = 5;
  assert.equal(chain.sample(logits), 'b'.charCodeAt(0));
  chain.accept('b'.charCodeAt(0));
  assert.equal(chain.filtered, 0);
  logits['x'.charCodeAt(0)] = 9;
  assert.equal(chain.sample(logits), 'b'.charCodeAt(0));
  assert.equal(chain.filtered, 1);
  chain.accept('b'.charCodeAt(0));
  // a token the chain did not just sample (a prompt token of a next turn) does not move the grammar
  chain.accept('x'.charCodeAt(0));
  assert.equal(chain.grammar.allows('a'.charCodeAt(0)), true);
  // the default (grammar first) filters every pick
  const eager = withGrammar(new SamplerChain([greedy()], 1), grammarSampler(g, tok));
  assert.equal(eager.sample(logits), 'b'.charCodeAt(0));
  assert.equal(eager.filtered, 1);
});

test('a grammar no token can continue is a GRAMMAR error, not a hang', () => {
  const tok = byteTokenizer([]);
  // U+10000 and above need 4-byte sequences; give a tokenizer without 0xF0 support? Instead: end token
  // missing from the vocabulary once the grammar is done
  const noEos: Tokenizer = { ...tok, eogIds: new Set<number>() };
  const gs = grammarSampler(parseGbnf('root ::= "a"\n'), noEos);
  const chain = new SamplerChain([gs, greedy()], 1);
  const logits = new Float32Array(tok.vocabSize).fill(0);
  chain.accept(chain.sample(logits));
  assert.throws(() => chain.sample(logits), (e: unknown) => e instanceof GrammarError && /no token/.test(e.message));
});

test('the trie walk allows exactly the tokens a one-by-one check allows (real vocabulary, split characters)', opt, () => {
  const tokenizer = loadTokenizer(TOKENIZER);
  // non-ASCII literals make byte-fallback tokens split characters along the way
  const g = parseGbnf('root ::= "{" ws ("\\"é☃\\"" | "\\"" [^"\\\\]{0,8} "\\"") ws ":" ws [0-9]{1,3} ws "}"\nws ::= [ \\n]{0,2}\n');
  const tg = new TokenGrammar(g, tokenizer);
  let seed = 12345;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let trial = 0; trial < 6; trial++) {
    let p = tg.start();
    for (let step = 0; step < 40; step++) {
      const walked = [...tg.allowed(p)];
      const brute: number[] = [];
      for (let id = 0; id < tokenizer.vocabSize; id++) if (tg.next(p, id) !== undefined) brute.push(id);
      assert.deepEqual(walked, brute, `trial ${trial}, step ${step}`);
      const moves = walked.filter((id) => !tg.isEnd(id));
      if (moves.length === 0) break;
      // prefer single-byte tokens now and then, so partial characters occur
      const bytesOnly = moves.filter((id) => tokenizer.tokenBytes(id).length === 1 && tokenizer.tokenBytes(id)[0]! >= 0x80);
      const pool = bytesOnly.length > 0 && rnd() < 0.5 ? bytesOnly : moves;
      p = tg.next(p, pool[Math.floor(rnd() * pool.length)]!)!;
    }
  }
});

/** `bytes` split into the longest prefix of whole UTF-8 characters and the incomplete rest. */
function splitUtf8(bytes: Uint8Array): [Uint8Array, Uint8Array] {
  for (let k = 1; k <= 3 && bytes.length - k >= 0; k++) {
    const b = bytes[bytes.length - k]!;
    if ((b & 0xc0) === 0x80) continue;
    const len = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    if (len > k) return [bytes.subarray(0, bytes.length - k), bytes.subarray(bytes.length - k)];
    break;
  }
  return [bytes, new Uint8Array(0)];
}

/**
 * A reference for the token layer built on the character matcher alone: a token is allowed iff the
 * pending bytes plus its bytes decode to characters the grammar takes from `state`, and a trailing
 * half character can still become one it takes (checked by trying every code point it could become).
 */
function referenceAllows(g: ReturnType<typeof parseGbnf>, state: number, pending: Uint8Array, token: Uint8Array): boolean | undefined {
  const bytes = new Uint8Array(pending.length + token.length);
  bytes.set(pending);
  bytes.set(token, pending.length);
  const [whole, tail] = splitUtf8(bytes);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(whole);
  } catch {
    return false;
  }
  const m = new GrammarMatcher(g);
  m.state = state;
  if (!m.acceptString(text)) return false;
  if (tail.length === 0) return true;
  if (tail[0]! >= 0xf0) return undefined; // 2^18 candidates: not checked here
  const len = tail[0]! >= 0xe0 ? 3 : 2;
  // the code points whose encoding starts with `tail`
  let bits = tail[0]! & (len === 3 ? 0x0f : 0x1f);
  for (const b of tail.subarray(1)) {
    if ((b & 0xc0) !== 0x80) return false;
    bits = (bits << 6) | (b & 0x3f);
  }
  const shift = 6 * (len - tail.length);
  const after = m.state;
  for (let cp = bits << shift; cp < (bits + 1) << shift; cp++) {
    if (cp < (len === 2 ? 0x80 : 0x800) || (cp >= 0xd800 && cp <= 0xdfff)) continue;
    m.state = after;
    if (m.acceptChar(cp)) return true;
  }
  return false;
}

test('the token layer agrees with a reference built on the character matcher (wide and narrow non-ASCII states)', opt, () => {
  const tokenizer = loadTokenizer(TOKENIZER);
  // inside the quotes: any JSON string character (every non-ASCII character alike), or é-ê followed by "!"
  // (non-ASCII characters differ there); then a narrow class of non-ASCII letters
  const g = parseGbnf('root ::= "\\"" ([^"\\\\\\x7F\\x00-\\x1F] | [é-ê] "!"){0,6} "\\"" [α-ω]{1,2} "."\n');
  const tg = new TokenGrammar(g, tokenizer);
  let seed = 777;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  let checked = 0;
  for (let trial = 0; trial < 3; trial++) {
    let p = tg.start();
    let bytesSoFar = new Uint8Array(0);
    for (let step = 0; step < 12; step++) {
      const allowed = new Set(tg.allowed(p));
      const [whole, pending] = splitUtf8(bytesSoFar);
      const base = new GrammarMatcher(g);
      assert.ok(base.acceptString(new TextDecoder().decode(whole)));
      for (let id = 0; id < tokenizer.vocabSize; id++) {
        if (tokenizer.isSpecial(id) || tg.isEnd(id)) continue;
        const ref = referenceAllows(g, base.state, pending, tokenizer.tokenBytes(id));
        if (ref === undefined) continue;
        checked++;
        assert.equal(allowed.has(id), ref, `trial ${trial} step ${step}: token ${id} ${JSON.stringify(tokenizer.piece(id))} after ${JSON.stringify([...bytesSoFar])}`);
      }
      const moves = [...allowed].filter((id) => !tg.isEnd(id));
      if (moves.length === 0) break;
      const bytesOnly = moves.filter((id) => tokenizer.tokenBytes(id).length === 1 && tokenizer.tokenBytes(id)[0]! >= 0x80);
      const pool = bytesOnly.length > 0 && rnd() < 0.5 ? bytesOnly : moves;
      const id = pool[Math.floor(rnd() * pool.length)]!;
      const b = tokenizer.tokenBytes(id);
      const next = new Uint8Array(bytesSoFar.length + b.length);
      next.set(bytesSoFar);
      next.set(b, bytesSoFar.length);
      bytesSoFar = next;
      p = tg.next(p, id)!;
    }
  }
  assert.ok(checked > 10000, `checked ${checked} token decisions`);
});
