// Llama 3.1 "llama3" RoPE scaling expressed as per-frequency factors, the form GGUF stores it in
// (`rope_freqs.weight`, headDim/2 floats): the rotary frequency i is divided by factor[i]. This is
// Meta's apply_scaling (llama-models) rewritten per frequency, as llama.cpp's converter does:
//   wavelen = 2π / freq_i
//   wavelen < original_ctx / high_freq_factor  -> 1          (high frequencies untouched)
//   wavelen > original_ctx / low_freq_factor   -> factor     (low frequencies scaled fully)
//   otherwise smooth = (original_ctx / wavelen - low) / (high - low), 1 / ((1 - smooth) / factor + smooth)
import type { Llama3RopeScaling } from './config.js';

export function llama3RopeFactors(headDim: number, theta: number, s: Llama3RopeScaling): Float32Array {
  const out = new Float32Array(headDim / 2);
  const lowWavelen = s.originalContextLength / s.lowFreqFactor;
  const highWavelen = s.originalContextLength / s.highFreqFactor;
  for (let i = 0; i < headDim / 2; i++) {
    // the frequency as Meta computes it, in float32
    const freq = Math.fround(1 / Math.fround(theta ** Math.fround((2 * i) / headDim)));
    const wavelen = (2 * Math.PI) / freq;
    if (wavelen < highWavelen) out[i] = 1;
    else if (wavelen > lowWavelen) out[i] = s.factor;
    else {
      const smooth = (s.originalContextLength / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
      out[i] = 1 / ((1 - smooth) / s.factor + smooth);
    }
  }
  return out;
}
