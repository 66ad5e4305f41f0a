// `llama bench`: prompt processing (pp) and text generation (tg) speed of a real forward pass
// (LlamaModel), like llama.cpp's llama-bench, reported against this machine's limits measured in
// the same run at the same thread count:
//   tg: weight bytes read per token x tok/s, as a percentage of the streaming read bandwidth;
//   pp: 2 x matmul parameters x tok/s, as a percentage of the FMA throughput.
// The machine is shared and noisy (the 2-thread read bandwidth was seen to move between ~35 and
// ~60 GB/s from one second to the next), so every repetition is paired with a limit measurement
// taken right before it: the percentage is the median of the per-repetition ratios, and the limit
// column the median of those measurements.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { Backend, Weight } from '../backend/backend.js';
import { JsBackend } from '../backend/js/js-backend.js';
import { loadNativeBackend, NativeBackend, nativeUnavailableReason } from '../backend/native/index.js';
import { loadWasmBackend, WasmBackend, wasmUnavailableReason } from '../backend/wasm/index.js';
import { LlamaModel, type ModelParams } from '../model/llama.js';
import type { LoadedModel } from '../model/loaded.js';
import { DType, dtypeName } from '../tensor/dtype.js';
import { dequantize } from '../tensor/quant.js';
import { numElements, type HostTensor } from '../tensor/tensor.js';
import { LlamaError } from '../errors.js';

export interface BenchResult {
  test: string;
  threads: number;
  tokens_per_second: number;
  min: number;
  max: number;
  repetitions: number;
  /** tg: weight bytes streamed per second (GB/s) */
  gbs: number | null;
  /** tg: streaming read bandwidth measured in this run at this thread count (GB/s) */
  limit_gbs: number | null;
  /** tg: weight GB/s over the read bandwidth, pp: GFLOP/s over the FMA peak (in %), each the
   *  median over repetitions of that repetition against the limit measured right before it */
  percent_of_limit: number | null;
  /** pp: matmul GFLOP/s */
  gflops: number | null;
  /** pp: FMA throughput measured in this run at this thread count (GFLOP/s) */
  peak_gflops: number | null;
  backend: string;
  model: string;
  type: string;
}

export interface BenchOptions {
  readonly prompt: number; // -p
  readonly gen: number; // -n
  readonly threads: readonly number[]; // -t
  readonly reps: number; // -r
  readonly backend: string; // js | native | auto
  readonly modelName: string;
  readonly log: (line: string) => void;
  /** KV cache storage (default F32) */
  readonly kvType?: DType;
  /** called after each timed repetition (a peer's run can be slotted in, alternating with ours) */
  readonly afterRepetition?: (test: 'pp' | 'tg', threads: number, rep: number) => void | Promise<void>;
}

/**
 * This process's anonymous memory and the part of it in transparent huge pages (Linux
 * /proc/self/smaps_rollup, in bytes), or undefined elsewhere. Decode streams the repacked weights
 * (anonymous memory); when the kernel could not give them 2 MiB pages (memory fragmented, e.g.
 * by a page cache full of the model file), every 4 KiB costs a TLB miss and tg falls well below
 * the read limit, a cause of run-to-run spread worth seeing in the log.
 */
