// Issue 13 "Hardening", loading / formats / conversion: each test provokes one defect of
// docs/new-user-findings (D10, D15, D20, D21, D22) or one architecture seam, and fails on the code
// before the fix.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { LlamaError } from '../src/errors.js';
import { GgufType } from '../src/formats/gguf.js';
import { GENERAL, LLM, TOKENIZER } from '../src/formats/gguf-keys.js';
import { gv, writeGguf } from '../src/formats/gguf-write.js';
import { writeFileAtomic } from '../src/formats/file-io.js';
import { canUnmap } from '../src/formats/mmap.js';
import { describe } from '../src/formats/describe.js';
import { loadModel, detectModel } from '../src/model/load.js';
import { convertModel } from '../src/model/convert.js';
import { checkTokenizerFitsModel } from '../src/model/tokenizer-fit.js';
import { createSession, maxKvBytes } from '../src/model/kv-cache.js';
import { loadTokenizer } from '../src/tokenizer/load.js';
import { exportGguf, exportHf, type TrainedModel } from '../src/train/export.js';
import { plotSvg } from '../src/train/plot.js';
import { JsBackend } from '../src/backend/js/js-backend.js';
import { runCli } from './helpers/cli.js';
import { expectCode, expectCodeAsync } from './helpers/corrupt.js';
import { needsShared, REPO_ROOT, sharedData } from './helpers/shared.js';
import { tempDir } from './helpers/tmp.js';
import { tinyLlama } from './helpers/tiny-gguf.js';

function tiny(dir: string, name: string, o: Parameters<typeof tinyLlama>[0] = {}): string {
  const p = join(dir, name);
  writeGguf(p, tinyLlama(o));
  return p;
}

/** The error has a hint and no JS `undefined` / `null` leaking into what the user reads. */
function assertReadable(e: LlamaError, what: string): void {
  assert.ok(e.hint && e.hint.length > 10, `${what}: no hint on ${e.code}: ${e.message}`);
  assert.doesNotMatch(`${e.message} ${e.hint}`, /\bundefined\b|\bnull\b|\[object /, `${what}: ${e.message} / ${e.hint}`);
}

// ---- D15: metadata that disagrees with the tensors ----

test('D15: a GGUF whose block_count says 2 but which holds 3 layers is MODEL_CONFIG naming the unused tensors', async () => {
  const dir = tempDir('llama-lh-');
  const p = tiny(dir, 'layers.gguf', { nLayers: 2, tensorLayers: 3 });
  const e = await expectCodeAsync(() => loadModel(p), 'MODEL_CONFIG');
  assert.match(e.message, /9 tensors are not used by the model config \(2 layers\): blk\.2\.attn_norm\.weight/);
  assert.match(e.hint!, /layer 2 .*llama\.block_count/);
  assertReadable(e, 'layers');
  // and the CLI refuses it before generating anything
  const r = runCli(['run', '-m', p, '-p', 'p5', '-n', '2']);
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /MODEL_CONFIG/);
});

test('D15: an HF folder whose num_hidden_layers is below its layers is MODEL_CONFIG too', async () => {
  const dir = tempDir('llama-lh-');
  const hf = join(dir, 'hf');
  await convertModel(tiny(dir, 'm.gguf', { nLayers: 3 }), hf);
  const cfgPath = join(hf, 'config.json');
  const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
  cfg.num_hidden_layers = 2;
  writeFileSync(cfgPath, JSON.stringify(cfg));
  const e = await expectCodeAsync(() => loadModel(hf), 'MODEL_CONFIG');
  assert.match(e.message, /9 tensors are not used by the model config \(2 layers\): model\.layers\.2\./);
  assert.match(e.hint!, /num_hidden_layers/);
});

test('D15: an out-of-range bos_token_id is TOKENIZER_INVALID naming the key, never a silently dropped BOS', () => {
  const dir = tempDir('llama-lh-');
  const p = tiny(dir, 'bos.gguf', { meta: { [TOKENIZER.BOS_ID]: gv.u32(999999) } });
  const e = expectCode(() => loadTokenizer(p), 'TOKENIZER_INVALID');
  assert.match(e.message, /tokenizer\.ggml\.bos_token_id = 999999 is outside the vocabulary \(0\.\.299\)/);
  assert.ok(e.message.startsWith(p));
  assertReadable(e, 'bos');
  const r = runCli(['tokenize', '-m', p, 'p5']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /TOKENIZER_INVALID.*bos_token_id/);
  // an out-of-range padding id is only a warning, and ignored
  const pad = tiny(dir, 'pad.gguf', { meta: { [TOKENIZER.PAD_ID]: gv.u32(300) } });
  const w = runCli(['tokenize', '-m', pad, 'p5']);
  assert.equal(w.status, 0, w.stderr);
  assert.match(w.stderr, /warning: .*padding_token_id = 300 is outside the vocabulary; ignored|warning: .*padding_token_id = 300 is outside the vocabulary \(0\.\.299\); ignored/);
});

