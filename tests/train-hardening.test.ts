// Training hardening (issue 13, findings D1, D2, D5, D9, D16, D17, D18, D22, D23): a resumed run
// reads and writes only its own folder, a fresh run never replaces an earlier one by accident,
// damaged checkpoints are refused, divergence and typos are typed errors, the log stays one curve
// after a resume, and the CLI's flags mean what they mean elsewhere. Tiny models on the js backend
// and a local corpus, so every test runs in seconds without ../shared.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';
import { REPO_ROOT } from './helpers/shared.js';
import { loadTrainConfig } from '../src/train/config.js';
import { loadCheckpoint } from '../src/train/checkpoint.js';
import { parseLog } from '../src/train/plot.js';
import { learningRate } from '../src/train/schedule.js';
import { LlamaError, ERROR_CODES } from '../src/errors.js';

/** A folder with a line-structured corpus and a tiny config (run folder "run"). */
function setup(prefix: string, extra: Record<string, unknown> = {}): { dir: string; cfg: string } {
  const dir = tempDir(prefix);
  writeFileSync(join(dir, 'corpus.txt'), 'the quick brown fox jumps over the lazy dog.\n'.repeat(300));
  const cfg = join(dir, 'train.json');
  writeFileSync(cfg, JSON.stringify({
    seed: 3,
    model: { dim: 16, nLayers: 1, nHeads: 2, ffnDim: 32 },
    tokenizer: { type: 'char' },
    data: { dir: 'data', sources: [{ name: 'c', files: ['corpus.txt'] }] },
    seqLen: 8, batchTokens: 16, maxSteps: 4, lr: 3e-3, warmupSteps: 1,
    evalEvery: 2, evalTokens: 64, checkpointEvery: 2, outDir: 'run', logEvery: 1, backend: 'js',
    ...extra,
  }));
  return { dir, cfg };
}

function records(logFile: string): Record<string, unknown>[] {
  return readFileSync(logFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

function md5(file: string): string {
  return createHash('md5').update(readFileSync(file)).digest('hex');
}

function snapshot(dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir).filter((f) => !f.endsWith('.lock')).map((f) => [f, md5(join(dir, f))]));
}

function ok(r: { status: number; stderr: string }): void {
  assert.equal(r.status, 0, r.stderr);
}

test('D1: train -o DIR --resume reads and writes only DIR (log, checkpoint, checkpoint-best), never the run its checkpoint came from', () => {
  const { dir, cfg } = setup('tr-d1-');
  const run = join(dir, 'run');
  ok(runCli(['train', '--config', cfg]));
  const copy = join(dir, 'copy');
  cpSync(run, copy, { recursive: true });
  const before = snapshot(run);
  // without --config: DIR's own checkpoint
  const r = runCli(['train', '-o', copy, '--resume', '--max-steps', '6']);
  ok(r);
  assert.match(r.stderr, new RegExp(`resuming ${copy.replace(/[/\\.]/g, '\\$&')}/checkpoint\\.bin at step 4`));
  assert.deepEqual(snapshot(run), before, 'the original run is untouched');
  const log = records(join(copy, 'log.jsonl'));
  assert.ok(log.some((x) => x.type === 'train' && x.step === 6), 'the steps are logged in the resumed folder');
  // (the records up to step 4 were copied with the folder and name the original)
  for (const x of log) if (x.type === 'checkpoint' && (x.step as number) > 4) assert.ok(String(x.path).startsWith(copy + '/'), `checkpoint record ${x.path}`);
  assert.equal(loadCheckpoint(join(copy, 'checkpoint.bin')).header.step, 6);
  assert.equal(loadCheckpoint(join(copy, 'checkpoint-best.bin')).header.step > 4, true, 'checkpoint-best.bin written in the resumed folder');
  // with --config and -o: the same
  const copy2 = join(dir, 'copy2');
  cpSync(run, copy2, { recursive: true });
  ok(runCli(['train', '--config', cfg, '-o', copy2, '--resume', '--max-steps', '6']));
  assert.deepEqual(snapshot(run), before);
  assert.equal(loadCheckpoint(join(copy2, 'checkpoint.bin')).header.step, 6);
  // a moved run resumes its own checkpoint (step 6), not the one its config's outDir names (step 4)
  const moved = join(dir, 'moved');
  cpSync(copy, moved, { recursive: true });
  const m = runCli(['train', '-o', moved, '--resume', '--max-steps', '7']);
  ok(m);
  assert.match(m.stderr, /moved\/checkpoint\.bin at step 6/);
  assert.deepEqual(snapshot(run), before);
});

