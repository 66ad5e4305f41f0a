// What is in a model file, format-independently: the data behind `llama inspect`. Each format
// registers a describer (detect by magic bytes / name, then describe). GGUF is built in; the other
// format modules (safetensors, .pth, llama2.c) add theirs to FORMATS below.
import { closeSync, openSync, readSync, statSync } from '../platform/fs.js';
import { LlamaError } from '../errors.js';
import { hinted } from './hints.js';
import { dtypeName } from '../tensor/dtype.js';
import { ggufValueToJson, GGUF_TYPE_NAMES, GgufType, looksLikeGguf, openGguf, type GgufValue } from './gguf.js';
import { safetensorsDescriber } from './describe-safetensors.js';
import { pthDescriber } from './describe-pth.js';
import { llama2cDescriber } from './describe-llama2c.js';
import { tokenizerDescriber } from './describe-tokenizer.js';

export interface MetadataEntry {
  readonly key: string;
  /** value type as the format names it (GGUF: u32, f32, string, array, ...) */
  readonly type: string;
  /** for arrays: the element type */
  readonly elemType?: string;
  /** JSON-able value; arrays in full (the CLI summarises them) */
  readonly value: unknown;
}

export interface TensorEntry {
  readonly name: string;
  /** ggml type name: F32, F16, Q4_K, ... */
  readonly type: string;
  /** row-major, outermost first (PyTorch order) */
  readonly shape: readonly number[];
  readonly bytes: number;
  /** absolute byte offset of the data in the file, when the format has one */
  readonly offset?: number;
}

export interface FileDescription {
  readonly path: string;
  /** short format name: gguf, safetensors, pth, llama2c, ... */
  readonly format: string;
  readonly version?: number | string;
  /** format-specific facts worth showing (alignment, data offset, ...) */
  readonly details: Readonly<Record<string, unknown>>;
  readonly metadata: readonly MetadataEntry[];
  readonly tensors: readonly TensorEntry[];
}

export interface FormatDescriber {
  /** shown in the "supported formats" hint */
  readonly name: string;
  /** `head` is the first 64 bytes of the file (empty for a directory) */
  detect(path: string, head: Uint8Array, isDirectory: boolean): boolean;
  describe(path: string): FileDescription;
}

export const ggufDescriber: FormatDescriber = {
  name: 'GGUF (.gguf, v2/v3)',
  detect: (_path, head) => looksLikeGguf(head),
  describe(path) {
    const g = openGguf(path);
    try {
      return {
        path,
        format: 'gguf',
        version: g.version,
        details: {
          alignment: g.alignment,
          dataOffset: g.dataOffset,
          fileSize: g.fileSize,
          ...(g.split ? { split: `part ${g.split.no + 1} of ${g.split.count} (${g.tensors.length} of ${g.split.tensorsCount} tensors here; llama-ts loads all parts from any of them)` } : {}),
        },
        metadata: [...g.metadata].map(([key, v]) => metadataEntry(key, v)),
        tensors: g.tensors.map((t) => ({ name: t.name, type: dtypeName(t.type), shape: t.shape, bytes: t.nBytes, offset: t.fileOffset })),
      };
    } finally {
      g.close();
    }
  },
};

function metadataEntry(key: string, v: GgufValue): MetadataEntry {
  const type = GGUF_TYPE_NAMES[v.type];
  if (v.type === GgufType.ARRAY) return { key, type, elemType: GGUF_TYPE_NAMES[v.value.elemType], value: ggufValueToJson(v) };
  return { key, type, value: ggufValueToJson(v) };
}

/** Every known format, tried in order. Add a line per format module. */
export const FORMATS: FormatDescriber[] = [ggufDescriber, safetensorsDescriber, pthDescriber, llama2cDescriber, tokenizerDescriber];

/** Adds a describer at run time (for formats living outside this module). */
export function registerFormat(d: FormatDescriber): void {
  if (!FORMATS.some((f) => f.name === d.name)) FORMATS.push(d);
}

function readHead(path: string): { head: Uint8Array; isDirectory: boolean } {
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new LlamaError('FILE_NOT_FOUND', 'no such file or directory', { file: path, hint: 'check the path' });
    throw new LlamaError('FILE_READ', `cannot stat: ${(err as Error).message}`, { file: path, cause: err });
  }
  if (st.isDirectory()) return { head: new Uint8Array(0), isDirectory: true };
  const head = new Uint8Array(Math.min(64, st.size));
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, head.byteLength, 0);
  } finally {
    closeSync(fd);
  }
  return { head, isDirectory: false };
}

/** Identifies the format of `path` and describes it. Unknown formats: FORMAT_UNKNOWN. */
export function describe(path: string): FileDescription {
  return hinted(() => describeFile(path));
}

function describeFile(path: string): FileDescription {
  const { head, isDirectory } = readHead(path);
  for (const f of FORMATS) if (f.detect(path, head, isDirectory)) return f.describe(path);
  const magic = Array.from(head.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
  throw new LlamaError('FORMAT_UNKNOWN', `unrecognised ${isDirectory ? 'directory' : `file (first bytes: ${magic || 'none, empty file'})`}`, {
    file: path,
    hint: `supported formats: ${FORMATS.map((f) => f.name).join(', ')}`,
  });
}
