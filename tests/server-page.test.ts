// The web chat page in a real browser (playwright-core driving Debian's chromium): type a message,
// see the streamed reply equal the non-streamed API answer for the same seed, reload and still see
// the conversation, press Stop and see the server slot freed. Model text must never become HTML.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, DEFAULT_MODEL } from './helpers/server.js';
import { openModel } from '../src/api/index.js';
import { serverModel } from '../src/server/serve-model.js';
import { startServer, type ServerModel } from '../src/server/server.js';
import { CHROMIUM, playwright } from './helpers/chromium.js';

const skip = !CHROMIUM ? 'chromium is not installed (apt-get install chromium; .ci/run installs it)' : !playwright ? 'playwright-core is not installed (npm install)' : false;

test('the chat page: streamed reply = API answer for the same seed; survives a reload; Stop frees the slot', { skip, timeout: 120_000 }, async () => {
  // replies that never end early and take a few ms a token, so Stop always lands mid-reply
  const engine = await openModel(DEFAULT_MODEL, { backend: 'js' });
  const sm = serverModel(engine, { id: 'default' });
  const slow: ServerModel = {
    ...sm,
    chatEndIds: new Set<number>(),
    chatStop: [],
    forwardBatch: (items) => {
      const t = Date.now();
      while (Date.now() - t < 10);
      return sm.forwardBatch(items);
    },
  };
  const srv = await startServer(slow, { port: 0, ctxSize: 256, parallel: 2 });
  const browser = await playwright!.chromium.launch({ executablePath: CHROMIUM!, args: ['--no-sandbox', '--disable-gpu'] });
  after(async () => {
    await browser.close();
    await srv.close(true);
    await engine.dispose();
  });
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(srv.url + '/');
  await page.click('#settings summary');
  await page.fill('#temperature', '0.9');
  await page.dispatchEvent('#temperature', 'change');
  await page.fill('#seed', '7');
  await page.dispatchEvent('#seed', 'change');
  await page.fill('#max_tokens', '24');
  await page.dispatchEvent('#max_tokens', 'change');
  const question = 'Tell me about <b>dogs</b> & cats';
  await page.fill('#input', question);
  await page.press('#input', 'Enter');
  await page.waitForSelector('#regenerate', { timeout: 60_000 });
  const shown = await page.$$eval('.msg.assistant .body', (els) => els.map((e) => e.textContent));
  // the same request, non-streamed, straight to the API
  const props = (await (await fetch(`${srv.url}/props`)).json()) as { default_generation_settings: Record<string, number> };
  const d = props.default_generation_settings;
  const api = (await (
    await fetch(`${srv.url}/v1/chat/completions`, {
      method: 'POST',
      body: JSON.stringify({ messages: [{ role: 'user', content: question }], temperature: 0.9, top_p: d.top_p, top_k: d.top_k, min_p: d.min_p, max_tokens: 24, seed: 7 }),
    })
  ).json()) as { choices: { message: { content: string } }[] };
  assert.equal(shown.length, 1);
  assert.equal(shown[0], api.choices[0]!.message.content);
  // user text is text: no <b> element was created from it
  assert.equal(await page.$$eval('.msg.user b', (els) => els.length), 0);
  assert.equal(await page.$eval('.msg.user .body', (e) => e.textContent), question);
  assert.match((await page.$eval('.msg.assistant .meta', (e) => e.textContent)) ?? '', /tokens\/s/);
  await page.screenshot({ path: join(tmpdir(), 'llama-ts-chat-page.png') });

  await page.reload();
  await page.waitForSelector('.msg.assistant');
  assert.equal(await page.$eval('.msg.assistant .body', (e) => e.textContent), api.choices[0]!.message.content);
  assert.equal(await page.$$eval('#convs li', (els) => els.length), 1);

  // Stop: a long reply, stopped after it started streaming, frees the slot
  await page.click('#settings summary');
  await page.fill('#max_tokens', '150');
  await page.dispatchEvent('#max_tokens', 'change');
  await page.fill('#input', 'Write a long story');
  await page.press('#input', 'Enter');
  await page.waitForFunction(() => ((globalThis as any).document.querySelectorAll('.msg.assistant .body')[1]?.textContent ?? '').length > 0, undefined, { timeout: 20_000 }).catch(async (e) => {
    await page.screenshot({ path: join(tmpdir(), 'llama-ts-chat-page-fail.png') });
    console.log('banner', await page.$eval('#banner', (x) => x.textContent), await page.$$eval('.msg', (els) => els.map((x) => x.className + ':' + x.textContent)));
    throw e;
  });
  await page.click('#stop');
  const t0 = Date.now();
  while (srv.scheduler.stats.slotsBusy > 0 && Date.now() - t0 < 2000) await new Promise((r) => setTimeout(r, 10));
  assert.equal(srv.scheduler.stats.slotsBusy, 0);
  await page.waitForSelector('#send:not([disabled])');
  assert.equal(await page.$eval('.msg.assistant:last-of-type .meta', (e) => e.textContent), 'stopped');
  assert.deepEqual(errors, []);
});

test('the page shows a banner when the server is down', { skip, timeout: 60_000 }, async () => {
  const srv = await startTestServer({ parallel: 1 });
  const browser = await playwright!.chromium.launch({ executablePath: CHROMIUM!, args: ['--no-sandbox', '--disable-gpu'] });
  try {
    const page = await browser.newPage();
    await page.goto(srv.url + '/');
    await page.waitForSelector('#input');
    await srv.close(true);
    await page.fill('#input', 'hello');
    await page.press('#input', 'Enter');
    await page.waitForSelector('#banner.show', { timeout: 10_000 });
    assert.match((await page.$eval('#banner', (e) => e.textContent)) ?? '', /not reachable/);
  } finally {
    await browser.close();
  }
});
