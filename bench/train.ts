// Training throughput: tokens/s, achieved GFLOP/s and MFU of one optimizer step (forward +
// backward + AdamW) on random tokens, for a few model sizes. Median of several steps after a
// warm-up step. On the native backend each timed step is followed by a short FMA probe at the same
// thread count, and MFU is against the median of those probes (the peak this machine gave us in
// the same run); `mfu_nominal` is against ../shared/docs/performance-facts.md's ~260 GFLOP/s per
// thread (a Zen 5 core; a Zen 4 core, with double-pumped AVX-512, peaks at about half of it).
//   node dist/bench/train.js [--backend js|native|auto] [--threads N] [--steps N] [--sizes tiny,small,default,512] [--json]
import { countParams } from '../src/train/params.js';
import { createTrainingModel, lossAndGrad } from '../src/train/model.js';
import { initWeights } from '../src/train/init.js';
import { AdamW } from '../src/train/optimizer.js';
import { selectTrainingBackend } from '../src/backend/select.js';
import { trainFlopsPerToken, PEAK_FLOPS_PER_THREAD } from '../src/train/trainer.js';
import { Rng } from '../src/train/rng.js';
import { metaFfnDim, type LlamaConfig } from '../src/model/config.js';
import type { ParamGrads } from '../src/train/tape.js';
import { loadAddon } from '../src/backend/native/addon.js';

interface Size { dim: number; nLayers: number; nHeads: number; nKvHeads: number; vocab: number; seqLen: number; seqs: number }
const SIZES: Record<string, Size> = {
  tiny: { dim: 32, nLayers: 2, nHeads: 4, nKvHeads: 2, vocab: 68, seqLen: 32, seqs: 8 },
  small: { dim: 64, nLayers: 2, nHeads: 4, nKvHeads: 2, vocab: 512, seqLen: 64, seqs: 4 },
  default: { dim: 256, nLayers: 6, nHeads: 8, nKvHeads: 4, vocab: 4096, seqLen: 256, seqs: 1 },
  '512': { dim: 512, nLayers: 8, nHeads: 8, nKvHeads: 8, vocab: 4096, seqLen: 256, seqs: 1 },
};

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const backendName = arg('backend', 'auto');
  const steps = Number(arg('steps', '3'));
  const json = process.argv.includes('--json');
  const results = [];
  for (const name of arg('sizes', 'tiny,small,default').split(',')) {
    const s = SIZES[name];
    if (!s) throw new Error(`unknown size ${name}`);
    const c: LlamaConfig = {
      dim: s.dim, nLayers: s.nLayers, nHeads: s.nHeads, nKvHeads: s.nKvHeads, headDim: s.dim / s.nHeads,
      ffnDim: metaFfnDim(s.dim, 32), vocabSize: s.vocab, normEps: 1e-5, ropeTheta: 10000, contextLength: s.seqLen, tiedEmbeddings: false,
    };
    const backend = await selectTrainingBackend(backendName, Number(arg('threads', '1')));
    const tm = createTrainingModel(c, initWeights(c, 1), backend);
    const opt = new AdamW(backend, tm.params);
    const session = tm.model.newSession({ ctxSize: s.seqLen });
    const rng = new Rng(2);
    const grads: ParamGrads = new Map();
    const times: number[] = [];
    const probes: number[] = []; // GFLOP/s of the FMA probe after each timed step (native only)
    const addon = backend.name.startsWith('native') ? loadAddon().addon : undefined;
    for (let i = 0; i <= steps; i++) {
      const t0 = performance.now();
      for (let q = 0; q < s.seqs; q++) {
        const toks = Array.from({ length: s.seqLen + 1 }, () => rng.int(s.vocab));
        lossAndGrad(tm, session, toks.slice(0, -1), toks.slice(1), 1 / (s.seqs * s.seqLen), grads);
      }
      opt.update(grads, 1e-4);
      if (i > 0) times.push((performance.now() - t0) / 1000); // the first step warms up
      // the pool already runs backend.threads threads (the step just used it)
      if (i > 0 && addon) probes.push(addon.fmaPeak(2e6));
    }
    const sec = median(times);
    const tokens = s.seqs * s.seqLen;
    const flops = trainFlopsPerToken(c, s.seqLen) * tokens;
    const r = {
      size: name, backend: backend.name, threads: backend.threads, params: countParams(c).total, tokensPerStep: tokens,
      secondsPerStep: sec, tokensPerSecond: tokens / sec, gflops: flops / sec / 1e9,
      mfu: probes.length ? flops / sec / 1e9 / median(probes) : undefined,
      mfu_nominal: flops / sec / (PEAK_FLOPS_PER_THREAD * backend.threads),
      measuredPeakGflops: probes.length ? median(probes) : undefined,
    };
    results.push(r);
    if (!json) {
      const measured = r.mfu !== undefined ? `MFU ${(r.mfu * 100).toFixed(1)}% of the measured peak ${r.measuredPeakGflops!.toFixed(0)} GFLOP/s, ` : '';
      process.stdout.write(`${name.padEnd(8)} ${String(r.params).padStart(9)} params  ${r.backend} ${r.threads}T  ${r.tokensPerSecond.toFixed(0).padStart(6)} tok/s  ${r.gflops.toFixed(2)} GFLOP/s  ${measured}${(r.mfu_nominal * 100).toFixed(1)}% of the nominal ${((PEAK_FLOPS_PER_THREAD * r.threads) / 1e9).toFixed(0)}  (median of ${steps} steps of ${tokens} tokens)\n`);
    }
  }
  if (json) process.stdout.write(JSON.stringify(results) + '\n');
}

void main();