export function hugePageShare(): { anon: number; huge: number } | undefined {
  try {
    const text = readFileSync('/proc/self/smaps_rollup', 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) * 1024;
    const anon = kb('Anonymous'), huge = kb('AnonHugePages');
    return Number.isFinite(anon) && Number.isFinite(huge) ? { anon, huge } : undefined;
  } catch {
    return undefined;
  }
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * What one token's forward pass reads and computes, from the weights as stored. `outputParams` is
 * the output layer's share of `matmulParams`: a prompt runs it for its last token only.
 */
export function modelCost(loaded: LoadedModel): { matmulBytes: number; matmulParams: number; outputParams: number; type: string } {
  const w = loaded.weights;
  const mats: HostTensor[] = [];
  for (const L of w.layers) mats.push(L.wq, L.wk, L.wv, L.wo, L.w1, L.w2, L.w3);
  const output = w.output ?? w.tokEmbeddings; // tied: the embedding matrix is read as the output layer
  mats.push(output);
  let bytes = 0, params = 0;
  for (const t of mats) {
    bytes += t.data.byteLength;
    params += numElements(t.shape);
  }
  // name the model by the type most of its bytes are in (llama.cpp's Q4_0 files keep output in Q6_K)
  const byType = new Map<DType, number>();
  for (const t of mats) byType.set(t.type, (byType.get(t.type) ?? 0) + t.data.byteLength);
  const type = [...byType.entries()].sort((a, b) => b[1] - a[1])[0]![0];
  return { matmulBytes: bytes, matmulParams: params, outputParams: numElements(output.shape), type: dtypeName(type) };
}

/**
 * Matmul FLOPs per prompt token of a T-token prompt: every layer for every token, the output layer
 * once (only the last token's logits are computed).
 */
export function promptFlopsPerToken(cost: { matmulParams: number; outputParams: number }, T: number): number {
  return 2 * (cost.matmulParams - cost.outputParams + cost.outputParams / T);
}

function makeBackend(name: string, threads: number): Backend {
  switch (name) {
    case 'js':
      return new JsBackend();
    case 'wasm': {
      const w = loadWasmBackend({ threads });
      if (w) return w;
      throw new LlamaError('BACKEND_UNAVAILABLE', `the wasm backend is not available: ${wasmUnavailableReason()}`, { hint: 'use --backend js' });
    }
    case 'native':
    case 'auto': {
      const b = loadNativeBackend({ threads });
      if (b) return b;
      if (name === 'auto') return loadWasmBackend({ threads }) ?? new JsBackend();
      throw new LlamaError('BACKEND_UNAVAILABLE', `the native backend is not available: ${nativeUnavailableReason()}`, { hint: 'use --backend js' });
    }
    default:
      throw new LlamaError('USAGE', `unknown backend '${name}'`, { hint: 'choose js, native, wasm or auto' });
  }
}

/** Measure the machine's limits at `threads` with native code (undefined without the addon). */
function limits(threads: number, which: 'bw' | 'fma'): number | undefined {
  const nb = loadNativeBackend({ threads });
  if (!nb) return undefined;
  if (which === 'bw') return median([...nb.readBandwidth(256 * 1024 * 1024, 3)]);
  return Math.max(nb.fmaPeak(), nb.fmaPeak());
}

function randomTokens(n: number, vocab: number, seed: number): number[] {
  let s = seed >>> 0 || 1;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out.push(s % vocab);
  }
  return out;
}

/** The model file, handed over: runBench drops it once the backend holds the weights. */
export interface BenchModelHolder {
  loaded: LoadedModel | undefined;
}

/**
 * Load the weights into the first backend, then forget the host copy: repacked weights (Q8_0,
 * Q4_0 on native) then live only in native memory, so resident memory stays about the weights'
 * size; weights used in place stay referenced by the backend.
 */
async function prepare(holder: BenchModelHolder, first: Backend) {
  const loaded = holder.loaded!;
  holder.loaded = undefined;
  const cost = modelCost(loaded);
  const rf = loaded.weights.ropeFreqs;
  const ropeFreqs = rf ? dequantize(rf.type, rf.data, numElements(rf.shape)) : undefined;
  const m0 = await LlamaModel.create(loaded, first);
  loaded.close();
  return { cost, ropeFreqs, m0, config: loaded.config };
}

