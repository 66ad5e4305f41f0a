// Cost of grammar-constrained decoding: per-token decode time (forward + sampling) with and
// without a JSON-schema grammar on the random-weight 110M synthetic model (32000-token vocabulary),
// median of several runs, runs of each kind interleaved so that load drifts hit both alike.
//   node dist/bench/grammar.js [--runs N] [--threads N] [--type q8_0] [--tokens N] [--json]
// Rows: unconstrained; constrained with the grammar first (withGrammar's default: the allowed tokens
// of each position, one cached trie walk, then the chain over just those); constrained the lazy way
// (withGrammar {lazy: true}: the unconstrained pick is checked first, the whole vocabulary filtered
// only when it is refused, as llama.cpp does).
// Then the cost of one trie walk (the allowed tokens of a position not seen before) inside a
// string with a length bound (each character a new position: the expensive case), for the
// synthetic vocabulary and, when ../shared is present, LLaMA 2 (32000) and Llama 3 (128256).
// The machine may be shared: wall-clock figures are noisy; the sampling column (time inside
// sample()) is the grammar's own cost and is steadier.
// The constrained runs stop at the end of the JSON, so the unconstrained ones are given the same
// number of tokens (per seed) for a like-for-like mean.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSyntheticGguf, SYNTHETIC_TYPES } from '../src/bench/synthetic.js';
import { loadModel } from '../src/model/load.js';
import { LlamaModel } from '../src/model/llama.js';
import { selectBackend } from '../src/backend/select.js';
import { tokenizerFromGgufMetadata } from '../src/tokenizer/load.js';
import { generate } from '../src/generate/generate.js';
import { createSampler, type SamplerChain } from '../src/generate/sampler.js';
import { grammarSampler, jsonSchemaToGrammar, parseGbnf, withGrammar, TokenGrammar, TokenTrie } from '../src/generate/grammar/index.js';
import { loadTokenizer } from '../src/tokenizer/load.js';
import type { Tokenizer } from '../src/tokenizer/tokenizer.js';

const argv = process.argv.slice(2);
const arg = (name: string, def: string) => {
  const i = argv.indexOf(name);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : def;
};
const runs = Number(arg('--runs', '5'));
// one thread by default: on a shared 2-core machine thread hand-offs add more noise than speed
const threads = Number(arg('--threads', '1'));
const typeName = arg('--type', 'q8_0');
const maxTokens = Number(arg('--tokens', '300'));
const asJson = argv.includes('--json');
const log = (s: string) => process.stderr.write(s + '\n');

const SCHEMA = {
  type: 'object',
  properties: {
    people: {
      type: 'array',
      minItems: 2,
      maxItems: 4,
      items: {
        type: 'object',
        properties: {
          name: { type: 'string', maxLength: 12 },
          age: { type: 'integer', minimum: 0, maximum: 120 },
          role: { enum: ['admin', 'user', 'guest'] },
          joined: { type: 'string', format: 'date' },
        },
        required: ['name', 'age', 'role', 'joined'],
        additionalProperties: false,
      },
    },
    ok: { type: 'boolean' },
  },
  required: ['people', 'ok'],
  additionalProperties: false,
};

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

type Mode = 'unconstrained' | 'first' | 'lazy';

/** Times every sample() of a chain (the sampling share of the per-token cost). */
function timed(chain: SamplerChain): { chain: SamplerChain; ms: () => number } {
  let ms = 0;
  const inner = chain.sample.bind(chain);
  chain.sample = (logits: ArrayLike<number>) => {
    const t0 = performance.now();
    const r = inner(logits);
    ms += performance.now() - t0;
    return r;
  };
  return { chain, ms: () => ms };
}

/** Median ms of a trie walk at new positions inside "..." with a length bound. */
function walkCost(tokenizer: Tokenizer): { nodes: number; ms: number; allowed: number } {
  const trie = TokenTrie.of(tokenizer);
  const g = parseGbnf('root ::= "\\"" char{0,64} "\\""\nchar ::= [^"\\\\\\x7F\\x00-\\x1F] | [\\\\] ["\\\\/bfnrt]\n');
  const single = (c: number) => {
    for (let i = 0; i < tokenizer.vocabSize; i++) {
      const b = tokenizer.tokenBytes(i);
      if (b.length === 1 && b[0] === c && !tokenizer.isSpecial(i)) return i;
    }
    throw new Error(`no single-byte token for ${c}`);
  };
  const quote = single(0x22);
  const letter = single(0x61);
  const times: number[] = [];
  let allowed = 0;
  for (let round = 0; round < 2; round++) {
    // round 0 fills the character transitions; round 1 (fresh allowed-token cache) is the walk alone
    const tg = new TokenGrammar(g, tokenizer);
    let p = tg.next(tg.start(), quote)!;
    for (let i = 0; i < 24; i++) {
      const t0 = performance.now();
      allowed = tg.allowed(p).length;
      if (round === 1) times.push(performance.now() - t0);
      p = tg.next(p, letter)!;
    }
  }
  return { nodes: trie.edgeStart.length, ms: median(times), allowed };
}