test('D16: --resume with a config whose model differs from the checkpoint is refused (CHECKPOINT naming the field)', () => {
  const { dir, cfg } = setup('tr-d16-');
  ok(runCli(['train', '--config', cfg]));
  const other = join(dir, 'dim32.json');
  writeFileSync(other, readFileSync(cfg, 'utf8').replace('"dim":16', '"dim":32'));
  const r = runCli(['train', '--config', other, '--resume', '--max-steps', '6']);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /error \[CHECKPOINT\]: .*checkpoint\.bin: the checkpoint does not match the training config .*dim 16 vs 32/);
  assert.match(r.stderr, /hint: resume with the config the run was started with/);
  assert.equal(loadCheckpoint(join(dir, 'run', 'checkpoint.bin')).header.step, 4, 'nothing trained');
});

test('D16: resume-time overrides are applied and logged (--lr, --threads), or refused (--seed, --seq-len); --max-steps at or below the checkpoint says nothing to do', () => {
  const { dir, cfg } = setup('tr-d16o-');
  const run = join(dir, 'run');
  ok(runCli(['train', '--config', cfg]));
  const seed = runCli(['train', '--config', cfg, '--resume', '--max-steps', '6', '--seed', '9']);
  assert.equal(seed.status, 1);
  assert.match(seed.stderr, /TRAIN_CONFIG.*seed cannot change when resuming \(the checkpoint has 3, you gave 9\)/);
  const seq = runCli(['train', '-o', run, '--resume', '--max-steps', '6', '--seq-len', '4']);
  assert.match(seq.stderr, /TRAIN_CONFIG.*seqLen cannot change when resuming/);
  const before = md5(join(run, 'log.jsonl'));
  const none = runCli(['train', '-o', run, '--resume', '--max-steps', '3']);
  ok(none);
  assert.match(none.stderr, /nothing to do: .*checkpoint\.bin is already at step 4, and this run stops at step 3/);
  assert.doesNotMatch(none.stderr, /NaN|tok\/s/);
  assert.equal(md5(join(run, 'log.jsonl')), before, 'the log is untouched');
  const lr = runCli(['train', '-o', run, '--resume', '--max-steps', '6', '--lr', '0.01', '-t', '1']);
  ok(lr);
  assert.match(lr.stderr, /resume: lr changed from 0.003 to 0.01/);
  const marker = records(join(run, 'log.jsonl')).find((x) => x.type === 'resume');
  assert.deepEqual(marker?.overrides, { maxSteps: { from: 4, to: 6 }, lr: { from: 0.003, to: 0.01 } });
  assert.equal(loadCheckpoint(join(run, 'checkpoint.bin')).header.trainConfig.lr, 0.01);
  const trainLrs = records(join(run, 'log.jsonl')).filter((x) => x.type === 'train' && (x.step as number) > 4).map((x) => x.lr as number);
  // the schedule of the resumed steps is the new peak's (cosine over the new max-steps)
  const sched = { peakLr: 0.01, warmupSteps: 1, decaySteps: 6, minLrRatio: 0.1 };
  assert.deepEqual(trainLrs, [learningRate(4, sched), learningRate(5, sched)]);
});

