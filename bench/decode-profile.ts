// Where a decode token's time goes: every Backend call of a real forward pass is timed, grouped by
// op kind (matmuls by weight shape), next to the streaming read bandwidth measured right before.
// A matmul's "at the limit" time is its weight bytes over that bandwidth; the rest of the token
// (small ops, N-API calls, JS glue between calls) is time no weight is streamed.
//
//   node dist/bench/decode-profile.js [--type q8_0|f32|q4_k_m] [--threads 1] [-n 64] [--kv-type f32|f16] [--tune knob=v]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Backend, Weight } from '../src/backend/backend.js';
import { loadNativeBackend, nativeUnavailableReason } from '../src/backend/native/index.js';
import { loadAddon } from '../src/backend/native/addon.js';
import { createWasmBackend, wasmUnavailableReason } from '../src/backend/wasm/index.js';
import { SYNTHETIC_MIXES, SYNTHETIC_TYPES, writeSyntheticGguf } from '../src/bench/synthetic.js';
import { LlamaModel } from '../src/model/llama.js';
import { loadModel } from '../src/model/load.js';
import { DType, dtypeName } from '../src/tensor/dtype.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

async function main(): Promise<void> {
  const typeName = arg('type', 'q8_0');
  const threads = Number(arg('threads', '1'));
  const gen = Number(arg('n', '64'));
  const reps = Number(arg('reps', '3'));
  const shape = arg('shape', '110m');
  const backendName = arg('backend', 'native');
  const be = backendName === 'wasm' ? await createWasmBackend({ threads }) : loadNativeBackend({ threads });
  if (!be) throw new Error(backendName === 'wasm' ? `wasm backend unavailable: ${wasmUnavailableReason()}` : `native backend unavailable: ${nativeUnavailableReason()}`);
  const tune = arg('tune', '');
  const addon = tune ? (loadAddon().addon as unknown as { setTuning(name: string, v: number): void }) : undefined;
  for (const kv of tune ? tune.split(',') : []) {
    const [k, v] = kv.split('=');
    addon!.setTuning(k!, Number(v));
  }
  const type = (SYNTHETIC_TYPES[typeName] as DType | undefined) ?? SYNTHETIC_MIXES[typeName];
  if (type === undefined) throw new Error(`unknown type ${typeName}`);
  const dir = mkdtempSync(join(tmpdir(), 'decode-profile-'));
  try {
    const path = join(dir, 'm.gguf');
    writeSyntheticGguf(path, shape, type);
    const loaded = await loadModel(path);
    const model = await LlamaModel.create(loaded, be);
    loaded.close();

    // time every call through a wrapper backend
    const acc = new Map<string, { ms: number; calls: number; bytes: number }>();
    // the weight's bytes as the backend holds them (wasm: codes + float scales)
    const bytesOf = (w: Weight) => { const h = w as unknown as { bytes: number; dbytes?: number }; return h.bytes + (h.dbytes ?? 0); };
    let enabled = false;
    const timed = new Proxy(be as Backend, {
      get(target, prop, recv) {
        const v = Reflect.get(target, prop, recv);
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) => {
          if (!enabled) return v.apply(target, args);
          const t0 = performance.now();
          const r = v.apply(target, args);
          const dt = performance.now() - t0;
          let key = String(prop), bytes = 0;
          if (prop === 'matmul') {
            const w = args[2] as Weight;
            key = `matmul ${w.rows}x${w.cols} ${dtypeName(w.type)}`;
            bytes = bytesOf(w);
          }
          const e = acc.get(key) ?? { ms: 0, calls: 0, bytes: 0 };
          e.ms += dt;
          e.calls++;
          e.bytes += bytes;
          acc.set(key, e);
          return r;
        };
      },
    });
    const m = new LlamaModel(model.config, timed, model.params, undefined);
    const kvName = arg('kv-type', 'f32');
    if (kvName !== 'f32' && kvName !== 'f16') throw new Error(`--kv-type must be f32 or f16, got '${kvName}'`);
    const session = m.newSession({ ctxSize: gen + 16, kvType: kvName === 'f16' ? DType.F16 : DType.F32 });
    m.forward(session, [1, 2, 3, 4]);
    const walls: number[] = [], plain: number[] = [];
    const bw = median([...be.readBandwidth(256 << 20, 3)]);
    for (let r = 0; r < reps; r++) {
      // an untimed run first (the wrapper's own cost is not in it), then a timed one
      for (const t of [false, true]) {
        session.reset();
        enabled = t;
        const s = performance.now();
        let tok = 1;
        for (let i = 0; i < gen; i++) tok = be.argmax(m.forward(session, [tok]), model.config.vocabSize);
        (t ? walls : plain).push((performance.now() - s) / gen);
        enabled = false;
      }
    }
    const tokens = gen * reps;
    const wall = median(walls);
    process.stdout.write(`${shape} ${typeName} threads ${be.threads}: ${(1000 / median(plain)).toFixed(1)} tok/s unwrapped (${median(plain).toFixed(3)} ms/token), wrapped ${wall.toFixed(3)} ms/token; read limit ${bw.toFixed(1)} GB/s\n`);
    process.stdout.write('| op | calls/token | ms/token | % of token | GB/s | ms at the limit |\n|---|--:|--:|--:|--:|--:|\n');
    let inOps = 0, atLimit = 0, mmMs = 0;
    for (const [k, e] of [...acc.entries()].sort((a, b) => b[1].ms - a[1].ms)) {
      const ms = e.ms / tokens;
      inOps += ms;
      const lim = e.bytes ? e.bytes / tokens / (bw * 1e6) : 0;
      atLimit += lim;
      if (e.bytes) mmMs += ms;
      const gbs = e.bytes ? (e.bytes / (e.ms / 1000) / 1e9).toFixed(1) : '';
      process.stdout.write(`| ${k} | ${(e.calls / tokens).toFixed(0)} | ${ms.toFixed(3)} | ${((100 * ms) / wall).toFixed(1)}% | ${gbs} | ${lim ? lim.toFixed(3) : ''} |\n`);
    }
    process.stdout.write(`| (JS between calls) | | ${(wall - inOps).toFixed(3)} | ${((100 * (wall - inOps)) / wall).toFixed(1)}% | | |\n`);
    process.stdout.write(`matmuls ${mmMs.toFixed(3)} ms/token (${atLimit.toFixed(3)} at the read limit, ${((100 * atLimit) / mmMs).toFixed(0)}%); everything else ${(wall - mmMs).toFixed(3)} ms\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
