#!/usr/bin/env node
// Cross-check of `llama perplexity` against llama.cpp itself, through node-llama-cpp (its prebuilt
// CPU build, installed outside this repo by scripts/install-llama-cpp-peer.sh). Not part of CI.
//   node scripts/compare-perplexity.mjs PEER_DIR MODEL.gguf TEXT_FILE N_CTX [CHUNKS]
// llama.cpp side: tokenize the text (BOS prepended when the vocabulary says so, as common_tokenize
// does), cut into chunks of N_CTX, BOS in place of each chunk's first token, raw logits of the second
// half from llama.cpp's own forward pass, log-softmax in float64 here. llama.ts side: `llama
// perplexity --json` on the same file. Prints both PPLs, their relative difference, and whether the
// two tokenizations agree.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { spawnSync } from 'node:child_process';

const [peerDir, modelPath, textPath, nCtxArg, chunksArg] = process.argv.slice(2);
if (!peerDir || !modelPath || !textPath || !nCtxArg) {
  process.stderr.write('usage: node scripts/compare-perplexity.mjs PEER_DIR MODEL.gguf TEXT_FILE N_CTX [CHUNKS]\n');
  process.exit(2);
}
const nCtx = Number(nCtxArg);
const repo = join(dirname(fileURLToPath(import.meta.url)), '..');

// ours
const args = [join(repo, 'bin', 'llama.js'), 'perplexity', '-m', modelPath, '-f', textPath, '-c', String(nCtx), '--json', '--backend', 'js'];
if (chunksArg) args.push('--chunks', chunksArg);
const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 28 });
if (r.status !== 0) throw new Error(`llama perplexity failed: ${r.stderr}`);
const ours = JSON.parse(r.stdout.trim().split('\n').pop());

// llama.cpp
const entry = createRequire(join(peerDir, 'package.json')).resolve('node-llama-cpp');
const { getLlama } = await import(pathToFileURL(entry).href);
const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' });
const model = await llama.loadModel({ modelPath });
let text = readFileSync(textPath, 'utf8');
if (text.endsWith('\n')) text = text.slice(0, -1); // llama.cpp's -f drops one trailing newline
const tokens = model.tokenize(text, false);
if (model.tokens.shouldPrependBosToken && model.tokens.bos !== null) tokens.unshift(model.tokens.bos);
const bos = model.tokens.shouldPrependBosToken ? model.tokens.bos : null;
const nChunkMax = Math.floor(tokens.length / nCtx);
const nChunk = chunksArg ? Math.min(Number(chunksArg), nChunkMax) : nChunkMax;
const ctx = await model.createContext({ contextSize: nCtx, batchSize: nCtx, sequences: 1, threads: 1 });
const seq = ctx.getSequence();
const first = Math.floor(nCtx / 2);
let nll = 0, nll2 = 0, count = 0;
for (let c = 0; c < nChunk; c++) {
  const chunk = tokens.slice(c * nCtx, (c + 1) * nCtx);
  if (bos !== null) chunk[0] = bos;
  await seq.clearHistory();
  const input = chunk.map((t, p) => (p >= first && p <= nCtx - 2 ? [t, { generateNext: { logits: true } }] : t));
  const out = await seq.controlledEvaluate(input);
  for (let p = first; p <= nCtx - 2; p++) {
    const logits = out[p].next.logits; // Map token -> raw logit
    let max = -Infinity;
    for (const v of logits.values()) if (v > max) max = v;
    let sum = 0;
    for (const v of logits.values()) sum += Math.exp(v - max);
    const v = -(logits.get(chunk[p + 1]) - max - Math.log(sum));
    nll += v; nll2 += v * v; count++;
  }
}
const mean = nll / count;
const ppl = Math.exp(mean);
const err = Math.sqrt((nll2 / count - mean * mean) / (count - 1)) * ppl;
await ctx.dispose();
await model.dispose();
const rel = Math.abs(ppl - ours.ppl) / ppl;
process.stdout.write(JSON.stringify({
  model: modelPath, text: textPath, n_ctx: nCtx, chunks: nChunk,
  tokens_llama_cpp: tokens.length, tokens_llama_ts: ours.tokens,
  ppl_llama_cpp: Number(ppl.toFixed(4)), ppl_llama_cpp_error: Number(err.toFixed(5)),
  ppl_llama_ts: Number(ours.ppl.toFixed(4)), ppl_llama_ts_error: Number(ours.ppl_error.toFixed(5)),
  relative_difference: rel, same_to_4_significant_digits: Number(ppl.toPrecision(4)) === Number(ours.ppl.toPrecision(4)),
}, null, 1) + '\n');
