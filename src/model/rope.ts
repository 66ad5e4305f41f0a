// Rotary position embeddings (Su et al. 2021) as Meta's reference code uses them: adjacent pairs
// (x[2i], x[2i+1]) of each head form one complex number that is rotated by pos · invFreq[i]. The
// backend applies the rotation; this module only precomputes the per-pair inverse frequencies,
// including the frequency changes later models made:
//   - Llama 3.1 "llama3" scaling (Meta llama-models `apply_scaling`), from the config or from a
//     GGUF `rope_freqs` tensor (llama.cpp stores per-pair *divisors* of the frequency there);
//   - linear position interpolation (positions divided by `factor`, i.e. frequencies divided).
import type { LlamaConfig, Llama3RopeScaling } from './config.js';
import { LlamaError } from '../errors.js';

/** invFreq[i] = 1 / theta^(2i / headDim), i = 0 .. headDim/2-1, rounded to float32 as torch does. */
export function baseInvFreq(headDim: number, theta: number): Float64Array {
  const half = headDim / 2;
  const out = new Float64Array(half); // (headDim/2)
  // Meta: 1.0 / (theta ** (arange(0, dim, 2).float() / dim)), all in float32.
  for (let i = 0; i < half; i++) out[i] = Math.fround(1 / Math.fround(Math.pow(theta, Math.fround((2 * i) / headDim))));
  return out;
}

/**
 * Llama 3.1 frequency scaling: wavelengths shorter than originalContextLength / highFreqFactor
 * keep their frequency, those longer than originalContextLength / lowFreqFactor are divided by
 * `factor`, and the band between is blended linearly in (originalContextLength / wavelength).
 */
export function llama3ScaleFreq(freq: number, s: Llama3RopeScaling): number {
  const lowFreqWavelen = s.originalContextLength / s.lowFreqFactor;
  const highFreqWavelen = s.originalContextLength / s.highFreqFactor;
  const wavelen = (2 * Math.PI) / freq;
  if (wavelen < highFreqWavelen) return freq;
  if (wavelen > lowFreqWavelen) return freq / s.factor;
  const smooth = (s.originalContextLength / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
  return (1 - smooth) * (freq / s.factor) + smooth * freq;
}

/**
 * The inverse frequencies the model rotates q and k by. `ropeFreqs` (headDim/2), when the file has
 * it, wins over `config.ropeScaling`: it is what llama.cpp itself uses for such files.
 */
export function ropeInvFreq(config: LlamaConfig, ropeFreqs?: Float32Array): Float32Array {
  const { headDim, ropeTheta, ropeScaling } = config;
  const base = baseInvFreq(headDim, ropeTheta);
  const out = new Float32Array(headDim / 2); // (headDim/2)
  if (ropeFreqs !== undefined && ropeFreqs.length !== headDim / 2) {
    throw new LlamaError('TENSOR_SHAPE', `rope_freqs has ${ropeFreqs.length} values, expected head_dim/2 = ${headDim / 2}`);
  }
  for (let i = 0; i < out.length; i++) {
    let f = base[i]!;
    if (ropeFreqs !== undefined) {
      const d = ropeFreqs[i]!;
      if (!(d > 0) || !Number.isFinite(d)) throw new LlamaError('TENSOR_SHAPE', `rope_freqs[${i}] = ${d} must be a positive number`);
      f /= d;
    } else if (ropeScaling?.type === 'llama3') f = llama3ScaleFreq(f, ropeScaling);
    else if (ropeScaling?.type === 'linear') f /= ropeScaling.factor;
    out[i] = f;
  }
  return out;
}
