// Token sampling as a chain of small steps, each with one job (llama.cpp's sampler-chain design):
// every step narrows or reshapes a candidate list, and the last one picks a token. A step may keep
// state across tokens (`accept` is told every token that enters the sequence, `reset` forgets).
//
// Default order (when built from options): logit bias -> penalties -> temperature -> top-k ->
// typical-p -> top-p -> min-p -> pick (seeded multinomial, or greedy when temperature is 0).
// Temperature before the probability filters follows Meta's generate (softmax(logits / T), then
// top-p).
import { Rng } from './rng.js';
import { Candidates } from './candidates.js';
import { LlamaError, UsageError } from '../errors.js';

export { Candidates };

export interface SamplerContext {
  readonly rng: Rng;
}

export interface Sampler {
  readonly name: string;
  apply(c: Candidates, ctx: SamplerContext): void;
  /** a token entered the sequence (prompt tokens too) */
  accept?(token: number): void;
  reset?(): void;
}

/** Add a fixed bias to chosen tokens' logits (-Infinity bans a token). */
export function logitBias(bias: ReadonlyMap<number, number> | Readonly<Record<number, number>>): Sampler {
  const entries = bias instanceof Map ? [...bias.entries()] : Object.entries(bias).map(([k, v]) => [Number(k), v] as [number, number]);
  return {
    name: 'logit-bias',
    apply(c) {
      for (const [id, b] of entries) {
        const i = c.indexOf(id);
        if (i >= 0) c.logits[i] = c.logits[i]! + b;
      }
      c.sorted = false;
    },
  };
}

export interface PenaltyOptions {
  /** how many recent tokens count (llama.cpp penalty_last_n); default 64, 0 = off, -1 = all of them */
  window?: number;
  /** divide positive logits / multiply negative ones by this for tokens seen in the window; 1 = off */
  repeat?: number;
  /** subtract frequency · count */
  frequency?: number;
  /** subtract presence once if the token was seen */
  presence?: number;
}

/** Repetition, frequency and presence penalties over the last `window` tokens (llama.cpp semantics). */
export function penalties(opts: PenaltyOptions): Sampler {
  // -1 is llama.cpp's "the whole context": a session never holds more than its context anyway
  const window = opts.window === -1 ? Infinity : (opts.window ?? 64);
  const repeat = opts.repeat ?? 1;
  const frequency = opts.frequency ?? 0;
  const presence = opts.presence ?? 0;
  const recent: number[] = [];
  const counts = new Map<number, number>();
  return {
    name: 'penalties',
    accept(token) {
      if (window <= 0) return;
      recent.push(token);
      counts.set(token, (counts.get(token) ?? 0) + 1);
      if (recent.length > window) {
        const old = recent.shift()!;
        const c = counts.get(old)! - 1;
        if (c === 0) counts.delete(old);
        else counts.set(old, c);
      }
    },
    reset() {
      recent.length = 0;
      counts.clear();
    },
    apply(c) {
      for (const [id, count] of counts) {
        const i = c.indexOf(id);
        if (i < 0) continue;
        let l = c.logits[i]!;
        l = l <= 0 ? l * repeat : l / repeat;
        l -= count * frequency + presence;
        c.logits[i] = l;
      }
      c.sorted = false;
    },
  };
}

/** Divide logits by t. t <= 0 keeps only the most likely token (greedy). */
export function temperature(t: number): Sampler {
  return {
    name: 'temperature',
    apply(c) {
      if (t <= 0) {
        c.keepTop(1);
        return;
      }
      if (t === 1) return;
      const l = c.logits;
      for (let i = 0, n = c.n; i < n; i++) l[i] = l[i]! / t;
    },
  };
}

/** Keep the k most likely tokens (k <= 0: off). */
export function topK(k: number): Sampler {
  return {
    name: 'top-k',
    apply(c) {
      if (k <= 0 || k >= c.n) return;
      c.keepTop(k);
    },
  };
}

/**
 * Nucleus sampling as Meta's sample_top_p: sort by probability, drop every token whose preceding
 * cumulative probability already exceeds p. The token that crosses p is kept.
 */
