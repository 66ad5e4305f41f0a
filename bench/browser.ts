// Prefill and decode speed in Chromium (playwright-core + Debian's chromium): llama.ts's browser
// bundle on the wasm backend, in the demo page's Web Worker (the page `llama serve` has at
// /browser/), at 1 and 2 threads (Web Workers over SharedArrayBuffer: the pages are served with
// COOP/COEP), on the default model and the 110M synthetic Q8_0 model. With --wllama DIR, the same
// GGUF files in the same Chromium through wllama (llama.cpp compiled to WebAssembly), at the same
// thread counts, with the same prompt text, greedy, the same number of generated tokens.
//
// Our rows' decode is also given as a % of native's read limit (matmul weight bytes x tok/s over
// the read bandwidth native code measures at the same thread count right before each repetition).
//
// At 2 threads and more, each repetition's log line (stderr) has the wasm pool's counters so far:
// matmuls split, shares the workers ran, shares the caller took back, back-offs from late workers.
//
// What is compared: the tok/s each engine reports for its own prompt processing and generation
// (llama.ts: Generation.stats; wllama: llama.cpp's own `timings` of createCompletion), median over
// repetitions after one warm-up run. Both tokenize the same text (their counts are printed).
//
// wllama is not a dependency: install it outside the repository, e.g.
//   mkdir -p /tmp/wllama-peer && cd /tmp/wllama-peer && npm init -y && npm install @wllama/wllama
// then
//   node dist/bench/browser.js [--wllama /tmp/wllama-peer] [-p 128] [-n 64] [-t 1,2] [-r 3] [--models default,110m-q8_0]
//                              [--min-parallel-work N] [--page-timeout S]
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { browserDemoFile, ISOLATION_HEADERS, PACKAGED_MODEL, sendFileRange } from '../src/server/browser-demo.js';
import { writeSyntheticGguf } from '../src/bench/synthetic.js';
import { DType } from '../src/tensor/dtype.js';
import { median, modelCost } from '../src/bench/llama-bench.js';
import { loadModel } from '../src/model/load.js';
import { loadNativeBackend } from '../src/backend/native/index.js';

function arg(name: string, def?: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : def;
}
const log = (s: string) => process.stderr.write(s + '\n');

const CHROMIUM = process.env.CHROMIUM_PATH ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
if (!CHROMIUM) {
  log('chromium is not installed (apt-get install chromium)');
  process.exit(2);
}
if (!existsSync(fileURLToPath(new URL('../browser/llama.js', import.meta.url)))) {
  log('the browser bundle is not built: npm run build');
  process.exit(2);
}
const { chromium } = await import('playwright-core');
const prompt = Number(arg('-p', '128')), gen = Number(arg('-n', '64')), reps = Number(arg('-r', '3'));
const threads = arg('-t', '1,2')!.split(',').map(Number);
const wanted = arg('--models', 'default,110m-q8_0')!.split(',');
const peer = arg('--wllama', process.env.WLLAMA_PEER);
// the wasm backend's split threshold (rows x cols x tokens) in the page, when given (default: the library's)
const minParallelWork = arg('--min-parallel-work') !== undefined ? Number(arg('--min-parallel-work')) : undefined;
const wllamaDir = peer ? join(peer, 'node_modules/@wllama/wllama') : undefined;
if (wllamaDir && !existsSync(join(wllamaDir, 'esm/index.js'))) {
  log(`no wllama in ${peer}: npm install @wllama/wllama there`);
  process.exit(2);
}

// The models, served at /models/NAME.gguf
const tmp = mkdtempSync(join(tmpdir(), 'bench-browser-'));
const models: Record<string, string> = {};
if (wanted.includes('default')) models.default = PACKAGED_MODEL;
if (wanted.includes('110m-q8_0')) {
  log('writing the 110M synthetic Q8_0 model...');
  models['110m-q8_0'] = join(tmp, '110m-q8_0.gguf');
  writeSyntheticGguf(models['110m-q8_0'], '110m', DType.Q8_0);
}

// Bytes of matmul weights a decode token reads (our rows' tg against native's read limit, measured
// with native code right before each repetition at the same thread count, as bench/wasm.ts does)
const matmulBytes: Record<string, number> = {};
for (const [name, file] of Object.entries(models)) {
  const loaded = await loadModel(file);
  matmulBytes[name] = modelCost(loaded).matmulBytes;
  loaded.close();
}
const nativeReadLimit = (threads: number): number | undefined => {
  const nb = loadNativeBackend({ threads });
  return nb ? median([...nb.readBandwidth(256 * 1024 * 1024, 3)]) : undefined;
};