test('D2: a fresh run into a folder holding a run is refused unless --resume or --overwrite', () => {
  const { dir, cfg } = setup('tr-d2-');
  const run = join(dir, 'run');
  ok(runCli(['train', '--config', cfg]));
  const before = snapshot(run);
  const r = runCli(['train', '--config', cfg, '--max-steps', '2']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /error \[TRAIN_OUTDIR\]: .*run: the folder already holds a training run \(checkpoint\.bin, log\.jsonl\)/);
  assert.match(r.stderr, /--resume.*--overwrite/);
  assert.deepEqual(snapshot(run), before, 'nothing replaced');
  ok(runCli(['train', '--config', cfg, '--max-steps', '2', '--overwrite']));
  const log = records(join(run, 'log.jsonl'));
  assert.equal(log.filter((x) => x.type === 'start').length, 1, 'one run in the log');
  assert.equal(loadCheckpoint(join(run, 'checkpoint.bin')).header.step, 2);
  assert.equal(runCli(['train', '--config', cfg, '--resume', '--overwrite']).status, 2);
});

test('D2: a second trainer on the same folder fails at once (train.lock holds a live pid); a stale lock from a dead pid is taken over', () => {
  const { dir, cfg } = setup('tr-lock-');
  const run = join(dir, 'run');
  ok(runCli(['train', '--config', cfg, '--max-steps', '1']));
  assert.equal(existsSync(join(run, 'train.lock')), false, 'the lock is released');
  // this test process is alive: a lock naming it belongs to a running trainer
  writeFileSync(join(run, 'train.lock'), `${process.pid}\n`);
  const busy = runCli(['train', '--config', cfg, '--resume', '--max-steps', '2']);
  assert.equal(busy.status, 1);
  assert.match(busy.stderr, new RegExp(`TRAIN_OUTDIR.*another llama train \\(pid ${process.pid}\\) is writing to this folder`));
  assert.equal(loadCheckpoint(join(run, 'checkpoint.bin')).header.step, 1);
  // a process that has exited: its lock is stale
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  writeFileSync(join(run, 'train.lock'), `${dead.stdout}\n`);
  ok(runCli(['train', '--config', cfg, '--resume', '--max-steps', '2']));
  assert.equal(loadCheckpoint(join(run, 'checkpoint.bin')).header.step, 2);
  assert.equal(existsSync(join(run, 'train.lock')), false);
});

test('D9: a damaged checkpoint is refused with CHECKPOINT_CORRUPT by --resume and by export; an old checkpoint without a checksum loads with a warning', () => {
  const { dir, cfg } = setup('tr-d9-');
  assert.ok('CHECKPOINT_CORRUPT' in ERROR_CODES);
  ok(runCli(['train', '--config', cfg]));
  const ckpt = join(dir, 'run', 'checkpoint.bin');
  const good = readFileSync(ckpt);
  const bad = Buffer.from(good);
  bad.fill(0xff, bad.length - 200, bad.length - 136); // 64 bytes inside the Adam moments
  writeFileSync(ckpt, bad);
  assert.throws(() => loadCheckpoint(ckpt), (e: unknown) => e instanceof LlamaError && e.code === 'CHECKPOINT_CORRUPT' && e.message.includes(ckpt));
  const r = runCli(['train', '--config', cfg, '--resume', '--max-steps', '6']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /error \[CHECKPOINT_CORRUPT\]: .*checkpoint\.bin: the checkpoint is damaged/);
  assert.doesNotMatch(r.stderr, /resuming/);
  const exp = runCli(['export', ckpt, '-o', join(dir, 'x.gguf')]);
  assert.equal(exp.status, 1);
  assert.match(exp.stderr, /CHECKPOINT_CORRUPT/);
  assert.equal(existsSync(join(dir, 'x.gguf')), false);
  // a version-1 file (no CRC field): the same bytes without the 4 at offset 12
  const v1 = Buffer.concat([good.subarray(0, 12), good.subarray(16)]);
  v1.writeUInt32LE(1, 4);
  writeFileSync(ckpt, v1);
  const old = loadCheckpoint(ckpt);
  assert.equal(old.unverified, true);
  assert.equal(old.header.step, 4);
  const res = runCli(['train', '--config', cfg, '--resume', '--max-steps', '5']);
  ok(res);
  assert.match(res.stderr, /warning: .*checkpoint\.bin has no checksum/);
  assert.equal(loadCheckpoint(ckpt).unverified, false, 'rewritten with a checksum');
});

