// Child process / standalone peer for bench/serve.ts: llama.cpp (node-llama-cpp's prebuilt CPU
// build, installed outside the repo by scripts/install-llama-cpp-peer.sh) driving N sequences of one
// context concurrently — what node-llama-cpp offers instead of llama.cpp's server, which its package
// does not ship. Aggregate generated tok/s over all streams, median of 3 rounds.
//   node bench/peer-llama-cpp-batch.mjs PEER_DIR MODEL.gguf STREAMS(1,4,8,16) TOKENS THREADS
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [peerDir, modelPath, streamsArg = '1,4,8,16', tokensArg = '32', threadsArg = '2'] = process.argv.slice(2);
const entry = createRequire(join(peerDir, 'package.json')).resolve('node-llama-cpp');
const { getLlama } = await import(pathToFileURL(entry).href);
const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' });
const model = await llama.loadModel({ modelPath, useMmap: true });
const prompts = ['Once upon a time', 'The little dog', 'One day, Lily', 'Tom and his mom', 'The sun was'];
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const tokens = Number(tokensArg);
for (const n of streamsArg.split(',').map(Number)) {
  const ctx = await model.createContext({ contextSize: 256 * n, sequences: n, threads: Number(threadsArg), batchSize: 512 });
  const rates = [];
  const seqs = Array.from({ length: n }, () => ctx.getSequence());
  for (let round = 0; round < 3; round++) {
    for (const s of seqs) await s.clearHistory();
    const t0 = performance.now();
    const counts = await Promise.all(seqs.map(async (seq, i) => {
      let c = 0;
      for await (const _ of seq.evaluate(model.tokenize(prompts[i % prompts.length]), { temperature: 0.8, seed: 1 })) if (++c >= tokens) break;
      return c;
    }));
    rates.push(counts.reduce((a, b) => a + b, 0) / ((performance.now() - t0) / 1000));
  }
  process.stdout.write(JSON.stringify({ streams: n, aggregateTokPerSec: median(rates) }) + '\n');
  await ctx.dispose();
}
await model.dispose();
