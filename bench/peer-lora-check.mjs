// Independent check of our LoRA GGUF adapters: llama.cpp (node-llama-cpp's prebuilt build, loaded
// from PEER_DIR, see scripts/install-llama-cpp-peer.sh) loads our base model with our adapter, and
// its next-token probabilities after a prompt are compared with ours (adapter applied at run time,
// js backend). Also printed: the same comparison without the adapter, and how far the adapter moves
// the distribution (so agreement is not trivial). A script, not CI.
//   node bench/peer-lora-check.mjs PEER_DIR MODEL.gguf ADAPTER.gguf ["prompt"]
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [peerDir, modelPath, adapterPath, prompt = 'Once upon a time, there was a little dog'] = process.argv.slice(2);
const api = await import(new URL('../dist/src/index.js', import.meta.url).href);
const { models, backends } = api;
const entry = createRequire(join(peerDir, 'package.json')).resolve('node-llama-cpp');
const { getLlama } = await import(pathToFileURL(entry).href);
const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' });
const peerModel = await llama.loadModel({ modelPath, useMmap: true });
const tokens = peerModel.tokenize(prompt, true);

async function peerProbs(lora) {
  const ctx = await peerModel.createContext({ contextSize: 64, threads: 1, ...(lora ? { lora: { adapters: [{ filePath: lora, scale: 1 }] } } : {}) });
  const seq = ctx.getSequence();
  const it = seq.evaluateWithMetadata(tokens, { probabilities: true }, { temperature: 0 });
  const first = await it.next();
  await it.return();
  const probs = first.value.probabilities;
  await ctx.dispose();
  return probs;
}

async function ourProbs(lora) {
  const loaded = await models.loadModel(modelPath);
  const base = await models.LlamaModel.create(loaded, new backends.JsBackend());
  const m = lora ? models.attachLora(base, [{ adapter: models.readLoraAdapter(lora, base.config) }]) : base;
  const logits = m.forward(m.newSession({ ctxSize: 64 }), Array.from(tokens), {});
  const row = logits.subarray(logits.length - base.config.vocabSize);
  let max = -Infinity;
  for (const x of row) max = Math.max(max, x);
  let sum = 0;
  const p = new Float64Array(row.length);
  for (let i = 0; i < row.length; i++) sum += p[i] = Math.exp(row[i] - max);
  for (let i = 0; i < row.length; i++) p[i] /= sum;
  loaded.close();
  return p;
}

function maxDiff(ours, peer) {
  let d = 0;
  for (let i = 0; i < ours.length; i++) d = Math.max(d, Math.abs(ours[i] - (peer.get(i) ?? 0)));
  return d;
}

const [oBase, oLora, pBase, pLora] = [await ourProbs(null), await ourProbs(adapterPath), await peerProbs(null), await peerProbs(adapterPath)];
let moved = 0;
for (let i = 0; i < oBase.length; i++) moved = Math.max(moved, Math.abs(oBase[i] - oLora[i]));
console.log(JSON.stringify({
  promptTokens: tokens.length,
  baseMaxAbsProbDiff: maxDiff(oBase, pBase),
  loraMaxAbsProbDiff: maxDiff(oLora, pLora),
  adapterMovesProbsBy: moved,
}));
process.exit(0);
