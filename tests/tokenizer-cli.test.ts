// `llama tokenize` / `llama detokenize` as a user runs them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';
import { needsShared, REPO_ROOT, sharedData } from './helpers/shared.js';

const SPM = ['tokenizer', 'llama2', 'tokenizer.model'] as const;

test('tokenize: ids with BOS by default, --no-bos, --json, --eos', needsShared(...SPM), () => {
  const m = sharedData(...SPM);
  let r = runCli(['tokenize', '-m', m, 'Hello world']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '1 15043 3186\n');
  r = runCli(['tokenize', '-m', m, '--no-bos', 'Hello world']);
  assert.equal(r.stdout, '15043 3186\n');
  r = runCli(['tokenize', '-m', m, '--json', '--eos', 'Hello', 'world']);
  assert.deepEqual(JSON.parse(r.stdout), [1, 15043, 3186, 2]);
});

test('tokenize --stdin reads the text exactly (the trailing newline is tokenized)', needsShared(...SPM), () => {
  const m = sharedData(...SPM);
  const r = runCli(['tokenize', '-m', m, '--stdin', '--no-bos', '--json'], { input: 'Hello world\n' });
  assert.equal(r.status, 0, r.stderr);
  // '\n' is the byte piece <0x0A> (id 13)
  assert.deepEqual(JSON.parse(r.stdout), [15043, 3186, 13]);
});

test('tokenize --special turns <s> into BOS; without it <s> is text', needsShared(...SPM), () => {
  const m = sharedData(...SPM);
  const plain = JSON.parse(runCli(['tokenize', '-m', m, '--no-bos', '--json', '<s>']).stdout) as number[];
  assert.ok(!plain.includes(1));
  const special = JSON.parse(runCli(['tokenize', '-m', m, '--no-bos', '--json', '--special', '<s>']).stdout) as number[];
  assert.deepEqual(special, [1]);
});

test('tokenize works on every tokenizer file kind and on a model directory', needsShared('tokenizer'), () => {
  const files = ['tokenizer/llama2/tokenizer.bin', 'tokenizer/llama.cpp/ggml-vocab-llama-spm.gguf', 'models/stories260K/tok512.bin'];
  for (const f of files) {
    const r = runCli(['tokenize', '-m', sharedData(f), '--json', 'Once upon a time']);
    assert.equal(r.status, 0, `${f}: ${r.stderr}`);
    const ids = JSON.parse(r.stdout) as number[];
    assert.equal(ids[0], 1, f);
    const d = runCli(['detokenize', '-m', sharedData(f), ...ids.map(String)]);
    assert.equal(d.stdout, 'Once upon a time\n', f);
  }
  const l3 = runCli(['tokenize', '-m', sharedData('tokenizer/llama3/tokenizer.model'), 'This is a test sentence.']);
  assert.equal(l3.stdout, '128000 2028 374 264 1296 11914 13\n');
  // a directory with a tokenizer.model inside, and a model file with the tokenizer beside it
  const dir = tempDir('llama-tokdir-');
  copyFileSync(sharedData(...SPM), join(dir, 'tokenizer.model'));
  writeFileSync(join(dir, 'model.safetensors'), 'not really a model');
  assert.equal(runCli(['tokenize', '-m', dir, 'Hello world']).stdout, '1 15043 3186\n');
  assert.equal(runCli(['tokenize', '-m', join(dir, 'model.safetensors'), 'Hello world']).stdout, '1 15043 3186\n');
});

test('detokenize: ids as arguments, comma lists or JSON; --special renders control tokens', needsShared(...SPM), () => {
  const m = sharedData(...SPM);
  assert.equal(runCli(['detokenize', '-m', m, '1', '15043', '3186']).stdout, 'Hello world\n');
  assert.equal(runCli(['detokenize', '-m', m, '[1,15043,3186]']).stdout, 'Hello world\n');
  assert.equal(runCli(['detokenize', '-m', m, '--special', '1,15043,3186,2']).stdout, '<s>Hello world</s>\n');
  assert.equal(runCli(['detokenize', '-m', m, '--no-newline', '15043']).stdout, 'Hello');
});

test('tokenize/detokenize errors: usage (2) and typed errors (1)', needsShared(...SPM), () => {
  const m = sharedData(...SPM);
  // without -m: the embedded default model (as run/logits), or MODEL_NOT_FOUND when there is none (issue 13, D22)
  let r = runCli(['tokenize', 'Hello']);
  if (existsSync(join(REPO_ROOT, 'models/default/model.gguf'))) assert.equal(r.status, 0, r.stderr);
  else {
    assert.equal(r.status, 1);
    assert.match(r.stderr, /MODEL_NOT_FOUND/);
  }
  r = runCli(['tokenize', '-m', m]);
  assert.equal(r.status, 2);
  r = runCli(['detokenize', '-m', m, 'abc']);
  assert.equal(r.status, 2);
  r = runCli(['detokenize', '-m', m, '32000']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /TOKEN_ID/);
  r = runCli(['tokenize', '-m', '/nonexistent/tokenizer.model', 'x']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /FILE_NOT_FOUND/);
  const dir = tempDir('llama-tokdir-');
  r = runCli(['tokenize', '-m', dir, 'x']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /TOKENIZER_MISSING/);
  assert.equal(runCli(['tokenize', '--help']).status, 0);
  assert.equal(runCli(['detokenize', '--help']).status, 0);
  assert.equal(runCli(['train-tokenizer', '--help']).status, 0);
});

test('a llama2.c checkpoint finds the tok*.bin beside it', needsShared('models', 'stories260K'), () => {
  const r = runCli(['tokenize', '-m', sharedData('models/stories260K/stories260K.bin'), '--json', 'Once upon a time']);
  assert.equal(r.status, 0, r.stderr);
  const direct = runCli(['tokenize', '-m', sharedData('models/stories260K/tok512.bin'), '--json', 'Once upon a time']);
  assert.equal(r.stdout, direct.stdout);
});