test('D9: a loss that becomes NaN/Inf (--lr 1e6) is TRAIN_DIVERGED with a learning-rate hint, not INTERNAL', () => {
  const { cfg } = setup('tr-div-');
  const r = runCli(['train', '--config', cfg, '--lr', '1e6', '--max-steps', '12']);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /error \[TRAIN_DIVERGED\]: training diverged: the loss became (NaN|Infinity|-Infinity) at step \d+/);
  assert.match(r.stderr, /hint: lower the learning rate \(--lr/);
  assert.doesNotMatch(r.stderr, /INTERNAL|this is a bug/);
});

test('D18: unknown keys in the training config are TRAIN_CONFIG errors naming the key and the nearest valid one', () => {
  const { dir, cfg } = setup('tr-d18-');
  const text = readFileSync(cfg, 'utf8');
  writeFileSync(cfg, text.replace('"seed":3', '"seed":3,"typo_field":1'));
  const a = runCli(['train', '--config', cfg]);
  assert.equal(a.status, 1);
  assert.match(a.stderr, /error \[TRAIN_CONFIG\]: .*train\.json: unknown config field "typo_field"/);
  assert.match(a.stderr, /hint: .*the fields of the config are: seed, model, /);
  writeFileSync(cfg, text.replace('"nLayers":1', '"nLayer":1,"nLayers":1'));
  const b = runCli(['train', '--config', cfg]);
  assert.match(b.stderr, /unknown config field "model\.nLayer"/);
  assert.match(b.stderr, /did you mean "model\.nLayers"\?/);
  assert.throws(() => loadTrainConfig(cfg), (e: unknown) => e instanceof LlamaError && e.code === 'TRAIN_CONFIG');
  assert.equal(existsSync(join(dir, 'run')), false, 'refused before anything is written');
});

test('D17: after a crash past the last checkpoint, --resume truncates the log to the checkpoint step and adds a resume marker; plot draws one curve', () => {
  const { dir, cfg } = setup('tr-d17-', { maxSteps: 6, keepCheckpoints: true });
  const run = join(dir, 'run');
  ok(runCli(['train', '--config', cfg]));
  // the state a kill -9 after step 6 leaves when the last checkpoint is step 4
  cpSync(join(run, 'checkpoint-4.bin'), join(run, 'checkpoint.bin'));
  writeFileSync(join(run, 'log.jsonl'), readFileSync(join(run, 'log.jsonl'), 'utf8').replace(/\{"type":"end".*\n$/, '{"type":"train","step":7,"lo'));
  ok(runCli(['train', '--config', cfg, '--resume', '--max-steps', '6']));
  const log = records(join(run, 'log.jsonl'));
  const steps = log.filter((x) => x.type === 'train').map((x) => x.step);
  assert.deepEqual(steps, [1, 2, 3, 4, 5, 6], 'one record per step');
  const vals = log.filter((x) => x.type === 'val').map((x) => x.step);
  assert.deepEqual(vals, [2, 4, 6]);
  const markers = log.filter((x) => x.type === 'resume');
  assert.equal(markers.length, 1);
  assert.equal(markers[0]!.step, 4);
  assert.ok((markers[0]!.droppedRecords as number) >= 3);
  const svg = runCli(['plot', join(run, 'log.jsonl')]);
  ok(svg);
  const path = /<path d="([^"]+)"/.exec(svg.stdout)![1]!;
  assert.equal(path.split(/[ML]/).filter(Boolean).length, 6);
});

test('plot: a resume marker supersedes the points an interrupted run logged after the checkpoint (logs written before truncation)', () => {
  const lines = [
    ...[1, 2, 3, 4, 5].map((s) => ({ type: 'train', step: s, loss: 5 - s / 10, lr: 1e-3 })),
    { type: 'val', step: 4, source: 's', loss: 9 },
    { type: 'resume', step: 3 },
    ...[4, 5, 6].map((s) => ({ type: 'train', step: s, loss: 1 + s / 100, lr: 1e-3 })),
    { type: 'val', step: 6, source: 's', loss: 2 },
  ];
  const log = parseLog(lines.map((l) => JSON.stringify(l)).join('\n'), 'log.jsonl');
  assert.deepEqual(log.train.map((p) => p[0]), [1, 2, 3, 4, 5, 6]);
  assert.equal(log.train[3]![1], 1.04, 'step 4 is the resumed run\'s');
  assert.deepEqual(log.val.get('s'), [[6, 2]], 'the superseded validation at step 4 is gone');
});

