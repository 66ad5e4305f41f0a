// CLI hardening (issue 13): every error is `error [CODE]` + a hint and no stack, with nothing on
// stdout; a closed stdout pipe ends quietly; escapes; strict UTF-8 input; prompt sources; help,
// --version; tokenize/detokenize defaults; packaging.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';
import { HAVE_SHARED, REPO_ROOT, sharedData } from './helpers/shared.js';

const DEFAULT_MODEL = join(REPO_ROOT, 'models/default/model.gguf');
const hasDefault = { skip: existsSync(DEFAULT_MODEL) ? false : `${DEFAULT_MODEL} is absent` };
const S260 = sharedData('models', 'stories260K');
const has260 = { skip: HAVE_SHARED && existsSync(join(S260, 'stories260K.bin')) ? false : 'stories260K is absent' };
const LLAMA = join(REPO_ROOT, 'bin/llama.js');

/** Runs the CLI with `stdin` being the given file (a redirect, as `llama run < file` does). */
function runWithStdinFile(args: string[], file: string) {
  const fd = openSync(file, 'r');
  try {
    const r = spawnSync(process.execPath, [LLAMA, ...args], { stdio: [fd, 'pipe', 'pipe'], encoding: 'utf8', timeout: 120_000 });
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  } finally {
    closeSync(fd);
  }
}

function assertCleanError(args: string[], r: { status: number; stdout: string; stderr: string }, code: string, status: number) {
  const what = `llama ${args.join(' ')}\n${r.stderr}`;
  assert.equal(r.status, status, what);
  assert.match(r.stderr, new RegExp(`^error \\[${code}\\]: \\S`, 'm'), what);
  assert.match(r.stderr, /\n {2}hint: \S/, what);
  assert.doesNotMatch(r.stderr, /\n\s+at \S|node:internal|INTERNAL/, what);
  assert.equal(r.stdout, '', `${what}: stdout must stay empty`);
}

test('every bad invocation: error [CODE], a hint, no stack trace, exit 1 or 2, nothing on stdout', hasDefault, () => {
  const dir = tempDir('llama-cli-');
  const bad = join(dir, 'latin1.txt');
  writeFileSync(bad, Buffer.from([0x61, 0x62, 0xe9, 0x74, 0xe9]));
  const long = join(dir, 'long.txt');
  writeFileSync(long, 'Once upon a time there was a cat. '.repeat(40));
  const cases: [string[], string, number][] = [
    [['run', '-f', join(dir, 'nope.txt')], 'FILE_NOT_FOUND', 1],
    [['run', '-f', dir], 'FILE_READ', 1],
    [['run', '-f', bad], 'INPUT_ENCODING', 1],
    [['run', '-f', long, '-n', '4', '--ctx-size', '64'], 'CONTEXT_OVERFLOW', 1],
    [['run', '-p', 'hi', '-n', '4', '--top-p', '-0.1'], 'USAGE', 2],
    [['run', '-p', 'hi', '-n', '4', '--top-p', '2'], 'USAGE', 2],
    [['run', '-p', 'hi', '-n', '4', '--min-p', '1.5'], 'USAGE', 2],
    [['run', '-p', 'hi', '-n', '4', '--repeat-penalty', '0'], 'USAGE', 2],
    [['run', '-p', 'hi', '-n', '4', '--repeat-penalty', '-1'], 'USAGE', 2],
    [['run', '-p', 'hi', '-n', '4', '--temp', '-1'], 'USAGE', 2],
    [['run', '-p', 'hi', '-n', '4', '--repeat-last-n', '-5'], 'USAGE', 2],
    [['run', '-p', 'hi', '-n', '4', '--seed', '1e30'], 'USAGE', 2],
    [['run', '-p', 'hi', '-n', '4', '--ctx-size', '0'], 'USAGE', 2],
    [['run', '-p', 'a', '-p', 'b'], 'USAGE', 2],
    [['run', '-p', '\\xff'], 'USAGE', 2],
    [['run', '--temp'], 'USAGE', 2],
    [['run', '-m', join(dir, 'nope.gguf'), '-p', 'hi'], 'MODEL_NOT_FOUND', 1],
    [['bench', '-m', join(dir, 'nope.gguf')], 'MODEL_NOT_FOUND', 1],
    [['detokenize'], 'USAGE', 2],
    [['detokenize', '99999'], 'TOKEN_ID', 1],
    [['logits', '--ids', '1,99999'], 'USAGE', 2],
    [['run', '--kv-type', 'q8', '-p', 'hi'], 'USAGE', 2],
    [['tokenize', '-m', join(dir, 'nope.model'), 'hi'], 'FILE_NOT_FOUND', 1],
    [['frobnicate'], 'USAGE', 2],
  ];
  if (HAVE_SHARED && existsSync(sharedData('golden', 'llama1-tiny'))) {
    // a tokenizer that does not match the model: found before the prompt is echoed
    cases.push([['run', '-m', sharedData('golden', 'llama1-tiny', 'model.safetensors'), '--tokenizer', sharedData('tokenizer', 'llama2', 'tokenizer.model'), '-p', 'hi', '-n', '2'], 'TOKENIZER_MISMATCH', 1]);
  }
  for (const [args, code, status] of cases) assertCleanError(args, runCli(args, { input: '' }), code, status);
  // invalid UTF-8 on stdin names the byte offset
  const r = runCli(['tokenize', '--stdin'], { input: Buffer.from([0x61, 0x62, 0xff, 0xfe, 0xc3, 0x28]) });
  assertCleanError(['tokenize', '--stdin'], r, 'INPUT_ENCODING', 1);
  assert.match(r.stderr, /offset 2/);
  assert.match(runCli(['run', '-f', bad]).stderr, /offset 2 \(e9 74 e9\)/);
});