// ---- D10: a tokenizer that does not fit the model ----

test('D10: checkTokenizerFitsModel refuses a tokenizer larger than the embedding table, naming both sizes', () => {
  const e = expectCode(() => checkTokenizerFitsModel({ vocabSize: 32000 }, { vocabSize: 256 }, { model: 'llama1-tiny', tokenizer: 'tokenizer.model' }), 'TOKENIZER_MISMATCH');
  assert.match(e.message, /tokenizer tokenizer\.model has 32000 tokens but model llama1-tiny has only 256/);
  assert.match(e.hint!, /ids the model has no embedding for/);
  assertReadable(e, 'larger');
  // padded embedding tables, and smaller tokenizers (run warns and never samples what it cannot spell)
  checkTokenizerFitsModel({ vocabSize: 32000 }, { vocabSize: 32064 });
  checkTokenizerFitsModel({ vocabSize: 300 }, { vocabSize: 300 });
  checkTokenizerFitsModel({ vocabSize: 512 }, { vocabSize: 4096 });
});

test('D10: llama run with a --tokenizer of another model is refused up front (nothing on stdout)', () => {
  const dir = tempDir('llama-lh-');
  const model = tiny(dir, 'model.gguf', { vocab: 300 });
  const other = tiny(dir, 'other.gguf', { vocab: 1000 });
  const r = runCli(['run', '-m', model, '--tokenizer', other, '-p', 'p5', '-n', '2']);
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /TOKENIZER_MISMATCH.*1000 tokens but model .* has only 300/);
  assert.match(r.stderr, /hint:/);
});

test('D10: the golden llama1-tiny with the 32000-piece Llama 2 tokenizer is TOKENIZER_MISMATCH up front', needsShared('golden/llama1-tiny/model.safetensors'), () => {
  const r = runCli(['run', '-m', sharedData('golden', 'llama1-tiny', 'model.safetensors'), '--tokenizer', sharedData('tokenizer', 'llama2', 'tokenizer.model'), '-p', 'hi', '-n', '2']);
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /TOKENIZER_MISMATCH.*32000 tokens.*only 256/);
});

// ---- D21: every loading error has a hint, and says what it means ----

test('D21: general.architecture "mamba" names the supported architectures; a missing one says "missing"', async () => {
  const dir = tempDir('llama-lh-');
  const mamba = tiny(dir, 'mamba.gguf', { meta: { [GENERAL.ARCHITECTURE]: gv.str('mamba') } });
  const e = await expectCodeAsync(() => loadModel(mamba), 'FORMAT_UNSUPPORTED');
  assert.match(e.message, /general\.architecture is "mamba"/);
  assert.match(e.hint!, /supported architectures: llama/);
  const none = tiny(dir, 'none.gguf', { meta: { [GENERAL.ARCHITECTURE]: undefined } });
  const e2 = await expectCodeAsync(() => loadModel(none), 'MODEL_CONFIG');
  assert.match(e2.message, /general\.architecture is missing/);
  assertReadable(e2, 'no architecture');
});

test('D21: a vocab-only GGUF is TENSOR_MISSING that says so', async () => {
  const dir = tempDir('llama-lh-');
  const p = tiny(dir, 'vocab.gguf', { vocabOnly: true });
  const e = await expectCodeAsync(() => loadModel(p), 'TENSOR_MISSING');
  assert.match(e.message, /vocab-only GGUF/);
  assert.match(e.hint!, /--tokenizer/);
  // and it works as a tokenizer
  assert.equal(loadTokenizer(p).vocabSize, 300);
});