async function main(): Promise<void> {
  const type = SYNTHETIC_TYPES[typeName];
  if (type === undefined) throw new Error(`unknown --type ${typeName}`);
  const dir = mkdtempSync(join(tmpdir(), 'grammar-bench-'));
  try {
    const path = join(dir, `synthetic-110m-${typeName}.gguf`);
    log(`writing the synthetic 110m ${typeName} model...`);
    writeSyntheticGguf(path, '110m', type);
    const loaded = await loadModel(path);
    const tokenizer: Tokenizer = tokenizerFromGgufMetadata(loaded.metadata);
    const model = await LlamaModel.create(loaded, await selectBackend('auto', { threads }));
    const grammar = jsonSchemaToGrammar(SCHEMA);
    const prompt = 'Here is the JSON:';

    const once = async (mode: Mode, seed: number, tokens: number) => {
      const base = createSampler({ seed, temperature: 0.8, topK: 40, topP: 0.95, minP: 0.05 });
      const chain =
        mode === 'unconstrained' ? base : withGrammar(base, grammarSampler(grammar, tokenizer), { lazy: mode === 'lazy' });
      const t = timed(chain);
      const gen = generate(model, tokenizer, prompt, { sampler: t.chain, maxTokens: tokens, ctxSize: 512, ignoreEog: mode === 'unconstrained' });
      const text = await gen.text();
      const s = gen.stats!;
      // a constrained run that ends is valid JSON (one cut by the token budget is only timed)
      if (mode !== 'unconstrained' && s.finishReason === 'eos') JSON.parse(text);
      return { msPerToken: s.generateMs / s.generatedTokens, sampleMsPerToken: t.ms() / s.generatedTokens, tokens: s.generatedTokens, finish: s.finishReason };
    };

    // warm-up: JIT, trie build, grammar caches (all runs share the grammar's caches, as a server would)
    await once('first', 999, maxTokens);
    await once('unconstrained', 999, 8);
    const rows: Record<Mode, { ms: number[]; sample: number[]; tokens: number[] }> = {
      unconstrained: { ms: [], sample: [], tokens: [] },
      first: { ms: [], sample: [], tokens: [] },
      lazy: { ms: [], sample: [], tokens: [] },
    };
    for (let r = 0; r < runs; r++) {
      const seed = r + 1;
      const first = await once('first', seed, maxTokens);
      const lazy = await once('lazy', seed, maxTokens);
      const plain = await once('unconstrained', seed, first.tokens);
      for (const [m, x] of [['first', first], ['lazy', lazy], ['unconstrained', plain]] as const) {
        rows[m].ms.push(x.msPerToken);
        rows[m].sample.push(x.sampleMsPerToken);
        rows[m].tokens.push(x.tokens);
      }
      log(`run ${r + 1}/${runs}: unconstrained ${plain.msPerToken.toFixed(2)} ms/tok, grammar first ${first.msPerToken.toFixed(2)} ms/tok (${first.tokens} tok, ${first.finish}), lazy ${lazy.msPerToken.toFixed(2)} ms/tok (${lazy.tokens} tok, ${lazy.finish})`);
    }
    const base = median(rows.unconstrained.ms);
    const result = (Object.keys(rows) as Mode[]).map((m) => ({
      mode: m,
      msPerToken: median(rows[m].ms),
      samplingMsPerToken: median(rows[m].sample),
      ratio: median(rows[m].ms) / base,
      tokens: median(rows[m].tokens),
    }));
    if (asJson) {
      process.stdout.write(JSON.stringify({ model: `synthetic-110m ${typeName}`, threads, runs, backend: model.backend.name, result }, null, 2) + '\n');
      return;
    }
    process.stdout.write(`grammar-constrained decoding, synthetic-110m ${typeName.toUpperCase()}, ${model.backend.name} backend, ${threads} thread(s), median of ${runs} runs\n`);
    process.stdout.write('| sampling                         | ms/token | of which sampling | vs unconstrained | tokens/run |\n');
    process.stdout.write('| -------------------------------- | -------: | ----------------: | ---------------: | ---------: |\n');
    const label: Record<Mode, string> = { unconstrained: 'unconstrained', first: 'JSON schema, grammar first', lazy: 'JSON schema, lazy (llama.cpp)' };
    for (const r of result) {
      process.stdout.write(`| ${label[r.mode].padEnd(32)} | ${r.msPerToken.toFixed(2).padStart(8)} | ${r.samplingMsPerToken.toFixed(3).padStart(17)} | ${`${((r.ratio - 1) * 100 >= 0 ? '+' : '')}${((r.ratio - 1) * 100).toFixed(1)}%`.padStart(16)} | ${String(r.tokens).padStart(10)} |\n`);
    }
    const shared = process.env.LLAMA_SHARED_DIR ?? resolve(dirname(fileURLToPath(import.meta.url)), '../../../shared');
    const vocabularies: [string, () => Tokenizer][] = [['synthetic-110m', () => tokenizer]];
    for (const [name, file] of [['LLaMA 2', 'data/tokenizer/llama2/tokenizer.model'], ['Llama 3', 'data/tokenizer/llama3/tokenizer.model']] as const) {
      const path = join(shared, file);
      if (existsSync(path)) vocabularies.push([name, () => loadTokenizer(path)]);
    }
    process.stdout.write('\none trie walk at a new position inside a length-bounded string (median of 24 positions)\n');
    process.stdout.write('| vocabulary      |   tokens | trie nodes | allowed | ms/walk |\n| --------------- | -------: | ---------: | ------: | ------: |\n');
    for (const [name, load] of vocabularies) {
      const tok = load();
      const w = walkCost(tok);
      process.stdout.write(`| ${name.padEnd(15)} | ${String(tok.vocabSize).padStart(8)} | ${String(w.nodes).padStart(10)} | ${String(w.allowed).padStart(7)} | ${w.ms.toFixed(2).padStart(7)} |\n`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
