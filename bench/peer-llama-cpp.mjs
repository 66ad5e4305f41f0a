// Child process of bench/vs-llama-cpp.ts: llama.cpp's pp/tg on one GGUF through node-llama-cpp
// (its prebuilt CPU binaries), timed as `llama bench` times ours: pp = one forward of P random
// tokens from an empty cache, tg = N greedy tokens after token 1, medians over repetitions after a
// warm-up. Prints one JSON line per thread count. Plain JS: node-llama-cpp is not a dependency of
// this project, it is loaded from the directory given (see scripts/install-llama-cpp-peer.sh).
//   node bench/peer-llama-cpp.mjs PEER_DIR MODEL.gguf P N THREADS(1,2) REPS VOCAB
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [peerDir, modelPath, pp, tg, threadsArg, repsArg, vocabArg] = process.argv.slice(2);
const entry = createRequire(join(peerDir, 'package.json')).resolve('node-llama-cpp');
const { getLlama } = await import(pathToFileURL(entry).href);
const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' });
const model = await llama.loadModel({ modelPath, useMmap: true });
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
let seed = 7;
const rnd = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0);
const vocab = Number(vocabArg);
for (const threads of threadsArg.split(',').map(Number)) {
  const ctx = await model.createContext({ contextSize: Number(pp) + Number(tg) + 8, threads, batchSize: Math.max(Number(pp), 1), sequences: 1 });
  const seq = ctx.getSequence();
  const pps = [], tgs = [];
  for (let r = 0; r <= Number(repsArg); r++) {
    if (Number(pp) > 0) {
      const toks = Array.from({ length: Number(pp) }, () => 3 + (rnd() % (vocab - 3)));
      await seq.clearHistory();
      const t0 = performance.now();
      await seq.evaluateWithoutGeneratingNewTokens(toks);
      if (r > 0) pps.push(Number(pp) / ((performance.now() - t0) / 1000));
    }
    if (Number(tg) > 0) {
      await seq.clearHistory();
      let n = 0;
      const t0 = performance.now();
      for await (const _ of seq.evaluate([1], { temperature: 0 })) if (++n >= Number(tg)) break;
      if (r > 0) tgs.push(Number(tg) / ((performance.now() - t0) / 1000));
    }
  }
  process.stdout.write(JSON.stringify({ threads, pp: pps.length ? median(pps) : null, tg: tgs.length ? median(tgs) : null }) + '\n');
  await ctx.dispose();
}
await model.dispose();
