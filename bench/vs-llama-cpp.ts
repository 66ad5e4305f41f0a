// Side by side with llama.cpp on this machine, in the same run: `llama bench`'s pp/tg for llama.ts,
// then the same tests on the same GGUF bytes for llama.cpp (node-llama-cpp's prebuilt CPU build,
// run as a child process by bench/peer-llama-cpp.mjs), thread count by thread count, and the ratio
// of the two. The read bandwidth moves a lot on this shared machine (2 threads: ~35 to ~60 GB/s),
// so llama.cpp's tg is also given as a percentage of the limit measured right before and after
// its run, as ours is against the limit measured before each of our repetitions.
//
// node-llama-cpp is not a dependency: install it once outside the repository with
//   scripts/install-llama-cpp-peer.sh /tmp/llama-cpp-peer
// then
//   node dist/bench/vs-llama-cpp.js --peer /tmp/llama-cpp-peer --synthetic 110m --type q8_0 [-p 128] [-n 64] [-t 1,2] [-r 5]
//   node dist/bench/vs-llama-cpp.js --peer DIR -m model.gguf ...
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModel } from '../src/model/load.js';
import { median, modelCost, runBench, type BenchResult } from '../src/bench/llama-bench.js';
import { loadNativeBackend } from '../src/backend/native/index.js';
import { SYNTHETIC_TYPES, writeSyntheticGguf } from '../src/bench/synthetic.js';

function arg(name: string, def?: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : def;
}

const here = dirname(fileURLToPath(import.meta.url));
const peer = arg('--peer', process.env.LLAMA_CPP_PEER);
if (!peer || !existsSync(join(peer, 'node_modules', 'node-llama-cpp'))) {
  process.stderr.write('no llama.cpp peer: run scripts/install-llama-cpp-peer.sh DIR, then pass --peer DIR (or set LLAMA_CPP_PEER)\n');
  process.exit(2);
}
const prompt = Number(arg('-p', '128')), gen = Number(arg('-n', '64')), reps = Number(arg('-r', '5'));
const threads = arg('-t', '1,2')!.split(',').map(Number);
const counts = [prompt, gen, reps - 1, ...threads.map((t) => t - 1)];
if (counts.some((n) => !Number.isInteger(n) || n < 0) || prompt + gen === 0) {
  process.stderr.write('-p and -n must be whole numbers >= 0 (not both 0), -r and each of -t >= 1\n');
  process.exit(2);
}
let path = arg('-m');
let label = path ?? '';
let tmp: string | undefined;
if (!path) {
  const shape = arg('--synthetic', '110m')!, typeName = arg('--type', 'q8_0')!;
  const type = SYNTHETIC_TYPES[typeName];
  if (type === undefined) throw new Error(`unknown --type ${typeName}`);
  tmp = mkdtempSync(join(tmpdir(), 'vs-llama-cpp-'));
  path = join(tmp, `synthetic-${shape}-${typeName}.gguf`);
  writeSyntheticGguf(path, shape, type);
  label = `synthetic-${shape} ${typeName.toUpperCase()}`;
}
try {
  const probe = (t: number) => median([...loadNativeBackend({ threads: t })!.readBandwidth(256 * 1024 * 1024, 3)]);
  const rows: { o: BenchResult; peer: number | null; peerPct: number | null }[] = [];
  for (const t of threads) {
    const loaded = await loadModel(path);
    const { matmulBytes } = modelCost(loaded);
    const vocab = loaded.config.vocabSize;
    const ours = await runBench({ loaded }, { prompt, gen, threads: [t], reps, backend: 'native', modelName: label, log: (l) => process.stderr.write(l + '\n') });
    const before = probe(t);
    const r = spawnSync(process.execPath, [join(here, '..', '..', 'bench', 'peer-llama-cpp.mjs'), peer, path, String(prompt), String(gen), String(t), String(reps), String(vocab)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    const after = probe(t);
    if (r.status !== 0) throw new Error(`the llama.cpp peer failed (status ${r.status})`);
    const theirs = JSON.parse(r.stdout.trim().split('\n').pop()!) as { threads: number; pp: number | null; tg: number | null };
    const limit = (before + after) / 2;
    for (const o of ours) {
      const isPp = o.test.startsWith('pp');
      const peerTps = isPp ? theirs.pp : theirs.tg;
      rows.push({ o, peer: peerTps, peerPct: !isPp && peerTps ? (100 * matmulBytes * peerTps) / 1e9 / limit : null });
    }
  }
  process.stdout.write(`${label}: llama.ts (native) vs llama.cpp (node-llama-cpp 3.22.1 prebuilt), same file, same run, medians of ${reps}\n\n`);
  process.stdout.write('| threads | test | llama.ts tok/s | llama.cpp tok/s | llama.ts / llama.cpp | llama.ts % of limit | llama.cpp % of limit |\n|--:|---|--:|--:|--:|--:|--:|\n');
  for (const { o, peer: p, peerPct } of rows) {
    const pct = o.percent_of_limit === null ? '' : `${o.percent_of_limit.toFixed(1)}%${o.test.startsWith('pp') ? ' of FMA peak' : ''}`;
    process.stdout.write(`| ${o.threads} | ${o.test} | ${o.tokens_per_second.toFixed(2)} | ${p ? p.toFixed(2) : '–'} | ${p ? (o.tokens_per_second / p).toFixed(2) + 'x' : '–'} | ${pct} | ${peerPct === null ? '' : peerPct.toFixed(1) + '%'} |\n`);
  }
} finally {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}
