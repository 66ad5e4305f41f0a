// Training end to end on the js backend: a tiny model on tinyshakespeare (char level) learns
// well below the unigram baseline; a run killed mid-way and resumed reproduces the uninterrupted
// losses bit for bit; Ctrl-C checkpoints and exits cleanly; the schedule and data pieces.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { needsShared, sharedData, REPO_ROOT } from './helpers/shared.js';
import { runCli } from './helpers/cli.js';
import { loadTrainConfig } from '../src/train/config.js';
import { PEAK_FLOPS_PER_THREAD, train } from '../src/train/trainer.js';
import { greedyTokens } from '../src/train/sample.js';
import { learningRate } from '../src/train/schedule.js';
import { bigramLoss, MixtureSampler, readShard, splitText, unigramLoss, writeShard } from '../src/train/data.js';
import { Rng } from '../src/train/rng.js';
import { LlamaError } from '../src/errors.js';
import { selectBackend } from '../src/backend/select.js';

const SHAKESPEARE = sharedData('corpus', 'tinyshakespeare', 'input.txt');

function tinyConfig(dir: string, extra: Record<string, unknown> = {}): string {
  const cfg = {
    seed: 7,
    model: { dim: 32, nLayers: 2, nHeads: 4, nKvHeads: 2, ffnDim: 64 },
    tokenizer: { type: 'char' },
    data: { dir: 'data', sources: [{ name: 'shakespeare', files: [SHAKESPEARE], weight: 1, valFraction: 0.1 }] },
    seqLen: 32, batchTokens: 256, maxSteps: 200, lr: 3e-3, warmupSteps: 20,
    evalEvery: 0, evalTokens: 4096, checkpointEvery: 0, outDir: 'run', logEvery: 1000, backend: 'js',
    ...extra,
  };
  const p = join(dir, 'train.json');
  writeFileSync(p, JSON.stringify(cfg));
  return p;
}

function trainLosses(logFile: string): Map<number, number> {
  const m = new Map<number, number>();
  for (const line of readFileSync(logFile, 'utf8').split('\n')) {
    if (!line) continue;
    const r = JSON.parse(line) as { type: string; step: number; loss: number };
    if (r.type === 'train') m.set(r.step, r.loss); // a resumed run re-logs steps after its checkpoint: keep the last
  }
  return m;
}

test('learning-rate schedule: linear warmup, cosine to 10% of the peak', () => {
  const o = { peakLr: 1e-3, warmupSteps: 10, decaySteps: 110, minLrRatio: 0.1 };
  assert.equal(learningRate(0, o), 1e-4);
  assert.equal(learningRate(9, o), 1e-3);
  assert.ok(Math.abs(learningRate(10, o) - 1e-3) < 1e-15);
  assert.ok(Math.abs(learningRate(60, o) - (1e-4 + 0.5 * 9e-4)) < 1e-15, 'half way down the cosine');
  assert.ok(Math.abs(learningRate(110, o) - 1e-4) < 1e-15);
  assert.equal(learningRate(500, o), 1e-4);
});

test('token shards round-trip and reject a truncated file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shard-'));
  const p = join(dir, 'a.bin');
  writeShard(p, [0, 5, 65535, 7], 65536);
  assert.deepEqual(Array.from(readShard(p).tokens), [0, 5, 65535, 7]);
  writeShard(p, [70000, 1], 100000);
  const s = readShard(p);
  assert.ok(s.tokens instanceof Uint32Array);
  assert.deepEqual(Array.from(s.tokens), [70000, 1]);
  writeFileSync(p, readFileSync(p).subarray(0, 27));
  assert.throws(() => readShard(p), (e: unknown) => e instanceof LlamaError && e.code === 'FORMAT_TRUNCATED' && e.message.includes(p));
  rmSync(dir, { recursive: true });
});