export function topP(p: number): Sampler {
  return {
    name: 'top-p',
    apply(c) {
      if (p >= 1 || c.n <= 1) return;
      let max = -Infinity;
      for (let i = 0; i < c.n; i++) max = Math.max(max, c.logits[i]!);
      let z = 0;
      for (let i = 0; i < c.n; i++) z += Math.exp(c.logits[i]! - max);
      const prob = (i: number) => Math.exp(c.logits[i]! - max) / z;
      // Only tokens with probability >= (1 - p) / (n - 1) can be in the nucleus (llama2.c's
      // observation: the rest weigh less than 1 - p together, so the cumulative sum crosses p
      // before reaching them). Sorting just those keeps this cheap for a 32k-128k vocabulary.
      let order: number[];
      if (c.sorted) order = Array.from({ length: c.n }, (_, i) => i);
      else {
        const cutoff = (1 - p) / (c.n - 1);
        order = [];
        for (let i = 0; i < c.n; i++) if (prob(i) >= cutoff) order.push(i);
        order.sort((a, b) => c.logits[b]! - c.logits[a]! || a - b);
        // (when p < 1/n every token can fall below the cutoff; then the best token alone crosses p)
        if (order.length === 0) order = c.bestPositions(1);
      }
      let cum = 0;
      let keep = order.length;
      for (let i = 0; i < order.length; i++) {
        if (cum > p) {
          keep = i;
          break;
        }
        cum += prob(order[i]!);
      }
      c.keepOrdered(keep === order.length ? order : order.slice(0, keep));
    },
  };
}

/** Keep tokens whose probability is at least minP times the top token's (Nguyen et al. 2024). */
export function minP(minP: number): Sampler {
  return {
    name: 'min-p',
    apply(c) {
      if (minP <= 0) return;
      // p_i >= minP * p_max  <=>  exp(logit_i - max) >= minP; the order is kept as it was
      let max = -Infinity;
      for (let i = 0; i < c.n; i++) max = Math.max(max, c.logits[i]!);
      const keep: number[] = [];
      for (let i = 0; i < c.n; i++) if (Math.exp(c.logits[i]! - max) >= minP) keep.push(i);
      if (keep.length < c.n) {
        const wasSorted = c.sorted;
        c.permute(keep);
        c.sorted = wasSorted;
      }
    },
  };
}

/**
 * Locally typical sampling (Meister et al. 2022): rank tokens by |−log p − H| (distance of their
 * information content from the entropy H) and keep the most typical ones until their cumulative
 * probability exceeds p (the crossing token is kept), as llama.cpp does.
 */
export function typicalP(p: number): Sampler {
  return {
    name: 'typical-p',
    apply(c) {
      if (p >= 1) return;
      c.softmax();
      let entropy = 0;
      for (let i = 0; i < c.n; i++) {
        const q = c.probs[i]!;
        if (q > 0) entropy -= q * Math.log(q);
      }
      const dist = new Float64Array(c.n);
      for (let i = 0; i < c.n; i++) dist[i] = Math.abs(-Math.log(c.probs[i]!) - entropy);
      const order = Array.from({ length: c.n }, (_, i) => i).sort((a, b) => dist[a]! - dist[b]! || a - b);
      let cum = 0;
      let keep = order.length;
      for (let i = 0; i < order.length; i++) {
        cum += c.probs[order[i]!]!;
        if (cum > p) {
          keep = i + 1;
          break;
        }
      }
      c.permute(order.slice(0, keep));
    },
  };
}

/** Final step: the most likely token (lowest id on ties). */
export function greedy(): Sampler {
  return {
    name: 'greedy',
    apply(c) {
      if (c.n === 0) return; // nothing left: the chain reports it
      const l = c.logits, ids = c.ids;
      let best = 0;
      for (let i = 1, n = c.n; i < n; i++) {
        const d = l[i]! - l[best]!;
        if (d > 0 || (d === 0 && ids[i]! < ids[best]!)) best = i;
      }
      if (c.logits[best] === -Infinity) return; // every candidate is banned
      c.selected = c.ids[best]!;
    },
  };
}

/** Final step: draw from softmax(logits) of the live candidates with the seeded RNG. */
export function dist(): Sampler {
  return {
    name: 'dist',
    apply(c, { rng }) {
      if (c.n === 0) return; // nothing left: the chain reports it
      c.softmax();
      if (!(c.probs[0]! >= 0)) return; // every candidate is banned (-Infinity): softmax is NaN
      const r = rng.nextFloat();
      let cdf = 0;
      for (let i = 0; i < c.n; i++) {
        cdf += c.probs[i]!;
        if (r < cdf) {
          c.selected = c.ids[i]!;
          return;
        }
      }
      c.selected = c.ids[c.n - 1]!; // rounding left r >= the total
    },
  };
}

