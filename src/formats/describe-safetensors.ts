// `llama inspect` for safetensors: a single file, an index .json, or an HF directory. Its
// __metadata__ and the config.json beside it are shown as metadata.
import { existsSync, statSync } from '../platform/fs.js';
import { basename, dirname, join } from '../platform/path.js';
import { SafetensorsModel, SAFETENSORS_INDEX } from './safetensors.js';
import type { FormatDescriber } from './describe.js';
import { sideFileEntries } from './describe-json.js';

export const safetensorsDescriber: FormatDescriber = {
  name: 'safetensors (.safetensors, model.safetensors.index.json, HF folder)',
  detect(path, head, isDirectory) {
    if (isDirectory) return existsSync(join(path, SAFETENSORS_INDEX)) || existsSync(join(path, 'model.safetensors'));
    if (path.endsWith('.safetensors') || basename(path).endsWith('.safetensors.index.json')) return true;
    // u64 header length whose high bytes are zero, then the JSON object
    return head.length >= 9 && head[8] === 0x7b && head[5] === 0 && head[6] === 0 && head[7] === 0;
  },
  describe(path) {
    const m = SafetensorsModel.open(path);
    try {
      const dir = existsSync(path) && statSync(path).isDirectory() ? path : dirname(path);
      return {
        path,
        format: 'safetensors',
        details: { files: m.files.map((f) => f.path), headerBytes: m.files.map((f) => f.headerLength) },
        metadata: [
          ...Object.entries(m.metadata).map(([key, value]) => ({ key: `__metadata__.${key}`, type: 'string', value })),
          ...sideFileEntries(join(dir, 'config.json'), 'config.json'),
        ],
        tensors: [...m.entries.values()].map((e) => ({ name: e.name, type: e.dtype, shape: e.shape, bytes: e.byteLength, offset: e.offset })),
      };
    } finally {
      m.close();
    }
  },
};
