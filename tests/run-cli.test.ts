// `llama run` and `llama logits` as a user runs them (bin/llama.js in a child process).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { runCli } from './helpers/cli.js';
import { needsShared, REPO_ROOT, sharedData } from './helpers/shared.js';

const S260 = needsShared('models', 'stories260K', 'reference_outputs.json');
const model260 = () => sharedData('models', 'stories260K', 'stories260K.bin');
const tok260 = () => sharedData('models', 'stories260K', 'tok512.bin');

/** llama2.c run.c flags -> ours; its -n counts BOS + prompt positions, ours counts generated tokens. */
function ourArgs(argv: readonly string[], promptTokens: number): string[] {
  const opt = (k: string) => {
    const i = argv.indexOf(k);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const steps = Math.min(Number(opt('-n') ?? 256), 512); // run.c clamps steps to seq_len
  const args = ['run', '-m', model260(), '--tokenizer', tok260(), '-n', String(steps - promptTokens + 1), '--temp', opt('-t') ?? '1', '--top-k', '0', '--min-p', '0', '--top-p', opt('-p') ?? '0.9'];
  if (opt('-s') !== undefined) args.push('--seed', opt('-s')!);
  if (opt('-i') !== undefined) args.push('-p', opt('-i')!);
  return args;
}

for (const backend of ['js'] as const) test(`llama run --backend ${backend} reproduces every stories260K reference run of llama2.c character for character`, S260, async () => {
  const { loadTokenizer } = await import('../src/tokenizer/load.js');
  const tok = loadTokenizer(tok260());
  const refs = JSON.parse(readFileSync(sharedData('models', 'stories260K', 'reference_outputs.json'), 'utf8')) as { argv: string[]; stdout_without_final_newline: string }[];
  for (const r of refs) {
    const i = r.argv.indexOf('-i');
    const promptTokens = tok.encode(i >= 0 ? r.argv[i + 1]! : '').length;
    const res = runCli([...ourArgs(r.argv, promptTokens), '--backend', backend]);
    assert.equal(res.status, 0, res.stderr);
    assert.equal(res.stdout, r.stdout_without_final_newline + '\n', `llama2.c ${r.argv.join(' ')}`);
    // "1 token" in the singular (issue 13, D22)
    assert.match(res.stderr, new RegExp(`prompt: ${promptTokens} tokens?, [\\d.]+ tok/s \\| generated: \\d+ tokens?, [\\d.]+ tok/s \\| load: \\d+ ms`));
  }
});

test('llama run: --stop cuts the output before the stop string; --no-echo omits the prompt', S260, () => {
  const base = ['run', '-m', model260(), '--tokenizer', tok260(), '--temp', '0', '-p', 'Once upon a time', '-n', '30', '--backend', 'js'];
  const full = runCli(base);
  assert.equal(full.status, 0, full.stderr);
  assert.ok(full.stdout.startsWith('Once upon a time, there was a little girl named Lily.'));
  const cut = runCli([...base, '--stop', 'le gi']);
  assert.equal(cut.stdout, 'Once upon a time, there was a litt\n');
  assert.match(cut.stderr, /stop: stop/);
  const noEcho = runCli([...base, '--no-echo', '-n', '5', '--backend', 'auto']);
  assert.equal(noEcho.stdout, ', there was a little\n');
});

test('llama run: context overflow is a clear error naming --ctx-size', S260, () => {
  const r = runCli(['run', '-m', model260(), '--tokenizer', tok260(), '--ctx-size', '8', '-p', 'Once upon a time', '-n', '10']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /CONTEXT_OVERFLOW/);
  assert.match(r.stderr, /--ctx-size/);
});

test('llama run without -m and without an embedded model says how to pass one', { skip: existsSync(join(REPO_ROOT, 'models/default/model.gguf')) ? 'this package has an embedded default model' : false }, () => {
  const r = runCli(['run', '-p', 'hi']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /MODEL_NOT_FOUND/);
  assert.match(r.stderr, /-m PATH/);
});

interface Golden {
  prompt_ids: number[];
  prefill_logits: number[][];
}

for (const name of ['llama1-tiny', 'llama2-gqa-tiny']) {
  test(`llama logits on ${name}: every layout matches Meta's prefill logits`, needsShared('golden', name), () => {
    const g = JSON.parse(readFileSync(sharedData('golden', name, 'golden.json'), 'utf8')) as Golden;
    const dir = sharedData('golden', name);
    for (const m of [dir, join(dir, 'model.safetensors'), join(dir, 'model-f32.gguf')]) {
      const r = runCli(['logits', '-m', m, '--ids', g.prompt_ids.join(','), '--all', '--json', '--backend', 'js']);
      assert.equal(r.status, 0, r.stderr);
      const rows = (JSON.parse(r.stdout) as { logits: number[][] }).logits;
      assert.equal(rows.length, g.prompt_ids.length);
      for (let t = 0; t < rows.length; t++) {
        for (let i = 0; i < rows[t]!.length; i++) assert.ok(Math.abs(rows[t]![i]! - g.prefill_logits[t]![i]!) <= 1e-5, `${m} row ${t} col ${i}`);
      }
    }
    const last = runCli(['logits', '-m', join(dir, 'model-f32.gguf'), '--ids', g.prompt_ids.join(',')]);
    assert.equal(last.status, 0, last.stderr);
    const lines = last.stdout.trim().split('\n');
    assert.equal(lines.length, 1);
    const vals = lines[0]!.split(' ').map(Number);
    assert.equal(vals.length, g.prefill_logits[0]!.length);
    assert.ok(Math.abs(vals[7]! - g.prefill_logits[g.prompt_ids.length - 1]![7]!) <= 1e-5);
  });
}

test('llama run: -f reads the prompt file; the same seed gives the same text, another seed other text', S260, () => {
  const dir = mkdtempSync(join(tmpdir(), 'llama-run-'));
  try {
    const file = join(dir, 'prompt.txt');
    writeFileSync(file, 'Once upon a time');
    const base = ['run', '-m', model260(), '--tokenizer', tok260(), '-f', file, '-n', '40', '--temp', '1', '--backend', 'js'];
    const a = runCli([...base, '--seed', '7']);
    assert.equal(a.status, 0, a.stderr);
    assert.ok(a.stdout.startsWith('Once upon a time'));
    assert.equal(runCli([...base, '--seed', '7']).stdout, a.stdout);
    assert.notEqual(runCli([...base, '--seed', '8']).stdout, a.stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('llama logits / run: bad input is a usage error (exit 2)', S260, () => {
  assert.equal(runCli(['logits', '-m', model260(), '--ids', '1,x']).status, 2);
  assert.equal(runCli(['logits', '-m', model260()]).status, 2);
  assert.equal(runCli(['run', '-m', model260(), '-p', 'a', '-f', 'b']).status, 2);
  const oov = runCli(['logits', '-m', model260(), '--ids', '1,512', '--backend', 'js']);
  assert.equal(oov.status, 2);
  assert.match(oov.stderr, /outside the vocabulary/);
});

test('llama run without -m uses the embedded default model', { skip: existsSync(join(REPO_ROOT, 'models/default/model.gguf')) ? false : 'no embedded default model in this package yet' }, () => {
  const r = runCli(['run', '-p', 'Once upon a time', '-n', '60', '--temp', '0']);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(r.stdout.startsWith('Once upon a time'));
  assert.match(r.stderr, /generated: 60 tokens/);
  // A newcomer must see English: mostly dictionary-shaped words, and the commonest function words.
  const words = r.stdout.slice('Once upon a time'.length).toLowerCase().match(/[a-z']+|[^\sa-z']+/g) ?? [];
  const alphabetic = words.filter((w) => /^[a-z']+$/.test(w));
  assert.ok(alphabetic.length >= 25 && alphabetic.length / words.length > 0.7, r.stdout);
  const common = new Set(['the', 'a', 'was', 'and', 'to', 'she', 'he', 'her', 'his', 'they', 'said', 'there', 'with', 'of']);
  assert.ok(new Set(alphabetic.filter((w) => common.has(w))).size >= 4, r.stdout);
});

test('llama run: Ctrl-C (SIGINT) stops generation, still prints the summary, exits 130', S260, async () => {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/llama.js'), 'run', '-m', model260(), '--tokenizer', tok260(), '-n', '-1', '--ignore-eos', '--temp', '1', '--seed', '3', '--backend', 'js'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout.once('data', () => child.kill('SIGINT'));
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 130, err);
  assert.match(err, /stop: cancelled/);
  assert.ok(out.length > 0);
});
