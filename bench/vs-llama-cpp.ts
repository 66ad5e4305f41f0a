// Side by side with llama.cpp on this machine, in the same run: `llama bench`'s pp/tg for llama.ts
// and the same tests on the same GGUF bytes for llama.cpp, thread count by thread count, and the
// ratio of the two. The read bandwidth moves a lot on this shared machine (2 threads: ~35 to ~60
// GB/s), so llama.cpp's tg is also given as a percentage of the limit measured right before its
// run, as ours is against the limit measured before each of our repetitions.
//
// Two peers:
//  --llama-bench PATH: llama.cpp's own llama-bench binary, built from source for this CPU, e.g.
//      cmake -B build -DGGML_NATIVE=ON -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF
//      cmake --build build --target llama-bench -j2
//    run once per repetition (`-r 1 -o json`, its own warm-up included) right after each of our
//    repetitions, so the two alternate and see the same machine state; medians of -r runs each.
//    Each of our repetitions gets the same untimed warm-up right before it (runBench).
//    It is started by a small child process created before our model is loaded, never by this
//    process: fork() makes every page we have written copy-on-write, and the next pass then takes
//    a page fault for each scratch and KV-cache page it writes (~4,300 faults, +20% on a 2-layer
//    model's pp128 right after a spawn of /bin/true; none without one).
//  --peer DIR: node-llama-cpp's prebuilt CPU build (not a dependency: install it once outside the
//    repository with scripts/install-llama-cpp-peer.sh DIR), run as a child process by
//    bench/peer-llama-cpp.mjs after all our repetitions of a thread count.
// The CPU (vendor, family/model, name) is printed with the table: the kernels' speed and
// llama.cpp's differ between Zen 4 (family 25) and Zen 5 (family 26).
//
//   node dist/bench/vs-llama-cpp.js --llama-bench /tmp/llama.cpp/build/bin/llama-bench --synthetic 110m --type q8_0 [-p 128] [-n 64] [-t 1,2] [-r 5]
//   node dist/bench/vs-llama-cpp.js --peer /tmp/llama-cpp-peer --synthetic 110m --type q8_0 ...
//   node dist/bench/vs-llama-cpp.js --llama-bench PATH -m model.gguf ... [--json]
//
// KV cache: by default llama.ts runs with its default F32 cache (as `llama run`) and llama-bench
// with its own default, F16, which reads half the bytes in attention. `--kv-type f16|f32` (with
// --llama-bench) gives both programs that type (llama-bench `-ctk T -ctv T`).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { loadModel } from '../src/model/load.js';
import { median, modelCost, runBench, type BenchResult } from '../src/bench/llama-bench.js';
import { loadNativeBackend } from '../src/backend/native/index.js';
import { SYNTHETIC_MIXES, SYNTHETIC_TYPES, writeSyntheticGguf } from '../src/bench/synthetic.js';
import { DType } from '../src/tensor/dtype.js';

function arg(name: string, def?: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : def;
}

/** "AMD EPYC 9R14 (AuthenticAMD family 25 model 17)": what the figures were measured on. */
function cpuLabel(): string {
  let text = '';
  try {
    text = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return cpus()[0]?.model ?? 'unknown CPU';
  }
  const field = (k: string) => new RegExp(`^${k}\\s*:\\s*(.*)$`, 'm').exec(text)?.[1]?.trim();
  const name = field('model name') ?? cpus()[0]?.model ?? 'unknown CPU';
  const family = field('cpu family'), model = field('model'), vendor = field('vendor_id');
  return family !== undefined ? `${name} (${vendor ?? ''} family ${family} model ${model ?? '?'}, ${cpus().length} logical CPUs)` : name;
}

