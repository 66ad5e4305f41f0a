// `llama inspect` for safetensors: a single file, an index .json, or an HF directory (its
// config.json is shown as metadata too).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SafetensorsModel } from './safetensors.js';
import type { FileDescription } from './describe-types.js';

export function describeSafetensors(path: string): FileDescription {
  const m = SafetensorsModel.open(path);
  try {
    const dir = existsSync(path) && statSync(path).isDirectory() ? path : dirname(path);
    const metadata: Record<string, unknown> = { ...m.metadata };
    if (m.files.length > 1) metadata.shards = m.files.map((f) => f.path);
    const cfg = join(dir, 'config.json');
    if (existsSync(cfg)) {
      try {
        metadata['config.json'] = JSON.parse(readFileSync(cfg, 'utf8'));
      } catch {
        metadata['config.json'] = '(not valid JSON)';
      }
    }
    return {
      format: 'safetensors',
      version: m.files.length > 1 ? `${m.files.length} shards` : 1,
      metadata,
      tensors: [...m.entries.values()].map((e) => ({ name: e.name, type: e.dtype, shape: e.shape, bytes: e.byteLength })),
    };
  } finally {
    m.close();
  }
}
