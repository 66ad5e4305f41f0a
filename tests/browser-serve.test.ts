// What `llama serve` serves for the in-browser demo (no browser needed): /browser redirects to
// /browser/, every file carries COOP/COEP (so the page may use threads), the bundle's wasm is
// application/wasm, the model honours Range requests, and --no-webui (webPage: false) turns it off.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startTestServer, DEFAULT_MODEL } from './helpers/server.js';

const srv = await startTestServer();
const off = await startTestServer({ webPage: false });
after(async () => {
  await srv.close(true);
  await off.close(true);
});
const BUNDLE_BUILT = existsSync(fileURLToPath(new URL('../../dist/browser/llama.js', import.meta.url)));

function isolated(r: Response): void {
  assert.equal(r.headers.get('cross-origin-opener-policy'), 'same-origin');
  assert.equal(r.headers.get('cross-origin-embedder-policy'), 'require-corp');
}

test('/browser/ serves the demo page, its worker, the bundle and the model with COOP/COEP; /browser redirects', async () => {
  const redirect = await fetch(`${srv.url}/browser`, { redirect: 'manual' });
  assert.equal(redirect.status, 301);
  assert.equal(redirect.headers.get('location'), '/browser/');
  const page = await fetch(`${srv.url}/browser/`);
  assert.equal(page.status, 200);
  isolated(page);
  assert.match(page.headers.get('content-type') ?? '', /text\/html/);
  assert.match(await page.text(), /browser-worker\.js/);
  const worker = await fetch(`${srv.url}/browser/browser-worker.js`);
  isolated(worker);
  assert.match(worker.headers.get('content-type') ?? '', /javascript/);
  assert.match(await worker.text(), /from '\.\/llama\.js'/);
  if (BUNDLE_BUILT) {
    for (const f of ['llama.js', 'llama-kernel-worker.js', 'kernels.wasm', 'kernels-mt.wasm']) {
      const r = await fetch(`${srv.url}/browser/${f}`);
      assert.equal(r.status, 200, f);
      isolated(r);
      await r.arrayBuffer();
    }
    assert.equal((await fetch(`${srv.url}/browser/kernels.wasm`)).headers.get('content-type'), 'application/wasm');
  }
  assert.equal((await fetch(`${srv.url}/browser/nothing-here.js`)).status, 404);
  assert.equal((await fetch(`${srv.url}/browser/`, { method: 'POST', body: '{}' })).status, 405);
});

test('/browser/model.gguf is the served GGUF, read with Range requests (206 + Content-Range; 416 past the end)', async () => {
  const bytes = readFileSync(DEFAULT_MODEL);
  const r = await fetch(`${srv.url}/browser/model.gguf`, { headers: { Range: 'bytes=4-11' } });
  assert.equal(r.status, 206);
  isolated(r);
  assert.equal(r.headers.get('content-range'), `bytes 4-11/${bytes.byteLength}`);
  assert.deepEqual(new Uint8Array(await r.arrayBuffer()), new Uint8Array(bytes.subarray(4, 12)));
  const tail = await fetch(`${srv.url}/browser/model.gguf`, { headers: { Range: 'bytes=-5' } });
  assert.deepEqual(new Uint8Array(await tail.arrayBuffer()), new Uint8Array(bytes.subarray(bytes.byteLength - 5)));
  const past = await fetch(`${srv.url}/browser/model.gguf`, { headers: { Range: `bytes=${bytes.byteLength}-` } });
  assert.equal(past.status, 416);
  assert.equal(past.headers.get('content-range'), `bytes */${bytes.byteLength}`);
  const whole = await fetch(`${srv.url}/browser/model.gguf`);
  assert.equal(whole.status, 200);
  assert.equal(whole.headers.get('accept-ranges'), 'bytes');
  assert.equal((await whole.arrayBuffer()).byteLength, bytes.byteLength);
});

test('without the web UI (--no-webui) there is no /browser/ either', async () => {
  assert.equal((await fetch(`${off.url}/browser/`)).status, 404);
  assert.equal((await fetch(`${off.url}/browser/model.gguf`)).status, 404);
});
