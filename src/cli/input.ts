// Text the user hands the CLI: prompt files, standard input and escape sequences in flags. Input
// is taken exactly (a byte order mark stays, nothing is normalised), and bytes that are not UTF-8
// are an error naming the offset, never silently replaced by U+FFFD.
import { fstatSync, readFileSync } from 'node:fs';
import { UsageError, formats } from '../index.js';
const { decodeUtf8Strict, firstInvalidUtf8 } = formats;

/** Read standard input to the end as UTF-8. */
export function readStdinText(): string {
  return decodeUtf8Strict(readFileSync(0), 'standard input');
}

/** Read a prompt/text file as UTF-8 (`-` = standard input), with errors that say what went wrong. */
export function readTextFile(path: string, what = 'the prompt file'): string {
  if (path === '-') return readStdinText();
  return formats.readTextFile(path, what, 'check the path (use -f - to read standard input)');
}

/**
 * Whether standard input is a pipe or a redirected file (`echo hi | llama run`, `llama run < f`),
 * as opposed to a terminal, /dev/null or a socket a parent process left open.
 */
export function stdinIsPipedOrFile(): boolean {
  try {
    const st = fstatSync(0);
    return st.isFIFO() || st.isFile();
  } catch {
    return false;
  }
}

const SIMPLE_ESCAPES: Record<string, number> = { n: 0x0a, r: 0x0d, t: 0x09, '\\': 0x5c, '"': 0x22, "'": 0x27, a: 0x07, b: 0x08, f: 0x0c, v: 0x0b, '0': 0x00, '?': 0x3f };

/**
 * llama.cpp's `-e` escape processing: \n \r \t \\ \" \' (and \a \b \f \v \0 \?), \xHH for one byte.
 * Any other backslash sequence stays as it is. The bytes must form UTF-8 (\xHH can build a
 * multi-byte character), else it is a usage error.
 */
export function processEscapes(s: string, flag: string): string {
  if (!s.includes('\\')) return s;
  const src = new TextEncoder().encode(s);
  const out: number[] = [];
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c !== 0x5c || i + 1 >= src.length) {
      out.push(c);
      continue;
    }
    const e = String.fromCharCode(src[i + 1]!);
    const simple = SIMPLE_ESCAPES[e];
    if (simple !== undefined) {
      out.push(simple);
      i++;
    } else if (e === 'x' && i + 3 < src.length && /^[0-9a-fA-F]{2}$/.test(String.fromCharCode(src[i + 2]!, src[i + 3]!))) {
      out.push(parseInt(String.fromCharCode(src[i + 2]!, src[i + 3]!), 16));
      i += 3;
    } else {
      out.push(c); // unknown escape: keep the backslash, the next character follows as usual
    }
  }
  const bytes = Uint8Array.from(out);
  if (firstInvalidUtf8(bytes) >= 0) throw new UsageError(`${flag}: the \\x escapes do not form UTF-8 text`, 'write non-ASCII characters as they are, or as the full UTF-8 byte sequence (e.g. \\xc3\\xa9 for é); --no-escape turns escapes off');
  return new TextDecoder().decode(bytes);
}