test('stdout closed early (| head): logits, tokenize and run exit 0 quietly, no EPIPE stack', hasDefault, async () => {
  const ids = Array.from({ length: 100 }, (_, i) => i + 1).join(',');
  const big = 'hello world\n'.repeat(100_000);
  for (const [args, input] of [[['logits', '--ids', ids, '--all', '--json'], undefined], [['tokenize', '--stdin'], big], [['run', '-p', 'Once', '-n', '200', '--temp', '0', '--ignore-eos'], undefined]] as [string[], string | undefined][]) {
    const child = spawn(process.execPath, [LLAMA, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.once('data', () => child.stdout.destroy());
    child.stdin.on('error', () => {});
    child.stdin.end(input ?? '');
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 0, `llama ${args[0]}: ${err}`);
    assert.doesNotMatch(err, /EPIPE|Unhandled|\n\s+at /, `llama ${args[0]}`);
  }
});

test('escapes: --stop "\\n" stops at a newline, -p "a\\nb" has one, --no-escape keeps them literal; run --help documents it', has260, () => {
  const base = ['run', '-m', join(S260, 'stories260K.bin'), '-p', 'Once upon a time', '--temp', '0', '-n', '200', '--backend', 'js'];
  const r = runCli([...base, '--stop', '\\n']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /stop: stop/);
  assert.equal(r.stdout.split('\n').length, 2, 'only the final newline');
  const literal = runCli([...base, '--stop', '\\n', '--no-escape']);
  assert.match(literal.stderr, /stop: (length|eos)/);
  const echo = runCli(['run', '-m', join(S260, 'stories260K.bin'), '-p', 'a\\tb\\nc\\x41\\\\', '-n', '1', '--temp', '0', '--backend', 'js']);
  assert.ok(echo.stdout.startsWith('a\tb\ncA\\'), JSON.stringify(echo.stdout));
  const help = runCli(['run', '--help']).stdout;
  assert.match(help, /--escape/);
  assert.match(help, /--no-escape/);
  assert.match(help, /\\xHH/);
});

test('prompt sources: -f - and a redirected stdin are used; stats say "1 token"; default -n cut by the context says "context" like -n -1', hasDefault, () => {
  const dir = tempDir('llama-cli-');
  const p = join(dir, 'prompt.txt');
  writeFileSync(p, 'Once upon a time');
  const base = ['-n', '3', '--temp', '0'];
  const fromFile = runCli(['run', '-f', p, ...base]);
  assert.equal(fromFile.status, 0, fromFile.stderr);
  assert.ok(fromFile.stdout.startsWith('Once upon a time'));
  const dash = runCli(['run', '-f', '-', ...base], { input: 'Once upon a time' });
  assert.equal(dash.stdout, fromFile.stdout);
  const piped = runWithStdinFile(['run', ...base], p);
  assert.equal(piped.status, 0, piped.stderr);
  assert.equal(piped.stdout, fromFile.stdout);
  assert.match(piped.stderr, /reading the prompt from standard input/);
  const one = runCli(['run', '-p', '', '-n', '1', '--temp', '0']);
  assert.match(one.stderr, /prompt: 1 token, .*generated: 1 token,/);
  const def = runCli(['run', '-p', 'Once upon a time', '--temp', '0', '--ctx-size', '16', '--ignore-eos']);
  const unl = runCli(['run', '-p', 'Once upon a time', '--temp', '0', '--ctx-size', '16', '--ignore-eos', '-n', '-1']);
  assert.match(def.stderr, /stop: context/);
  assert.match(unl.stderr, /stop: context/);
  assert.equal(def.stdout, unl.stdout);
});

test('--version / -v / version print the package version; llama help run = run --help; the top help describes each command', () => {
  const version = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  for (const a of ['--version', '-v', 'version']) {
    const r = runCli([a]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `llama-ts ${version}\n`);
  }
  const help = runCli(['help', 'run']);
  assert.equal(help.status, 0);
  assert.equal(help.stdout, runCli(['run', '--help']).stdout);
  assert.match(help.stdout, /^llama run: /);
  const top = runCli(['--help']).stdout;
  for (const c of ['bench', 'convert', 'detokenize', 'export', 'inspect', 'logits', 'plot', 'run', 'tokenize', 'train-tokenizer', 'train', 'version']) {
    assert.match(top, new RegExp(`^  ${c} +\\S.{8,}$`, 'm'), `${c} has a description`);
  }
});

test('tokenize/detokenize use the embedded model without -m; --special "<s>hi" gives one BOS and a warning', hasDefault, () => {
  const withM = runCli(['tokenize', '-m', DEFAULT_MODEL, 'hi']);
  const without = runCli(['tokenize', 'hi']);
  assert.equal(without.status, 0, without.stderr);
  assert.equal(without.stdout, withM.stdout);
  const ids = without.stdout.trim().split(' ');
  const d = runCli(['detokenize', ...ids]);
  assert.equal(d.status, 0, d.stderr);
  assert.equal(d.stdout, 'hi\n');
  const sp = runCli(['tokenize', '--special', '<s>hi</s>']);
  assert.equal(sp.status, 0, sp.stderr);
  const spIds = sp.stdout.trim().split(' ');
  assert.equal(spIds[0], ids[0], 'starts with BOS');
  assert.notEqual(spIds[1], ids[0], 'and only one');
  assert.match(sp.stderr, /already starts with BOS/);
});

test('train-tokenizer prints the output path on stdout (results, including written paths, go to stdout)', () => {
  const dir = tempDir('llama-cli-');
  mkdirSync(join(dir, 'c'));
  writeFileSync(join(dir, 'c', 'a.txt'), 'the cat sat on the mat\nthe dog sat on the log\n'.repeat(20));
  const out = join(dir, 'tok.model');
  const r = runCli(['train-tokenizer', '-q', '-o', out, '--vocab-size', '300', join(dir, 'c')]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `${out}\n`);
});

test('npm pack holds bin, compiled sources, native sources, the default model and README only', () => {
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /gitignore-fallback/);
  const files = (JSON.parse(r.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
  for (const must of ['bin/llama.js', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/cli/main.js', 'binding.gyp', 'scripts/build-native.js', 'src/backend/native/c/addon.c', 'src/server/public/index.html', 'src/backend/wasm/kernels.wasm', 'package.json', 'README.md']) {
    assert.ok(files.includes(must), `${must} is in the package`);
  }
  if (existsSync(DEFAULT_MODEL)) assert.ok(files.includes('models/default/model.gguf'));
  if (existsSync(join(REPO_ROOT, 'models/default-chat/model.gguf'))) assert.ok(files.includes('models/default-chat/model.gguf'), 'the chat model ships too (npx llama chat)');
  const stray = files.filter((f) => /^(tests|dist\/tests|bench|dist\/bench|docs)\/|\.map$|tsbuildinfo|train-log|\.ts$/.test(f) && !f.endsWith('.d.ts'));
  assert.deepEqual(stray, []);
});

test('a tokenizer smaller than the model: a warning up front, and no id it cannot spell is sampled (no TOKEN_ID mid-output)', { skip: hasDefault.skip || has260.skip }, () => {
  const r = runCli(['run', '--tokenizer', join(S260, 'tok512.bin'), '-p', 'Once upon a time', '-n', '10', '--temp', '0']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /warning: the tokenizer has 512 tokens and the model \d+/);
  assert.match(r.stderr, /generated: 10 tokens/);
});

test('a model with NaN weights: MODEL_NUMERIC with a hint that the weights may be corrupt, greedy or sampled (not "⁇" text, not TOKEN_ID undefined)', hasDefault, async () => {
  const { openGguf } = await import('../src/formats/gguf.js');
  const dir = tempDir('llama-nan-');
  const path = join(dir, 'nan.gguf');
  const bytes = readFileSync(DEFAULT_MODEL);
  const g = openGguf(DEFAULT_MODEL);
  const emb = g.tensors.find((t) => t.name === 'token_embd.weight')!;
  const once = Number(runCli(['tokenize', '--no-bos', 'Once']).stdout.trim().split(' ')[0]);
  const rowBytes = emb.nBytes / emb.shape[0]!;
  bytes.fill(0xff, emb.fileOffset + once * rowBytes, emb.fileOffset + (once + 1) * rowBytes); // 0xFFFF is NaN in F16 and F32
  writeFileSync(path, bytes);
  for (const temp of ['0', '0.8']) {
    const r = runCli(['run', '-m', path, '-p', 'Once upon a time', '-n', '4', '--temp', temp, '--seed', '1']);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /error \[MODEL_NUMERIC\]: the model produced NaN logits/);
    assert.match(r.stderr, /hint: .*corrupt/);
    assert.doesNotMatch(r.stdout, /⁇/);
  }
});