test('D5: an output folder that cannot be created is FILE_WRITE naming the path, before data preparation, with no stack', () => {
  const { dir, cfg } = setup('tr-d5-');
  const under = join(dir, 'train.json', 'run');
  const r = runCli(['train', '--config', cfg, '-o', under]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, new RegExp(`error \\[FILE_WRITE\\]: ${under.replace(/[/\\.]/g, '\\$&')}: cannot create the training output folder: ENOTDIR`));
  assert.match(r.stderr, /hint: check that the folder exists and is writable/);
  assert.doesNotMatch(r.stderr, /preparing|INTERNAL|    at /);
  assert.equal(existsSync(join(dir, 'data')), false, 'no data prepared');
  // the data folder too (config field data.dir)
  writeFileSync(cfg, readFileSync(cfg, 'utf8').replace('"dir":"data"', '"dir":"corpus.txt/data"'));
  const d = runCli(['train', '--config', cfg]);
  assert.match(d.stderr, /error \[FILE_WRITE\]: .*corpus\.txt\/data: cannot create the data folder/);
  assert.doesNotMatch(d.stderr, /INTERNAL/);
});

test('D22: in train, -c is a USAGE error pointing to --config, -t is --threads, --max-steps 0 is a flag error', () => {
  const { dir, cfg } = setup('tr-d22-');
  const c = runCli(['train', '-c', cfg]);
  assert.equal(c.status, 2);
  assert.match(c.stderr, /error \[USAGE\]: -c is not a flag of llama train.*\n.*hint: give the training config with --config/);
  const zero = runCli(['train', '--config', cfg, '--max-steps', '0']);
  assert.equal(zero.status, 2);
  assert.match(zero.stderr, /error \[USAGE\]: --max-steps must be >= 1, got 0/);
  assert.doesNotMatch(zero.stderr, /train\.json/);
  const t = runCli(['train', '--config', cfg, '-t', '2', '--max-steps', '1']);
  ok(t);
  assert.equal(loadCheckpoint(join(dir, 'run', 'checkpoint.bin')).header.trainConfig.threads, 2);
});

test('D22: --stop-after 0 prints no NaN loss; a summary whose validation predates the last step labels it with its step', () => {
  const { dir, cfg } = setup('tr-d22s-');
  const z = runCli(['train', '--config', cfg, '-o', join(dir, 'z'), '--stop-after', '0']);
  ok(z);
  assert.doesNotMatch(z.stderr + z.stdout, /NaN/);
  assert.match(z.stderr, /stopped at step 0: no training step run/);
  const s = runCli(['train', '--config', cfg, '-o', join(dir, 's'), '--stop-after', '3']);
  ok(s);
  assert.match(s.stderr, /at step 3: train loss [\d.]+, last validation \(step 2\) c [\d.]+/);
  assert.equal((JSON.parse(s.stdout) as { valStep: number }).valStep, 2);
});

test('D23 and one atomic write: docs list the native training kernels; training files are written through writeFileAtomic only', () => {
  const doc = readFileSync(join(REPO_ROOT, 'docs', 'training.md'), 'utf8');
  assert.doesNotMatch(doc, /not written yet/);
  assert.match(doc, /NativeTrainingBackend/);
  for (const f of ['src/train/data.ts', 'src/train/checkpoint.ts', 'src/train/trainer.ts', 'src/cli/commands/plot.ts', 'src/cli/commands/train-tokenizer.ts']) {
    const src = readFileSync(join(REPO_ROOT, f), 'utf8');
    assert.doesNotMatch(src, /renameSync|writeAtomic\(/, `${f} writes through writeFileAtomic`);
  }
});
