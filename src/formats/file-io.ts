// Atomic file writes (temp file + fsync + rename) for every model writer. Reads go through
// source.ts (ByteSource), which bounds-checks every range against the file size.
import { closeSync, openSync, renameSync, rmSync, writeSync, fsyncSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { LlamaError } from '../errors.js';

/**
 * Write a file atomically: the bytes go to a temp file beside the target, are fsync'ed, then
 * renamed over it, so a crash never leaves a half-written model under the final name.
 * `chunks` is consumed in order (an iterable, so large outputs need not be in memory at once).
 */
export function writeFileAtomic(path: string, chunks: Iterable<Uint8Array>): number {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${Date.now()}`);
  let fd: number;
  try {
    fd = openSync(tmp, 'w');
  } catch (e) {
    throw new LlamaError('FILE_WRITE', `cannot create: ${(e as Error).message}`, { file: path, cause: e });
  }
  let total = 0;
  try {
    for (const c of chunks) {
      let done = 0;
      while (done < c.byteLength) done += writeSync(fd, c, done, c.byteLength - done);
      total += c.byteLength;
    }
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, path);
  } catch (e) {
    try { closeSync(fd); } catch { /* already closed */ }
    rmSync(tmp, { force: true });
    if (e instanceof LlamaError) throw e;
    throw new LlamaError('FILE_WRITE', `write failed: ${(e as Error).message}`, { file: path, cause: e });
  }
  return total;
}
