// Where a model's bytes come from when they are not a path: an ArrayBuffer (or a typed array over
// one), a Blob / File, or a URL read with HTTP Range requests. All three work in Node 20+ and in
// browsers (fetch and Blob are globals in both). Each becomes a RangeReader: its size and an async
// read of any byte range, so that a loader reads the GGUF header first and refuses a wrong file
// before it downloads gigabytes.
import { FormatError, LlamaError } from '../errors.js';

/** What openModel accepts besides a path: bytes in memory, a Blob / File, or a URL (http(s), blob:, data:). */
export type ModelSource = ArrayBuffer | SharedArrayBuffer | ArrayBufferView | Blob | URL;

export interface RangeReader {
  /** a name for messages: the File's name, the URL, or '<ArrayBuffer>' */
  readonly name: string;
  readonly size: number;
  /** exactly the `length` bytes at `offset` (FORMAT_TRUNCATED if the source has fewer) */
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** A Blob or File, without depending on the DOM types (Node 20's Blob has the same shape). */
interface BlobLike {
  readonly size: number;
  slice(start: number, end: number): { arrayBuffer(): Promise<ArrayBuffer> };
  arrayBuffer(): Promise<ArrayBuffer>;
  readonly name?: string;
}

export function isBlob(x: unknown): x is BlobLike {
  return typeof x === 'object' && x !== null && typeof (x as BlobLike).size === 'number' && typeof (x as BlobLike).slice === 'function' && typeof (x as BlobLike).arrayBuffer === 'function';
}

export function isModelSource(x: unknown): x is ModelSource {
  return x instanceof ArrayBuffer || (typeof SharedArrayBuffer === 'function' && x instanceof SharedArrayBuffer) || ArrayBuffer.isView(x) || isBlob(x) || x instanceof URL;
}

/** The bytes of an in-memory source, or undefined for a Blob / URL (read through rangeReader). */
export function sourceBytes(src: ModelSource): Uint8Array | undefined {
  if (ArrayBuffer.isView(src)) return new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
  if (src instanceof ArrayBuffer || (typeof SharedArrayBuffer === 'function' && src instanceof SharedArrayBuffer)) return new Uint8Array(src);
  return undefined;
}

function truncated(name: string, offset: number, length: number, got: number): FormatError {
  return new FormatError('FORMAT_TRUNCATED', `needed bytes ${offset}..${offset + length} but got only ${got} of them`, {
    file: name,
    hint: 'the file is truncated or changed while it was read; download it again',
  });
}

/** A RangeReader over a Blob or File (read piece by piece: Blob.slice does not copy). */
export function blobReader(blob: BlobLike): RangeReader {
  const name = typeof blob.name === 'string' && blob.name !== '' ? blob.name : '<Blob>';
  return {
    name,
    size: blob.size,
    async read(offset, length) {
      let buf: ArrayBuffer;
      try {
        buf = await blob.slice(offset, offset + length).arrayBuffer();
      } catch (e) {
        throw new LlamaError('FILE_READ', `cannot read: ${(e as Error).message}`, { file: name, cause: e });
      }
      if (buf.byteLength !== length) throw truncated(name, offset, length, buf.byteLength);
      return new Uint8Array(buf);
    },
  };
}

interface FetchResponse {
  readonly ok: boolean;
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  arrayBuffer(): Promise<ArrayBuffer>;
  readonly body?: { cancel(): Promise<void> } | null;
}
type FetchFn = (url: string, init: { headers: Record<string, string> }) => Promise<FetchResponse>;

async function rangeGet(url: string, offset: number, length: number): Promise<FetchResponse> {
  const f = (globalThis as { fetch?: FetchFn }).fetch;
  if (!f) throw new LlamaError('FILE_READ', 'this JavaScript engine has no fetch()', { file: url, hint: 'use Node >= 20 or a browser, or pass the bytes (an ArrayBuffer)' });
  let res: FetchResponse;
  try {
    res = await f(url, { headers: { Range: `bytes=${offset}-${offset + length - 1}` } });
  } catch (e) {
    throw new LlamaError('FILE_READ', `cannot fetch: ${(e as Error).message}`, { file: url, hint: 'check the URL and that the server is reachable (and allows this origin: CORS)', cause: e });
  }
  if (res.status === 404 || res.status === 410) {
    await res.body?.cancel().catch(() => undefined);
    throw new LlamaError('FILE_NOT_FOUND', `the server answered ${res.status}`, { file: url, hint: 'check the URL' });
  }
  if (res.status === 200) {
    // The whole file is coming: refusing beats silently downloading gigabytes for a 64 KiB header.
    await res.body?.cancel().catch(() => undefined);
    throw new LlamaError('FILE_READ', 'the server ignores HTTP Range requests (it answered 200 with the whole file instead of 206)', {
      file: url,
      hint: 'serve the model from a server that supports Range requests (most static servers do), or fetch it yourself and pass the bytes (an ArrayBuffer or a Blob)',
    });
  }
  if (res.status === 416) {
    await res.body?.cancel().catch(() => undefined);
    throw truncated(url, offset, length, 0);
  }
  if (res.status !== 206) {
    await res.body?.cancel().catch(() => undefined);
    throw new LlamaError('FILE_READ', `the server answered ${res.status}`, { file: url });
  }
  return res;
}

/** "bytes 0-65535/2621984" -> 2621984 */
function totalFromContentRange(v: string | null): number | undefined {
  const m = v ? /^bytes\s+\d+-\d+\/(\d+)$/i.exec(v.trim()) : null;
  return m ? Number(m[1]) : undefined;
}

/**
 * A RangeReader over a URL: the first Range request also tells the size (Content-Range). A server
 * that answers 200 (no Range support) is FILE_READ, 404 is FILE_NOT_FOUND, and a short answer is
 * FORMAT_TRUNCATED. `probe` bytes are read at once and served from memory afterwards.
 */
export async function urlReader(url: string, probe = 1 << 16): Promise<{ reader: RangeReader; head: Uint8Array }> {
  const res = await rangeGet(url, 0, probe);
  const size = totalFromContentRange(res.headers.get('content-range'));
  if (size === undefined) {
    await res.body?.cancel().catch(() => undefined);
    throw new LlamaError('FILE_READ', 'the server answered a Range request without a usable Content-Range header, so the file size is unknown', {
      file: url,
      hint: 'serve the model from a server that supports Range requests, or pass the bytes (an ArrayBuffer or a Blob)',
    });
  }
  const head = new Uint8Array(await res.arrayBuffer());
  if (head.byteLength !== Math.min(probe, size)) throw truncated(url, 0, Math.min(probe, size), head.byteLength);
  const reader: RangeReader = {
    name: url,
    size,
    async read(offset, length) {
      if (length === 0) return new Uint8Array(0);
      if (offset + length <= head.byteLength) return head.slice(offset, offset + length);
      const r = await rangeGet(url, offset, length);
      const total = totalFromContentRange(r.headers.get('content-range'));
      const bytes = new Uint8Array(await r.arrayBuffer());
      if (total !== undefined && total !== size) {
        throw new FormatError('FORMAT_TRUNCATED', `the file changed size while it was read (${size} -> ${total} bytes)`, { file: url, hint: 'load it again' });
      }
      if (bytes.byteLength !== length) throw truncated(url, offset, length, bytes.byteLength);
      return bytes;
    },
  };
  return { reader, head };
}