test('the mixture sampler draws sources in proportion to their weights', () => {
  const shard = (n: number) => ({ path: 'x', vocabSize: 10, tokens: new Uint16Array(n) });
  const sources = [
    { name: 'a', weight: 3, train: shard(100), val: shard(10) },
    { name: 'b', weight: 1, train: shard(100), val: shard(10) },
    { name: 'c', weight: 0, train: shard(100), val: shard(10) },
  ];
  const s = new MixtureSampler(sources, 8, new Rng(3));
  const counts = [0, 0, 0];
  for (let i = 0; i < 4000; i++) counts[s.next().source]!++;
  assert.equal(counts[2], 0);
  // binomial(4000, 0.75): sd ≈ 27; 5 sd bounds
  assert.ok(Math.abs(counts[0]! - 3000) < 140, `counts ${counts}`);
  assert.deepEqual(splitText('ab\ncd\nef\ngh\n', 0.5), { train: 'ab\ncd\nef\n', val: 'gh\n' });
  assert.ok(Math.abs(unigramLoss([1, 1, 2], [1], 3) - -Math.log(3 / 6)) < 1e-12);
  // bigram on train [1,1,2]: pairs (1,1), (1,2); P(2|1) = (1 + 1·P_uni(2)) / (2 + 1), P_uni(2) = 2/6
  assert.ok(Math.abs(bigramLoss([1, 1, 2], [1, 2], 3) - -(Math.log(3 / 6) + Math.log((1 + 2 / 6) / 3)) / 2) < 1e-12);
});

// One tiny run shared by the convergence and export tests (training is the slow part).
let trained: Promise<{ dir: string; r: Awaited<ReturnType<typeof train>> }> | undefined;
function trainedTiny() {
  trained ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'train-'));
    const cfg = loadTrainConfig(tinyConfig(dir));
    const r = await train(cfg, { log: () => {} });
    return { dir, r };
  })();
  return trained;
}