// A prompt of about `prompt` tokens for both engines' tokenizers. The default model: short common
// words (one token each). The synthetic model's placeholder vocabulary has no words, only byte
// fallback: BOS + the 3 bytes of the leading '\u2581' + one token per 'x'.
const WORDS = ['the', 'cat', 'sat', 'on', 'a', 'mat', 'and', 'the', 'dog', 'ran', 'to', 'the', 'park'];
const promptFor = (model: string): string =>
  model === 'default' ? Array.from({ length: prompt - 1 }, (_, i) => WORDS[i % WORDS.length]).join(' ') : 'x'.repeat(Math.max(1, prompt - 4));

const WLLAMA_PAGE = `<!doctype html><meta charset="utf-8"><title>wllama bench</title><script type="module">
import { Wllama } from '/wllama/esm/index.js';
let w;
window.wbench = {
  async load(url, threads, nCtx) {
    if (w) await w.exit();
    w = new Wllama({ default: '/wllama/esm/wasm/wllama.wasm' }, { suppressNativeLog: true });
    await w.loadModelFromUrl(new URL(url, location.href).href, { n_threads: threads, n_ctx: nCtx, n_batch: 512, useCache: false });
    return { threads: w.getNumThreads(), multithread: w.isMultithread() };
  },
  async run(prompt, n) {
    const r = await w.createCompletion({ prompt, max_tokens: n, temperature: 0, ignore_eos: true, cache_prompt: false });
    return r.timings;
  },
};
</script>`;

const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  const send = (file: string | undefined) => (file && existsSync(file) ? sendFileRange(req, res, file, { ...ISOLATION_HEADERS }) : void res.writeHead(404).end());
  if (path.startsWith('/browser/')) return send(browserDemoFile(path.slice(9) || 'index.html', PACKAGED_MODEL));
  if (path.startsWith('/models/')) return send(models[path.slice(8).replace(/\.gguf$/, '')]);
  if (path === '/wllama.html') return void res.writeHead(200, { ...ISOLATION_HEADERS, 'content-type': 'text/html' }).end(WLLAMA_PAGE);
  if (wllamaDir && path.startsWith('/wllama/') && !path.includes('..')) return send(join(wllamaDir, path.slice(8)));
  res.writeHead(404).end();
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
// Chromium's flags: --no-sandbox (the bench runs as root in a container, where the sandbox cannot
// start), --disable-gpu (no GPU here: pages composite in software either way; with and without it
// decode was the same within the noise, docs/wasm.md round 5). Nothing else: no flag a user's
// browser would not have changes the engine's threads or V8's tiers.
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });

// A crashed or stuck page must end the bench with an error, not hang it: every page call races the
// page's 'crash' event and a time limit.
const PAGE_TIMEOUT_MS = Number(arg('--page-timeout', '600')) * 1000;
async function guarded<T>(page: import('playwright-core').Page, what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let onCrash: (() => void) | undefined;
  const failure = new Promise<never>((_, reject) => {
    onCrash = () => reject(new Error(`the page crashed during ${what} (a stale browser bundle? run: node scripts/build-browser.js)`));
    page.once('crash', onCrash);
    timer = setTimeout(() => reject(new Error(`${what} took more than ${PAGE_TIMEOUT_MS / 1000} s (--page-timeout)`)), PAGE_TIMEOUT_MS);
  });
  try {
    return await Promise.race([work, failure]);
  } finally {
    clearTimeout(timer);
    page.off('crash', onCrash!);
  }
}

interface Row { engine: string; model: string; threads: number; ppTokens: number; pp: number; tg: number; ppAll: number[]; tgAll: number[]; tgPctOfNativeLimit?: number }
const rows: Row[] = [];

