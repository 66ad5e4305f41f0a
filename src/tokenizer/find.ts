// The one tokenizer finder: which tokenizer file goes with a path the user named (a tokenizer file
// itself, a GGUF file with a vocabulary inside, a model directory, or a model file of another format
// with a tokenizer beside it). The model loader (LoadedModel.tokenizerPath), the CLI and the
// library all ask here. This module reads only formats/ and tokenizer/ (never model/): the caller
// that knows the model's format passes it in.
import { closeSync, existsSync, openSync, readdirSync, readSync, statSync } from '../platform/fs.js';
import { basename, dirname, join } from '../platform/path.js';
import { LlamaError } from '../errors.js';
import { looksLikeGguf } from '../formats/gguf.js';
import { openGgufModel } from '../formats/gguf-split.js';
import { Llama2cFile } from '../formats/llama2c.js';
import { detectTokenizerKind, loadTokenizer } from './load.js';
import type { Tokenizer } from './tokenizer.js';

/** Tokenizer file names looked for in a model directory, in order of preference. */
export const TOKENIZER_FILE_NAMES = ['tokenizer.model', 'tokenizer.json', 'tokenizer.bin'];

/** The model formats whose tokenizer conventions differ (what model/loaded.ts calls ModelFormat). */
export type TokenizerHostFormat = 'gguf' | 'safetensors' | 'meta' | 'llama2c';

function head(path: string): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const b = new Uint8Array(256);
    return b.subarray(0, readSync(fd, b, 0, 256, 0));
  } finally {
    closeSync(fd);
  }
}

function isFile(p: string): boolean {
  return existsSync(p) && statSync(p).isFile();
}

function firstFile(paths: readonly string[]): string | undefined {
  return paths.find(isFile);
}

/** llama2.c names its tokenizers freely (tok512.bin, tok4096.bin): one if it is the only one. */
function looseLlama2c(dir: string): string | undefined {
  const loose = readdirSync(dir).filter((n) => /^tok[\w.-]*\.bin$/i.test(n));
  return loose.length === 1 ? join(dir, loose[0]!) : undefined;
}

function ggufHasVocab(path: string): boolean {
  try {
    const g = openGgufModel(path);
    try {
      const m = g.metadata.get('tokenizer.ggml.model');
      return g.metadata.has('tokenizer.ggml.tokens') && !(m && (m.value === 'none' || m.value === 'no_vocab'));
    } finally {
      g.close();
    }
  } catch {
    return false;
  }
}

/** A folder holding one GGUF model (or the parts of one split GGUF) with a vocabulary: its (first) file. */
function ggufWithVocabIn(dir: string): string | undefined {
  const ggufs = readdirSync(dir).filter((f) => f.endsWith('.gguf')).sort();
  const first = ggufs[0];
  if (first === undefined || (ggufs.length > 1 && !/-00001-of-\d{5}\.gguf$/.test(first))) return undefined;
  return ggufHasVocab(join(dir, first)) ? join(dir, first) : undefined;
}

/** The vocabulary size a llama2.c checkpoint declares (for its tok{N}.bin), or undefined. */
function llama2cVocab(path: string): number | undefined {
  try {
    const f = Llama2cFile.open(path);
    try {
      return f.header.vocabSize;
    } finally {
      f.close();
    }
  } catch {
    return undefined;
  }
}

/**
 * The tokenizer that goes with the model at `modelPath` (a file or a directory), or undefined when
 * none is found. `format` is the model's format when the caller knows it; the conventions are:
 *   gguf:        the file itself when it holds a vocabulary, else a tokenizer file beside it
 *   safetensors: tokenizer.model or tokenizer.json in the model folder
 *   meta:        tokenizer.model in the folder, or one level up (LLaMA 1's layout)
 *   llama2c:     tokenizer.bin (run.c's default), tok{vocab_size}.bin (tinystories.py), or the only tok*.bin
 */
export function findModelTokenizerFile(modelPath: string, format?: TokenizerHostFormat, vocabSize?: number): string | undefined {
  if (!existsSync(modelPath)) return undefined;
  const isDir = statSync(modelPath).isDirectory();
  const dir = isDir ? modelPath : dirname(modelPath);
  const fmt = format ?? (isDir ? (existsSync(join(dir, 'params.json')) ? 'meta' : 'safetensors') : guessFormat(modelPath));
  switch (fmt) {
    case 'gguf':
      if (isDir) return ggufWithVocabIn(dir) ?? firstFile(TOKENIZER_FILE_NAMES.map((n) => join(dir, n)));
      if (ggufHasVocab(modelPath)) return modelPath;
      return firstFile(TOKENIZER_FILE_NAMES.map((n) => join(dir, n)));
    case 'safetensors':
      return firstFile([join(dir, 'tokenizer.model'), join(dir, 'tokenizer.json')]);
    case 'meta':
      // Meta's downloads put tokenizer.model beside the weights (Llama 2/3) or one level up (LLaMA 1).
      return firstFile([join(dir, 'tokenizer.model'), join(dirname(dir), 'tokenizer.model')]);
    case 'llama2c': {
      const v = vocabSize ?? (isDir ? undefined : llama2cVocab(modelPath));
      return firstFile([join(dir, 'tokenizer.bin'), ...(v !== undefined ? [join(dir, `tok${v}.bin`)] : [])]) ?? looseLlama2c(dir);
    }
  }
}

function guessFormat(path: string): TokenizerHostFormat {
  const h = head(path);
  if (looksLikeGguf(h)) return 'gguf';
  const name = basename(path);
  if (name.endsWith('.pth')) return 'meta';
  if (name.endsWith('.safetensors') || name.endsWith('.json')) return 'safetensors';
  return 'llama2c';
}

/** The path of the file a tokenizer for `path` (a tokenizer, a model file or a model directory) would be loaded from. */
export function findTokenizerFile(path: string): string {
  if (!existsSync(path)) throw new LlamaError('FILE_NOT_FOUND', `no such file or directory`, { file: path, hint: 'check the path given with -m' });
  if (statSync(path).isDirectory()) {
    const p = firstFile(TOKENIZER_FILE_NAMES.map((n) => join(path, n))) ?? looseLlama2c(path) ?? ggufWithVocabIn(path) ?? findModelTokenizerFile(path);
    if (p) return p;
    throw new LlamaError('TOKENIZER_MISSING', `no ${TOKENIZER_FILE_NAMES.join(' / ')} in this directory`, { file: path, hint: 'pass the tokenizer file with -m' });
  }
  if (detectTokenizerKind(head(path), basename(path)) !== undefined && !(looksLikeGguf(head(path)) && !ggufHasVocab(path))) return path;
  // a model file without a tokenizer inside: its format's conventions, then any tokenizer file beside it
  const dir = dirname(path);
  const p = findModelTokenizerFile(path) ?? firstFile(TOKENIZER_FILE_NAMES.map((n) => join(dir, n))) ?? looseLlama2c(dir);
  if (p) return p;
  throw new LlamaError('TOKENIZER_MISSING', `this file holds no tokenizer and none was found beside it`, {
    file: path,
    hint: `put ${TOKENIZER_FILE_NAMES.join(' / ')} next to the model, or pass the tokenizer file with -m`,
  });
}

export function tokenizerForPath(path: string): Tokenizer {
  return loadTokenizer(findTokenizerFile(path));
}
