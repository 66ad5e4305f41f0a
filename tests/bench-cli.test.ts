// `llama bench` end to end on a tiny real GGUF (no timed assertions: only the shape of the output).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from './helpers/cli.js';
import { needsShared, sharedData } from './helpers/shared.js';
import { nativeUnavailableReason } from '../src/backend/native/index.js';
import { randomMatrixBytes } from '../src/bench/synthetic.js';
import { dequantize } from '../src/tensor/quant.js';
import { DType } from '../src/tensor/dtype.js';

const MODEL = ['golden', 'llama2-gqa-tiny', 'model-f32.gguf'];

test('llama bench --json: one object per test with the fields issue 4 lists', needsShared(...MODEL), () => {
  const r = runCli(['bench', '-m', sharedData(...MODEL), '-p', '8', '-n', '4', '-t', '1,2', '-r', '2', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Record<string, unknown>[];
  assert.deepEqual(out.map((o) => `${o.test}/${o.threads}`), ['pp8/1', 'tg4/1', 'pp8/2', 'tg4/2'].map((s) => (nativeUnavailableReason() ? s.replace('/2', '/1') : s)));
  for (const o of out) {
    for (const k of ['test', 'threads', 'tokens_per_second', 'min', 'max', 'repetitions', 'gbs', 'limit_gbs', 'percent_of_limit', 'gflops', 'backend', 'model', 'type']) assert.ok(k in o, `missing ${k}`);
    assert.equal(o.repetitions, 2);
    assert.equal(o.model, 'model-f32.gguf');
    assert.equal(o.type, 'F32');
    const tps = o.tokens_per_second as number;
    assert.ok(tps > 0 && (o.min as number) <= tps && tps <= (o.max as number));
    if (String(o.test).startsWith('tg')) {
      assert.ok((o.gbs as number) > 0);
      if (!nativeUnavailableReason()) assert.ok((o.limit_gbs as number) > 0 && (o.percent_of_limit as number) > 0);
    } else {
      assert.ok((o.gflops as number) > 0);
    }
  }
});

test('llama bench: usage errors exit 2', () => {
  assert.equal(runCli(['bench']).status, 2);
  assert.equal(runCli(['bench', '--synthetic', '13b']).status, 2);
  assert.equal(runCli(['bench', '--synthetic', '110m', '--type', 'q5_k']).status, 2);
  assert.equal(runCli(['bench', '--synthetic', '110m', '-t', '0']).status, 2);
  assert.equal(runCli(['bench', '--synthetic', '110m', '--kv-type', 'q8_0']).status, 2);
});

test('llama bench --kv-type f16 runs decode over a binary16 KV cache', needsShared(...MODEL), () => {
  const r = runCli(['bench', '-m', sharedData(...MODEL), '-p', '0', '-n', '4', '-t', '1', '-r', '1', '--kv-type', 'f16', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { test: string; tokens_per_second: number }[];
  assert.deepEqual(out.map((o) => o.test), ['tg4']);
  assert.ok(out[0]!.tokens_per_second > 0);
});

test('synthetic weights: sane magnitudes (std ~ 1/sqrt(cols)), finite, no subnormals', () => {
  for (const type of [DType.F32, DType.F16, DType.Q8_0, DType.Q4_0, DType.Q4_K, DType.Q6_K]) {
    const rows = 8, cols = 1024;
    const v = dequantize(type, randomMatrixBytes(type, rows, cols), rows * cols);
    let ss = 0;
    for (const x of v) {
      assert.ok(Number.isFinite(x));
      assert.ok(x === 0 || Math.abs(x) > 1e-30);
      ss += x * x;
    }
    const std = Math.sqrt(ss / v.length);
    assert.ok(std > 0.3 / Math.sqrt(cols) && std < 3 / Math.sqrt(cols), `${DType[type]} std ${std}`);
  }
});

const QK = ['golden', 'quant', 'tiny-Q4_K_M.gguf'];
test('llama bench -m on a llama.cpp-quantized file (Q4_K/Q6_K mix)', needsShared(...QK), () => {
  const r = runCli(['bench', '-m', sharedData(...QK), '-p', '4', '-n', '2', '-t', '1', '-r', '1', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { test: string; type: string; tokens_per_second: number }[];
  assert.equal(out.length, 2);
  assert.ok(['Q4_K', 'Q6_K'].includes(out[0]!.type), out[0]!.type);
  assert.ok(out.every((o) => o.tokens_per_second > 0));
});

test('runBench afterRepetition: called once after each timed repetition, pp then tg, per thread count', needsShared(...MODEL), async () => {
  const { runBench } = await import('../src/bench/llama-bench.js');
  const { loadModel } = await import('../src/model/load.js');
  const calls: string[] = [];
  const out = await runBench(
    { loaded: await loadModel(sharedData(...MODEL)) },
    { prompt: 4, gen: 2, threads: [1], reps: 2, backend: 'auto', modelName: 'm', log: () => {}, afterRepetition: (test, t, rep) => void calls.push(`${test}/${t}/${rep}`) },
  );
  assert.deepEqual(calls, ['pp/1/0', 'pp/1/1', 'tg/1/0', 'tg/1/1']);
  assert.equal(out.length, 2);
});

test('synthetic q4_k_m: Q4_K with Q6_K for the output and attn_v / ffn_down in the "more bits" layers, as llama-quantize', async () => {
  const { writeSyntheticGguf, SYNTHETIC_MIXES } = await import('../src/bench/synthetic.js');
  const { openGguf } = await import('../src/formats/gguf.js');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'synth-mix-'));
  try {
    // the smallest shape is 110m (~86 MB as Q4_K_M): written once, only its directory is read back
    const path = join(dir, 'm.gguf');
    writeSyntheticGguf(path, '110m', SYNTHETIC_MIXES.q4_k_m!);
    const g = openGguf(path);
    const typeOf = (name: string) => g.tensors.find((t) => t.name === name)!.type;
    assert.equal(typeOf('output.weight'), DType.Q6_K);
    assert.equal(typeOf('token_embd.weight'), DType.Q4_K);
    assert.equal(typeOf('blk.0.attn_v.weight'), DType.Q6_K); // first eighth of 12 layers: layer 0
    assert.equal(typeOf('blk.1.attn_v.weight'), DType.Q4_K);
    assert.equal(typeOf('blk.0.ffn_down.weight'), DType.Q6_K);
    assert.equal(typeOf('blk.5.attn_q.weight'), DType.Q4_K);
    assert.equal(typeOf('blk.0.attn_norm.weight'), DType.F32);
    assert.equal(g.tensors.filter((t) => t.type === DType.Q6_K).length, 13);
    g.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('hugePageShare: on Linux the anonymous memory and its huge-page part (0 <= huge <= anon), elsewhere undefined', async () => {
  const { hugePageShare } = await import('../src/bench/llama-bench.js');
  const hp = hugePageShare();
  if (process.platform !== 'linux') return assert.equal(hp, undefined);
  assert.ok(hp, 'smaps_rollup is readable on Linux');
  assert.ok(hp.anon > 0 && hp.huge >= 0 && hp.huge <= hp.anon, JSON.stringify(hp));
});

test('llama bench: prompt GFLOP/s count the output layer once per prompt (only the last token\'s logits are computed)', needsShared(...MODEL), async () => {
  const { loadModel } = await import('../src/model/load.js');
  const { modelCost, promptFlopsPerToken } = await import('../src/bench/llama-bench.js');
  const loaded = await loadModel(sharedData(...MODEL));
  const cost = modelCost(loaded);
  const { vocabSize, dim } = loaded.config;
  assert.equal(cost.outputParams, vocabSize * dim);
  assert.ok(cost.matmulParams > cost.outputParams);
  assert.equal(promptFlopsPerToken({ matmulParams: 100, outputParams: 20 }, 4), 2 * (80 + 5));
  const r = runCli(['bench', '-m', sharedData(...MODEL), '-p', '8', '-n', '0', '-t', '1', '-r', '1', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const [pp] = JSON.parse(r.stdout) as { test: string; tokens_per_second: number; gflops: number }[];
  assert.equal(pp!.test, 'pp8');
  const want = (promptFlopsPerToken(cost, 8) * pp!.tokens_per_second) / 1e9;
  assert.ok(Math.abs(pp!.gflops - want) <= 1e-9 * want, `${pp!.gflops} vs ${want}`);
  assert.ok(pp!.gflops < (2 * cost.matmulParams * pp!.tokens_per_second) / 1e9, 'less than counting the output layer for every token');
});
