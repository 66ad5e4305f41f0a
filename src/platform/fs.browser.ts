// fs.ts in a browser: there is no file system, so every path-based call is a typed error that says
// what to pass instead. existsSync answers false (nothing exists at a path), which makes the
// "is there a file beside the model?" probes of the data path fall through quietly.
import { LlamaError } from '../errors.js';

function noFiles(what: string, path?: unknown): never {
  throw new LlamaError('USAGE', `${what}${typeof path === 'string' ? ` (${path})` : ''}: there are no file paths in a browser`, {
    hint: 'open the model from a File, a Blob, a URL or an ArrayBuffer: openModel(source)',
  });
}

export const existsSync = (_path: unknown): boolean => false;
export const statSync = (p: unknown): never => noFiles('stat', p);
export const fstatSync = (): never => noFiles('fstat');
export const readFileSync = (p: unknown, _enc?: unknown): never => noFiles('read', p);
export const readdirSync = (p: unknown): never => noFiles('list a directory', p);
export const openSync = (p: unknown, _flags?: unknown): never => noFiles('open', p);
export const readSync = (..._a: unknown[]): never => noFiles('read');
export const closeSync = (_fd: unknown): void => undefined;
export const writeSync = (..._a: unknown[]): never => noFiles('write');
export const fsyncSync = (_fd: unknown): void => undefined;
export const renameSync = (p: unknown, _q?: unknown): never => noFiles('rename', p);
export const rmSync = (_p: unknown, _o?: unknown): void => undefined;
export const mkdirSync = (p: unknown, _o?: unknown): never => noFiles('create a directory', p);