test('D21: a too-short llama2.c file, a duplicate tensor name, and a byte-level BPE without byte 0x00 all have hints (and name the file)', async () => {
  const dir = tempDir('llama-lh-');
  const short = join(dir, 'text.bin');
  writeFileSync(short, 'this is not a model at all');
  const e1 = await expectCodeAsync(() => loadModel(short), 'FORMAT_TRUNCATED');
  assertReadable(e1, 'short llama2.c');
  // two tensors named alike: write "xa" and "xb", then patch the name bytes
  const dup = join(dir, 'dup.gguf');
  const t = tinyLlama();
  writeGguf(dup, { metadata: t.metadata, tensors: [{ ...t.tensors[1]!, name: 'xa' }, { ...t.tensors[1]!, name: 'xb' }] });
  const bytes = readFileSync(dup);
  const at = bytes.lastIndexOf(Buffer.from('xb'));
  bytes[at + 1] = 'a'.charCodeAt(0);
  writeFileSync(dup, bytes);
  const e2 = expectCode(() => describe(dup), 'FORMAT_CORRUPT');
  assert.match(e2.message, /duplicate tensor name 'xa'/);
  assertReadable(e2, 'duplicate');
  // a gpt2 vocabulary that lacks byte 0x00
  const bpe = join(dir, 'bpe.gguf');
  writeGguf(bpe, { metadata: [[TOKENIZER.MODEL, gv.str('gpt2')], [TOKENIZER.TOKENS, gv.arr(GgufType.STRING, ['a', 'b', 'ab'])], [TOKENIZER.MERGES, gv.arr(GgufType.STRING, ['a b'])]], tensors: [] });
  const e3 = expectCode(() => loadTokenizer(bpe), 'TOKENIZER_INVALID');
  assert.match(e3.message, /no token for byte 0x00/);
  assert.ok(e3.message.startsWith(bpe), e3.message);
  assertReadable(e3, 'bpe');
});

test('D21: every truncation of a GGUF fails with a hinted error and no "undefined" in it', async () => {
  const dir = tempDir('llama-lh-');
  const whole = readFileSync(tiny(dir, 'whole.gguf'));
  const p = join(dir, 'cut.gguf');
  for (const n of [0, 3, 9, 30, 200, 1000, 5000, 20000, whole.length - 100]) {
    writeFileSync(p, whole.subarray(0, n));
    try {
      await loadModel(p);
      assert.fail(`truncated at ${n} loaded`);
    } catch (e) {
      assert.ok(e instanceof LlamaError, String(e));
      assertReadable(e, `cut at ${n}`);
    }
  }
});

test('D21: FILE_WRITE has a hint; llama export of a missing checkpoint does not talk about training', () => {
  const e = expectCode(() => writeFileAtomic('/nonexistent-dir-llama/x.json', '{}'), 'FILE_WRITE');
  assertReadable(e, 'write');
  const r = runCli(['export', 'nope.bin', '-o', join(tempDir('llama-lh-'), 'x.gguf')]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /FILE_NOT_FOUND.*nope\.bin/);
  assert.doesNotMatch(r.stderr, /train without --resume/);
  assert.match(r.stderr, /hint: .*checkpoint/);
});

// ---- D22 ----

test('D22: -m DIR holding one .gguf loads it; several unrelated ones are named', async () => {
  const dir = tempDir('llama-lh-');
  const p = tiny(dir, 'model.gguf');
  writeFileSync(join(dir, 'notes.txt'), 'hello');
  assert.deepEqual(detectModel(dir).files, [p]);
  const m = await loadModel(dir);
  assert.equal(m.config.nLayers, 2);
  m.close();
  const t = runCli(['tokenize', '-m', dir, 'p5']);
  assert.equal(t.status, 0, t.stderr);
  tiny(dir, 'other.gguf');
  const e = expectCode(() => detectModel(dir), 'MODEL_NOT_FOUND');
  assert.match(e.message, /2 GGUF files \(model\.gguf, other\.gguf\)/);
});

test('D22: convert GGUF -> HF writes tokenizer.json + tokenizer_config.json, and the output runs', async () => {
  const dir = tempDir('llama-lh-');
  const src = tiny(dir, 'm.gguf');
  const out = join(dir, 'hf');
  const r = await convertModel(src, out);
  assert.ok(r.files.includes(join(out, 'tokenizer.json')), r.files.join(' '));
  const cfg = JSON.parse(readFileSync(join(out, 'tokenizer_config.json'), 'utf8'));
  assert.equal(cfg.bos_token, '<s>');
  assert.equal(cfg.eos_token, '</s>');
  const a = loadTokenizer(src);
  const b = loadTokenizer(join(out, 'tokenizer.json'));
  assert.equal(b.vocabSize, a.vocabSize);
  for (const text of ['p5 p17', 'héllo wörld', '']) assert.deepEqual(b.encode(text), a.encode(text), text);
  const run = runCli(['run', '-m', out, '-p', 'p5', '-n', '2', '--temp', '0']);
  assert.equal(run.status, 0, run.stderr);
});

