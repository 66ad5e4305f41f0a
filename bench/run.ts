// `npm run bench`: every benchmark of the project in one go, each as its own process (so one
// benchmark's warm caches and JIT state do not flatter the next). Figures go to stdout; each
// benchmark states its own machine limit (bandwidth, FMA peak) measured in the same run, or the
// peer program it is compared with.
//   npm run bench                      all of them
//   npm run bench -- tokenizer kernels only those named
//   LLAMA_CPP_PEER=DIR npm run bench   also `vs-llama-cpp` (see scripts/install-llama-cpp-peer.sh)
//   LLAMA_BENCH=PATH npm run bench -- vs-llama-bench-q4_k_m vs-llama-bench-q8_0 vs-llama-bench-f32
//                                      against llama.cpp's llama-bench (built with -DGGML_NATIVE=ON)
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');

/** name -> argv after `node` */
const BENCHES: Record<string, string[]> = {
  tokenizer: [join(here, 'tokenizer.js')],
  loaders: [join(here, 'loaders.js')],
  kernels: [join(here, 'kernels.js'), '--threads', '1,2'],
  // the down projection's long rows (11008 columns): K-quant rows of more than ~5000 columns once
  // streamed at half the speed of 4096-column ones (docs/native-backend.md)
  'kernels-down': [join(here, 'kernels.js'), '--threads', '1,2', '--shape', '4096x11008', '--types', 'q8_0,q4_0,q4_k,q6_k', '--no-mm'],
  model: [join(root, 'bin', 'llama.js'), 'bench', '--synthetic', '110m', '--type', 'q8_0', '-t', '1,2', '-r', '5'],
  train: [join(here, 'train.js'), '--sizes', 'default,512', '--threads', '2'],
  grammar: [join(here, 'grammar.js'), '--runs', '5'],
  wasm: [join(here, 'wasm.js'), '--threads', '1'],
};
// side by side with llama.cpp, when its peer install exists (scripts/install-llama-cpp-peer.sh)
if (process.env.LLAMA_CPP_PEER) BENCHES['vs-llama-cpp'] = [join(here, 'vs-llama-cpp.js'), '--peer', process.env.LLAMA_CPP_PEER, '--synthetic', '110m', '--type', 'q8_0'];
// and against llama.cpp's own llama-bench built for this CPU (LLAMA_BENCH=path): issue 14's tests,
// tg64 and pp128 at 1 and 2 threads for the three 110M types (the CPU's family/model is printed)
if (process.env.LLAMA_BENCH) {
  for (const type of ['q4_k_m', 'q8_0', 'f32'])
    BENCHES[`vs-llama-bench-${type}`] = [join(here, 'vs-llama-cpp.js'), '--llama-bench', process.env.LLAMA_BENCH, '--synthetic', '110m', '--type', type, '-p', '128', '-n', '64', '-t', '1,2', '-r', '3'];
}

const wanted = process.argv.slice(2);
for (const w of wanted) {
  if (!(w in BENCHES)) {
    process.stderr.write(`unknown benchmark '${w}'; choose from: ${Object.keys(BENCHES).join(', ')}\n`);
    process.exit(2);
  }
}
let failed = 0;
for (const [name, argv] of Object.entries(BENCHES)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  process.stdout.write(`\n## ${name}: node ${argv.map((a) => a.replace(root + '/', '')).join(' ')}\n`);
  const r = spawnSync(process.execPath, argv, { stdio: 'inherit', cwd: root });
  if (r.status !== 0) {
    failed++;
    process.stdout.write(`(${name} exited with status ${r.status})\n`);
  }
}
process.exit(failed ? 1 : 0);
