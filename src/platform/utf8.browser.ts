// utf8.ts in a browser.
const strict = new TextDecoder('utf-8', { fatal: true });
const lenient = new TextDecoder('utf-8', { ignoreBOM: true });

export function isUtf8(bytes: Uint8Array): boolean {
  try {
    strict.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

export function decodeUtf8(b: Uint8Array): string {
  return lenient.decode(b);
}

/** Not TextDecoder('latin1'): WHATWG maps that label to windows-1252, which differs at 0x80..0x9F. */
export function decodeLatin1(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, i + 8192));
  return s;
}