const here = dirname(fileURLToPath(import.meta.url));
const llamaBench = arg('--llama-bench', process.env.LLAMA_BENCH);
const peer = llamaBench ? undefined : arg('--peer', process.env.LLAMA_CPP_PEER);
if (llamaBench ? !existsSync(llamaBench) : !peer || !existsSync(join(peer, 'node_modules', 'node-llama-cpp'))) {
  process.stderr.write(
    'no llama.cpp peer: pass --llama-bench PATH (llama.cpp\'s llama-bench binary, built with -DGGML_NATIVE=ON) or run scripts/install-llama-cpp-peer.sh DIR, then pass --peer DIR (or set LLAMA_BENCH / LLAMA_CPP_PEER)\n',
  );
  process.exit(2);
}
const prompt = Number(arg('-p', '128')), gen = Number(arg('-n', '64')), reps = Number(arg('-r', '5'));
const threads = arg('-t', '1,2')!.split(',').map(Number);
const kvName = arg('--kv-type');
if (kvName !== undefined && (!llamaBench || (kvName !== 'f16' && kvName !== 'f32'))) {
  process.stderr.write('--kv-type takes f16 or f32, and only with --llama-bench (it sets both programs\' KV cache type)\n');
  process.exit(2);
}
const kvType = kvName === 'f16' ? DType.F16 : DType.F32;
const kvArgs = kvName ? ['-ctk', kvName, '-ctv', kvName] : [];
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
  const type = (SYNTHETIC_TYPES[typeName] as DType | undefined) ?? SYNTHETIC_MIXES[typeName];
  if (type === undefined) throw new Error(`unknown --type ${typeName}`);
  tmp = mkdtempSync(join(tmpdir(), 'vs-llama-cpp-'));
  path = join(tmp, `synthetic-${shape}-${typeName}.gguf`);
  writeSyntheticGguf(path, shape, type);
  label = `synthetic-${shape} ${typeName.toUpperCase()}`;
}
const log = (l: string) => process.stderr.write(l + '\n');
const probe = (t: number) => median([...loadNativeBackend({ threads: t })!.readBandwidth(256 * 1024 * 1024, 3)]);

interface Row {
  o: BenchResult;
  peer: number | null;
  peerMin?: number;
  peerMax?: number;
  peerPct: number | null;
}

/**
 * A child process (started while this one is still small) that runs commands for us, one JSON line
 * per request and per answer, so that this process never forks once the model is in memory.
 */
class Spawner {
  private readonly child: ChildProcess;
  private readonly pending: { resolve: (line: string) => void; reject: (e: Error) => void }[] = [];
  constructor() {
    const script = `
      const { spawnSync } = require('node:child_process');
      require('node:readline').createInterface({ input: process.stdin }).on('line', (line) => {
        const { bin, args } = JSON.parse(line);
        const r = spawnSync(bin, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
        process.stdout.write(JSON.stringify({ status: r.status, stdout: r.stdout, stderr: r.stderr, error: r.error ? String(r.error) : null }) + '\\n');
      });`;
    this.child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
    createInterface({ input: this.child.stdout! }).on('line', (line) => this.pending.shift()?.resolve(line));
    const fail = (why: string) => {
      for (const p of this.pending.splice(0)) p.reject(new Error(`the process that runs llama-bench ${why}`));
    };
    this.child.on('exit', (code) => fail(`exited (${code})`));
    this.child.on('error', (e) => fail(`failed: ${e.message}`));
  }
  async run(bin: string, args: string[]): Promise<{ status: number | null; stdout: string; stderr: string; error: string | null }> {
    const line = await new Promise<string>((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.child.stdin!.write(JSON.stringify({ bin, args }) + '\n');
    });
    return JSON.parse(line);
  }
  close(): void {
    this.child.stdin!.end();
  }
}
const spawner = llamaBench ? new Spawner() : undefined;

