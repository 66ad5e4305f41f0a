// `llama bench`: pp/tg speed of a model file (or a synthetic random-weight model) against this
// machine's limits measured in the same run. See src/bench/llama-bench.ts for what is measured.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from '../command.js';
import { bool, num, str } from '../args.js';
import { LlamaError, UsageError, bench, formats, models } from '../../index.js';
const { formatTable, modelLabel, runBench, SYNTHETIC_SHAPES, SYNTHETIC_TYPES, SYNTHETIC_MIXES, writeSyntheticGguf } = bench;
const { DType, dtypeName } = formats;
const { loadModel } = models;
type LoadedModel = models.LoadedModel;

function parseThreads(v: string): number[] {
  const out = v.split(',').map((s) => Number(s.trim()));
  if (out.length === 0 || out.some((n) => !Number.isInteger(n) || n < 1 || n > 256)) throw new UsageError(`-t needs a comma-separated list of thread counts 1..256, got '${v}'`);
  return out;
}

export const command: Command = {
  spec: {
    name: 'bench',
    summary: 'measure prompt processing and generation speed against this machine\'s limits',
    usage: '-m FILE [-p 128] [-n 64] [-t 1,2] [-r 5] [--json] | --synthetic 7b|110m --type q4_0|q8_0|q4_k_m|f16|f32 [--save PATH]',
    options: {
      model: { kind: 'string', short: 'm', arg: 'FILE', help: 'model file (GGUF or any format `llama run` reads)' },
      'n-prompt': { kind: 'int', short: 'p', arg: 'N', help: 'prompt tokens processed in one batch (0 to skip)', default: 128 },
      'n-gen': { kind: 'int', short: 'n', arg: 'N', help: 'tokens generated one at a time (0 to skip)', default: 64 },
      threads: { kind: 'string', short: 't', arg: 'LIST', help: 'thread counts to test, comma-separated (default: 1,2)' },
      repetitions: { kind: 'int', short: 'r', arg: 'N', help: 'repetitions per test', default: 5 },
      json: { kind: 'boolean', help: 'print one JSON array instead of the table' },
      backend: { kind: 'string', arg: 'NAME', help: 'js | native | wasm | auto (default: LLAMA_BACKEND or auto)' },
      synthetic: { kind: 'string', arg: 'SHAPE', help: `benchmark a random-weight model of this shape (${Object.keys(SYNTHETIC_SHAPES).join(', ')})` },
      type: { kind: 'string', arg: 'TYPE', help: `weight type of the synthetic model (${[...Object.keys(SYNTHETIC_TYPES), ...Object.keys(SYNTHETIC_MIXES)].join(', ')}; q4_k_m: Q4_K with Q6_K where llama-quantize puts it)`, default: 'q8_0' },
      save: { kind: 'string', arg: 'PATH', help: 'keep the synthetic GGUF at PATH (default: a temporary file, deleted afterwards)' },
      'kv-type': { kind: 'string', arg: 'TYPE', help: 'KV cache storage, f32 (as `llama run` by default) or f16 (as llama-bench by default)', default: 'f32' },
    },
    details: 'examples:\n  llama bench --synthetic 110m --type f32 -t 1,2\n  llama bench -m model.gguf -p 128 -n 64 -r 5 --json',
  },
  async run(args) {
    const modelPath = str(args, 'model');
    const synthetic = str(args, 'synthetic');
    if ((modelPath === undefined) === (synthetic === undefined)) throw new UsageError('give either -m FILE or --synthetic SHAPE', 'llama bench --help');
    const prompt = num(args, 'n-prompt')!, gen = num(args, 'n-gen')!, reps = num(args, 'repetitions')!;
    if (prompt < 0 || gen < 0 || (prompt === 0 && gen === 0)) throw new UsageError('-p and -n must be >= 0 and not both 0');
    if (reps < 1) throw new UsageError('-r must be at least 1');
    const threadsArg = str(args, 'threads');
    const threads = threadsArg !== undefined ? parseThreads(threadsArg) : [1, 2];
    const backend = (str(args, 'backend') ?? process.env.LLAMA_BACKEND ?? 'auto').toLowerCase();
    if (!['js', 'native', 'wasm', 'auto'].includes(backend)) throw new UsageError(`unknown backend '${backend}'`, 'choose js, native, wasm or auto');
    const log = (line: string) => process.stderr.write(line + '\n');
    const kvName = (str(args, 'kv-type') ?? 'f32').toLowerCase();
    if (kvName !== 'f32' && kvName !== 'f16') throw new UsageError(`--kv-type must be f32 or f16, got '${kvName}'`);
    const kvType = kvName === 'f16' ? DType.F16 : DType.F32;

    let path: string;
    let tmpDir: string | undefined;
    let label: string;
    if (synthetic !== undefined) {
      const shape = synthetic.toLowerCase();
      const typeName = (str(args, 'type') ?? 'q8_0').toLowerCase();
      const type = (SYNTHETIC_TYPES[typeName] as formats.DType | undefined) ?? SYNTHETIC_MIXES[typeName];
      if (!SYNTHETIC_SHAPES[shape]) throw new UsageError(`unknown synthetic shape '${synthetic}'`, `choose one of: ${Object.keys(SYNTHETIC_SHAPES).join(', ')}`);
      if (type === undefined) throw new UsageError(`unknown synthetic type '${typeName}'`, `choose one of: ${[...Object.keys(SYNTHETIC_TYPES), ...Object.keys(SYNTHETIC_MIXES)].join(', ')}`);
      const save = str(args, 'save');
      if (save !== undefined) path = resolve(save);
      else {
        tmpDir = mkdtempSync(join(tmpdir(), 'llama-bench-'));
        path = join(tmpDir, `synthetic-${shape}-${typeName}.gguf`);
      }
      log(`writing a random-weight ${shape} ${typeof type === 'string' ? type.toUpperCase() : dtypeName(type)} model to ${path}...`);
      const t0 = performance.now();
      const bytes = writeSyntheticGguf(path, shape, type);
      log(`  ${(bytes / 1e9).toFixed(2)} GB in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      label = `synthetic-${shape}`;
    } else {
      path = modelPath!;
      if (!existsSync(path)) throw new LlamaError('MODEL_NOT_FOUND', 'no such file or directory', { file: path, hint: 'check the path given with -m, or benchmark a random-weight model with --synthetic 110m' });
      label = modelLabel(path);
    }
    try {
      const t0 = performance.now();
      const holder = { loaded: await loadModel(path) as LoadedModel | undefined };
      log(`opened ${path} in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
      const results = await runBench(holder, { prompt, gen, threads, reps, backend, modelName: label, log, kvType });
      process.stdout.write(args.values.json === true || bool(args, 'json') ? JSON.stringify(results, null, 2) + '\n' : formatTable(results));
    } finally {
      if (tmpDir) rmSync(tmpDir, { recursive: true, force: true });
    }
    return 0;
  },
};