test('a tiny model trained on tinyshakespeare goes from ln(vocab) to well below the unigram baseline', needsShared('corpus/tinyshakespeare/input.txt'), async () => {
  const { dir, r } = await trainedTiny();
  const log = readFileSync(join(dir, 'run', 'log.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const baseline = log.find((x) => x.type === 'baseline').unigram as number;
  const first = log.find((x) => x.type === 'train' && x.step === 1).loss as number;
  const vocab = r.tokenizer.vocabSize;
  assert.ok(Math.abs(first - Math.log(vocab)) < 0.1, `first loss ${first} vs ln(${vocab}) = ${Math.log(vocab)}`);
  const val = r.valLoss['shakespeare']!;
  // a char-level unigram model of Shakespeare is ~3.3 nats; bigram-level structure alone gives ~2.5
  assert.ok(val < baseline - 0.6, `validation loss ${val} vs unigram baseline ${baseline}`);
  assert.equal(r.step, 200);
  // the final validation is the best so far here, so checkpoint-best.bin holds it
  assert.ok(existsSync(join(dir, 'run', 'checkpoint-best.bin')));
});

test('exported GGUF (f32, f16, q8_0) and HF checkpoints generate the in-trainer greedy text with llama run', needsShared('corpus/tinyshakespeare/input.txt'), async () => {
  const { dir, r } = await trainedTiny();
  const prompt = 'ROMEO:';
  const n = 20;
  const ids = greedyTokens(r.tm, r.tokenizer.encode(prompt, { addBos: true }), n);
  const eos = ids.indexOf(r.tokenizer.eosId ?? -1);
  const expected = prompt + r.tokenizer.decode(eos >= 0 ? ids.slice(0, eos) : ids);
  assert.ok(expected.length > prompt.length + 5, `the model generates text: ${JSON.stringify(expected)}`);
  const ckpt = join(dir, 'run', 'checkpoint.bin');
  const outs: [string, string[]][] = [
    ['f32.gguf', ['--type', 'f32']],
    ['f16.gguf', ['--type', 'f16']],
    ['q8_0.gguf', ['--type', 'q8_0']],
    ['hf', ['--format', 'hf']],
  ];
  for (const [name, flags] of outs) {
    const out = join(dir, name);
    const e = runCli(['export', ckpt, '-o', out, ...flags]);
    assert.equal(e.status, 0, e.stderr);
    const run = runCli(['run', '-m', out, '-p', prompt, '-n', String(n), '--temp', '0', '--backend', 'js']);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout.replace(/\n$/, ''), expected.replace(/\n$/, ''), `${name}: llama run vs in-trainer greedy`);
  }
  // llama logits on the F32 export equals the in-trainer logits (same kernels, same weights)
  const lg = runCli(['logits', '-m', join(dir, 'f32.gguf'), '--ids', '1,20,30', '--json', '--backend', 'js']);
  assert.equal(lg.status, 0, lg.stderr);
  const got = (JSON.parse(lg.stdout) as { logits: number[][] }).logits.at(-1)!;
  r.tm.tape.recording = false;
  const session = r.tm.model.newSession({ ctxSize: 8 });
  const want = r.tm.model.forward(session, [1, 20, 30]);
  assert.deepEqual(got.map((x) => Math.fround(x)), Array.from(want));
  rmSync(dir, { recursive: true });
});

function llamaArgs(args: string[]): string[] {
  return [join(REPO_ROOT, 'bin/llama.js'), ...args];
}

async function waitForStep(logFile: string, step: number): Promise<void> {
  for (;;) {
    if (existsSync(logFile) && [...trainLosses(logFile).keys()].some((s) => s >= step)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('kill -9 mid-run, then --resume: the losses equal the uninterrupted run bit for bit', needsShared('corpus/tinyshakespeare/input.txt'), async () => {
  const base = mkdtempSync(join(tmpdir(), 'resume-'));
  const extra = { model: { dim: 16, nLayers: 2, nHeads: 4, nKvHeads: 2, ffnDim: 32 }, seqLen: 16, batchTokens: 64, maxSteps: 100000, checkpointEvery: 5 };
  const STOP = 30;
  // the uninterrupted reference
  const refDir = join(base, 'ref');
  mkdirSync(refDir);
  const refCfg = tinyConfig(refDir, extra);
  const ref = runCli(['train', '--config', refCfg, '--stop-after', String(STOP)]);
  assert.equal(ref.status, 0, ref.stderr);
  const want = trainLosses(join(refDir, 'run', 'log.jsonl'));
  assert.equal(want.size, STOP);
  // the same run, killed without warning once it is past a checkpoint
  const runDir = join(base, 'killed');
  mkdirSync(runDir);
  const cfg = tinyConfig(runDir, extra);
  const child = spawn(process.execPath, llamaArgs(['train', '--config', cfg]), { stdio: 'ignore' });
  const logFile = join(runDir, 'run', 'log.jsonl');
  await waitForStep(logFile, 12);
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  const before = trainLosses(logFile);
  assert.ok(before.size >= 12, 'the killed run got past a checkpoint');
  const resumed = runCli(['train', '--config', cfg, '--resume', '--stop-after', String(STOP)]);
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stderr, /resuming .* at step \d+/);
  const got = trainLosses(logFile);
  for (let s = 1; s <= STOP; s++) assert.equal(got.get(s), want.get(s), `step ${s}: ${got.get(s)} vs ${want.get(s)}`);
  rmSync(base, { recursive: true });
});

test('Ctrl-C (SIGINT) saves a checkpoint, exits with 130, and --resume continues exactly', needsShared('corpus/tinyshakespeare/input.txt'), async () => {
  const base = mkdtempSync(join(tmpdir(), 'sigint-'));
  const extra = { model: { dim: 16, nLayers: 1, nHeads: 2, ffnDim: 32 }, seqLen: 16, batchTokens: 32, maxSteps: 100000, checkpointEvery: 0 };
  const STOP = 40;
  const cfg = tinyConfig(base, extra);
  const child = spawn(process.execPath, llamaArgs(['train', '--config', cfg]), { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const logFile = join(base, 'run', 'log.jsonl');
  await waitForStep(logFile, 3);
  child.kill('SIGINT');
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  assert.equal(code, 130, stderr);
  const m = /checkpoint saved at step (\d+)/.exec(stderr);
  assert.ok(m, stderr);
  const at = Number(m[1]);
  assert.ok(at < STOP, `interrupted at ${at}`);
  const resumed = runCli(['train', '--config', cfg, '--resume', '--stop-after', String(STOP)]);
  assert.equal(resumed.status, 0, resumed.stderr);
  const got = trainLosses(logFile);
  // reference: the same config without interruption, in another folder
  const refDir = join(base, 'ref');
  mkdirSync(refDir);
  const ref = runCli(['train', '--config', tinyConfig(refDir, extra), '--stop-after', String(STOP)]);
  assert.equal(ref.status, 0, ref.stderr);
  const want = trainLosses(join(refDir, 'run', 'log.jsonl'));
  for (let s = 1; s <= STOP; s++) assert.equal(got.get(s), want.get(s), `step ${s}`);
  rmSync(base, { recursive: true });
});

test('bad training configs are typed errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'badcfg-'));
  const p = join(dir, 'c.json');
  writeFileSync(p, '{"model": {"dim": 30, "nLayers": 1, "nHeads": 4}, "data": {"sources": [{"name": "a", "files": ["x"]}]}, "seqLen": 16, "batchTokens": 20}');
  const r = runCli(['train', '--config', p]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /TRAIN_CONFIG.*batchTokens 20 must be a multiple of seqLen 16/);
  writeFileSync(p, '{not json');
  assert.match(runCli(['train', '--config', p]).stderr, /TRAIN_CONFIG.*not valid JSON/);
  assert.equal(runCli(['train']).status, 2);
  rmSync(dir, { recursive: true });
});

test('llama plot draws train/val loss and lr curves as SVG; a non-log is a typed error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'plot-'));
  const log = join(dir, 'log.jsonl');
  const lines = [
    { type: 'baseline', source: 's', unigram: 3.3 },
    ...Array.from({ length: 10 }, (_, i) => ({ type: 'train', step: i + 1, loss: 4 - i * 0.2, lr: 1e-3 * (i + 1) / 10 })),
    { type: 'val', step: 5, source: 's', loss: 3.5 },
    { type: 'val', step: 10, source: 's', loss: 2.9 },
  ];
  writeFileSync(log, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  const r = runCli(['plot', log, '-o', join(dir, 'loss.svg')]);
  assert.equal(r.status, 0, r.stderr);
  const svg = readFileSync(join(dir, 'loss.svg'), 'utf8');
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  const paths = [...svg.matchAll(/<path d="([^"]+)"/g)].map((m) => m[1]!);
  assert.equal(paths.length, 3, 'train loss, val loss, learning rate');
  assert.equal(paths[0]!.split(/[ML]/).filter(Boolean).length, 10);
  assert.match(svg, /unigram s 3.300/);
  writeFileSync(log, 'hello\n');
  const bad = runCli(['plot', log]);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /FORMAT_CORRUPT.*line 1 is not JSON/);
  rmSync(dir, { recursive: true });
});

test('resume without a checkpoint, or from a damaged one, is a typed error naming the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'badckpt-'));
  const cfg = tinyConfig(dir, { maxSteps: 2, seqLen: 8, batchTokens: 8, model: { dim: 8, nLayers: 1, nHeads: 2, ffnDim: 16 } });
  writeFileSync(join(dir, 'corpus.txt'), 'abcdefghij '.repeat(200));
  writeFileSync(cfg, readFileSync(cfg, 'utf8').replace(JSON.stringify(SHAKESPEARE), JSON.stringify(join(dir, 'corpus.txt'))));
  const none = runCli(['train', '--config', cfg, '--resume']);
  assert.equal(none.status, 1);
  assert.match(none.stderr, /FILE_NOT_FOUND.*checkpoint\.bin: no checkpoint to resume from/);
  assert.equal(runCli(['train', '--config', cfg]).status, 0);
  const ckpt = join(dir, 'run', 'checkpoint.bin');
  const bytes = readFileSync(ckpt);
  writeFileSync(ckpt, bytes.subarray(0, bytes.length - 3));
  const cut = runCli(['train', '--config', cfg, '--resume']);
  assert.equal(cut.status, 1);
  assert.match(cut.stderr, /CHECKPOINT.*checkpoint\.bin: tensors need \d+ bytes in all but the file has \d+/);
  writeFileSync(ckpt, Buffer.from('not a checkpoint at all'));
  assert.match(runCli(['train', '--config', cfg, '--resume']).stderr, /CHECKPOINT.*no LTCK magic/);
  const exp = runCli(['export', ckpt, '-o', join(dir, 'x.gguf')]);
  assert.equal(exp.status, 1);
  assert.match(exp.stderr, /CHECKPOINT/);
  rmSync(dir, { recursive: true });
});

test('2 threads on js (data-parallel workers): deterministic, resumable bit-exactly, and equal to 1 thread up to summation order', needsShared('corpus/tinyshakespeare/input.txt'), async () => {
  const base = mkdtempSync(join(tmpdir(), 'threads-'));
  const extra = { model: { dim: 16, nLayers: 1, nHeads: 2, ffnDim: 32 }, seqLen: 16, batchTokens: 64, maxSteps: 1000, backend: 'js' };
  const run = async (name: string, threads: number, stops: number[]) => {
    const dir = join(base, name);
    mkdirSync(dir);
    const cfg = loadTrainConfig(tinyConfig(dir, { ...extra, threads }));
    for (const [i, stopAfter] of stops.entries()) await train(cfg, { log: () => {} }, { resume: i > 0, stopAfter });
    return trainLosses(join(dir, 'run', 'log.jsonl'));
  };
  const a = await run('a', 2, [8]);
  const b = await run('b', 2, [3, 8]);
  const one = await run('one', 1, [8]);
  for (let s = 1; s <= 8; s++) {
    assert.equal(b.get(s), a.get(s), `step ${s}: resumed 2-thread run`);
    assert.ok(Math.abs(one.get(s)! - a.get(s)!) < 1e-4, `step ${s}: 1 thread ${one.get(s)} vs 2 threads ${a.get(s)}`);
  }
  rmSync(base, { recursive: true });
});

test('native backend (when built) at 2 threads: a resumed run reproduces the uninterrupted losses bit for bit', needsShared('corpus/tinyshakespeare/input.txt'), async (t) => {
  try {
    await selectBackend('native', { threads: 2 });
  } catch {
    t.skip('the native backend is not built here');
    return;
  }
  const base = mkdtempSync(join(tmpdir(), 'native-resume-'));
  const extra = { model: { dim: 16, nLayers: 2, nHeads: 4, nKvHeads: 2, ffnDim: 32 }, seqLen: 16, batchTokens: 64, maxSteps: 1000, backend: 'native', threads: 2 };
  let last: Awaited<ReturnType<typeof train>> | undefined;
  const run = async (name: string, stops: number[]) => {
    const dir = join(base, name);
    mkdirSync(dir);
    const cfg = loadTrainConfig(tinyConfig(dir, extra));
    for (const [i, stopAfter] of stops.entries()) last = await train(cfg, { log: () => {} }, { resume: i > 0, stopAfter });
    return trainLosses(join(dir, 'run', 'log.jsonl'));
  };
  const a = await run('a', [10]);
  // MFU is reported against the FMA peak the native backend measured (and against the nominal one)
  assert.ok(last!.peakMeasured && last!.peakFlops > 1e9, `peak ${last!.peakFlops}`);
  assert.ok(last!.mfu > 0 && last!.mfuNominal > 0);
  assert.ok(Math.abs(last!.mfu / last!.mfuNominal - (PEAK_FLOPS_PER_THREAD * 2) / last!.peakFlops) < 1e-9);
  const b = await run('b', [4, 10]);
  assert.equal(a.size, 10);
  for (let s = 1; s <= 10; s++) assert.equal(b.get(s), a.get(s), `step ${s}`);
  rmSync(base, { recursive: true });
});
