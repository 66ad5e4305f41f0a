// Models opened from what a browser has instead of paths (an ArrayBuffer, a Blob / File, a URL read
// with HTTP Range requests), tested in Node, where the same code runs: the greedy text equals the
// one from the path, the URL is read in ranges (header first), and every failure is a typed
// LlamaError (a server without Range support, 404, a truncated file, a file that is not GGUF).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { openModel, type Model } from '../src/api/index.js';
import { LlamaError } from '../src/errors.js';
import { sendFileRange } from '../src/server/browser-demo.js';
import { DEFAULT_MODEL } from './helpers/server.js';
import { tempDir } from './helpers/tmp.js';

const PROMPT = 'Once upon a time';

async function greedy(m: Model, n = 20): Promise<string> {
  let s = '';
  for await (const t of m.complete(PROMPT, { maxTokens: n, temperature: 0 })) s += t.text;
  return s;
}

async function greedyOf(source: Parameters<typeof openModel>[0], backend = 'js'): Promise<string> {
  const m = await openModel(source, { backend });
  try {
    return await greedy(m);
  } finally {
    await m.dispose();
  }
}

async function rejectsWith(p: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof LlamaError, `expected a LlamaError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (message) assert.match(e.message, message);
    return true;
  });
}

// A file server: `/range/NAME` honours Range (sendFileRange, what `llama serve` uses for the page),
// `/norange/NAME` always answers 200 with the whole file, as servers without Range support do.
const dir = tempDir('llama-sources-');
const requests: { path: string; range: string | undefined }[] = [];
const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  const url = new URL(req.url ?? '/', 'http://x');
  requests.push({ path: url.pathname, range: req.headers.range });
  const [, kind, name] = url.pathname.split('/');
  const file = join(dir, name ?? '');
  try {
    if (kind === 'range') return sendFileRange(req, res, file);
    if (kind === 'norange') {
      const body = readFileSync(file);
      res.writeHead(200, { 'content-length': String(body.byteLength) }).end(body);
      return;
    }
  } catch {
    // fall through to 404
  }
  res.writeHead(404).end();
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
after(() => server.close());

const bytes = readFileSync(DEFAULT_MODEL);
writeFileSync(join(dir, 'model.gguf'), bytes);
writeFileSync(join(dir, 'truncated.gguf'), bytes.subarray(0, bytes.byteLength - 1000));
writeFileSync(join(dir, 'header-only.gguf'), bytes.subarray(0, 200));
writeFileSync(join(dir, 'notes.txt'), 'not a model at all, just some text that is long enough');
const fromPath = await greedyOf(DEFAULT_MODEL);

/** The code openModel(path) fails with for a file of `dir`: a source must fail the same way. */
async function pathCode(name: string): Promise<string> {
  try {
    await openModel(join(dir, name), { backend: 'js' });
  } catch (e) {
    assert.ok(e instanceof LlamaError);
    return e.code;
  }
  throw new Error(`${name} opened`);
}

test('openModel(ArrayBuffer / typed array / Blob) = openModel(path): same greedy text, js and wasm backends', async () => {
  assert.ok(fromPath.length > 20, 'the default model writes text');
  const copy = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  assert.equal(await greedyOf(copy), fromPath);
  assert.equal(await greedyOf(new Uint8Array(copy)), fromPath);
  assert.equal(await greedyOf(new Blob([bytes])), fromPath);
  assert.equal(await greedyOf(new Blob([bytes]), 'wasm'), fromPath);
  // a File names itself in messages and in model.path
  const m = await openModel(new File([bytes], 'story.gguf'), { backend: 'js' });
  try {
    assert.equal(m.path, 'story.gguf');
    assert.equal(m.format, 'gguf');
  } finally {
    await m.dispose();
  }
});

test('openModel(URL) reads the file with Range requests (header first) and equals openModel(path); progress is reported', async () => {
  requests.length = 0;
  const seen: [number, number][] = [];
  const m = await openModel(new URL(`${base}/range/model.gguf`), { backend: 'js', onProgress: (a, b) => seen.push([a, b]) });
  try {
    assert.equal(await greedy(m), fromPath);
    assert.equal(m.path, `${base}/range/model.gguf`);
  } finally {
    await m.dispose();
  }
  assert.ok(requests.length >= 2, `a header read then the rest, got ${requests.length} request(s)`);
  assert.ok(requests.every((r) => r.range !== undefined && /^bytes=\d+-\d+$/.test(r.range)), JSON.stringify(requests));
  assert.equal(requests[0]!.range, 'bytes=0-65535');
  assert.deepEqual(seen.at(-1), [bytes.byteLength, bytes.byteLength]);
  assert.ok(seen.every(([a], i) => i === 0 || a >= seen[i - 1]![0]), 'progress only grows');
  // an http(s) URL given as a string is a URL, not a path
  assert.equal(await greedyOf(`${base}/range/model.gguf`), fromPath);
});

test('URL errors are typed: no Range support = FILE_READ, 404 = FILE_NOT_FOUND, truncated = the path loader\'s FORMAT_ code, not GGUF = FORMAT_UNSUPPORTED', async () => {
  const truncated = await pathCode('truncated.gguf');
  const headerOnly = await pathCode('header-only.gguf');
  assert.match(truncated, /^FORMAT_/);
  assert.match(headerOnly, /^FORMAT_/);
  await rejectsWith(openModel(new URL(`${base}/norange/model.gguf`), { backend: 'js' }), 'FILE_READ', /Range/);
  await rejectsWith(openModel(new URL(`${base}/range/missing.gguf`), { backend: 'js' }), 'FILE_NOT_FOUND');
  await rejectsWith(openModel(new URL(`${base}/range/truncated.gguf`), { backend: 'js' }), truncated, /ends past the end of the file/);
  await rejectsWith(openModel(new URL(`${base}/range/header-only.gguf`), { backend: 'js' }), headerOnly);
  await rejectsWith(openModel(new URL(`${base}/range/notes.txt`), { backend: 'js' }), 'FORMAT_UNSUPPORTED', /only GGUF/);
  // nobody listens here
  await rejectsWith(openModel(new URL('http://127.0.0.1:9/model.gguf'), { backend: 'js' }), 'FILE_READ');
});

test('bytes and Blob errors are typed: truncated = the path loader\'s code, naming the source; not GGUF = FORMAT_UNSUPPORTED; path-only options are USAGE', async () => {
  const cut = bytes.subarray(0, bytes.byteLength - 1000);
  const truncated = await pathCode('truncated.gguf');
  await rejectsWith(openModel(cut.slice(), { backend: 'js' }), truncated, /<ArrayBuffer>.*ends past the end of the file/);
  await rejectsWith(openModel(new File([cut], 'cut.gguf'), { backend: 'js' }), truncated, /cut\.gguf/);
  await rejectsWith(openModel(new Blob([bytes.subarray(0, 200)]), { backend: 'js' }), await pathCode('header-only.gguf'));
  await rejectsWith(openModel(new TextEncoder().encode('{"not": "a model"}'), { backend: 'js' }), 'FORMAT_UNSUPPORTED');
  await rejectsWith(openModel(new Blob([bytes]), { backend: 'js', tokenizer: 'tokenizer.model' }), 'USAGE');
  await rejectsWith(openModel(new Blob([bytes]), { backend: 'js', lora: 'adapter.gguf' }), 'USAGE');
});
