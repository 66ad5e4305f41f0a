// `llama chat`: through pipes (one turn per line, replies only on stdout) and in a real terminal
// (tmux: streaming, multi-line input, Ctrl-C stopping a reply, Ctrl-C twice leaving).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './helpers/shared.js';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';
import { openModel } from '../src/api/index.js';
import { TurnAssembler, parseCommand, messageText } from '../src/cli/chat-input.js';

const DEFAULT_MODEL = join(REPO_ROOT, 'models/default/model.gguf');
const opt = { skip: existsSync(DEFAULT_MODEL) ? false : `${DEFAULT_MODEL} is absent` };
// `llama chat` without -m talks to the shipped chat model (models/default-chat), when there is one
const CHAT_DEFAULT = existsSync(join(REPO_ROOT, 'models/default-chat/model.gguf')) ? join(REPO_ROOT, 'models/default-chat/model.gguf') : DEFAULT_MODEL;
const JS = ['--backend', 'js'];

test('chat input: backslash continuation, """ blocks, commands and // escapes', () => {
  const a = new TurnAssembler();
  assert.equal(a.push('one \\'), undefined);
  assert.ok(a.pending);
  assert.equal(a.push('two'), 'one \ntwo');
  assert.equal(a.push('"""'), undefined);
  assert.equal(a.push('a'), undefined);
  assert.equal(a.push('  b'), undefined);
  assert.equal(a.push('"""'), 'a\n  b');
  assert.equal(a.pending, false);
  assert.equal(a.push('plain'), 'plain');
  a.push('half \\');
  assert.equal(a.flush(), 'half ');
  assert.deepEqual(parseCommand('/system Be brief.'), { kind: 'system', text: 'Be brief.' });
  assert.deepEqual(parseCommand('/save'), { kind: 'missing', name: 'save' });
  assert.deepEqual(parseCommand('/load x.json'), { kind: 'load', file: 'x.json' });
  assert.deepEqual(parseCommand('/nope'), { kind: 'unknown', name: 'nope' });
  assert.equal(parseCommand('//not a command'), undefined);
  assert.equal(messageText('//not a command'), '/not a command');
  assert.equal(parseCommand('hello /reset'), undefined);
});

