// Opening a GGUF model that is not a path: an ArrayBuffer, a Blob / File, or a URL (model-source.ts).
// This is how a browser opens models, and it works the same in Node. Only GGUF: it is the one
// format that keeps weights, tokenizer and chat template in one file (the others span a folder).
//
// A Blob or URL is read in two steps: the header first (a prefix of the file, grown until the GGUF
// header parses), so a wrong file is refused before the weights are downloaded; then the whole file
// into one buffer, in pieces with progress. Tensor data is used in place from that buffer (views,
// as mapped files are in Node), so the file is in JS memory once.
import { FormatError, LlamaError } from '../errors.js';
import { openGguf, looksLikeGguf, type GgufFile } from '../formats/gguf.js';
import { TOKENIZER } from '../formats/gguf-keys.js';
import { hintedAsync } from '../formats/hints.js';
import { ByteSource, MissingBytes, type ByteChunk } from '../formats/source.js';
import { lazyWeights, loadedModel, openedGguf, readAll } from '../model/assemble.js';
import type { LoadedModel } from '../model/loaded.js';
import { checkTokenizerFitsModel } from '../model/tokenizer-fit.js';
import { tokenizerFromGgufMetadata } from '../tokenizer/load.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { blobReader, isBlob, sourceBytes, urlReader, type ModelSource, type RangeReader } from './model-source.js';

export interface SourceLoadOptions {
  /** called as the file is read: bytes so far and in all */
  onProgress?: (loaded: number, total: number) => void;
  /** a name for messages (default: the File's name, the URL, or '<ArrayBuffer>') */
  name?: string;
}

/** A GGUF model read from a source: the weights, its tokenizer and its own chat template. */
export interface SourceModel {
  readonly loaded: LoadedModel;
  readonly tokenizer: Tokenizer;
  readonly chatTemplateSource: string | undefined;
}

/** Pieces of the file read after the header (also the granularity of onProgress). */
const PIECE = 8 << 20;
/** The first read, enough for the header of small models. */
const FIRST = 1 << 16;

function missingIn(e: unknown): MissingBytes | undefined {
  for (let x: unknown = e, depth = 0; x && depth < 4; x = (x as { cause?: unknown }).cause, depth++) {
    if (x instanceof MissingBytes) return x;
  }
  return undefined;
}

function notGguf(name: string): FormatError {
  return new FormatError('FORMAT_UNSUPPORTED', 'only GGUF models can be opened from bytes, a Blob, a File or a URL', {
    file: name,
    hint: 'convert the model to GGUF (llama convert), or open it from its path in Node',
  });
}

/** Parse the GGUF header from a growing prefix of the file; throws the header's own errors. */
async function readHeader(r: RangeReader, chunks: ByteChunk[]): Promise<void> {
  let have = chunks.reduce((n, c) => Math.max(n, c.offset + c.bytes.byteLength), 0);
  if (have === 0 && r.size > 0) {
    chunks.push({ offset: 0, bytes: await r.read(0, Math.min(FIRST, r.size)) });
    have = Math.min(FIRST, r.size);
  }
  if (!looksLikeGguf(chunks[0]?.bytes.subarray(0, 8) ?? new Uint8Array(0))) throw notGguf(r.name);
  for (;;) {
    try {
      openGguf(ByteSource.fromChunks(r.size, chunks, r.name)).close();
      return;
    } catch (e) {
      const m = missingIn(e);
      if (!m || have >= r.size) throw e;
      const want = Math.min(r.size, Math.max(have * 4, m.offset + m.length));
      chunks.push({ offset: have, bytes: await r.read(have, want - have) });
      have = want;
    }
  }
}

/** The whole file in one buffer (header bytes reused), read in pieces. */
async function readAllBytes(r: RangeReader, chunks: readonly ByteChunk[], onProgress?: SourceLoadOptions['onProgress']): Promise<Uint8Array> {
  const all = new Uint8Array(r.size);
  let have = 0;
  for (const c of chunks) {
    all.set(c.bytes, c.offset);
    have = Math.max(have, c.offset + c.bytes.byteLength);
  }
  onProgress?.(have, r.size);
  while (have < r.size) {
    const n = Math.min(PIECE, r.size - have);
    all.set(await r.read(have, n), have);
    have += n;
    onProgress?.(have, r.size);
  }
  return all;
}

/** The source's bytes as a ByteSource: at once for bytes in memory, else header-first (see top). */
async function byteSourceOf(source: ModelSource, opts: SourceLoadOptions): Promise<ByteSource> {
  const bytes = sourceBytes(source);
  if (bytes) {
    const name = opts.name ?? '<ArrayBuffer>';
    if (!looksLikeGguf(bytes.subarray(0, 8))) throw notGguf(name);
    opts.onProgress?.(bytes.byteLength, bytes.byteLength);
    return ByteSource.fromBytes(bytes, name);
  }
  const chunks: ByteChunk[] = [];
  let reader: RangeReader;
  if (isBlob(source)) reader = blobReader(source);
  else if (source instanceof URL) {
    const { reader: r, head } = await urlReader(source.href, FIRST);
    reader = r;
    chunks.push({ offset: 0, bytes: head });
  } else throw new LlamaError('USAGE', 'openModel needs a path, a URL, a Blob / File, or an ArrayBuffer');
  if (opts.name !== undefined) reader = { ...reader, name: opts.name, read: reader.read };
  await readHeader(reader, chunks);
  return ByteSource.fromChunks(reader.size, [{ offset: 0, bytes: await readAllBytes(reader, chunks, opts.onProgress) }], reader.name);
}

/** Read a GGUF model from a source (ArrayBuffer, Blob / File or URL): weights, tokenizer and chat template. */
export async function loadModelFromSource(source: ModelSource, opts: SourceLoadOptions = {}): Promise<SourceModel> {
  return hintedAsync(async () => {
    const src = await byteSourceOf(source, opts);
    let g: GgufFile;
    try {
      g = openGguf(src);
    } catch (e) {
      src.close();
      throw e;
    }
    const o = openedGguf(g); // closes g when it throws
    try {
      const weights = lazyWeights(o.config, o.reader, o.format, o.file);
      const tokenizer = tokenizerFromGgufMetadata(g.metadata, o.file);
      checkTokenizerFitsModel(tokenizer, o.config, { model: o.file, tokenizer: o.file });
      const t = g.metadata.get(TOKENIZER.CHAT_TEMPLATE);
      const lazy = {
        format: 'gguf' as const,
        path: o.file,
        config: o.config,
        metadata: o.metadata,
        tokenizerPath: undefined,
        weightBytes: weights.reduce((a, w) => a + w.bytes, 0),
      };
      const loaded = loadedModel({ ...lazy, weights, close: () => undefined, dispose: () => undefined, [Symbol.dispose]: () => undefined }, readAll(o.config, weights));
      return { loaded, tokenizer, chatTemplateSource: t && typeof t.value === 'string' ? t.value : undefined };
    } finally {
      o.reader.close(); // tensors are views of the buffer (or copies): the source itself is done
    }
  });
}
