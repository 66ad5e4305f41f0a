// `llama inspect` for a PyTorch checkpoint (torch.save zip): tensors with their storage types;
// params.json beside it, if any, is shown as metadata.
import { dirname, join } from 'node:path';
import { dtypeName } from '../tensor/dtype.js';
import { PthFile } from './pth.js';
import type { FormatDescriber } from './describe.js';
import { sideFileEntries } from './describe-json.js';

export const pthDescriber: FormatDescriber = {
  name: 'PyTorch zip checkpoint (.pth, torch.save of a state dict)',
  detect: (_path, head, isDirectory) => !isDirectory && head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04,
  describe(path) {
    const f = PthFile.open(path);
    try {
      return {
        path,
        format: 'pth',
        details: { archivePrefix: f.prefix },
        metadata: sideFileEntries(join(dirname(path), 'params.json'), 'params.json'),
        tensors: [...f.tensors.values()].map((t) => ({
          name: t.name,
          type: (t.type !== undefined ? dtypeName(t.type) : t.storageType) + (t.contiguous ? '' : ' (strided)'),
          shape: t.shape,
          bytes: t.byteLength,
          offset: t.fileOffset,
        })),
      };
    } finally {
      f.close();
    }
  },
};