test('chat (piped): one reply per input line on stdout, nothing else; the same replies as the API', opt, async () => {
  const r = runCli(['chat', ...JS, '--temp', '0', '-n', '12'], { input: 'Hello there\nTell me a story about a cat\n\nWhat is your name?' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /seed \d+/);
  assert.equal((r.stderr.match(/^\[\d+ tokens?, .*tok\/s.*\]$/gm) ?? []).length, 3, 'a statistics line per reply, on stderr');
  // the API gives the same conversation
  const m = await openModel(CHAT_DEFAULT, { backend: 'js' });
  const chat = m.createChat({ defaults: { temperature: 0, maxTokens: 12 } });
  const want: string[] = [];
  for (const q of ['Hello there', 'Tell me a story about a cat', 'What is your name?']) want.push((await chat.send(q).text()).trim());
  // three turns (the empty line is skipped): each reply, then a newline, and nothing else
  assert.equal(r.stdout, want.map((x) => x + '\n').join(''));
  await m.dispose();
});

test('chat (piped): slash commands (/system, /save, /load, /reset, unknown) talk on stderr only; """ blocks are one turn', opt, () => {
  const dir = tempDir('llama-chat-');
  const file = join(dir, 'conv.json');
  const input = ['/system You are a cat.', 'Hello', `/save ${file}`, '/reset', `/load ${file}`, '/frobnicate', '"""', 'first line', 'second line', '"""', '/exit', 'never sent'].join('\n') + '\n';
  const r = runCli(['chat', ...JS, '--temp', '0', '-n', '6'], { input });
  assert.equal(r.status, 0, r.stderr);
  assert.equal((r.stderr.match(/^\[\d+ tokens?, /gm) ?? []).length, 2, `two replies: ${r.stderr}`);
  assert.ok(r.stdout.endsWith('\n'));
  assert.doesNotMatch(r.stdout, /system prompt|saved|loaded|unknown command/, 'command messages stay off stdout');
  assert.match(r.stderr, /system prompt set/);
  assert.match(r.stderr, /saved 3 messages/);
  assert.match(r.stderr, /loaded 3 messages/);
  assert.match(r.stderr, /unknown command \/frobnicate/);
  const saved = JSON.parse(readFileSync(file, 'utf8')) as { messages: { role: string; content: string }[] };
  assert.deepEqual(saved.messages.map((x) => x.role), ['system', 'user', 'assistant']);
  assert.equal(saved.messages[0]!.content, 'You are a cat.');
});

test('chat (piped): --json-schema constrains the replies; bad flags are usage errors before the model loads', opt, () => {
  const dir = tempDir('llama-chat-');
  const schema = join(dir, 'schema.json');
  writeFileSync(schema, JSON.stringify({ type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'], additionalProperties: false }));
  const r = runCli(['chat', ...JS, '--temp', '0', '-n', '24', '--json-schema', schema], { input: 'Are you ok?\n' });
  assert.equal(r.status, 0, r.stderr);
  // a reply is printed on one line only when it is complete; this model may pad JSON with whitespace
  assert.match(r.stdout.replace(/\s+/g, ''), /^\{"ok":(true|false)\}?$/, r.stdout);
  const gbnf = join(dir, 'yn.gbnf');
  writeFileSync(gbnf, 'root ::= "yes" | "no"\n');
  const yn = runCli(['chat', ...JS, '--temp', '0', '--grammar', gbnf], { input: 'Is it?\n' });
  assert.equal(yn.status, 0, yn.stderr);
  assert.match(yn.stdout, /^(yes|no)\n$/);
  for (const [args, re] of [
    [['--chat-template', 'nope'], /unknown chat template/],
    [['-n', '-2'], /-n/],
    [['--temp', '-1'], /--temp/],
    [['--grammar', gbnf, '--json-schema', schema], /not both/],
    [['--json-schema', join(dir, 'missing.json')], /missing\.json/],
    [['extra'], /unexpected argument/],
  ] as const) {
    const e = runCli(['chat', ...JS, ...args], { input: 'hi\n' });
    assert.notEqual(e.status, 0, args.join(' '));
    assert.equal(e.stdout, '', `${args.join(' ')}: nothing on stdout`);
    assert.match(e.stderr, re, args.join(' '));
  }
});

// ---- a real terminal ----

const haveTmux = spawnSync('tmux', ['-V']).status === 0;
const ttyOpt = { skip: !haveTmux ? 'tmux is not installed' : opt.skip };

function tmux(...args: string[]): string {
  const r = spawnSync('tmux', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function waitFor(session: string, what: RegExp, timeoutMs = 20_000): Promise<string> {
  const until = Date.now() + timeoutMs;
  let pane = '';
  while (Date.now() < until) {
    pane = tmux('capture-pane', '-p', '-J', '-S', '-200', '-t', session);
    if (what.test(pane)) return pane;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the terminal never showed ${what}; it shows:\n${pane}`);
}

test('chat (terminal, tmux): streaming replies, continuation lines, Ctrl-C stops a reply, Ctrl-C twice leaves', ttyOpt, async () => {
  const session = `llama-chat-test-${process.pid}`;
  const cmd = `node ${join(REPO_ROOT, 'bin/llama.js')} chat --backend js --temp 0 -n 4000 --ignore-eos --chat-template chatml; echo "EXITED $?"; sleep 60`;
  tmux('new-session', '-d', '-s', session, '-x', '120', '-y', '40', cmd);
  try {
    await waitFor(session, /^> $/m);
    // a short exchange: /help, then a message continued over two lines
    tmux('send-keys', '-t', session, '/help', 'Enter');
    await waitFor(session, /\/save FILE/);
    // a long reply (4000 tokens, no end): Ctrl-C stops it and the prompt comes back
    tmux('send-keys', '-t', session, 'Tell me a story \\', 'Enter');
    await waitFor(session, /^\. $/m);
    tmux('send-keys', '-t', session, 'about a dog', 'Enter');
    await waitFor(session, /\. about a dog\n.+/);
    const started = Date.now();
    tmux('send-keys', '-t', session, 'C-c');
    const pane = await waitFor(session, /stopped\]\n> $/m);
    assert.ok(Date.now() - started < 5000);
    assert.match(pane, /\[\d+ tokens?, [\d.]+ tok\/s/);
    // Ctrl-C at the prompt: a hint; the second one leaves with status 0
    tmux('send-keys', '-t', session, 'C-c');
    await waitFor(session, /press Ctrl-C again/);
    tmux('send-keys', '-t', session, 'C-c');
    await waitFor(session, /EXITED 0/);
  } finally {
    spawnSync('tmux', ['kill-session', '-t', session]);
  }
});

test('llama run: prints the seed it used (a repeat with it gives the same text), --special, --grammar, -i is chat', opt, () => {
  const first = runCli(['run', ...JS, '-p', 'Once upon a time', '-n', '8', '--temp', '1']);
  assert.equal(first.status, 0, first.stderr);
  const seed = /seed: (\d+)/.exec(first.stderr)?.[1];
  assert.ok(seed !== undefined, first.stderr);
  const again = runCli(['run', ...JS, '-p', 'Once upon a time', '-n', '8', '--temp', '1', '--seed', seed]);
  assert.equal(again.stdout, first.stdout);
  // --special: "<s>" in the prompt is the BOS token, not text
  const ids = (special: boolean) => {
    const r = runCli(['run', ...JS, '-p', '<s>', '-n', '1', '--temp', '0', '--no-echo', ...(special ? ['--special'] : [])]);
    assert.equal(r.status, 0, r.stderr);
    return Number(/prompt: (\d+) token/.exec(r.stderr)?.[1]);
  };
  assert.equal(ids(true), 2, 'BOS + the <s> spelled in the prompt');
  assert.ok(ids(false) > 2, '<s> as plain text is several tokens');
  const dir = tempDir('llama-run-');
  const gbnf = join(dir, 'digits.gbnf');
  writeFileSync(gbnf, 'root ::= [0-9] [0-9] [0-9]\n');
  const g = runCli(['run', ...JS, '-p', 'The number is', '--no-echo', '--grammar', gbnf, '--temp', '0.9', '-n', '10']);
  assert.equal(g.status, 0, g.stderr);
  assert.match(g.stdout, /^\d{3}\n$/);
  const chat = runCli(['run', '-i', ...JS, '--temp', '0', '-n', '6'], { input: 'Hello\n' });
  assert.equal(chat.status, 0, chat.stderr);
  assert.equal((chat.stderr.match(/^\[\d+ tokens?, /gm) ?? []).length, 1, chat.stderr);
  assert.ok(chat.stdout.endsWith('\n'));
  const bad = runCli(['run', '-i', ...JS, '-p', 'x'], { input: 'Hello\n' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /-i starts a chat/);
});

test('chat --lora FILE[:SCALE]: an adapter at scale 0 changes nothing; a missing adapter is an error with nothing on stdout', opt, async () => {
  const { writeLoraGguf } = await import('../src/model/lora-io.js');
  const m = await openModel(CHAT_DEFAULT, { backend: 'js' });
  const c = m.config;
  await m.dispose();
  const q = c.nHeads * c.headDim;
  const rank = 2;
  const path = join(tempDir('llama-chat-lora-'), 'adapter.gguf');
  writeLoraGguf(path, { source: 'test', alpha: rank, pairs: [{ layer: 0, key: 'wq', rank, rows: q, cols: c.dim, a: new Float32Array(rank * c.dim).fill(0.01), b: new Float32Array(q * rank).fill(0.01) }] });
  const plain = runCli(['chat', ...JS, '--temp', '0', '-n', '8'], { input: 'Hello\n' });
  const zero = runCli(['chat', ...JS, '--temp', '0', '-n', '8', '--lora', `${path}:0`], { input: 'Hello\n' });
  assert.equal(zero.status, 0, zero.stderr);
  assert.equal(zero.stdout, plain.stdout);
  const on = runCli(['chat', ...JS, '--temp', '0', '-n', '8', '--lora', path], { input: 'Hello\n' });
  assert.equal(on.status, 0, on.stderr);
  const missing = runCli(['chat', ...JS, '--lora', join(REPO_ROOT, 'no-such-adapter.gguf')], { input: 'Hello\n' });
  assert.notEqual(missing.status, 0);
  assert.equal(missing.stdout, '');
  assert.match(missing.stderr, /no-such-adapter/);
});

test('chat (terminal, tmux) with stdout redirected to a file: the file holds only the replies', ttyOpt, async () => {
  const session = `llama-chat-redirect-${process.pid}`;
  const out = join(tempDir('llama-chat-tty-'), 'replies.txt');
  const cmd = `node ${join(REPO_ROOT, 'bin/llama.js')} chat --backend js --temp 0 -n 6 > ${out}; echo "EXITED $?"; sleep 60`;
  tmux('new-session', '-d', '-s', session, '-x', '120', '-y', '40', cmd);
  try {
    await waitFor(session, /^> $/m);
    tmux('send-keys', '-t', session, 'Hello there', 'Enter');
    await waitFor(session, /tok\/s.*\]\n> $/m);
    tmux('send-keys', '-t', session, 'C-d');
    await waitFor(session, /EXITED 0/);
    const m = await openModel(CHAT_DEFAULT, { backend: 'js' });
    const want = await m.createChat({ defaults: { temperature: 0, maxTokens: 6 } }).send('Hello there').text();
    await m.dispose();
    assert.equal(readFileSync(out, 'utf8'), want + '\n');
  } finally {
    spawnSync('tmux', ['kill-session', '-t', session]);
  }
});
