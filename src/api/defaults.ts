// Generation defaults a model ships with: GGUF `general.sampling.*` (llama.cpp's keys) or a Hugging
// Face generation_config.json beside the weights; what neither says comes from SAMPLING_DEFAULTS.
import { existsSync, readFileSync, statSync } from '../platform/fs.js';
import { dirname, join } from '../platform/path.js';
import type { SamplingOptions } from '../generate/sampler.js';

type NumericKey = 'temperature' | 'topK' | 'topP' | 'minP' | 'typicalP' | 'repeatPenalty' | 'penaltyWindow';

export interface GenerationDefaults extends Pick<SamplingOptions, NumericKey> {
  /** where the values came from: 'gguf', 'generation_config.json' or 'llama-ts' */
  readonly source: string;
}

const GGUF_KEYS: Record<string, NumericKey> = {
  'general.sampling.temp': 'temperature',
  'general.sampling.top_k': 'topK',
  'general.sampling.top_p': 'topP',
  'general.sampling.min_p': 'minP',
  'general.sampling.penalty_last_n': 'penaltyWindow',
  'general.sampling.penalty_repeat': 'repeatPenalty',
};

const HF_KEYS: Record<string, NumericKey> = {
  temperature: 'temperature',
  top_k: 'topK',
  top_p: 'topP',
  min_p: 'minP',
  typical_p: 'typicalP',
  repetition_penalty: 'repeatPenalty',
};

function pick(from: Record<string, unknown>, keys: Record<string, NumericKey>): Partial<Record<NumericKey, number>> {
  const out: Partial<Record<NumericKey, number>> = {};
  for (const [k, name] of Object.entries(keys)) {
    const v = from[k];
    if (typeof v === 'number' && Number.isFinite(v)) out[name] = v;
  }
  return out;
}

/** The defaults a model's own metadata gives (GGUF keys), without looking beside it for files. */
export function generationDefaultsFromMetadata(format: string, metadata: Readonly<Record<string, unknown>>): GenerationDefaults {
  if (format === 'gguf') {
    const d = pick(metadata, GGUF_KEYS);
    if (Object.keys(d).length > 0) return { ...d, source: 'gguf' };
  }
  return { source: 'llama-ts' };
}

export function generationDefaults(path: string, format: string, metadata: Readonly<Record<string, unknown>>): GenerationDefaults {
  const own = generationDefaultsFromMetadata(format, metadata);
  if (own.source !== 'llama-ts') return own;
  const dir = existsSync(path) && statSync(path).isDirectory() ? path : dirname(path);
  const file = join(dir, 'generation_config.json');
  if (existsSync(file)) {
    try {
      const json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
      const d = pick(json, HF_KEYS);
      if (json.do_sample === false) d.temperature = 0; // HF: greedy unless do_sample
      if (Object.keys(d).length > 0) return { ...d, source: 'generation_config.json' };
    } catch {
      /* an unreadable generation_config.json only loses the defaults */
    }
  }
  return { source: 'llama-ts' };
}
