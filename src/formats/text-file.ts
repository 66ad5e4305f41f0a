// Text files taken exactly: strict UTF-8 (a byte order mark stays, nothing is normalised), and
// bytes that are not UTF-8 are INPUT_ENCODING naming the offset, never silently replaced by U+FFFD.
// Used for prompt files, grammar and JSON Schema files.
import { readFileSync } from '../platform/fs.js';
import { LlamaError } from '../errors.js';

/** Offset of the first byte that does not belong to well-formed UTF-8, or -1. */
export function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    let n: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) n = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      if (c === 0xe0) lo = 0xa0; // overlong
      if (c === 0xed) hi = 0x9f; // surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      if (c === 0xf0) lo = 0x90; // overlong
      if (c === 0xf4) hi = 0x8f; // above U+10FFFF
    } else return i;
    for (let k = 1; k <= n; k++) {
      const d = b[i + k];
      if (d === undefined) return i;
      if (k === 1 ? d < lo || d > hi : d < 0x80 || d > 0xbf) return i;
    }
    i += n + 1;
  }
  return -1;
}

/** Decode UTF-8 exactly, or throw INPUT_ENCODING with the byte offset of the first bad byte. */
export function decodeUtf8Strict(bytes: Uint8Array, what: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    const at = firstInvalidUtf8(bytes);
    const hex = Array.from(bytes.subarray(at, at + 4), (x) => x.toString(16).padStart(2, '0')).join(' ');
    throw new LlamaError('INPUT_ENCODING', `${what} is not valid UTF-8: bad byte at offset ${at} (${hex})`, {
      hint: 'convert the text to UTF-8 first (e.g. iconv -f latin1 -t utf-8)',
    });
  }
}

/** Read a text file as strict UTF-8, with errors that say what went wrong (`what`: "the prompt file"). */
export function readTextFile(path: string, what: string, notFoundHint = 'check the path'): string {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new LlamaError('FILE_NOT_FOUND', `cannot read ${what}: no such file`, { file: path, hint: notFoundHint, cause: e });
    if (code === 'EISDIR') throw new LlamaError('FILE_READ', `cannot read ${what}: it is a directory`, { file: path, hint: 'give a text file, not a directory', cause: e });
    throw new LlamaError('FILE_READ', `cannot read ${what}: ${(e as Error).message}`, { file: path, hint: 'check the file\'s permissions', cause: e });
  }
  return decodeUtf8Strict(bytes, path);
}
