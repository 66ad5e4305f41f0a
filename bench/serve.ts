// `llama serve` under concurrent streams: aggregate decode throughput with 1, 4, 8 and 16 streaming
// clients (each its own slot, --parallel = streams), time to first token p50/p99, and a load phase
// of 64 concurrent streaming clients with RSS before/after. Loopback only.
//
//   node dist/bench/serve.js [--model PATH | --synthetic 110m --type q8_0] [--streams 1,4,8,16]
//                            [--tokens 64] [--backend native] [--threads 2] [--load 64]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openModel } from '../src/api/index.js';
import { writeSyntheticGguf, SYNTHETIC_TYPES } from '../src/bench/synthetic.js';
import { serverModel, startServer } from '../src/server/index.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : def;
}

const streamsList = arg('streams', '1,4,8,16').split(',').map(Number);
const tokens = Number(arg('tokens', '64'));
const loadClients = Number(arg('load', '64'));
const synthetic = arg('synthetic', '');
const backendName = arg('backend', 'auto');
const threads = Number(arg('threads', '2'));
let modelPath = arg('model', fileURLToPath(new URL('../../models/default/model.gguf', import.meta.url)));
let tmp: string | undefined;
if (synthetic) {
  tmp = mkdtempSync(join(tmpdir(), 'bench-serve-'));
  modelPath = join(tmp, `${synthetic}.gguf`);
  writeSyntheticGguf(modelPath, synthetic, SYNTHETIC_TYPES[arg('type', 'q8_0')]!);
}

const engine = await openModel(modelPath, { backend: backendName, threads });
const sm = serverModel(engine, { id: 'bench' });
const ctx = Math.min(engine.config.contextLength, 256);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}
function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

async function stream(url: string, prompt: string, maxTokens: number): Promise<{ ttft: number; n: number }> {
  const t0 = performance.now();
  const res = await fetch(`${url}/v1/completions`, { method: 'POST', body: JSON.stringify({ prompt, max_tokens: maxTokens, temperature: 0.8, seed: 1, stream: true, ignore_eos: true, cache_prompt: false }) });
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  const reader = res.body!.getReader();
  let ttft = 0;
  let n = 0;
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += Buffer.from(value).toString();
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const line = buf.slice(6, i);
      buf = buf.slice(i + 2);
      if (line === '[DONE]') continue;
      if (!ttft) ttft = performance.now() - t0;
      n++;
    }
  }
  return { ttft, n };
}

const prompts = ['Once upon a time', 'The little dog', 'One day, Lily', 'Tom and his mom', 'The sun was'];
process.stdout.write(`model ${modelPath.replace(tmp ?? '\0', '<tmp>')} (${engine.backendName}, ${engine.llama.backend.threads} threads), ${tokens} tokens per stream, one batched forward per step\n`);
process.stdout.write('| streams | aggregate tok/s | per stream tok/s | x single stream | TTFT p50 ms | TTFT p99 ms |\n|---:|---:|---:|---:|---:|---:|\n');
let single = 0;
for (const n of streamsList) {
  const srv = await startServer(sm, { port: 0, parallel: n, ctxSize: ctx, webPage: false, maxQueue: 1024 });
  const rates: number[] = [];
  const ttfts: number[] = [];
  for (let rep = 0; rep < 3; rep++) {
    const t0 = performance.now();
    const rs = await Promise.all(Array.from({ length: n }, (_, i) => stream(srv.url, prompts[i % prompts.length]!, tokens)));
    const secs = (performance.now() - t0) / 1000;
    rates.push(rs.reduce((a, r) => a + r.n, 0) / secs);
    for (const r of rs) ttfts.push(r.ttft);
  }
  await srv.close(true);
  const agg = median(rates);
  if (n === 1) single = agg;
  process.stdout.write(`| ${n} | ${agg.toFixed(1)} | ${(agg / n).toFixed(1)} | ${single ? (agg / single).toFixed(2) + 'x' : '–'} | ${pct(ttfts, 50).toFixed(0)} | ${pct(ttfts, 99).toFixed(0)} |\n`);
}

if (loadClients > 0) {
  const srv = await startServer(sm, { port: 0, parallel: 16, ctxSize: ctx, webPage: false, maxQueue: 1024 });
  global.gc?.();
  const rss0 = process.memoryUsage().rss;
  const t0 = performance.now();
  const rs = await Promise.allSettled(Array.from({ length: loadClients }, (_, i) => stream(srv.url, prompts[i % prompts.length]!, 32)));
  const secs = (performance.now() - t0) / 1000;
  const failed = rs.filter((r) => r.status === 'rejected').length;
  await new Promise((r) => setTimeout(r, 200));
  global.gc?.();
  const rss1 = process.memoryUsage().rss;
  process.stdout.write(`\nload: ${loadClients} concurrent streaming clients on 16 slots: ${loadClients - failed} ok, ${failed} failed, ${secs.toFixed(1)} s; slots busy after: ${srv.scheduler.stats.slotsBusy}; RSS ${(rss0 / 2 ** 20).toFixed(0)} -> ${(rss1 / 2 ** 20).toFixed(0)} MiB\n`);
  await srv.close(true);
}
await engine.dispose();
if (tmp) rmSync(tmp, { recursive: true, force: true });
