// The in-browser demo that `llama serve` also serves, under /browser/: a page (public/browser.html)
// whose Web Worker (public/browser-worker.js) runs the browser bundle (dist/browser/, built at
// `npm install`) on the served GGUF model, fetched from /browser/model.gguf with Range requests.
// Nothing is computed by the server for it: the page reads the model and runs it in the tab.
//
// Every response here carries COOP/COEP (cross-origin isolation), so the page may use
// SharedArrayBuffer and the wasm backend's threads.
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';

const PUBLIC = (f: string) => fileURLToPath(new URL(`../../../src/server/public/${f}`, import.meta.url));
const BUNDLE = (f: string) => fileURLToPath(new URL(`../../browser/${f}`, import.meta.url));
/** the model the package ships, for servers whose own model is not one GGUF file */
export const PACKAGED_MODEL = fileURLToPath(new URL('../../../models/default/model.gguf', import.meta.url));

const FILES: Record<string, () => string> = {
  '': () => PUBLIC('browser.html'),
  'index.html': () => PUBLIC('browser.html'),
  'browser-worker.js': () => PUBLIC('browser-worker.js'),
  'llama.js': () => BUNDLE('llama.js'),
  'llama.js.map': () => BUNDLE('llama.js.map'),
  'llama-kernel-worker.js': () => BUNDLE('llama-kernel-worker.js'),
  'llama-kernel-worker.js.map': () => BUNDLE('llama-kernel-worker.js.map'),
  'kernels.wasm': () => BUNDLE('kernels.wasm'),
  'kernels-mt.wasm': () => BUNDLE('kernels-mt.wasm'),
};

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
  '.gguf': 'application/octet-stream',
};

/** The headers that make a page cross-origin isolated (SharedArrayBuffer, hence threads). */
export const ISOLATION_HEADERS = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
  'cross-origin-resource-policy': 'same-origin',
} as const;

/** The GGUF file the demo page runs: the served model when it is one GGUF file, else the packaged one. */
export function demoModelFile(servedPath: string | undefined): string {
  if (servedPath && servedPath.endsWith('.gguf') && existsSync(servedPath) && statSync(servedPath).isFile()) return servedPath;
  return PACKAGED_MODEL;
}

/**
 * Answer `req` with `file`, honouring one `Range: bytes=a-b` (206 / 416), as static servers do.
 * Used for the model (the page reads it with Range requests) and by tests as a file server.
 */
export function sendFileRange(req: IncomingMessage, res: ServerResponse, file: string, headers: Record<string, string> = {}): void {
  const size = statSync(file).size;
  const type = TYPES[file.slice(file.lastIndexOf('.'))] ?? 'application/octet-stream';
  const base = { ...headers, 'content-type': type, 'accept-ranges': 'bytes', 'cache-control': 'no-cache' };
  const range = req.headers.range;
  let start = 0, end = size - 1;
  if (range !== undefined) {
    const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
    if (m && (m[1] !== '' || m[2] !== '')) {
      if (m[1] === '') start = Math.max(0, size - Number(m[2]));
      else {
        start = Number(m[1]);
        end = m[2] === '' ? size - 1 : Math.min(size - 1, Number(m[2]));
      }
    }
    if (!m || start > end || start >= size) {
      res.writeHead(416, { ...base, 'content-range': `bytes */${size}` }).end();
      return;
    }
    res.writeHead(206, { ...base, 'content-range': `bytes ${start}-${end}/${size}`, 'content-length': String(end - start + 1) });
  } else {
    res.writeHead(200, { ...base, 'content-length': String(size) });
  }
  if (req.method === 'HEAD' || size === 0) {
    res.end();
    return;
  }
  createReadStream(file, { start, end }).pipe(res);
}

/** The file behind /browser/NAME, or undefined (for static hosting and tests). */
export function browserDemoFile(name: string, servedModel: string | undefined): string | undefined {
  return name === 'model.gguf' ? demoModelFile(servedModel) : FILES[name]?.();
}

/**
 * Serve /browser and /browser/* (`rawPath` is the URL's pathname as sent). Returns false for
 * other paths. `/browser` redirects to `/browser/` so that the page's relative URLs resolve.
 */
export function serveBrowserDemo(req: IncomingMessage, res: ServerResponse, rawPath: string, servedModel: string | undefined): boolean {
  if (rawPath !== '/browser' && !rawPath.startsWith('/browser/')) return false;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { 'content-type': 'text/plain; charset=utf-8', allow: 'GET, HEAD' }).end(`${req.method} is not allowed here\n`);
    return true;
  }
  if (rawPath === '/browser') {
    res.writeHead(301, { location: '/browser/' }).end();
    return true;
  }
  const name = rawPath.slice('/browser/'.length);
  const file = browserDemoFile(name, servedModel);
  if (!file || !existsSync(file)) {
    const why = FILES[name] && name !== '' && name !== 'index.html' && name !== 'browser-worker.js'
      ? 'the browser bundle is not built (npm run build; it needs the esbuild dev dependency)'
      : 'no such file';
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end(`${why}\n`);
    return true;
  }
  if (name === 'model.gguf') {
    sendFileRange(req, res, file, ISOLATION_HEADERS);
    return true;
  }
  const body = readFileSync(file);
  const type = TYPES[file.slice(file.lastIndexOf('.'))] ?? 'application/octet-stream';
  res.writeHead(200, { ...ISOLATION_HEADERS, 'content-type': type, 'cache-control': 'no-cache', 'content-length': String(body.byteLength) });
  res.end(req.method === 'HEAD' ? undefined : body);
  return true;
}