test('D22: the KV cache limit follows the RAM, can be overridden, and says where it came from', () => {
  assert.equal(maxKvBytes({}), Math.floor(totalmem() * 0.9));
  assert.equal(maxKvBytes({ LLAMA_MAX_KV_GIB: '2' }), 2 * 1024 ** 3);
  expectCode(() => maxKvBytes({ LLAMA_MAX_KV_GIB: 'lots' }), 'USAGE');
  const c = { dim: 64, nLayers: 2, nHeads: 4, nKvHeads: 4, headDim: 16, ffnDim: 128, vocabSize: 300, normEps: 1e-5, ropeTheta: 10000, contextLength: 128, ropeScaling: undefined, tiedEmbeddings: false };
  const e = expectCode(() => createSession(new JsBackend(), c, { ctxSize: 128, maxKvBytes: 1000 }), 'CONTEXT_OVERFLOW');
  assert.match(e.message, /limit \(the maxKvBytes option\)/);
  assert.match(e.hint!, /LLAMA_MAX_KV_GIB/);
  // a Llama-3.1-8B-shaped 128k F32 cache (32 GiB) is no longer refused by a fixed 16 GiB cap
  const big = { ...c, nLayers: 32, nKvHeads: 8, headDim: 128 };
  const e2 = expectCode(() => createSession(new JsBackend(), big, { ctxSize: 131072, maxKvBytes: 8 * 1024 ** 3 }), 'CONTEXT_OVERFLOW');
  assert.match(e2.message, /32\.0 GiB, more than the 8\.0 GiB limit/);
});

test('D22: inspect aligns long detail names; SVG coordinates have bounded decimals', async () => {
  const dir = tempDir('llama-lh-');
  const hf = join(dir, 'hf');
  await convertModel(tiny(dir, 'm.gguf'), hf);
  const r = runCli(['inspect', join(hf, 'model.safetensors')]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^headerBytes:\s+\[\d+\]$/m);
  assert.doesNotMatch(r.stdout, /^\w+:\S/m);
  const log = [
    JSON.stringify({ type: 'start' }),
    ...Array.from({ length: 7 }, (_, i) => JSON.stringify({ type: 'train', step: i * 3 + 1, loss: 5 - i / 3, lr: 1e-3 / (i + 1) })),
    JSON.stringify({ type: 'val', step: 13, loss: 4.123456789, source: 'v' }),
  ].join('\n');
  const svg = plotSvg(log, 'log.jsonl');
  const numbers = [...svg.matchAll(/(?:[xy][12]?|d)="([^"]*)"/g)].flatMap((m) => m[1]!.match(/-?\d+(?:\.\d+)?/g) ?? []);
  assert.ok(numbers.length > 20);
  for (const n of numbers) assert.match(n, /^-?\d+(\.\d{1,2})?$/, `coordinate ${n}`);
});

// ---- architecture seams ----

test('seam: rope_scaling (Llama 3.1) survives export to HF and GGUF, and convert to HF', async () => {
  const dir = tempDir('llama-lh-');
  const src = tiny(dir, 'm.gguf');
  const loaded = await loadModel(src);
  const scaling = { type: 'llama3' as const, factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContextLength: 64 };
  const m: TrainedModel = { config: { ...loaded.config, ropeScaling: scaling }, weights: loaded.weights, tokenizer: loadTokenizer(src), step: 1 };
  exportHf(join(dir, 'hf'), m);
  const cfg = JSON.parse(readFileSync(join(dir, 'hf', 'config.json'), 'utf8'));
  assert.deepEqual(cfg.rope_scaling, { factor: 8, high_freq_factor: 4, low_freq_factor: 1, original_max_position_embeddings: 64, rope_type: 'llama3' });
  const back = await loadModel(join(dir, 'hf'));
  assert.deepEqual(back.config.ropeScaling, scaling);
  // GGUF: as rope_freqs.weight, which convert turns back into rope_scaling
  exportGguf(join(dir, 'e.gguf'), m, 'f32');
  const g = await loadModel(join(dir, 'e.gguf'));
  assert.ok(g.weights.ropeFreqs, 'rope_freqs.weight written');
  const hf2 = join(dir, 'hf2');
  await convertModel(join(dir, 'hf'), hf2);
  assert.deepEqual(JSON.parse(readFileSync(join(hf2, 'config.json'), 'utf8')).rope_scaling, cfg.rope_scaling);
});