async function ours(model: string, t: number): Promise<Row> {
  const page = await browser.newPage();
  try {
    await page.goto(`${base}/browser/`);
    if (process.env.BENCH_BROWSER_CRASH_TEST === '1') void page.goto('chrome://crash').catch(() => {}); // checks the crash path
    const info = (await guarded(page, `loading ${model}`, page.evaluate(({ url, t, mpw }) => (globalThis as any).llamaDemo.load({ model: url, threads: t, backend: 'wasm', ...(mpw !== undefined ? { minParallelWork: mpw } : {}) }), { url: `/models/${model}.gguf`, t, mpw: minParallelWork }))) as { threads: number };
    if (info.threads !== t) throw new Error(`asked for ${t} threads, the page has ${info.threads}`);
    const pp: number[] = [], tg: number[] = [], pct: number[] = [];
    let ppTokens = 0;
    for (let r = 0; r <= reps; r++) {
      const limit = r > 0 ? nativeReadLimit(t) : undefined;
      const m = (await guarded(page, `generating with ${model}`, page.evaluate(({ p, n }) => (globalThis as any).llamaDemo.run({ prompt: p, max: n, ignoreEog: true }), { p: promptFor(model), n: gen }))) as { stats: { promptTokens: number; promptTokensPerSec: number; generatedTokens: number; generatedTokensPerSec: number } };
      if (m.stats.generatedTokens !== gen) throw new Error(`generated ${m.stats.generatedTokens} tokens, not ${gen}`);
      const b = (m as { backend?: { splitMatmuls?: number; workerJobs?: number; takenBack?: number; backOffs?: number } }).backend;
      if (t > 1 && b) log(`  ${r === 0 ? 'warm-up' : `rep ${r}`}: tg ${m.stats.generatedTokensPerSec.toFixed(1)} tok/s; pool so far: ${b.splitMatmuls} split matmuls, ${b.workerJobs} worker shares, ${b.takenBack} taken back, ${b.backOffs} back-offs`);
      if (r === 0) continue; // warm-up
      ppTokens = m.stats.promptTokens;
      pp.push(m.stats.promptTokensPerSec);
      tg.push(m.stats.generatedTokensPerSec);
      if (limit) pct.push((100 * matmulBytes[model]! * m.stats.generatedTokensPerSec) / 1e9 / limit);
    }
    return { engine: 'llama.ts wasm', model, threads: t, ppTokens, pp: median(pp), tg: median(tg), ppAll: pp, tgAll: tg, ...(pct.length ? { tgPctOfNativeLimit: median(pct) } : {}) };
  } finally {
    await page.close().catch(() => {});
  }
}

async function wllama(model: string, t: number): Promise<Row> {
  const page = await browser.newPage();
  try {
    await page.goto(`${base}/wllama.html`);
    await guarded(page, 'loading wllama', page.waitForFunction(() => (globalThis as any).wbench !== undefined));
    const info = (await guarded(page, `wllama loading ${model}`, page.evaluate(({ url, t, c }) => (globalThis as any).wbench.load(url, t, c), { url: `/models/${model}.gguf`, t, c: prompt + gen + 64 }))) as { threads: number; multithread: boolean };
    if (info.threads !== t) log(`wllama: asked for ${t} threads, it uses ${info.threads} (multithread ${info.multithread})`);
    const pp: number[] = [], tg: number[] = [];
    let ppTokens = 0;
    for (let r = 0; r <= reps; r++) {
      const tm = (await guarded(page, `wllama generating with ${model}`, page.evaluate(({ p, n }) => (globalThis as any).wbench.run(p, n), { p: promptFor(model), n: gen }))) as { prompt_n: number; prompt_per_second: number; predicted_n: number; predicted_per_second: number };
      if (r === 0) continue;
      ppTokens = tm.prompt_n;
      pp.push(tm.prompt_per_second);
      tg.push(tm.predicted_per_second);
    }
    return { engine: 'wllama', model, threads: info.threads, ppTokens, pp: median(pp), tg: median(tg), ppAll: pp, tgAll: tg };
  } finally {
    await page.close().catch(() => {});
  }
}

try {
  for (const model of Object.keys(models)) {
    for (const t of threads) {
      log(`llama.ts ${model} t=${t}...`);
      rows.push(await ours(model, t));
      if (wllamaDir) {
        log(`wllama ${model} t=${t}...`);
        try {
          rows.push(await wllama(model, t));
        } catch (e) {
          log(`wllama ${model} t=${t} failed: ${(e as Error).message}`);
        }
      }
    }
  }
} catch (e) {
  log(`bench/browser: ${(e as Error).message}`);
  process.exitCode = 1;
} finally {
  // a crashed page can leave the browser slow to close and its connections open: bound both
  await Promise.race([browser.close(), new Promise((r) => setTimeout(r, 10_000).unref())]);
  server.closeAllConnections();
  server.close();
  rmSync(tmp, { recursive: true, force: true });
}
if (process.exitCode) process.exit(process.exitCode);

const ua = `Chromium (${CHROMIUM}), prompt ~${prompt} tokens, ${gen} generated, greedy, median of ${reps} after a warm-up`;
const out = [
  `| engine | model | threads | pp tokens | pp tok/s | tg tok/s | tg % of native read limit |`,
  `|---|---|--:|--:|--:|--:|--:|`,
  ...rows.map((r) => `| ${r.engine} | ${r.model} | ${r.threads} | ${r.ppTokens} | ${r.pp.toFixed(1)} | ${r.tg.toFixed(1)} | ${r.tgPctOfNativeLimit === undefined ? '' : `${r.tgPctOfNativeLimit.toFixed(1)}%`} |`),
];
process.stdout.write(`${ua}\n\n${out.join('\n')}\n`);
process.stdout.write(JSON.stringify(rows) + '\n');