/** Runs its samplers in order over fresh candidates built from the logits; the last one picks. */
export class SamplerChain {
  readonly rng: Rng;

  /** the candidates of the previous row, reused for the next (see Candidates.reset) */
  private scratch: Candidates | undefined;

  constructor(readonly samplers: readonly Sampler[], seed: number | bigint = 0) {
    this.rng = new Rng(seed);
  }

  /** Fresh candidates from one row of logits, in the arrays of the previous row's. */
  protected candidates(logits: ArrayLike<number>): Candidates {
    return this.scratch ? this.scratch.reset(logits) : (this.scratch = new Candidates(logits));
  }

  /** Choose the next token from one row of logits (vocab). */
  sample(logits: ArrayLike<number>): number {
    checkLogits(logits);
    const c = this.candidates(logits);
    for (const s of this.samplers) s.apply(c, this);
    if (c.selected < 0) {
      const last = this.samplers[this.samplers.length - 1]?.name;
      if (last !== 'greedy' && last !== 'dist') throw new LlamaError('INTERNAL', 'the sampler chain has no final step (greedy or dist)');
      // with validated options only a logit bias of -Infinity on every surviving token gets here
      throw new LlamaError('USAGE', 'no token can be sampled: every candidate was filtered out or has a logit of -Infinity', {
        hint: 'check the logit bias (a bias of -Infinity bans a token) and the sampling filters',
      });
    }
    return c.selected;
  }

  accept(token: number): void {
    for (const s of this.samplers) s.accept?.(token);
  }

  reset(seed?: number | bigint): void {
    for (const s of this.samplers) s.reset?.();
    if (seed !== undefined) this.rng.seed(seed);
  }
}

/**
 * NaN or +Infinity in the model's logits means the weights (or a kernel) produced garbage: say so
 * instead of sampling a meaningless token. -Infinity is allowed (a banned token).
 */
export function checkLogits(logits: ArrayLike<number>): void {
  // one comparison a value (NaN and +Infinity both fail `< Infinity`), on the typed row the model
  // returns; the message's detail comes from the generic loop below
  if (logits instanceof Float32Array) {
    let ok = true;
    for (let i = 0, n = logits.length; i < n; i++) if (!(logits[i]! < Infinity)) ok = false;
    if (ok) return;
  }
  for (let i = 0; i < logits.length; i++) {
    const l = logits[i]!;
    if (l !== l || l === Infinity) {
      throw new LlamaError('MODEL_NUMERIC', `the model produced ${l !== l ? 'NaN' : 'infinite'} logits (token ${i} of ${logits.length})`, {
        hint: 'the weights may be corrupt or wrongly converted: check the file (llama inspect), re-download or re-convert it, or try --backend js',
      });
    }
  }
}

export interface SamplingOptions {
  /** 0 = greedy; default 0.8 */
  temperature?: number;
  /** default 40 (0 = off) */
  topK?: number;
  /** default 0.95 (1 = off) */
  topP?: number;
  /** default 0.05 (0 = off) */
  minP?: number;
  /** default 1 (off) */
  typicalP?: number;
  /** default 1 (off) */
  repeatPenalty?: number;
  frequencyPenalty?: number;
  presencePenalty?: number;
  /** tokens the penalties look back over; default 64, 0 = off, -1 = the whole context */
  penaltyWindow?: number;
  /** token id -> added to its logit (finite, or -Infinity to ban it) */
  logitBias?: ReadonlyMap<number, number> | Readonly<Record<number, number>>;
  /** any safe integer or a bigint; default: random */
  seed?: number | bigint;
}

/** Display names for the options in error messages (the CLI passes its flag names). */
export type OptionNames = Partial<Record<string, string>>;

type Check = (v: number) => boolean;
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Throws a USAGE error naming the option and its allowed range unless `v` is absent or `ok`. */
export function checkOption(names: OptionNames, key: string, v: unknown, range: string, ok: Check): void {
  if (v === undefined) return;
  if (typeof v !== 'number' || Number.isNaN(v) || !ok(v)) {
    const name = names[key] ?? key;
    throw new UsageError(`${name} must be ${range}, got ${typeof v === 'string' ? `'${v}'` : String(v)}`, `set ${name} to ${range}`);
  }
}