export async function runBench(holder: BenchModelHolder, opts: BenchOptions): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  // Weights are loaded into one backend instance; native instances share the process-wide addon,
  // so other thread counts reuse the same prepared weights.
  const first = makeBackend(opts.backend, opts.threads[0]!);
  if (first instanceof WasmBackend) await first.startThreads();
  opts.log(`loading weights into the ${first.name} backend...`);
  const t0 = performance.now();
  const { cost, ropeFreqs, m0, config } = await prepare(holder, first);
  {
    opts.log(`weights ready in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
    const hp = hugePageShare();
    if (hp) opts.log(`anonymous memory ${(hp.anon / 1e9).toFixed(2)} GB, in 2 MiB pages ${(hp.huge / 1e9).toFixed(2)} GB (weights are ${(cost.matmulBytes / 1e9).toFixed(2)} GB)`);
    for (const threads of opts.threads) {
      const backend = threads === opts.threads[0] ? first : makeBackend(opts.backend, threads);
      if (backend instanceof WasmBackend) await backend.startThreads();
      const effThreads = backend.threads;
      const model = backend === first ? m0 : new LlamaModel(config, backend, m0.params, ropeFreqs);
      const ctxSize = Math.max(opts.prompt, 0) + Math.max(opts.gen, 0) + 8;
      const session = model.newSession({ ctxSize, kvType: opts.kvType ?? DType.F32 });
      // warm-up, as llama-bench's (a whole prompt, then one token): page in the weights and the
      // scratch buffers a prompt of this size needs, wake the pool, JIT the JS side. With an
      // 8-token warm-up the first timed prompt paid those first touches (a golden tiny model's
      // pp128 at 2 threads: 23.6K tok/s in the first repetition against a median of 50.6K).
      model.forward(session, randomTokens(Math.max(opts.prompt, 1), config.vocabSize, 7));
      session.reset();
      model.forward(session, [1]);
      const common = { threads: effThreads, repetitions: opts.reps, backend: backend instanceof NativeBackend ? `native-${backend.isa}` : backend.name, model: opts.modelName, type: cost.type };

      if (opts.prompt > 0) {
        const peaks: number[] = [], speeds: number[] = [], ratios: number[] = [];
        for (let r = 0; r < opts.reps; r++) {
          const tokens = randomTokens(opts.prompt, config.vocabSize, 100 + r);
          const peak = limits(effThreads, 'fma');
          if (opts.afterRepetition) {
            // alternating with another program: each of its runs starts with this warm-up (see
            // above), and its run (or the tests before) evicted our weights and scratch from the
            // caches, so each repetition of ours gets the same (a tiny model's pp128 at 1 thread:
            // one repetition of three at 13-21K tok/s against 34-37K, in the cold caches)
            session.reset();
            model.forward(session, tokens);
          }
          session.reset();
          const s = performance.now();
          model.forward(session, tokens);
          const tps = opts.prompt / ((performance.now() - s) / 1000);
          await opts.afterRepetition?.('pp', effThreads, r);
          speeds.push(tps);
          if (peak !== undefined) {
            peaks.push(peak);
            ratios.push((100 * promptFlopsPerToken(cost, opts.prompt) * tps) / 1e9 / peak);
          }
        }
        const tps = median(speeds);
        const res: BenchResult = {
          test: `pp${opts.prompt}`, ...common, tokens_per_second: tps, min: Math.min(...speeds), max: Math.max(...speeds),
          gbs: null, limit_gbs: null, percent_of_limit: ratios.length ? median(ratios) : null, gflops: (promptFlopsPerToken(cost, opts.prompt) * tps) / 1e9,
          peak_gflops: peaks.length ? median(peaks) : null,
        };
        results.push(res);
        opts.log(`pp${opts.prompt} t=${effThreads}: ${tps.toFixed(2)} tok/s`);
      }

      if (opts.gen > 0) {
        const bws: number[] = [], speeds: number[] = [], ratios: number[] = [];
        for (let r = 0; r < opts.reps; r++) {
          const bw = limits(effThreads, 'bw');
          if (opts.afterRepetition) {
            session.reset();
            model.forward(session, [1]); // as the other program's warm-up: one token
          }
          session.reset();
          let tok = 1;
          const s = performance.now();
          for (let i = 0; i < opts.gen; i++) {
            const logits = model.forward(session, [tok]);
            tok = backend.argmax(logits, config.vocabSize);
          }
          const tps = opts.gen / ((performance.now() - s) / 1000);
          await opts.afterRepetition?.('tg', effThreads, r);
          speeds.push(tps);
          if (bw !== undefined) {
            bws.push(bw);
            ratios.push((100 * cost.matmulBytes * tps) / 1e9 / bw);
          }
        }
        const tps = median(speeds);
        results.push({
          test: `tg${opts.gen}`, ...common, tokens_per_second: tps, min: Math.min(...speeds), max: Math.max(...speeds),
          gbs: (cost.matmulBytes * tps) / 1e9, limit_gbs: bws.length ? median(bws) : null, percent_of_limit: ratios.length ? median(ratios) : null,
          gflops: null, peak_gflops: null,
        });
        opts.log(`tg${opts.gen} t=${effThreads}: ${tps.toFixed(2)} tok/s`);
      }
    }
  }
  freeAll(first, m0.params);
  return results;
}

function freeAll(backend: Backend, params: ModelParams): void {
  if (!backend.freeWeight) return;
  const seen = new Set<Weight>();
  const free = (w: Weight) => {
    if (!seen.has(w)) {
      seen.add(w);
      backend.freeWeight!(w);
    }
  };
  free(params.tokEmbeddings);
  free(params.output);
  for (const L of params.layers) for (const w of [L.wq, L.wk, L.wv, L.wo, L.w1, L.w2, L.w3]) free(w);
}

export function formatTable(results: readonly BenchResult[]): string {
  const head = ['model', 'type', 'backend', 'threads', 'test', 't/s (median)', 'min', 'max', 'GB/s', 'limit GB/s', 'GFLOP/s', 'peak GFLOP/s', '% of limit'];
  const rows = results.map((r) => [
    r.model, r.type, r.backend, String(r.threads), r.test, r.tokens_per_second.toFixed(2), r.min.toFixed(2), r.max.toFixed(2),
    r.gbs === null ? '' : r.gbs.toFixed(1), r.limit_gbs === null ? '' : r.limit_gbs.toFixed(1),
    r.gflops === null ? '' : r.gflops.toFixed(1), r.peak_gflops === null ? '' : r.peak_gflops.toFixed(0),
    r.percent_of_limit === null ? '' : `${r.percent_of_limit.toFixed(1)}%`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i >= 3 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  return [line(head), `|${widths.map((w, i) => (i >= 3 ? '-'.repeat(w + 1) + ':' : '-'.repeat(w + 2))).join('|')}|`, ...rows.map(line)].join('\n') + '\n';
}

export function modelLabel(path: string): string {
  return basename(path);
}
