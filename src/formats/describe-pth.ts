// `llama inspect` for a PyTorch checkpoint (torch.save zip): tensors with their storage types;
// params.json beside it, if any, is shown as metadata.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { dtypeName } from '../tensor/dtype.js';
import { PthFile } from './pth.js';
import type { FileDescription } from './describe-types.js';

export function describePth(path: string): FileDescription {
  const f = PthFile.open(path);
  try {
    const metadata: Record<string, unknown> = { archive_prefix: f.prefix };
    const params = join(dirname(path), 'params.json');
    if (existsSync(params)) {
      try {
        metadata['params.json'] = JSON.parse(readFileSync(params, 'utf8'));
      } catch {
        metadata['params.json'] = '(not valid JSON)';
      }
    }
    return {
      format: 'pytorch',
      version: 'zip',
      metadata,
      tensors: [...f.tensors.values()].map((t) => ({
        name: t.name,
        type: (t.type !== undefined ? dtypeName(t.type) : t.storageType) + (t.contiguous ? '' : ' (non-contiguous)'),
        shape: t.shape,
        bytes: t.byteLength,
      })),
    };
  } finally {
    f.close();
  }
}