/** llama-bench, one repetition of one test (pp: -n 0, tg: -p 0) at `t` threads: its tok/s. */
async function llamaBenchOnce(bin: string, model: string, test: 'pp' | 'tg', t: number): Promise<number> {
  const args = ['-m', model, '-p', String(test === 'pp' ? prompt : 0), '-n', String(test === 'tg' ? gen : 0), '-t', String(t), '-r', '1', '-o', 'json', ...kvArgs];
  const r = await spawner!.run(bin, args);
  if (r.status !== 0) throw new Error(`llama-bench failed (status ${r.status}${r.error ? `, ${r.error}` : ''}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  const out = JSON.parse(r.stdout) as { avg_ts: number; n_threads: number }[];
  if (out.length !== 1 || out[0]!.n_threads !== t) throw new Error(`unexpected llama-bench output: ${r.stdout.slice(0, 200)}`);
  return out[0]!.avg_ts;
}

async function vsLlamaBench(bin: string, model: string): Promise<Row[]> {
  const loaded = await loadModel(model);
  const { matmulBytes } = modelCost(loaded);
  const theirs = new Map<string, { tps: number[]; pct: number[] }>();
  const ours = await runBench(
    { loaded },
    {
      prompt, gen, threads, reps, backend: 'native', modelName: label, log, kvType,
      afterRepetition: async (test, t, rep) => {
        const key = `${test}${t}`;
        if (!theirs.has(key)) theirs.set(key, { tps: [], pct: [] });
        const e = theirs.get(key)!;
        const limit = test === 'tg' ? probe(t) : 0;
        const tps = await llamaBenchOnce(bin, model, test, t);
        e.tps.push(tps);
        if (test === 'tg') e.pct.push((100 * matmulBytes * tps) / 1e9 / limit);
        log(`  llama.cpp ${test} t=${t} rep ${rep + 1}: ${tps.toFixed(2)} tok/s`);
      },
    },
  );
  return ours.map((o) => {
    const e = theirs.get(`${o.test.slice(0, 2)}${o.threads}`)!;
    return { o, peer: median(e.tps), peerMin: Math.min(...e.tps), peerMax: Math.max(...e.tps), peerPct: e.pct.length ? median(e.pct) : null };
  });
}

async function vsNodeLlamaCpp(peerDir: string, model: string): Promise<Row[]> {
  const rows: Row[] = [];
  for (const t of threads) {
    const loaded = await loadModel(model);
    const { matmulBytes } = modelCost(loaded);
    const vocab = loaded.config.vocabSize;
    const ours = await runBench({ loaded }, { prompt, gen, threads: [t], reps, backend: 'native', modelName: label, log });
    const before = probe(t);
    const r = spawnSync(process.execPath, [join(here, '..', '..', 'bench', 'peer-llama-cpp.mjs'), peerDir, model, String(prompt), String(gen), String(t), String(reps), String(vocab)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
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
  return rows;
}

try {
  const rows = llamaBench ? await vsLlamaBench(llamaBench, path) : await vsNodeLlamaCpp(peer!, path);
  const cpu = cpuLabel();
  if (process.argv.includes('--json')) {
    process.stdout.write(JSON.stringify({ model: label, cpu, peer: llamaBench ? `llama-bench ${llamaBench}` : 'node-llama-cpp prebuilt', kvType: kvName ?? null, reps, rows }, null, 1) + '\n');
  } else {
    const peerName = llamaBench ? `llama.cpp llama-bench (${llamaBench})` : 'llama.cpp (node-llama-cpp 3.22.1 prebuilt)';
    const kv = kvName ? `both ${kvName}` : 'llama.ts f32, llama.cpp its default (f16)';
    process.stdout.write(`${label}: llama.ts (native) vs ${peerName}, same file, same run, medians of ${reps}${llamaBench ? ' alternated runs' : ''}; KV cache: ${kv}\nCPU: ${cpu}\n\n`);
    process.stdout.write('| threads | test | llama.ts tok/s (min–max) | llama.cpp tok/s (min–max) | llama.ts / llama.cpp | llama.ts % of limit | llama.cpp % of limit |\n|--:|---|--:|--:|--:|--:|--:|\n');
    for (const { o, peer: p, peerMin, peerMax, peerPct } of rows) {
      const pct = o.percent_of_limit === null ? '' : `${o.percent_of_limit.toFixed(1)}%${o.test.startsWith('pp') ? ' of FMA peak' : ''}`;
      const range = (a: number, b: number) => ` (${a.toFixed(1)}–${b.toFixed(1)})`;
      const theirs = p ? p.toFixed(2) + (peerMin !== undefined ? range(peerMin, peerMax!) : '') : '–';
      process.stdout.write(`| ${o.threads} | ${o.test} | ${o.tokens_per_second.toFixed(2)}${range(o.min, o.max)} | ${theirs} | ${p ? (o.tokens_per_second / p).toFixed(2) + 'x' : '–'} | ${pct} | ${peerPct === null ? '' : peerPct.toFixed(1) + '%'} |\n`);
    }
  }
} finally {
  spawner?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}
