// `llama serve` as a process: prints its URL on stdout, answers, and on SIGTERM lets a running
// request finish and exits 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './helpers/shared.js';
import { runCli } from './helpers/cli.js';

function startServe(args: string[]): Promise<{ url: string; exit: Promise<{ code: number | null; stderr: string }>; kill(sig: NodeJS.Signals): void }> {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/llama.js'), 'serve', '--port', '0', '--backend', 'js', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exit = new Promise<{ code: number | null; stderr: string }>((resolve) => child.on('exit', (code) => resolve({ code, stderr })));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /^(http:\/\/\S+)\n/.exec(out);
      if (m) resolve({ url: m[1]!, exit, kill: (s) => child.kill(s) });
    });
    void exit.then((e) => reject(new Error(`serve exited ${e.code}: ${e.stderr}`)));
    setTimeout(() => reject(new Error('serve did not start')), 60_000).unref();
  });
}

test('llama serve: URL on stdout, a chat request works, SIGTERM finishes the running stream and exits 0', async () => {
  const s = await startServe(['--parallel', '2']);
  const r = await fetch(`${s.url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ messages: [{ role: 'user', content: 'Hi' }], max_tokens: 3, temperature: 0 }) });
  assert.equal(r.status, 200);
  const j = (await r.json()) as { choices: { message: { content: string } }[] };
  assert.equal(typeof j.choices[0]!.message.content, 'string');
  // a stream in flight when SIGTERM arrives still ends with [DONE]
  const res = await fetch(`${s.url}/v1/completions`, { method: 'POST', body: JSON.stringify({ prompt: 'Once upon a time', max_tokens: 40, temperature: 0, stream: true }) });
  const reader = res.body!.getReader();
  await reader.read();
  s.kill('SIGTERM');
  let text = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += Buffer.from(value).toString();
  }
  assert.match(text, /data: \[DONE\]/);
  const e = await s.exit;
  assert.equal(e.code, 0, e.stderr);
  assert.match(e.stderr, /shutting down/);
});

test('llama serve: bad flags are usage errors', () => {
  const r = runCli(['serve', '--parallel', '0']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--parallel/);
  assert.equal(r.stdout, '');
  const p = runCli(['serve', '--port', '70000']);
  assert.equal(p.status, 2);
});
