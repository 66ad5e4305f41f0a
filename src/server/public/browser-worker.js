// The engine of the in-browser demo (browser.html), in a module Web Worker: the page stays
// responsive, and the wasm backend may use threads here (Atomics.wait is refused on a page's main
// thread). It imports the browser bundle (dist/browser/llama.js, served beside this file).
//
// Messages in:  { type: 'load', url, threads, backend }  { type: 'run', prompt, maxTokens, ignoreEog }
// Messages out: { type: 'progress', loaded, total }  { type: 'loaded', info }  { type: 'token', text }
//               { type: 'done', text, tokens, stats }  { type: 'error', code, message, hint }
import { openModel, sharedMemoryAvailable } from './llama.js';
import { setWasmMinParallelWork } from './llama.js';

let model;
let backendInfo = {};

function fail(e) {
  postMessage({ type: 'error', code: e && e.code ? e.code : 'INTERNAL', message: String(e && e.message ? e.message : e), hint: e && e.hint });
}

async function load({ url, threads, backend, minParallelWork }) {
  // tests: split every matmul over the threads (by default small ones stay on one thread)
  if (minParallelWork !== undefined) setWasmMinParallelWork(minParallelWork);
  if (model) await model.dispose();
  model = undefined;
  const t0 = performance.now();
  model = await openModel(new URL(url, location.href), {
    backend: backend || 'wasm',
    threads: threads || 1,
    onProgress: (loaded, total) => postMessage({ type: 'progress', loaded, total }),
  });
  const be = model.llama.backend;
  backendInfo = { backend: be.name, threads: be.threads ?? 1, variant: typeof be.info === 'function' ? be.info().variant : undefined };
  postMessage({
    type: 'loaded',
    info: { ...backendInfo, loadMs: performance.now() - t0, crossOriginIsolated: self.crossOriginIsolated === true, sharedMemory: sharedMemoryAvailable(), config: model.config },
  });
}

async function run({ prompt, maxTokens, ignoreEog }) {
  if (!model) throw new Error('no model loaded');
  // ignoreEog: benchmarks on random-weight models generate exactly maxTokens
  const gen = model.complete(prompt, { maxTokens, temperature: 0, ignoreEog: ignoreEog === true });
  let text = '';
  const tokens = [];
  for await (const t of gen) {
    text += t.text;
    if (t.token >= 0) tokens.push(t.token);
    postMessage({ type: 'token', text: t.text });
  }
  const be = model.llama.backend;
  // the wasm backend's thread pool counters (benchmarks print them): split matmuls, shares run by
  // the workers, shares taken back by the caller, back-offs from late workers
  const i = typeof be.info === 'function' ? be.info() : {};
  const pool = { splitMatmuls: i.splitMatmuls ?? 0, workerJobs: i.workerJobs ?? 0, takenBack: i.takenBack ?? 0, backOffs: i.backOffs ?? 0 };
  postMessage({ type: 'done', text, tokens, stats: gen.stats, backend: { ...backendInfo, ...pool } });
}

self.onmessage = (e) => {
  const m = e.data;
  (m.type === 'load' ? load(m) : run(m)).catch(fail);
};
