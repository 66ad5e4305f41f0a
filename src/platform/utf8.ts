// Byte <-> text helpers of the tokenizers: node:buffer in Node (fast, native); utf8.browser.ts in the
// browser bundle (TextDecoder). Both keep a leading BOM and turn invalid UTF-8 into U+FFFD.
import { Buffer } from 'node:buffer';
export { isUtf8 } from 'node:buffer';

/** UTF-8 bytes as text (invalid sequences become U+FFFD). */
export function decodeUtf8(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');
}

/** Each byte as the code point of the same value (ISO-8859-1). */
export function decodeLatin1(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
}
