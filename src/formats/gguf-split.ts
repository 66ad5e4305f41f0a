// Split GGUF (llama.cpp's gguf-split, what most large GGUFs on Hugging Face are):
//   NAME-00001-of-00003.gguf, NAME-00002-of-00003.gguf, NAME-00003-of-00003.gguf
// Every part is a complete GGUF file with the keys split.no (u16, 0-based), split.count (u16) and
// split.tensors.count (i32, tensors over all parts). The first part also holds all the other
// metadata (it may hold no tensors: gguf-split --no-tensor-first-split); each part lists its own
// tensors, with offsets into its own data section.
//
// openGgufModel(path) opens any part (or a plain GGUF) and returns one GgufFile over all parts:
// the first part's metadata and every part's tensors, each read from its own file.
import { existsSync } from '../platform/fs.js';
import { basename, dirname, join } from '../platform/path.js';
import { FormatError, LlamaError } from '../errors.js';
import { GgufFile, openGguf, type GgufTensorInfo } from './gguf.js';
import { SPLIT } from './gguf-keys.js';
import { gv, writeGguf, type GgufWriteInput } from './gguf-write.js';

const SPLIT_NAME = /^(.*)-(\d{5})-of-(\d{5})\.gguf$/;

/** The file name of part `no` (0-based) of `count`: PREFIX-0000{no+1}-of-0000{count}.gguf */
export function splitPartPath(prefix: string, no: number, count: number): string {
  return `${prefix}-${String(no + 1).padStart(5, '0')}-of-${String(count).padStart(5, '0')}.gguf`;
}

/** prefix / 0-based part / count from a split file's name, or undefined if the name is not one. */
export function parseSplitPath(path: string): { prefix: string; no: number; count: number } | undefined {
  const m = SPLIT_NAME.exec(basename(path));
  if (!m) return undefined;
  return { prefix: join(dirname(path), m[1]!), no: Number(m[2]) - 1, count: Number(m[3]) };
}

/**
 * Open a GGUF model: a plain file, or any part of a split GGUF (then every part is opened and
 * checked). Missing parts are FILE_NOT_FOUND naming the part. The caller closes the result.
 */
export function openGgufModel(path: string): GgufFile {
  const g = openGguf(path);
  const split = g.split;
  if (split === undefined || split.count <= 1) return g;
  const opened: GgufFile[] = [g];
  try {
    const named = parseSplitPath(path);
    if (!named || named.count !== split.count || named.no !== split.no) {
      throw new FormatError('TENSOR_MISSING', `this is part ${split.no + 1} of ${split.count} of a split GGUF, and its name does not say where the other parts are`, {
        file: path,
        hint: `keep gguf-split's names (NAME-0000${split.no + 1}-of-${String(split.count).padStart(5, '0')}.gguf) for every part, in one folder`,
      });
    }
    const paths = Array.from({ length: split.count }, (_, i) => splitPartPath(named.prefix, i, split.count));
    const parts: GgufFile[] = [];
    for (let i = 0; i < split.count; i++) {
      if (i === split.no) {
        parts.push(g);
        continue;
      }
      if (!existsSync(paths[i]!)) {
        throw new LlamaError('FILE_NOT_FOUND', `part ${i + 1} of ${split.count} missing: ${paths[i]}`, {
          file: path,
          hint: 'a split GGUF needs all its parts in one folder; download the missing one',
        });
      }
      const p = openGguf(paths[i]!);
      opened.push(p);
      parts.push(p);
    }
    return combineGgufParts(parts);
  } catch (e) {
    for (const o of opened) o.close();
    throw e;
  }
}

/** One GgufFile over the parts (in order): part 0's metadata, every part's tensors. */
function combineGgufParts(parts: readonly GgufFile[]): GgufFile {
  const first = parts[0]!;
  const count = parts.length;
  const tensors: GgufTensorInfo[] = [];
  const seen = new Map<string, number>();
  parts.forEach((p, i) => {
    const s = p.split;
    if (!s || s.no !== i || s.count !== count) {
      throw new FormatError('FORMAT_CORRUPT', `expected part ${i + 1} of ${count} but the file says ${s ? `split.no ${s.no + 1} of ${s.count}` : 'it is not a split part'}`, {
        file: p.path,
        hint: 'the parts come from different splits; download them again',
      });
    }
    for (const t of p.tensors) {
      const prev = seen.get(t.name);
      if (prev !== undefined) {
        throw new FormatError('FORMAT_CORRUPT', `duplicate tensor name '${t.name}' (in parts ${prev + 1} and ${i + 1})`, { file: p.path, hint: 'the parts come from different splits; download them again' });
      }
      seen.set(t.name, i);
      tensors.push({ ...t, part: i });
    }
  });
  const want = first.split!.tensorsCount;
  if (tensors.length !== want) {
    throw new FormatError('FORMAT_CORRUPT', `the ${count} parts hold ${tensors.length} tensors but split.tensors.count is ${want}`, { file: first.path, hint: 'a part is from another split or damaged; download the parts again' });
  }
  return new GgufFile(first.source, first.version, first.metadata, tensors, first.alignment, first.dataOffset, parts.map((p) => p.source));
}

/**
 * Write `input` as a split GGUF of parts holding at most `maxTensorsPerPart` tensors each (as
 * gguf-split --split-max-tensors does): all metadata in the first part, split.* keys in every part.
 * Returns the part paths.
 */
export function writeGgufSplit(prefix: string, input: GgufWriteInput, maxTensorsPerPart: number): string[] {
  if (!(maxTensorsPerPart >= 1)) throw new LlamaError('USAGE', `maxTensorsPerPart must be at least 1, got ${maxTensorsPerPart}`);
  const count = Math.max(1, Math.ceil(input.tensors.length / maxTensorsPerPart));
  const entries = [...(input.metadata instanceof Map ? input.metadata.entries() : input.metadata)].filter(([k]) => !k.startsWith('split.'));
  const alignment = entries.find(([k]) => k === 'general.alignment');
  const paths: string[] = [];
  for (let i = 0; i < count; i++) {
    const keys = [
      ...(i === 0 ? entries : alignment ? [alignment] : []),
      [SPLIT.NO, gv.u16(i)],
      [SPLIT.COUNT, gv.u16(count)],
      [SPLIT.TENSORS_COUNT, gv.i32(input.tensors.length)],
    ] as const;
    const path = splitPartPath(prefix, i, count);
    writeGguf(path, { metadata: keys, tensors: input.tensors.slice(i * maxTensorsPerPart, (i + 1) * maxTensorsPerPart) });
    paths.push(path);
  }
  return paths;
}