/** Every .ts file under `dir` (relative to src/). */
function sources(dir: string): string[] {
  const root = resolve(REPO_ROOT, 'src', dir);
  return readdirSync(root, { recursive: true }).map(String).filter((f) => f.endsWith('.ts')).map((f) => join(root, f));
}

test('seam: nothing in src/tokenizer or src/formats imports from src/model (one way down)', () => {
  const bad = [...sources('tokenizer'), ...sources('formats')].filter((f) => /from '\.\.\/model\//.test(readFileSync(f, 'utf8')));
  assert.deepEqual(bad, []);
});

test('seam: the loaders and writers own no tokenizer search and no raw file writes of their own', () => {
  const owned = [...sources('formats'), ...sources('model'), ...sources('tokenizer'), resolve(REPO_ROOT, 'src/train/export.ts'), resolve(REPO_ROOT, 'src/cli/model-args.ts')];
  for (const f of owned) {
    const text = readFileSync(f, 'utf8');
    if (!f.endsWith('file-io.ts')) assert.doesNotMatch(text, /\b(writeFileSync|createWriteStream|writeSync|renameSync|copyFileSync)\b/, `${f} writes files itself`);
  }
  // the tokenizer search lives in tokenizer/find.ts only (convert/export write those names, they do not search)
  for (const f of [...sources('formats'), resolve(REPO_ROOT, 'src/model/load.ts'), resolve(REPO_ROOT, 'src/cli/model-args.ts'), ...sources('tokenizer').filter((x) => !x.endsWith('find.ts'))]) {
    assert.doesNotMatch(readFileSync(f, 'utf8'), /join\([^)]*'tokenizer\.(model|json|bin)'\)|tok\$\{/, `${f} looks for tokenizer files itself`);
  }
  assert.doesNotMatch(readFileSync(resolve(REPO_ROOT, 'src/train/export.ts'), 'utf8'), /hidden_size:/, 'export.ts builds config.json itself');
});

// ---- D20: deterministic release ----

test('D20: LoadedModel.close() = dispose() = [Symbol.dispose]() drops the weights (typed error after), idempotently', async () => {
  const dir = tempDir('llama-lh-');
  const p = tiny(dir, 'm.gguf');
  for (const how of ['close', 'dispose', 'symbol'] as const) {
    const m = await loadModel(p);
    assert.equal(m.weights.layers.length, 2);
    if (how === 'close') m.close();
    else if (how === 'dispose') m.dispose();
    else m[Symbol.dispose]();
    assert.equal(m.closed, true);
    expectCode(() => m.weights, 'MODEL_CONFIG', how);
    m.close(); // twice is fine
    assert.equal(m.config.nLayers, 2, 'the config stays readable');
  }
});

test('D20: 100 load/close cycles of a mapped model keep RSS flat and leave no mapping of the file', { skip: canUnmap() ? false : 'the native addon has no unmapRange(view) export yet (src/backend/native/c/addon.c): close() drops the references, the GC unmaps later' }, async () => {
  const dir = tempDir('llama-lh-');
  const p = tiny(dir, 'mapped.gguf', { dim: 256, vocab: 8000 }); // 8 MB embedding and output: mapped
  const maps = () => readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.endsWith(p)).length;
  const rss0 = process.memoryUsage().rss;
  for (let i = 0; i < 100; i++) {
    const m = await loadModel(p);
    const d = m.weights.tokEmbeddings.data;
    let s = 0;
    for (let j = 0; j < d.length; j += 4096) s += d[j]!; // touch every page
    assert.ok(Number.isFinite(s));
    m.close();
    assert.equal(maps(), 0, `cycle ${i}: a mapping of the file is left after close`);
  }
  assert.ok(process.memoryUsage().rss - rss0 < 64 * 1024 * 1024, `RSS grew by ${((process.memoryUsage().rss - rss0) / 1e6).toFixed(0)} MB`);
});
