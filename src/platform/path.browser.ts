// path.ts in a browser: POSIX-style basename/dirname/extname/join/resolve over '/'-separated names
// (File names and URLs), enough for error messages and the name conventions of formats/.
export function basename(p: string, ext?: string): string {
  const s = p.replace(/\/+$/, '');
  const b = s.slice(s.lastIndexOf('/') + 1);
  return ext !== undefined && b.endsWith(ext) ? b.slice(0, b.length - ext.length) : b;
}
export function dirname(p: string): string {
  const s = p.replace(/\/+$/, '');
  const i = s.lastIndexOf('/');
  return i < 0 ? '.' : i === 0 ? '/' : s.slice(0, i);
}
export function extname(p: string): string {
  const b = basename(p);
  const i = b.lastIndexOf('.');
  return i <= 0 ? '' : b.slice(i);
}
export function join(...parts: string[]): string {
  return parts.filter((x) => x !== '').join('/').replace(/\/+/g, '/') || '.';
}
export function resolve(...parts: string[]): string {
  return join(...parts);
}
