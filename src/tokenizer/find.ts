// Which tokenizer goes with a path the user named: a tokenizer file itself, a GGUF file (its
// metadata), a model directory, or a model file of another format with a tokenizer beside it.
// Kept small so that the model loaders can extend it (e.g. with LoadedModel.tokenizerPath).
import { closeSync, existsSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { LlamaError } from '../errors.js';
import { detectTokenizerKind, loadTokenizer } from './load.js';
import { findModelTokenizer } from '../model/load.js';
import type { Tokenizer } from './tokenizer.js';

/** Tokenizer file names looked for in a model directory, in order of preference. */
export const TOKENIZER_FILE_NAMES = ['tokenizer.model', 'tokenizer.json', 'tokenizer.bin'];

function head(path: string): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const b = new Uint8Array(256);
    return b.subarray(0, readSync(fd, b, 0, 256, 0));
  } finally {
    closeSync(fd);
  }
}

function besideOrInside(dir: string): string | undefined {
  for (const n of TOKENIZER_FILE_NAMES) {
    const p = join(dir, n);
    if (existsSync(p)) return p;
  }
  // llama2.c names its tokenizers freely (tok512.bin, tok4096.bin): take one if it is the only one
  const loose = readdirSync(dir).filter((n) => /^tok[\w.-]*\.bin$/i.test(n));
  return loose.length === 1 ? join(dir, loose[0]!) : undefined;
}

/** The path of the file a tokenizer for `path` would be loaded from. */
export function findTokenizerFile(path: string): string {
  if (!existsSync(path)) throw new LlamaError('FILE_NOT_FOUND', `no such file or directory`, { file: path, hint: 'check the path given with -m' });
  if (statSync(path).isDirectory()) {
    const p = besideOrInside(path);
    if (p) return p;
    throw new LlamaError('TOKENIZER_MISSING', `no ${TOKENIZER_FILE_NAMES.join(' / ')} in this directory`, { file: path, hint: 'pass the tokenizer file with -m' });
  }
  if (detectTokenizerKind(head(path), basename(path)) !== undefined) return path;
  // a model file without a tokenizer inside (safetensors, .pth, llama2.c checkpoint): the model
  // loader's rules (tokenizer.model / tokenizer.json beside HF and Meta files, Meta's parent folder,
  // tokenizer.bin or tok{vocab}.bin beside llama2.c files), then any tokenizer file beside it
  let fromModel: string | undefined;
  try {
    fromModel = findModelTokenizer(path);
  } catch {
    fromModel = undefined; // not a model we recognise: fall through to the plain search
  }
  const p = fromModel ?? besideOrInside(dirname(path));
  if (p) return p;
  throw new LlamaError('TOKENIZER_MISSING', `this file holds no tokenizer and none was found beside it`, {
    file: path,
    hint: `put ${TOKENIZER_FILE_NAMES.join(' / ')} next to the model, or pass the tokenizer file with -m`,
  });
}

export function tokenizerForPath(path: string): Tokenizer {
  return loadTokenizer(findTokenizerFile(path));
}
