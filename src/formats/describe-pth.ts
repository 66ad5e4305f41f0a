// `llama inspect` for a PyTorch checkpoint (torch.save zip): tensors with their storage types;
// params.json beside it, if any, is shown as metadata.
import { existsSync, readdirSync, statSync } from '../platform/fs.js';
import { dirname, join } from '../platform/path.js';
import { dtypeName } from '../tensor/dtype.js';
import { PthFile } from './pth.js';
import type { FileDescription, FormatDescriber } from './describe.js';
import { sideFileEntries } from './describe-json.js';

const SHARD = /^consolidated\.(\d+)\.pth$/;

function shardsIn(dir: string): string[] {
  return readdirSync(dir).filter((f) => SHARD.test(f)).sort((a, b) => Number(SHARD.exec(a)![1]) - Number(SHARD.exec(b)![1]));
}

/** A Meta folder: every shard's tensors, named `consolidated.NN.pth:<name>` when there are several. */
function describeMetaFolder(dir: string): FileDescription {
  const shards = shardsIn(dir);
  const parts = shards.map((s) => pthDescriber.describe(join(dir, s)));
  return {
    path: dir,
    format: 'pth',
    details: { shards },
    metadata: parts[0]!.metadata,
    tensors: parts.flatMap((p, i) => p.tensors.map((t) => (shards.length > 1 ? { ...t, name: `${shards[i]}:${t.name}` } : t))),
  };
}

export const pthDescriber: FormatDescriber = {
  name: 'PyTorch zip checkpoint (.pth, torch.save of a state dict; Meta folder with params.json)',
  detect(path, head, isDirectory) {
    if (isDirectory) return existsSync(join(path, 'params.json')) && shardsIn(path).length > 0;
    return head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04;
  },
  describe(path) {
    if (statSync(path).isDirectory()) return describeMetaFolder(path);
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
