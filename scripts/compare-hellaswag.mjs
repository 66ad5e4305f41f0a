#!/usr/bin/env node
// Cross-check of `llama perplexity --hellaswag` against llama.cpp's scoring computed on llama.cpp's
// own logits (node-llama-cpp, installed outside this repo by scripts/install-llama-cpp-peer.sh).
// Not part of CI.
//   node scripts/compare-hellaswag.mjs PEER_DIR MODEL.gguf hellaswag_val_llamacpp_format.txt N
// Both sides take the first N tasks in file order (llama.cpp itself draws them at random). llama.cpp
// side: BOS + tokenize(context + " " + ending) per ending, the shared token prefix, mean log-prob of
// each ending's tokens after it; here the logits come from llama.cpp, the log-softmax is float64.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { spawnSync } from 'node:child_process';

const [peerDir, modelPath, file, nArg] = process.argv.slice(2);
if (!peerDir || !modelPath || !file || !nArg) {
  process.stderr.write('usage: node scripts/compare-hellaswag.mjs PEER_DIR MODEL.gguf FILE N\n');
  process.exit(2);
}
const n = Number(nArg);
const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const r = spawnSync(process.execPath, [join(repo, 'bin', 'llama.js'), 'perplexity', '-m', modelPath, '--hellaswag', '-f', file, '--hellaswag-tasks', String(n), '--no-shuffle', '--backend', 'js'], { encoding: 'utf8', maxBuffer: 1 << 28 });
if (r.status !== 0) throw new Error(`llama perplexity --hellaswag failed: ${r.stderr}`);
const oursLines = r.stdout.split('\n').filter((l) => /^\d+\t/.test(l));
const ours = Number(oursLines.at(-1).split('\t')[1]);

const entry = createRequire(join(peerDir, 'package.json')).resolve('node-llama-cpp');
const { getLlama } = await import(pathToFileURL(entry).href);
const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' });
const model = await llama.loadModel({ modelPath });
const lines = readFileSync(file, 'utf8').split('\n');
const ctx = await model.createContext({ contextSize: 1024, batchSize: 1024, sequences: 1, threads: 1 });
const seq = ctx.getSequence();
const logSoftmaxAt = (logits, tok) => {
  let max = -Infinity;
  for (const v of logits.values()) if (v > max) max = v;
  let s = 0;
  for (const v of logits.values()) s += Math.exp(v - max);
  return logits.get(tok) - max - Math.log(s);
};
let correct = 0;
const running = [];
for (let t = 0; t < n; t++) {
  const context = lines[6 * t];
  const gold = Number(lines[6 * t + 1]);
  const seqs = [0, 1, 2, 3].map((j) => {
    const toks = model.tokenize(context + ' ' + lines[6 * t + 2 + j], false);
    if (model.tokens.shouldPrependBosToken) toks.unshift(model.tokens.bos);
    return toks;
  });
  let cp = 0;
  while (seqs.every((s) => cp < s.length && s[cp] === seqs[0][cp])) cp++;
  const scores = [];
  for (const s of seqs) {
    await seq.clearHistory();
    const input = s.map((tok, p) => (p >= cp - 1 && p < s.length - 1 ? [tok, { generateNext: { logits: true } }] : tok));
    const out = await seq.controlledEvaluate(input);
    let lp = 0;
    for (let p = cp - 1; p < s.length - 1; p++) lp += logSoftmaxAt(out[p].next.logits, s[p + 1]);
    scores.push(lp / (s.length - cp));
  }
  let best = 0;
  for (let j = 1; j < 4; j++) if (scores[j] > scores[best]) best = j;
  if (best === gold) correct++;
  running.push(Number(((100 * correct) / (t + 1)).toFixed(8)));
}
await ctx.dispose();
await model.dispose();
const oursRunning = oursLines.map((l) => Number(l.split('\t')[1]));
const same = running.filter((v, i) => Math.abs(v - oursRunning[i]) < 1e-6).length;
process.stdout.write(JSON.stringify({ model: modelPath, tasks: n, acc_norm_llama_cpp: running.at(-1), acc_norm_llama_ts: ours, running_lines_identical: `${same}/${n}` }, null, 1) + '\n');
