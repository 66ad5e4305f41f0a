// The in-browser demo in real Chromium (playwright-core + Debian's chromium, as the chat page test):
// the page served by `llama serve` at /browser/ runs the default model in the tab (browser bundle,
// wasm backend in a Web Worker) and its greedy text and token ids equal Node's for the same
// prompt, computed here through the public API. Cross-origin isolated (COOP/COEP): at 1 thread and
// at 2 threads with Web Workers that did run matmul shares. Without isolation: one thread, same text.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { openModel } from '../src/api/index.js';
import { browserDemoFile, sendFileRange } from '../src/server/browser-demo.js';
import { serverModel } from '../src/server/serve-model.js';
import { startServer, type RunningServer } from '../src/server/server.js';
import { DEFAULT_MODEL } from './helpers/server.js';
import { CHROMIUM, playwright } from './helpers/chromium.js';

const BUNDLE = fileURLToPath(new URL('../../dist/browser/llama.js', import.meta.url));
const skip = !CHROMIUM
  ? 'chromium is not installed (apt-get install chromium; .ci/run installs it)'
  : !playwright
    ? 'playwright-core is not installed (npm install)'
    : !existsSync(BUNDLE)
      ? 'the browser bundle is not built (npm run build: it needs the esbuild dev dependency)'
      : false;

const PROMPT = 'Once upon a time';
const N = 32;

interface PageRun {
  text: string;
  tokens: number[];
  stats: { generatedTokens: number; generatedTokensPerSec: number; promptTokensPerSec: number };
  backend: { backend: string; threads: number; variant: string; workerJobs: number };
}
interface PageInfo {
  backend: string;
  threads: number;
  variant: string;
  crossOriginIsolated: boolean;
}

let node: { text: string; tokens: number[] };
let srv: RunningServer;
let engine: Awaited<ReturnType<typeof openModel>>;
let browser: import('playwright-core').Browser;

before(async () => {
  if (skip) return;
  // Node's greedy answer, through the public API (the wasm backend in Node gives the same text: see
  // wasm-models.test.ts; js is the reference)
  engine = await openModel(DEFAULT_MODEL, { backend: 'js' });
  const gen = engine.complete(PROMPT, { maxTokens: N, temperature: 0 });
  let text = '';
  const tokens: number[] = [];
  for await (const t of gen) {
    text += t.text;
    if (t.token >= 0) tokens.push(t.token);
  }
  node = { text, tokens };
  srv = await startServer(serverModel(engine, { id: 'default' }), { port: 0, ctxSize: 256 });
  browser = await playwright!.chromium.launch({ executablePath: CHROMIUM!, args: ['--no-sandbox', '--disable-gpu'] });
});
after(async () => {
  if (skip) return;
  await browser?.close();
  await srv?.close(true);
  await engine?.dispose();
});

async function runIn(url: string, threads: number, minParallelWork?: number): Promise<{ info: PageInfo; run: PageRun; isolated: boolean; errors: string[] }> {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  try {
    await page.goto(url);
    const isolated = await page.evaluate(() => (globalThis as unknown as { crossOriginIsolated?: boolean }).crossOriginIsolated === true);
    const info = (await page.evaluate((t) => (globalThis as unknown as { llamaDemo: { load(o: object): Promise<PageInfo> } }).llamaDemo.load({ threads: t.threads, backend: 'wasm', ...(t.mpw !== undefined ? { minParallelWork: t.mpw } : {}) }), { threads, mpw: minParallelWork })) as PageInfo;
    const run = (await page.evaluate(
      ({ prompt, n }) => (globalThis as unknown as { llamaDemo: { run(o: object): Promise<PageRun> } }).llamaDemo.run({ prompt, max: n }),
      { prompt: PROMPT, n: N },
    )) as PageRun;
    // the page shows the streamed text after the prompt, and the speed
    assert.equal(await page.$eval('#output', (e) => e.textContent), PROMPT + node.text);
    assert.match((await page.$eval('#stats', (e) => e.textContent)) ?? '', /generated \d+ tokens at [\d.]+ tok\/s/);
    return { info, run, isolated, errors };
  } finally {
    await page.close();
  }
}

test('llama serve /browser/: greedy text in Chromium = Node, at 1 thread and at 2 threads over Web Workers (cross-origin isolated)', { skip, timeout: 180_000 }, async () => {
  const one = await runIn(`${srv.url}/browser`, 1);
  assert.equal(one.isolated, true, 'COOP/COEP make the page cross-origin isolated');
  assert.deepEqual(one.errors, []);
  assert.equal(one.info.backend, 'wasm');
  assert.equal(one.info.threads, 1);
  assert.equal(one.run.text, node.text);
  assert.deepEqual(one.run.tokens, node.tokens);
  assert.equal(one.run.stats.generatedTokens, N);

  // every matmul split (the default model's are all below the default threshold, which keeps them on one thread)
  const two = await runIn(`${srv.url}/browser/`, 2, 0);
  assert.deepEqual(two.errors, []);
  assert.equal(two.info.threads, 2);
  assert.equal(two.info.variant, 'mt', 'the shared-memory build');
  assert.ok(two.run.backend.workerJobs > 0, 'matmul shares ran in the kernel Web Workers');
  assert.equal(two.run.text, node.text);
  assert.deepEqual(two.run.tokens, node.tokens);
});

test('the same page served without COOP/COEP runs one thread (the single-threaded build) with the same text', { skip, timeout: 120_000 }, async () => {
  const plain = createServer((req, res) => {
    const name = new URL(req.url ?? '/', 'http://x').pathname.replace(/^\/browser\//, '');
    const file = browserDemoFile(name === '' ? 'index.html' : name, DEFAULT_MODEL);
    if (!file || !existsSync(file)) return void res.writeHead(404).end();
    sendFileRange(req, res, file); // no isolation headers
  });
  await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
  try {
    const r = await runIn(`http://127.0.0.1:${(plain.address() as AddressInfo).port}/browser/`, 2);
    assert.equal(r.isolated, false);
    assert.deepEqual(r.errors, []);
    assert.equal(r.info.crossOriginIsolated, false);
    assert.equal(r.info.threads, 1, 'asked for 2, got 1: no SharedArrayBuffer without isolation');
    assert.equal(r.info.variant, 'st');
    assert.equal(r.run.text, node.text);
  } finally {
    plain.close();
  }
});
