// Side by side with llama.cpp on this machine, in the same run: `llama bench`'s pp/tg for llama.ts,
// then the same tests on the same GGUF bytes for llama.cpp (node-llama-cpp's prebuilt CPU build,
// run as a child process by bench/peer-llama-cpp.mjs), and the ratio of the two.
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
import { runBench } from '../src/bench/llama-bench.js';
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
  const loaded = await loadModel(path);
  const vocab = loaded.config.vocabSize;
  const ours = await runBench({ loaded }, { prompt, gen, threads, reps, backend: 'native', modelName: label, log: (l) => process.stderr.write(l + '\n') });
  const r = spawnSync(process.execPath, [join(here, '..', '..', 'bench', 'peer-llama-cpp.mjs'), peer, path, String(prompt), String(gen), threads.join(','), String(reps), String(vocab)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`the llama.cpp peer failed (status ${r.status})`);
  const theirs = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { threads: number; pp: number | null; tg: number | null });
  process.stdout.write(`${label}: llama.ts (native) vs llama.cpp (node-llama-cpp prebuilt), same file, same run, medians of ${reps}\n\n`);
  process.stdout.write('| threads | test | llama.ts tok/s | llama.cpp tok/s | llama.ts / llama.cpp | llama.ts % of limit |\n|--:|---|--:|--:|--:|--:|\n');
  for (const o of ours) {
    const p = theirs.find((t) => t.threads === o.threads);
    const peerTps = o.test.startsWith('pp') ? p?.pp : p?.tg;
    const pct = o.percent_of_limit === null ? '' : `${o.percent_of_limit.toFixed(1)}%${o.test.startsWith('pp') ? ' of FMA peak' : ''}`;
    process.stdout.write(`| ${o.threads} | ${o.test} | ${o.tokens_per_second.toFixed(2)} | ${peerTps ? peerTps.toFixed(2) : '–'} | ${peerTps ? (o.tokens_per_second / peerTps).toFixed(2) + 'x' : '–'} | ${pct} |\n`);
  }
} finally {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}