/**
 * Validate every sampling option (called by createSampler and generate, and so by the CLI): a
 * USAGE error naming the option and its allowed range, never a crash or silent garbage later.
 */
export function validateSamplingOptions(o: SamplingOptions, names: OptionNames = {}): void {
  const c = (key: keyof SamplingOptions, range: string, ok: Check) => checkOption(names, key, o[key], range, ok);
  c('temperature', 'a finite number >= 0 (0 = greedy)', (v) => isNum(v) && v >= 0);
  c('topK', 'a whole number >= 0 (0 = off)', (v) => Number.isSafeInteger(v) && v >= 0);
  c('topP', 'a number in (0, 1] (1 = off)', (v) => isNum(v) && v > 0 && v <= 1);
  c('minP', 'a number in [0, 1] (0 = off)', (v) => isNum(v) && v >= 0 && v <= 1);
  c('typicalP', 'a number in (0, 1] (1 = off)', (v) => isNum(v) && v > 0 && v <= 1);
  c('repeatPenalty', 'a finite number > 0 (1 = off)', (v) => isNum(v) && v > 0);
  c('frequencyPenalty', 'a finite number', isNum);
  c('presencePenalty', 'a finite number', isNum);
  c('penaltyWindow', 'a whole number >= -1 (0 = off, -1 = the whole context)', (v) => Number.isSafeInteger(v) && v >= -1);
  if (o.seed !== undefined && typeof o.seed !== 'bigint') {
    c('seed', 'a whole number with |seed| < 2^53 (or a bigint)', (v) => Number.isSafeInteger(v));
  }
  if (o.logitBias !== undefined) {
    const name = names.logitBias ?? 'logitBias';
    if (o.logitBias === null || typeof o.logitBias !== 'object') throw new UsageError(`${name} must be a Map or an object of token id -> bias`);
    const entries = o.logitBias instanceof Map ? [...o.logitBias.entries()] : Object.entries(o.logitBias);
    for (const [k, b] of entries) {
      const id = Number(k);
      if (!(Number.isSafeInteger(id) && id >= 0)) throw new UsageError(`${name}: '${String(k)}' is not a token id`, 'token ids are whole numbers >= 0');
      if (!(typeof b === 'number' && (Number.isFinite(b) || b === -Infinity))) {
        throw new UsageError(`${name}: the bias of token ${id} must be a finite number or -Infinity (ban), got ${String(b)}`);
      }
    }
  }
}

export const SAMPLING_DEFAULTS = { temperature: 0.8, topK: 40, topP: 0.95, minP: 0.05, typicalP: 1, repeatPenalty: 1, penaltyWindow: 64 } as const;

/** The usual chain from plain options (temperature 0 -> greedy, nothing else matters then but bias/penalties). */
export function createSampler(o: SamplingOptions = {}): SamplerChain {
  validateSamplingOptions(o);
  const t = o.temperature ?? SAMPLING_DEFAULTS.temperature;
  const chain: Sampler[] = [];
  if (o.logitBias) chain.push(logitBias(o.logitBias));
  const repeat = o.repeatPenalty ?? SAMPLING_DEFAULTS.repeatPenalty;
  if (repeat !== 1 || (o.frequencyPenalty ?? 0) !== 0 || (o.presencePenalty ?? 0) !== 0) {
    chain.push(penalties({ window: o.penaltyWindow ?? SAMPLING_DEFAULTS.penaltyWindow, repeat, frequency: o.frequencyPenalty ?? 0, presence: o.presencePenalty ?? 0 }));
  }
  if (t <= 0) {
    chain.push(greedy());
  } else {
    chain.push(temperature(t));
    chain.push(topK(o.topK ?? SAMPLING_DEFAULTS.topK));
    chain.push(typicalP(o.typicalP ?? SAMPLING_DEFAULTS.typicalP));
    chain.push(topP(o.topP ?? SAMPLING_DEFAULTS.topP));
    chain.push(minP(o.minP ?? SAMPLING_DEFAULTS.minP));
    chain.push(dist());
  }
  const seed = o.seed ?? Math.floor(Math.random() * 2 ** 32);
  return new SamplerChain(chain, seed);
}
