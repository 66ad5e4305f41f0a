// Reads ../shared/data/golden/quant/golden-<TYPE>.json.gz (gzip JSON; see that folder's README).
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { needsShared, sharedData } from './shared.js';

/** Skip unless every one of these ../shared/data paths exists. */
export function needsAll(...paths: string[]): { skip: string | false } {
  for (const p of paths) {
    const r = needsShared(p);
    if (r.skip) return r;
  }
  return { skip: false };
}

export function loadGoldenQuant(ftype: string): GoldenQuant {
  return JSON.parse(gunzipSync(readFileSync(sharedData('golden/quant', `golden-${ftype}.json.gz`))).toString('utf8')) as GoldenQuant;
}

export interface GoldenQuant {
  ftype: string;
  file: string;
  metadata: Record<string, unknown>;
  tensor_types: Record<string, string>;
  tensors: { name: string; type: string; ne: number[]; n_bytes: number; data_offset_in_file: number }[];
  dequant: { tensors: Record<string, { type: string; ne: number[]; n_values: number; first_4096: number[]; sum: number; sum_sq: number }> };
}

