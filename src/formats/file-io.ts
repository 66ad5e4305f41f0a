// The one atomic file write of the project (temp file + fsync + rename): every file llama-ts
// writes (models, configs, tokenizers, plots) goes through here, so a crash, an error or a Ctrl-C
// never leaves a half-written file under the final name. Reads go through source.ts (ByteSource),
// which bounds-checks every range against the file size.
//
// The temp file sits beside the target under a visible name (`NAME.tmp-PID-RAND`, not a dotfile),
// so that if the process is killed outright the leftover is easy to see and delete. Temp files of
// writes still in progress are removed on process exit, and by the async writer when its signal
// aborts (what `llama convert` uses for Ctrl-C).
import { closeSync, fsyncSync, openSync, readSync, renameSync, rmSync, writeSync } from '../platform/fs.js';
import { basename, dirname, join } from '../platform/path.js';
import { LlamaError } from '../errors.js';

/** What a write failure says to do. */
export const FILE_WRITE_HINT = 'check that the folder exists and is writable, and that the disk has room';

/** Temp files of writes in progress (removed on exit if the process ends mid-write). */
const pending = new Set<string>();
let exitHookInstalled = false;

function track(tmp: string): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', removePendingTempFiles);
  }
  pending.add(tmp);
}

/** Deletes the temp files of every write still in progress (for signal handlers). */
export function removePendingTempFiles(): string[] {
  const removed = [...pending];
  for (const p of removed) rmSync(p, { force: true });
  pending.clear();
  return removed;
}

/** The temp file a write of `path` goes to before the rename. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `${basename(path)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
}

export type FileData = string | Uint8Array | Iterable<Uint8Array>;

const encoder = new TextEncoder();

function asChunks(data: FileData): Iterable<Uint8Array> {
  if (typeof data === 'string') return [encoder.encode(data)];
  if (data instanceof Uint8Array) return [data];
  return data;
}

function writeError(path: string, e: unknown, what: string): LlamaError {
  if (e instanceof LlamaError) return e;
  return new LlamaError('FILE_WRITE', `${what}: ${(e as Error).message}`, { file: path, cause: e, hint: FILE_WRITE_HINT });
}

function openTemp(path: string): { tmp: string; fd: number } {
  const tmp = tempPathFor(path);
  try {
    const fd = openSync(tmp, 'w');
    track(tmp);
    return { tmp, fd };
  } catch (e) {
    throw writeError(path, e, 'cannot create');
  }
}

function putAll(fd: number, c: Uint8Array): void {
  let done = 0;
  while (done < c.byteLength) done += writeSync(fd, c, done, c.byteLength - done);
}

function finish(fd: number, tmp: string, path: string): void {
  fsyncSync(fd);
  closeSync(fd);
  renameSync(tmp, path);
  pending.delete(tmp);
}

function abandon(fd: number, tmp: string): void {
  try { closeSync(fd); } catch { /* already closed */ }
  rmSync(tmp, { force: true });
  pending.delete(tmp);
}

/**
 * Write a file atomically: the bytes go to a temp file beside the target, are fsync'ed, then
 * renamed over it. `data` is text (UTF-8), bytes, or chunks consumed in order (an iterable, so
 * large outputs need not be in memory at once). Returns the number of bytes written.
 */
export function writeFileAtomic(path: string, data: FileData): number {
  const { tmp, fd } = openTemp(path);
  let total = 0;
  try {
    for (const c of asChunks(data)) {
      putAll(fd, c);
      total += c.byteLength;
    }
    finish(fd, tmp, path);
  } catch (e) {
    abandon(fd, tmp);
    throw writeError(path, e, 'write failed');
  }
  return total;
}

export interface AsyncWriteOptions {
  /** checked between chunks: when aborted, the temp file is removed and CANCELLED is thrown */
  readonly signal?: AbortSignal | undefined;
}

/**
 * writeFileAtomic for long writes: between chunks it lets the event loop run (so a SIGINT handler
 * can fire during a conversion that takes minutes) and checks `signal`.
 */
export async function writeFileAtomicAsync(path: string, data: FileData | AsyncIterable<Uint8Array>, opts: AsyncWriteOptions = {}): Promise<number> {
  const { tmp, fd } = openTemp(path);
  let total = 0;
  const chunks = typeof data === 'string' || data instanceof Uint8Array ? asChunks(data) : data;
  try {
    for await (const c of chunks) {
      putAll(fd, c);
      total += c.byteLength;
      await new Promise<void>((r) => setImmediate(r));
      if (opts.signal?.aborted) throw new LlamaError('CANCELLED', `interrupted; the partial file was removed`, { file: path });
    }
    finish(fd, tmp, path);
  } catch (e) {
    abandon(fd, tmp);
    throw writeError(path, e, 'write failed');
  }
  return total;
}

/** The first `n` bytes of a file (fewer if it is shorter): enough to recognise its format. */
export function readFileHead(path: string, n: number): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const buf = new Uint8Array(n);
    const got = readSync(fd, buf, 0, n, 0);
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}
